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
 * Key recovery is in envelope_key.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "algs.h"
#include "der.h"
#include "envelope_priv.h"

#define DEF_MAX_HEADER (1024 * 1024)
#define DEF_MAX_RECIPIENTS 64
#define MAX_SEG_DEPTH 8
#define NFRAME 4        /* ContentInfo, [0], (Auth)EnvelopedData, ECI */

/* ---- algorithms: the rows of the one table (algs.c) ---- */

/* The content-encryption algorithms decrypted here (SPEC Decryption). */
static const enum smime_alg_id content_algs[] = {
    SMIME_ALG_AES128_CBC, SMIME_ALG_AES192_CBC, SMIME_ALG_AES256_CBC,
    SMIME_ALG_AES128_GCM, SMIME_ALG_AES256_GCM, SMIME_ALG_DES_EDE3_CBC,
};

/* The table row of OID t of that kind, or NULL. */
static const struct smime_alg *alg_of(enum smime_alg_kind kind,
                                      const der_tlv_t *t)
{
    if (t->cls != DER_UNIVERSAL || t->tag != DER_TAG_OID || t->constructed)
        return NULL;
    return smime_alg_by_oid(kind, t->val, t->vlen);
}

/* A supported content algorithm as the cipher code wants it, or -1. */
static int calg_of(const der_tlv_t *t, env_calg_t *out)
{
    const struct smime_alg *a = alg_of(SMIME_ALG_KIND_CIPHER, t);

    for (size_t i = 0; a != NULL && i < sizeof(content_algs) /
                                        sizeof(content_algs[0]); i++)
        if (a->id == content_algs[i])
            return env_calg_from(a, out);
    return -1;
}

/* ---- the context ---- */

enum state { ST_HEADER, ST_NEED_KEY, ST_CONTENT, ST_TRAILER, ST_DONE,
             ST_ERROR };
enum hstep { H_CI, H_TYPE, H_EXPLICIT, H_SEQ, H_VERSION, H_ORIGINATOR,
             H_RIS, H_ECI, H_CTYPE, H_CALG, H_ECONTENT };

struct smime_decrypt {
    smime_decrypt_limits_t lim;
    smime_decrypt_sink_t sink;
    void *arg;
    enum state state;
    smime_decrypt_status_t err;
    const char *why;
    int auth;                       /* AuthEnvelopedData */
    const env_calg_t *calg;         /* &calg_v once known */
    env_calg_t calg_v;
    size_t iv_off, ivlen, icvlen;   /* IV or nonce: hb[iv_off..] */

    /* header: hb[0..hlen) is the stream from offset 0 */
    uint8_t *hb;
    size_t hlen, hcap, hoff, retry_at;
    enum hstep step;
    size_t ris_off, ris_len;        /* recipientInfos contents */
    size_t fend[NFRAME];            /* frame ends (absolute), if definite */
    int findef[NFRAME];
    unsigned nframe;
    uint8_t *lo;                    /* content that came with the header */
    size_t lolen;
    env_ri_t *ri;
    size_t nri;

    /* content: segments of encryptedContent */
    size_t pos;                     /* stream offset consumed */
    size_t climit;                  /* innermost definite frame end */
    size_t seg_rem;
    struct { size_t end; int indef; } lv[MAX_SEG_DEPTH];
    unsigned nlv;
    uint8_t th[12];
    size_t thlen;
    env_cipher_t *cipher;

    /* trailer */
    uint8_t *tb;
    size_t tlen, tcap, tstart;
};

static smime_decrypt_status_t fail(smime_decrypt_t *d,
                                   smime_decrypt_status_t st,
                                   const char *why)
{
    d->state = ST_ERROR;
    d->err = st;
    d->why = why;
    if (d->cipher != NULL)
        env_cipher_clear(d->cipher);
    return st;
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

/* ---- header ---- */

/* The innermost definite frame end, or SIZE_MAX. */
static size_t frame_limit(const smime_decrypt_t *d)
{
    for (unsigned i = d->nframe; i-- > 0;)
        if (!d->findef[i])
            return d->fend[i];
    return SIZE_MAX;
}

/* The next element of the header at hoff, whole or (hdr_only) just its
 * identifier and length: 1, 0 more bytes needed, -1 malformed. */
static int h_elem(smime_decrypt_t *d, der_tlv_t *t, int hdr_only)
{
    size_t lim = frame_limit(d), avail = d->hlen - d->hoff;
    int bounded = 0, r;

    if (lim != SIZE_MAX) {
        if (d->hoff > lim)
            return -1;
        if (lim - d->hoff <= avail) {
            avail = lim - d->hoff;
            bounded = 1;
        }
    }
    r = hdr_only ? der_partial_header(d->hb + d->hoff, avail, t)
                 : der_partial(d->hb + d->hoff, avail, d->nframe, t);
    if (r == 0 && bounded)
        return -1;                  /* cut off by its parent's length */
    if (r == 1 && hdr_only && !t->indefinite && lim != SIZE_MAX &&
        t->total > lim - d->hoff)
        return -1;
    if (r == 0) {                   /* when to look again */
        der_tlv_t h;
        size_t grow = d->hlen - d->hoff;
        int hr = der_partial_header(d->hb + d->hoff, avail, &h);
        if (hr == 1 && !h.indefinite)
            d->retry_at = d->hoff + h.total;
        else if (hr == 1 && !hdr_only)
            d->retry_at = d->hlen + (grow > 64 ? grow : 64);
        else        /* a few identifier and length octets: the next byte
                     * may complete them, and the rest of a short message
                     * may be less than any batch (GCM content of a byte) */
            d->retry_at = d->hlen + 1;
    }
    return r;
}

/* Enters a constructed element read with h_elem(hdr_only). */
static int h_push(smime_decrypt_t *d, const der_tlv_t *t)
{
    if (!t->constructed || d->nframe >= NFRAME)
        return -1;
    d->hoff += (size_t)(t->val - t->start);
    d->findef[d->nframe] = t->indefinite;
    d->fend[d->nframe] = t->indefinite ? 0 : d->hoff + t->vlen;
    d->nframe++;
    return 0;
}

/* contentEncryptionAlgorithm: the algorithm, IV or GCM nonce and ICV
 * length. */
static smime_decrypt_status_t h_calg(smime_decrypt_t *d, const der_tlv_t *alg)
{
    der_cur_t top, c, g;
    der_tlv_t oid, par, n, icv;

    der_cur_init(&top, NULL, 0);
    if (der_cur_enter(&top, alg, &c) < 0 ||
        der_expect(&c, DER_UNIVERSAL, DER_TAG_OID, &oid) < 0)
        return fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
    if (calg_of(&oid, &d->calg_v) < 0 || (d->calg_v.block == 0) != d->auth)
        return fail(d, SMIME_DECRYPT_UNSUPPORTED,
                    "unsupported content encryption");
    d->calg = &d->calg_v;
    if (d->calg->block != 0) {                  /* CBC: the IV */
        if (der_expect(&c, DER_UNIVERSAL, DER_TAG_OCTETS, &par) < 0 ||
            par.constructed || par.vlen != d->calg->block)
            return fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
        d->iv_off = (size_t)(par.val - d->hb);
        d->ivlen = par.vlen;
        return SMIME_DECRYPT_OK;
    }
    /* GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING,
     *                              aes-ICVlen INTEGER DEFAULT 12 } */
    if (der_expect(&c, DER_UNIVERSAL, DER_TAG_SEQUENCE, &par) < 0 ||
        der_cur_enter(&c, &par, &g) < 0 ||
        der_expect(&g, DER_UNIVERSAL, DER_TAG_OCTETS, &n) < 0 ||
        n.constructed)
        return fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
    d->icvlen = 12;
    if (der_optional(&g, DER_UNIVERSAL, DER_TAG_INTEGER, &icv) == 1) {
        long v = der_small_int(&icv);
        if (v < 12 || v > 16)
            return fail(d, SMIME_DECRYPT_UNSUPPORTED,
                        "unsupported content encryption");
        d->icvlen = (size_t)v;
    }
    if (n.vlen != 12)      /* GnuTLS takes only the RFC 5084 default */
        return fail(d, SMIME_DECRYPT_UNSUPPORTED,
                    "unsupported content encryption");
    d->iv_off = (size_t)(n.val - d->hb);
    d->ivlen = n.vlen;
    return SMIME_DECRYPT_OK;
}

/* encryptedContent [0] IMPLICIT OCTET STRING: sets up the tokenizer. */
static smime_decrypt_status_t h_econtent(smime_decrypt_t *d,
                                         const der_tlv_t *t)
{
    if (t->cls != DER_CONTEXT || t->tag != 0)
        return fail(d, SMIME_DECRYPT_UNSUPPORTED, "detached content");
    d->hoff += (size_t)(t->val - t->start);
    d->pos = d->hoff;
    d->climit = frame_limit(d);
    if (t->constructed) {
        d->lv[0].indef = t->indefinite;
        d->lv[0].end = t->indefinite ? 0 : d->hoff + t->vlen;
        d->nlv = 1;
    } else {
        d->seg_rem = t->vlen;
    }
    return SMIME_DECRYPT_OK;
}

/* One step of the header walk: 1 done with this step, 0 more bytes
 * needed, -1 failed (d->err set). */
static int h_step(smime_decrypt_t *d)
{
    der_tlv_t t;
    const struct smime_alg *ct;
    int r = -1;

    switch (d->step) {
    case H_CI: case H_EXPLICIT: case H_SEQ: case H_ECI:
        if ((r = h_elem(d, &t, 1)) <= 0)
            break;
        if (d->step == H_EXPLICIT ? t.cls != DER_CONTEXT || t.tag != 0
                                  : t.cls != DER_UNIVERSAL ||
                                    t.tag != DER_TAG_SEQUENCE)
            r = -1;
        else if (h_push(d, &t) < 0)
            r = -1;
        break;
    case H_TYPE:
        if ((r = h_elem(d, &t, 0)) <= 0)
            break;
        ct = alg_of(SMIME_ALG_KIND_CONTENT_TYPE, &t);
        if (ct == NULL || (ct->id != SMIME_ALG_ENVELOPED_DATA &&
                           ct->id != SMIME_ALG_AUTH_ENVELOPED_DATA)) {
            if (t.cls == DER_UNIVERSAL && t.tag == DER_TAG_OID)
                fail(d, SMIME_DECRYPT_NOT_ENVELOPED, "not CMS EnvelopedData");
            return -1;
        }
        d->auth = ct->id == SMIME_ALG_AUTH_ENVELOPED_DATA;
        d->hoff += t.total;
        break;
    case H_VERSION: case H_CTYPE:
        if ((r = h_elem(d, &t, 0)) <= 0)
            break;
        if (t.cls != DER_UNIVERSAL ||
            t.tag != (d->step == H_VERSION ? DER_TAG_INTEGER : DER_TAG_OID))
            r = -1;
        d->hoff += t.total;
        break;
    case H_ORIGINATOR:                          /* [0] OPTIONAL: skipped */
        if ((r = h_elem(d, &t, 0)) <= 0)
            break;
        if (t.cls == DER_CONTEXT && t.tag == 0)
            d->hoff += t.total;
        break;
    case H_RIS:
        if ((r = h_elem(d, &t, 0)) <= 0)
            break;
        if (t.cls != DER_UNIVERSAL || t.tag != DER_TAG_SET || !t.constructed)
            r = -1;
        d->ris_off = (size_t)(t.val - d->hb);
        d->ris_len = t.vlen;
        d->hoff += t.total;
        break;
    case H_CALG:
        if ((r = h_elem(d, &t, 0)) <= 0)
            break;
        if (t.cls != DER_UNIVERSAL || t.tag != DER_TAG_SEQUENCE) {
            r = -1;
            break;
        }
        d->hoff += t.total;
        if (h_calg(d, &t) != SMIME_DECRYPT_OK)
            return -1;
        break;
    case H_ECONTENT:
        /* At the end of the ECI (EOC, or its definite end) the content
         * is absent; h_elem reports the latter as malformed. */
        if ((r = h_elem(d, &t, 1)) <= 0)
            break;
        if (h_econtent(d, &t) != SMIME_DECRYPT_OK)
            return -1;
        break;
    }
    if (r < 0 && d->state != ST_ERROR)
        fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
    return r;
}

/* ---- RecipientInfos ---- */

static int add_ri(smime_decrypt_t *d, const env_ri_t *ri)
{
    if (d->nri >= d->lim.max_recipients)
        return -1;
    d->ri[d->nri++] = *ri;
    return 0;
}

/* issuerAndSerialNumber (SEQUENCE) into rid. */
static int parse_isn(const der_cur_t *parent, const der_tlv_t *t,
                     smime_decrypt_rid_t *rid)
{
    der_cur_t c;
    der_tlv_t name, serial;

    if (t->cls != DER_UNIVERSAL || t->tag != DER_TAG_SEQUENCE ||
        der_cur_enter(parent, t, &c) < 0 ||
        der_expect(&c, DER_UNIVERSAL, DER_TAG_SEQUENCE, &name) < 0 ||
        der_expect(&c, DER_UNIVERSAL, DER_TAG_INTEGER, &serial) < 0 ||
        serial.constructed || serial.vlen == 0 || !der_cur_empty(&c))
        return -1;
    rid->is_ski = 0;
    rid->issuer = name.start;
    rid->issuer_len = name.total;
    rid->serial = serial.val;
    rid->serial_len = serial.vlen;
    return 0;
}

/* A primitive OCTET STRING (or [n] IMPLICIT one). */
static int octets(const der_tlv_t *t, const uint8_t **p, size_t *n)
{
    if (t->constructed)
        return -1;
    *p = t->val;
    *n = t->vlen;
    return 0;
}

/* KeyTransRecipientInfo ::= SEQUENCE { version, rid, keyEncryptionAlgorithm,
 * encryptedKey } */
static int parse_ktri(smime_decrypt_t *d, der_cur_t *c)
{
    env_ri_t ri = { .rid.kind = SMIME_RI_KEY_TRANSPORT };
    der_tlv_t v, rid, alg, oid, ek;
    der_cur_t a;
    const struct smime_alg *ka;

    if (der_expect(c, DER_UNIVERSAL, DER_TAG_INTEGER, &v) < 0 ||
        der_next(c, &rid) != 1)
        return -1;
    if (rid.cls == DER_CONTEXT && rid.tag == 0) {
        if (octets(&rid, &ri.rid.ski, &ri.rid.ski_len) < 0)
            return -1;
        ri.rid.is_ski = 1;
    } else if (parse_isn(c, &rid, &ri.rid) < 0) {
        return -1;
    }
    if (der_expect(c, DER_UNIVERSAL, DER_TAG_SEQUENCE, &alg) < 0 ||
        der_cur_enter(c, &alg, &a) < 0 ||
        der_expect(&a, DER_UNIVERSAL, DER_TAG_OID, &oid) < 0 ||
        der_expect(c, DER_UNIVERSAL, DER_TAG_OCTETS, &ek) < 0 ||
        octets(&ek, &ri.ek, &ri.ek_len) < 0)
        return -1;
    if ((ka = alg_of(SMIME_ALG_KIND_KEY_TRANSPORT, &oid)) != NULL)
        ri.kalg = ka->id == SMIME_ALG_KT_RSA ? ENV_KT_RSA : ENV_KT_RSA_OAEP;
    return add_ri(d, &ri) < 0 ? -2 : 0;
}

/* originator [0] EXPLICIT OriginatorIdentifierOrKey: only
 * originatorKey [1] OriginatorPublicKey (ephemeral-static) is usable. */
static int parse_originator(der_cur_t *c, env_ri_t *ri)
{
    der_tlv_t o, k, alg, bits;
    der_cur_t oc, kc;

    if (der_expect(c, DER_CONTEXT, 0, &o) < 0 || der_cur_enter(c, &o, &oc) < 0 ||
        der_next(&oc, &k) != 1)
        return -1;
    if (k.cls != DER_CONTEXT || k.tag != 1)
        return 0;                                   /* static-static */
    if (der_cur_enter(&oc, &k, &kc) < 0 ||
        der_expect(&kc, DER_UNIVERSAL, DER_TAG_SEQUENCE, &alg) < 0 ||
        der_expect(&kc, DER_UNIVERSAL, DER_TAG_BITSTRING, &bits) < 0 ||
        bits.constructed || bits.vlen < 2 || bits.val[0] != 0)
        return -1;
    ri->opub = bits.val + 1;
    ri->opub_len = bits.vlen - 1;
    return 0;
}

/* KeyAgreeRecipientInfo ::= [1] IMPLICIT SEQUENCE { version, originator,
 * ukm [1] EXPLICIT OPTIONAL, keyEncryptionAlgorithm,
 * recipientEncryptedKeys } : one entry per RecipientEncryptedKey. */
static int parse_kari(smime_decrypt_t *d, der_cur_t *c)
{
    env_ri_t ri = { .rid.kind = SMIME_RI_KEY_AGREEMENT };
    der_tlv_t v, u, uo, alg, oid, wrap, woid, reks, rek, rid, ek;
    der_cur_t a, w, rc, kc, ic;
    const struct smime_alg *ka, *wa;
    int r;

    if (der_expect(c, DER_UNIVERSAL, DER_TAG_INTEGER, &v) < 0 ||
        parse_originator(c, &ri) < 0 ||
        (r = der_optional(c, DER_CONTEXT, 1, &u)) < 0)
        return -1;
    if (r == 1) {
        der_cur_t uc;
        if (der_cur_enter(c, &u, &uc) < 0 ||
            der_expect(&uc, DER_UNIVERSAL, DER_TAG_OCTETS, &uo) < 0 ||
            octets(&uo, &ri.ukm, &ri.ukm_len) < 0)
            return -1;
    }
    if (der_expect(c, DER_UNIVERSAL, DER_TAG_SEQUENCE, &alg) < 0 ||
        der_cur_enter(c, &alg, &a) < 0 ||
        der_expect(&a, DER_UNIVERSAL, DER_TAG_OID, &oid) < 0)
        return -1;
    if ((ka = alg_of(SMIME_ALG_KIND_KEY_AGREEMENT, &oid)) != NULL) {
        ri.kalg = ENV_KA_ECDH;
        ri.kdf = (gnutls_digest_algorithm_t)smime_alg_digest(ka->digest)->gnutls;
    }
    /* parameters: KeyWrapAlgorithm */
    if (der_optional(&a, DER_UNIVERSAL, DER_TAG_SEQUENCE, &wrap) == 1 &&
        der_cur_enter(&a, &wrap, &w) == 0 &&
        der_expect(&w, DER_UNIVERSAL, DER_TAG_OID, &woid) == 0) {
        if ((wa = alg_of(SMIME_ALG_KIND_KEY_WRAP, &woid)) != NULL) {
            ri.wrap_keylen = wa->keylen;
            ri.wrap_oid = woid.val;
            ri.wrap_oid_len = woid.vlen;
        }
    }
    if (ri.opub == NULL)
        ri.kalg = ENV_KA_UNKNOWN;
    if (der_expect(c, DER_UNIVERSAL, DER_TAG_SEQUENCE, &reks) < 0 ||
        der_cur_enter(c, &reks, &rc) < 0)
        return -1;
    while ((r = der_next(&rc, &rek)) == 1) {
        if (rek.cls != DER_UNIVERSAL || rek.tag != DER_TAG_SEQUENCE ||
            der_cur_enter(&rc, &rek, &kc) < 0 || der_next(&kc, &rid) != 1)
            return -1;
        if (rid.cls == DER_CONTEXT && rid.tag == 0) {  /* rKeyId */
            der_tlv_t ski;
            if (der_cur_enter(&kc, &rid, &ic) < 0 ||
                der_expect(&ic, DER_UNIVERSAL, DER_TAG_OCTETS, &ski) < 0 ||
                octets(&ski, &ri.rid.ski, &ri.rid.ski_len) < 0)
                return -1;
            ri.rid.is_ski = 1;
        } else if (parse_isn(&kc, &rid, &ri.rid) < 0) {
            return -1;
        }
        if (der_expect(&kc, DER_UNIVERSAL, DER_TAG_OCTETS, &ek) < 0 ||
            octets(&ek, &ri.ek, &ri.ek_len) < 0)
            return -1;
        if (add_ri(d, &ri) < 0)
            return -2;
    }
    return r;
}

static smime_decrypt_status_t parse_recipients(smime_decrypt_t *d)
{
    der_cur_t set, c;
    der_tlv_t t;
    int r;

    d->ri = calloc(d->lim.max_recipients, sizeof(*d->ri));
    if (d->ri == NULL)
        return fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
    der_cur_init(&set, d->hb + d->ris_off, d->ris_len);
    while ((r = der_next(&set, &t)) == 1) {
        if (t.cls == DER_UNIVERSAL && t.tag == DER_TAG_SEQUENCE &&
            t.constructed) {
            r = der_cur_enter(&set, &t, &c) < 0 ? -1 : parse_ktri(d, &c);
        } else if (t.cls == DER_CONTEXT && t.tag == 1 && t.constructed) {
            r = der_cur_enter(&set, &t, &c) < 0 ? -1 : parse_kari(d, &c);
        } else if (t.cls == DER_CONTEXT && t.tag >= 2 && t.tag <= 4) {
            env_ri_t other = { .rid.kind = SMIME_RI_OTHER };
            r = add_ri(d, &other) < 0 ? -2 : 0;
        } else {
            r = -1;
        }
        if (r == -2)
            return fail(d, SMIME_DECRYPT_LIMIT, "too many RecipientInfos");
        if (r < 0)
            break;
    }
    if (r < 0)
        return fail(d, SMIME_DECRYPT_MALFORMED, "damaged RecipientInfo");
    if (d->nri == 0)
        return fail(d, SMIME_DECRYPT_MALFORMED, "no RecipientInfo");
    return SMIME_DECRYPT_OK;
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
        return fail(d, SMIME_DECRYPT_LIMIT, "CMS trailer too large");
    if (d->tlen + n > d->tcap) {
        size_t cap = d->tcap ? d->tcap : 256;
        while (cap < d->tlen + n)
            cap *= 2;
        uint8_t *nb = realloc(d->tb, cap);
        if (nb == NULL)
            return fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
        d->tb = nb;
        d->tcap = cap;
    }
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
                return fail(d, SMIME_DECRYPT_MALFORMED,
                            "damaged encrypted content");
            st = env_cipher_update(d->cipher, p, k);
            if (st != SMIME_DECRYPT_OK)
                return fail(d, st, st == SMIME_DECRYPT_SINK
                            ? "output failed" : "decryption failed");
            d->seg_rem -= k;
            d->pos += k;
            p += k;
            n -= k;
        } else if (settle(d)) {
            d->state = ST_TRAILER;
            d->tstart = d->pos;
        } else if (seg_header(d, *p++) < 0) {
            return fail(d, SMIME_DECRYPT_MALFORMED,
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

static smime_decrypt_status_t header_feed(smime_decrypt_t *d,
                                          const uint8_t *p, size_t n)
{
    while (n > 0 && d->state == ST_HEADER) {
        size_t k = d->lim.max_header + 1 - d->hlen;
        if (k > n)
            k = n;
        if (d->hlen + k > d->hcap) {
            size_t cap = d->hcap ? d->hcap : 4096;
            while (cap < d->hlen + k)
                cap *= 2;
            if (cap > d->lim.max_header + 1)
                cap = d->lim.max_header + 1;
            uint8_t *nb = realloc(d->hb, cap);
            if (nb == NULL)
                return fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
            d->hb = nb;
            d->hcap = cap;
        }
        memcpy(d->hb + d->hlen, p, k);
        d->hlen += k;
        p += k;
        n -= k;
        if (d->hlen < d->retry_at && d->hlen <= d->lim.max_header)
            continue;
        int r;
        while ((r = h_step(d)) == 1)
            if (d->step++ == H_ECONTENT) {
                d->state = ST_NEED_KEY;
                break;
            }
        if (r < 0)
            return d->err;
        if (d->state == ST_HEADER && d->hlen > d->lim.max_header)
            return fail(d, SMIME_DECRYPT_LIMIT, "CMS header too large");
    }
    if (d->state != ST_NEED_KEY)
        return SMIME_DECRYPT_OK;
    /* The header ends at hoff: what follows goes to the content later. */
    size_t rest = d->hlen - d->hoff;
    if (rest + n > 0) {
        if ((d->lo = malloc(rest + n)) == NULL)
            return fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
        memcpy(d->lo, d->hb + d->hoff, rest);
        memcpy(d->lo + rest, p, n);
        d->lolen = rest + n;
    }
    d->hlen = d->hoff;
    if (parse_recipients(d) != SMIME_DECRYPT_OK)
        return d->err;
    return SMIME_DECRYPT_NEED_KEY;
}

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
        return header_feed(d, buf, len);
    case ST_CONTENT: case ST_TRAILER:
        if ((st = flush_leftover(d)) != SMIME_DECRYPT_OK)
            return st;
        return content(d, buf, len);
    case ST_ERROR:
        return d->err;
    default:
        return fail(d, SMIME_DECRYPT_STATE, "fed out of order");
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
               : fail(d, SMIME_DECRYPT_STATE, "no header to unwrap for");
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
        if ((d->cipher = calloc(1, sizeof(*d->cipher))) == NULL) {
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
        return fail(d, st, why);
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
        return fail(d, SMIME_DECRYPT_UNSUPPORTED, "authenticated attributes");
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
    return fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS after the content");
}

smime_decrypt_status_t smime_decrypt_finish(smime_decrypt_t *d)
{
    uint8_t mac[16];
    size_t maclen = 0;
    smime_decrypt_status_t st;

    if (d->state == ST_ERROR)
        return d->err;
    if (d->state == ST_HEADER || d->state == ST_NEED_KEY)
        return fail(d, d->state == ST_HEADER ? SMIME_DECRYPT_MALFORMED
                    : SMIME_DECRYPT_STATE, d->state == ST_HEADER
                    ? "truncated CMS" : "finished without a key");
    if (d->state == ST_DONE)
        return SMIME_DECRYPT_OK;
    if ((st = flush_leftover(d)) != SMIME_DECRYPT_OK)
        return st;
    if (d->state == ST_CONTENT) {
        if (!settle(d))
            return fail(d, SMIME_DECRYPT_MALFORMED, "truncated CMS");
        d->state = ST_TRAILER;
        d->tstart = d->pos;
    }
    if ((st = trailer(d, mac, &maclen)) != SMIME_DECRYPT_OK)
        return st;
    st = env_cipher_final(d->cipher, mac, maclen);
    if (st != SMIME_DECRYPT_OK)
        return fail(d, st, st == SMIME_DECRYPT_SINK ? "output failed"
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
