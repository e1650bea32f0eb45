/*
 * envelope.h - streaming decryption of CMS EnvelopedData (RFC 5652 §6)
 * and AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084).
 *
 * Usage, for one message:
 *   d = smime_decrypt_new(NULL, sink, arg);
 *   feed CMS bytes (DER or BER, any chunk sizes) with smime_decrypt_feed()
 *     until it returns SMIME_DECRYPT_NEED_KEY: the header, RecipientInfos
 *     included, has been read;
 *   look at the recipients (smime_decrypt_recipient()) and pick a key;
 *   smime_decrypt_unwrap(d, key, cert) recovers the content-encryption
 *     key for the RecipientInfo naming cert;
 *   feed the rest of the CMS; plaintext comes out through sink;
 *   smime_decrypt_finish() checks the end: padding (CBC), the
 *     authentication tag (GCM) and the structure after the content.
 *
 * NOTHING THE SINK RECEIVED MAY BE RELEASED BEFORE smime_decrypt_finish()
 * HAS RETURNED SMIME_DECRYPT_OK.  With AuthEnvelopedData the plaintext is
 * only authentic once the tag at the very end has been checked; the
 * caller spools it and throws it away when finish fails.  EnvelopedData
 * (CBC) has no integrity at all: even a successful finish only says the
 * padding was well-formed (see EFAIL; a signature inside is the only
 * integrity such content can have).
 *
 * A wrong RSA key is not told apart from damaged content (RFC 3218: the
 * key transport failure is hidden behind a random key, so the failure
 * shows as SMIME_DECRYPT_FAILED at the content).  With CBC a random key
 * gives well-formed padding about once in 256 tries: the output is then
 * garbage, which is why the plaintext of CBC content without a signature
 * must be treated as unauthenticated.
 *
 * Never logs; statuses and a short reason (smime_decrypt_error()).
 * Errors are sticky: after one, every call returns it again.
 */
#ifndef SMIME_ENVELOPE_H
#define SMIME_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

typedef enum smime_decrypt_status {
    SMIME_DECRYPT_OK = 0,
    SMIME_DECRYPT_NEED_KEY,      /* header read: unwrap a key, feed on */
    SMIME_DECRYPT_NOT_ENVELOPED, /* a ContentInfo of another type */
    SMIME_DECRYPT_MALFORMED,     /* damaged or truncated CMS */
    SMIME_DECRYPT_LIMIT,         /* header size or RecipientInfo count */
    SMIME_DECRYPT_UNSUPPORTED,   /* an algorithm or form we do not do */
    SMIME_DECRYPT_NO_RECIPIENT,  /* no RecipientInfo names the cert */
    SMIME_DECRYPT_KEY,           /* the key cannot be used (type, export,
                                    a token that refuses it) */
    SMIME_DECRYPT_UNAVAILABLE,   /* the key's token cannot be reached now:
                                    temporary, try again later */
    SMIME_DECRYPT_FAILED,        /* content did not decrypt: wrong key,
                                    damaged ciphertext, bad tag */
    SMIME_DECRYPT_SINK,          /* the sink returned an error */
    SMIME_DECRYPT_NOMEM,
    SMIME_DECRYPT_STATE          /* call out of order */
} smime_decrypt_status_t;

typedef struct smime_decrypt smime_decrypt_t;

typedef struct smime_decrypt_limits {
    size_t max_header;           /* bytes before the content, and after
                                    it (default 1 MiB each) */
    unsigned max_recipients;     /* RecipientInfos, counting each
                                    RecipientEncryptedKey (default 64) */
} smime_decrypt_limits_t;

/* Plaintext out: 0, or -1 to stop (the feed returns SMIME_DECRYPT_SINK). */
typedef int (*smime_decrypt_sink_t)(void *arg, const void *p, size_t n);

/* lim NULL: the defaults.  NULL when out of memory. */
smime_decrypt_t *smime_decrypt_new(const smime_decrypt_limits_t *lim,
                                   smime_decrypt_sink_t sink, void *arg);
/* Wipes all key material.  NULL is fine. */
void smime_decrypt_free(smime_decrypt_t *d);

/* OK while reading; NEED_KEY once when the header is complete (the rest
 * of that chunk is copied and decrypted after the unwrap, so feed chunks
 * of a bounded size, say 64 KB, not the whole message at once); OK for
 * the content after the unwrap; or an error.  Feeding between NEED_KEY
 * and a successful unwrap is a STATE error. */
smime_decrypt_status_t smime_decrypt_feed(smime_decrypt_t *d,
                                          const void *buf, size_t len);

typedef enum smime_decrypt_kind {
    SMIME_RI_KEY_TRANSPORT,      /* KeyTransRecipientInfo */
    SMIME_RI_KEY_AGREEMENT,      /* a RecipientEncryptedKey of a KARI */
    SMIME_RI_OTHER               /* KEK, password, other: never usable */
} smime_decrypt_kind_t;

/* One recipient, pointers borrowed from d (valid until it is freed). */
typedef struct smime_decrypt_rid {
    smime_decrypt_kind_t kind;
    int is_ski;                  /* subjectKeyIdentifier, else
                                    issuerAndSerialNumber */
    const uint8_t *issuer;       /* DER Name, whole TLV */
    size_t issuer_len;
    const uint8_t *serial;       /* INTEGER contents */
    size_t serial_len;
    const uint8_t *ski;
    size_t ski_len;
} smime_decrypt_rid_t;

/* After NEED_KEY: the number of recipients, and recipient i (0 or -1). */
size_t smime_decrypt_recipient_count(const smime_decrypt_t *d);
int smime_decrypt_recipient(const smime_decrypt_t *d, size_t i,
                            smime_decrypt_rid_t *rid);
/* 1 if cert is named by one of the recipients. */
int smime_decrypt_names(const smime_decrypt_t *d, gnutls_x509_crt_t cert);

/* After NEED_KEY: recovers the content-encryption key from the first
 * RecipientInfo naming cert, with key (cert's private key; RSA for key
 * transport, EC for key agreement).  OK, NO_RECIPIENT, UNSUPPORTED, KEY,
 * FAILED (only where the failure cannot serve as an oracle: key
 * agreement, whose unwrap has an integrity check).  An RSA failure
 * returns OK and shows at the content. */
smime_decrypt_status_t smime_decrypt_unwrap(smime_decrypt_t *d,
                                            gnutls_privkey_t key,
                                            gnutls_x509_crt_t cert);

/* After the last byte: OK only if everything checked out. */
smime_decrypt_status_t smime_decrypt_finish(smime_decrypt_t *d);

/* Short reason of the last status ("" after OK). */
const char *smime_decrypt_error(const smime_decrypt_t *d);
/* "aes-256-cbc", "aes-128-gcm", "des-ede3-cbc", ... once the header is
 * read ("" before, or for an unknown algorithm). */
const char *smime_decrypt_cipher(const smime_decrypt_t *d);
/* 1 for AuthEnvelopedData (the content carries its own integrity). */
int smime_decrypt_is_aead(const smime_decrypt_t *d);
const char *smime_decrypt_status_name(smime_decrypt_status_t s);

#endif
