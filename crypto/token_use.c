/*
 * token_use.c - what is done with a token key besides signing (token.c
 * signs through GnuTLS's external key): prove it is a certificate's key
 * (smime-keystore build, -n), RSA decryption and ECDH for envelope_key.c.
 * Each runs through tok_key_run(), which knows the token is there before
 * an input is touched.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "errbuf.h"
#include "token.h"
#include "token_priv.h"

struct probe_arg {
    gnutls_pubkey_t pub;              /* the certificate's key */
    int pk;
};

/* A key that may not sign (CKA_SIGN false: a decryption key): RSA
 * decrypts what the certificate's key encrypted; EC (derive only) has its
 * public half compared, as the token gives it.  0, -3, or an error. */
static int
probe_nosign(struct tok_key *k, gnutls_pubkey_t pub)
{
    unsigned char rnd[32], out[32], id1[32], id2[32];
    size_t n1 = sizeof(id1), n2 = sizeof(id2);
    gnutls_datum_t d = { rnd, sizeof(rnd) }, ct = { NULL, 0 };
    gnutls_pubkey_t tpub = NULL;
    int r;

    if (k->pk == GNUTLS_PK_RSA) {
        if ((r = gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd))) < 0 ||
            (r = gnutls_pubkey_encrypt_data(pub, 0, &d, &ct)) < 0)
            return r;
        r = gnutls_privkey_decrypt_data2(k->inner, 0, &ct, out, sizeof(out));
        gnutls_free(ct.data);
        /* the token is there (key_alive): a failure is another key's
         * ciphertext (padding, or a number past our modulus) */
        return r < 0 || memcmp(out, rnd, sizeof(rnd)) ? -3 : 0;
    }
    if ((r = gnutls_pubkey_init(&tpub)) < 0 ||
        (r = gnutls_pubkey_import_privkey(tpub, k->inner, 0, 0)) < 0 ||
        (r = gnutls_pubkey_get_key_id(tpub, GNUTLS_KEYID_USE_SHA256, id1,
                                      &n1)) < 0 ||
        (r = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id2,
                                      &n2)) < 0) {
        gnutls_pubkey_deinit(tpub);
        return r;
    }
    gnutls_pubkey_deinit(tpub);
    return n1 == n2 && memcmp(id1, id2, n1) == 0 ? 0 : -3;
}

/* 0, -2 another type of key, -3 another key, or a GnuTLS error. */
static int
op_probe(struct tok_key *k, void *arg, int *lost)
{
    struct probe_arg *a = arg;
    unsigned char rnd[32];
    gnutls_datum_t d = { rnd, sizeof(rnd) }, sig = { NULL, 0 };
    gnutls_sign_algorithm_t algo = a->pk == GNUTLS_PK_ECDSA ?
        GNUTLS_SIGN_ECDSA_SHA256 : GNUTLS_SIGN_RSA_SHA256;
    int r;

    *lost = 0;
    if (gnutls_privkey_get_pk_algorithm(k->inner, NULL) != k->pk)
        return -2;
    if ((r = gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd))) < 0)
        return r;
    if (gnutls_privkey_sign_data2(k->inner, algo, 0, &d, &sig) < 0)
        return probe_nosign(k, a->pub);
    r = gnutls_pubkey_verify_data2(a->pub, algo, 0, &d, &sig) < 0 ? -3 : 0;
    gnutls_free(sig.data);
    return r;
}

int
smime_token_probe(gnutls_privkey_t key, gnutls_x509_crt_t crt, char *err,
                  size_t errlen)
{
    struct tok_key *k = tok_key_find(key);
    struct probe_arg a = { NULL, 0 };
    int r;

    if (k == NULL) {
        smime_seterr(err, errlen, "not a token key");
        return -1;
    }
    a.pk = k->pk;
    if (gnutls_pubkey_init(&a.pub) < 0 ||
        gnutls_pubkey_import_x509(a.pub, crt, 0) < 0) {
        gnutls_pubkey_deinit(a.pub);
        smime_seterr(err, errlen, "cannot read the certificate's key");
        return -1;
    }
    r = tok_key_run(k, op_probe, &a);
    gnutls_pubkey_deinit(a.pub);
    if (r == -2 || r == -3)
        smime_seterr(err, errlen, "the token key does not match the "
                     "certificate (%s)", r == -2 ? "another key type" :
                     "another key");
    else if (r == GNUTLS_E_PKCS11_PIN_ERROR || tok_pin_refused())
        smime_seterr(err, errlen, "PIN refused");
    else if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE ||
             r == GNUTLS_E_PKCS11_REQUESTED_OBJECT_NOT_AVAILBLE)
        smime_seterr(err, errlen, "no such key on the token (or the token "
                     "is absent, or the PIN is needed)");
    else if (r < 0)
        smime_seterr(err, errlen, "cannot use the token key: %s",
                     gnutls_strerror(r));
    return r < 0 ? -1 : 0;
}

/* ---- decryption ---- */

struct dec_arg {
    const gnutls_datum_t *ct;
    unsigned char *out;
    size_t outlen;
    int r;                            /* the decryption's result */
};

/* Always 0 for tok_key_run: a failure here is the content's (RFC 3218),
 * never the token's, and must not steer anything but the caller's
 * constant-time selection. */
static int
op_decrypt(struct tok_key *k, void *arg, int *lost)
{
    struct dec_arg *a = arg;

    *lost = 0;
    a->r = gnutls_privkey_decrypt_data2(k->inner, 0, a->ct, a->out,
                                        a->outlen);
    return 0;
}

int
smime_token_decrypt2(gnutls_privkey_t key, const gnutls_datum_t *ct,
                     unsigned char *out, size_t outlen)
{
    struct tok_key *k = tok_key_find(key);
    struct dec_arg a = { ct, out, outlen, GNUTLS_E_DECRYPTION_FAILED };

    if (k == NULL)
        return SMIME_TOKEN_NOT_TOKEN;
    /* unusable is known before the ciphertext is touched: no oracle */
    return tok_key_run(k, op_decrypt, &a) < 0 ? SMIME_TOKEN_UNAVAILABLE : a.r;
}

struct ecdh_arg {
    const uint8_t *point;
    size_t pointlen;
    uint8_t *z;
    size_t flen;
    int r;                            /* 0, -1 refused, -2 no CKA_DERIVE */
};

static int
op_ecdh(struct tok_key *k, void *arg, int *lost)
{
    struct ecdh_arg *a = arg;
    CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, a->pointlen,
                                 (unsigned char *)a->point };
    CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ULONG len = a->flen;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_SENSITIVE, &no, sizeof(no) },
        { CKA_EXTRACTABLE, &yes, sizeof(yes) },
        { CKA_VALUE_LEN, &len, sizeof(len) },
    };
    CK_ATTRIBUTE v = { CKA_VALUE, a->z, a->flen };
    CK_OBJECT_HANDLE dk;
    CK_RV rv;

    *lost = 0;          /* a refused point is the message's problem */
    rv = k->mod->C_DeriveKey(k->sess, &m, k->oh, t, 6, &dk);
    if (rv != CKR_OK) {
        a->r = rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? -2 : -1;
        return 0;
    }
    rv = k->mod->C_GetAttributeValue(k->sess, dk, &v, 1);
    k->mod->C_DestroyObject(k->sess, dk);
    a->r = rv == CKR_OK && v.ulValueLen == a->flen ? 0 : -1;
    return 0;
}

int
smime_token_ecdh(gnutls_privkey_t key, const uint8_t *point,
                 size_t pointlen, uint8_t *z, size_t flen)
{
    struct tok_key *k = tok_key_find(key);
    struct ecdh_arg a = { point, pointlen, z, flen, -1 };

    if (k == NULL)
        return SMIME_TOKEN_NOT_TOKEN;
    return tok_key_run(k, op_ecdh, &a) < 0 ? SMIME_TOKEN_UNAVAILABLE : a.r;
}
