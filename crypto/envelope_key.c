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
 * (gnutls_privkey_export_ecc_raw2) and multiplied with the originator's
 * point by Nettle (ecc_point_set checks the point is on the curve); the
 * X9.63 KDF over the ECC-CMS-SharedInfo (RFC 5753 §7.2) is a loop over
 * gnutls_hash, and Nettle's RFC 3394 AES key unwrap recovers the CEK.
 * Every secret is wiped before its memory is released.
 *
 * Keys on a PKCS#11 token (token.h) never leave it: RSA is
 * gnutls_privkey_decrypt_data2 on the token (same RFC 3218 selection),
 * ECDH is C_DeriveKey (CKM_ECDH1_DERIVE) there, giving the same Z.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <nettle/aes.h>
#include <nettle/bignum.h>
#include <nettle/ecc.h>
#include <nettle/ecc-curve.h>
#include <nettle/nist-keywrap.h>

#include "derw.h"
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
        return SMIME_DECRYPT_KEY;
    }
    if (r == SMIME_TOKEN_NOT_TOKEN)
        r = gnutls_privkey_decrypt_data2(key, 0, &ct, tmp, ceklen);
    m = zero_mask(r);
    for (size_t i = 0; i < ceklen; i++)
        cek[i] = (unsigned char)((tmp[i] & m) | (cek[i] & ~m));
    gnutls_memset(tmp, 0, sizeof(tmp));
    return SMIME_DECRYPT_OK;
}

/* ---- ECDH ---- */

static const struct ecc_curve *nettle_curve(gnutls_ecc_curve_t c, size_t *flen)
{
    switch (c) {
    case GNUTLS_ECC_CURVE_SECP256R1: *flen = 32; return nettle_get_secp_256r1();
    case GNUTLS_ECC_CURVE_SECP384R1: *flen = 48; return nettle_get_secp_384r1();
    case GNUTLS_ECC_CURVE_SECP521R1: *flen = 66; return nettle_get_secp_521r1();
    default: return NULL;
    }
}

static void mpz_wipe(mpz_t x)
{
    size_t n = mpz_size(x);
    if (n > 0)
        gnutls_memset(mpz_limbs_modify(x, (mp_size_t)n), 0,
                      n * sizeof(mp_limb_t));
    mpz_clear(x);
}

/* ecdh_shared() for a key on a token: C_DeriveKey there (token.h).
 * SMIME_TOKEN_NOT_TOKEN for other keys, else 0 with *st set. */
/* 1 if the uncompressed point (flen bytes a coordinate) is on ec. */
static int point_on_curve(const struct ecc_curve *ec, const uint8_t *p,
                          size_t flen)
{
    struct ecc_point pt;
    mpz_t x, y;
    int ok;

    mpz_init(x);
    mpz_init(y);
    nettle_mpz_set_str_256_u(x, flen, p + 1);
    nettle_mpz_set_str_256_u(y, flen, p + 1 + flen);
    ecc_point_init(&pt, ec);
    ok = ecc_point_set(&pt, x, y);
    ecc_point_clear(&pt);
    mpz_clear(x);
    mpz_clear(y);
    return ok;
}

/* ecdh_shared() for a key on a token: the point is checked here as for a
 * file key, then multiplied by C_DeriveKey on the token (token.h).
 * SMIME_TOKEN_NOT_TOKEN for other keys, else 0 with *st set. */
static int token_shared(const env_ri_t *ri, gnutls_privkey_t key, uint8_t *z,
                        size_t *zlen, const char **why,
                        smime_decrypt_status_t *st)
{
    size_t flen = ri->opub_len > 1 ? (ri->opub_len - 1) / 2 : 0, cl = 0;
    const struct ecc_curve *ec =
        nettle_curve(flen == 32 ? GNUTLS_ECC_CURVE_SECP256R1 :
                     flen == 48 ? GNUTLS_ECC_CURVE_SECP384R1 :
                     flen == 66 ? GNUTLS_ECC_CURVE_SECP521R1 :
                     GNUTLS_ECC_CURVE_INVALID, &cl);

    if (smime_token_key_url(key) == NULL)
        return SMIME_TOKEN_NOT_TOKEN;
    if (ec == NULL || ri->opub_len != 1 + 2 * flen || ri->opub[0] != 0x04) {
        *why = "unsupported originator key";
        *st = SMIME_DECRYPT_UNSUPPORTED;
        return 0;
    }
    if (!point_on_curve(ec, ri->opub, flen)) {
        *why = "originator key not on the curve";
        *st = SMIME_DECRYPT_MALFORMED;
        return 0;
    }
    int r = smime_token_ecdh(key, ri->opub, ri->opub_len, z, flen);
    *st = r == 0 ? SMIME_DECRYPT_OK : SMIME_DECRYPT_KEY;
    if (r == 0)
        *zlen = flen;
    else
        *why = r == -2 ? "the token key may not derive (CKA_DERIVE)" :
               r == -1 ? "ECDH on the token failed (another curve?)" :
                         "the key's token is unavailable";
    return 0;
}

/* Z, the x coordinate of key * originator point (flen bytes): OK, or
 * KEY (our key cannot be used) or MALFORMED (the originator's point), with
 * *why set. */
static smime_decrypt_status_t ecdh_shared(const env_ri_t *ri, gnutls_privkey_t key,
                       uint8_t *z, size_t *zlen, const char **why)
{
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 }, k = { NULL, 0 };
    const struct ecc_curve *ec;
    struct ecc_point pub, shared;
    struct ecc_scalar s;
    mpz_t px, py, pk;
    size_t flen = 0;
    smime_decrypt_status_t st = SMIME_DECRYPT_KEY;

    int t = token_shared(ri, key, z, zlen, why, &st);
    if (t != SMIME_TOKEN_NOT_TOKEN)
        return st;
    if (gnutls_privkey_export_ecc_raw2(key, &curve, &x, &y, &k, 0) < 0) {
        *why = "EC private key not exportable";
        return SMIME_DECRYPT_KEY;
    }
    gnutls_free(x.data);
    gnutls_free(y.data);
    if ((ec = nettle_curve(curve, &flen)) == NULL) {
        *why = "unsupported curve";
        goto out_k;
    }
    /* uncompressed point: 04 || X || Y */
    if (ri->opub_len != 1 + 2 * flen || ri->opub[0] != 0x04) {
        *why = "unsupported originator key";
        st = SMIME_DECRYPT_UNSUPPORTED;
        goto out_k;
    }
    mpz_init(px);
    mpz_init(py);
    mpz_init(pk);
    nettle_mpz_set_str_256_u(px, flen, ri->opub + 1);
    nettle_mpz_set_str_256_u(py, flen, ri->opub + 1 + flen);
    nettle_mpz_set_str_256_u(pk, k.size, k.data);
    ecc_point_init(&pub, ec);
    ecc_point_init(&shared, ec);
    ecc_scalar_init(&s, ec);
    if (!ecc_point_set(&pub, px, py)) {
        *why = "originator key not on the curve";
        st = SMIME_DECRYPT_MALFORMED;
    } else if (!ecc_scalar_set(&s, pk)) {
        *why = "bad EC private key";
    } else {
        ecc_point_mul(&shared, &s, &pub);
        ecc_point_get(&shared, px, NULL);
        nettle_mpz_get_str_256(flen, z, px);
        *zlen = flen;
        st = SMIME_DECRYPT_OK;
    }
    gnutls_memset(s.p, 0, (size_t)ecc_size(ec) * sizeof(mp_limb_t));
    gnutls_memset(shared.p, 0, 2 * (size_t)ecc_size(ec) * sizeof(mp_limb_t));
    ecc_scalar_clear(&s);
    ecc_point_clear(&shared);
    ecc_point_clear(&pub);
    mpz_wipe(pk);
    mpz_wipe(px);
    mpz_clear(py);
out_k:
    gnutls_memset(k.data, 0, k.size);
    gnutls_free(k.data);
    return st;
}

/* ECC-CMS-SharedInfo (RFC 5753 §7.2) for a KEK of keylen bytes. */
static unsigned char *shared_info(const env_ri_t *ri, size_t keylen,
                                  size_t *len)
{
    derw_t alg, ukm, supp, members, si;
    unsigned long bits = (unsigned long)keylen * 8;
    unsigned char b[4] = { (unsigned char)(bits >> 24), (unsigned char)(bits >> 16),
                           (unsigned char)(bits >> 8), (unsigned char)bits };

    derw_init(&alg);
    derw_init(&ukm);
    derw_init(&supp);
    derw_init(&members);
    derw_init(&si);
    derw_tlv(&alg, DER_OID, ri->wrap_oid, ri->wrap_oid_len);
    derw_wrap(&members, DER_SEQUENCE, &alg);          /* keyInfo */
    if (ri->ukm != NULL) {
        derw_tlv(&ukm, DER_OCTETSTRING, ri->ukm, ri->ukm_len);
        derw_wrap(&members, DER_CTXC(0), &ukm);       /* entityUInfo */
    }
    derw_tlv(&supp, DER_OCTETSTRING, b, sizeof(b));
    derw_wrap(&members, DER_CTXC(2), &supp);          /* suppPubInfo */
    derw_wrap(&si, DER_SEQUENCE, &members);
    derw_free(&alg);
    derw_free(&ukm);
    derw_free(&supp);
    derw_free(&members);
    return derw_take(&si, len);
}

/* ANSI X9.63 KDF: kek = H(Z || counter || SharedInfo) for counter 1, 2... */
static int x963_kdf(gnutls_digest_algorithm_t alg, const uint8_t *z,
                    size_t zlen, const uint8_t *info, size_t infolen,
                    uint8_t *kek, size_t keklen)
{
    uint8_t d[64];
    size_t hlen = gnutls_hash_get_len(alg), off = 0;

    if (hlen == 0 || hlen > sizeof(d))
        return -1;
    for (uint32_t ctr = 1; off < keklen; ctr++) {
        gnutls_hash_hd_t h;
        uint8_t c[4] = { (uint8_t)(ctr >> 24), (uint8_t)(ctr >> 16),
                         (uint8_t)(ctr >> 8), (uint8_t)ctr };
        if (gnutls_hash_init(&h, alg) < 0)
            return -1;
        gnutls_hash(h, z, zlen);
        gnutls_hash(h, c, sizeof(c));
        gnutls_hash(h, info, infolen);
        gnutls_hash_deinit(h, d);
        size_t n = keklen - off < hlen ? keklen - off : hlen;
        memcpy(kek + off, d, n);
        off += n;
    }
    gnutls_memset(d, 0, sizeof(d));
    return 0;
}

/* RFC 3394 unwrap of ek (ceklen + 8 bytes) with kek: 1 ok, 0 bad. */
static int aes_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *ek,
                      uint8_t *cek, size_t ceklen)
{
    static const uint8_t iv[8] = {
        0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6
    };
    union {
        struct aes128_ctx a128;
        struct aes192_ctx a192;
        struct aes256_ctx a256;
    } ctx;
    int ok = 0;

    switch (keklen) {
    case 16:
        aes128_set_decrypt_key(&ctx.a128, kek);
        ok = aes128_keyunwrap(&ctx.a128, iv, ceklen, cek, ek);
        break;
    case 24:
        aes192_set_decrypt_key(&ctx.a192, kek);
        ok = aes192_keyunwrap(&ctx.a192, iv, ceklen, cek, ek);
        break;
    case 32:
        aes256_set_decrypt_key(&ctx.a256, kek);
        ok = aes256_keyunwrap(&ctx.a256, iv, ceklen, cek, ek);
        break;
    }
    gnutls_memset(&ctx, 0, sizeof(ctx));
    return ok;
}

smime_decrypt_status_t env_unwrap_ecdh(const env_ri_t *ri,
                                       gnutls_privkey_t key,
                                       uint8_t *cek, size_t ceklen,
                                       const char **why)
{
    uint8_t z[66], kek[32];
    size_t zlen = 0, infolen = 0;
    unsigned char *info = NULL;
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
    if ((st = ecdh_shared(ri, key, z, &zlen, why)) != SMIME_DECRYPT_OK)
        return st;
    if ((info = shared_info(ri, ri->wrap_keylen, &infolen)) == NULL) {
        *why = "out of memory";
        st = SMIME_DECRYPT_NOMEM;
    } else if (x963_kdf(ri->kdf, z, zlen, info, infolen, kek,
                        ri->wrap_keylen) < 0) {
        *why = "key derivation failed";
        st = SMIME_DECRYPT_KEY;
    } else if (!aes_unwrap(kek, ri->wrap_keylen, ri->ek, cek, ceklen)) {
        *why = "key unwrap failed";
        st = SMIME_DECRYPT_FAILED;
    }
    free(info);
    gnutls_memset(z, 0, sizeof(z));
    gnutls_memset(kek, 0, sizeof(kek));
    return st;
}
