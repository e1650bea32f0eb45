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
 */
#include "config.h"

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

static smime_encrypt_status_t ktri(derw_t *w, gnutls_x509_crt_t crt,
                                   gnutls_pubkey_t pub, const uint8_t *cek,
                                   size_t ceklen, const char **why)
{
    gnutls_datum_t k = { (unsigned char *)cek, (unsigned)ceklen };
    gnutls_datum_t ek = { NULL, 0 };
    derw_t ri, alg;

    if (gnutls_pubkey_encrypt_data(pub, 0, &k, &ek) < 0) {
        *why = "RSA encryption failed";
        return SMIME_ENCRYPT_KEY;
    }
    derw_init(&ri);
    derw_init(&alg);
    derw_uint(&ri, 0);
    if (put_isn(&ri, crt) < 0) {
        *why = "unreadable certificate";
        gnutls_free(ek.data);
        derw_free(&ri);
        return SMIME_ENCRYPT_KEY;
    }
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

static smime_encrypt_status_t kari(derw_t *w, gnutls_x509_crt_t crt,
                                   gnutls_pubkey_t pub, const uint8_t *cek,
                                   size_t ceklen, const char **why)
{
    uint8_t xy[2 * ECDH_MAX_FIELD], epub[1 + 2 * ECDH_MAX_FIELD + 1];
    uint8_t z[ECDH_MAX_FIELD], kek[32], ek[ENV_MAX_KEY + 8];
    gnutls_ecc_curve_t curve;
    size_t flen = 0;
    const struct smime_alg *ka, *wrap = smime_alg(SMIME_ALG_AES256_WRAP);
    derw_t ri, t1, t2, t3, t4;
    smime_encrypt_status_t st = SMIME_ENCRYPT_KEY;

    if (peer_point(pub, &curve, xy, &flen) < 0) {
        *why = "unsupported EC key";
        return SMIME_ENCRYPT_KEY;
    }
    ka = smime_alg(kdf_for(curve));
    /* epub: the BIT STRING contents, 00 (no unused bits) || 04 || x || y */
    epub[0] = 0;
    if (ecdh_ephemeral(curve, xy, epub + 1, z, why) < 0)
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
    if (put_isn(&t3, crt) < 0) {
        *why = "unreadable certificate";
    } else {
        derw_tlv(&t3, DER_OCTETSTRING, ek, ceklen + 8);
        derw_wrap(&t4, DER_SEQUENCE, &t3);
        derw_wrap(&ri, DER_SEQUENCE, &t4);
        derw_wrap(w, DER_CTXC(1), &ri);         /* [1] IMPLICIT SEQUENCE */
        st = SMIME_ENCRYPT_OK;
    }
    derw_free(&ri);
    derw_free(&t3);
    derw_free(&t4);
out:
    gnutls_memset(z, 0, sizeof(z));
    gnutls_memset(kek, 0, sizeof(kek));
    gnutls_memset(ek, 0, sizeof(ek));
    return st;
}

smime_encrypt_status_t env_ri_build(derw_t *w, gnutls_x509_crt_t crt,
                                    gnutls_pubkey_t given,
                                    const uint8_t *cek, size_t ceklen,
                                    int *is_kari, const char **why)
{
    gnutls_pubkey_t pub = given;
    smime_encrypt_status_t st;

    if (given == NULL && gnutls_pubkey_init(&pub) < 0) {
        *why = "out of memory";
        return SMIME_ENCRYPT_NOMEM;
    }
    if (given == NULL && gnutls_pubkey_import_x509(pub, crt, 0) < 0) {
        *why = "unreadable certificate key";
        st = SMIME_ENCRYPT_KEY;
    } else {
        switch (gnutls_pubkey_get_pk_algorithm(pub, NULL)) {
        case GNUTLS_PK_RSA:
            st = ktri(w, crt, pub, cek, ceklen, why);
            break;
        case GNUTLS_PK_ECDSA:
            *is_kari = 1;
            st = kari(w, crt, pub, cek, ceklen, why);
            break;
        default:
            *why = "key type cannot encrypt";
            st = SMIME_ENCRYPT_KEY;
        }
    }
    if (given == NULL)
        gnutls_pubkey_deinit(pub);
    if (st == SMIME_ENCRYPT_OK && derw_failed(w)) {
        *why = "out of memory";
        st = SMIME_ENCRYPT_NOMEM;
    }
    return st;
}
