/*
 * rfc5322.c - RFC 5322 header value helpers: CFWS skipping and a lenient
 * address-list parser for From/Sender.
 *
 * The address parser works on a token stream (atoms, quoted strings,
 * domain literals, specials; CFWS dropped by the tokenizer) and keeps
 * for every list element the angle address when there is one, else the
 * last "local@domain" it saw.  Group names ("undisclosed:;"), display
 * names and obsolete routes ("<@a,@b:x@y>") are recognised and dropped.
 * Garbage (unbalanced quotes, comments, brackets) never crashes it: it
 * returns what it could find.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rfc5322.h"

const char *rfc5322_skip_cfws(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p != '(')
            return p;
        int depth = 0;
        do {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            p++;
        } while (depth > 0 && *p != '\0');
    }
}

enum tok_kind { T_END, T_WORD, T_QUOTED, T_LITERAL, T_SPECIAL };

struct tok {
    enum tok_kind kind;
    const char *s;             /* T_WORD/T_QUOTED/T_LITERAL: raw text */
    size_t n;
    char c;                    /* T_SPECIAL: the character */
};

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 128 ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Read the next token at *pp; advance *pp. */
static struct tok next_tok(const char **pp)
{
    const char *p = rfc5322_skip_cfws(*pp);
    struct tok t = { T_END, p, 0, 0 };

    if (*p == '\0') {
        *pp = p;
        return t;
    }
    if (*p == '"' || *p == '[') {
        char close = *p == '"' ? '"' : ']';
        t.kind = *p == '"' ? T_QUOTED : T_LITERAL;
        for (p++; *p != '\0' && *p != close; p++)
            if (*p == '\\' && p[1] != '\0')
                p++;
        t.s++;
        t.n = (size_t)(p - t.s);
        *pp = *p ? p + 1 : p;
        return t;
    }
    if (is_atext((unsigned char)*p)) {
        while (is_atext((unsigned char)*p))
            p++;
        t.kind = T_WORD;
        t.n = (size_t)(p - t.s);
        *pp = p;
        return t;
    }
    t.kind = T_SPECIAL;
    t.c = *p;
    *pp = p + 1;
    return t;
}

/* The address being built: local part, domain, flags. */
struct addr_buf {
    char *local, *domain;
    size_t ln, dn;
    int phase;                 /* 0 local part, 1 domain */
    int after_dot;             /* the previous token was "." */
    int quoted;                /* the local part had a quoted string */
};

static void ab_reset(struct addr_buf *a)
{
    a->ln = a->dn = 0;
    a->phase = 0;
    a->after_dot = 0;
    a->quoted = 0;
}

static void ab_append(struct addr_buf *a, const char *s, size_t n, int unescape)
{
    char *dst = a->phase ? a->domain : a->local;
    size_t *len = a->phase ? &a->dn : &a->ln;

    for (size_t i = 0; i < n; i++) {
        if (unescape && s[i] == '\\' && i + 1 < n)
            i++;
        dst[(*len)++] = s[i];
    }
}

static void ab_word(struct addr_buf *a, const struct tok *t)
{
    size_t len = a->phase ? a->dn : a->ln;

    if (len > 0 && !a->after_dot) {
        if (a->phase)
            return;            /* "a@b junk": keep a@b */
        ab_reset(a);           /* "Display Name x@y": restart at x */
    }
    if (t->kind == T_LITERAL && a->phase)
        a->domain[a->dn++] = '[';
    ab_append(a, t->s, t->n, t->kind != T_WORD);
    if (t->kind == T_LITERAL && a->phase)
        a->domain[a->dn++] = ']';
    if (t->kind == T_QUOTED && !a->phase)
        a->quoted = 1;
    a->after_dot = 0;
}

static int local_is_dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(is_atext((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] != '.')))
            return 0;
    return 1;
}

/* "local@domain" as a new string, the local part quoted if it needs it. */
static char *ab_string(const struct addr_buf *a)
{
    char *s = malloc(2 * a->ln + a->dn + 4), *o = s;

    if (s == NULL)
        return NULL;
    if (a->quoted && !local_is_dot_atom(a->local, a->ln)) {
        *o++ = '"';
        for (size_t i = 0; i < a->ln; i++) {
            if (a->local[i] == '"' || a->local[i] == '\\')
                *o++ = '\\';
            *o++ = a->local[i];
        }
        *o++ = '"';
    } else {
        memcpy(o, a->local, a->ln);
        o += a->ln;
    }
    *o++ = '@';
    memcpy(o, a->domain, a->dn);
    o += a->dn;
    *o = '\0';
    return s;
}

struct addr_out {
    char **out;
    size_t max, found;
};

static void emit(struct addr_out *ao, const struct addr_buf *a)
{
    if (a->ln == 0 || a->dn == 0 || a->phase != 1)
        return;
    if (ao->found < ao->max) {
        char *s = ab_string(a);
        if (s == NULL)
            return;
        ao->out[ao->found] = s;
    }
    ao->found++;
}

size_t rfc5322_addrs(const char *value, char **out, size_t max)
{
    size_t vlen = strlen(value);
    struct addr_buf cur = { 0 };
    struct addr_out ao = { out, max, 0 };
    int in_angle = 0, have_angle = 0;
    const char *p = value;

    cur.local = malloc(vlen + 1);
    cur.domain = malloc(vlen + 3);
    if (cur.local == NULL || cur.domain == NULL)
        goto done;
    ab_reset(&cur);
    for (;;) {
        struct tok t = next_tok(&p);
        int end_elem = t.kind == T_END ||
            (t.kind == T_SPECIAL && !in_angle && strchr(",;", t.c));
        if (end_elem || (t.kind == T_SPECIAL && t.c == '>' && in_angle)) {
            if (in_angle || !have_angle)
                emit(&ao, &cur);
            have_angle |= in_angle;
            in_angle = 0;
            ab_reset(&cur);
            if (end_elem)
                have_angle = 0;
            if (t.kind == T_END)
                break;
            continue;
        }
        if (t.kind == T_SPECIAL) {
            switch (t.c) {
            case '<':          /* angle address: forget the display name */
                in_angle = 1;
                ab_reset(&cur);
                break;
            case ':':          /* group name, or end of an obsolete route */
            case ',':          /* (in angle) route list separator */
                ab_reset(&cur);
                break;
            case '.':
                ab_append(&cur, ".", 1, 0);
                cur.after_dot = 1;
                break;
            case '@':
                if (cur.phase == 0 && cur.ln > 0) {
                    cur.phase = 1;
                    cur.after_dot = 0;
                } else if (cur.phase == 0) {
                    cur.phase = 2;     /* route "@a": ignored up to ":" */
                }
                break;
            default:           /* stray specials: ignored */
                break;
            }
            continue;
        }
        if (cur.phase != 2)
            ab_word(&cur, &t);
    }
done:
    free(cur.local);
    free(cur.domain);
    return ao.found;
}

void rfc5322_addrs_free(char **addrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(addrs[i]);
        addrs[i] = NULL;
    }
}

int rfc5322_addr_equal(const char *a, const char *b)
{
    const char *ata = strrchr(a, '@'), *atb = strrchr(b, '@');

    if (ata == NULL || atb == NULL || ata - a != atb - b)
        return 0;
    return strncasecmp(a, b, (size_t)(ata - a)) == 0 &&
           strcasecmp(ata + 1, atb + 1) == 0;
}

/* ---- header lines ---- */

int rfc5322_is_header_start(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
        i++;
    if (i == 0)
        return 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i < len && line[i] == ':';
}

int rfc5322_header_write(const char *name, const char *value,
                         int (*out)(void *arg, const char *buf, size_t len),
                         void *arg)
{
    int r;

    if ((r = out(arg, name, strlen(name))) != 0 ||
        (r = out(arg, ": ", 2)) != 0)
        return r;
    while (*value) {
        size_t n = strcspn(value, "\r\n");
        if ((r = out(arg, value, n)) != 0)
            return r;
        value += n;
        if (*value == '\r')
            value++;
        if (*value == '\n') {
            value++;
            if ((r = out(arg, "\r\n", 2)) != 0)
                return r;
        }
    }
    return out(arg, "\r\n", 2);
}
