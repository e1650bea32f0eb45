/*
 * trust_crl.c - the CRLs of a trust store (trust.c): loading them, and
 * checking a verified chain against them.
 *
 * CRLs are kept beside the GnuTLS trust list rather than in it:
 * gnutls_x509_trust_list_add_crls() with GNUTLS_TL_VERIFY_CRL drops every
 * CRL not issued by an anchor, and CRLs usually come from intermediates,
 * which are not anchors but arrive with each message.  So after the chain
 * verifies, each certificate is looked up in the CRLs of its issuer, and
 * a CRL counts only when its signature verifies with that (already
 * verified) issuer.  A stale CRL (nextUpdate passed) still revokes:
 * revocations do not expire.
 *
 * Two memos, safe because a store's CRLs never change: per CRL, its
 * revoked serial numbers sorted for a binary search (made on loading),
 * and the issuers (SHA-256 of their DER) its signature verified with.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "trust_priv.h"
#include "trust_dn.h"

#define SERIAL_MAX 128              /* GnuTLS's own limit in CRL checks */

/* ---- CRLs ---- */

static int serial_cmp(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;

    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return memcmp(x + 1, y + 1, x[0]);
}

/* The serials the CRL lists, sorted.  Like gnutls_x509_crt_check_revocation()
 * it stops at an entry it cannot read: the ones before it still count. */
static int crl_index(struct crl_info *ci)
{
    gnutls_x509_crl_iter_t it = NULL;
    unsigned char buf[SERIAL_MAX];
    size_t len = 0, cap = 0, n = 0;

    for (;;) {
        size_t sz = sizeof(buf);
        if (gnutls_x509_crl_iter_crt_serial(ci->crl, &it, buf, &sz, NULL) < 0)
            break;
        if (len + 1 + sz > cap) {
            unsigned char *nb = realloc(ci->serials, cap = 2 * cap + 1024);
            if (nb == NULL)
                goto fail;
            ci->serials = nb;
        }
        ci->serials[len] = (unsigned char)sz;
        memcpy(ci->serials + len + 1, buf, sz);
        len += 1 + sz;
        n++;
    }
    gnutls_x509_crl_iter_deinit(it);
    it = NULL;
    if (n > 0 && (ci->sorted = malloc(n * sizeof(*ci->sorted))) == NULL)
        goto fail;
    for (size_t i = 0, off = 0; i < n; i++, off += 1 + ci->serials[off])
        ci->sorted[i] = ci->serials + off;
    if (n > 0)
        qsort(ci->sorted, n, sizeof(*ci->sorted), serial_cmp);
    ci->nserials = n;
    ci->indexed = 1;
    return 0;
fail:
    gnutls_x509_crl_iter_deinit(it);
    return -1;
}

static int crl_info_init(struct crl_info *ci, gnutls_x509_crl_t crl)
{
    memset(ci, 0, sizeof(*ci));
    ci->crl = crl;
    ci->this_update = gnutls_x509_crl_get_this_update(crl);
    ci->next_update = gnutls_x509_crl_get_next_update(crl);
    if (gnutls_x509_crl_get_raw_issuer_dn(crl, &ci->idn) < 0)
        ci->idn.size = 0;
    else if (crl_index(ci) < 0)
        return -1;
    return 0;
}

void trust_crl_info_free(struct crl_info *ci)
{
    if (ci->crl != NULL)
        gnutls_x509_crl_deinit(ci->crl);
    gnutls_free(ci->idn.data);
    free(ci->serials);
    free(ci->sorted);
}

static int crl_append(smime_trust_t *t, gnutls_x509_crl_t *list, unsigned n)
{
    struct crl_info *nl = realloc(t->crls, (t->ncrls + n) * sizeof(*nl));

    if (nl == NULL)
        return -1;
    t->crls = nl;
    nl += t->ncrls;
    for (unsigned i = 0; i < n; i++) {
        if (crl_info_init(&nl[i], list[i]) == 0)
            continue;
        for (unsigned j = 0; j <= i; j++) {     /* the caller keeps the CRLs */
            nl[j].crl = NULL;
            trust_crl_info_free(&nl[j]);
        }
        return -1;
    }
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

    t->gen++;                   /* memoized chain results no longer hold */
    if (trust_file_read(file, &d, err, errlen) < 0) {
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

/* ---- CRLs against a chain ---- */

/* The CRL's issuer name is issuer's name (gnutls_x509_crl_check_issuer). */
static int crl_issued_by(const struct crl_info *ci, struct cinfo *issuer)
{
    if (ci->idn.size > 0 && trust_ci_names(issuer)) {
        if (trust_datum_eq(&ci->idn, &issuer->dn))
            return 1;
        if (trust_dn_differ(&ci->idn, &issuer->dn))
            return 0;
    }
    return gnutls_x509_crl_check_issuer(ci->crl, issuer->crt) == 1;
}

/* 1 if the CRL lists cert (gnutls_x509_crt_check_revocation() for one
 * CRL, by a binary search of its serials). */
static int crl_lists(struct crl_info *ci, struct cinfo *cert)
{
    unsigned char key[1 + SERIAL_MAX];
    const unsigned char *k = key;
    size_t sz = SERIAL_MAX;

    if (!ci->indexed || !trust_ci_names(cert) ||
        !trust_datum_eq(&ci->idn, &cert->idn)) {
        if (ci->indexed && cert->names > 0 && trust_dn_differ(&ci->idn, &cert->idn))
            return 0;
        return gnutls_x509_crt_check_revocation(cert->crt, &ci->crl, 1) == 1;
    }
    if (ci->nserials == 0 ||
        gnutls_x509_crt_get_serial(cert->crt, key + 1, &sz) < 0)
        return 0;
    key[0] = (unsigned char)sz;
    return bsearch(&k, ci->sorted, ci->nserials, sizeof(*ci->sorted),
                   serial_cmp) != NULL;
}

/* Does the CRL's signature verify with issuer?  Remembered per CRL for
 * the last CRL_ISSUERS issuers it verified with: the answer does not
 * change (the date bits do not count: a stale CRL still revokes). */
static int crl_signed_by(const smime_trust_t *t, struct crl_info *ci,
                         struct cinfo *issuer)
{
    const unsigned stale = GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
                           GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;
    pthread_mutex_t *lock = (pthread_mutex_t *)&t->crl_lock;   /* memo */
    const gnutls_datum_t *der = trust_ci_der(issuer);
    unsigned char fp[TRUST_CACHE_KEYLEN];
    unsigned vst = 0;
    int known = 0;

    if (der != NULL &&
        gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, fp) < 0)
        der = NULL;
    if (der != NULL) {
        pthread_mutex_lock(lock);
        for (unsigned i = 0; i < ci->ngood && i < CRL_ISSUERS && !known; i++)
            known = memcmp(ci->good[i], fp, sizeof(fp)) == 0;
        pthread_mutex_unlock(lock);
        if (known)
            return 1;
    }
    if (gnutls_x509_crl_verify(ci->crl, &issuer->crt, 1, 0, &vst) < 0)
        return 0;
    /* GnuTLS adds GNUTLS_CERT_INVALID to the date bits. */
    if ((vst & ~(stale | GNUTLS_CERT_INVALID)) != 0 ||
        (vst != 0 && (vst & stale) == 0))
        return 0;
    if (der != NULL) {
        pthread_mutex_lock(lock);
        memcpy(ci->good[ci->ngood++ % CRL_ISSUERS], fp, sizeof(fp));
        pthread_mutex_unlock(lock);
    }
    return 1;
}

/* 1 if a CRL signed by cert's issuer lists cert.  issuer NULL: the
 * anchor that issued cert, fetched only when a CRL lists cert. */
static int crl_revoked(const smime_trust_t *t, struct cinfo *cert,
                       struct cinfo *issuer)
{
    gnutls_x509_crt_t anchor = NULL;
    struct cinfo a;
    int r = 0;

    for (size_t i = 0; i < t->ncrls && !r; i++) {
        struct crl_info *ci = &t->crls[i];
        if (!crl_lists(ci, cert))
            continue;
        if (issuer == NULL) {
            if (gnutls_x509_trust_list_get_issuer(t->tl, cert->crt, &anchor,
                                                  GNUTLS_TL_GET_COPY) != 0)
                break;
            trust_ci_init(&a, anchor);
            issuer = &a;
        }
        r = crl_issued_by(ci, issuer) && crl_signed_by(t, ci, issuer);
    }
    if (anchor != NULL) {
        trust_ci_clear(&a);
        gnutls_x509_crt_deinit(anchor);
    }
    return r;
}

/* Each certificate below the anchor against its issuer's CRLs. */
enum smime_chain_status trust_chain_crls(const smime_trust_t *t,
        struct cinfo *ci, const size_t *chain, size_t n)
{
    for (size_t i = 0; i < n && t->ncrls > 0; i++) {
        struct cinfo *c = &ci[chain[i]];
        if (trust_ci_self_signed(c))
            break;
        if (crl_revoked(t, c, i + 1 < n ? &ci[chain[i + 1]] : NULL))
            return SMIME_CHAIN_REVOKED;
    }
    return SMIME_CHAIN_OK;
}
