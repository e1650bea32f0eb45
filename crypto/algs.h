/*
 * algs.h - the one table of the algorithms and other object identifiers
 * that CMS work needs (internal to crypto/), in the spirit of
 * libopendkim's dkim-tables.c.  Each row: what kind of thing it is, the
 * OID in both encodings (DER contents octets, dotted), its short name
 * (the micalg spelling for digests), the GnuTLS id, the key types it goes
 * with.  The parser (cms.c), the verifier (verify.c) and the signer
 * (sign.c, signer.c) all look up here; the cipher, key transport, key
 * agreement and key wrap rows are for decryption and encryption.
 */
#ifndef SMIME_ALGS_H
#define SMIME_ALGS_H

#include <stddef.h>
#include <stdint.h>

/* The digests, as an index: verify.c hashes detached content with every
 * one of them at once. */
typedef enum cms_digest {
    CMS_DIG_NONE = -1,
    CMS_DIG_SHA1 = 0,
    CMS_DIG_SHA224,
    CMS_DIG_SHA256,
    CMS_DIG_SHA384,
    CMS_DIG_SHA512,
    CMS_DIG_COUNT
} cms_digest_t;

/* Signature schemes, whatever the OID that names them. */
typedef enum cms_sigkind {
    CMS_SIG_UNKNOWN = 0,
    CMS_SIG_RSA,             /* PKCS#1 v1.5 */
    CMS_SIG_RSA_PSS,
    CMS_SIG_ECDSA,
    CMS_SIG_ED25519
} cms_sigkind_t;

enum smime_alg_kind {
    SMIME_ALG_KIND_CONTENT_TYPE,   /* id-data, id-signedData, ... */
    SMIME_ALG_KIND_ATTRIBUTE,      /* attribute types */
    SMIME_ALG_KIND_DIGEST,
    SMIME_ALG_KIND_SIGNATURE,
    SMIME_ALG_KIND_MGF,            /* RSASSA-PSS / RSAES-OAEP mask */
    SMIME_ALG_KIND_CIPHER,         /* content encryption */
    SMIME_ALG_KIND_KEY_TRANSPORT,
    SMIME_ALG_KIND_KEY_AGREEMENT,
    SMIME_ALG_KIND_KEY_WRAP
};

/* Key types, as bits of smime_alg.keys. */
#define SMIME_KEY_RSA      0x01u   /* rsaEncryption public key */
#define SMIME_KEY_RSA_PSS  0x02u   /* id-RSASSA-PSS public key */
#define SMIME_KEY_EC       0x04u   /* id-ecPublicKey */
#define SMIME_KEY_ED25519  0x08u

/* One name per row, in table order. */
enum smime_alg_id {
    SMIME_ALG_DATA, SMIME_ALG_SIGNED_DATA, SMIME_ALG_ENVELOPED_DATA,
    SMIME_ALG_AUTH_ENVELOPED_DATA,
    SMIME_ALG_ATTR_CONTENT_TYPE, SMIME_ALG_ATTR_MESSAGE_DIGEST,
    SMIME_ALG_ATTR_SIGNING_TIME, SMIME_ALG_ATTR_SMIME_CAPS,
    SMIME_ALG_ATTR_SIGNING_CERT_V2, SMIME_ALG_ATTR_ENC_KEY_PREF,
    SMIME_ALG_SHA1, SMIME_ALG_SHA224, SMIME_ALG_SHA256, SMIME_ALG_SHA384,
    SMIME_ALG_SHA512,
    SMIME_ALG_RSA, SMIME_ALG_RSA_SHA1, SMIME_ALG_RSA_SHA224,
    SMIME_ALG_RSA_SHA256, SMIME_ALG_RSA_SHA384, SMIME_ALG_RSA_SHA512,
    SMIME_ALG_RSA_PSS,
    SMIME_ALG_EC_PUBLIC_KEY, SMIME_ALG_ECDSA_SHA1, SMIME_ALG_ECDSA_SHA224,
    SMIME_ALG_ECDSA_SHA256, SMIME_ALG_ECDSA_SHA384, SMIME_ALG_ECDSA_SHA512,
    SMIME_ALG_ED25519,
    SMIME_ALG_MGF1,
    SMIME_ALG_AES128_CBC, SMIME_ALG_AES192_CBC, SMIME_ALG_AES256_CBC,
    SMIME_ALG_AES128_GCM, SMIME_ALG_AES192_GCM, SMIME_ALG_AES256_GCM,
    SMIME_ALG_DES_EDE3_CBC,
    SMIME_ALG_KT_RSA, SMIME_ALG_KT_RSAES_OAEP,
    SMIME_ALG_KA_ECDH_SHA1KDF, SMIME_ALG_KA_ECDH_SHA224KDF,
    SMIME_ALG_KA_ECDH_SHA256KDF, SMIME_ALG_KA_ECDH_SHA384KDF,
    SMIME_ALG_KA_ECDH_SHA512KDF,
    SMIME_ALG_KA_ECDH_COF_SHA1KDF, SMIME_ALG_KA_ECDH_COF_SHA224KDF,
    SMIME_ALG_KA_ECDH_COF_SHA256KDF, SMIME_ALG_KA_ECDH_COF_SHA384KDF,
    SMIME_ALG_KA_ECDH_COF_SHA512KDF,
    SMIME_ALG_AES128_WRAP, SMIME_ALG_AES192_WRAP, SMIME_ALG_AES256_WRAP,
    SMIME_ALG_COUNT
};

struct smime_alg {
    enum smime_alg_id id;
    enum smime_alg_kind kind;
    const char *name;       /* short name: the micalg spelling for digests
                               ("sha-256", RFC 8551 3.4.3.2), the scheme
                               for signatures ("rsa", "rsa-pss", "ecdsa",
                               "ed25519"), "aes-256-cbc", ... */
    const char *asn1;       /* the name in its RFC ("sha256WithRSAEncryption") */
    const char *dotted;     /* "1.2.840.113549.1.1.11" */
    const uint8_t *der;     /* the OID's contents octets */
    size_t derlen;
    /* The GnuTLS id, by kind: DIGEST gnutls_digest_algorithm_t;
     * SIGNATURE the gnutls_pk_algorithm_t of the scheme (for
     * gnutls_pk_to_sign); CIPHER gnutls_cipher_algorithm_t;
     * KEY_TRANSPORT gnutls_pk_algorithm_t.  0 (GnuTLS's UNKNOWN) when
     * GnuTLS 3.7.9 has none (RSAES-OAEP, key agreement, key wrap). */
    int gnutls;
    /* DIGEST: its index.  SIGNATURE: the hash the OID fixes (CMS_DIG_NONE:
     * the digestAlgorithm's).  KEY_AGREEMENT: the KDF's hash. */
    cms_digest_t digest;
    cms_sigkind_t sigkind;  /* SIGNATURE */
    unsigned keys;          /* SMIME_KEY_* bits: the keys it goes with */
    unsigned keylen;        /* CIPHER, KEY_WRAP: key length in octets */
};

/* Row id (id < SMIME_ALG_COUNT), never NULL. */
const struct smime_alg *smime_alg(enum smime_alg_id id);
/* The row of that kind whose OID has these contents octets, or NULL.
 * (One OID may have rows of two kinds: rsaEncryption.) */
const struct smime_alg *smime_alg_by_oid(enum smime_alg_kind kind,
                                         const uint8_t *der, size_t len);
/* The first row of that kind with this GnuTLS id, or NULL. */
const struct smime_alg *smime_alg_by_gnutls(enum smime_alg_kind kind,
                                            int id);
/* The first row of that kind with this short name (case-insensitive: a
 * micalg value), or NULL. */
const struct smime_alg *smime_alg_by_name(enum smime_alg_kind kind,
                                          const char *name);
/* The digest row of index d, or NULL for CMS_DIG_NONE. */
const struct smime_alg *smime_alg_digest(cms_digest_t d);
/* The signature row of scheme k whose OID fixes digest d (CMS_DIG_NONE:
 * the row that leaves the hash to digestAlgorithm), or NULL. */
const struct smime_alg *smime_alg_signature(cms_sigkind_t k, cms_digest_t d);

/* 1 if a row goes with a key of GnuTLS type pk (gnutls_pk_algorithm_t). */
int smime_alg_key_ok(const struct smime_alg *a, int pk);
/* The gnutls_sign_algorithm_t to verify or sign signature row a with
 * hash dig (gnutls_digest_algorithm_t); pure EdDSA has its own hash.
 * 0 (GNUTLS_SIGN_UNKNOWN) if GnuTLS has no such combination. */
int smime_alg_gnutls_sign(const struct smime_alg *a, int dig);

#endif
