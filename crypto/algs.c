/*
 * algs.c - the algorithm and OID table (see algs.h) and its lookups.
 *
 * Sources: RFC 5652 (content types, attributes), RFC 5754 (SHA-2,
 * sha*WithRSAEncryption, ECDSA), RFC 4056 and 8017 (RSASSA-PSS, MGF1,
 * RSAES-OAEP), RFC 8419 (EdDSA), RFC 8551 2.5.2 (smimeCapabilities),
 * RFC 5035 (signingCertificateV2), RFC 3565 and 5084 (AES-CBC, AES-GCM),
 * RFC 3370 (DES-EDE3-CBC, rsaEncryption key transport), RFC 5753 and
 * SEC 1 (dhSinglePass-stdDH-sha*kdf-scheme), RFC 3394 (AES key wrap).
 * Both encodings of each OID are written out; check_crypto encodes every
 * dotted form with the DER writer and compares.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <gnutls/gnutls.h>

#include "algs.h"

#define OID(...) (const uint8_t[]){ __VA_ARGS__ }, \
                 sizeof((const uint8_t[]){ __VA_ARGS__ })

#define ROW(ID, KIND, NAME, ASN1, DOTTED, GNUTLS, DIG, SIG, KEYS, KEYLEN, ...) \
    [SMIME_ALG_##ID] = { SMIME_ALG_##ID, SMIME_ALG_KIND_##KIND, NAME, ASN1, \
                         DOTTED, OID(__VA_ARGS__), GNUTLS, DIG, SIG, KEYS, \
                         KEYLEN }

#define CT(ID, ASN1, DOTTED, ...) ROW(ID, CONTENT_TYPE, ASN1, ASN1, DOTTED, \
    0, CMS_DIG_NONE, CMS_SIG_UNKNOWN, 0, 0, __VA_ARGS__)
#define ATTR(ID, ASN1, DOTTED, ...) ROW(ID, ATTRIBUTE, ASN1, ASN1, DOTTED, \
    0, CMS_DIG_NONE, CMS_SIG_UNKNOWN, 0, 0, __VA_ARGS__)
#define DIG(ID, NAME, ASN1, DOTTED, GNUTLS, ...) ROW(ID, DIGEST, NAME, ASN1, \
    DOTTED, GNUTLS, CMS_DIG_##ID, CMS_SIG_UNKNOWN, 0, 0, __VA_ARGS__)
#define SIG(ID, NAME, ASN1, DOTTED, PK, D, K, KEYS, ...) \
    ROW(ID, SIGNATURE, NAME, ASN1, DOTTED, PK, D, K, KEYS, 0, __VA_ARGS__)
#define CIPHER(ID, NAME, ASN1, DOTTED, GNUTLS, KEYLEN, ...) \
    ROW(ID, CIPHER, NAME, ASN1, DOTTED, GNUTLS, CMS_DIG_NONE, \
        CMS_SIG_UNKNOWN, 0, KEYLEN, __VA_ARGS__)
#define KA(ID, NAME, ASN1, DOTTED, D, ...) ROW(ID, KEY_AGREEMENT, NAME, \
    ASN1, DOTTED, 0, D, CMS_SIG_UNKNOWN, SMIME_KEY_EC, 0, __VA_ARGS__)
#define WRAP(ID, NAME, ASN1, DOTTED, KEYLEN, ...) ROW(ID, KEY_WRAP, NAME, \
    ASN1, DOTTED, 0, CMS_DIG_NONE, CMS_SIG_UNKNOWN, 0, KEYLEN, __VA_ARGS__)

/* 1.2.840.113549 (RSADSI), 2.16.840.1.101.3.4 (NIST algorithms),
 * 1.2.840.10045 (ANSI X9.62) */
#define RSADSI 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d
#define NIST 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04
#define X962 0x2a, 0x86, 0x48, 0xce, 0x3d

#define RSA_KEYS SMIME_KEY_RSA
#define PSS_KEYS (SMIME_KEY_RSA | SMIME_KEY_RSA_PSS)

static const struct smime_alg table[SMIME_ALG_COUNT] = {
    /* content types (RFC 5652 4, 5.1, 6.1; RFC 5083) */
    CT(DATA, "id-data", "1.2.840.113549.1.7.1", RSADSI, 0x01, 0x07, 0x01),
    CT(SIGNED_DATA, "id-signedData", "1.2.840.113549.1.7.2",
       RSADSI, 0x01, 0x07, 0x02),
    CT(ENVELOPED_DATA, "id-envelopedData", "1.2.840.113549.1.7.3",
       RSADSI, 0x01, 0x07, 0x03),
    CT(AUTH_ENVELOPED_DATA, "id-ct-authEnvelopedData",
       "1.2.840.113549.1.9.16.1.23", RSADSI, 0x01, 0x09, 0x10, 0x01, 0x17),

    /* attributes */
    ATTR(ATTR_CONTENT_TYPE, "id-contentType", "1.2.840.113549.1.9.3",
         RSADSI, 0x01, 0x09, 0x03),
    ATTR(ATTR_MESSAGE_DIGEST, "id-messageDigest", "1.2.840.113549.1.9.4",
         RSADSI, 0x01, 0x09, 0x04),
    ATTR(ATTR_SIGNING_TIME, "id-signingTime", "1.2.840.113549.1.9.5",
         RSADSI, 0x01, 0x09, 0x05),
    ATTR(ATTR_SMIME_CAPS, "smimeCapabilities", "1.2.840.113549.1.9.15",
         RSADSI, 0x01, 0x09, 0x0f),
    ATTR(ATTR_SIGNING_CERT_V2, "id-aa-signingCertificateV2",
         "1.2.840.113549.1.9.16.2.47", RSADSI, 0x01, 0x09, 0x10, 0x02, 0x2f),
    ATTR(ATTR_ENC_KEY_PREF, "id-aa-encrypKeyPref",
         "1.2.840.113549.1.9.16.2.11", RSADSI, 0x01, 0x09, 0x10, 0x02, 0x0b),

    /* digests: the name is the micalg value */
    DIG(SHA1, "sha-1", "id-sha1", "1.3.14.3.2.26", GNUTLS_DIG_SHA1,
        0x2b, 0x0e, 0x03, 0x02, 0x1a),
    DIG(SHA224, "sha-224", "id-sha224", "2.16.840.1.101.3.4.2.4",
        GNUTLS_DIG_SHA224, NIST, 0x02, 0x04),
    DIG(SHA256, "sha-256", "id-sha256", "2.16.840.1.101.3.4.2.1",
        GNUTLS_DIG_SHA256, NIST, 0x02, 0x01),
    DIG(SHA384, "sha-384", "id-sha384", "2.16.840.1.101.3.4.2.2",
        GNUTLS_DIG_SHA384, NIST, 0x02, 0x02),
    DIG(SHA512, "sha-512", "id-sha512", "2.16.840.1.101.3.4.2.3",
        GNUTLS_DIG_SHA512, NIST, 0x02, 0x03),

    /* signatures; the first row of each scheme leaves the hash to
     * digestAlgorithm (what the signer writes for RSA, ECDSA is always
     * written with its hash) */
    SIG(RSA, "rsa", "rsaEncryption", "1.2.840.113549.1.1.1", GNUTLS_PK_RSA,
        CMS_DIG_NONE, CMS_SIG_RSA, RSA_KEYS, RSADSI, 0x01, 0x01, 0x01),
    SIG(RSA_SHA1, "rsa", "sha1WithRSAEncryption", "1.2.840.113549.1.1.5",
        GNUTLS_PK_RSA, CMS_DIG_SHA1, CMS_SIG_RSA, RSA_KEYS,
        RSADSI, 0x01, 0x01, 0x05),
    SIG(RSA_SHA224, "rsa", "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.14", GNUTLS_PK_RSA, CMS_DIG_SHA224, CMS_SIG_RSA,
        RSA_KEYS, RSADSI, 0x01, 0x01, 0x0e),
    SIG(RSA_SHA256, "rsa", "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.11", GNUTLS_PK_RSA, CMS_DIG_SHA256, CMS_SIG_RSA,
        RSA_KEYS, RSADSI, 0x01, 0x01, 0x0b),
    SIG(RSA_SHA384, "rsa", "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.12", GNUTLS_PK_RSA, CMS_DIG_SHA384, CMS_SIG_RSA,
        RSA_KEYS, RSADSI, 0x01, 0x01, 0x0c),
    SIG(RSA_SHA512, "rsa", "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.13", GNUTLS_PK_RSA, CMS_DIG_SHA512, CMS_SIG_RSA,
        RSA_KEYS, RSADSI, 0x01, 0x01, 0x0d),
    SIG(RSA_PSS, "rsa-pss", "id-RSASSA-PSS", "1.2.840.113549.1.1.10",
        GNUTLS_PK_RSA_PSS, CMS_DIG_NONE, CMS_SIG_RSA_PSS, PSS_KEYS,
        RSADSI, 0x01, 0x01, 0x0a),
    SIG(EC_PUBLIC_KEY, "ecdsa", "id-ecPublicKey", "1.2.840.10045.2.1",
        GNUTLS_PK_ECDSA, CMS_DIG_NONE, CMS_SIG_ECDSA, SMIME_KEY_EC,
        X962, 0x02, 0x01),
    SIG(ECDSA_SHA1, "ecdsa", "ecdsa-with-SHA1", "1.2.840.10045.4.1",
        GNUTLS_PK_ECDSA, CMS_DIG_SHA1, CMS_SIG_ECDSA, SMIME_KEY_EC,
        X962, 0x04, 0x01),
    SIG(ECDSA_SHA224, "ecdsa", "ecdsa-with-SHA224", "1.2.840.10045.4.3.1",
        GNUTLS_PK_ECDSA, CMS_DIG_SHA224, CMS_SIG_ECDSA, SMIME_KEY_EC,
        X962, 0x04, 0x03, 0x01),
    SIG(ECDSA_SHA256, "ecdsa", "ecdsa-with-SHA256", "1.2.840.10045.4.3.2",
        GNUTLS_PK_ECDSA, CMS_DIG_SHA256, CMS_SIG_ECDSA, SMIME_KEY_EC,
        X962, 0x04, 0x03, 0x02),
    SIG(ECDSA_SHA384, "ecdsa", "ecdsa-with-SHA384", "1.2.840.10045.4.3.3",
        GNUTLS_PK_ECDSA, CMS_DIG_SHA384, CMS_SIG_ECDSA, SMIME_KEY_EC,
        X962, 0x04, 0x03, 0x03),
    SIG(ECDSA_SHA512, "ecdsa", "ecdsa-with-SHA512", "1.2.840.10045.4.3.4",
        GNUTLS_PK_ECDSA, CMS_DIG_SHA512, CMS_SIG_ECDSA, SMIME_KEY_EC,
        X962, 0x04, 0x03, 0x04),
    SIG(ED25519, "ed25519", "id-Ed25519", "1.3.101.112",
        GNUTLS_PK_EDDSA_ED25519, CMS_DIG_NONE, CMS_SIG_ED25519,
        SMIME_KEY_ED25519, 0x2b, 0x65, 0x70),

    ROW(MGF1, MGF, "mgf1", "id-mgf1", "1.2.840.113549.1.1.8", 0,
        CMS_DIG_NONE, CMS_SIG_UNKNOWN, 0, 0, RSADSI, 0x01, 0x01, 0x08),

    /* content encryption */
    CIPHER(AES128_CBC, "aes-128-cbc", "id-aes128-CBC",
           "2.16.840.1.101.3.4.1.2", GNUTLS_CIPHER_AES_128_CBC, 16,
           NIST, 0x01, 0x02),
    CIPHER(AES192_CBC, "aes-192-cbc", "id-aes192-CBC",
           "2.16.840.1.101.3.4.1.22", GNUTLS_CIPHER_AES_192_CBC, 24,
           NIST, 0x01, 0x16),
    CIPHER(AES256_CBC, "aes-256-cbc", "id-aes256-CBC",
           "2.16.840.1.101.3.4.1.42", GNUTLS_CIPHER_AES_256_CBC, 32,
           NIST, 0x01, 0x2a),
    CIPHER(AES128_GCM, "aes-128-gcm", "id-aes128-GCM",
           "2.16.840.1.101.3.4.1.6", GNUTLS_CIPHER_AES_128_GCM, 16,
           NIST, 0x01, 0x06),
    CIPHER(AES192_GCM, "aes-192-gcm", "id-aes192-GCM",
           "2.16.840.1.101.3.4.1.26", GNUTLS_CIPHER_AES_192_GCM, 24,
           NIST, 0x01, 0x1a),
    CIPHER(AES256_GCM, "aes-256-gcm", "id-aes256-GCM",
           "2.16.840.1.101.3.4.1.46", GNUTLS_CIPHER_AES_256_GCM, 32,
           NIST, 0x01, 0x2e),
    CIPHER(DES_EDE3_CBC, "des-ede3-cbc", "des-ede3-cbc",
           "1.2.840.113549.3.7", GNUTLS_CIPHER_3DES_CBC, 24,
           RSADSI, 0x03, 0x07),

    /* key transport (RSAES-OAEP: GnuTLS 3.8.4+ only) */
    ROW(KT_RSA, KEY_TRANSPORT, "rsa", "rsaEncryption",
        "1.2.840.113549.1.1.1", GNUTLS_PK_RSA, CMS_DIG_NONE,
        CMS_SIG_UNKNOWN, SMIME_KEY_RSA, 0, RSADSI, 0x01, 0x01, 0x01),
    ROW(KT_RSAES_OAEP, KEY_TRANSPORT, "rsa-oaep", "id-RSAES-OAEP",
        "1.2.840.113549.1.1.7", 0, CMS_DIG_NONE, CMS_SIG_UNKNOWN,
        SMIME_KEY_RSA, 0, RSADSI, 0x01, 0x01, 0x07),

    /* key agreement: ephemeral-static ECDH with the X9.63 KDF */
    KA(KA_ECDH_SHA1KDF, "ecdh-sha1kdf", "dhSinglePass-stdDH-sha1kdf-scheme",
       "1.3.133.16.840.63.0.2", CMS_DIG_SHA1,
       0x2b, 0x81, 0x05, 0x10, 0x86, 0x48, 0x3f, 0x00, 0x02),
    KA(KA_ECDH_SHA224KDF, "ecdh-sha224kdf",
       "dhSinglePass-stdDH-sha224kdf-scheme", "1.3.132.1.11.0",
       CMS_DIG_SHA224, 0x2b, 0x81, 0x04, 0x01, 0x0b, 0x00),
    KA(KA_ECDH_SHA256KDF, "ecdh-sha256kdf",
       "dhSinglePass-stdDH-sha256kdf-scheme", "1.3.132.1.11.1",
       CMS_DIG_SHA256, 0x2b, 0x81, 0x04, 0x01, 0x0b, 0x01),
    KA(KA_ECDH_SHA384KDF, "ecdh-sha384kdf",
       "dhSinglePass-stdDH-sha384kdf-scheme", "1.3.132.1.11.2",
       CMS_DIG_SHA384, 0x2b, 0x81, 0x04, 0x01, 0x0b, 0x02),
    KA(KA_ECDH_SHA512KDF, "ecdh-sha512kdf",
       "dhSinglePass-stdDH-sha512kdf-scheme", "1.3.132.1.11.3",
       CMS_DIG_SHA512, 0x2b, 0x81, 0x04, 0x01, 0x0b, 0x03),
    /* dhSinglePass-cofactorDH-*: the cofactor of the NIST prime curves
     * is 1, so they compute the same as stdDH (read, never written) */
    KA(KA_ECDH_COF_SHA1KDF, "ecdh-cofactor-sha1kdf",
       "dhSinglePass-cofactorDH-sha1kdf-scheme", "1.3.133.16.840.63.0.3",
       CMS_DIG_SHA1, 0x2b, 0x81, 0x05, 0x10, 0x86, 0x48, 0x3f, 0x00, 0x03),
    KA(KA_ECDH_COF_SHA224KDF, "ecdh-cofactor-sha224kdf",
       "dhSinglePass-cofactorDH-sha224kdf-scheme", "1.3.132.1.14.0",
       CMS_DIG_SHA224, 0x2b, 0x81, 0x04, 0x01, 0x0e, 0x00),
    KA(KA_ECDH_COF_SHA256KDF, "ecdh-cofactor-sha256kdf",
       "dhSinglePass-cofactorDH-sha256kdf-scheme", "1.3.132.1.14.1",
       CMS_DIG_SHA256, 0x2b, 0x81, 0x04, 0x01, 0x0e, 0x01),
    KA(KA_ECDH_COF_SHA384KDF, "ecdh-cofactor-sha384kdf",
       "dhSinglePass-cofactorDH-sha384kdf-scheme", "1.3.132.1.14.2",
       CMS_DIG_SHA384, 0x2b, 0x81, 0x04, 0x01, 0x0e, 0x02),
    KA(KA_ECDH_COF_SHA512KDF, "ecdh-cofactor-sha512kdf",
       "dhSinglePass-cofactorDH-sha512kdf-scheme", "1.3.132.1.14.3",
       CMS_DIG_SHA512, 0x2b, 0x81, 0x04, 0x01, 0x0e, 0x03),

    /* key wrap (RFC 3394; Nettle has it, GnuTLS does not) */
    WRAP(AES128_WRAP, "aes-128-wrap", "id-aes128-wrap",
         "2.16.840.1.101.3.4.1.5", 16, NIST, 0x01, 0x05),
    WRAP(AES192_WRAP, "aes-192-wrap", "id-aes192-wrap",
         "2.16.840.1.101.3.4.1.25", 24, NIST, 0x01, 0x19),
    WRAP(AES256_WRAP, "aes-256-wrap", "id-aes256-wrap",
         "2.16.840.1.101.3.4.1.45", 32, NIST, 0x01, 0x2d),
};

const struct smime_alg *smime_alg(enum smime_alg_id id)
{
    return &table[id];
}

const struct smime_alg *smime_alg_by_oid(enum smime_alg_kind kind,
                                         const uint8_t *der, size_t len)
{
    for (size_t i = 0; i < SMIME_ALG_COUNT; i++)
        if (table[i].kind == kind && table[i].derlen == len &&
            memcmp(table[i].der, der, len) == 0)
            return &table[i];
    return NULL;
}

const struct smime_alg *smime_alg_by_gnutls(enum smime_alg_kind kind, int id)
{
    for (size_t i = 0; i < SMIME_ALG_COUNT; i++)
        if (table[i].kind == kind && id != 0 && table[i].gnutls == id)
            return &table[i];
    return NULL;
}

const struct smime_alg *smime_alg_by_name(enum smime_alg_kind kind,
                                          const char *name)
{
    for (size_t i = 0; i < SMIME_ALG_COUNT; i++)
        if (table[i].kind == kind && strcasecmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

const struct smime_alg *smime_alg_digest(cms_digest_t d)
{
    for (size_t i = 0; i < SMIME_ALG_COUNT; i++)
        if (table[i].kind == SMIME_ALG_KIND_DIGEST && table[i].digest == d)
            return &table[i];
    return NULL;
}

const struct smime_alg *smime_alg_signature(cms_sigkind_t k, cms_digest_t d)
{
    for (size_t i = 0; i < SMIME_ALG_COUNT; i++)
        if (table[i].kind == SMIME_ALG_KIND_SIGNATURE &&
            table[i].sigkind == k && table[i].digest == d)
            return &table[i];
    return NULL;
}

int smime_alg_key_ok(const struct smime_alg *a, int pk)
{
    unsigned bit;

    switch (pk) {
    case GNUTLS_PK_RSA:           bit = SMIME_KEY_RSA; break;
    case GNUTLS_PK_RSA_PSS:       bit = SMIME_KEY_RSA_PSS; break;
    case GNUTLS_PK_ECDSA:         bit = SMIME_KEY_EC; break;
    case GNUTLS_PK_EDDSA_ED25519: bit = SMIME_KEY_ED25519; break;
    default:                      return 0;
    }
    return (a->keys & bit) != 0;
}

int smime_alg_gnutls_sign(const struct smime_alg *a, int dig)
{
    if (a->kind != SMIME_ALG_KIND_SIGNATURE || a->gnutls == 0)
        return GNUTLS_SIGN_UNKNOWN;
    if (a->gnutls == GNUTLS_PK_EDDSA_ED25519)
        return GNUTLS_SIGN_EDDSA_ED25519;   /* pure EdDSA: SHA-512 inside */
    return gnutls_pk_to_sign((gnutls_pk_algorithm_t)a->gnutls,
                             (gnutls_digest_algorithm_t)dig);
}
