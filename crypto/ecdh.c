/*
 * ecdh.c - CMS ECDH ephemeral-static arithmetic (see ecdh.h).
 *
 * The shared secret: Nettle's ecc_point_mul on the point (ecc_point_set
 * refuses a point not on the curve) with the scalar; Z is its x
 * coordinate (RFC 5753 §3.1.2, SEC 1 §3.3.1).  The ephemeral scalar
 * comes from ecc_scalar_random fed by gnutls_rnd(GNUTLS_RND_KEY).  The
 * X9.63 KDF is a loop over gnutls_hash_fast; the ECC-CMS-SharedInfo
 * (RFC 5753 §7.2) is written straight into a stack buffer when it has
 * no ukm (the writer's case, and most mail's), else with the DER
 * writer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <nettle/aes.h>
#include <nettle/bignum.h>
#include <nettle/ecc.h>
#include <nettle/ecc-curve.h>
#include <nettle/nist-keywrap.h>

#include "derw.h"
#include "ecdh.h"

static const struct ecc_curve *nettle_curve(gnutls_ecc_curve_t c, size_t *flen)
{
    switch (c) {
    case GNUTLS_ECC_CURVE_SECP256R1: *flen = 32; return nettle_get_secp_256r1();
    case GNUTLS_ECC_CURVE_SECP384R1: *flen = 48; return nettle_get_secp_384r1();
    case GNUTLS_ECC_CURVE_SECP521R1: *flen = 66; return nettle_get_secp_521r1();
    default: *flen = 0; return NULL;
    }
}

size_t ecdh_field_len(gnutls_ecc_curve_t curve)
{
    size_t flen;
    nettle_curve(curve, &flen);
    return flen;
}

gnutls_ecc_curve_t ecdh_curve_of_len(size_t flen)
{
    static const gnutls_ecc_curve_t curves[] = {
        GNUTLS_ECC_CURVE_SECP256R1, GNUTLS_ECC_CURVE_SECP384R1,
        GNUTLS_ECC_CURVE_SECP521R1,
    };

    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (ecdh_field_len(curves[i]) == flen)
            return curves[i];
    return GNUTLS_ECC_CURVE_INVALID;
}

static void mpz_wipe(mpz_t x)
{
    size_t n = mpz_size(x);
    if (n > 0)
        gnutls_memset(mpz_limbs_modify(x, (mp_size_t)n), 0,
                      n * sizeof(mp_limb_t));
    mpz_clear(x);
}

static void scalar_wipe(struct ecc_scalar *s, const struct ecc_curve *ec)
{
    gnutls_memset(s->p, 0, (size_t)ecc_size(ec) * sizeof(mp_limb_t));
    ecc_scalar_clear(s);
}

/* Z = x(s * peer) into z; 0 or -1 (*why). */
static int mul(const struct ecc_curve *ec, size_t flen,
               const struct ecc_scalar *s, const uint8_t *xy, uint8_t *z,
               const char **why)
{
    struct ecc_point pub, shared;
    mpz_t px, py;
    int r = -1;

    mpz_init(px);
    mpz_init(py);
    nettle_mpz_set_str_256_u(px, flen, xy);
    nettle_mpz_set_str_256_u(py, flen, xy + flen);
    ecc_point_init(&pub, ec);
    ecc_point_init(&shared, ec);
    if (!ecc_point_set(&pub, px, py)) {
        *why = "originator key not on the curve";
    } else {
        ecc_point_mul(&shared, s, &pub);
        ecc_point_get(&shared, px, NULL);
        nettle_mpz_get_str_256(flen, z, px);
        r = 0;
    }
    gnutls_memset(shared.p, 0, 2 * (size_t)ecc_size(ec) * sizeof(mp_limb_t));
    ecc_point_clear(&shared);
    ecc_point_clear(&pub);
    mpz_wipe(px);
    mpz_clear(py);
    return r;
}

int ecdh_point_valid(gnutls_ecc_curve_t curve, const uint8_t *xy)
{
    size_t flen;
    const struct ecc_curve *ec = nettle_curve(curve, &flen);
    struct ecc_point pt;
    mpz_t x, y;
    int ok;

    if (ec == NULL)
        return 0;
    mpz_init(x);
    mpz_init(y);
    nettle_mpz_set_str_256_u(x, flen, xy);
    nettle_mpz_set_str_256_u(y, flen, xy + flen);
    ecc_point_init(&pt, ec);
    ok = ecc_point_set(&pt, x, y);
    ecc_point_clear(&pt);
    mpz_clear(x);
    mpz_clear(y);
    return ok;
}

int ecdh_shared(gnutls_ecc_curve_t curve, const uint8_t *k, size_t klen,
                const uint8_t *xy, uint8_t *z, const char **why)
{
    size_t flen;
    const struct ecc_curve *ec = nettle_curve(curve, &flen);
    struct ecc_scalar s;
    mpz_t pk;
    int r = -1;

    if (ec == NULL) {
        *why = "unsupported curve";
        return -1;
    }
    mpz_init(pk);
    nettle_mpz_set_str_256_u(pk, klen, k);
    ecc_scalar_init(&s, ec);
    if (!ecc_scalar_set(&s, pk))
        *why = "bad EC private key";
    else
        r = mul(ec, flen, &s, xy, z, why);
    scalar_wipe(&s, ec);
    mpz_wipe(pk);
    return r;
}

static void rnd(void *ctx, size_t n, uint8_t *dst)
{
    int *failed = ctx;
    if (gnutls_rnd(GNUTLS_RND_KEY, dst, n) < 0)
        *failed = 1;
}

int ecdh_ephemeral(gnutls_ecc_curve_t curve, const uint8_t *peer_xy,
                   uint8_t *pub, uint8_t *z, const char **why)
{
    size_t flen;
    const struct ecc_curve *ec = nettle_curve(curve, &flen);
    struct ecc_scalar s;
    struct ecc_point p;
    mpz_t x, y;
    int failed = 0, r = -1;

    if (ec == NULL) {
        *why = "unsupported curve";
        return -1;
    }
    ecc_scalar_init(&s, ec);
    ecc_point_init(&p, ec);
    mpz_init(x);
    mpz_init(y);
    ecc_scalar_random(&s, &failed, rnd);
    if (failed) {
        *why = "no random key";
    } else {
        ecc_point_mul_g(&p, &s);
        ecc_point_get(&p, x, y);
        pub[0] = 0x04;
        nettle_mpz_get_str_256(flen, pub + 1, x);
        nettle_mpz_get_str_256(flen, pub + 1 + flen, y);
        if (mul(ec, flen, &s, peer_xy, z, why) == 0)
            r = 0;
        else
            *why = "recipient key not on the curve";
    }
    mpz_clear(x);
    mpz_clear(y);
    ecc_point_clear(&p);
    scalar_wipe(&s, ec);
    return r;
}

/* ECC-CMS-SharedInfo (RFC 5753 §7.2) for a KEK of keylen bytes. */
static unsigned char *shared_info(const uint8_t *wrap_oid, size_t wrap_oid_len,
                                  const uint8_t *ukm, size_t ukm_len,
                                  size_t keylen, size_t *len)
{
    derw_t alg, u, supp, members, si;
    unsigned long bits = (unsigned long)keylen * 8;
    unsigned char b[4] = { (unsigned char)(bits >> 24), (unsigned char)(bits >> 16),
                           (unsigned char)(bits >> 8), (unsigned char)bits };

    derw_init(&alg);
    derw_init(&u);
    derw_init(&supp);
    derw_init(&members);
    derw_init(&si);
    derw_tlv(&alg, DER_OID, wrap_oid, wrap_oid_len);
    derw_wrap(&members, DER_SEQUENCE, &alg);          /* keyInfo */
    if (ukm != NULL) {
        derw_tlv(&u, DER_OCTETSTRING, ukm, ukm_len);
        derw_wrap(&members, DER_CTXC(0), &u);         /* entityUInfo */
    }
    derw_tlv(&supp, DER_OCTETSTRING, b, sizeof(b));
    derw_wrap(&members, DER_CTXC(2), &supp);          /* suppPubInfo */
    derw_wrap(&si, DER_SEQUENCE, &members);
    derw_free(&alg);
    derw_free(&u);
    derw_free(&supp);
    derw_free(&members);
    return derw_take(&si, len);
}

/* The same without a ukm and with a short OID (what the writer always
 * has), straight into buf: every length below 128, one octet each.
 * Its length, or 0 when it does not fit (then shared_info). */
static size_t shared_info_short(const uint8_t *wrap_oid, size_t wrap_oid_len,
                                size_t keylen, uint8_t *buf, size_t buflen)
{
    unsigned long bits = (unsigned long)keylen * 8;
    size_t alg = 2 + wrap_oid_len, members = 2 + alg + 2 + 6, n = 0;

    if (wrap_oid_len > 100 || 2 + members > buflen)
        return 0;
    buf[n++] = DER_SEQUENCE;
    buf[n++] = (uint8_t)members;
    buf[n++] = DER_SEQUENCE;                          /* keyInfo */
    buf[n++] = (uint8_t)alg;
    buf[n++] = DER_OID;
    buf[n++] = (uint8_t)wrap_oid_len;
    memcpy(buf + n, wrap_oid, wrap_oid_len);
    n += wrap_oid_len;
    buf[n++] = DER_CTXC(2);                           /* suppPubInfo */
    buf[n++] = 6;
    buf[n++] = DER_OCTETSTRING;
    buf[n++] = 4;
    buf[n++] = (uint8_t)(bits >> 24);
    buf[n++] = (uint8_t)(bits >> 16);
    buf[n++] = (uint8_t)(bits >> 8);
    buf[n++] = (uint8_t)bits;
    return n;
}

/* ANSI X9.63 KDF: kek = H(Z || counter || SharedInfo) for counter 1, 2...
 * Each block hashed in one gnutls_hash_fast over a stack copy (no hash
 * context allocated), wiped after. */
static int x963_kdf(gnutls_digest_algorithm_t alg, const uint8_t *z,
                    size_t zlen, const uint8_t *info, size_t infolen,
                    uint8_t *kek, size_t keklen)
{
    uint8_t d[64], in[ECDH_MAX_FIELD + 4 + 256];
    size_t hlen = gnutls_hash_get_len(alg), off = 0;
    int r = 0;

    if (hlen == 0 || hlen > sizeof(d))
        return -1;
    if (zlen > ECDH_MAX_FIELD || infolen > 256) {
        /* a long ukm (reader only): the incremental form */
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
    memcpy(in, z, zlen);
    memcpy(in + zlen + 4, info, infolen);
    for (uint32_t ctr = 1; off < keklen && r == 0; ctr++) {
        in[zlen] = (uint8_t)(ctr >> 24);
        in[zlen + 1] = (uint8_t)(ctr >> 16);
        in[zlen + 2] = (uint8_t)(ctr >> 8);
        in[zlen + 3] = (uint8_t)ctr;
        if (gnutls_hash_fast(alg, in, zlen + 4 + infolen, d) < 0) {
            r = -1;
            break;
        }
        size_t n = keklen - off < hlen ? keklen - off : hlen;
        memcpy(kek + off, d, n);
        off += n;
    }
    gnutls_memset(in, 0, zlen);
    gnutls_memset(d, 0, sizeof(d));
    return r;
}

int ecdh_kek(gnutls_digest_algorithm_t kdf, const uint8_t *z, size_t zlen,
             const uint8_t *wrap_oid, size_t wrap_oid_len,
             const uint8_t *ukm, size_t ukm_len, uint8_t *kek, size_t keklen)
{
    uint8_t sbuf[128];
    size_t infolen = ukm == NULL
        ? shared_info_short(wrap_oid, wrap_oid_len, keklen, sbuf, sizeof sbuf)
        : 0;
    unsigned char *info;
    int r;

    if (infolen > 0)
        return x963_kdf(kdf, z, zlen, sbuf, infolen, kek, keklen);
    info = shared_info(wrap_oid, wrap_oid_len, ukm, ukm_len, keklen, &infolen);
    if (info == NULL)
        return -1;
    r = x963_kdf(kdf, z, zlen, info, infolen, kek, keklen);
    free(info);
    return r;
}

static const uint8_t wrap_iv[8] = {
    0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6
};

int ecdh_aes_wrap(const uint8_t *kek, size_t keklen, const uint8_t *cek,
                  size_t ceklen, uint8_t *out)
{
    union {
        struct aes128_ctx a128;
        struct aes192_ctx a192;
        struct aes256_ctx a256;
    } ctx;
    int r = 0;

    if (ceklen % 8 != 0 || ceklen < 16)
        return -1;
    switch (keklen) {
    case 16:
        aes128_set_encrypt_key(&ctx.a128, kek);
        aes128_keywrap(&ctx.a128, wrap_iv, ceklen + 8, out, cek);
        break;
    case 24:
        aes192_set_encrypt_key(&ctx.a192, kek);
        aes192_keywrap(&ctx.a192, wrap_iv, ceklen + 8, out, cek);
        break;
    case 32:
        aes256_set_encrypt_key(&ctx.a256, kek);
        aes256_keywrap(&ctx.a256, wrap_iv, ceklen + 8, out, cek);
        break;
    default:
        r = -1;
    }
    gnutls_memset(&ctx, 0, sizeof(ctx));
    return r;
}

int ecdh_aes_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in,
                    uint8_t *cek, size_t ceklen)
{
    union {
        struct aes128_ctx a128;
        struct aes192_ctx a192;
        struct aes256_ctx a256;
    } ctx;
    int ok = 0;

    switch (keklen) {
    case 16:
        aes128_set_decrypt_key(&ctx.a128, kek);
        ok = aes128_keyunwrap(&ctx.a128, wrap_iv, ceklen, cek, in);
        break;
    case 24:
        aes192_set_decrypt_key(&ctx.a192, kek);
        ok = aes192_keyunwrap(&ctx.a192, wrap_iv, ceklen, cek, in);
        break;
    case 32:
        aes256_set_decrypt_key(&ctx.a256, kek);
        ok = aes256_keyunwrap(&ctx.a256, wrap_iv, ceklen, cek, in);
        break;
    }
    gnutls_memset(&ctx, 0, sizeof(ctx));
    return ok;
}
