/*
 * recipient.h - the certificate to encrypt to a recipient (SPEC
 * "Encryption"): from the certificate store, valid now, chaining to a
 * trust anchor through the trust store (with the intermediates stored
 * with it), not revoked, the address in it, keyEncipherment (RSA) or
 * keyAgreement (EC) allowed.  One implementation of the rule, used at
 * RCPT time by the policy, at end of message by encryption and by
 * `smime-certstore check`.  No logging: a status and a short reason.
 */
#ifndef SMIME_RECIPIENT_H
#define SMIME_RECIPIENT_H

#include <stddef.h>
#include <time.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "certstore.h"
#include "trust.h"

enum smime_rcpt_status {
    SMIME_RCPT_OK = 0,
    SMIME_RCPT_NONE,         /* the store has no certificate for it */
    SMIME_RCPT_UNUSABLE,     /* certificates, none usable (why: the
                                problem of the best one) */
    SMIME_RCPT_TEMP          /* transient: the store cannot be read, a
                                CRL is unreadable, out of memory */
};

/* The chosen certificate of a recipient. */
typedef struct smime_rcpt_cert {
    gnutls_x509_crt_t crt;   /* released by smime_rcpt_cert_clear(); may
                                be shared with the cache and other
                                threads: read only */
    int gcm;                 /* its recorded SMIMECapabilities list
                                AES-256-GCM */
    int imported;            /* source: import (else harvest) */
    gnutls_pubkey_t pub;     /* crt's key imported (from the cache, read
                                only), or NULL */
    const struct smime_encrypt_rkey *rkey;  /* what the CMS writer needs
                                of crt, prepared once (from the cache,
                                envelope_write.h), or NULL */
    struct rcpt_memo *memo;  /* the cache entry holding crt, or NULL */
} smime_rcpt_cert_t;

/* A bounded memo of lookups that found a usable certificate, keyed by
 * address: the parsed certificate, the choice and the judgement are
 * reused while the store holds the same record for the address (and the
 * same certificate records: checked in one read transaction, no
 * parsing) and now stays inside the window where no date the judgement
 * read is crossed (the certificates' validity, the chain's, the
 * anchors', the CRLs' thisUpdate/nextUpdate).  Made for one trust
 * store and used only with it: a reload of anchors or CRLs makes a new
 * trust store and needs a new cache (a lookup with another store does
 * not use this one).  At most SMIME_RCPT_CACHE_SIZE entries, least
 * recently used out.  Thread-safe. */
#define SMIME_RCPT_CACHE_SIZE 512
typedef struct smime_rcpt_cache smime_rcpt_cache_t;
/* NULL on ENOMEM; trust must outlive the cache. */
smime_rcpt_cache_t *smime_rcpt_cache_new(const smime_trust_t *trust);
void smime_rcpt_cache_free(smime_rcpt_cache_t *c); /* accepts NULL */
/* Lookups answered from the cache, lookups that were not (with a
 * cache and a trust store), and entries held now. */
void smime_rcpt_cache_stats(const smime_rcpt_cache_t *c, unsigned long *hits,
                            unsigned long *misses, size_t *entries);

/* The problem of one stored certificate for address at time now, or
 * NULL when it is usable.  trust NULL: the chain is not checked (only
 * `smime-certstore check` without -c).  *transient is set to 1 when the
 * problem is a local one (CRL unreadable, ENOMEM), not the certificate's. */
const char *smime_rcpt_judge(const struct certstore_entry *e,
                             gnutls_x509_crt_t crt, const char *address,
                             const smime_trust_t *trust, unsigned max_chain,
                             time_t now, int *transient);

/* The usable certificate of address (case-insensitive): imported before
 * harvested, then the one valid longest.  On OK *out holds it; else
 * why (NUL-terminated, at most whylen) says why not, as a log line would
 * ("no certificate", "expired certificate", "certificate store: ...").
 * cache: NULL, or a cache (used only when made for trust, and meant for
 * one store file). */
enum smime_rcpt_status smime_rcpt_lookup(smime_rcpt_cache_t *cache,
                                         certstore_t *cs,
                                         const smime_trust_t *trust,
                                         unsigned max_chain,
                                         const char *address, time_t now,
                                         smime_rcpt_cert_t *out,
                                         char *why, size_t whylen);
void smime_rcpt_cert_clear(smime_rcpt_cert_t *c);

/* 1 if the DER SMIMECapabilities (RFC 8551 2.5.2) list AES-256-GCM. */
int smime_caps_have_aes256_gcm(const unsigned char *caps, size_t len);

#endif
