/*
 * sign.c - write a detached CMS SignedData (RFC 5652) for S/MIME (RFC
 * 8551) while the content streams through.
 *
 * gnutls_pkcs7_sign() wants the whole content in memory, so the structure
 * is assembled here with the DER writer (derw.h) and GnuTLS does only the
 * hashing and the private-key operation:
 *
 *   ContentInfo { signedData, [0] SignedData {
 *     version 1, digestAlgorithms { d }, encapContentInfo { id-data },
 *     certificates [0] { signer, intermediates },
 *     signerInfos { SignerInfo {
 *       version 1, issuerAndSerialNumber, d,
 *       signedAttrs [0] { contentType, signingTime, messageDigest,
 *                         SMIMECapabilities, signingCertificateV2 },
 *       signatureAlgorithm, signature } } } }
 *
 * Everything that does not depend on the message (algorithm identifiers,
 * the signer id, the certificate set, two of the attributes) is encoded
 * once per signer by smime_signer_precompute().  SET OFs are sorted as DER
 * requires (the certificate set and the signed attributes).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "derw.h"
#include "signer_priv.h"

struct smime_sign {
    const smime_signer_t *signer;
    gnutls_hash_hd_t hash;
    time_t when;
    int when_set;
    int finished;
    char error[128];
};

/* The OID of table row id (algs.h), as DER. */
static void
put_oid(derw_t *w, enum smime_alg_id id)
{
    const struct smime_alg *a = smime_alg(id);

    derw_tlv(w, DER_OID, a->der, a->derlen);
}

/* The digest row of a signer's hash; the signer only has SHA-2 ones. */
static const struct smime_alg *
digest_row(gnutls_digest_algorithm_t d)
{
    const struct smime_alg *a = smime_alg_by_gnutls(SMIME_ALG_KIND_DIGEST,
                                                    (int)d);

    return a ? a : smime_alg(SMIME_ALG_SHA256);
}

const char *
smime_sign_micalg(const smime_signer_t *s)
{
    return digest_row(s->dig)->name;
}

const char *
smime_sign_sigalg(const smime_signer_t *s)
{
    return smime_alg_signature(s->kind, CMS_DIG_NONE)->name;
}

/* AlgorithmIdentifier of a SHA-2 hash, parameters absent (RFC 5754). */
static void
put_digest_alg(derw_t *w, gnutls_digest_algorithm_t d)
{
    derw_t a;

    derw_init(&a);
    put_oid(&a, digest_row(d)->id);
    derw_wrap(w, DER_SEQUENCE, &a);
    derw_free(&a);
}

/*
 * signatureAlgorithm.  RSA PKCS#1 v1.5 is written as rsaEncryption with
 * NULL parameters, as OpenSSL, NSS and most mail clients write it (RFC
 * 5754 3.2 allows it; every verifier accepts it).  RSA-PSS carries its
 * parameters in full (RFC 4056): hash, MGF1 with the same hash, salt.
 */
static void
put_sig_alg(derw_t *w, const smime_signer_t *s)
{
    derw_t a, p, t, m;

    derw_init(&a);
    derw_init(&p);
    derw_init(&t);
    derw_init(&m);
    switch (s->kind) {
    case CMS_SIG_RSA:
        put_oid(&a, SMIME_ALG_RSA);
        derw_tlv(&a, DER_NULL, NULL, 0);
        break;
    case CMS_SIG_RSA_PSS:
        put_oid(&a, SMIME_ALG_RSA_PSS);
        put_digest_alg(&t, s->dig);
        derw_wrap(&p, DER_CTXC(0), &t);           /* hashAlgorithm */
        put_oid(&m, SMIME_ALG_MGF1);
        put_digest_alg(&m, s->dig);
        derw_free(&t);
        derw_wrap(&t, DER_SEQUENCE, &m);
        derw_wrap(&p, DER_CTXC(1), &t);           /* maskGenAlgorithm */
        derw_free(&t);
        derw_uint(&t, s->salt);
        derw_wrap(&p, DER_CTXC(2), &t);           /* saltLength */
        derw_wrap(&a, DER_SEQUENCE, &p);
        break;
    case CMS_SIG_ECDSA:
        put_oid(&a, smime_alg_signature(CMS_SIG_ECDSA,
                                        digest_row(s->dig)->digest)->id);
        break;
    case CMS_SIG_ED25519:
        put_oid(&a, SMIME_ALG_ED25519);
        break;
    default:
        a.failed = 1;
        break;
    }
    derw_wrap(w, DER_SEQUENCE, &a);
    derw_free(&a);
    derw_free(&p);
    derw_free(&t);
    derw_free(&m);
}

/* Attribute ::= SEQUENCE { attrType OID, attrValues SET { value } } */
static void
put_attr(derw_t *w, enum smime_alg_id oid, const derw_t *value)
{
    derw_t a, v;

    derw_init(&a);
    derw_init(&v);
    put_oid(&a, oid);
    derw_wrap(&v, DER_SET, value);
    derw_raw(&a, v.buf, v.len);
    derw_wrap(w, DER_SEQUENCE, &a);
    if (derw_failed(&v))
        w->failed = 1;
    derw_free(&a);
    derw_free(&v);
}

/*
 * SMIMECapabilities (RFC 8551 2.5.2), strongest first.  The signer speaks
 * for the sender's mail client, which we do not know: announce only the
 * content-encryption algorithms every current client decrypts (AES-CBC;
 * no AES-GCM/AuthEnvelopedData, which older clients cannot open).
 */
static void
put_caps(derw_t *w)
{
    static const enum smime_alg_id caps[] = {
        SMIME_ALG_AES256_CBC, SMIME_ALG_AES192_CBC, SMIME_ALG_AES128_CBC
    };
    derw_t seq, one, val;

    derw_init(&seq);
    derw_init(&one);
    derw_init(&val);
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        derw_free(&one);
        put_oid(&one, caps[i]);
        derw_wrap(&seq, DER_SEQUENCE, &one);
    }
    derw_wrap(&val, DER_SEQUENCE, &seq);
    put_attr(w, SMIME_ALG_ATTR_SMIME_CAPS, &val);
    derw_free(&seq);
    derw_free(&one);
    derw_free(&val);
}

/*
 * signingCertificateV2 (RFC 5035): SEQUENCE { SEQUENCE OF ESSCertIDv2 {
 * certHash (SHA-256, the default hashAlgorithm, so omitted),
 * issuerSerial { GeneralNames { [4] directoryName }, serial } } }.
 * It binds the signer certificate into the signature.
 */
static int
put_signing_cert(derw_t *w, gnutls_x509_crt_t crt, const gnutls_datum_t *dn,
                 const gnutls_datum_t *serial)
{
    gnutls_datum_t der = { NULL, 0 };
    unsigned char hash[32];
    derw_t id, is, gn, t;

    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
        return -1;
    int ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, hash);
    gnutls_free(der.data);
    if (ret < 0)
        return -1;
    derw_init(&id);
    derw_init(&is);
    derw_init(&gn);
    derw_init(&t);
    derw_tlv(&id, DER_OCTETSTRING, hash, sizeof(hash));
    derw_tlv(&gn, DER_CTXC(4), dn->data, dn->size);
    derw_wrap(&is, DER_SEQUENCE, &gn);
    derw_tlv(&is, DER_INTEGER, serial->data, serial->size);
    derw_wrap(&id, DER_SEQUENCE, &is);           /* issuerSerial */
    derw_wrap(&t, DER_SEQUENCE, &id);            /* ESSCertIDv2 */
    derw_free(&gn);
    derw_wrap(&gn, DER_SEQUENCE, &t);            /* certs */
    derw_free(&t);
    derw_wrap(&t, DER_SEQUENCE, &gn);            /* SigningCertificateV2 */
    put_attr(w, SMIME_ALG_ATTR_SIGNING_CERT_V2, &t);
    derw_free(&id);
    derw_free(&is);
    derw_free(&gn);
    derw_free(&t);
    return 0;
}

/* The certificate set: [0] IMPLICIT SET OF Certificate, sorted. */
static void
put_certset(derw_t *w, const smime_signer_t *s)
{
    derw_t *el = calloc(s->ncrts, sizeof(*el));

    if (el == NULL) {
        w->failed = 1;
        return;
    }
    for (size_t i = 0; i < s->ncrts; i++) {
        gnutls_datum_t der = { NULL, 0 };
        derw_init(&el[i]);
        if (gnutls_x509_crt_export2(s->crts[i], GNUTLS_X509_FMT_DER, &der) < 0)
            el[i].failed = 1;
        else
            derw_raw(&el[i], der.data, der.size);
        gnutls_free(der.data);
    }
    derw_set_of(w, DER_CTXC(0), el, s->ncrts);
    for (size_t i = 0; i < s->ncrts; i++)
        derw_free(&el[i]);
    free(el);
}

int
smime_signer_precompute(struct smime_signer *s, char *err, size_t errlen)
{
    gnutls_datum_t dn = { NULL, 0 }, serial = { NULL, 0 };
    unsigned char sbuf[64];
    size_t slen = sizeof(sbuf);
    derw_t w, sid;
    int ok = 1;

    if (gnutls_x509_crt_get_raw_issuer_dn(s->crts[0], &dn) < 0 ||
        gnutls_x509_crt_get_serial(s->crts[0], sbuf, &slen) < 0) {
        gnutls_free(dn.data);
        snprintf(err, errlen, "cannot read the certificate's issuer/serial");
        return -1;
    }
    serial.data = sbuf;
    serial.size = (unsigned)slen;

    derw_init(&w);
    put_digest_alg(&w, s->dig);
    s->digest_alg = derw_take(&w, &s->digest_alg_len);
    put_sig_alg(&w, s);
    s->sig_alg = derw_take(&w, &s->sig_alg_len);
    derw_init(&sid);
    derw_raw(&sid, dn.data, dn.size);
    derw_tlv(&sid, DER_INTEGER, serial.data, serial.size);
    derw_wrap(&w, DER_SEQUENCE, &sid);
    derw_free(&sid);
    s->sid = derw_take(&w, &s->sid_len);
    put_certset(&w, s);
    s->certset = derw_take(&w, &s->certset_len);
    put_caps(&w);
    s->attr_caps = derw_take(&w, &s->attr_caps_len);
    if (put_signing_cert(&w, s->crts[0], &dn, &serial) < 0)
        ok = 0;
    s->attr_scv2 = derw_take(&w, &s->attr_scv2_len);
    gnutls_free(dn.data);

    if (!ok || !s->digest_alg || !s->sig_alg || !s->sid || !s->certset ||
        !s->attr_caps || !s->attr_scv2) {
        snprintf(err, errlen, "cannot encode the signer's certificates");
        return -1;
    }
    return 0;
}

smime_sign_t *
smime_sign_new(const smime_signer_t *signer)
{
    smime_sign_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->signer = signer;
    if (gnutls_hash_init(&s->hash, signer->dig) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void
smime_sign_free(smime_sign_t *s)
{
    if (s == NULL)
        return;
    if (s->hash)
        gnutls_hash_deinit(s->hash, NULL);
    free(s);
}

void
smime_sign_set_time(smime_sign_t *s, time_t t)
{
    s->when = t;
    s->when_set = 1;
}

int
smime_sign_update(smime_sign_t *s, const void *buf, size_t len)
{
    if (s->finished || s->hash == NULL)
        return -1;
    return gnutls_hash(s->hash, buf, len) < 0 ? -1 : 0;
}

const char *
smime_sign_error(const smime_sign_t *s)
{
    return s->error;
}

/* The signed attributes, each a complete Attribute encoding. */
static void
make_attrs(derw_t attrs[5], const smime_signer_t *sg, const unsigned char *md,
           size_t mdlen, time_t when)
{
    derw_t v;

    for (int i = 0; i < 5; i++)
        derw_init(&attrs[i]);
    derw_init(&v);
    put_oid(&v, SMIME_ALG_DATA);
    put_attr(&attrs[0], SMIME_ALG_ATTR_CONTENT_TYPE, &v);
    derw_free(&v);
    derw_time(&v, when);
    put_attr(&attrs[1], SMIME_ALG_ATTR_SIGNING_TIME, &v);
    derw_free(&v);
    derw_tlv(&v, DER_OCTETSTRING, md, mdlen);
    put_attr(&attrs[2], SMIME_ALG_ATTR_MESSAGE_DIGEST, &v);
    derw_free(&v);
    derw_raw(&attrs[3], sg->attr_caps, sg->attr_caps_len);
    derw_raw(&attrs[4], sg->attr_scv2, sg->attr_scv2_len);
}

/* SignedData around the SignerInfo, then the ContentInfo around that. */
static void
put_content_info(derw_t *w, const smime_signer_t *sg, const derw_t *si)
{
    derw_t sd, t, u;

    derw_init(&sd);
    derw_init(&t);
    derw_init(&u);
    derw_uint(&sd, 1);                                   /* version */
    derw_tlv(&sd, DER_SET, sg->digest_alg, sg->digest_alg_len);
    put_oid(&t, SMIME_ALG_DATA);
    derw_wrap(&sd, DER_SEQUENCE, &t);                    /* no eContent */
    derw_raw(&sd, sg->certset, sg->certset_len);
    derw_wrap(&sd, DER_SET, si);                         /* signerInfos */
    derw_free(&t);
    derw_wrap(&t, DER_SEQUENCE, &sd);
    put_oid(&u, SMIME_ALG_SIGNED_DATA);
    derw_wrap(&u, DER_CTXC(0), &t);
    derw_wrap(w, DER_SEQUENCE, &u);
    derw_free(&sd);
    derw_free(&t);
    derw_free(&u);
}

int
smime_sign_finish(smime_sign_t *s, unsigned char **der, size_t *len)
{
    const smime_signer_t *sg = s->signer;
    unsigned char md[64];
    derw_t attrs[5], tbs, si, body, out;
    gnutls_datum_t sig = { NULL, 0 };
    int ret = -1;

    *der = NULL;
    *len = 0;
    if (s->finished || s->hash == NULL) {
        snprintf(s->error, sizeof(s->error), "signer already finished");
        return -1;
    }
    s->finished = 1;
    gnutls_hash_deinit(s->hash, md);
    s->hash = NULL;

    make_attrs(attrs, sg, md, gnutls_hash_get_len(sg->dig),
               s->when_set ? s->when : time(NULL));
    derw_init(&tbs);
    derw_init(&si);
    derw_init(&body);
    derw_init(&out);
    /* RFC 5652 5.4: the signature covers the DER of the attributes with
     * the SET OF tag; the SignerInfo carries them as [0] IMPLICIT. */
    derw_set_of(&tbs, DER_SET, attrs, 5);
    if (derw_failed(&tbs)) {
        snprintf(s->error, sizeof(s->error), "out of memory");
        goto out;
    }
    gnutls_datum_t data = { tbs.buf, (unsigned)tbs.len };
    int r = gnutls_privkey_sign_data2(sg->key, sg->sign, sg->sign_flags,
                                      &data, &sig);
    if (r < 0) {
        snprintf(s->error, sizeof(s->error), "signing failed: %s",
                 gnutls_strerror(r));
        goto out;
    }
    derw_uint(&body, 1);                                 /* version */
    derw_raw(&body, sg->sid, sg->sid_len);
    derw_raw(&body, sg->digest_alg, sg->digest_alg_len);
    tbs.buf[0] = DER_CTXC(0);
    derw_raw(&body, tbs.buf, tbs.len);
    derw_raw(&body, sg->sig_alg, sg->sig_alg_len);
    derw_tlv(&body, DER_OCTETSTRING, sig.data, sig.size);
    derw_wrap(&si, DER_SEQUENCE, &body);
    put_content_info(&out, sg, &si);
    *der = derw_take(&out, len);
    if (*der == NULL)
        snprintf(s->error, sizeof(s->error), "out of memory");
    else
        ret = 0;
out:
    gnutls_free(sig.data);
    for (int i = 0; i < 5; i++)
        derw_free(&attrs[i]);
    derw_free(&tbs);
    derw_free(&si);
    derw_free(&body);
    derw_free(&out);
    return ret;
}
