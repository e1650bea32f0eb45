/*
 * trust_cache.c - the chain-result memo of a trust store (trust_cache.h),
 * a stripecache.c table: 32 stripes of TRUST_CACHE_SIZE / 32 ways.  Keys
 * are SHA-256 values, so their first byte is already an even hash.
 * Each result is a small reference-counted copy, so a reader never sees
 * one a concurrent put is replacing.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stripecache.h"
#include "trust_cache.h"

#define STRIPES 32
#define WAYS (TRUST_CACHE_SIZE / STRIPES)

struct tc_entry {
    atomic_uint refs;
    unsigned char key[TRUST_CACHE_KEYLEN];
    struct trust_cache_val val;
};

struct trust_cache {
    stripecache_t *t;
};

static void entry_ref(void *p)
{
    atomic_fetch_add(&((struct tc_entry *)p)->refs, 1);
}

static void entry_unref(void *p)
{
    struct tc_entry *e = p;

    if (atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

static const struct stripecache_ops entry_ops = { entry_ref, entry_unref };

trust_cache_t *trust_cache_new(void)
{
    trust_cache_t *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    c->t = stripecache_new(STRIPES, WAYS, &entry_ops);
    if (c->t == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void trust_cache_free(trust_cache_t *c)
{
    if (c == NULL)
        return;
    stripecache_free(c->t);
    free(c);
}

int trust_cache_get(trust_cache_t *c, const unsigned char *key, time_t now,
                    struct trust_cache_val *val)
{
    struct tc_entry *e = stripecache_get(c->t, key, TRUST_CACHE_KEYLEN, key[0]);
    int found = e != NULL && e->val.lo <= now && now <= e->val.hi;

    if (found)
        *val = e->val;
    if (e != NULL)
        entry_unref(e);
    stripecache_count(c->t, found);
    return found;
}

void trust_cache_put(trust_cache_t *c, const unsigned char *key,
                     const struct trust_cache_val *val)
{
    struct tc_entry *e = malloc(sizeof(*e));

    if (e == NULL)                      /* a memo: not remembering is fine */
        return;
    atomic_init(&e->refs, 1);
    memcpy(e->key, key, TRUST_CACHE_KEYLEN);
    e->val = *val;
    stripecache_put(c->t, e->key, TRUST_CACHE_KEYLEN, key[0], e);
    entry_unref(e);                     /* the table holds it now */
}

void trust_cache_stats(const trust_cache_t *c, unsigned long *hits,
                       unsigned long *misses)
{
    stripecache_stats(c->t, hits, misses, NULL);
}
