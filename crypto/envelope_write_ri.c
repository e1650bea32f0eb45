/*
 * envelope_write_ri.c - the RecipientInfo of one recipient certificate
 * for the CMS writer (envelope_write.c).
 *
 * RSA: KeyTransRecipientInfo (RFC 5652 §6.2.1), rsaEncryption, the CEK
 * encrypted with PKCS#1 v1.5 by gnutls_pubkey_encrypt_data.  RSAES-OAEP
 * would be better, but GnuTLS 3.7.9 cannot do it and every reader does
 * v1.5 (RFC 8551 §2.3 still requires it).
 *
 * EC: KeyAgreeRecipientInfo (RFC 5753 §3.1.1): an ephemeral key on the
 * recipient's curve as originatorKey (id-ecPublicKey, parameters absent
 * as OpenSSL writes them: the curve is the recipient's), no ukm,
 * dhSinglePass-stdDH-shaNNNkdf-scheme with the hash RFC 5753 §8 pairs
 * with the curve (P-256 SHA-256, P-384 SHA-384, P-521 SHA-512), and
 * id-aes256-wrap (a KEK as strong as the AES-256 CEK).  The arithmetic
 * is ecdh.c's, the same the reader uses.
 *
 * Both name the recipient by issuerAndSerialNumber, which every reader
 * knows (subjectKeyIdentifier needs version 2 and is optional in
 * certificates).
 *
 * What depends only on the certificate (the key's type, the
 * IssuerAndSerialNumber, an EC key's point) is read once into a
 * smime_encrypt_rkey_t, which the recipient cache keeps with the
 * certificate: per message only the RSA encryption or the ephemeral
 * ECDH, the KDF and the key wrap remain.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>

#include "algs.h"
#include "ecdh.h"
#include "envelope_priv.h"

static void put_oid(derw_t *w, enum smime_alg_id id)
{
    const struct smime_alg *a = smime_alg(id);
    derw_tlv(w, DER_OID, a->der, a->derlen);
}

struct smime_encrypt_rkey {
    gnutls_pubkey_t pub;
    int own_pub;                     /* imported here */
    int kari;                        /* EC: key agreement */
    gnutls_ecc_curve_t curve;
    size_t flen;                     /* EC field length */
    uint8_t xy[2 * ECDH_MAX_FIELD];  /* EC point, x || y */
    unsigned char *isn;              /* IssuerAndSerialNumber, DER */
    size_t isnlen;
};

/* IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber } */
static int put_isn(derw_t *w, gnutls_x509_crt_t crt)
{
    gnutls_datum_t dn;
    unsigned char serial[64], *sp = serial;
    size_t slen = sizeof(serial) - 1;
    derw_t in;

    if (gnutls_x509_crt_get_raw_issuer_dn(crt, &dn) < 0)
        return -1;
    if (gnutls_x509_crt_get_serial(crt, serial + 1, &slen) < 0 || slen == 0) {
        gnutls_free(dn.data);
        return -1;
    }
    sp = serial + 1;
    if (sp[0] & 0x80) {         /* keep the INTEGER non-negative */
        serial[0] = 0;
        sp = serial;
        slen++;
    }
    derw_init(&in);
    derw_raw(&in, dn.data, dn.size);
    derw_tlv(&in, DER_INTEGER, sp, slen);
    derw_wrap(w, DER_SEQUENCE, &in);
    derw_free(&in);
    gnutls_free(dn.data);
    return 0;
}

static smime_encrypt_status_t ktri(derw_t *w, const smime_encrypt_rkey_t *rk,
                                   const uint8_t *cek, size_t ceklen,
                                   const char **why)
{
    gnutls_datum_t k = { (unsigned char *)cek, (unsigned)ceklen };
    gnutls_datum_t ek = { NULL, 0 };
    derw_t ri, alg;

    if (gnutls_pubkey_encrypt_data(rk->pub, 0, &k, &ek) < 0) {
        *why = "RSA encryption failed";
        return SMIME_ENCRYPT_KEY;
    }
    derw_init(&ri);
    derw_init(&alg);
    derw_uint(&ri, 0);
    derw_raw(&ri, rk->isn, rk->isnlen);
    put_oid(&alg, SMIME_ALG_KT_RSA);
    derw_tlv(&alg, DER_NULL, NULL, 0);
    derw_wrap(&ri, DER_SEQUENCE, &alg);
    derw_tlv(&ri, DER_OCTETSTRING, ek.data, ek.size);
    derw_wrap(w, DER_SEQUENCE, &ri);
    derw_free(&ri);
    derw_free(&alg);
    gnutls_free(ek.data);
    return SMIME_ENCRYPT_OK;
}

/* The recipient's point as x || y, flen octets each. */
static int peer_point(gnutls_pubkey_t pub, gnutls_ecc_curve_t *curve,
                      uint8_t *xy, size_t *flen)
{
    gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
    int r = -1;

    if (gnutls_pubkey_export_ecc_raw2(pub, curve, &x, &y,
                                      GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
        return -1;
    *flen = ecdh_field_len(*curve);
    if (*flen != 0 && x.size <= *flen && y.size <= *flen) {
        memset(xy, 0, 2 * *flen);
        memcpy(xy + *flen - x.size, x.data, x.size);
        memcpy(xy + 2 * *flen - y.size, y.data, y.size);
        r = 0;
    }
    gnutls_free(x.data);
    gnutls_free(y.data);
    return r;
}

static enum smime_alg_id kdf_for(gnutls_ecc_curve_t curve)
{
    switch (curve) {
    case GNUTLS_ECC_CURVE_SECP384R1: return SMIME_ALG_KA_ECDH_SHA384KDF;
    case GNUTLS_ECC_CURVE_SECP521R1: return SMIME_ALG_KA_ECDH_SHA512KDF;
    default:                         return SMIME_ALG_KA_ECDH_SHA256KDF;
    }
}

static smime_encrypt_status_t kari(derw_t *w, const smime_encrypt_rkey_t *rk,
                                   const uint8_t *cek, size_t ceklen,
                                   const char **why)
{
    uint8_t epub[1 + 2 * ECDH_MAX_FIELD + 1];
    uint8_t z[ECDH_MAX_FIELD], kek[32], ek[ENV_MAX_KEY + 8];
    size_t flen = rk->flen;
    const struct smime_alg *ka, *wrap = smime_alg(SMIME_ALG_AES256_WRAP);
    derw_t ri, t1, t2, t3, t4;
    smime_encrypt_status_t st = SMIME_ENCRYPT_KEY;

    ka = smime_alg(kdf_for(rk->curve));
    /* epub: the BIT STRING contents, 00 (no unused bits) || 04 || x || y */
    epub[0] = 0;
    if (ecdh_ephemeral(rk->curve, rk->xy, epub + 1, z, why) < 0)
        goto out;
    if (ecdh_kek((gnutls_digest_algorithm_t)smime_alg_digest(ka->digest)->gnutls,
                 z, flen, wrap->der, wrap->derlen, NULL, 0, kek,
                 wrap->keylen) < 0 ||
        ecdh_aes_wrap(kek, wrap->keylen, cek, ceklen, ek) < 0) {
        *why = "key derivation failed";
        st = SMIME_ENCRYPT_CRYPTO;
        goto out;
    }
    derw_init(&ri);
    derw_init(&t1);
    derw_init(&t2);
    derw_init(&t3);
    derw_init(&t4);
    derw_uint(&ri, 3);
    /* originator [0] { originatorKey [1] { algorithm, publicKey } } */
    put_oid(&t1, SMIME_ALG_EC_PUBLIC_KEY);
    derw_wrap(&t2, DER_SEQUENCE, &t1);
    derw_tlv(&t2, 0x03, epub, 2 + 2 * flen);
    derw_free(&t1);
    derw_wrap(&t1, DER_CTXC(1), &t2);
    derw_wrap(&ri, DER_CTXC(0), &t1);
    derw_free(&t1);
    derw_free(&t2);
    /* keyEncryptionAlgorithm { kdf scheme, KeyWrapAlgorithm } */
    put_oid(&t1, ka->id);
    put_oid(&t2, SMIME_ALG_AES256_WRAP);
    derw_wrap(&t1, DER_SEQUENCE, &t2);
    derw_wrap(&ri, DER_SEQUENCE, &t1);
    derw_free(&t1);
    derw_free(&t2);
    /* recipientEncryptedKeys SEQUENCE OF { rid, encryptedKey } */
    derw_raw(&t3, rk->isn, rk->isnlen);
    derw_tlv(&t3, DER_OCTETSTRING, ek, ceklen + 8);
    derw_wrap(&t4, DER_SEQUENCE, &t3);
    derw_wrap(&ri, DER_SEQUENCE, &t4);
    derw_wrap(w, DER_CTXC(1), &ri);             /* [1] IMPLICIT SEQUENCE */
    st = SMIME_ENCRYPT_OK;
    derw_free(&ri);
    derw_free(&t3);
    derw_free(&t4);
out:
    gnutls_memset(z, 0, sizeof(z));
    gnutls_memset(kek, 0, sizeof(kek));
    gnutls_memset(ek, 0, sizeof(ek));
    return st;
}

void smime_encrypt_rkey_free(smime_encrypt_rkey_t *k)
{
    if (k == NULL)
        return;
    if (k->own_pub)
        gnutls_pubkey_deinit(k->pub);
    free(k->isn);
    free(k);
}

smime_encrypt_rkey_t *smime_encrypt_rkey_new(gnutls_x509_crt_t crt,
                                             gnutls_pubkey_t pub,
                                             smime_encrypt_status_t *st,
                                             const char **why)
{
    smime_encrypt_rkey_t *k = calloc(1, sizeof(*k));
    derw_t isn;

    *st = SMIME_ENCRYPT_NOMEM;
    *why = "out of memory";
    if (k == NULL)
        return NULL;
    k->pub = pub;
    if (pub == NULL) {
        if (gnutls_pubkey_init(&k->pub) < 0) {
            free(k);
            return NULL;
        }
        k->own_pub = 1;
        if (gnutls_pubkey_import_x509(k->pub, crt, 0) < 0) {
            *st = SMIME_ENCRYPT_KEY;
            *why = "unreadable certificate key";
            goto fail;
        }
    }
    switch (gnutls_pubkey_get_pk_algorithm(k->pub, NULL)) {
    case GNUTLS_PK_RSA:
        break;
    case GNUTLS_PK_ECDSA:
        k->kari = 1;
        if (peer_point(k->pub, &k->curve, k->xy, &k->flen) < 0) {
            *st = SMIME_ENCRYPT_KEY;
            *why = "unsupported EC key";
            goto fail;
        }
        break;
    default:
        *st = SMIME_ENCRYPT_KEY;
        *why = "key type cannot encrypt";
        goto fail;
    }
    derw_init(&isn);
    if (put_isn(&isn, crt) < 0) {
        derw_free(&isn);
        *st = SMIME_ENCRYPT_KEY;
        *why = "unreadable certificate";
        goto fail;
    }
    if ((k->isn = derw_take(&isn, &k->isnlen)) == NULL)
        goto fail;
    *st = SMIME_ENCRYPT_OK;
    *why = "";
    return k;
fail:
    smime_encrypt_rkey_free(k);
    return NULL;
}

smime_encrypt_status_t env_ri_build(derw_t *w, const smime_encrypt_rkey_t *k,
                                    const uint8_t *cek, size_t ceklen,
                                    int *is_kari, const char **why)
{
    smime_encrypt_status_t st;

    if (k->kari) {
        *is_kari = 1;
        st = kari(w, k, cek, ceklen, why);
    } else {
        st = ktri(w, k, cek, ceklen, why);
    }
    if (st == SMIME_ENCRYPT_OK && derw_failed(w)) {
        *why = "out of memory";
        st = SMIME_ENCRYPT_NOMEM;
    }
    return st;
}
