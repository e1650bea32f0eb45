/*
 * recipient_cache.c - the table behind smime_rcpt_cache_t (recipient.h):
 * recent recipient lookups that found a usable certificate, each the
 * parsed certificate with the store stamp and the time window it was
 * judged for.  recipient.c decides what goes in and whether an entry
 * still holds; this file only keeps them.
 *
 * The layout is trust_cache.c's: the key's hash picks one of STRIPES
 * stripes, each with its own mutex and WAYS slots, and a full stripe
 * drops its least recently used slot.  Entries are reference counted
 * (as keystore entries are): a caller holds its certificate while the
 * slot may already hold a newer one.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipient_priv.h"

#define STRIPES 16
#define WAYS (SMIME_RCPT_CACHE_SIZE / STRIPES)

struct slot {
    uint64_t used;                       /* last use (stripe tick); 0 free */
    struct rcpt_memo *m;
};

struct stripe {
    pthread_mutex_t lock;
    uint64_t tick;
    struct slot slot[WAYS];
};

struct smime_rcpt_cache {
    const smime_trust_t *trust;          /* what the answers were judged by */
    struct stripe stripe[STRIPES];
    atomic_ulong hits, misses;
};

void rcpt_memo_unref(struct rcpt_memo *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->pub != NULL)
        gnutls_pubkey_deinit(m->pub);
    if (m->crt != NULL)
        gnutls_x509_crt_deinit(m->crt);
    certstore_stamp_free(m->stamp);
    free(m);
}

smime_rcpt_cache_t *smime_rcpt_cache_new(const smime_trust_t *trust)
{
    smime_rcpt_cache_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->trust = trust;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->stripe[i].lock, NULL);
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    return c;
}

void smime_rcpt_cache_free(smime_rcpt_cache_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < STRIPES; i++) {
        for (int j = 0; j < WAYS; j++)
            rcpt_memo_unref(c->stripe[i].slot[j].m);
        pthread_mutex_destroy(&c->stripe[i].lock);
    }
    free(c);
}

const smime_trust_t *rcpt_cache_trust(const smime_rcpt_cache_t *c)
{
    return c->trust;
}

static struct stripe *stripe_of(smime_rcpt_cache_t *c, const char *key)
{
    uint32_t h = 2166136261u;                   /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &c->stripe[h % STRIPES];
}

static struct slot *slot_find(struct stripe *s, const char *key)
{
    for (int i = 0; i < WAYS; i++)
        if (s->slot[i].m != NULL && strcmp(s->slot[i].m->key, key) == 0)
            return &s->slot[i];
    return NULL;
}

struct rcpt_memo *rcpt_cache_get(smime_rcpt_cache_t *c, const char *key)
{
    struct stripe *s = stripe_of(c, key);
    struct rcpt_memo *m = NULL;

    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(s, key);
    if (sl != NULL) {
        sl->used = ++s->tick;
        m = sl->m;
        atomic_fetch_add(&m->refs, 1);
    }
    pthread_mutex_unlock(&s->lock);
    return m;
}

void rcpt_cache_put(smime_rcpt_cache_t *c, struct rcpt_memo *m)
{
    struct stripe *s = stripe_of(c, m->key);
    struct rcpt_memo *old;

    atomic_fetch_add(&m->refs, 1);              /* the slot's */
    pthread_mutex_lock(&s->lock);
    struct slot *sl = slot_find(s, m->key);
    if (sl == NULL) {
        sl = &s->slot[0];
        for (int i = 1; i < WAYS && sl->used != 0; i++)
            if (s->slot[i].used < sl->used)
                sl = &s->slot[i];
    }
    old = sl->m;
    sl->m = m;
    sl->used = ++s->tick;
    pthread_mutex_unlock(&s->lock);
    rcpt_memo_unref(old);                       /* outside the lock */
}

void rcpt_cache_drop(smime_rcpt_cache_t *c, const struct rcpt_memo *m)
{
    struct stripe *s = stripe_of(c, m->key);
    struct rcpt_memo *old = NULL;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < WAYS; i++)
        if (s->slot[i].m == m) {
            old = s->slot[i].m;
            s->slot[i].m = NULL;
            s->slot[i].used = 0;
        }
    pthread_mutex_unlock(&s->lock);
    rcpt_memo_unref(old);
}

void rcpt_cache_count(smime_rcpt_cache_t *c, int hit)
{
    atomic_fetch_add(hit ? &c->hits : &c->misses, 1);
}

void smime_rcpt_cache_stats(const smime_rcpt_cache_t *c, unsigned long *hits,
                            unsigned long *misses, size_t *entries)
{
    smime_rcpt_cache_t *w = (smime_rcpt_cache_t *)c;   /* the locks */
    size_t n = 0;

    *hits = atomic_load(&w->hits);
    *misses = atomic_load(&w->misses);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&w->stripe[i].lock);
        for (int j = 0; j < WAYS; j++)
            n += w->stripe[i].slot[j].m != NULL;
        pthread_mutex_unlock(&w->stripe[i].lock);
    }
    if (entries != NULL)
        *entries = n;
}
