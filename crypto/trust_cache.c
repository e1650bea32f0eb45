/*
 * trust_cache.c - the chain-result memo of a trust store (trust_cache.h).
 *
 * A set-associative table: the key's first byte picks one of STRIPES
 * stripes, each with its own mutex and WAYS slots; a full stripe drops
 * its least recently used slot.  Keys are SHA-256 values, so their bytes
 * are already evenly spread and a stripe is searched by plain memcmp.
 * Many threads verifying at once mostly take different mutexes, and
 * each holds one only for a scan of WAYS slots.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust_cache.h"

#define STRIPES 32
#define WAYS (TRUST_CACHE_SIZE / STRIPES)

struct slot {
    uint64_t used;                       /* last use (stripe tick); 0 free */
    unsigned char key[TRUST_CACHE_KEYLEN];
    struct trust_cache_val val;
};

struct stripe {
    pthread_mutex_t lock;
    uint64_t tick;
    struct slot slot[WAYS];
};

struct trust_cache {
    struct stripe stripe[STRIPES];
    atomic_ulong hits, misses;
};

trust_cache_t *trust_cache_new(void)
{
    trust_cache_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->stripe[i].lock, NULL);
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    return c;
}

void trust_cache_free(trust_cache_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->stripe[i].lock);
    free(c);
}

static struct stripe *stripe_of(trust_cache_t *c, const unsigned char *key)
{
    return &c->stripe[key[0] % STRIPES];
}

/* The slot holding key in s (lock held), or NULL. */
static struct slot *slot_find(struct stripe *s, const unsigned char *key)
{
    for (int i = 0; i < WAYS; i++)
        if (s->slot[i].used != 0 &&
            memcmp(s->slot[i].key, key, TRUST_CACHE_KEYLEN) == 0)
            return &s->slot[i];
    return NULL;
}

int trust_cache_get(trust_cache_t *c, const unsigned char *key, time_t now,
                    struct trust_cache_val *val)
{
    struct stripe *s = stripe_of(c, key);
    int found = 0;

    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(s, key);
    if (sl != NULL && sl->val.lo <= now && now <= sl->val.hi) {
        sl->used = ++s->tick;
        *val = sl->val;
        found = 1;
    }
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(found ? &c->hits : &c->misses, 1);
    return found;
}

void trust_cache_put(trust_cache_t *c, const unsigned char *key,
                     const struct trust_cache_val *val)
{
    struct stripe *s = stripe_of(c, key);

    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(s, key);
    if (sl == NULL) {
        sl = &s->slot[0];
        for (int i = 1; i < WAYS && sl->used != 0; i++)
            if (s->slot[i].used < sl->used)
                sl = &s->slot[i];
        memcpy(sl->key, key, TRUST_CACHE_KEYLEN);
    }
    sl->val = *val;
    sl->used = ++s->tick;
    pthread_mutex_unlock(&s->lock);
}

void trust_cache_stats(const trust_cache_t *c, unsigned long *hits,
                       unsigned long *misses)
{
    /* atomic loads of counters the const store still updates */
    *hits = atomic_load(&((trust_cache_t *)c)->hits);
    *misses = atomic_load(&((trust_cache_t *)c)->misses);
}
