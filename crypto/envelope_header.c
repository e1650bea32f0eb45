/*
 * envelope_header.c - the header phase of the EnvelopedData /
 * AuthEnvelopedData reader (envelope.c): the stream from offset 0 up to
 * the first octet of encryptedContent is gathered (at most max_header
 * bytes) and walked element by element with der.h's streaming readers
 * (der_partial*), which tell "more bytes needed" from "malformed"; the
 * content algorithm with its IV or nonce is taken, the encryptedContent
 * tokenizer set up, and once the header is whole its RecipientInfos
 * (key transport, key agreement, others noted) are parsed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "algs.h"
#include "der.h"
#include "envelope_priv.h"
#include "envelope_reader.h"

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
        return env_fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
    if (calg_of(&oid, &d->calg_v) < 0 || (d->calg_v.block == 0) != d->auth)
        return env_fail(d, SMIME_DECRYPT_UNSUPPORTED,
                    "unsupported content encryption");
    d->calg = &d->calg_v;
    if (d->calg->block != 0) {                  /* CBC: the IV */
        if (der_expect(&c, DER_UNIVERSAL, DER_TAG_OCTETS, &par) < 0 ||
            par.constructed || par.vlen != d->calg->block)
            return env_fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
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
        return env_fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
    d->icvlen = 12;
    if (der_optional(&g, DER_UNIVERSAL, DER_TAG_INTEGER, &icv) == 1) {
        long v = der_small_int(&icv);
        if (v < 12 || v > 16)
            return env_fail(d, SMIME_DECRYPT_UNSUPPORTED,
                        "unsupported content encryption");
        d->icvlen = (size_t)v;
    }
    if (n.vlen != 12)      /* GnuTLS takes only the RFC 5084 default */
        return env_fail(d, SMIME_DECRYPT_UNSUPPORTED,
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
        return env_fail(d, SMIME_DECRYPT_UNSUPPORTED, "detached content");
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
                env_fail(d, SMIME_DECRYPT_NOT_ENVELOPED,
                         "not CMS EnvelopedData");
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
        env_fail(d, SMIME_DECRYPT_MALFORMED, "damaged CMS header");
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
        return env_fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
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
            return env_fail(d, SMIME_DECRYPT_LIMIT, "too many RecipientInfos");
        if (r < 0)
            break;
    }
    if (r < 0)
        return env_fail(d, SMIME_DECRYPT_MALFORMED, "damaged RecipientInfo");
    if (d->nri == 0)
        return env_fail(d, SMIME_DECRYPT_MALFORMED, "no RecipientInfo");
    return SMIME_DECRYPT_OK;
}

/* ---- feeding ---- */

smime_decrypt_status_t env_header_feed(smime_decrypt_t *d,
                                   const uint8_t *p, size_t n)
{
    while (n > 0 && d->state == ST_HEADER) {
        size_t k = d->lim.max_header + 1 - d->hlen;
        if (k > n)
            k = n;
        if (env_grow(&d->hb, &d->hcap, d->hlen + k, 4096,
                     d->lim.max_header + 1) < 0)
            return env_fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
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
            return env_fail(d, SMIME_DECRYPT_LIMIT, "CMS header too large");
    }
    if (d->state != ST_NEED_KEY)
        return SMIME_DECRYPT_OK;
    /* The header ends at hoff: what follows goes to the content later. */
    size_t rest = d->hlen - d->hoff;
    if (rest + n > 0) {
        if ((d->lo = malloc(rest + n)) == NULL)
            return env_fail(d, SMIME_DECRYPT_NOMEM, "out of memory");
        memcpy(d->lo, d->hb + d->hoff, rest);
        memcpy(d->lo + rest, p, n);
        d->lolen = rest + n;
    }
    d->hlen = d->hoff;
    if (parse_recipients(d) != SMIME_DECRYPT_OK)
        return d->err;
    return SMIME_DECRYPT_NEED_KEY;
}
