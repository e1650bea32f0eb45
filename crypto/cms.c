/*
 * cms.c - CMS SignedData parsing (RFC 5652 §5, RFC 4056 RSASSA-PSS
 * parameters, RFC 5754 SHA-2 and ECDSA, RFC 8419 EdDSA).
 *
 * cms_parse() checks the frame (ContentInfo, SignedData, the
 * encapsulated content, the certificate and SignerInfo sets) and leaves
 * cursors on the certificates and SignerInfos, which are then read one by
 * one, so that one bad SignerInfo spoils only its own result.
 */
#include "config.h"

#include <string.h>

#include "cms.h"

const char *cms_digest_name(cms_digest_t d)
{
    const struct smime_alg *a = smime_alg_digest(d);

    return a ? a->name : "";
}

const char *cms_sigkind_name(cms_sigkind_t k)
{
    const struct smime_alg *a = smime_alg_signature(k, CMS_DIG_NONE);

    return a ? a->name : "";
}

/* 1 if t is the OID of table row id. */
static int oid_eq(const der_tlv_t *t, enum smime_alg_id id)
{
    const struct smime_alg *a = smime_alg(id);

    return der_oid_is(t, a->der, a->derlen);
}

/* The row of that kind for the OID t (read by alg_read), or NULL. */
static const struct smime_alg *oid_row(const der_tlv_t *t,
                                       enum smime_alg_kind kind)
{
    return smime_alg_by_oid(kind, t->val, t->vlen);
}

int cms_oid_is_data(cms_blob_t oid)
{
    const struct smime_alg *a = smime_alg(SMIME_ALG_DATA);

    return oid.n == a->derlen && memcmp(oid.p, a->der, oid.n) == 0;
}

/* AlgorithmIdentifier: the OID, and the parameters if any. */
static int alg_read(der_cur_t *c, der_tlv_t *oid, der_tlv_t *params,
                    der_cur_t *pcur, int *has_params)
{
    der_tlv_t seq;

    if (der_expect(c, DER_UNIVERSAL, DER_TAG_SEQUENCE, &seq) < 0 ||
        der_cur_enter(c, &seq, pcur) < 0 ||
        der_expect(pcur, DER_UNIVERSAL, DER_TAG_OID, oid) < 0)
        return -1;
    *has_params = der_next(pcur, params);
    if (*has_params < 0 || !der_cur_empty(pcur))
        return -1;
    return 0;
}

static cms_digest_t digest_from_oid(const der_tlv_t *oid)
{
    const struct smime_alg *a = oid_row(oid, SMIME_ALG_KIND_DIGEST);

    return a ? a->digest : CMS_DIG_NONE;
}

/* A DigestAlgorithmIdentifier (parameters absent or NULL). */
static cms_status_t digest_read(der_cur_t *c, cms_digest_t *d)
{
    der_tlv_t oid, params;
    der_cur_t pc;
    int has;

    if (alg_read(c, &oid, &params, &pc, &has) < 0)
        return CMS_MALFORMED;
    *d = digest_from_oid(&oid);
    return *d == CMS_DIG_NONE ? CMS_UNSUPPORTED : CMS_OK;
}

/* One [n] EXPLICIT field of RSASSA-PSS-params: cursor on its contents. */
static int pss_field(der_cur_t *c, unsigned n, der_cur_t *in)
{
    der_tlv_t t;
    int r = der_optional(c, DER_CONTEXT, n, &t);

    if (r == 1 && der_cur_enter(c, &t, in) < 0)
        return -1;
    return r;
}

/* RSASSA-PSS-params (RFC 4056): hash, MGF1 hash, salt length. */
static cms_status_t pss_read(const der_cur_t *pc, const der_tlv_t *params,
                             cms_signer_t *si)
{
    cms_digest_t hash = CMS_DIG_SHA1, mgfhash = CMS_DIG_SHA1;
    long salt = 20;
    der_cur_t c, in, mc;
    der_tlv_t oid, mp, t;
    int r, has;

    if (params->tag != DER_TAG_SEQUENCE || der_cur_enter(pc, params, &c) < 0)
        return CMS_MALFORMED;
    if ((r = pss_field(&c, 0, &in)) < 0)
        return CMS_MALFORMED;
    if (r == 1) {
        cms_status_t s = digest_read(&in, &hash);
        if (s != CMS_OK)
            return s;
    }
    if ((r = pss_field(&c, 1, &in)) < 0)
        return CMS_MALFORMED;
    if (r == 1) {
        if (alg_read(&in, &oid, &mp, &mc, &has) < 0 || has != 1)
            return CMS_MALFORMED;
        if (!oid_eq(&oid, SMIME_ALG_MGF1))
            return CMS_UNSUPPORTED;
        der_cur_t one = { mp.start, mp.start + mp.total, mc.depth };
        cms_status_t s = digest_read(&one, &mgfhash);
        if (s != CMS_OK)
            return s;
    }
    if ((r = pss_field(&c, 2, &in)) < 0)
        return CMS_MALFORMED;
    if (r == 1 && (der_next(&in, &t) != 1 || (salt = der_small_int(&t)) < 0))
        return CMS_MALFORMED;
    if ((r = pss_field(&c, 3, &in)) < 0)
        return CMS_MALFORMED;
    if (r == 1 && (der_next(&in, &t) != 1 || der_small_int(&t) != 1))
        return CMS_UNSUPPORTED;
    if (!der_cur_empty(&c))
        return CMS_MALFORMED;
    /* GnuTLS implements MGF1 with the message hash only. */
    if (hash != mgfhash || hash != si->digest)
        return CMS_UNSUPPORTED;
    si->pss_salt_hash = hash;
    si->pss_salt = (unsigned)salt;
    return CMS_OK;
}

static cms_status_t sigalg_read(der_cur_t *c, cms_signer_t *si)
{
    der_tlv_t oid, params;
    der_cur_t pc;
    int has;

    if (alg_read(c, &oid, &params, &pc, &has) < 0)
        return CMS_MALFORMED;
    const struct smime_alg *a = oid_row(&oid, SMIME_ALG_KIND_SIGNATURE);
    if (a == NULL)
        return CMS_UNSUPPORTED;
    si->sigkind = a->sigkind;
    if (a->digest != CMS_DIG_NONE && a->digest != si->digest)
        return CMS_UNSUPPORTED;     /* inconsistent hash algorithms */
    if (si->sigkind == CMS_SIG_RSA_PSS)
        return has ? pss_read(&pc, &params, si) : CMS_MALFORMED;
    return CMS_OK;
}

/* Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }:
 * the single value of a contentType or messageDigest attribute. */
static int attr_single(der_cur_t *a, der_tlv_t *val)
{
    der_tlv_t set;
    der_cur_t vs;

    if (der_expect(a, DER_UNIVERSAL, DER_TAG_SET, &set) < 0 ||
        !der_cur_empty(a) || der_cur_enter(a, &set, &vs) < 0 ||
        der_next(&vs, val) != 1 || !der_cur_empty(&vs) || val->constructed)
        return -1;
    return 0;
}

/* The attributes kept for harvesting: where their value goes. */
static cms_blob_t *harvest_attr(const der_tlv_t *type, cms_signer_t *si)
{
    if (oid_eq(type, SMIME_ALG_ATTR_SIGNING_TIME))
        return &si->signing_time;
    if (oid_eq(type, SMIME_ALG_ATTR_SMIME_CAPS))
        return &si->caps;
    if (oid_eq(type, SMIME_ALG_ATTR_ENC_KEY_PREF))
        return &si->enc_key_pref;
    return NULL;
}

/* The single value TLV of such an attribute; a second occurrence or a
 * value that is not single spoils it (RFC 5652 11.3 forbids both) but
 * is no reason to reject the signature: nothing is harvested from it. */
static void harvest_value(der_cur_t *a, cms_blob_t *dst)
{
    static const uint8_t spoiled;
    der_tlv_t set, val;
    der_cur_t vs;

    if (dst->p != NULL ||
        der_expect(a, DER_UNIVERSAL, DER_TAG_SET, &set) < 0 ||
        !der_cur_empty(a) || der_cur_enter(a, &set, &vs) < 0 ||
        der_next(&vs, &val) != 1 || !der_cur_empty(&vs)) {
        *dst = (cms_blob_t){ &spoiled, 0 };
        return;
    }
    *dst = (cms_blob_t){ val.start, val.total };
}

static cms_status_t attrs_read(const der_cur_t *c, const der_tlv_t *set,
                               cms_signer_t *si)
{
    der_cur_t in, a;
    der_tlv_t attr, type, val;
    int r;

    si->content_type.p = si->message_digest.p = NULL;
    si->signing_time.p = si->caps.p = si->enc_key_pref.p = NULL;
    if (der_cur_enter(c, set, &in) < 0)
        return CMS_MALFORMED;
    while ((r = der_next(&in, &attr)) == 1) {
        if (attr.cls != DER_UNIVERSAL || attr.tag != DER_TAG_SEQUENCE ||
            der_cur_enter(&in, &attr, &a) < 0 ||
            der_expect(&a, DER_UNIVERSAL, DER_TAG_OID, &type) < 0)
            return CMS_MALFORMED;
        cms_blob_t *dst = NULL;
        unsigned long want = 0;
        if ((dst = harvest_attr(&type, si)) != NULL) {
            harvest_value(&a, dst);
            continue;
        }
        if (oid_eq(&type, SMIME_ALG_ATTR_CONTENT_TYPE)) {
            dst = &si->content_type;
            want = DER_TAG_OID;
        } else if (oid_eq(&type, SMIME_ALG_ATTR_MESSAGE_DIGEST)) {
            dst = &si->message_digest;
            want = DER_TAG_OCTETS;
        }
        if (dst == NULL)
            continue;
        if (dst->p != NULL || attr_single(&a, &val) < 0 ||
            val.cls != DER_UNIVERSAL || val.tag != want)
            return CMS_MALFORMED;       /* repeated or not one value */
        dst->p = val.val;
        dst->n = val.vlen;
    }
    cms_blob_t *kept[] = { &si->signing_time, &si->caps, &si->enc_key_pref };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (kept[i]->n == 0)
            kept[i]->p = NULL;
    /* RFC 5652 §5.3: both are required when there are signed attributes. */
    if (r < 0 || si->content_type.p == NULL || si->message_digest.p == NULL)
        return CMS_MALFORMED;
    return CMS_OK;
}

static cms_status_t sid_read(der_cur_t *c, cms_signer_t *si)
{
    der_tlv_t t, name, serial;
    der_cur_t in;

    if (der_next(c, &t) != 1)
        return CMS_MALFORMED;
    if (t.cls == DER_CONTEXT && t.tag == 0 && !t.constructed) {
        si->sid_is_ski = 1;
        si->ski = (cms_blob_t){ t.val, t.vlen };
        return CMS_OK;
    }
    if (t.cls != DER_UNIVERSAL || t.tag != DER_TAG_SEQUENCE ||
        der_cur_enter(c, &t, &in) < 0 ||
        der_expect(&in, DER_UNIVERSAL, DER_TAG_SEQUENCE, &name) < 0 ||
        der_expect(&in, DER_UNIVERSAL, DER_TAG_INTEGER, &serial) < 0 ||
        serial.constructed || !der_cur_empty(&in))
        return CMS_MALFORMED;
    si->issuer = (cms_blob_t){ name.start, name.total };
    si->serial = (cms_blob_t){ serial.val, serial.vlen };
    return CMS_OK;
}

static cms_status_t signer_read(const der_cur_t *c, const der_tlv_t *seq,
                                cms_signer_t *si)
{
    der_cur_t in;
    der_tlv_t t;
    cms_status_t s;
    int r;

    if (der_cur_enter(c, seq, &in) < 0 ||
        der_expect(&in, DER_UNIVERSAL, DER_TAG_INTEGER, &t) < 0 ||
        (s = sid_read(&in, si)) != CMS_OK)
        return CMS_MALFORMED;
    if ((s = digest_read(&in, &si->digest)) != CMS_OK)
        return s;
    if ((r = der_optional(&in, DER_CONTEXT, 0, &t)) < 0)
        return CMS_MALFORMED;
    if (r == 1) {
        si->has_attrs = 1;
        si->attrs = (cms_blob_t){ t.start, t.total };
        if ((s = attrs_read(&in, &t, si)) != CMS_OK)
            return s;
    }
    if ((s = sigalg_read(&in, si)) != CMS_OK)
        return s;
    if (der_expect(&in, DER_UNIVERSAL, DER_TAG_OCTETS, &t) < 0 ||
        t.constructed)
        return CMS_MALFORMED;
    si->signature = (cms_blob_t){ t.val, t.vlen };
    if (der_optional(&in, DER_CONTEXT, 1, &t) < 0 || !der_cur_empty(&in))
        return CMS_MALFORMED;
    return CMS_OK;
}

int cms_next_signer(cms_signed_t *sd, cms_signer_t *si)
{
    der_tlv_t seq;
    der_cur_t before = sd->signers;
    int r = der_next(&sd->signers, &seq);

    if (r <= 0)
        return r;
    memset(si, 0, sizeof(*si));
    si->digest = si->pss_salt_hash = CMS_DIG_NONE;
    si->status = signer_read(&before, &seq, si);
    return 1;
}

int cms_next_cert(cms_signed_t *sd, cms_blob_t *cert)
{
    der_tlv_t t;
    int r;

    while ((r = der_next(&sd->certs, &t)) == 1) {
        if (t.cls == DER_UNIVERSAL && t.tag == DER_TAG_SEQUENCE) {
            *cert = (cms_blob_t){ t.start, t.total };
            return 1;
        }
    }
    return r;
}

/* ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }:
 * the OID, and a cursor on the content. */
static cms_status_t content_info(der_cur_t *top, der_cur_t *ci)
{
    der_tlv_t seq, oid;

    if (der_expect(top, DER_UNIVERSAL, DER_TAG_SEQUENCE, &seq) < 0 ||
        der_cur_enter(top, &seq, ci) < 0 ||
        der_expect(ci, DER_UNIVERSAL, DER_TAG_OID, &oid) < 0)
        return CMS_MALFORMED;
    return oid_eq(&oid, SMIME_ALG_SIGNED_DATA) ? CMS_OK : CMS_NOT_SIGNED;
}

cms_status_t cms_peek_type(const uint8_t *buf, size_t len)
{
    der_tlv_t seq, oid;
    der_cur_t in;

    if (der_peek_header(buf, len, &seq) < 0 || seq.cls != DER_UNIVERSAL ||
        seq.tag != DER_TAG_SEQUENCE || !seq.constructed)
        return CMS_MALFORMED;
    der_cur_init(&in, seq.val, seq.vlen);
    if (der_expect(&in, DER_UNIVERSAL, DER_TAG_OID, &oid) < 0)
        return CMS_MALFORMED;
    return oid_eq(&oid, SMIME_ALG_SIGNED_DATA) ? CMS_OK : CMS_NOT_SIGNED;
}

/* EncapsulatedContentInfo ::= SEQUENCE { eContentType OID,
 *     eContent [0] EXPLICIT OCTET STRING OPTIONAL } */
static cms_status_t encap_read(der_cur_t *s, cms_signed_t *sd)
{
    der_tlv_t seq, oid, t;
    der_cur_t in, e;
    int r;

    if (der_expect(s, DER_UNIVERSAL, DER_TAG_SEQUENCE, &seq) < 0 ||
        der_cur_enter(s, &seq, &in) < 0 ||
        der_expect(&in, DER_UNIVERSAL, DER_TAG_OID, &oid) < 0 ||
        (r = der_optional(&in, DER_CONTEXT, 0, &t)) < 0)
        return CMS_MALFORMED;
    sd->econtent_type = (cms_blob_t){ oid.val, oid.vlen };
    if (r == 1) {
        if (der_cur_enter(&in, &t, &e) < 0)
            return CMS_MALFORMED;
        sd->econtent_cur = e;
        if (der_expect(&e, DER_UNIVERSAL, DER_TAG_OCTETS,
                       &sd->econtent) < 0 || !der_cur_empty(&e))
            return CMS_MALFORMED;
        sd->has_econtent = 1;
    }
    return der_cur_empty(&in) ? CMS_OK : CMS_MALFORMED;
}

cms_status_t cms_parse(const uint8_t *buf, size_t len, cms_signed_t *sd)
{
    der_cur_t top, ci, c0, s, check;
    der_tlv_t t;
    cms_status_t st;
    int r;

    memset(sd, 0, sizeof(*sd));
    der_cur_init(&top, buf, len);
    if ((st = content_info(&top, &ci)) != CMS_OK)
        return st;
    if (der_expect(&ci, DER_CONTEXT, 0, &t) < 0 ||
        der_cur_enter(&ci, &t, &c0) < 0 || !der_cur_empty(&ci) ||
        der_expect(&c0, DER_UNIVERSAL, DER_TAG_SEQUENCE, &t) < 0 ||
        der_cur_enter(&c0, &t, &s) < 0 ||
        der_expect(&s, DER_UNIVERSAL, DER_TAG_INTEGER, &t) < 0 ||
        der_expect(&s, DER_UNIVERSAL, DER_TAG_SET, &t) < 0 ||
        encap_read(&s, sd) != CMS_OK)
        return CMS_MALFORMED;
    if ((r = der_optional(&s, DER_CONTEXT, 0, &t)) < 0 ||
        (r == 1 && der_cur_enter(&s, &t, &sd->certs) < 0))
        return CMS_MALFORMED;
    if (der_optional(&s, DER_CONTEXT, 1, &t) < 0 ||        /* crls */
        der_expect(&s, DER_UNIVERSAL, DER_TAG_SET, &t) < 0 ||
        der_cur_enter(&s, &t, &sd->signers) < 0 || !der_cur_empty(&s))
        return CMS_MALFORMED;
    check = sd->signers;
    while ((r = der_next(&check, &t)) == 1) {
        if (t.cls != DER_UNIVERSAL || t.tag != DER_TAG_SEQUENCE)
            return CMS_MALFORMED;
        sd->nsigners++;
    }
    if (r < 0 || sd->nsigners == 0)
        return CMS_MALFORMED;
    return CMS_OK;
}
