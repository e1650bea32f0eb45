/*
 * envelope.c - streaming reader of CMS EnvelopedData (RFC 5652 §6) and
 * AuthEnvelopedData (RFC 5083): the frame, the RecipientInfos and the
 * encryptedContent, fed in chunks of any size (see envelope.h).
 *
 * Three phases over one byte stream, all bounded:
 *   header   ContentInfo up to the first octet of encryptedContent is
 *            gathered (at most max_header bytes) and walked element by
 *            element with der.h's streaming readers (der_partial*), which
 *            tell "more bytes needed" from "malformed";
 *   content  the encryptedContent [0], primitive or constructed (BER
 *            segments, definite or indefinite, nested as NSS, Outlook and
 *            `openssl cms -stream` write them), is tokenised on the fly:
 *            segment headers are read a byte at a time, segment contents
 *            go straight to the cipher (envelope_cipher.c);
 *   trailer  whatever follows (unprotectedAttrs; for AuthEnvelopedData
 *            the MAC) is gathered (at most max_header bytes) and checked
 *            at finish, where every definite length and end-of-contents
 *            of the frame must add up.
 * The header phase, with the RecipientInfos, is in envelope_header.c,
 * key recovery in envelope_key.c; envelope_reader.h holds the context
 * they share.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "der.h"
#include "envelope_priv.h"
#include "envelope_reader.h"

#define DEF_MAX_HEADER (1024 * 1024)
#define DEF_MAX_RECIPIENTS 64

/* ---- the context ---- */

smime_decrypt_status_t env_fail(smime_decrypt_t *d, smime_decrypt_status_t st,
                                const char *why)
{
    d->state = ST_ERROR;
    d->err = st;
    d->why = why;
    if (d->cipher != NULL)
        env_cipher_clear(d->cipher);
    return st;
}

int env_grow(uint8_t **buf, size_t *cap, size_t need, size_t first,
             size_t max)
{
    size_t c = *cap ? *cap : first;
    uint8_t *nb;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if (c > max)
        c = max;
    if ((nb = realloc(*buf, c)) == NULL)
        return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

smime_decrypt_t *smime_decrypt_new(const smime_decrypt_limits_t *lim,
                                   smime_decrypt_sink_t sink, void *arg)
{
    smime_decrypt_t *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->lim.max_header = lim != NULL && lim->max_header > 0
                        ? lim->max_header : DEF_MAX_HEADER;
    d->lim.max_recipients = lim != NULL && lim->max_recipients > 0
                            ? lim->max_recipients : DEF_MAX_RECIPIENTS;
    d->sink = sink;
    d->arg = arg;
    d->why = "";
    return d;
}

void smime_decrypt_free(smime_decrypt_t *d)
{
    if (d == NULL)
        return;
    if (d->cipher != NULL) {
        env_cipher_clear(d->cipher);
        free(d->cipher);
    }
    free(d->hb);
    free(d->lo);
    free(d->ri);
    free(d->tb);
    free(d);
}

/* ---- content ---- */

/* Pops the segment levels that ended; 1 once the content has ended. */
static int settle(smime_decrypt_t *d)
{
    while (d->seg_rem == 0 && d->thlen == 0 && d->nlv > 0 &&
           !d->lv[d->nlv - 1].indef && d->pos == d->lv[d->nlv - 1].end)
        d->nlv--;
    return d->seg_rem == 0 && d->thlen == 0 && d->nlv == 0;
}

/* One byte of a segment header; 0, or -1 if malformed. */
static int seg_header(smime_decrypt_t *d, uint8_t b)
{
    der_tlv_t t;
    size_t end = 0;
    int r;

    d->th[d->thlen++] = b;
    d->pos++;
    if ((r = der_partial_header(d->th, d->thlen, &t)) == 0)
        return d->thlen < sizeof(d->th) ? 0 : -1;
    d->thlen = 0;
    if (r < 0 || d->pos > d->climit)
        return -1;
    if (t.cls == DER_UNIVERSAL && t.tag == 0) {     /* end-of-contents */
        if (t.constructed || t.vlen != 0 || !d->lv[d->nlv - 1].indef)
            return -1;
        d->nlv--;
        return 0;
    }
    if (t.cls != DER_UNIVERSAL || t.tag != DER_TAG_OCTETS)
        return -1;
    if (!t.indefinite) {
        end = d->pos + t.vlen;
        if (end < d->pos || end > d->climit ||
            (!d->lv[d->nlv - 1].indef && end > d->lv[d->nlv - 1].end))
            return -1;
    }
    if (!t.constructed) {
        d->seg_rem = t.vlen;
        return 0;
    }
    if (d->nlv >= MAX_SEG_DEPTH)
        return -1;
    d->lv[d->nlv].indef = t.indefinite;
    d->lv[d->nlv].end = t.indefinite ? 0 : end;
    d->nlv++;
    return 0;
}

static smime_decrypt_status_t trailer_add(smime_decrypt_t *d,
                                          const uint8_t *p, size_t n)
{
    if (n > d->lim.max_header - d->tlen)
        return env_fail(d, SMIME_DECRYPT_LIMIT, "CMS trailer too large");
    if (env_grow(&d->tb, &d->tcap, d->tlen + n, 256, SIZE_MAX) < 0)
        return env_fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
    memcpy(d->tb + d->tlen, p, n);
    d->tlen += n;
    return SMIME_DECRYPT_OK;
}

static smime_decrypt_status_t content(smime_decrypt_t *d, const uint8_t *p,
                                      size_t n)
{
    smime_decrypt_status_t st;

    while (n > 0 && d->state == ST_CONTENT) {
        if (d->seg_rem > 0) {
            size_t k = n < d->seg_rem ? n : d->seg_rem;
            if (d->climit - d->pos < k)
                return env_fail(d, SMIME_DECRYPT_MALFORMED,
                            "damaged encrypted content");
            st = env_cipher_update(d->cipher, p, k);
            if (st != SMIME_DECRYPT_OK)
                return env_fail(d, st, st == SMIME_DECRYPT_SINK
                            ? "output failed" : "decryption failed");
            d->seg_rem -= k;
            d->pos += k;
            p += k;
            n -= k;
        } else if (settle(d)) {
            d->state = ST_TRAILER;
            d->tstart = d->pos;
        } else if (seg_header(d, *p++) < 0) {
            return env_fail(d, SMIME_DECRYPT_MALFORMED,
                        "damaged encrypted content");
        } else {
            n--;
        }
    }
    if (n > 0 && d->state == ST_TRAILER)
        return trailer_add(d, p, n);
    return d->state == ST_ERROR ? d->err : SMIME_DECRYPT_OK;
}

/* ---- feeding ---- */

/* Feeds what came with the header, once the key is there. */
static smime_decrypt_status_t flush_leftover(smime_decrypt_t *d)
{
    smime_decrypt_status_t st = SMIME_DECRYPT_OK;

    if (d->lo != NULL) {
        st = content(d, d->lo, d->lolen);
        free(d->lo);
        d->lo = NULL;
        d->lolen = 0;
    }
    return st;
}

smime_decrypt_status_t smime_decrypt_feed(smime_decrypt_t *d,
                                          const void *buf, size_t len)
{
    smime_decrypt_status_t st;

    switch (d->state) {
    case ST_HEADER:
        return env_header_feed(d, buf, len);
    case ST_CONTENT: case ST_TRAILER:
        if ((st = flush_leftover(d)) != SMIME_DECRYPT_OK)
            return st;
        return content(d, buf, len);
    case ST_ERROR:
        return d->err;
    default:
        return env_fail(d, SMIME_DECRYPT_STATE, "fed out of order");
    }
}

/* ---- recipients and keys ---- */

size_t smime_decrypt_recipient_count(const smime_decrypt_t *d)
{
    return d->nri;
}

int smime_decrypt_recipient(const smime_decrypt_t *d, size_t i,
                            smime_decrypt_rid_t *rid)
{
    if (i >= d->nri)
        return -1;
    *rid = d->ri[i].rid;
    return 0;
}

static int names(const smime_decrypt_rid_t *rid, gnutls_x509_crt_t cert)
{
    if (rid->kind == SMIME_RI_OTHER)
        return 0;
    if (rid->is_ski)
        return smime_cert_has_ski(cert, rid->ski, rid->ski_len);
    return smime_cert_is_issuer_serial(cert, rid->issuer, rid->issuer_len,
                                       rid->serial, rid->serial_len);
}

int smime_decrypt_names(const smime_decrypt_t *d, gnutls_x509_crt_t cert)
{
    for (size_t i = 0; i < d->nri; i++)
        if (names(&d->ri[i].rid, cert))
            return 1;
    return 0;
}

smime_decrypt_status_t smime_decrypt_unwrap(smime_decrypt_t *d,
                                            gnutls_privkey_t key,
                                            gnutls_x509_crt_t cert)
{
    uint8_t cek[ENV_MAX_KEY];
    const env_ri_t *ri = NULL;
    const char *why = "";
    smime_decrypt_status_t st;

    if (d->state != ST_NEED_KEY)
        return d->state == ST_ERROR ? d->err
               : env_fail(d, SMIME_DECRYPT_STATE, "no header to unwrap for");
    for (size_t i = 0; i < d->nri && ri == NULL; i++)
        if (names(&d->ri[i].rid, cert))
            ri = &d->ri[i];
    if (ri == NULL) {       /* not sticky: the caller may try another key */
        d->why = "no RecipientInfo for the key";
        return SMIME_DECRYPT_NO_RECIPIENT;
    }
    switch (ri->kalg) {
    case ENV_KT_RSA: case ENV_KT_RSA_OAEP:
        st = env_unwrap_rsa(ri, key, cek, d->calg->keylen, &why);
        break;
    case ENV_KA_ECDH:
        st = env_unwrap_ecdh(ri, key, cek, d->calg->keylen, &why);
        break;
    default:
        st = SMIME_DECRYPT_UNSUPPORTED;
        why = ri->rid.kind == SMIME_RI_KEY_AGREEMENT
              ? "unsupported key agreement" : "unsupported key transport";
    }
    if (st == SMIME_DECRYPT_OK) {
        /* not calloc: env_cipher_init sets every field but out[], of
         * which env_cipher_clear wipes what was written */
        if ((d->cipher = malloc(sizeof(*d->cipher))) == NULL) {
            st = SMIME_DECRYPT_NOMEM;
            why = "out of memory";
        } else {
            st = env_cipher_init(d->cipher, d->calg, cek, d->hb + d->iv_off,
                                 d->ivlen, d->sink, d->arg);
            why = "unsupported content encryption";
        }
    }
    gnutls_memset(cek, 0, sizeof(cek));
    if (st != SMIME_DECRYPT_OK)
        return env_fail(d, st, why);
    d->state = ST_CONTENT;
    return SMIME_DECRYPT_OK;
}

/* ---- the end ---- */

/* Closes frame i at cursor c (trailer bytes): its end-of-contents, or
 * its definite end must be exactly here. */
static int close_frame(const smime_decrypt_t *d, der_cur_t *c, unsigned i)
{
    if (d->findef[i]) {
        if (c->end - c->p < 2 || c->p[0] != 0 || c->p[1] != 0)
            return -1;
        c->p += 2;
        return 0;
    }
    return d->tstart + (size_t)(c->p - d->tb) == d->fend[i] ? 0 : -1;
}

/* An OPTIONAL element of the trailer: 1, 0 absent (also when the next
 * octets are an end-of-contents, which der_optional calls malformed). */
static int t_optional(der_cur_t *c, unsigned long tag, der_tlv_t *t)
{
    if (c->end - c->p >= 2 && c->p[0] == 0 && c->p[1] == 0)
        return 0;
    return der_optional(c, DER_CONTEXT, tag, t);
}

/* unprotectedAttrs, or authAttrs + mac + unauthAttrs, up to the end. */
static smime_decrypt_status_t trailer(smime_decrypt_t *d, uint8_t *mac,
                                      size_t *maclen)
{
    der_cur_t c;
    der_tlv_t t;
    int r;

    der_cur_init(&c, d->tb, d->tlen);
    if (close_frame(d, &c, 3) < 0)
        goto bad;
    if ((r = t_optional(&c, 1, &t)) < 0)
        goto bad;
    if (r == 1 && d->auth)
        return env_fail(d, SMIME_DECRYPT_UNSUPPORTED,
                        "authenticated attributes");
    if (d->auth) {
        if (der_expect(&c, DER_UNIVERSAL, DER_TAG_OCTETS, &t) < 0 ||
            t.constructed || t.vlen != d->icvlen)
            goto bad;
        memcpy(mac, t.val, t.vlen);
        *maclen = t.vlen;
        if (t_optional(&c, 2, &t) < 0)
            goto bad;
    }
    if (close_frame(d, &c, 2) < 0 || close_frame(d, &c, 1) < 0 ||
        close_frame(d, &c, 0) < 0 || !der_cur_empty(&c))
        goto bad;
    return SMIME_DECRYPT_OK;
bad:
    return env_fail(d, SMIME_DECRYPT_MALFORMED,
                    "damaged CMS after the content");
}

smime_decrypt_status_t smime_decrypt_finish(smime_decrypt_t *d)
{
    uint8_t mac[16];
    size_t maclen = 0;
    smime_decrypt_status_t st;

    if (d->state == ST_ERROR)
        return d->err;
    if (d->state == ST_HEADER || d->state == ST_NEED_KEY)
        return env_fail(d, d->state == ST_HEADER ? SMIME_DECRYPT_MALFORMED
                    : SMIME_DECRYPT_STATE, d->state == ST_HEADER
                    ? "truncated CMS" : "finished without a key");
    if (d->state == ST_DONE)
        return SMIME_DECRYPT_OK;
    if ((st = flush_leftover(d)) != SMIME_DECRYPT_OK)
        return st;
    if (d->state == ST_CONTENT) {
        if (!settle(d))
            return env_fail(d, SMIME_DECRYPT_MALFORMED, "truncated CMS");
        d->state = ST_TRAILER;
        d->tstart = d->pos;
    }
    if ((st = trailer(d, mac, &maclen)) != SMIME_DECRYPT_OK)
        return st;
    st = env_cipher_final(d->cipher, mac, maclen);
    if (st != SMIME_DECRYPT_OK)
        return env_fail(d, st, st == SMIME_DECRYPT_SINK ? "output failed"
                    : "decryption failed");
    env_cipher_clear(d->cipher);
    d->state = ST_DONE;
    d->why = "";
    return SMIME_DECRYPT_OK;
}

const char *smime_decrypt_error(const smime_decrypt_t *d)
{
    return d->why;
}

const char *smime_decrypt_cipher(const smime_decrypt_t *d)
{
    return d->calg != NULL ? d->calg->name : "";
}

int smime_decrypt_is_aead(const smime_decrypt_t *d)
{
    return d->auth;
}

const char *smime_decrypt_status_name(smime_decrypt_status_t s)
{
    static const char *const n[] = {
        "ok", "need key", "not enveloped", "malformed", "limit",
        "unsupported", "no recipient", "key", "unavailable", "failed",
        "sink",
        "out of memory", "state"
    };
    return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}
