/*
 * sign.h - streaming CMS SignedData signer for S/MIME (RFC 5652, RFC 8551),
 * detached signatures only, over GnuTLS.
 *
 * A signer (smime_signer_t) is a parsed credential: the private key, the
 * signer certificate and its intermediates, and the algorithms that go
 * with the key.  Build it once (the keystore caches it); it is then
 * read-only and may be shared by any number of threads.
 *
 * Signing one message:
 *   s = smime_sign_new(signer);
 *   smime_sign_update(s, ...)   the canonical (CRLF, 7-bit) entity in
 *                               chunks of any size: hashed, never held
 *   smime_sign_finish(s, &der, &len);    DER ContentInfo, free() it
 *   smime_sign_free(s);
 *
 * Algorithms (chosen from the key, see smime_sign_micalg()):
 *   RSA         rsaEncryption (PKCS#1 v1.5), SHA-256
 *   RSA-PSS     id-RSASSA-PSS, hash from the key's parameters (default
 *               SHA-256), MGF1 with the same hash, salt = hash length
 *   ECDSA       P-256 SHA-256, P-384 SHA-384, P-521 SHA-512
 *   Ed25519     id-Ed25519 over the signed attributes, SHA-512 digest
 *               (RFC 8419)
 * Signed attributes: contentType, signingTime, messageDigest,
 * SMIMECapabilities, signingCertificateV2 (RFC 5035).
 *
 * Never logs; errors come back as -1/NULL with a message in err.
 */
#ifndef SMIME_SIGN_H
#define SMIME_SIGN_H

#include <stddef.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>

typedef struct smime_signer smime_signer_t;
typedef struct smime_sign smime_sign_t;

/*
 * Credentials.  Each returns NULL with a message in err ("private key does
 * not match the certificate", "cannot decrypt PKCS#12 (wrong password?)",
 * ...) when the credential is unusable.  The signer certificate is the one
 * whose public key matches the private key; the other certificates are put
 * in chain order after it (self-signed roots left out).  Certificate
 * policy (usage, address, validity) is NOT checked here: see cert.h and
 * keystore_check().
 */
/* PEM text: one private key (PKCS#1, PKCS#8 or SEC1, unencrypted) and
 * certificates. */
smime_signer_t *smime_signer_from_pem(const void *data, size_t len,
                                      char *err, size_t errlen);
/* PKCS#12 (DER); password may be NULL. */
smime_signer_t *smime_signer_from_p12(const void *data, size_t len,
                                      const char *password,
                                      char *err, size_t errlen);
/* Either of the above, told apart by content. */
smime_signer_t *smime_signer_from_blob(const void *data, size_t len,
                                       const char *password,
                                       char *err, size_t errlen);
/* PKCS#8 DER key and DER certificates (signer first, then intermediates):
 * the keystore's stored form. */
smime_signer_t *smime_signer_from_der(const void *key, size_t keylen,
                                      const gnutls_datum_t *certs,
                                      size_t ncerts,
                                      char *err, size_t errlen);
/* A key on a PKCS#11 token (RFC 7512 URI, no PIN in it; crypto/token.h)
 * with DER certificates, the key's first.  The token is not touched: it
 * is reached when the key is used (smime_token_probe() checks it now). */
smime_signer_t *smime_signer_from_token(const char *url,
                                        const gnutls_datum_t *certs,
                                        size_t ncerts, char *err,
                                        size_t errlen);
/* The URI of a token credential; NULL for a key held in memory. */
const char *smime_signer_token_url(const smime_signer_t *signer);
/* Another reference to a credential (it is read-only once made):
 * smime_signer_free() drops one, the last frees it.  smime-keystore
 * build shares one parsed file among the addresses that name it. */
smime_signer_t *smime_signer_ref(smime_signer_t *signer);
void smime_signer_free(smime_signer_t *signer);     /* accepts NULL */

/* Borrowed certificates: 0 is the signer, then the intermediates. */
size_t smime_signer_ncerts(const smime_signer_t *signer);
gnutls_x509_crt_t smime_signer_cert(const smime_signer_t *signer, size_t i);
/* The private key (borrowed, lives as long as the signer): the keystore
 * hands credentials out for decryption too (keystore_entry_decrypt). */
gnutls_privkey_t smime_signer_privkey(const smime_signer_t *signer);
/* PKCS#8 DER of the private key, for the keystore writer.  0 or -1.
 * The caller must gnutls_memset() and gnutls_free() key->data. */
int smime_signer_export_key(const smime_signer_t *signer,
                            gnutls_datum_t *key);

/* The micalg parameter of multipart/signed (RFC 8551 3.5.3.2):
 * "sha-256", "sha-384" or "sha-512". */
const char *smime_sign_micalg(const smime_signer_t *signer);
/* "rsa", "rsa-pss", "ecdsa" or "ed25519" (for logging). */
const char *smime_sign_sigalg(const smime_signer_t *signer);

/* signer is borrowed and must outlive s.  NULL on ENOMEM. */
smime_sign_t *smime_sign_new(const smime_signer_t *signer);
void smime_sign_free(smime_sign_t *s);               /* accepts NULL */
/* signingTime to write instead of now (tests, reproducible output). */
void smime_sign_set_time(smime_sign_t *s, time_t t);
/* 0, or -1 on an internal error. */
int smime_sign_update(smime_sign_t *s, const void *buf, size_t len);
/* The detached CMS ContentInfo (DER) in *der (malloc'd: free() it).
 * 0, or -1 with a message (smime_sign_error()).  Call once. */
int smime_sign_finish(smime_sign_t *s, unsigned char **der, size_t *len);
const char *smime_sign_error(const smime_sign_t *s);

#endif
