/*
 * trust_priv.h - private to trust*.c: the insides of a trust store
 * (trust.c) and of its CRLs (trust_crl.c), and the per-call certificate
 * record both read.  Nothing outside crypto/trust*.c includes this.
 */
#ifndef SMIME_TRUST_PRIV_H
#define SMIME_TRUST_PRIV_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "certcache.h"
#include "trust.h"
#include "trust_cache.h"

#define CRL_ISSUERS 4               /* verified issuers remembered per CRL */

/* A loaded CRL and its memos (trust_crl.c). */
struct crl_info {
    gnutls_x509_crl_t crl;
    gnutls_datum_t idn;             /* raw issuer DN; size 0: not known */
    time_t this_update, next_update;
    unsigned char *serials;         /* records: length byte, the bytes */
    const unsigned char **sorted;   /* into serials, by length and bytes */
    size_t nserials;
    int indexed;                    /* else gnutls_x509_crt_check_revocation */
    unsigned char good[CRL_ISSUERS][TRUST_CACHE_KEYLEN];  /* crl_lock */
    unsigned ngood;                 /* crl_lock */
};

struct smime_trust {
    gnutls_x509_trust_list_t tl;
    struct crl_info *crls;
    size_t ncrls;
    int degraded;
    time_t *anchor_times;           /* notBefore, notAfter of each anchor */
    size_t nanchor_times;
    int no_cache;                   /* the anchors could not be listed */
    trust_cache_t *cache;
    trust_cache_t *pool_cache;      /* smime_trust_verify_pool() */
    certcache_t *certs;             /* parsed message certificates */
    unsigned gen;                   /* bumped by every smime_trust_add_* */
    pthread_mutex_t crl_lock;       /* the CRLs' good[] (trust_crl.c) */
};

/* A certificate of one verification and what was read from it (on first
 * use).  trust_ci_init() borrows crt; trust_ci_clear() frees the rest. */
struct cinfo {
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn, idn;         /* raw subject and issuer DN */
    gnutls_datum_t str[2];          /* their strings (dn, idn) */
    gnutls_datum_t der;
    signed char names, has_der, has_str[2];   /* 0 not yet, 1 ok, -1 failed */
    signed char self;               /* self-issued; -1 not known yet */
};

/* trust.c */
int trust_file_read(const char *path, gnutls_datum_t *d, char *err,
                    size_t errlen);
int trust_datum_eq(const gnutls_datum_t *a, const gnutls_datum_t *b);
void trust_ci_init(struct cinfo *c, gnutls_x509_crt_t crt);
void trust_ci_clear(struct cinfo *c);
int trust_ci_names(struct cinfo *c);                /* 1: dn, idn read */
const gnutls_datum_t *trust_ci_der(struct cinfo *c);    /* NULL: failed */
int trust_ci_self_signed(struct cinfo *c);

/* trust_crl.c */
void trust_crl_info_free(struct crl_info *ci);
/* SMIME_CHAIN_REVOKED when a CRL signed by its issuer lists a certificate
 * of chain (indexes into ci, n long, the signer first), else OK. */
enum smime_chain_status trust_chain_crls(const smime_trust_t *t,
        struct cinfo *ci, const size_t *chain, size_t n);

#endif
