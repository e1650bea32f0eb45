/*
 * stripecache.h - a fixed-capacity, thread-safe table of recent values
 * (crypto/ internal; trust_cache.c and recipient_cache.c use it).
 *
 * A key (bytes and a caller-computed hash) picks one of `stripes`
 * stripes, each with its own mutex and `ways` slots; a full stripe drops
 * its least recently used slot.  Values are opaque pointers owned through
 * the caller's ref/unref hooks: the table holds one reference per slot,
 * takes one for the caller under the stripe lock in get, and releases
 * the ones it lets go of outside the lock.  The key bytes are not copied:
 * they must stay valid while their value is cached (keep them in it).
 */
#ifndef SMIME_STRIPECACHE_H
#define SMIME_STRIPECACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct stripecache stripecache_t;

struct stripecache_ops {
    void (*ref)(void *val);             /* add one (maybe under a lock) */
    void (*unref)(void *val);           /* drop one (never under a lock) */
};

/* NULL on ENOMEM; ops must outlive the table. */
stripecache_t *stripecache_new(unsigned stripes, unsigned ways,
                               const struct stripecache_ops *ops);
void stripecache_free(stripecache_t *c);   /* unrefs every value; NULL ok */

/* key's value with a reference for the caller (made the stripe's most
 * recently used), or NULL. */
void *stripecache_get(stripecache_t *c, const void *key, size_t klen,
                      uint32_t hash);
/* Cache val under key (the table takes its own reference), replacing
 * key's value or the stripe's least recently used one. */
void stripecache_put(stripecache_t *c, const void *key, size_t klen,
                     uint32_t hash, void *val);
/* Remove key's slot if it still holds val. */
void stripecache_drop(stripecache_t *c, const void *key, size_t klen,
                      uint32_t hash, const void *val);

/* Hit and miss counters: the caller decides what counts as which. */
void stripecache_count(stripecache_t *c, int hit);
/* The counters since stripecache_new; *entries (if not NULL) the values
 * cached now. */
void stripecache_stats(const stripecache_t *c, unsigned long *hits,
                       unsigned long *misses, size_t *entries);

#endif
