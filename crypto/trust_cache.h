/*
 * trust_cache.h - a bounded memo of certificate-chain results for one
 * trust store (trust.c): 32-byte key (a SHA-256 of the chain) to a
 * result that holds for a window of time.  Thread-safe.
 */
#ifndef SMIME_TRUST_CACHE_H
#define SMIME_TRUST_CACHE_H

#include <time.h>

#define TRUST_CACHE_KEYLEN 32
#define TRUST_CACHE_SIZE 1024        /* entries; the oldest used goes */

typedef struct trust_cache trust_cache_t;

struct trust_cache_val {
    int status;                      /* enum smime_chain_status */
    int sha1;
    time_t lo, hi;                   /* valid for lo <= now <= hi */
    char end_dn[256];                /* smime_trust_verify_pool() only */
};

trust_cache_t *trust_cache_new(void);              /* NULL on ENOMEM */
void trust_cache_free(trust_cache_t *c);           /* accepts NULL */

/* 1 and *val when key is cached and its window holds now, else 0. */
int trust_cache_get(trust_cache_t *c, const unsigned char *key, time_t now,
                    struct trust_cache_val *val);
/* Store (or replace) key's value. */
void trust_cache_put(trust_cache_t *c, const unsigned char *key,
                     const struct trust_cache_val *val);
/* Lookups answered and not answered since trust_cache_new. */
void trust_cache_stats(const trust_cache_t *c, unsigned long *hits,
                       unsigned long *misses);

#endif
