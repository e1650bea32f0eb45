/*
 * derw.c - DER writer (X.690 distinguished encoding) for the signer.
 *
 * Only definite lengths, minimal length octets, and the handful of types
 * CMS SignedData needs: INTEGER, OCTET STRING, NULL, OID, UTCTime /
 * GeneralizedTime, SEQUENCE, SET OF (sorted) and context tags.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derw.h"

void
derw_init(derw_t *w)
{
    w->buf = NULL;
    w->len = w->cap = 0;
    w->failed = 0;
}

void
derw_free(derw_t *w)
{
    free(w->buf);
    derw_init(w);
}

int
derw_failed(const derw_t *w)
{
    return w->failed;
}

static int
derw_reserve(derw_t *w, size_t n)
{
    if (w->failed)
        return -1;
    if (n > ((size_t)-1) / 2 - w->len) {
        w->failed = 1;
        return -1;
    }
    if (w->len + n <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    unsigned char *p = realloc(w->buf, cap);
    if (p == NULL) {
        w->failed = 1;
        return -1;
    }
    w->buf = p;
    w->cap = cap;
    return 0;
}

void
derw_raw(derw_t *w, const void *p, size_t n)
{
    if (derw_reserve(w, n) < 0)
        return;
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* Tag and length octets (definite form, minimal). */
static void
derw_header(derw_t *w, unsigned char tag, size_t n)
{
    unsigned char h[1 + 1 + sizeof(size_t)];
    size_t hl = 0;

    h[hl++] = tag;
    if (n < 0x80) {
        h[hl++] = (unsigned char)n;
    } else {
        unsigned char tmp[sizeof(size_t)];
        size_t k = 0;
        for (size_t v = n; v; v >>= 8)
            tmp[k++] = (unsigned char)(v & 0xff);
        h[hl++] = (unsigned char)(0x80 | k);
        while (k)
            h[hl++] = tmp[--k];
    }
    derw_raw(w, h, hl);
}

void
derw_tlv(derw_t *w, unsigned char tag, const void *content, size_t n)
{
    derw_header(w, tag, n);
    derw_raw(w, content, n);
}

void
derw_wrap(derw_t *w, unsigned char tag, const derw_t *inner)
{
    if (inner->failed) {
        w->failed = 1;
        return;
    }
    derw_tlv(w, tag, inner->buf, inner->len);
}

/* Base-128 arc, most significant group first. */
static size_t
oid_arc(unsigned char *out, unsigned long v)
{
    unsigned char tmp[sizeof(unsigned long) * 8 / 7 + 1];
    size_t k = 0;

    do {
        tmp[k++] = (unsigned char)(v & 0x7f);
        v >>= 7;
    } while (v);
    for (size_t i = 0; i < k; i++)
        out[i] = (unsigned char)(tmp[k - 1 - i] | (i + 1 < k ? 0x80 : 0));
    return k;
}

void
derw_oid(derw_t *w, const char *dotted)
{
    unsigned char out[64];
    size_t n = 0;
    unsigned long arcs[2] = { 0, 0 };
    int i = 0;
    const char *p = dotted;

    while (*p) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || (*end != '.' && *end != '\0') ||
            n + 16 > sizeof(out)) {
            w->failed = 1;                /* a bug in a constant */
            return;
        }
        if (i < 2)
            arcs[i] = v;
        if (i == 1)
            n += oid_arc(out + n, arcs[0] * 40 + arcs[1]);
        else if (i > 1)
            n += oid_arc(out + n, v);
        i++;
        p = *end ? end + 1 : end;
    }
    if (i < 2) {
        w->failed = 1;
        return;
    }
    derw_tlv(w, DER_OID, out, n);
}

void
derw_uint(derw_t *w, unsigned long v)
{
    unsigned char tmp[sizeof(unsigned long) + 1];
    size_t k = 0;

    do {
        tmp[sizeof(tmp) - 1 - k++] = (unsigned char)(v & 0xff);
        v >>= 8;
    } while (v);
    if (tmp[sizeof(tmp) - k] & 0x80)         /* keep it non-negative */
        tmp[sizeof(tmp) - 1 - k++] = 0;
    derw_tlv(w, DER_INTEGER, tmp + sizeof(tmp) - k, k);
}

void
derw_time(derw_t *w, time_t t)
{
    struct tm tm;
    char s[32];

    if (gmtime_r(&t, &tm) == NULL) {
        w->failed = 1;
        return;
    }
    int year = tm.tm_year + 1900;
    if (year >= 1950 && year < 2050) {
        snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", year % 100,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        derw_tlv(w, DER_UTCTIME, s, strlen(s));
    } else {
        snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        derw_tlv(w, DER_GENTIME, s, strlen(s));
    }
}

/* X.690 11.6: octet-string order, the shorter padded with 0 octets. */
static int
der_cmp(const void *a, const void *b)
{
    const derw_t *x = *(const derw_t *const *)a;
    const derw_t *y = *(const derw_t *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->buf, y->buf, n) : 0;

    if (c)
        return c;
    const derw_t *longer = x->len > y->len ? x : y;
    for (size_t i = n; i < longer->len; i++)
        if (longer->buf[i])
            return longer == x ? 1 : -1;
    return 0;
}

void
derw_set_of(derw_t *w, unsigned char tag, const derw_t *elems, size_t n)
{
    const derw_t **order = calloc(n ? n : 1, sizeof(*order));
    size_t total = 0;

    if (order == NULL) {
        w->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (elems[i].failed)
            w->failed = 1;
        order[i] = &elems[i];
        total += elems[i].len;
    }
    qsort(order, n, sizeof(*order), der_cmp);
    derw_header(w, tag, total);
    for (size_t i = 0; i < n; i++)
        derw_raw(w, order[i]->buf, order[i]->len);
    free(order);
}

unsigned char *
derw_take(derw_t *w, size_t *len)
{
    unsigned char *p = w->failed ? NULL : w->buf;

    if (p == NULL)
        free(w->buf);
    *len = p ? w->len : 0;
    derw_init(w);
    return p;
}
