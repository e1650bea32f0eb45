/*
 * envelope_key.c - recovering the content-encryption key (CEK) of a CMS
 * RecipientInfo with a private key.
 *
 * Key transport, RSA PKCS#1 v1.5 (RFC 5652 §6.2.1): GnuTLS decrypts into
 * a buffer of exactly the CEK length (gnutls_privkey_decrypt_data2, whose
 * RSA is Nettle's side-channel silent rsa_sec_decrypt).  RFC 3218 §2.3.2:
 * a random CEK is drawn first and taken, by a constant-time selection,
 * whenever the decryption fails, so a failure shows only later as content
 * that does not decrypt, exactly like damaged content: no Bleichenbacher
 * oracle.  RSAES-OAEP needs GnuTLS 3.8.4; it is reported as unsupported.
 *
 * Key agreement, ECDH ephemeral-static (RFC 5753 §3.1.2, RFC 5008 wrap):
 * GnuTLS 3.7.9 cannot derive a shared secret (gnutls_privkey_derive_secret
 * is 3.8.2), so the private scalar is exported
 * (gnutls_privkey_export_ecc_raw2) and handed to ecdh.c, which the
 * writer shares: the point multiplication (Nettle), the X9.63 KDF and the
 * RFC 3394 AES key unwrap.  Every secret is wiped before its memory is
 * released.
 *
 * Keys on a PKCS#11 token (token.h) never leave it: RSA is
 * gnutls_privkey_decrypt_data2 on the token (same RFC 3218 selection),
 * ECDH is C_DeriveKey (CKM_ECDH1_DERIVE) there, giving the same Z; the
 * originator's point is checked here first, as for a file key.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>

#include "ecdh.h"
#include "envelope_priv.h"
#include "token.h"

/* all ones if r == 0, else 0, without a branch (RFC 3218 selection). */
static unsigned char zero_mask(int r)
{
    unsigned v = (unsigned)r;
    return (unsigned char)(((v | (0u - v)) >> (sizeof(v) * 8 - 1)) - 1u);
}

smime_decrypt_status_t env_unwrap_rsa(const env_ri_t *ri,
                                      gnutls_privkey_t key,
                                      uint8_t *cek, size_t ceklen,
                                      const char **why)
{
    uint8_t tmp[ENV_MAX_KEY];
    gnutls_datum_t ct = { (unsigned char *)ri->ek, (unsigned)ri->ek_len };
    unsigned char m;
    int r;

    if (ri->kalg == ENV_KT_RSA_OAEP) {
        *why = "unsupported key transport";
        return SMIME_DECRYPT_UNSUPPORTED;
    }
    if (gnutls_privkey_get_pk_algorithm(key, NULL) != GNUTLS_PK_RSA) {
        *why = "key is not an RSA key";
        return SMIME_DECRYPT_KEY;
    }
    if (ceklen > sizeof(tmp) || gnutls_rnd(GNUTLS_RND_KEY, cek, ceklen) < 0) {
        *why = "no random key";
        return SMIME_DECRYPT_KEY;
    }
    memset(tmp, 0, sizeof(tmp));
    r = smime_token_decrypt2(key, &ct, tmp, ceklen);  /* a token key? */
    if (r == SMIME_TOKEN_UNAVAILABLE) {     /* known before any decryption */
        gnutls_memset(tmp, 0, sizeof(tmp));
        *why = "the key's token is unavailable";
        return SMIME_DECRYPT_UNAVAILABLE;
    }
    if (r == SMIME_TOKEN_NOT_TOKEN)
        r = gnutls_privkey_decrypt_data2(key, 0, &ct, tmp, ceklen);
    m = zero_mask(r);
    for (size_t i = 0; i < ceklen; i++)
        cek[i] = (unsigned char)((tmp[i] & m) | (cek[i] & ~m));
    gnutls_memset(tmp, 0, sizeof(tmp));
    return SMIME_DECRYPT_OK;
}

/* ---- ECDH: the arithmetic is ecdh.c's, shared with the writer ---- */

/* Z for a key on a token: the point is checked here as for a file key,
 * then multiplied by C_DeriveKey on the token (token.h). */
static smime_decrypt_status_t token_z(const env_ri_t *ri,
                                      gnutls_privkey_t key, uint8_t *z,
                                      size_t *zlen, const char **why)
{
    size_t flen = ri->opub_len > 1 ? (ri->opub_len - 1) / 2 : 0;
    gnutls_ecc_curve_t curve = ecdh_curve_of_len(flen);
    int r;

    if (curve == GNUTLS_ECC_CURVE_INVALID || ri->opub_len != 1 + 2 * flen ||
        ri->opub[0] != 0x04) {
        *why = "unsupported originator key";
        return SMIME_DECRYPT_UNSUPPORTED;
    }
    if (!ecdh_point_valid(curve, ri->opub + 1)) {
        *why = "originator key not on the curve";
        return SMIME_DECRYPT_MALFORMED;
    }
    if ((r = smime_token_ecdh(key, ri->opub, ri->opub_len, z, flen)) == 0) {
        *zlen = flen;
        return SMIME_DECRYPT_OK;
    }
    if (r != -1 && r != -2) {
        *why = "the key's token is unavailable";
        return SMIME_DECRYPT_UNAVAILABLE;
    }
    *why = r == -2 ? "the token key may not derive (CKA_DERIVE)"
                   : "ECDH on the token failed (another curve?)";
    return SMIME_DECRYPT_KEY;
}

/* Z with our key and the originator's point: OK, or KEY (our key cannot
 * be used) or MALFORMED / UNSUPPORTED (the originator's point). */
static smime_decrypt_status_t ecdh_z(const env_ri_t *ri, gnutls_privkey_t key,
                                     uint8_t *z, size_t *zlen,
                                     const char **why)
{
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 }, k = { NULL, 0 };
    smime_decrypt_status_t st = SMIME_DECRYPT_KEY;
    size_t flen;

    if (smime_token_key_url(key) != NULL)
        return token_z(ri, key, z, zlen, why);
    if (gnutls_privkey_export_ecc_raw2(key, &curve, &x, &y, &k, 0) < 0) {
        *why = "EC private key not exportable";
        return SMIME_DECRYPT_KEY;
    }
    gnutls_free(x.data);
    gnutls_free(y.data);
    if ((flen = ecdh_field_len(curve)) == 0) {
        *why = "unsupported curve";
    } else if (ri->opub_len != 1 + 2 * flen || ri->opub[0] != 0x04) {
        /* uncompressed point: 04 || X || Y */
        *why = "unsupported originator key";
        st = SMIME_DECRYPT_UNSUPPORTED;
    } else if (ecdh_shared(curve, k.data, k.size, ri->opub + 1, z, why) < 0) {
        st = strcmp(*why, "bad EC private key") == 0 ? SMIME_DECRYPT_KEY
                                                     : SMIME_DECRYPT_MALFORMED;
    } else {
        *zlen = flen;
        st = SMIME_DECRYPT_OK;
    }
    gnutls_memset(k.data, 0, k.size);
    gnutls_free(k.data);
    return st;
}

smime_decrypt_status_t env_unwrap_ecdh(const env_ri_t *ri,
                                       gnutls_privkey_t key,
                                       uint8_t *cek, size_t ceklen,
                                       const char **why)
{
    uint8_t z[ECDH_MAX_FIELD], kek[32];
    size_t zlen = 0;
    smime_decrypt_status_t st;

    if (ri->wrap_keylen == 0 || ri->kdf == GNUTLS_DIG_UNKNOWN) {
        *why = "unsupported key agreement";
        return SMIME_DECRYPT_UNSUPPORTED;
    }
    if (gnutls_privkey_get_pk_algorithm(key, NULL) != GNUTLS_PK_ECDSA) {
        *why = "key is not an EC key";
        return SMIME_DECRYPT_KEY;
    }
    if (ri->ek_len != ceklen + 8) {
        *why = "key unwrap failed";
        return SMIME_DECRYPT_FAILED;
    }
    if ((st = ecdh_z(ri, key, z, &zlen, why)) != SMIME_DECRYPT_OK)
        return st;
    if (ecdh_kek(ri->kdf, z, zlen, ri->wrap_oid, ri->wrap_oid_len, ri->ukm,
                 ri->ukm_len, kek, ri->wrap_keylen) < 0) {
        *why = "key derivation failed";
        st = SMIME_DECRYPT_KEY;
    } else if (!ecdh_aes_unwrap(kek, ri->wrap_keylen, ri->ek, cek, ceklen)) {
        *why = "key unwrap failed";
        st = SMIME_DECRYPT_FAILED;
    }
    gnutls_memset(z, 0, sizeof(z));
    gnutls_memset(kek, 0, sizeof(kek));
    return st;
}
