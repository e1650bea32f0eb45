/*
 * ecdh.h - the key-agreement arithmetic of CMS ECDH ephemeral-static
 * (RFC 5753), shared by the reader (envelope_key.c: recover a CEK) and
 * the writer (envelope_write_ri.c: wrap one): the shared secret on the
 * NIST curves (Nettle), the X9.63 KDF over ECC-CMS-SharedInfo, and the
 * RFC 3394 AES key wrap and unwrap (Nettle nist-keywrap).  GnuTLS 3.7.9
 * has none of these.  Internal to crypto/; every secret is wiped.
 */
#ifndef SMIME_ECDH_H
#define SMIME_ECDH_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>

#define ECDH_MAX_FIELD 66       /* P-521 */

/* Field size in octets of a supported curve (P-256/384/521), else 0. */
size_t ecdh_field_len(gnutls_ecc_curve_t curve);

/* The supported curve whose field size is flen octets (an uncompressed
 * point 04 || x || y is 1 + 2 * flen), else GNUTLS_ECC_CURVE_INVALID. */
gnutls_ecc_curve_t ecdh_curve_of_len(size_t flen);

/* 1 if the point (x || y, flen octets each) is on the curve, else 0:
 * the check ecdh_shared makes, for a key on a token whose device does
 * the multiplication (envelope_key.c). */
int ecdh_point_valid(gnutls_ecc_curve_t curve, const uint8_t *xy);

/* Z, the x coordinate of scalar k (big-endian, any length) times the
 * point (x || y, flen octets each), into z (flen octets).  0, or -1 with
 * *why ("originator key not on the curve", "bad EC private key"). */
int ecdh_shared(gnutls_ecc_curve_t curve, const uint8_t *k, size_t klen,
                const uint8_t *xy, uint8_t *z, const char **why);

/* A fresh ephemeral key on curve: its public point as 04 || x || y into
 * pub (1 + 2 * flen octets) and Z with the peer's point xy into z.
 * 0 or -1 (*why). */
int ecdh_ephemeral(gnutls_ecc_curve_t curve, const uint8_t *peer_xy,
                   uint8_t *pub, uint8_t *z, const char **why);

/* The key-encryption key (keklen octets) by the X9.63 KDF with hash
 * kdf over Z and the ECC-CMS-SharedInfo of the key-wrap OID (contents
 * octets) and the optional UserKeyingMaterial.  0 or -1. */
int ecdh_kek(gnutls_digest_algorithm_t kdf, const uint8_t *z, size_t zlen,
             const uint8_t *wrap_oid, size_t wrap_oid_len,
             const uint8_t *ukm, size_t ukm_len, uint8_t *kek, size_t keklen);

/* RFC 3394 with kek (16, 24 or 32 octets): wrap cek (ceklen, a multiple
 * of 8) into out (ceklen + 8), 0 or -1; unwrap in (ceklen + 8) into cek,
 * 1 when the integrity check passed, else 0. */
int ecdh_aes_wrap(const uint8_t *kek, size_t keklen, const uint8_t *cek,
                  size_t ceklen, uint8_t *out);
int ecdh_aes_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in,
                    uint8_t *cek, size_t ceklen);

#endif
