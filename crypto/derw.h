/*
 * derw.h - a small DER writer for the CMS structures the signer builds.
 *
 * A derw_t is a growable byte buffer.  Structures are built inside out:
 * write the members into a child buffer, then wrap it with its tag
 * (derw_wrap).  Allocation failures are sticky: every call after one is
 * a no-op and derw_failed() tells at the end, so callers check once.
 * Nothing secret goes through here (no zeroing on free).
 */
#ifndef SMIME_DERW_H
#define SMIME_DERW_H

#include <stddef.h>
#include <time.h>

/* Universal tags and the context tags CMS uses. */
#define DER_INTEGER     0x02
#define DER_OCTETSTRING 0x04
#define DER_NULL        0x05
#define DER_OID         0x06
#define DER_UTCTIME     0x17
#define DER_GENTIME     0x18
#define DER_SEQUENCE    0x30
#define DER_SET         0x31
#define DER_CTX(n)      (0x80 | (n))    /* [n] IMPLICIT, primitive */
#define DER_CTXC(n)     (0xa0 | (n))    /* [n], constructed */

typedef struct derw {
    unsigned char *buf;
    size_t len, cap;
    int failed;
} derw_t;

void derw_init(derw_t *w);
void derw_free(derw_t *w);                 /* back to the empty state */
int derw_failed(const derw_t *w);          /* 1 after any ENOMEM */

void derw_raw(derw_t *w, const void *p, size_t n);
void derw_tlv(derw_t *w, unsigned char tag, const void *content, size_t n);
/* tag + length + inner's bytes (inner is left as is). */
void derw_wrap(derw_t *w, unsigned char tag, const derw_t *inner);
/* OBJECT IDENTIFIER from dotted text ("1.2.840.113549.1.7.2"). */
void derw_oid(derw_t *w, const char *dotted);
void derw_uint(derw_t *w, unsigned long v);        /* non-negative INTEGER */
/* UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5652 11.3). */
void derw_time(derw_t *w, time_t t);
/* A SET OF: the n encodings sorted as X.690 11.6 requires, in a SET (or
 * in an [n] IMPLICIT SET when tag says so). */
void derw_set_of(derw_t *w, unsigned char tag, const derw_t *elems, size_t n);

/* Hand the buffer to the caller (malloc'd, free() it); w becomes empty.
 * NULL when anything failed. */
unsigned char *derw_take(derw_t *w, size_t *len);

#endif
