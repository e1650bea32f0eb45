/*
 * trust.c - trust anchors, CRLs and certificate-chain verification.
 *
 * Anchors live in a GnuTLS trust list.  CRLs are kept beside it rather
 * than in it: gnutls_x509_trust_list_add_crls() with GNUTLS_TL_VERIFY_CRL
 * drops every CRL not issued by an anchor, and CRLs usually come from
 * intermediates, which are not anchors but arrive with each message.  So
 * after the chain verifies, each certificate is looked up in the CRLs of
 * its issuer, and a CRL counts only when its signature verifies with that
 * (already verified) issuer.  A stale CRL (nextUpdate passed) still
 * revokes: revocations do not expire.
 *
 * The store is built once and then only read: GnuTLS trust lists and
 * parsed CRLs are safe to read from many threads.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "trust.h"

#define CHAIN_LIMIT 16

struct smime_trust {
    gnutls_x509_trust_list_t tl;
    gnutls_x509_crl_t *crls;
    size_t ncrls;
    int degraded;
};

smime_trust_t *smime_trust_new(void)
{
    smime_trust_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    if (gnutls_x509_trust_list_init(&t->tl, 0) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

void smime_trust_free(smime_trust_t *t)
{
    if (t == NULL)
        return;
    gnutls_x509_trust_list_deinit(t->tl, 1);
    for (size_t i = 0; i < t->ncrls; i++)
        gnutls_x509_crl_deinit(t->crls[i]);
    free(t->crls);
    free(t);
}

int smime_trust_degraded(const smime_trust_t *t)
{
    return t->degraded;
}

/* The whole file, for the error message that names the errno. */
static int file_read(const char *path, gnutls_datum_t *d, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (n == cap) {
            unsigned char *nb = cap > 64u << 20 ? NULL :
                                realloc(buf, cap = cap ? 2 * cap : 65536);
            if (nb == NULL) {
                snprintf(err, errlen, "%s: file too large", path);
                goto fail;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    d->data = buf;
    d->size = (unsigned)n;
    return 0;
fail:
    fclose(f);
    free(buf);
    return -1;
}

int smime_trust_add_anchors(smime_trust_t *t, const char *pemfile,
                            char *err, size_t errlen)
{
    gnutls_datum_t d;
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int r;

    if (file_read(pemfile, &d, err, errlen) < 0)
        return -1;
    r = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    free(d.data);
    if (r < 0 || n == 0) {
        snprintf(err, errlen, "%s: no PEM certificate found%s%s", pemfile,
                 r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
        return -1;
    }
    /* The list takes the certificates (and frees duplicates itself). */
    r = gnutls_x509_trust_list_add_cas(t->tl, list, n, GNUTLS_TL_NO_DUPLICATES);
    gnutls_free(list);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", pemfile, gnutls_strerror(r));
        return -1;
    }
    return (int)n;
}

int smime_trust_add_system(smime_trust_t *t, char *err, size_t errlen)
{
    int r = gnutls_x509_trust_list_add_system_trust(t->tl, 0, 0);

    if (r <= 0) {
        snprintf(err, errlen, "system trust store: %s",
                 r < 0 ? gnutls_strerror(r) : "no certificate found");
        return -1;
    }
    return r;
}

static int crl_append(smime_trust_t *t, gnutls_x509_crl_t *list, unsigned n)
{
    gnutls_x509_crl_t *nl = realloc(t->crls, (t->ncrls + n) * sizeof(*nl));

    if (nl == NULL)
        return -1;
    t->crls = nl;
    memcpy(t->crls + t->ncrls, list, n * sizeof(*list));
    t->ncrls += n;
    return 0;
}

int smime_trust_add_crl(smime_trust_t *t, const char *file,
                        char *err, size_t errlen)
{
    gnutls_datum_t d;
    gnutls_x509_crl_t *list = NULL, one = NULL;
    unsigned n = 0;
    int r;

    if (file_read(file, &d, err, errlen) < 0) {
        t->degraded = 1;
        return -1;
    }
    if (memmem(d.data, d.size, "-----BEGIN", 10) != NULL) {
        r = gnutls_x509_crl_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    } else if ((r = gnutls_x509_crl_init(&one)) >= 0) {
        r = gnutls_x509_crl_import(one, &d, GNUTLS_X509_FMT_DER);
        list = &one;
        n = 1;
    }
    free(d.data);
    if (r >= 0 && n > 0 && crl_append(t, list, n) == 0) {
        if (list != &one)
            gnutls_free(list);
        return (int)n;
    }
    for (unsigned i = 0; r >= 0 && i < n; i++)
        gnutls_x509_crl_deinit(list[i]);
    if (list != &one)
        gnutls_free(list);
    else if (r < 0)
        gnutls_x509_crl_deinit(one);
    snprintf(err, errlen, "%s: no CRL found%s%s", file, r < 0 ? ": " : "",
             r < 0 ? gnutls_strerror(r) : "");
    t->degraded = 1;
    return -1;
}

const char *smime_chain_status_string(enum smime_chain_status s)
{
    switch (s) {
    case SMIME_CHAIN_OK:                   return "certificate trusted";
    case SMIME_CHAIN_UNTRUSTED:            return "untrusted certificate";
    case SMIME_CHAIN_MISSING_INTERMEDIATE: return "missing intermediate";
    case SMIME_CHAIN_EXPIRED:              return "expired certificate";
    case SMIME_CHAIN_NOT_YET_VALID:        return "certificate not yet valid";
    case SMIME_CHAIN_REVOKED:              return "revoked certificate";
    case SMIME_CHAIN_TOO_LONG:             return "certificate chain too long";
    case SMIME_CHAIN_ERROR:                break;
    }
    return "internal error";
}

static int self_signed(gnutls_x509_crt_t c)
{
    return gnutls_x509_crt_check_issuer(c, c) == 1;
}

/* Fills chain[] from signer upwards; returns its length.  *cut is set
 * when max stopped it while an issuer was still at hand. */
static size_t chain_build(gnutls_x509_crt_t signer,
                          const gnutls_x509_crt_t *pool, size_t npool,
                          gnutls_x509_crt_t *chain, size_t max, int *cut)
{
    size_t n = 1;

    chain[0] = signer;
    *cut = 0;
    while (!self_signed(chain[n - 1])) {
        size_t j;
        for (j = 0; j < npool; j++) {
            int used = 0;
            for (size_t k = 0; k < n && !used; k++)
                used = gnutls_x509_crt_equals(chain[k], pool[j]);
            if (!used && gnutls_x509_crt_check_issuer(chain[n - 1], pool[j]) == 1)
                break;
        }
        if (j == npool)
            break;
        if (n == max) {
            *cut = 1;
            break;
        }
        chain[n++] = pool[j];
    }
    return n;
}

static enum smime_chain_status status_map(const smime_trust_t *t,
        unsigned st, gnutls_x509_crt_t last)
{
    const unsigned time_bits = GNUTLS_CERT_INVALID | GNUTLS_CERT_EXPIRED |
                               GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_REVOKED;
    gnutls_x509_crt_t iss;

    if (st & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        if (self_signed(last) ||
            gnutls_x509_trust_list_get_issuer(t->tl, last, &iss, 0) == 0)
            return SMIME_CHAIN_UNTRUSTED;
        return SMIME_CHAIN_MISSING_INTERMEDIATE;
    }
    if (st & ~time_bits)
        return SMIME_CHAIN_UNTRUSTED;
    if (st & GNUTLS_CERT_REVOKED)
        return SMIME_CHAIN_REVOKED;
    if (st & GNUTLS_CERT_EXPIRED)
        return SMIME_CHAIN_EXPIRED;
    if (st & GNUTLS_CERT_NOT_ACTIVATED)
        return SMIME_CHAIN_NOT_YET_VALID;
    return SMIME_CHAIN_UNTRUSTED;
}

/* 1 if a CRL signed by issuer lists cert. */
static int crl_revoked(const smime_trust_t *t, gnutls_x509_crt_t cert,
                       gnutls_x509_crt_t issuer)
{
    const unsigned stale = GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
                           GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;

    for (size_t i = 0; i < t->ncrls; i++) {
        gnutls_x509_crl_t crl = t->crls[i];
        unsigned vst = 0;
        if (!gnutls_x509_crl_check_issuer(crl, issuer) ||
            gnutls_x509_crl_verify(crl, &issuer, 1, 0, &vst) < 0 ||
            (vst & ~stale) != 0)
            continue;
        if (gnutls_x509_crt_check_revocation(cert, &crl, 1) == 1)
            return 1;
    }
    return 0;
}

/* Each certificate below the anchor against its issuer's CRLs. */
static enum smime_chain_status chain_crls(const smime_trust_t *t,
        gnutls_x509_crt_t *chain, size_t n)
{
    for (size_t i = 0; i < n && t->ncrls > 0; i++) {
        gnutls_x509_crt_t iss = NULL;
        int r;
        if (self_signed(chain[i]))
            break;
        if (i + 1 < n) {
            r = crl_revoked(t, chain[i], chain[i + 1]);
        } else if (gnutls_x509_trust_list_get_issuer(t->tl, chain[i], &iss,
                                                     GNUTLS_TL_GET_COPY) == 0) {
            r = crl_revoked(t, chain[i], iss);
            gnutls_x509_crt_deinit(iss);
        } else {
            break;
        }
        if (r)
            return SMIME_CHAIN_REVOKED;
    }
    return SMIME_CHAIN_OK;
}

enum smime_chain_status smime_trust_verify_chain(const smime_trust_t *t,
        gnutls_x509_crt_t signer, const gnutls_x509_crt_t *pool,
        size_t npool, unsigned max_chain, int *sha1)
{
    gnutls_x509_crt_t chain[CHAIN_LIMIT];
    size_t max = max_chain == 0 || max_chain > CHAIN_LIMIT ? CHAIN_LIMIT
                                                           : max_chain;
    unsigned st = 0;
    int cut, r;
    size_t n = chain_build(signer, pool, npool, chain, max, &cut);

    *sha1 = 0;
    r = gnutls_x509_trust_list_verify_crt2(t->tl, chain, (unsigned)n, NULL, 0,
            GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1, &st, NULL);
    if (r < 0)
        return SMIME_CHAIN_ERROR;
    if (st != 0)
        return cut ? SMIME_CHAIN_TOO_LONG : status_map(t, st, chain[n - 1]);
    for (size_t i = 0; i < n && !self_signed(chain[i]); i++) {
        int alg = gnutls_x509_crt_get_signature_algorithm(chain[i]);
        if (alg > 0 && gnutls_sign_get_hash_algorithm(alg) == GNUTLS_DIG_SHA1)
            *sha1 = 1;
    }
    return chain_crls(t, chain, n);
}
