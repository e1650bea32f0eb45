/*
 * token.h - private keys that stay on a PKCS#11 token (an HSM, a smart
 * card, SoftHSM), named by an RFC 7512 "pkcs11:" URI.
 *
 * A token key is a gnutls_privkey_t like any other (sign.c signs with it
 * unchanged) that reaches the token only when used: it can be made while
 * the token is absent, and it survives the token going away and coming
 * back.  Every token key of the process shares one PKCS#11 provider (one
 * module, one login per token); GnuTLS keeps one session per key and
 * serialises the threads using it.  When an operation finds the token
 * gone (the key no longer found, a device or session error), the key is
 * dropped and the provider reinitialised once, then the operation is
 * tried again: a token that is back works again without a restart; one
 * that is still gone fails that operation only.  A wrong PIN is tried
 * once: no PIN (nor a URI's pin-source) is sent to the token again
 * (tokens lock after a few wrong PINs) until smime_token_setup() is
 * called again (a configuration reload).
 *
 * GnuTLS 3.7.9 has no key derivation for PKCS#11 keys
 * (gnutls_privkey_derive_secret is 3.8.2), so ECDH (CKM_ECDH1_DERIVE)
 * calls C_DeriveKey directly on a session of the key's own; RSA
 * decryption goes through gnutls_privkey_decrypt_data2.
 *
 * Never logs: smime_token_event() hands each change of the token state
 * (usable, unusable and why) to the caller once.  Thread-safe.
 */
#ifndef SMIME_TOKEN_H
#define SMIME_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

/* The PKCS#11 module (a shared library path; NULL: the modules p11-kit
 * is configured with) and the user PIN (NULL: none; a URI's pin-source
 * still works).  A named module is loaded now; p11-kit's modules when a
 * token key is first used.  May be called again (a configuration
 * reload): another module or PIN reinitialises a loaded provider.  0, or
 * -1 with a message (the module cannot be loaded; token keys then fail
 * until it can, each use trying again). */
int smime_token_setup(const char *module, const char *pin, char *err,
                      size_t errlen);
/* The PIN from a file: one line (a final newline is not part of it),
 * a regular file owned by the effective user (root reads any) without
 * group or other permissions, like the keystore.  0, or -1 with a
 * message.  The caller wipes pin (gnutls_memset). */
int smime_token_read_pin(const char *path, char *pin, size_t len, char *err,
                         size_t errlen);

/* 1 if url looks like a PKCS#11 URI naming a private key we may store:
 * "pkcs11:" with no pin-value (a PIN is never stored). */
int smime_token_url_ok(const char *url, char *err, size_t errlen);

/* A private key for the token key at url, whose certificate is crt (its
 * algorithm and size are taken from there).  The token is not touched.
 * NULL when out of memory or the certificate's key type is not usable. */
gnutls_privkey_t smime_token_key_new(const char *url, gnutls_x509_crt_t crt,
                                     char *err, size_t errlen);
/* The URI of a token key, NULL for any other key. */
const char *smime_token_key_url(gnutls_privkey_t key);

/* Reach the key now and prove it is crt's: a test signature verified
 * with crt's public key.  0, or -1 with a message (token, PIN, key not
 * found, another key). */
int smime_token_probe(gnutls_privkey_t key, gnutls_x509_crt_t crt,
                      char *err, size_t errlen);

/* The certificate on the token with the key at url (the same URI for
 * class certificate), then its issuers found on the token, as DER into
 * der[0..max) (gnutls_free each).  Count, or -1 with a message. */
int smime_token_certs(const char *url, gnutls_datum_t *der, size_t max,
                      char *err, size_t errlen);

/* For envelope_key.c.  SMIME_TOKEN_NOT_TOKEN: key is not a token key
 * (do it the usual way).  SMIME_TOKEN_UNAVAILABLE: the key could not be
 * reached (token gone, PIN, module), found before the ciphertext is
 * touched, so saying so is no oracle: a temporary failure.  Otherwise
 * the result of gnutls_privkey_decrypt_data2 on the token (0 or a
 * GnuTLS error). */
#define SMIME_TOKEN_NOT_TOKEN 1
#define SMIME_TOKEN_UNAVAILABLE 2
int smime_token_decrypt2(gnutls_privkey_t key, const gnutls_datum_t *ct,
                         unsigned char *out, size_t outlen);
/* ECDH on the token: z gets the x coordinate of key * point (point: the
 * uncompressed 04||X||Y of the key's curve, flen bytes each).
 * SMIME_TOKEN_NOT_TOKEN, SMIME_TOKEN_UNAVAILABLE, 0, -1 (the token
 * refused the point) or -2 (the key may not derive: CKA_DERIVE). */
int smime_token_ecdh(gnutls_privkey_t key, const uint8_t *point,
                     size_t pointlen, uint8_t *z, size_t flen);

/* 1 when the token state changed since the last call: *usable is the new
 * state and msg says why (for a log line); else 0. */
int smime_token_event(int *usable, char *msg, size_t len);

#endif
