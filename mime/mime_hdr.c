/*
 * mime_hdr.c - parse MIME header values: Content-Type (RFC 2045 5.1),
 * Content-Disposition (RFC 2183) and Content-Transfer-Encoding (RFC 2045
 * 6.1), with comments, quoted strings and RFC 2231 parameter value
 * continuations ("name*0=", "name*1*=") and charset/language tags.
 *
 * The parsers are lenient the way mail software has to be: a malformed
 * parameter is skipped, the others are kept.  Only an unparsable
 * type/subtype makes Content-Type invalid (the caller then applies the
 * RFC 2045 default).  Values are NUL-terminated, possibly folded strings.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_int.h"
#include "rfc5322.h"

#define RAW_PARAMS_MAX 256     /* parameters looked at per header */
#define SECTIONS_MAX 1000      /* RFC 2231 continuation index bound */

struct raw_param {
    char *base;                /* attribute without "*N" / "*", lower case */
    int section;               /* continuation number, -1 for none */
    int ext;                   /* extended (charset'lang'%XX) value */
    char *value;
};

static int is_tspecial(int c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int is_token_char(int c)
{
    return c > 32 && c < 127 && !is_tspecial(c);
}

/* A token starting at p: its length (0 when there is none). */
static size_t token_len(const char *p)
{
    size_t n = 0;
    while (is_token_char((unsigned char)p[n]))
        n++;
    return n;
}

/* A quoted string at p (p points at the quote): the unescaped contents in
 * a malloc'd string, folding removed; *end is set after it.  An
 * unterminated string runs to the end of the value. */
static char *quoted_string(const char *p, const char **end)
{
    char *s = malloc(strlen(p) + 1), *o = s;

    if (s == NULL)
        return NULL;
    for (p++; *p != '\0' && *p != '"'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '\r' || *p == '\n')
            continue;
        *o++ = *p;
    }
    *o = '\0';
    *end = *p == '"' ? p + 1 : p;
    return s;
}

/* Skip to the next ";" that is not inside a quoted string or comment. */
static const char *skip_to_semicolon(const char *p)
{
    while (*p != '\0' && *p != ';') {
        if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++)
                if (*p == '\\' && p[1] != '\0')
                    p++;
            if (*p == '"')
                p++;
        } else if (*p == '(') {
            p = rfc5322_skip_cfws(p);
        } else {
            p++;
        }
    }
    return p;
}

static void raw_free(struct raw_param *raw, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(raw[i].base);
        free(raw[i].value);
    }
}

/* Split "name*3*" into base "name", section 3, ext 1. */
static int raw_set_name(struct raw_param *r, const char *name, size_t n)
{
    const char *star = memchr(name, '*', n);

    r->section = -1;
    r->ext = 0;
    if (star != NULL) {
        const char *q = star + 1, *end = name + n;
        if (q < end && isdigit((unsigned char)*q)) {
            long sec = 0;
            while (q < end && isdigit((unsigned char)*q) && sec < SECTIONS_MAX)
                sec = sec * 10 + (*q++ - '0');
            r->section = (int)sec;
            if (q < end && *q == '*')
                r->ext = 1, q++;
        } else {
            r->ext = 1;
        }
        if (q != end || r->section >= SECTIONS_MAX)
            return -1;              /* "a*b", "a**": not RFC 2231 */
        n = (size_t)(star - name);
    }
    if (n == 0 || (r->base = strndup(name, n)) == NULL)
        return -1;
    for (char *c = r->base; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return 0;
}

/* Parse "; a=b; c="d"" into raw entries. Returns how many. */
static unsigned params_scan(const char *p, struct raw_param *raw)
{
    unsigned n = 0;

    for (;;) {
        p = rfc5322_skip_cfws(p);
        if (*p == '\0' || n == RAW_PARAMS_MAX)
            break;
        if (*p != ';') {
            p = skip_to_semicolon(p);
            continue;
        }
        p = rfc5322_skip_cfws(p + 1);
        size_t an = token_len(p);
        const char *attr = p;
        p = rfc5322_skip_cfws(p + an);
        if (an == 0 || *p != '=')
            continue;                   /* junk: go to the next ";" */
        p = rfc5322_skip_cfws(p + 1);
        struct raw_param *r = &raw[n];
        memset(r, 0, sizeof(*r));
        if (*p == '"') {
            r->value = quoted_string(p, &p);
        } else {
            size_t vn = token_len(p);
            if (vn == 0)
                continue;
            r->value = strndup(p, vn);
            p += vn;
        }
        if (r->value == NULL || raw_set_name(r, attr, an) != 0) {
            free(r->value);
            free(r->base);
            continue;
        }
        n++;
    }
    return n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode an RFC 2231 extended value into o; when first, drop the
 * leading "charset'language'" tag. Returns the end of the output. */
static char *ext_decode(const char *v, int first, char *o)
{
    if (first) {
        const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
        if (q2 != NULL)
            v = q2 + 1;
    }
    for (; *v; v++) {
        int h = hexval(v[1]), l = h >= 0 ? hexval(v[2]) : -1;
        if (*v == '%' && l >= 0) {
            *o++ = (char)(h * 16 + l);
            v += 2;
        } else {
            *o++ = *v;
        }
    }
    return o;
}

static const struct raw_param *raw_find(const struct raw_param *raw,
                                        unsigned n, const char *base, int sec)
{
    for (unsigned i = 0; i < n; i++)
        if (raw[i].section == sec && strcmp(raw[i].base, base) == 0)
            return &raw[i];
    return NULL;
}

/* Assemble the value of parameter base from its raw pieces. */
static char *param_assemble(const struct raw_param *raw, unsigned n,
                            const char *base)
{
    const struct raw_param *r = raw_find(raw, n, base, -1);
    size_t total = 1;
    char *s, *o;

    if (r != NULL) {
        if (!r->ext)
            return strdup(r->value);
        if ((s = malloc(strlen(r->value) + 1)) != NULL)
            *ext_decode(r->value, 1, s) = '\0';
        return s;
    }
    for (int k = 0; (r = raw_find(raw, n, base, k)) != NULL; k++)
        total += strlen(r->value);
    if (total == 1 || (s = o = malloc(total)) == NULL)
        return NULL;
    for (int k = 0; (r = raw_find(raw, n, base, k)) != NULL; k++) {
        if (r->ext) {
            o = ext_decode(r->value, k == 0, o);
        } else {
            size_t l = strlen(r->value);
            memcpy(o, r->value, l);
            o += l;
        }
    }
    *o = '\0';
    return s;
}

static int params_parse(const char *p, struct mime_plist *pl)
{
    /* not calloc: params_scan sets each entry it counts (a zeroed 6 KB
     * table per Content-Type was 4 % of the verify path's instructions) */
    struct raw_param *raw = malloc(RAW_PARAMS_MAX * sizeof(*raw));
    unsigned n;
    int rc = 0;

    if (raw == NULL)
        return -1;
    n = params_scan(p, raw);
    pl->v = calloc(n ? n : 1, sizeof(*pl->v));
    pl->n = 0;
    if (pl->v == NULL)
        rc = -1;
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        if (mimehdr_plist_get(pl, raw[i].base) != NULL)
            continue;                   /* first one wins */
        char *v = param_assemble(raw, n, raw[i].base);
        if (v == NULL)
            continue;
        pl->v[pl->n].value = v;
        if ((pl->v[pl->n].name = strdup(raw[i].base)) == NULL) {
            free(v);
            rc = -1;
            break;
        }
        pl->n++;
    }
    raw_free(raw, n);
    free(raw);
    return rc;
}

int mimehdr_content_type(const char *v, char *type, struct mime_plist *pl)
{
    const char *p = rfc5322_skip_cfws(v), *t = p, *s;
    size_t tn = token_len(p), sn;

    p = rfc5322_skip_cfws(p + tn);
    if (tn == 0 || *p != '/')
        return -1;
    s = p = rfc5322_skip_cfws(p + 1);
    sn = token_len(p);
    if (sn == 0 || tn + sn + 2 > MIME_TYPE_MAX)
        return -1;
    memcpy(type, t, tn);
    type[tn] = '/';
    memcpy(type + tn + 1, s, sn);
    type[tn + sn + 1] = '\0';
    for (char *c = type; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return params_parse(p + sn, pl) == 0 ? 0 : -2;
}

int mimehdr_disposition(const char *v, struct mime_plist *pl)
{
    const char *p = rfc5322_skip_cfws(v);
    return params_parse(p + token_len(p), pl);
}

enum mime_cte mimehdr_cte(const char *v)
{
    static const struct { const char *name; enum mime_cte cte; } tab[] = {
        { "7bit", MIME_CTE_7BIT }, { "8bit", MIME_CTE_8BIT },
        { "binary", MIME_CTE_BINARY }, { "quoted-printable", MIME_CTE_QP },
        { "base64", MIME_CTE_BASE64 },
    };
    const char *p = rfc5322_skip_cfws(v);
    size_t n = token_len(p);

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strlen(tab[i].name) == n && strncasecmp(p, tab[i].name, n) == 0)
            return tab[i].cte;
    return MIME_CTE_OTHER;
}

const char *mimehdr_plist_get(const struct mime_plist *pl, const char *name)
{
    for (unsigned i = 0; i < pl->n; i++)
        if (strcasecmp(pl->v[i].name, name) == 0)
            return pl->v[i].value;
    return NULL;
}

void mimehdr_plist_free(struct mime_plist *pl)
{
    for (unsigned i = 0; i < pl->n; i++) {
        free(pl->v[i].name);
        free(pl->v[i].value);
    }
    free(pl->v);
    pl->v = NULL;
    pl->n = 0;
}
