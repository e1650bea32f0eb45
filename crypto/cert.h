/*
 * cert.h - X.509 certificate checks for S/MIME (RFC 8550), shared by
 * verification, signing and the keystore: one implementation of each rule.
 */
#ifndef SMIME_CERT_H
#define SMIME_CERT_H

#include <stddef.h>
#include <time.h>
#include <gnutls/x509.h>

enum smime_cert_status {
    SMIME_CERT_OK = 0,
    SMIME_CERT_EXPIRED,          /* now > notAfter */
    SMIME_CERT_NOT_YET_VALID,    /* now < notBefore */
    SMIME_CERT_KEY_USAGE,        /* keyUsage present without
                                    digitalSignature/nonRepudiation */
    SMIME_CERT_EKU,              /* extKeyUsage present without
                                    emailProtection/anyExtendedKeyUsage */
    SMIME_CERT_NO_ADDRESS,       /* no rfc822Name / emailAddress at all */
    SMIME_CERT_WEAK_KEY,         /* RSA below the minimum size */
    SMIME_CERT_KEY_TYPE,         /* neither RSA nor EC (RSA-PSS, EdDSA):
                                    cannot encrypt or decrypt */
    SMIME_CERT_BAD               /* unreadable fields */
};
/* "expired certificate", "no emailProtection", ... */
const char *smime_cert_status_string(enum smime_cert_status s);

/* Validity at time now. */
enum smime_cert_status smime_cert_check_time(gnutls_x509_crt_t crt,
                                             time_t now);
/* keyUsage (digitalSignature or nonRepudiation, when present) and
 * extendedKeyUsage (emailProtection or anyExtendedKeyUsage, when present). */
enum smime_cert_status smime_cert_check_usage(gnutls_x509_crt_t crt);
/* A recipient certificate (RFC 8550 §4.4.2), to encrypt to or to
 * decrypt with: an RSA key whose keyUsage, when present, has
 * keyEncipherment, or an EC key (id-ecPublicKey) whose keyUsage, when
 * present, has keyAgreement; the extendedKeyUsage rule as above.
 * SMIME_CERT_KEY_TYPE for other key types. */
enum smime_cert_status smime_cert_check_encrypt_usage(gnutls_x509_crt_t crt);
/* 1 when the usage checks pass: the certificate allows signing, resp.
 * decryption (neither looks at validity, key size or address). */
int smime_cert_can_sign(gnutls_x509_crt_t crt);
int smime_cert_can_decrypt(gnutls_x509_crt_t crt);
/* 1 when the certificate may be used to encrypt to addr: the usage above
 * and addr (case-insensitive) one of its addresses.  Validity and chain
 * are the caller's (they depend on when and on the trust store). */
int smime_cert_can_encrypt(gnutls_x509_crt_t crt, const char *addr);
/* SMIME_CERT_WEAK_KEY for an RSA (or RSA-PSS) key below min_rsa_bits. */
enum smime_cert_status smime_cert_check_key(gnutls_x509_crt_t crt,
                                            unsigned min_rsa_bits);
/* The same for a key of algorithm alg (gnutls_pk_algorithm_t, < 0:
 * unreadable) of the given size: for a key read once (certcache.h). */
enum smime_cert_status smime_cert_key_status(int alg, unsigned bits,
                                             unsigned min_rsa_bits);

/* The certificate's email addresses: subjectAltName rfc822Name entries,
 * then emailAddress attributes of the subject, without duplicates
 * (case-insensitively).  Stores up to max malloc'd strings in out and
 * returns how many it stored (pass that to smime_cert_addresses_free). */
size_t smime_cert_addresses(gnutls_x509_crt_t crt, char **out, size_t max);
/* More addresses than any real certificate has (the rest are ignored). */
#define SMIME_CERT_MAX_ADDRESSES 4096
void smime_cert_addresses_free(char **addrs, size_t n);
/* 1 if addr (case-insensitive) is one of the certificate's addresses. */
int smime_cert_has_address(gnutls_x509_crt_t crt, const char *addr);

/* Serial as lower-case hex (no leading "00" padding byte), issuer DN as an
 * RFC 4514 string (most specific first: "CN=Test CA,O=Example"), subject
 * DN likewise.  Empty string on failure. */
void smime_cert_serial_hex(gnutls_x509_crt_t crt, char *buf, size_t len);
void smime_cert_issuer_dn(gnutls_x509_crt_t crt, char *buf, size_t len);
void smime_cert_subject_dn(gnutls_x509_crt_t crt, char *buf, size_t len);

/* CMS certificate identifiers (SignerIdentifier, RecipientIdentifier):
 * 1 if crt is the one named by issuer (DER Name, whole TLV) and serial
 * (INTEGER contents; leading zero octets ignored), or whose
 * subjectKeyIdentifier is ski. */
int smime_cert_is_issuer_serial(gnutls_x509_crt_t crt,
                                const unsigned char *issuer, size_t ilen,
                                const unsigned char *serial, size_t slen);
/* Two INTEGER contents are the same number (leading zeros ignored). */
int smime_cert_serial_eq(const unsigned char *a, size_t an,
                         const unsigned char *b, size_t bn);
int smime_cert_has_ski(gnutls_x509_crt_t crt, const unsigned char *ski,
                       size_t n);

#endif
