/*
 * trust.h - the set of trust anchors and CRLs that verification chains
 * to.  Built once (at start and on reload), then shared read-only by any
 * number of threads.
 */
#ifndef SMIME_TRUST_H
#define SMIME_TRUST_H

#include <stddef.h>
#include <time.h>
#include <gnutls/x509.h>

typedef struct smime_trust smime_trust_t;

smime_trust_t *smime_trust_new(void);              /* NULL on ENOMEM */
void smime_trust_free(smime_trust_t *t);           /* accepts NULL */

/* Each returns the number of items loaded (>= 1), or -1 with a message
 * that says what to fix in err ("cannot read /x: Permission denied",
 * "/x: no PEM certificate found", ...). */
int smime_trust_add_anchors(smime_trust_t *t, const char *pemfile,
                            char *err, size_t errlen);
int smime_trust_add_system(smime_trust_t *t, char *err, size_t errlen);
/* PEM or DER CRL file. A CRL that cannot be read also marks the store as
 * degraded: verification then gives temperror instead of pass. */
int smime_trust_add_crl(smime_trust_t *t, const char *file,
                        char *err, size_t errlen);
int smime_trust_degraded(const smime_trust_t *t);

/* Chain verification (used by verify.c; usable by the keystore). */
enum smime_chain_status {
    SMIME_CHAIN_OK = 0,
    SMIME_CHAIN_UNTRUSTED,            /* a bad certificate signature, or
                                         an anchor GnuTLS refuses */
    SMIME_CHAIN_UNTRUSTED_ROOT,       /* ends at a self-signed certificate
                                         that is not an anchor */
    SMIME_CHAIN_UNKNOWN_ISSUER,       /* ends at a certificate whose issuer
                                         is neither in the pool nor an
                                         anchor: a missing intermediate
                                         and an unknown root look alike */
    SMIME_CHAIN_EXPIRED,
    SMIME_CHAIN_NOT_YET_VALID,
    SMIME_CHAIN_REVOKED,              /* listed in a CRL (CRLFile) */
    SMIME_CHAIN_TOO_LONG,             /* no anchor within max_chain */
    SMIME_CHAIN_ERROR                 /* internal error (ENOMEM) */
};
/* "untrusted certificate", "untrusted root", "untrusted issuer", ... */
const char *smime_chain_status_string(enum smime_chain_status s);

/* Orders the chain signer -> its issuer -> ... out of pool (typically
 * the certificates of a CMS, in any order, signer included or not), at
 * most max_chain certificates, and verifies it to an anchor at the
 * current time (see smime_trust_set_time_function), then checks each
 * certificate against the CRLs.  SHA-1 certificate signatures are
 * accepted here; *sha1 is set to 1 when one was used below the anchor,
 * so that the caller applies its policy.  Safe to call from many threads
 * on one store.
 *
 * Results (all but SMIME_CHAIN_ERROR) are cached per store, keyed by the
 * store's generation (every smime_trust_add_* starts a new one) and the
 * DER of the chain as built, for as long as no certificate of the chain
 * or of the anchors, and no CRL date, changes state (notBefore,
 * notAfter, thisUpdate, nextUpdate); at most 1024 chains (trust_cache.h). */
enum smime_chain_status smime_trust_verify_chain(const smime_trust_t *t,
        gnutls_x509_crt_t signer, const gnutls_x509_crt_t *pool,
        size_t npool, unsigned max_chain, int *sha1);
/* The same, and the window [*lo, *hi] around the store's now in which
 * the result holds (no date of the chain, the anchors or the CRLs is
 * crossed): for callers that keep a result of their own.  Empty
 * (*lo > *hi) for SMIME_CHAIN_ERROR. */
enum smime_chain_status smime_trust_verify_chain_window(
        const smime_trust_t *t, gnutls_x509_crt_t signer,
        const gnutls_x509_crt_t *pool, size_t npool, unsigned max_chain,
        int *sha1, time_t *lo, time_t *hi);

/* The last certificate of the chain smime_trust_verify_chain() builds
 * from the same arguments (signer, or one of pool: borrowed): the
 * self-signed root of SMIME_CHAIN_UNTRUSTED_ROOT, the certificate whose
 * issuer is unknown in SMIME_CHAIN_UNKNOWN_ISSUER.  Its issuer is the
 * name to report.  NULL on ENOMEM. */
gnutls_x509_crt_t smime_trust_chain_end(gnutls_x509_crt_t signer,
        const gnutls_x509_crt_t *pool, size_t npool, unsigned max_chain);

/* smime_trust_verify_chain(t, pool[signer], pool, npool, ...) for a
 * pool whose certificates are named by ids (ids[i] the SHA-256 of
 * pool[i]'s DER), answered from a second memo keyed by the store's
 * generation, max_chain, signer and every id in pool order (the chain
 * built depends on all of the pool and its order), for the same time
 * window as the chain cache.  end_dn gets the issuer DN of the chain's
 * last certificate (smime_trust_chain_end) for SMIME_CHAIN_UNTRUSTED_ROOT
 * and SMIME_CHAIN_UNKNOWN_ISSUER, else "".  For verify.c, whose pool
 * certificates come from the store's certificate cache (certcache.h). */
enum smime_chain_status smime_trust_verify_pool(const smime_trust_t *t,
        size_t signer, const gnutls_x509_crt_t *pool,
        const unsigned char (*ids)[32], size_t npool, unsigned max_chain,
        int *sha1, char *end_dn, size_t dnlen);
/* Its memo's lookups answered and not (tests, stats). */
void smime_trust_pool_stats(const smime_trust_t *t, unsigned long *hits,
                            unsigned long *misses);

/* The clock of chain verification: installs fn with
 * gnutls_global_set_time_function() and makes the chain cache use it
 * too (NULL: back to time()).  For tests; call it while no thread
 * verifies.  A clock set with gnutls_global_set_time_function() alone is
 * not seen by the cache. */
void smime_trust_set_time_function(time_t (*fn)(time_t *));

/* Chain-cache lookups answered from the cache and not (tests, stats). */
void smime_trust_cache_stats(const smime_trust_t *t, unsigned long *hits,
                             unsigned long *misses);

#endif
