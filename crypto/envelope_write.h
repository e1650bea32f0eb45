/*
 * envelope_write.h - streaming encryption into CMS EnvelopedData
 * (RFC 5652 §6, AES-256-CBC, RFC 3565) or AuthEnvelopedData (RFC 5083,
 * AES-256-GCM per RFC 5084), the writer matching envelope.h's reader.
 *
 * Usage, for one message:
 *   e = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC, sink, arg);
 *   smime_encrypt_add_recipient(e, crt) for every recipient: RSA keys get
 *     a KeyTransRecipientInfo (PKCS#1 v1.5), EC keys on P-256/384/521 a
 *     KeyAgreeRecipientInfo (ECDH ephemeral-static, X9.63 KDF with
 *     SHA-256/384/512, AES-256 key wrap);
 *   smime_encrypt_update() with the content (any chunk sizes);
 *   smime_encrypt_finish().
 * The CMS comes out through sink in pieces as it is made, BER with
 * indefinite lengths around the content (what `openssl cms -stream`
 * writes and RFC 5652 allows), so memory is O(1) whatever the size.
 * The certificates' usability (validity, chain, usage, address) is the
 * caller's (recipient.h): this only needs their keys.
 *
 * Never logs; statuses and a short reason.  Errors are sticky.
 */
#ifndef SMIME_ENVELOPE_WRITE_H
#define SMIME_ENVELOPE_WRITE_H

#include <stddef.h>
#include <gnutls/x509.h>

typedef enum smime_encrypt_status {
    SMIME_ENCRYPT_OK = 0,
    SMIME_ENCRYPT_KEY,           /* a recipient key we cannot encrypt to
                                    (type, curve, unreadable) */
    SMIME_ENCRYPT_CRYPTO,        /* GnuTLS failed (random, cipher) */
    SMIME_ENCRYPT_SINK,          /* the sink returned an error */
    SMIME_ENCRYPT_NOMEM,
    SMIME_ENCRYPT_STATE          /* call out of order (a recipient after
                                    content, content with no recipient) */
} smime_encrypt_status_t;

typedef enum smime_encrypt_cipher {
    SMIME_ENCRYPT_AES256_CBC,    /* EnvelopedData */
    SMIME_ENCRYPT_AES256_GCM     /* AuthEnvelopedData */
} smime_encrypt_cipher_t;

typedef struct smime_encrypt smime_encrypt_t;

/* CMS out: 0, or -1 to stop (the call returns SMIME_ENCRYPT_SINK). */
typedef int (*smime_encrypt_sink_t)(void *arg, const void *p, size_t n);

/* NULL when out of memory or when no random key could be drawn. */
smime_encrypt_t *smime_encrypt_new(smime_encrypt_cipher_t cipher,
                                   smime_encrypt_sink_t sink, void *arg);
/* Wipes the key.  NULL is fine. */
void smime_encrypt_free(smime_encrypt_t *e);

smime_encrypt_status_t smime_encrypt_add_recipient(smime_encrypt_t *e,
                                                   gnutls_x509_crt_t crt);
/* The same with crt's public key already imported (NULL: import it
 * here); pub is only read, so one key may serve many threads. */
smime_encrypt_status_t smime_encrypt_add_recipient_key(smime_encrypt_t *e,
                                                       gnutls_x509_crt_t crt,
                                                       gnutls_pubkey_t pub);
/* What the writer needs of a recipient certificate, prepared once: its
 * key (pub, borrowed, must outlive it; NULL: imported here and owned),
 * its type, the IssuerAndSerialNumber naming it, an EC key's point.
 * Read only once made, so one may serve many messages and threads (the
 * recipient cache keeps one per certificate: recipient.h).  NULL with
 * *st and *why when the key cannot be encrypted to or on ENOMEM. */
typedef struct smime_encrypt_rkey smime_encrypt_rkey_t;
smime_encrypt_rkey_t *smime_encrypt_rkey_new(gnutls_x509_crt_t crt,
                                             gnutls_pubkey_t pub,
                                             smime_encrypt_status_t *st,
                                             const char **why);
void smime_encrypt_rkey_free(smime_encrypt_rkey_t *k);   /* NULL ok */
/* The same as smime_encrypt_add_recipient for k's certificate, without
 * reading the certificate again: per message only the key transport or
 * agreement itself and the RecipientInfo's bytes. */
smime_encrypt_status_t smime_encrypt_add_rkey(smime_encrypt_t *e,
                                              const smime_encrypt_rkey_t *k);
/* The first call writes the header (RecipientInfos and all). */
smime_encrypt_status_t smime_encrypt_update(smime_encrypt_t *e,
                                            const void *p, size_t n);
/* Pads (CBC) or writes the tag (GCM) and closes every frame. */
smime_encrypt_status_t smime_encrypt_finish(smime_encrypt_t *e);

/* Short reason of the last failure ("" when none). */
const char *smime_encrypt_error(const smime_encrypt_t *e);
/* "aes-256-cbc" or "aes-256-gcm". */
const char *smime_encrypt_cipher_name(smime_encrypt_cipher_t c);
/* "enveloped-data" or "authEnveloped-data": the smime-type. */
const char *smime_encrypt_smime_type(smime_encrypt_cipher_t c);

#endif
