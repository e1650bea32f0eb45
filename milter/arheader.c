/*
 * arheader.c - Authentication-Results (RFC 8601) for the smime method
 * (RFC 7281).
 *
 * Building: one resinfo per signature, two lines each, folded with
 * "\n\t" as the example in SPEC.md shows; property values are written as
 * RFC 2045 tokens when they are, as a bare addr-spec for a plain
 * dot-atom@domain identifier, and as quoted-strings otherwise; the reason
 * is an RFC 5322 comment.
 * Parsing: only the authserv-id matters (RFC 8601 section 5 deletion).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arheader.h"
#include "rfc5322.h"

struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (ns == NULL) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_add(struct sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static int is_tspecial(int c)
{
    return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 32 || *p >= 127 || is_tspecial(*p))
            return 0;
    return 1;
}

/* RFC 5322 atext */
static int is_atext(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int is_dot_atom(const char *s, size_t n)
{
    int prev_dot = 1;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (prev_dot)
                return 0;
            prev_dot = 1;
        } else if (is_atext((unsigned char)s[i])) {
            prev_dot = 0;
        } else {
            return 0;
        }
    }
    return !prev_dot;
}

static int is_domain(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
            return 0;
    return is_dot_atom(s, n);
}

static int is_plain_addr(const char *s)
{
    const char *at = strrchr(s, '@');
    return at && is_dot_atom(s, (size_t)(at - s)) && is_domain(at + 1);
}

/* Quoted-string; control characters (CR, LF, ...) become spaces. */
static void sb_quoted(struct sbuf *b, const char *s)
{
    sb_add(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char c = (char)(*p < 32 || *p == 127 ? ' ' : *p);
        if (c == '"' || c == '\\')
            sb_add(b, "\\");
        sb_addn(b, &c, 1);
    }
    sb_add(b, "\"");
}

static void sb_comment(struct sbuf *b, const char *s)
{
    sb_add(b, "(");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char c = (char)(*p < 32 || *p == 127 ? ' ' : *p);
        if (c == '(' || c == ')' || c == '\\')
            sb_add(b, "\\");
        sb_addn(b, &c, 1);
    }
    sb_add(b, ")");
}

static void sb_prop(struct sbuf *b, int *first, const char *name,
                    const char *value, int addr)
{
    if (value == NULL || !*value)
        return;
    sb_add(b, *first ? "" : " ");
    *first = 0;
    sb_add(b, "body.smime-");
    sb_add(b, name);
    sb_add(b, "=");
    if (is_token(value) || (addr && is_plain_addr(value)))
        sb_add(b, value);
    else
        sb_quoted(b, value);
}

static void sb_resinfo(struct sbuf *b, const struct ar_result *r)
{
    int first = 0;

    sb_add(b, "smime=");
    sb_add(b, smime_result_name(r->result));
    if (r->reason && *r->reason) {
        sb_add(b, " ");
        sb_comment(b, r->reason);
    }
    sb_prop(b, &first, "identifier", r->identifier, 1);
    if ((r->part && *r->part) || (r->serial && *r->serial) ||
        (r->issuer && *r->issuer)) {
        sb_add(b, "\n\t");
        first = 1;
        sb_prop(b, &first, "part", r->part, 0);
        sb_prop(b, &first, "serial", r->serial, 0);
        sb_prop(b, &first, "issuer", r->issuer, 0);
    }
}

char *arheader_build(const char *authserv_id, const struct ar_result *r,
                     size_t n)
{
    struct sbuf b = {0};

    if (is_token(authserv_id))
        sb_add(&b, authserv_id);
    else
        sb_quoted(&b, authserv_id);
    sb_add(&b, ";");
    if (n == 0)
        sb_add(&b, " none");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(&b, ";");
        sb_add(&b, "\n\t");
        sb_resinfo(&b, &r[i]);
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int arheader_authserv_id(const char *value, char *out, size_t outlen)
{
    const char *p = rfc5322_skip_cfws(value);
    size_t n = 0;

    if (outlen == 0)
        return -1;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (*p == '\r' || *p == '\n')
                continue;
            if (n + 1 >= outlen)
                return -1;
            out[n++] = *p;
        }
        if (*p != '"')
            return -1;
    } else {
        /* a token; the dot-atom/addr-spec-ish ids people use are tokens
         * except for '@', which is allowed here as RFC 8601 value is
         * sometimes written loosely */
        while (*p && (unsigned char)*p > 32 && (unsigned char)*p < 127 &&
               (!is_tspecial(*p) || *p == '@')) {
            if (n + 1 >= outlen)
                return -1;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return n ? 0 : -1;
}

int arheader_id_valid(const char *id)
{
    size_t n = strlen(id), label = 0;

    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = id[i];
        if (c == '.' || c == '\0') {
            /* a label: 1..63, no hyphen at either end */
            if (label == 0 || label > 63 || id[i - 1] == '-' ||
                id[i - label] == '-')
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-') {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

/* length without one trailing dot */
static size_t id_len(const char *s)
{
    size_t n = strlen(s);
    return n > 1 && s[n - 1] == '.' ? n - 1 : n;
}

int arheader_id_equal(const char *a, const char *b)
{
    size_t n = id_len(a);

    return n == id_len(b) && strncasecmp(a, b, n) == 0;
}

int arheader_is_ours(const char *value, const char *id)
{
    char got[512];

    return arheader_authserv_id(value, got, sizeof got) == 0 &&
           arheader_id_equal(got, id);
}
