/*
 * signer.c - S/MIME signing credentials: parse a private key and its
 * certificates (PEM, PKCS#12, or the keystore's DER form) into an
 * smime_signer_t, find the certificate that belongs to the key, put the
 * intermediates in chain order, and choose the signature algorithm that
 * fits the key (see sign.h).
 *
 * Private key bytes handled here are wiped (gnutls_memset) before they
 * are freed.  GnuTLS's own key objects wipe themselves on deinit.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs12.h>

#include "errbuf.h"
#include "signer_priv.h"
#include "token.h"


smime_signer_t *
smime_signer_ref(smime_signer_t *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void
smime_signer_free(smime_signer_t *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->key)
        gnutls_privkey_deinit(s->key);
    for (size_t i = 0; i < s->ncrts; i++)
        gnutls_x509_crt_deinit(s->crts[i]);
    free(s->crts);
    free(s->digest_alg);
    free(s->sig_alg);
    free(s->sid);
    free(s->certset);
    free(s->attr_caps);
    free(s->attr_scv2);
    free(s);
}

size_t
smime_signer_ncerts(const smime_signer_t *s)
{
    return s->ncrts;
}

gnutls_x509_crt_t
smime_signer_cert(const smime_signer_t *s, size_t i)
{
    return i < s->ncrts ? s->crts[i] : NULL;
}

gnutls_privkey_t
smime_signer_privkey(const smime_signer_t *s)
{
    return s->key;
}

/* The public numbers of a key: (n, e) for RSA, (x, y) for EC, x for
 * EdDSA.  Family: 1 RSA (either padding), 2 ECDSA, 3 EdDSA. */
static int
pubkey_numbers(gnutls_pubkey_t p, int *family, gnutls_datum_t *a,
               gnutls_datum_t *b)
{
    gnutls_ecc_curve_t curve;
    int alg = gnutls_pubkey_get_pk_algorithm(p, NULL);

    a->data = b->data = NULL;
    a->size = b->size = 0;
    switch (alg) {
    case GNUTLS_PK_RSA:
    case GNUTLS_PK_RSA_PSS:
        *family = 1;
        return gnutls_pubkey_export_rsa_raw2(p, a, b, GNUTLS_EXPORT_FLAG_NO_LZ);
    case GNUTLS_PK_ECDSA:
    case GNUTLS_PK_EDDSA_ED25519:
        *family = alg == GNUTLS_PK_ECDSA ? 2 : 3;
        return gnutls_pubkey_export_ecc_raw2(p, &curve, a,
                                             alg == GNUTLS_PK_ECDSA ? b : NULL,
                                             GNUTLS_EXPORT_FLAG_NO_LZ);
    default:
        return GNUTLS_E_UNKNOWN_PK_ALGORITHM;
    }
}

/* 1 if the certificate holds the public half of key. */
static int
key_matches(gnutls_pubkey_t kpub, gnutls_x509_crt_t crt)
{
    gnutls_pubkey_t cpub = NULL;
    gnutls_datum_t ka, kb, ca, cb;
    int kf = 0, cf = -1, match = 0;

    if (gnutls_pubkey_init(&cpub) < 0)
        return 0;
    if (gnutls_pubkey_import_x509(cpub, crt, 0) < 0) {
        gnutls_pubkey_deinit(cpub);
        return 0;
    }
    if (pubkey_numbers(kpub, &kf, &ka, &kb) == 0 &&
        pubkey_numbers(cpub, &cf, &ca, &cb) == 0) {
        match = kf == cf && ka.size == ca.size && kb.size == cb.size &&
                memcmp(ka.data, ca.data, ka.size) == 0 &&
                (kb.size == 0 || memcmp(kb.data, cb.data, kb.size) == 0);
        gnutls_free(ca.data);
        gnutls_free(cb.data);
    }
    gnutls_free(ka.data);
    gnutls_free(kb.data);
    gnutls_pubkey_deinit(cpub);
    return match;
}

static int
is_self_signed(gnutls_x509_crt_t c)
{
    return gnutls_x509_crt_check_issuer(c, c) == 1;
}

/*
 * Pick the signer (the certificate matching the key) and order the rest
 * as its chain: each next certificate is the issuer of the previous one.
 * Certificates that are not on the chain, and self-signed roots, are
 * dropped (deinit).  Takes ownership of in[0..n).
 */
static int
order_chain(gnutls_pubkey_t kpub, gnutls_x509_crt_t *in, size_t n,
            gnutls_x509_crt_t **out, size_t *nout, char *err, size_t errlen)
{
    gnutls_x509_crt_t *chain = calloc(n ? n : 1, sizeof(*chain));
    size_t k = 0;

    if (chain == NULL) {
        smime_seterr(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if (in[i] && key_matches(kpub, in[i])) {
            chain[k++] = in[i];
            in[i] = NULL;
            break;
        }
    if (k == 0) {
        smime_seterr(err, errlen, n ? "private key does not match the certificate"
                              : "no certificate found");
        goto fail;
    }
    for (;;) {
        gnutls_x509_crt_t cur = chain[k - 1], next = NULL;
        size_t j;
        if (is_self_signed(cur))
            break;
        for (j = 0; j < n; j++)
            if (in[j] && gnutls_x509_crt_check_issuer(cur, in[j]) == 1) {
                next = in[j];
                break;
            }
        if (next == NULL || is_self_signed(next))
            break;
        chain[k++] = next;
        in[j] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (in[i])
            gnutls_x509_crt_deinit(in[i]);
    *out = chain;
    *nout = k;
    return 0;
fail:
    for (size_t i = 0; i < k; i++)
        gnutls_x509_crt_deinit(chain[i]);
    for (size_t i = 0; i < n; i++)
        if (in[i])
            gnutls_x509_crt_deinit(in[i]);
    free(chain);
    return -1;
}

/* Signature and digest algorithms from the signer certificate's key. */
static int
choose_algorithms(smime_signer_t *s, char *err, size_t errlen)
{
    gnutls_x509_crt_t crt = s->crts[0];
    int pk = gnutls_x509_crt_get_pk_algorithm(crt, NULL);
    int keypk = gnutls_privkey_get_pk_algorithm(s->key, NULL);
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };

    switch (pk) {
    case GNUTLS_PK_RSA:
        s->kind = CMS_SIG_RSA;
        s->dig = GNUTLS_DIG_SHA256;
        s->sign = GNUTLS_SIGN_RSA_SHA256;
        return 0;
    case GNUTLS_PK_RSA_PSS: {
        gnutls_x509_spki_t spki;
        gnutls_digest_algorithm_t d = GNUTLS_DIG_SHA256;
        unsigned salt = 0;
        if (gnutls_x509_spki_init(&spki) == 0) {
            if (gnutls_x509_crt_get_spki(crt, spki, 0) == 0)
                gnutls_x509_spki_get_rsa_pss_params(spki, &d, &salt);
            gnutls_x509_spki_deinit(spki);
        }
        if (d != GNUTLS_DIG_SHA256 && d != GNUTLS_DIG_SHA384 &&
            d != GNUTLS_DIG_SHA512) {
            smime_seterr(err, errlen, "RSA-PSS key restricted to an unsupported hash");
            return -1;
        }
        s->kind = CMS_SIG_RSA_PSS;
        s->dig = d;
        /* GnuTLS signs with max(salt from the key's parameters, hash
         * length); write exactly that in the parameters. */
        unsigned hlen = gnutls_hash_get_len(d);
        s->salt = salt > hlen ? salt : hlen;
        if (keypk == GNUTLS_PK_RSA)
            s->sign = d == GNUTLS_DIG_SHA256 ? GNUTLS_SIGN_RSA_PSS_RSAE_SHA256
                    : d == GNUTLS_DIG_SHA384 ? GNUTLS_SIGN_RSA_PSS_RSAE_SHA384
                    : GNUTLS_SIGN_RSA_PSS_RSAE_SHA512;
        else
            s->sign = gnutls_pk_to_sign(GNUTLS_PK_RSA_PSS, d);
        return 0;
    }
    case GNUTLS_PK_ECDSA:
        if (gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y) < 0) {
            smime_seterr(err, errlen, "cannot read the EC public key");
            return -1;
        }
        gnutls_free(x.data);
        gnutls_free(y.data);
        s->kind = CMS_SIG_ECDSA;
        switch (curve) {
        case GNUTLS_ECC_CURVE_SECP256R1: s->dig = GNUTLS_DIG_SHA256; break;
        case GNUTLS_ECC_CURVE_SECP384R1: s->dig = GNUTLS_DIG_SHA384; break;
        case GNUTLS_ECC_CURVE_SECP521R1: s->dig = GNUTLS_DIG_SHA512; break;
        default:
            smime_seterr(err, errlen, "unsupported elliptic curve %s",
                   gnutls_ecc_curve_get_name(curve));
            return -1;
        }
        s->sign = gnutls_pk_to_sign(GNUTLS_PK_ECDSA, s->dig);
        return 0;
    case GNUTLS_PK_EDDSA_ED25519:
        s->kind = CMS_SIG_ED25519;
        s->dig = GNUTLS_DIG_SHA512;            /* RFC 8419 3.1 */
        s->sign = GNUTLS_SIGN_EDDSA_ED25519;
        return 0;
    default:
        smime_seterr(err, errlen, "unsupported key type %s",
               gnutls_pk_get_name((gnutls_pk_algorithm_t)pk));
        return -1;
    }
}

/*
 * The common end of every constructor: s holds its key, kpub is the
 * key's public half.  Takes ownership of s, kpub and crts[0..n) (also on
 * failure).
 */
static smime_signer_t *
signer_finish(smime_signer_t *s, gnutls_pubkey_t kpub, gnutls_x509_crt_t *crts,
              size_t n, char *err, size_t errlen)
{
    int ret = order_chain(kpub, crts, n, &s->crts, &s->ncrts, err, errlen);

    gnutls_pubkey_deinit(kpub);
    if (ret < 0 || choose_algorithms(s, err, errlen) < 0 ||
        smime_signer_precompute(s, err, errlen) < 0) {
        smime_signer_free(s);
        return NULL;
    }
    return s;
}

/*
 * A file key: takes ownership of xkey and of crts[0..n) (also on failure).
 */
static smime_signer_t *
signer_build(gnutls_x509_privkey_t xkey, gnutls_x509_crt_t *crts, size_t n,
             char *err, size_t errlen)
{
    smime_signer_t *s = calloc(1, sizeof(*s));
    gnutls_pubkey_t kpub = NULL;
    int ret;

    if (s != NULL)
        atomic_init(&s->refs, 1);
    if (s == NULL || gnutls_privkey_init(&s->key) < 0) {
        smime_seterr(err, errlen, "out of memory");
        goto fail;
    }
    ret = gnutls_privkey_import_x509(s->key, xkey,
                                     GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
    if (ret < 0) {
        smime_seterr(err, errlen, "cannot use the private key: %s",
               gnutls_strerror(ret));
        goto fail;
    }
    xkey = NULL;
    if (gnutls_pubkey_init(&kpub) < 0 ||
        gnutls_pubkey_import_privkey(kpub, s->key, 0, 0) < 0) {
        smime_seterr(err, errlen, "cannot derive the public key");
        goto fail;
    }
    return signer_finish(s, kpub, crts, n, err, errlen);
fail:
    for (size_t i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    if (kpub)
        gnutls_pubkey_deinit(kpub);
    if (xkey)
        gnutls_x509_privkey_deinit(xkey);
    smime_signer_free(s);
    return NULL;
}

smime_signer_t *
smime_signer_from_pem(const void *data, size_t len, char *err, size_t errlen)
{
    gnutls_datum_t d = { (unsigned char *)data, (unsigned)len };
    gnutls_x509_privkey_t xkey = NULL;
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    int ret;

    if (gnutls_x509_privkey_init(&xkey) < 0) {
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    ret = gnutls_x509_privkey_import2(xkey, &d, GNUTLS_X509_FMT_PEM, NULL,
                                      GNUTLS_PKCS_PLAIN);
    if (ret < 0) {
        gnutls_x509_privkey_deinit(xkey);
        if (ret == GNUTLS_E_DECRYPTION_FAILED)
            smime_seterr(err, errlen, "the private key is encrypted "
                   "(store it unencrypted; protect the keystore file instead)");
        else
            smime_seterr(err, errlen, "no usable private key: %s",
                   gnutls_strerror(ret));
        return NULL;
    }
    ret = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0 && ret != GNUTLS_E_NO_CERTIFICATE_FOUND &&
        ret != GNUTLS_E_BASE64_DECODING_ERROR) {
        gnutls_x509_privkey_deinit(xkey);
        smime_seterr(err, errlen, "bad certificate: %s", gnutls_strerror(ret));
        return NULL;
    }
    if (ret < 0)
        n = 0;
    smime_signer_t *s = signer_build(xkey, crts, n, err, errlen);
    gnutls_free(crts);
    return s;
}

smime_signer_t *
smime_signer_from_p12(const void *data, size_t len, const char *password,
                      char *err, size_t errlen)
{
    gnutls_datum_t d = { (unsigned char *)data, (unsigned)len };
    gnutls_pkcs12_t p12 = NULL;
    gnutls_x509_privkey_t xkey = NULL;
    gnutls_x509_crt_t *chain = NULL, *extra = NULL, *all = NULL;
    unsigned nchain = 0, nextra = 0;
    smime_signer_t *s = NULL;
    int ret;

    if (password == NULL)
        password = "";
    if (gnutls_pkcs12_init(&p12) < 0) {
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (gnutls_pkcs12_import(p12, &d, GNUTLS_X509_FMT_DER, 0) < 0) {
        smime_seterr(err, errlen, "neither PEM nor PKCS#12");
        goto out;
    }
    if (gnutls_pkcs12_verify_mac(p12, password) < 0) {
        smime_seterr(err, errlen, "cannot open the PKCS#12 file: wrong password "
               "(set SMIME_KEYSTORE_PASSWORD)");
        goto out;
    }
    ret = gnutls_pkcs12_simple_parse(p12, password, &xkey, &chain, &nchain,
                                     &extra, &nextra, NULL, 0);
    if (ret < 0) {
        smime_seterr(err, errlen, "cannot read the PKCS#12 file: %s",
               gnutls_strerror(ret));
        goto out;
    }
    all = calloc(nchain + nextra + 1, sizeof(*all));
    if (all == NULL) {
        smime_seterr(err, errlen, "out of memory");
        gnutls_x509_privkey_deinit(xkey);
        for (unsigned i = 0; i < nchain; i++)
            gnutls_x509_crt_deinit(chain[i]);
        for (unsigned i = 0; i < nextra; i++)
            gnutls_x509_crt_deinit(extra[i]);
        goto out;
    }
    memcpy(all, chain, nchain * sizeof(*all));
    if (nextra)
        memcpy(all + nchain, extra, nextra * sizeof(*all));
    s = signer_build(xkey, all, nchain + nextra, err, errlen);
out:
    free(all);
    gnutls_free(chain);
    gnutls_free(extra);
    gnutls_pkcs12_deinit(p12);
    return s;
}

smime_signer_t *
smime_signer_from_blob(const void *data, size_t len, const char *password,
                       char *err, size_t errlen)
{
    if (len > 0 && memmem(data, len, "-----BEGIN", 10) != NULL)
        return smime_signer_from_pem(data, len, err, errlen);
    return smime_signer_from_p12(data, len, password, err, errlen);
}

/* DER certificates into new crts[0..ncerts); 0 or -1 with a message. */
static int
import_certs(const gnutls_datum_t *certs, size_t ncerts, gnutls_x509_crt_t *crts,
             char *err, size_t errlen)
{
    for (size_t n = 0; n < ncerts; n++) {
        int ret;
        if (gnutls_x509_crt_init(&crts[n]) < 0) {
            smime_seterr(err, errlen, "out of memory");
            ret = -1;
        } else if ((ret = gnutls_x509_crt_import(crts[n], &certs[n],
                                                 GNUTLS_X509_FMT_DER)) < 0) {
            gnutls_x509_crt_deinit(crts[n]);
            smime_seterr(err, errlen, "bad certificate: %s",
                         gnutls_strerror(ret));
        }
        if (ret < 0) {
            while (n-- > 0)
                gnutls_x509_crt_deinit(crts[n]);
            return -1;
        }
    }
    return 0;
}

smime_signer_t *
smime_signer_from_der(const void *key, size_t keylen,
                      const gnutls_datum_t *certs, size_t ncerts,
                      char *err, size_t errlen)
{
    gnutls_datum_t d = { (unsigned char *)key, (unsigned)keylen };
    gnutls_x509_privkey_t xkey = NULL;
    gnutls_x509_crt_t *crts = calloc(ncerts + 1, sizeof(*crts));
    int ret;

    if (crts == NULL || gnutls_x509_privkey_init(&xkey) < 0) {
        smime_seterr(err, errlen, "out of memory");
        goto fail;
    }
    ret = gnutls_x509_privkey_import_pkcs8(xkey, &d, GNUTLS_X509_FMT_DER,
                                           NULL, GNUTLS_PKCS_PLAIN);
    if (ret < 0) {
        smime_seterr(err, errlen, "bad private key: %s", gnutls_strerror(ret));
        goto fail;
    }
    if (import_certs(certs, ncerts, crts, err, errlen) < 0)
        goto fail;
    smime_signer_t *s = signer_build(xkey, crts, ncerts, err, errlen);
    free(crts);
    return s;
fail:
    if (xkey)
        gnutls_x509_privkey_deinit(xkey);
    free(crts);
    return NULL;
}

smime_signer_t *
smime_signer_from_token(const char *url, const gnutls_datum_t *certs,
                        size_t ncerts, char *err, size_t errlen)
{
    gnutls_x509_crt_t *crts = calloc(ncerts + 1, sizeof(*crts));
    smime_signer_t *s = calloc(1, sizeof(*s));
    gnutls_pubkey_t kpub = NULL;

    if (s != NULL)
        atomic_init(&s->refs, 1);
    if (crts == NULL || s == NULL) {
        smime_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (ncerts == 0) {
        smime_seterr(err, errlen, "no certificate found");
        goto fail;
    }
    if (!smime_token_url_ok(url, err, errlen) ||
        import_certs(certs, ncerts, crts, err, errlen) < 0)
        goto fail;
    /* the first certificate is the key's (build checks it on the token) */
    if ((s->key = smime_token_key_new(url, crts[0], err, errlen)) == NULL ||
        gnutls_pubkey_init(&kpub) < 0 ||
        gnutls_pubkey_import_x509(kpub, crts[0], 0) < 0) {
        if (s->key)
            smime_seterr(err, errlen, "cannot read the certificate's key");
        for (size_t i = 0; i < ncerts; i++)
            gnutls_x509_crt_deinit(crts[i]);
        gnutls_pubkey_deinit(kpub);
        goto fail;
    }
    s = signer_finish(s, kpub, crts, ncerts, err, errlen);
    free(crts);
    return s;
fail:
    smime_signer_free(s);
    free(crts);
    return NULL;
}

const char *
smime_signer_token_url(const smime_signer_t *s)
{
    return smime_token_key_url(s->key);
}

int
smime_signer_export_key(const smime_signer_t *s, gnutls_datum_t *key)
{
    gnutls_x509_privkey_t xkey = NULL;
    int ret;

    key->data = NULL;
    key->size = 0;
    if (gnutls_privkey_export_x509(s->key, &xkey) < 0)
        return -1;
    ret = gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_DER, NULL,
                                            GNUTLS_PKCS_PLAIN, key);
    gnutls_x509_privkey_deinit(xkey);
    return ret < 0 ? -1 : 0;
}
