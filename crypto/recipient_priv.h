/*
 * recipient_priv.h - what recipient.c shares with recipient_cache.c.
 * Not for other modules.
 */
#ifndef SMIME_RECIPIENT_PRIV_H
#define SMIME_RECIPIENT_PRIV_H

#include <stdatomic.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "certstore.h"
#include "envelope_write.h"
#include "recipient.h"

/* One remembered lookup: the usable certificate of key (the lower-cased
 * address), chosen from what stamp says the store held, for now within
 * [lo, hi].  Read-only once in the cache; freed with its last reference. */
struct rcpt_memo {
    atomic_uint refs;
    gnutls_x509_crt_t crt;
    gnutls_pubkey_t pub;                /* crt's key, or NULL */
    smime_encrypt_rkey_t *rkey;         /* for the CMS writer, or NULL */
    int gcm, imported;
    time_t lo, hi;
    certstore_stamp_t *stamp;
    char key[];
};

void rcpt_memo_unref(struct rcpt_memo *m);                 /* NULL ok */
/* The entry of key with a reference for the caller, or NULL. */
struct rcpt_memo *rcpt_cache_get(smime_rcpt_cache_t *c, const char *key);
/* Store m (the cache takes a reference of its own), replacing key's
 * entry or the stripe's least recently used one. */
void rcpt_cache_put(smime_rcpt_cache_t *c, struct rcpt_memo *m);
/* Remove m if it is still cached (it no longer holds). */
void rcpt_cache_drop(smime_rcpt_cache_t *c, const struct rcpt_memo *m);
void rcpt_cache_count(smime_rcpt_cache_t *c, int hit);
/* The trust store the cache was made for. */
const smime_trust_t *rcpt_cache_trust(const smime_rcpt_cache_t *c);

#endif
