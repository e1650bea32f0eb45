/*
 * recipient_cache.c - the table behind smime_rcpt_cache_t (recipient.h):
 * recent recipient lookups that found a usable certificate, each the
 * parsed certificate with the store stamp and the time window it was
 * judged for.  recipient.c decides what goes in and whether an entry
 * still holds; this file only keeps them.
 *
 * The table is a stripecache.c one: the key's FNV-1a hash picks one of
 * STRIPES stripes of WAYS slots.  Entries are reference counted (as
 * keystore entries are): a caller holds its certificate while the slot
 * may already hold a newer one.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipient_priv.h"
#include "stripecache.h"

#define STRIPES 16
#define WAYS (SMIME_RCPT_CACHE_SIZE / STRIPES)

struct smime_rcpt_cache {
    const smime_trust_t *trust;          /* what the answers were judged by */
    stripecache_t *t;
};

static void memo_ref(void *m)
{
    atomic_fetch_add(&((struct rcpt_memo *)m)->refs, 1);
}

static void memo_unref(void *m)
{
    rcpt_memo_unref(m);
}

static const struct stripecache_ops memo_ops = { memo_ref, memo_unref };

void rcpt_memo_unref(struct rcpt_memo *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    smime_encrypt_rkey_free(m->rkey);   /* borrows pub */
    if (m->pub != NULL)
        gnutls_pubkey_deinit(m->pub);
    if (m->crt != NULL)
        gnutls_x509_crt_deinit(m->crt);
    certstore_stamp_free(m->stamp);
    free(m);
}

smime_rcpt_cache_t *smime_rcpt_cache_new(const smime_trust_t *trust)
{
    smime_rcpt_cache_t *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    c->trust = trust;
    c->t = stripecache_new(STRIPES, WAYS, &memo_ops);
    if (c->t == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void smime_rcpt_cache_free(smime_rcpt_cache_t *c)
{
    if (c == NULL)
        return;
    stripecache_free(c->t);
    free(c);
}

const smime_trust_t *rcpt_cache_trust(const smime_rcpt_cache_t *c)
{
    return c->trust;
}

static uint32_t hash_of(const char *key)
{
    uint32_t h = 2166136261u;                   /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

struct rcpt_memo *rcpt_cache_get(smime_rcpt_cache_t *c, const char *key)
{
    return stripecache_get(c->t, key, strlen(key), hash_of(key));
}

void rcpt_cache_put(smime_rcpt_cache_t *c, struct rcpt_memo *m)
{
    stripecache_put(c->t, m->key, strlen(m->key), hash_of(m->key), m);
}

void rcpt_cache_drop(smime_rcpt_cache_t *c, const struct rcpt_memo *m)
{
    stripecache_drop(c->t, m->key, strlen(m->key), hash_of(m->key), m);
}

void rcpt_cache_count(smime_rcpt_cache_t *c, int hit)
{
    stripecache_count(c->t, hit);
}

void smime_rcpt_cache_stats(const smime_rcpt_cache_t *c, unsigned long *hits,
                            unsigned long *misses, size_t *entries)
{
    stripecache_stats(c->t, hits, misses, entries);
}
