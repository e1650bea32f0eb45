/*
 * envelope_priv.h - pieces shared by envelope.c (CMS frame, streaming),
 * envelope_key.c (content-encryption key recovery) and
 * envelope_cipher.c (content decryption).  Internal to crypto/.
 */
#ifndef SMIME_ENVELOPE_PRIV_H
#define SMIME_ENVELOPE_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "algs.h"
#include "derw.h"
#include "envelope.h"
#include "envelope_write.h"

#define ENV_MAX_KEY 32           /* longest content-encryption key */

/* A content-encryption algorithm (contentEncryptionAlgorithm). */
typedef struct env_calg {
    const char *name;            /* "aes-256-cbc" */
    gnutls_cipher_algorithm_t gc;
    size_t keylen, block;        /* block: CBC block size, 0 for GCM */
} env_calg_t;

/* The cipher row a (algs.c) as the cipher code wants it: 0, or -1 if
 * GnuTLS has no such cipher. */
int env_calg_from(const struct smime_alg *a, env_calg_t *out);

/* Key transport / agreement of one recipient. */
typedef enum env_kalg {
    ENV_KA_UNKNOWN = 0,
    ENV_KT_RSA,                  /* rsaEncryption: PKCS#1 v1.5 */
    ENV_KT_RSA_OAEP,             /* id-RSAES-OAEP */
    ENV_KA_ECDH                  /* dhSinglePass-(std|cofactor)DH-*kdf */
} env_kalg_t;

typedef struct env_ri {
    smime_decrypt_rid_t rid;
    env_kalg_t kalg;
    const uint8_t *ek;           /* encryptedKey */
    size_t ek_len;
    /* key agreement (ENV_KA_ECDH) */
    gnutls_digest_algorithm_t kdf; /* X9.63 KDF hash */
    size_t wrap_keylen;          /* AES key wrap: 16, 24, 32; 0 unknown */
    const uint8_t *wrap_oid;     /* the key-wrap OID contents */
    size_t wrap_oid_len;
    const uint8_t *opub;         /* originator point (BIT STRING data) */
    size_t opub_len;
    const uint8_t *ukm;          /* UserKeyingMaterial or NULL */
    size_t ukm_len;
} env_ri_t;

/* Recovers the content-encryption key (cek, ceklen bytes, the length the
 * content algorithm needs) from ri with key; *why gets a short reason. */
smime_decrypt_status_t env_unwrap_rsa(const env_ri_t *ri,
                                      gnutls_privkey_t key,
                                      uint8_t *cek, size_t ceklen,
                                      const char **why);
smime_decrypt_status_t env_unwrap_ecdh(const env_ri_t *ri,
                                       gnutls_privkey_t key,
                                       uint8_t *cek, size_t ceklen,
                                       const char **why);

/* The writer (envelope_write_ri.c): one RecipientInfo for the
 * prepared recipient k carrying cek, appended to w as a whole TLV;
 * *kari is set to 1 for a KeyAgreeRecipientInfo (which makes
 * EnvelopedData version 2). */
smime_encrypt_status_t env_ri_build(derw_t *w, const smime_encrypt_rkey_t *k,
                                    const uint8_t *cek, size_t ceklen,
                                    int *kari, const char **why);

/* Streaming content decryption: CBC (unpadded at the end) or GCM (tag
 * checked at the end). */
#define ENV_CHUNK 16384
typedef struct env_cipher {
    gnutls_cipher_hd_t h;
    const env_calg_t *alg;
    smime_decrypt_sink_t sink;
    void *arg;
    size_t unit;                 /* block size (GCM: 16) */
    size_t plen;                 /* partial ciphertext block in pend */
    int has_last;                /* CBC: last plaintext block held back */
    uint8_t pend[16];
    uint8_t last[16];
    size_t used;                 /* bytes of out ever written: what
                                  * env_cipher_clear wipes */
    uint8_t out[ENV_CHUNK];      /* not zeroed before use */
} env_cipher_t;

smime_decrypt_status_t env_cipher_init(env_cipher_t *c,
                                       const env_calg_t *alg,
                                       const uint8_t *key,
                                       const uint8_t *iv, size_t ivlen,
                                       smime_decrypt_sink_t sink, void *arg);
smime_decrypt_status_t env_cipher_update(env_cipher_t *c,
                                         const uint8_t *p, size_t n);
/* tag/taglen: the GCM ICV (ignored for CBC). */
smime_decrypt_status_t env_cipher_final(env_cipher_t *c,
                                        const uint8_t *tag, size_t taglen);
/* Releases the handle and wipes the buffers.  Idempotent. */
void env_cipher_clear(env_cipher_t *c);

#endif
