/*
 * certcache.h - parsed message certificates, shared between messages
 * (crypto/ internal; verify.c uses it, each trust store owns one).
 *
 * The same senders' certificates arrive again and again, and parsing
 * one with GnuTLS and reading its fields costs more than the rest of a
 * verification.  An entry is everything verification reads from one
 * certificate that depends on nothing else: not on the message (the
 * signature, the From match, the content digest are judged per
 * message), not on the trust store, not on the time.  Entries are keyed
 * by the SHA-256 of the certificate's DER, built complete before they
 * are shared and never written after (so any number of threads read
 * them without a lock), and reference counted: a verification holds its
 * entries while a newer one may replace them in the table.  At most
 * CERTCACHE_SIZE entries; the least recently used of a stripe goes.
 * A certificate GnuTLS cannot read never enters.
 */
#ifndef SMIME_CERTCACHE_H
#define SMIME_CERTCACHE_H

#include <stdatomic.h>
#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "trust.h"

#define CERTCACHE_SIZE 512
#define CERTCACHE_IDLEN 32                 /* SHA-256 of the DER */
#define CERTCACHE_ADDRS 32                 /* addresses kept per cert */

typedef struct certcache certcache_t;

struct cc_cert {
    atomic_uint refs;
    unsigned char id[CERTCACHE_IDLEN];
    gnutls_x509_crt_t crt;                 /* read only */
    gnutls_pubkey_t pub;                   /* its key; NULL: unreadable */
    int pk;                                /* pub's algorithm */
    /* signer identification (SignerIdentifier, keyEncryptionKeyPref) */
    /* (the buffers are those cert.c reads them into) */
    int has_serial, has_ski;               /* 0: unreadable or none */
    unsigned char serial[128];             /* INTEGER contents */
    size_t serial_len;
    unsigned char *issuer_raw;             /* DER Name; NULL: unreadable */
    size_t issuer_raw_len;
    unsigned char ski[128];                /* subjectKeyIdentifier */
    size_t ski_len;
    /* what results show */
    char serial_hex[130];
    char issuer[512];
    char **addrs;                          /* smime_cert_addresses() */
    size_t naddrs;
    /* verdicts (enum smime_cert_status) */
    int usage;                             /* smime_cert_check_usage() */
    int enc_usage;                         /* ..._check_encrypt_usage() */
    int key_alg;                           /* for smime_cert_check_key() */
    unsigned key_bits;
};

certcache_t *certcache_new(unsigned size);  /* NULL on ENOMEM */
void certcache_free(certcache_t *c);       /* accepts NULL */

/* The entry of the certificate der (from the cache, or parsed and
 * cached), with a reference for the caller: 1 and *out; 0 when GnuTLS
 * cannot read it (nothing cached); -1 on ENOMEM. */
int certcache_get(certcache_t *c, const unsigned char *der, size_t len,
                  struct cc_cert **out);
void cc_cert_unref(struct cc_cert *e);     /* accepts NULL */

/* smime_cert_check_key() of the entry's certificate. */
int cc_cert_check_key(const struct cc_cert *e, unsigned min_rsa_bits);
/* 1 if addr (case-insensitive) is one of the entry's addresses. */
int cc_cert_has_address(const struct cc_cert *e, const char *addr);

/* Lookups answered from the table and parsed anew; entries now. */
void certcache_stats(const certcache_t *c, unsigned long *hits,
                     unsigned long *misses, size_t *entries);

/* The table of trust store t (trust.c). */
certcache_t *smime_trust_certcache(const smime_trust_t *t);

#endif
