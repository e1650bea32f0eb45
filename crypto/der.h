/*
 * der.h - a small, strict BER/DER reader for the CMS structures that
 * crypto/ parses itself (internal to crypto/).
 *
 * Reads definite and indefinite lengths and constructed strings as
 * `openssl cms -stream` writes them.  Every read is bounded by the buffer
 * it is given and by a nesting depth limit; nothing is ever read past the
 * end.  Values point into the caller's buffer (borrowed, never copied).
 */
#ifndef SMIME_DER_H
#define SMIME_DER_H

#include <stddef.h>
#include <stdint.h>

#define DER_MAX_DEPTH 32

/* Classes as they appear in the identifier octet. */
#define DER_UNIVERSAL   0x00
#define DER_CONTEXT     0x80

/* Universal tags used by CMS. */
#define DER_TAG_BOOLEAN   1
#define DER_TAG_INTEGER   2
#define DER_TAG_BITSTRING 3
#define DER_TAG_OCTETS    4
#define DER_TAG_NULL      5
#define DER_TAG_OID       6
#define DER_TAG_SEQUENCE  16
#define DER_TAG_SET       17

typedef struct der_tlv {
    unsigned cls;            /* DER_UNIVERSAL, DER_CONTEXT, ... */
    int constructed;
    unsigned long tag;
    int indefinite;          /* length was 0x80 */
    const uint8_t *start;    /* first identifier octet */
    const uint8_t *val;      /* contents (without an end-of-contents) */
    size_t vlen;
    size_t total;            /* whole element, end-of-contents included */
} der_tlv_t;

/* A cursor over the contents of a constructed element (or a buffer). */
typedef struct der_cur {
    const uint8_t *p, *end;
    unsigned depth;          /* nesting depth of the contents */
} der_cur_t;

void der_cur_init(der_cur_t *c, const void *buf, size_t len);
/* A cursor over the contents of t (constructed), one level deeper. */
int der_cur_enter(const der_cur_t *parent, const der_tlv_t *t, der_cur_t *c);
int der_cur_empty(const der_cur_t *c);

/* Reads the next element: 1 on success, 0 at the end of the contents,
 * -1 on malformed input (bad length, truncation, depth exceeded). */
int der_next(der_cur_t *c, der_tlv_t *t);
/* Like der_next, but requires an element with the given class/tag. */
int der_expect(der_cur_t *c, unsigned cls, unsigned long tag, der_tlv_t *t);
/* Reads an element only if the next one has the given class/tag:
 * 1 read, 0 absent (cursor unchanged), -1 malformed. */
int der_optional(der_cur_t *c, unsigned cls, unsigned long tag, der_tlv_t *t);

/* Reads only the identifier and length octets of an element that may be
 * truncated (to peek at the start of an oversized input).  val points
 * after the header; vlen is what is available of the contents. */
int der_peek_header(const void *buf, size_t len, der_tlv_t *t);

/* Streaming readers (input arriving in pieces; len bytes so far):
 * der_partial_header reads the identifier and length octets of the
 * element at buf: 1 (t->val after them; t->vlen the length and t->total
 * the whole size when definite, both 0 when indefinite), 0 if more bytes
 * are needed, -1 if malformed.  der_partial reads the whole element,
 * depth levels deep: 1 (as der_next), 0 more bytes needed, -1 malformed. */
int der_partial_header(const void *buf, size_t len, der_tlv_t *t);
int der_partial(const void *buf, size_t len, unsigned depth, der_tlv_t *t);

/* An OCTET STRING, primitive or constructed (segments nested in any
 * depth): calls fn for each segment in order.  0, or -1 if malformed or
 * fn failed. */
int der_octets_foreach(const der_cur_t *c, const der_tlv_t *t,
                       int (*fn)(void *arg, const uint8_t *p, size_t n),
                       void *arg);

/* 1 if t is an OID (primitive) whose contents equal the DER contents
 * oid/oidlen. */
int der_oid_is(const der_tlv_t *t, const uint8_t *oid, size_t oidlen);
/* Small non-negative INTEGER (< 2^31): value, or -1. */
long der_small_int(const der_tlv_t *t);

#endif
