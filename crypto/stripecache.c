/*
 * stripecache.c - the striped LRU table of stripecache.h.
 *
 * A set-associative table: hash % stripes picks a stripe, each with its
 * own mutex, a use counter (tick) and `ways` slots searched linearly; a
 * slot remembers the tick of its last use and the smallest one goes
 * when the stripe is full.  Many threads mostly take different mutexes,
 * and each holds one only for a scan of `ways` slots.  Values leave the
 * table (replaced, evicted, dropped) with their unref called after the
 * mutex is released, so a destructor may be slow or take other locks.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stripecache.h"

struct slot {
    uint64_t used;                       /* last use (stripe tick); 0 free */
    uint32_t hash;
    size_t klen;
    const void *key;                     /* in val, the caller's */
    void *val;
};

struct stripe {
    pthread_mutex_t lock;
    uint64_t tick;
    struct slot *slot;                   /* ways of them */
};

struct stripecache {
    unsigned nstripes, ways;
    const struct stripecache_ops *ops;
    atomic_ulong hits, misses;
    struct stripe *stripe;
    struct slot *slots;                  /* nstripes * ways */
};

stripecache_t *stripecache_new(unsigned stripes, unsigned ways,
                               const struct stripecache_ops *ops)
{
    stripecache_t *c = calloc(1, sizeof(*c));

    if (c == NULL || stripes == 0 || ways == 0)
        goto fail;
    c->stripe = calloc(stripes, sizeof(*c->stripe));
    c->slots = calloc((size_t)stripes * ways, sizeof(*c->slots));
    if (c->stripe == NULL || c->slots == NULL)
        goto fail;
    c->nstripes = stripes;
    c->ways = ways;
    c->ops = ops;
    for (unsigned i = 0; i < stripes; i++) {
        pthread_mutex_init(&c->stripe[i].lock, NULL);
        c->stripe[i].slot = &c->slots[(size_t)i * ways];
    }
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    return c;
fail:
    if (c != NULL) {
        free(c->stripe);
        free(c->slots);
        free(c);
    }
    return NULL;
}

void stripecache_free(stripecache_t *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nstripes; i++)
        pthread_mutex_destroy(&c->stripe[i].lock);
    for (size_t j = 0; j < (size_t)c->nstripes * c->ways; j++)
        if (c->slots[j].used != 0)
            c->ops->unref(c->slots[j].val);
    free(c->stripe);
    free(c->slots);
    free(c);
}

static struct stripe *stripe_of(stripecache_t *c, uint32_t hash)
{
    return &c->stripe[hash % c->nstripes];
}

/* The slot holding key in s (lock held), or NULL. */
static struct slot *slot_find(stripecache_t *c, struct stripe *s,
                              const void *key, size_t klen, uint32_t hash)
{
    for (unsigned i = 0; i < c->ways; i++) {
        struct slot *sl = &s->slot[i];
        if (sl->used != 0 && sl->hash == hash && sl->klen == klen &&
            memcmp(sl->key, key, klen) == 0)
            return sl;
    }
    return NULL;
}

void *stripecache_get(stripecache_t *c, const void *key, size_t klen,
                      uint32_t hash)
{
    struct stripe *s = stripe_of(c, hash);
    void *val = NULL;

    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(c, s, key, klen, hash);
    if (sl != NULL) {
        sl->used = ++s->tick;
        val = sl->val;
        c->ops->ref(val);
    }
    pthread_mutex_unlock(&s->lock);
    return val;
}

void stripecache_put(stripecache_t *c, const void *key, size_t klen,
                     uint32_t hash, void *val)
{
    struct stripe *s = stripe_of(c, hash);
    void *old = NULL;

    c->ops->ref(val);                           /* the slot's */
    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(c, s, key, klen, hash);
    if (sl == NULL) {                           /* a free or the LRU slot */
        sl = &s->slot[0];
        for (unsigned i = 1; i < c->ways && sl->used != 0; i++)
            if (s->slot[i].used < sl->used)
                sl = &s->slot[i];
    }
    if (sl->used != 0)
        old = sl->val;
    sl->hash = hash;
    sl->klen = klen;
    sl->key = key;
    sl->val = val;
    sl->used = ++s->tick;
    pthread_mutex_unlock(&s->lock);
    if (old != NULL)
        c->ops->unref(old);                     /* outside the lock */
}

void stripecache_drop(stripecache_t *c, const void *key, size_t klen,
                      uint32_t hash, const void *val)
{
    struct stripe *s = stripe_of(c, hash);
    void *old = NULL;

    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(c, s, key, klen, hash);
    if (sl != NULL && sl->val == val) {
        old = sl->val;
        memset(sl, 0, sizeof(*sl));
    }
    pthread_mutex_unlock(&s->lock);
    if (old != NULL)
        c->ops->unref(old);
}

void stripecache_count(stripecache_t *c, int hit)
{
    atomic_fetch_add(hit ? &c->hits : &c->misses, 1);
}

void stripecache_stats(const stripecache_t *c, unsigned long *hits,
                       unsigned long *misses, size_t *entries)
{
    stripecache_t *w = (stripecache_t *)c;      /* counters and locks */

    *hits = atomic_load(&w->hits);
    *misses = atomic_load(&w->misses);
    if (entries == NULL)
        return;
    *entries = 0;
    for (unsigned i = 0; i < w->nstripes; i++) {
        pthread_mutex_lock(&w->stripe[i].lock);
        for (unsigned j = 0; j < w->ways; j++)
            *entries += w->stripe[i].slot[j].used != 0;
        pthread_mutex_unlock(&w->stripe[i].lock);
    }
}
