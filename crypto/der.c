/*
 * der.c - bounded BER/DER reader (see der.h).
 *
 * The reader never trusts a length: each element must fit in the
 * contents of its parent, an indefinite-length element is scanned child by
 * child until its end-of-contents octets (so its extent is known before
 * anybody looks inside), and nesting deeper than DER_MAX_DEPTH is
 * rejected.  Scanning is O(size * depth).
 *
 * Internally a read that ran out of input returns DER_SHORT (-2) rather
 * than -1, so that the streaming entry points (der_partial*) can tell
 * "more bytes needed" from "malformed"; the others fold both into -1.
 */
#include "config.h"

#include <string.h>

#include "der.h"

#define DER_SHORT (-2)

static int der_read(const uint8_t *p, const uint8_t *end, unsigned depth,
                    der_tlv_t *t);

static int der_read_header(const uint8_t *p, const uint8_t *end,
                           der_tlv_t *t, size_t *hdrlen, size_t *len)
{
    const uint8_t *q = p;

    if (q >= end)
        return DER_SHORT;
    t->start = p;
    t->cls = *q & 0xc0;
    t->constructed = (*q & 0x20) != 0;
    t->tag = *q & 0x1f;
    q++;
    if (t->tag == 0x1f) {               /* high tag number form */
        t->tag = 0;
        for (int i = 0;; i++) {
            if (i >= 4)
                return -1;
            if (q >= end)
                return DER_SHORT;
            t->tag = (t->tag << 7) | (*q & 0x7f);
            if (!(*q++ & 0x80))
                break;
        }
    }
    if (q >= end)
        return DER_SHORT;
    t->indefinite = 0;
    if (*q < 0x80) {
        *len = *q++;
    } else if (*q == 0x80) {
        if (!t->constructed)
            return -1;
        t->indefinite = 1;
        *len = 0;
        q++;
    } else {
        unsigned n = *q++ & 0x7f;
        if (n > sizeof(size_t))
            return -1;
        if (n > (size_t)(end - q))
            return DER_SHORT;
        *len = 0;
        while (n--) {
            if (*len > (SIZE_MAX >> 8))
                return -1;
            *len = (*len << 8) | *q++;
        }
    }
    *hdrlen = (size_t)(q - p);
    return 0;
}

static int der_read(const uint8_t *p, const uint8_t *end, unsigned depth,
                    der_tlv_t *t)
{
    size_t hdrlen, len;
    int r;

    if (depth > DER_MAX_DEPTH)
        return -1;
    if ((r = der_read_header(p, end, t, &hdrlen, &len)) < 0)
        return r;
    t->val = p + hdrlen;
    if (!t->indefinite) {
        if (len > (size_t)(end - t->val))
            return DER_SHORT;
        t->vlen = len;
        t->total = hdrlen + len;
        return 0;
    }
    /* Indefinite: walk the children up to the end-of-contents octets. */
    const uint8_t *q = t->val;
    for (;;) {
        der_tlv_t child;
        if (end - q >= 2 && q[0] == 0 && q[1] == 0)
            break;
        if ((r = der_read(q, end, depth + 1, &child)) < 0)
            return r;
        if (child.cls == DER_UNIVERSAL && child.tag == 0)
            return -1;
        q += child.total;
    }
    t->vlen = (size_t)(q - t->val);
    t->total = hdrlen + t->vlen + 2;
    return 0;
}

void der_cur_init(der_cur_t *c, const void *buf, size_t len)
{
    c->p = buf;
    c->end = buf != NULL ? c->p + len : NULL;
    c->depth = 0;
}

int der_cur_enter(const der_cur_t *parent, const der_tlv_t *t, der_cur_t *c)
{
    if (!t->constructed || parent->depth + 1 > DER_MAX_DEPTH)
        return -1;
    c->p = t->val;
    c->end = t->val + t->vlen;
    c->depth = parent->depth + 1;
    return 0;
}

int der_cur_empty(const der_cur_t *c)
{
    return c->p >= c->end;
}

int der_next(der_cur_t *c, der_tlv_t *t)
{
    if (c->p >= c->end)
        return 0;
    if (der_read(c->p, c->end, c->depth, t) < 0)
        return -1;
    if (t->cls == DER_UNIVERSAL && t->tag == 0)   /* stray end-of-contents */
        return -1;
    c->p += t->total;
    return 1;
}

int der_expect(der_cur_t *c, unsigned cls, unsigned long tag, der_tlv_t *t)
{
    if (der_next(c, t) != 1 || t->cls != cls || t->tag != tag)
        return -1;
    return 0;
}

int der_optional(der_cur_t *c, unsigned cls, unsigned long tag, der_tlv_t *t)
{
    der_cur_t save = *c;
    int r = der_next(c, t);

    if (r < 0)
        return -1;
    if (r == 0 || t->cls != cls || t->tag != tag) {
        *c = save;
        return 0;
    }
    return 1;
}

int der_peek_header(const void *buf, size_t len, der_tlv_t *t)
{
    const uint8_t *p = buf, *end;
    size_t hdrlen, vlen;

    if (buf == NULL || len == 0)
        return -1;
    end = p + len;
    if (der_read_header(p, end, t, &hdrlen, &vlen) < 0)
        return -1;
    t->val = p + hdrlen;
    t->vlen = (size_t)(end - t->val);
    if (!t->indefinite && vlen < t->vlen)
        t->vlen = vlen;
    t->total = 0;                       /* unknown */
    return 0;
}

int der_partial_header(const void *buf, size_t len, der_tlv_t *t)
{
    const uint8_t *p = buf;
    size_t hdrlen, vlen;
    int r;

    if (buf == NULL || len == 0)
        return 0;
    if ((r = der_read_header(p, p + len, t, &hdrlen, &vlen)) < 0)
        return r == DER_SHORT ? 0 : -1;
    t->val = p + hdrlen;
    t->vlen = vlen;
    t->total = t->indefinite ? 0 : hdrlen + vlen;
    if (!t->indefinite && t->total < hdrlen)          /* overflow */
        return -1;
    return 1;
}

int der_partial(const void *buf, size_t len, unsigned depth, der_tlv_t *t)
{
    const uint8_t *p = buf;
    int r;

    if (buf == NULL || len == 0)
        return 0;
    if ((r = der_read(p, p + len, depth, t)) < 0)
        return r == DER_SHORT ? 0 : -1;
    if (t->cls == DER_UNIVERSAL && t->tag == 0)
        return -1;
    return 1;
}

int der_octets_foreach(const der_cur_t *c, const der_tlv_t *t,
                       int (*fn)(void *arg, const uint8_t *p, size_t n),
                       void *arg)
{
    der_cur_t in;
    der_tlv_t seg;
    int r;

    if (t->cls != DER_UNIVERSAL || t->tag != DER_TAG_OCTETS)
        return -1;
    if (!t->constructed)
        return fn(arg, t->val, t->vlen) < 0 ? -1 : 0;
    if (der_cur_enter(c, t, &in) < 0)
        return -1;
    while ((r = der_next(&in, &seg)) == 1)
        if (der_octets_foreach(&in, &seg, fn, arg) < 0)
            return -1;
    return r;
}

int der_oid_is(const der_tlv_t *t, const uint8_t *oid, size_t oidlen)
{
    return t->cls == DER_UNIVERSAL && t->tag == DER_TAG_OID &&
           !t->constructed && t->vlen == oidlen &&
           memcmp(t->val, oid, oidlen) == 0;
}

long der_small_int(const der_tlv_t *t)
{
    long v = 0;

    if (t->cls != DER_UNIVERSAL || t->tag != DER_TAG_INTEGER ||
        t->constructed || t->vlen == 0 || t->vlen > 4 || (t->val[0] & 0x80))
        return -1;
    for (size_t i = 0; i < t->vlen; i++)
        v = (v << 8) | t->val[i];
    return v;
}
