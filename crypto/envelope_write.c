/*
 * envelope_write.c - streaming CMS EnvelopedData / AuthEnvelopedData
 * writer (see envelope_write.h).
 *
 * Output, BER (RFC 5652 allows it; DER is required only for the signed
 * attributes of SignedData):
 *
 *   30 80  ContentInfo
 *     06 ..  id-envelopedData | id-ct-authEnvelopedData
 *     a0 80  [0] EXPLICIT
 *       30 80  (Auth)EnvelopedData
 *         02 01 v              version: 0, or 2 with a KeyAgreeRecipientInfo
 *         31 ..                recipientInfos (definite, DER, sorted)
 *         30 80  EncryptedContentInfo
 *           06 ..  id-data
 *           30 ..  AES-256-CBC + IV | AES-256-GCM + GCMParameters
 *           a0 80  [0] IMPLICIT OCTET STRING, constructed:
 *             04 82 40 00 <16384 octets> ...   one segment per chunk
 *           00 00
 *         00 00
 *         04 10 <tag>          mac (AuthEnvelopedData only)
 *       00 00
 *     00 00
 *   00 00
 *
 * Indefinite lengths because the content length is not known when the
 * header is written (the milter streams the message through), and a
 * definite form would need the whole ciphertext first, or a second pass
 * over a spool: this way memory is two 16 KB buffers for any size, and
 * every reader (OpenSSL, NSS, gpgsm, ours) takes it; it is what
 * `openssl cms -stream` and Outlook write.  The ciphers are GnuTLS's
 * gnutls_cipher_* (incremental: GnuTLS 3.7.9's AEAD API wants the whole
 * message).  The CMS padding of RFC 5652 §6.3 (k - (l mod k) octets of
 * value k - (l mod k)) is PKCS #7's: gnutls_cipher_encrypt3 adds it to
 * the last segment (GNUTLS_CIPHER_PADDING_PKCS7, GnuTLS 3.7.7).
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "algs.h"
#include "envelope_priv.h"

#define CEK_LEN 32
#define GCM_NONCE 12
#define GCM_TAG 16

struct smime_encrypt {
    smime_encrypt_cipher_t cipher;
    const struct smime_alg *alg;
    smime_encrypt_sink_t sink;
    void *arg;
    smime_encrypt_status_t err;
    const char *why;
    int started, finished, kari;
    size_t nri;
    derw_t *ri;                     /* each RecipientInfo, for the SET OF */
    size_t ri_cap;
    gnutls_cipher_hd_t h;
    uint8_t cek[CEK_LEN];
    uint8_t iv[16];
    size_t ivlen;
    size_t have;                    /* plaintext bytes in in */
    size_t inmax;                   /* the most in ever held: to wipe */
    /* the buffers last: neither is cleared when made, and only what in
     * held is wiped (out holds ciphertext); a 4 KB message touches 4 KB
     * of each, not 32 KB three times */
    uint8_t in[ENV_CHUNK];
    uint8_t out[ENV_CHUNK + 16];    /* + room for the padding block */
};

static smime_encrypt_status_t fail(smime_encrypt_t *e,
                                   smime_encrypt_status_t st, const char *why)
{
    if (e->err == SMIME_ENCRYPT_OK) {
        e->err = st;
        e->why = why;
    }
    return e->err;
}

smime_encrypt_t *smime_encrypt_new(smime_encrypt_cipher_t cipher,
                                   smime_encrypt_sink_t sink, void *arg)
{
    smime_encrypt_t *e = malloc(sizeof(*e));

    if (e == NULL)
        return NULL;
    memset(e, 0, offsetof(smime_encrypt_t, in));
    e->cipher = cipher;
    e->alg = smime_alg(cipher == SMIME_ENCRYPT_AES256_GCM
                       ? SMIME_ALG_AES256_GCM : SMIME_ALG_AES256_CBC);
    e->ivlen = cipher == SMIME_ENCRYPT_AES256_GCM ? GCM_NONCE : 16;
    e->sink = sink;
    e->arg = arg;
    e->why = "";
    if (gnutls_rnd(GNUTLS_RND_KEY, e->cek, sizeof(e->cek)) < 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, e->iv, e->ivlen) < 0) {
        free(e);
        return NULL;
    }
    return e;
}

void smime_encrypt_free(smime_encrypt_t *e)
{
    if (e == NULL)
        return;
    if (e->h != NULL)
        gnutls_cipher_deinit(e->h);
    for (size_t i = 0; i < e->nri; i++)
        derw_free(&e->ri[i]);
    free(e->ri);
    gnutls_memset(e->in, 0, e->inmax);
    gnutls_memset(e, 0, offsetof(smime_encrypt_t, in));
    free(e);
}

smime_encrypt_status_t smime_encrypt_add_recipient(smime_encrypt_t *e,
                                                   gnutls_x509_crt_t crt)
{
    return smime_encrypt_add_recipient_key(e, crt, NULL);
}

smime_encrypt_status_t smime_encrypt_add_recipient_key(smime_encrypt_t *e,
                                                       gnutls_x509_crt_t crt,
                                                       gnutls_pubkey_t pub)
{
    const char *why = "";
    smime_encrypt_status_t st = SMIME_ENCRYPT_OK;
    smime_encrypt_rkey_t *k;

    if (e->err != SMIME_ENCRYPT_OK)
        return e->err;
    if ((k = smime_encrypt_rkey_new(crt, pub, &st, &why)) == NULL)
        return fail(e, st, why);
    st = smime_encrypt_add_rkey(e, k);
    smime_encrypt_rkey_free(k);
    return st;
}

smime_encrypt_status_t smime_encrypt_add_rkey(smime_encrypt_t *e,
                                              const smime_encrypt_rkey_t *k)
{
    const char *why = "";
    smime_encrypt_status_t st;

    if (e->err != SMIME_ENCRYPT_OK)
        return e->err;
    if (e->started)
        return fail(e, SMIME_ENCRYPT_STATE, "recipient after content");
    if (e->nri == e->ri_cap) {
        size_t n = e->ri_cap ? 2 * e->ri_cap : 8;
        derw_t *p = realloc(e->ri, n * sizeof(*p));
        if (p == NULL)
            return fail(e, SMIME_ENCRYPT_NOMEM, "out of memory");
        e->ri = p;
        e->ri_cap = n;
    }
    derw_init(&e->ri[e->nri]);
    st = env_ri_build(&e->ri[e->nri], k, e->cek, sizeof(e->cek), &e->kari,
                      &why);
    if (st != SMIME_ENCRYPT_OK) {
        derw_free(&e->ri[e->nri]);
        return fail(e, st, why);
    }
    e->nri++;
    return SMIME_ENCRYPT_OK;
}

static smime_encrypt_status_t emit(smime_encrypt_t *e, const void *p,
                                   size_t n)
{
    if (n > 0 && e->sink(e->arg, p, n) < 0)
        return fail(e, SMIME_ENCRYPT_SINK, "output failed");
    return SMIME_ENCRYPT_OK;
}

/* contentEncryptionAlgorithm: AES-256-CBC with its IV, or AES-256-GCM
 * with GCMParameters { aes-nonce, aes-ICVlen 16 } (RFC 5084 §3.2). */
static void put_calg(smime_encrypt_t *e, derw_t *w)
{
    derw_t alg, par;

    derw_init(&alg);
    derw_init(&par);
    derw_tlv(&alg, DER_OID, e->alg->der, e->alg->derlen);
    if (e->cipher == SMIME_ENCRYPT_AES256_GCM) {
        derw_tlv(&par, DER_OCTETSTRING, e->iv, e->ivlen);
        derw_uint(&par, GCM_TAG);
        derw_wrap(&alg, DER_SEQUENCE, &par);
    } else {
        derw_tlv(&alg, DER_OCTETSTRING, e->iv, e->ivlen);
    }
    derw_wrap(w, DER_SEQUENCE, &alg);
    derw_free(&alg);
    derw_free(&par);
}

static smime_encrypt_status_t start(smime_encrypt_t *e)
{
    static const uint8_t indef[] = { 0x80 };
    const struct smime_alg *ct = smime_alg(
        e->cipher == SMIME_ENCRYPT_AES256_GCM ? SMIME_ALG_AUTH_ENVELOPED_DATA
                                              : SMIME_ALG_ENVELOPED_DATA);
    const struct smime_alg *data = smime_alg(SMIME_ALG_DATA);
    gnutls_datum_t k = { e->cek, sizeof(e->cek) };
    gnutls_datum_t v = { e->iv, (unsigned)e->ivlen };
    derw_t w;
    unsigned char *hdr;
    size_t len;
    smime_encrypt_status_t st;

    e->started = 1;
    if (e->nri == 0)
        return fail(e, SMIME_ENCRYPT_STATE, "no recipient");
    if (gnutls_cipher_init(&e->h, (gnutls_cipher_algorithm_t)e->alg->gnutls,
                           &k, &v) < 0) {
        e->h = NULL;
        return fail(e, SMIME_ENCRYPT_CRYPTO, "cipher unavailable");
    }
    derw_init(&w);
    derw_raw(&w, "\x30\x80", 2);
    derw_tlv(&w, DER_OID, ct->der, ct->derlen);
    derw_raw(&w, "\xa0\x80\x30\x80", 4);
    /* RFC 5652 §6.1: 2 with a KeyAgreeRecipientInfo; RFC 5083: 0 */
    derw_uint(&w, e->kari && e->cipher != SMIME_ENCRYPT_AES256_GCM ? 2 : 0);
    derw_set_of(&w, DER_SET, e->ri, e->nri);
    derw_raw(&w, "\x30\x80", 2);
    derw_tlv(&w, DER_OID, data->der, data->derlen);
    put_calg(e, &w);
    derw_raw(&w, "\xa0", 1);
    derw_raw(&w, indef, 1);
    if ((hdr = derw_take(&w, &len)) == NULL)
        return fail(e, SMIME_ENCRYPT_NOMEM, "out of memory");
    st = emit(e, hdr, len);
    free(hdr);
    return st;
}

/* Encrypts in[0..n) (whole blocks, or the last piece: CBC padded, GCM
 * as it is) and writes it as one OCTET STRING segment. */
static smime_encrypt_status_t segment(smime_encrypt_t *e, size_t n, int last)
{
    uint8_t h[4] = { DER_OCTETSTRING };
    size_t hl;
    int r;

    if (last && e->cipher == SMIME_ENCRYPT_AES256_CBC) {
        size_t in = n;                       /* 1..16 octets padding */
        n = sizeof(e->out);
        r = gnutls_cipher_encrypt3(e->h, e->in, in, e->out, &n,
                                   GNUTLS_CIPHER_PADDING_PKCS7);
    } else if (n == 0) {
        return SMIME_ENCRYPT_OK;
    } else {
        r = gnutls_cipher_encrypt2(e->h, e->in, n, e->out, n);
    }
    if (r < 0)
        return fail(e, SMIME_ENCRYPT_CRYPTO, "encryption failed");
    /* the shortest length form (n <= ENV_CHUNK + 16 < 65536) */
    if (n < 0x80) {
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < 0x100) {
        h[1] = 0x81;
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[1] = 0x82;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    }
    if (emit(e, h, hl) != SMIME_ENCRYPT_OK)
        return e->err;
    return emit(e, e->out, n);
}

smime_encrypt_status_t smime_encrypt_update(smime_encrypt_t *e,
                                            const void *p, size_t n)
{
    const uint8_t *s = p;

    if (e->err != SMIME_ENCRYPT_OK)
        return e->err;
    if (e->finished)
        return fail(e, SMIME_ENCRYPT_STATE, "content after the end");
    if (!e->started && start(e) != SMIME_ENCRYPT_OK)
        return e->err;
    while (n > 0) {
        size_t k = ENV_CHUNK - e->have < n ? ENV_CHUNK - e->have : n;
        memcpy(e->in + e->have, s, k);
        e->have += k;
        if (e->have > e->inmax)
            e->inmax = e->have;
        s += k;
        n -= k;
        if (e->have == ENV_CHUNK) {
            if (segment(e, ENV_CHUNK, 0) != SMIME_ENCRYPT_OK)
                return e->err;
            e->have = 0;
        }
    }
    return SMIME_ENCRYPT_OK;
}

smime_encrypt_status_t smime_encrypt_finish(smime_encrypt_t *e)
{
    static const uint8_t eoc2[] = { 0, 0, 0, 0 };     /* [0], ECI */
    static const uint8_t eoc3[] = { 0, 0, 0, 0, 0, 0 };
    uint8_t tag[2 + GCM_TAG] = { DER_OCTETSTRING, GCM_TAG };

    if (e->err != SMIME_ENCRYPT_OK)
        return e->err;
    if (e->finished)
        return fail(e, SMIME_ENCRYPT_STATE, "finished twice");
    if (!e->started && start(e) != SMIME_ENCRYPT_OK)
        return e->err;
    e->finished = 1;
    if (segment(e, e->have, 1) != SMIME_ENCRYPT_OK ||
        emit(e, eoc2, sizeof(eoc2)) != SMIME_ENCRYPT_OK)
        return e->err;
    if (e->cipher == SMIME_ENCRYPT_AES256_GCM) {
        if (gnutls_cipher_tag(e->h, tag + 2, GCM_TAG) < 0)
            return fail(e, SMIME_ENCRYPT_CRYPTO, "no GCM tag");
        if (emit(e, tag, sizeof(tag)) != SMIME_ENCRYPT_OK)
            return e->err;
    }
    gnutls_memset(e->in, 0, e->inmax);
    e->inmax = 0;
    return emit(e, eoc3, sizeof(eoc3));
}

const char *smime_encrypt_error(const smime_encrypt_t *e)
{
    return e->err == SMIME_ENCRYPT_OK ? "" : e->why;
}

const char *smime_encrypt_cipher_name(smime_encrypt_cipher_t c)
{
    return smime_alg(c == SMIME_ENCRYPT_AES256_GCM ? SMIME_ALG_AES256_GCM
                                                   : SMIME_ALG_AES256_CBC)->name;
}

const char *smime_encrypt_smime_type(smime_encrypt_cipher_t c)
{
    return c == SMIME_ENCRYPT_AES256_GCM ? "authEnveloped-data"
                                         : "enveloped-data";
}
