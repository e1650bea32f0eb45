/*
 * certcache.c - the table of parsed message certificates (certcache.h),
 * a stripecache.c one: 16 stripes of size / 16 ways.  Keys are SHA-256
 * values, so their first bytes are already an even hash.
 *
 * An entry is filled completely on a miss, before stripecache_put()
 * shares it: after that nothing writes to it (GnuTLS certificates and
 * public keys are only read by verification, as the recipient cache's
 * are), so readers need no lock.  Two threads missing the same
 * certificate at once both parse it and the later put replaces the
 * earlier entry; each keeps the one it built until it lets go.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "cert.h"
#include "certcache.h"
#include "stripecache.h"

#define STRIPES 16

struct certcache {
    stripecache_t *t;
};

static void entry_ref(void *p)
{
    atomic_fetch_add(&((struct cc_cert *)p)->refs, 1);
}

static void entry_unref(void *p)
{
    cc_cert_unref(p);
}

static const struct stripecache_ops entry_ops = { entry_ref, entry_unref };

void cc_cert_unref(struct cc_cert *e)
{
    if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    if (e->pub != NULL)
        gnutls_pubkey_deinit(e->pub);
    if (e->crt != NULL)
        gnutls_x509_crt_deinit(e->crt);
    gnutls_free(e->issuer_raw);
    if (e->addrs != NULL) {
        smime_cert_addresses_free(e->addrs, e->naddrs);
        free(e->addrs);
    }
    free(e);
}

certcache_t *certcache_new(unsigned size)
{
    certcache_t *c = malloc(sizeof(*c));
    unsigned ways = size / STRIPES ? size / STRIPES : 1;

    if (c == NULL)
        return NULL;
    c->t = stripecache_new(STRIPES, ways, &entry_ops);
    if (c->t == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void certcache_free(certcache_t *c)
{
    if (c == NULL)
        return;
    stripecache_free(c->t);
    free(c);
}

static uint32_t hash_of(const unsigned char *id)
{
    return (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 |
           (uint32_t)id[2] << 8 | id[3];
}

/* Everything an entry holds, read from its certificate: 0, or -1 on
 * ENOMEM.  A field GnuTLS cannot read is left as the uncached code
 * would have seen it (empty, absent, a BAD verdict). */
static int entry_fill(struct cc_cert *e)
{
    gnutls_datum_t dn = { NULL, 0 };
    size_t sz;

    sz = sizeof(e->serial);
    if (gnutls_x509_crt_get_serial(e->crt, e->serial, &sz) >= 0) {
        e->has_serial = 1;
        e->serial_len = sz;
    }
    if (gnutls_x509_crt_get_raw_issuer_dn(e->crt, &dn) >= 0) {
        e->issuer_raw = dn.data;
        e->issuer_raw_len = dn.size;
    }
    sz = sizeof(e->ski);
    if (gnutls_x509_crt_get_subject_key_id(e->crt, e->ski, &sz, NULL) >= 0) {
        e->has_ski = 1;
        e->ski_len = sz;
    }
    smime_cert_serial_hex(e->crt, e->serial_hex, sizeof(e->serial_hex));
    smime_cert_issuer_dn(e->crt, e->issuer, sizeof(e->issuer));
    if ((e->addrs = calloc(CERTCACHE_ADDRS, sizeof(*e->addrs))) == NULL)
        return -1;
    e->naddrs = smime_cert_addresses(e->crt, e->addrs, CERTCACHE_ADDRS);
    e->usage = smime_cert_check_usage(e->crt);
    e->enc_usage = smime_cert_check_encrypt_usage(e->crt);
    e->key_alg = gnutls_x509_crt_get_pk_algorithm(e->crt, &e->key_bits);
    if (gnutls_pubkey_init(&e->pub) < 0) {
        e->pub = NULL;
        return -1;
    }
    if (gnutls_pubkey_import_x509(e->pub, e->crt, 0) < 0) {
        gnutls_pubkey_deinit(e->pub);
        e->pub = NULL;
    } else {
        e->pk = gnutls_pubkey_get_pk_algorithm(e->pub, NULL);
    }
    return 0;
}

/* A new entry for der, or NULL with *r 0 (unreadable) or -1 (ENOMEM). */
static struct cc_cert *entry_new(const unsigned char *der, size_t len,
                                 const unsigned char *id, int *r)
{
    struct cc_cert *e = calloc(1, sizeof(*e));
    gnutls_datum_t d = { (void *)der, (unsigned)len };

    *r = -1;
    if (e == NULL)
        return NULL;
    atomic_init(&e->refs, 1);
    memcpy(e->id, id, CERTCACHE_IDLEN);
    if (gnutls_x509_crt_init(&e->crt) < 0) {
        e->crt = NULL;
        goto fail;
    }
    if (gnutls_x509_crt_import(e->crt, &d, GNUTLS_X509_FMT_DER) < 0) {
        *r = 0;
        goto fail;
    }
    if (entry_fill(e) < 0)
        goto fail;
    return e;
fail:
    cc_cert_unref(e);
    return NULL;
}

int certcache_get(certcache_t *c, const unsigned char *der, size_t len,
                  struct cc_cert **out)
{
    unsigned char id[CERTCACHE_IDLEN];
    int r;

    *out = NULL;
    if (len > 0xffffffffu ||
        gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, id) < 0)
        return -1;
    if ((*out = stripecache_get(c->t, id, sizeof(id), hash_of(id))) != NULL) {
        stripecache_count(c->t, 1);
        return 1;
    }
    stripecache_count(c->t, 0);
    if ((*out = entry_new(der, len, id, &r)) == NULL)
        return r;
    stripecache_put(c->t, (*out)->id, CERTCACHE_IDLEN, hash_of(id), *out);
    return 1;
}

int cc_cert_check_key(const struct cc_cert *e, unsigned min_rsa_bits)
{
    return smime_cert_key_status(e->key_alg, e->key_bits, min_rsa_bits);
}

int cc_cert_has_address(const struct cc_cert *e, const char *addr)
{
    for (size_t i = 0; i < e->naddrs; i++)
        if (strcasecmp(e->addrs[i], addr) == 0)
            return 1;
    /* the list may have been cut: ask the certificate itself */
    return e->naddrs == CERTCACHE_ADDRS && smime_cert_has_address(e->crt, addr);
}

void certcache_stats(const certcache_t *c, unsigned long *hits,
                     unsigned long *misses, size_t *entries)
{
    stripecache_stats(c->t, hits, misses, entries);
}
