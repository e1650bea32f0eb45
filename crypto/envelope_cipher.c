/*
 * envelope_cipher.c - streaming decryption of the encryptedContent:
 * AES-CBC and DES-EDE3-CBC (RFC 5652 §6.3 padding), AES-GCM (RFC 5084).
 *
 * All through GnuTLS's gnutls_cipher_* API.  For GCM this is the
 * incremental interface (gnutls_cipher_decrypt2 on block-multiple
 * pieces, then gnutls_cipher_tag): GnuTLS 3.7.9's gnutls_aead_cipher_*
 * functions, decryptv2 included, want the whole ciphertext at once, which
 * a 100 MB message must not need.  The tag is compared in constant time
 * (Nettle's memeql_sec).
 *
 * Whole blocks are decrypted straight from the input (ENV_CHUNK at a
 * time); only a partial block waits in pend.  For CBC the last plaintext
 * block is always held back, since only at the end is it known to carry
 * the padding, which is then checked and removed in constant time.
 */
#include "config.h"

#include <string.h>
#include <nettle/memops.h>

#include "envelope_priv.h"

int env_calg_from(const struct smime_alg *a, env_calg_t *out)
{
    gnutls_cipher_algorithm_t gc = (gnutls_cipher_algorithm_t)a->gnutls;

    if (a->kind != SMIME_ALG_KIND_CIPHER || gc == GNUTLS_CIPHER_UNKNOWN)
        return -1;
    out->name = a->name;
    out->gc = gc;
    out->keylen = a->keylen;
    out->block = gnutls_cipher_get_tag_size(gc) > 0
                 ? 0 : gnutls_cipher_get_block_size(gc);
    return 0;
}

smime_decrypt_status_t env_cipher_init(env_cipher_t *c,
                                       const env_calg_t *alg,
                                       const uint8_t *key,
                                       const uint8_t *iv, size_t ivlen,
                                       smime_decrypt_sink_t sink, void *arg)
{
    gnutls_datum_t k = { (unsigned char *)key, (unsigned)alg->keylen };
    gnutls_datum_t v = { (unsigned char *)iv, (unsigned)ivlen };

    c->alg = alg;
    c->sink = sink;
    c->arg = arg;
    c->unit = alg->block != 0 ? alg->block : 16;
    c->plen = 0;
    c->has_last = 0;
    c->used = 0;
    if (c->unit > sizeof(c->pend) ||
        gnutls_cipher_init(&c->h, alg->gc, &k, &v) < 0) {
        c->h = NULL;
        return SMIME_DECRYPT_UNSUPPORTED;
    }
    return SMIME_DECRYPT_OK;
}

static smime_decrypt_status_t emit(env_cipher_t *c, const uint8_t *p,
                                   size_t n)
{
    if (n > 0 && c->sink(c->arg, p, n) < 0)
        return SMIME_DECRYPT_SINK;
    return SMIME_DECRYPT_OK;
}

/* Decrypts n bytes (whole blocks, n <= ENV_CHUNK) from p into out and
 * passes them on; CBC keeps the last block back in last. */
static smime_decrypt_status_t blocks(env_cipher_t *c, const uint8_t *p,
                                     size_t n)
{
    smime_decrypt_status_t st;
    size_t bs = c->alg->block;

    if (n > c->used)
        c->used = n;
    if (gnutls_cipher_decrypt2(c->h, p, n, c->out, n) < 0)
        return SMIME_DECRYPT_FAILED;
    if (bs == 0)                                /* GCM */
        return emit(c, c->out, n);
    if (c->has_last && (st = emit(c, c->last, bs)) != SMIME_DECRYPT_OK)
        return st;
    if ((st = emit(c, c->out, n - bs)) != SMIME_DECRYPT_OK)
        return st;
    memcpy(c->last, c->out + n - bs, bs);
    c->has_last = 1;
    return SMIME_DECRYPT_OK;
}

smime_decrypt_status_t env_cipher_update(env_cipher_t *c,
                                         const uint8_t *p, size_t n)
{
    smime_decrypt_status_t st;
    size_t u = c->unit;

    if (c->plen > 0) {                          /* complete the block */
        size_t k = u - c->plen < n ? u - c->plen : n;
        memcpy(c->pend + c->plen, p, k);
        c->plen += k;
        p += k;
        n -= k;
        if (c->plen < u)
            return SMIME_DECRYPT_OK;
        c->plen = 0;
        if ((st = blocks(c, c->pend, u)) != SMIME_DECRYPT_OK)
            return st;
    }
    while (n >= u) {
        size_t k = n - n % u;
        if (k > ENV_CHUNK)
            k = ENV_CHUNK;
        if ((st = blocks(c, p, k)) != SMIME_DECRYPT_OK)
            return st;
        p += k;
        n -= k;
    }
    memcpy(c->pend, p, n);
    c->plen = n;
    return SMIME_DECRYPT_OK;
}

/* 1 (all ones) if a == b, else 0, without a branch; a, b < 2^16. */
static unsigned ct_eq_mask(unsigned a, unsigned b)
{
    unsigned x = a ^ b;
    return 0u - (((x - 1) >> 16) & 1);
}

/* all ones if a <= b, else 0; a, b < 2^16. */
static unsigned ct_le_mask(unsigned a, unsigned b)
{
    return (((b - a) >> 16) & 1) - 1u;
}

/* RFC 5652 §6.3 padding of the last block, checked in constant time:
 * the number of padding octets, or 0 if malformed. */
static size_t unpad(const uint8_t *last, size_t bs)
{
    unsigned pad = last[bs - 1];
    unsigned good = ct_le_mask(1, pad) & ct_le_mask(pad, (unsigned)bs);

    for (size_t i = 0; i < bs; i++) {
        unsigned in_pad = ct_le_mask((unsigned)(bs - i), pad);
        good &= ~in_pad | ct_eq_mask(last[i], pad);
    }
    return pad & good;
}

smime_decrypt_status_t env_cipher_final(env_cipher_t *c,
                                        const uint8_t *tag, size_t taglen)
{
    size_t bs = c->alg->block;
    smime_decrypt_status_t st;

    if (bs != 0) {                              /* CBC */
        if (c->plen != 0 || !c->has_last)
            return SMIME_DECRYPT_FAILED;
        size_t pad = unpad(c->last, bs);
        if (pad == 0)
            return SMIME_DECRYPT_FAILED;
        return emit(c, c->last, bs - pad);
    }
    uint8_t mine[16];                           /* GCM */
    if (taglen < 12 || taglen > sizeof(mine))
        return SMIME_DECRYPT_FAILED;
    if (c->plen > 0) {                          /* the last, short block */
        if (c->plen > c->used)
            c->used = c->plen;
        if (gnutls_cipher_decrypt2(c->h, c->pend, c->plen, c->out,
                                   c->plen) < 0)
            return SMIME_DECRYPT_FAILED;
        if ((st = emit(c, c->out, c->plen)) != SMIME_DECRYPT_OK)
            return st;
    }
    if (gnutls_cipher_tag(c->h, mine, taglen) < 0 ||
        !memeql_sec(mine, tag, taglen))
        return SMIME_DECRYPT_FAILED;
    return SMIME_DECRYPT_OK;
}

void env_cipher_clear(env_cipher_t *c)
{
    if (c->h != NULL)
        gnutls_cipher_deinit(c->h);
    c->h = NULL;
    gnutls_memset(c->pend, 0, sizeof(c->pend));
    gnutls_memset(c->last, 0, sizeof(c->last));
    gnutls_memset(c->out, 0, c->used);
    c->used = 0;
    c->plen = 0;
    c->has_last = 0;
}
