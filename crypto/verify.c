/*
 * verify.c - streaming S/MIME (CMS SignedData) verification.
 *
 * Why not gnutls_pkcs7_verify(): in GnuTLS 3.7.9 it folds trust failures
 * into signature failures, returns positive codes on some failures,
 * ignores RSA-PSS parameters, accepts SHA-1, and wants detached content
 * whole in memory.  So the CMS is parsed here (cms.c over der.c, a bounded
 * BER/DER reader), and GnuTLS does what it does well: certificate import,
 * hashing, public-key verification, chain verification (trust.c).
 *
 * The digest algorithm is only known from the CMS, which comes after
 * detached content.  Content up to policy->hold_max is held and hashed
 * at the end with the digests the SignerInfos name; larger content is
 * hashed as it arrives with every digest we support at once, so a
 * message of any size verifies in constant memory.  The CMS itself is
 * kept in memory up to policy->max_cms_size; for opaque signed-data that
 * includes the content, so opaque messages are verified in memory up to
 * that limit.
 *
 * Per SignerInfo the checks run in this order, and the first that fails
 * decides the result: malformed/unsupported (permerror), the signature
 * over the signed attributes, then contentType and messageDigest against
 * the content (fail), the chain to a trust anchor with CRLs (fail), the
 * RFC 8550 signer-certificate rules (fail), local policy (policy), a
 * degraded trust store (temperror).  The signature is checked before the
 * digest so that a changed signed attribute reads "bad signature" and
 * only a changed content reads "content altered".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "cert.h"
#include "certcache.h"
#include "cms.h"
#include "verify.h"

#define PEEK_BYTES  64            /* kept of an oversized CMS: its type */
#define PICKS_MAX   16

/* What harvesting would store of one signer (smime_verify_harvest). */
struct pick {
    int ok;                       /* a certificate to store */
    size_t cert;                  /* its index in der */
    cms_blob_t caps;              /* SMIMECapabilities TLV, p may be NULL */
    int64_t signing_time;         /* 0: none */
    const char *why;              /* !ok: why not */
};

struct smime_verify {
    const smime_trust_t *trust;
    const smime_policy_t *policy;
    int detached;
    int error;                    /* an internal error happened */
    int too_large;
    int want_harvest;             /* smime_verify_want_harvest() */
    gnutls_hash_hd_t hash[CMS_DIG_COUNT];
    uint8_t *held;                /* detached content not hashed yet */
    size_t heldlen, heldcap;
    int streaming;                /* content hashed as it comes (all digests) */
    uint8_t *cms;
    size_t cmslen, cmscap;
    /* for smime_verify_harvest: blobs point into cms */
    cms_blob_t *der;              /* DER of each certificate in certs */
    size_t nder;
    struct pick picks[PICKS_MAX]; /* per result of finish() */
    size_t npicks;
    const unsigned char **chain;  /* the last smime_verify_harvest() */
    size_t *chain_len;
};

/* The GnuTLS hash of digest index d (algs.h). */
static gnutls_digest_algorithm_t gnutls_digest(cms_digest_t d)
{
    return (gnutls_digest_algorithm_t)smime_alg_digest(d)->gnutls;
}

void smime_policy_default(smime_policy_t *p)
{
    p->require_from_match = 1;
    p->allow_sha1 = 0;
    p->min_rsa_bits = 2048;
    p->max_signers = 8;
    p->max_certs = 32;
    p->max_chain = 8;
    p->max_cms_size = 64u << 20;
    p->hold_max = SMIME_VERIFY_HOLD_MAX;
}

#define ALL_DIGESTS ((1u << CMS_DIG_COUNT) - 1)

/* Starts the hash of each digest in the bit set want. */
static int hashes_init(smime_verify_t *v, unsigned want)
{
    for (int i = 0; i < CMS_DIG_COUNT; i++)
        if ((want & 1u << i) &&
            gnutls_hash_init(&v->hash[i], gnutls_digest(i)) < 0) {
            v->hash[i] = NULL;
            return -1;
        }
    return 0;
}

static int hashes_feed(void *arg, const uint8_t *p, size_t n)
{
    smime_verify_t *v = arg;

    for (int i = 0; i < CMS_DIG_COUNT; i++)
        if (v->hash[i] != NULL && gnutls_hash(v->hash[i], p, n) < 0)
            return -1;
    return 0;
}

/* Finishes every hash into out[i] (64 bytes each). */
static void hashes_done(smime_verify_t *v, uint8_t out[][64])
{
    for (int i = 0; i < CMS_DIG_COUNT; i++) {
        if (v->hash[i] != NULL)
            gnutls_hash_deinit(v->hash[i], out ? out[i] : NULL);
        v->hash[i] = NULL;
    }
}

smime_verify_t *smime_verify_new(const smime_trust_t *trust,
                                 const smime_policy_t *policy, int detached)
{
    smime_verify_t *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    v->trust = trust;
    v->policy = policy;
    v->detached = detached;
    return v;
}

void smime_verify_free(smime_verify_t *v)
{
    if (v == NULL)
        return;
    hashes_done(v, NULL);
    free(v->held);
    free(v->cms);
    free(v->der);
    free(v->chain);
    free(v->chain_len);
    free(v);
}

int smime_verify_content(smime_verify_t *v, const void *buf, size_t len)
{
    if (!v->detached || len == 0)
        return 0;                 /* opaque: the content is in the CMS */
    if (v->error)
        return -1;
    if (!v->streaming && v->heldlen <= v->policy->hold_max &&
        len <= v->policy->hold_max - v->heldlen) {
        if (v->heldlen + len > v->heldcap) {
            size_t cap = v->heldcap ? v->heldcap : 8192;
            while (cap < v->heldlen + len)
                cap *= 2;
            uint8_t *n = realloc(v->held, cap);
            if (n == NULL)
                goto fail;
            v->held = n;
            v->heldcap = cap;
        }
        memcpy(v->held + v->heldlen, buf, len);
        v->heldlen += len;
        return 0;
    }
    if (!v->streaming) {          /* too large to hold: every digest */
        v->streaming = 1;
        if (hashes_init(v, ALL_DIGESTS) < 0 ||
            (v->heldlen && hashes_feed(v, v->held, v->heldlen) < 0))
            goto fail;
        free(v->held);
        v->held = NULL;
        v->heldlen = v->heldcap = 0;
    }
    if (hashes_feed(v, buf, len) < 0)
        goto fail;
    return 0;
fail:
    v->error = 1;
    return -1;
}

int smime_verify_cms(smime_verify_t *v, const void *buf, size_t len)
{
    size_t room;

    if (v->too_large) {
        /* Keep only the start, to tell signed-data from the rest. */
        room = v->cmslen < PEEK_BYTES ? PEEK_BYTES - v->cmslen : 0;
        len = len < room ? len : room;
    } else if (len > v->policy->max_cms_size - v->cmslen) {
        v->too_large = 1;
        return smime_verify_cms(v, buf, len);
    }
    if (len == 0)
        return 0;
    if (v->cmslen + len > v->cmscap) {
        size_t cap = v->cmscap ? v->cmscap : 8192;
        while (cap < v->cmslen + len)
            cap *= 2;
        uint8_t *n = realloc(v->cms, cap);
        if (n == NULL) {
            v->error = 1;
            return -1;
        }
        v->cms = n;
        v->cmscap = cap;
    }
    memcpy(v->cms + v->cmslen, buf, len);
    v->cmslen += len;
    return 0;
}

/* What one signer is judged with. */
struct judge {
    smime_verify_t *v;
    const cms_signed_t *sd;
    gnutls_x509_crt_t *certs;     /* ents[i]->crt: the chain pool */
    struct cc_cert **ents;        /* the parsed certificates (certcache.h) */
    unsigned char (*ids)[CERTCACHE_IDLEN];   /* ents[i]->id */
    size_t ncerts;
    uint8_t (*digests)[64];
    const char *const *addrs;
    size_t naddrs;
};

static smime_result_t set(smime_signer_result_t *r, smime_result_t res,
                          const char *reason)
{
    r->result = res;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    return res;
}

/* smime_cert_has_ski() and smime_cert_is_issuer_serial() over the
 * fields the cache entry read. */
static int ent_has_ski(const struct cc_cert *e, const unsigned char *ski,
                       size_t n)
{
    return e->has_ski && e->ski_len == n && memcmp(e->ski, ski, n) == 0;
}

static int ent_is_issuer_serial(const struct cc_cert *e,
                                const unsigned char *issuer, size_t ilen,
                                const unsigned char *serial, size_t slen)
{
    return e->has_serial && e->issuer_raw != NULL &&
           smime_cert_serial_eq(serial, slen, e->serial, e->serial_len) &&
           e->issuer_raw_len == ilen && memcmp(e->issuer_raw, issuer, ilen) == 0;
}

static int signer_matches(const cms_signer_t *si, const struct cc_cert *e)
{
    if (si->sid_is_ski)
        return ent_has_ski(e, si->ski.p, si->ski.n);
    return ent_is_issuer_serial(e, si->issuer.p, si->issuer.n,
                                si->serial.p, si->serial.n);
}

/* The signature algorithm GnuTLS should check, for this key. */
static gnutls_sign_algorithm_t sign_algo(const cms_signer_t *si, int pk)
{
    const struct smime_alg *a = smime_alg_signature(si->sigkind,
                                                    CMS_DIG_NONE);

    if (a == NULL || !smime_alg_key_ok(a, pk))
        return GNUTLS_SIGN_UNKNOWN;
    return (gnutls_sign_algorithm_t)
        smime_alg_gnutls_sign(a, gnutls_digest(si->digest));
}

/* RSA-PSS: the hash and salt length come from the CMS parameters.  With
 * GnuTLS 3.7.9, gnutls_pubkey_verify_data2() on a plain RSA key only
 * accepts a salt as long as the hash; setting the SPKI parameters on the
 * key (which also turns an rsaEncryption key into an RSA-PSS one) makes
 * salts of 20 and 64 bytes verify too (tests/check_crypto.c). */
static int pss_params(gnutls_pubkey_t pk, const cms_signer_t *si)
{
    gnutls_x509_spki_t spki;
    int r;

    if (gnutls_x509_spki_init(&spki) < 0)
        return -1;
    gnutls_x509_spki_set_rsa_pss_params(spki, gnutls_digest(si->digest),
                                        si->pss_salt);
    r = gnutls_pubkey_set_spki(pk, spki, 0);
    gnutls_x509_spki_deinit(spki);
    return r;
}

enum sig_outcome { SIG_OK, SIG_BAD, SIG_UNSUPPORTED, SIG_ERROR };

/* The signature with the entry's public key, shared and only read;
 * RSA-PSS sets parameters on a key, so it gets a key of its own. */
static enum sig_outcome sig_check(const cms_signer_t *si,
                                  const struct cc_cert *e, const uint8_t *hash)
{
    gnutls_pubkey_t pk = e->pub, own = NULL;
    gnutls_datum_t sig = { (void *)si->signature.p, (unsigned)si->signature.n };
    enum sig_outcome out = SIG_BAD;
    uint8_t *tbs = NULL;
    int r;

    if (pk == NULL)
        return SIG_BAD;           /* its key cannot be read */
    gnutls_sign_algorithm_t alg = sign_algo(si, e->pk);
    if (alg == GNUTLS_SIGN_UNKNOWN)
        return SIG_BAD;           /* key and algorithm do not go together */
    if (si->sigkind == CMS_SIG_RSA_PSS) {
        if (gnutls_pubkey_init(&own) < 0)
            return SIG_ERROR;
        if (gnutls_pubkey_import_x509(own, e->crt, 0) < 0)
            goto done;
        pk = own;
        if (pss_params(pk, si) < 0) {
            out = SIG_UNSUPPORTED;
            goto done;
        }
    }
    /* SHA-1 is judged by policy later, once the signature is known good. */
    unsigned flags = GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1;
    if (si->has_attrs) {
        /* Signed over the DER of the attributes with the SET tag. */
        if ((tbs = malloc(si->attrs.n)) == NULL) {
            out = SIG_ERROR;
            goto done;
        }
        memcpy(tbs, si->attrs.p, si->attrs.n);
        tbs[0] = 0x31;
        gnutls_datum_t data = { tbs, (unsigned)si->attrs.n };
        r = gnutls_pubkey_verify_data2(pk, alg, flags, &data, &sig);
    } else if (si->sigkind == CMS_SIG_ED25519) {
        /* Pure EdDSA over the content itself: not with streaming. */
        out = SIG_UNSUPPORTED;
        goto done;
    } else {
        gnutls_datum_t h = { (void *)hash,
            gnutls_hash_get_len(gnutls_digest(si->digest)) };
        r = gnutls_pubkey_verify_hash2(pk, alg, flags, &h, &sig);
    }
    if (r >= 0)
        out = SIG_OK;
    else if (r == GNUTLS_E_MEMORY_ERROR)
        out = SIG_ERROR;
    else if (r == GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM)
        out = SIG_UNSUPPORTED;
done:
    free(tbs);
    if (own != NULL)
        gnutls_pubkey_deinit(own);
    return out;
}

/* identifier: the first given address the certificate holds, else the
 * certificate's first address.  Returns 1 if a given address matched,
 * 0 if none did, -1 if the certificate has no address. */
static int identify(const struct cc_cert *e, const char *const *addrs,
                    size_t naddrs, smime_signer_result_t *r)
{
    char *const *list = e->addrs;
    size_t n = e->naddrs;
    int match = n == 0 ? -1 : 0;

    for (size_t i = 0; i < naddrs && match == 0; i++)
        for (size_t j = 0; j < n && match == 0; j++)
            if (addrs[i] != NULL && strcasecmp(addrs[i], list[j]) == 0) {
                snprintf(r->identifier, sizeof(r->identifier), "%s", list[j]);
                match = 1;
            }
    if (match == 0)
        snprintf(r->identifier, sizeof(r->identifier), "%s", list[0]);
    return match;
}

/* contentType and messageDigest against the content. */
static int content_matches(const struct judge *j, const cms_signer_t *si)
{
    size_t len = gnutls_hash_get_len(gnutls_digest(si->digest));

    if (!si->has_attrs)
        return 1;                 /* the signature covered the digest */
    return si->content_type.n == j->sd->econtent_type.n &&
           memcmp(si->content_type.p, j->sd->econtent_type.p,
                  si->content_type.n) == 0 &&
           si->message_digest.n == len &&
           memcmp(si->message_digest.p, j->digests[si->digest], len) == 0;
}

/* A chain that reaches no anchor: the reason names the issuer that is
 * not trusted ("untrusted issuer CN=X", "untrusted root CN=Y"), dn. */
static smime_result_t untrusted_end(enum smime_chain_status ch,
                                    const char *dn, smime_signer_result_t *r)
{
    r->result = SMIME_RESULT_FAIL;
    if (snprintf(r->reason, sizeof(r->reason), "%s%s%s",   /* may be cut */
                 smime_chain_status_string(ch), dn[0] ? " " : "", dn) < 0)
        r->reason[0] = '\0';
    return r->result;
}

/* The certificate and policy checks after a good signature. */
static smime_result_t judge_cert(const struct judge *j, const cms_signer_t *si,
                                 size_t k, int match, smime_signer_result_t *r)
{
    const smime_policy_t *pol = j->v->policy;
    const struct cc_cert *e = j->ents[k];
    enum smime_cert_status cs;
    char dn[sizeof(r->reason)];
    int sha1;
    enum smime_chain_status ch = smime_trust_verify_pool(j->v->trust, k,
            j->certs, (const unsigned char (*)[CERTCACHE_IDLEN])j->ids,
            j->ncerts, pol->max_chain, &sha1, dn, sizeof(dn));

    if (ch == SMIME_CHAIN_ERROR)
        return set(r, SMIME_RESULT_TEMPERROR, "internal error");
    if (ch == SMIME_CHAIN_UNTRUSTED_ROOT || ch == SMIME_CHAIN_UNKNOWN_ISSUER)
        return untrusted_end(ch, dn, r);
    if (ch != SMIME_CHAIN_OK)
        return set(r, SMIME_RESULT_FAIL, smime_chain_status_string(ch));
    if ((cs = e->usage) != SMIME_CERT_OK)
        return set(r, SMIME_RESULT_FAIL, smime_cert_status_string(cs));
    if ((cs = cc_cert_check_key(e, pol->min_rsa_bits)) != SMIME_CERT_OK)
        return set(r, SMIME_RESULT_POLICY, smime_cert_status_string(cs));
    if (!pol->allow_sha1 && (sha1 || si->digest == CMS_DIG_SHA1))
        return set(r, SMIME_RESULT_POLICY, "SHA-1 signature");
    if (pol->require_from_match && match < 0)
        return set(r, SMIME_RESULT_POLICY, "no address in certificate");
    if (pol->require_from_match && match == 0)
        return set(r, SMIME_RESULT_POLICY, "From mismatch");
    if (smime_trust_degraded(j->v->trust))
        return set(r, SMIME_RESULT_TEMPERROR, "CRL unavailable");
    return set(r, SMIME_RESULT_PASS, "signature verified");
}

static smime_result_t judge_signer(const struct judge *j,
                                   const cms_signer_t *si,
                                   smime_signer_result_t *r, size_t *signer)
{
    const struct cc_cert *e = NULL;
    size_t k = 0;

    memset(r, 0, sizeof(*r));
    snprintf(r->digest, sizeof(r->digest), "%s", cms_digest_name(si->digest));
    snprintf(r->sigalg, sizeof(r->sigalg), "%s", cms_sigkind_name(si->sigkind));
    if (si->status == CMS_UNSUPPORTED)
        return set(r, SMIME_RESULT_PERMERROR, "unsupported algorithm");
    /* RFC 5652 §5.3: without signed attributes the content must be data. */
    if (si->status != CMS_OK ||
        (!si->has_attrs && !cms_oid_is_data(j->sd->econtent_type)))
        return set(r, SMIME_RESULT_PERMERROR, "malformed CMS");
    for (size_t i = 0; i < j->ncerts && e == NULL; i++)
        if (signer_matches(si, j->ents[i]))
            e = j->ents[k = i];
    if (e == NULL)
        return set(r, SMIME_RESULT_PERMERROR, "no signer certificate");
    *signer = k;
    snprintf(r->serial, sizeof(r->serial), "%s", e->serial_hex);
    snprintf(r->issuer, sizeof(r->issuer), "%s", e->issuer);
    int match = identify(e, j->addrs, j->naddrs, r);

    switch (sig_check(si, e, j->digests[si->digest])) {
    case SIG_OK:
        break;
    case SIG_BAD:
        return set(r, SMIME_RESULT_FAIL, "bad signature");
    case SIG_UNSUPPORTED:
        return set(r, SMIME_RESULT_PERMERROR, "unsupported algorithm");
    case SIG_ERROR:
        return set(r, SMIME_RESULT_TEMPERROR, "internal error");
    }
    if (!content_matches(j, si))
        return set(r, SMIME_RESULT_FAIL, "content altered");
    return judge_cert(j, si, k, match, r);
}

/* The certificates of the CMS, parsed (or found parsed in the trust
 * store's certificate cache); those GnuTLS cannot read are left out
 * (they can be neither the signer nor in its chain).  j->certs, ents,
 * ids are filled in step; free with certs_free() either way. */
static int certs_load(smime_verify_t *v, cms_signed_t *sd, struct judge *j)
{
    size_t max = v->policy->max_certs ? v->policy->max_certs : 1;
    certcache_t *cc = smime_trust_certcache(v->trust);
    cms_blob_t b;
    size_t seen = 0;
    int r;

    j->ncerts = 0;
    j->certs = calloc(max, sizeof(*j->certs));
    j->ents = calloc(max, sizeof(*j->ents));
    j->ids = calloc(max, sizeof(*j->ids));
    free(v->der);
    v->der = NULL;
    v->nder = 0;
    if (j->certs == NULL || j->ents == NULL || j->ids == NULL ||
        (v->der = calloc(max, sizeof(*v->der))) == NULL)
        return -1;
    while ((r = cms_next_cert(sd, &b)) == 1) {
        struct cc_cert *e;
        if (++seen > max)
            return -2;
        if ((r = certcache_get(cc, b.p, b.n, &e)) < 0)
            return -1;
        if (r == 0)
            continue;             /* unreadable: never cached */
        j->ents[j->ncerts] = e;
        j->certs[j->ncerts] = e->crt;
        memcpy(j->ids[j->ncerts], e->id, CERTCACHE_IDLEN);
        v->der[j->ncerts++] = b;
        v->nder = j->ncerts;
    }
    return r < 0 ? -3 : 0;
}

static void certs_free(struct judge *j)
{
    for (size_t i = 0; i < j->ncerts; i++)
        cc_cert_unref(j->ents[i]);
    free(j->ents);
    free(j->certs);
    free(j->ids);
}

static size_t one(smime_signer_result_t *out, size_t max,
                  smime_result_t res, const char *reason)
{
    if (max == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    set(out, res, reason);
    return 1;
}

/* The certificate to harvest from a passing signer (SPEC "Certificate
 * store and harvesting"): the one its SMIMEEncryptionKeyPreference
 * names among the CMS certificates, else the signer's own; either only
 * when it can encrypt to the signer's address. */
static void harvest_pick(const struct judge *j, const cms_signer_t *si,
                         size_t signer, const smime_signer_result_t *r,
                         struct pick *h)
{
    const struct cc_cert *e = j->ents[signer];
    size_t k = signer;
    cms_keypref_t kp;

    memset(h, 0, sizeof(*h));
    h->caps = si->caps;
    if (si->signing_time.p != NULL &&
        cms_time_parse(si->signing_time, &h->signing_time) < 0)
        h->signing_time = 0;
    if (si->enc_key_pref.p != NULL) {
        if (cms_keypref_parse(si->enc_key_pref, &kp) < 0) {
            h->why = "malformed SMIMEEncryptionKeyPreference";
            return;
        }
        e = NULL;
        for (size_t i = 0; i < j->ncerts && e == NULL; i++)
            if (kp.is_ski ? ent_has_ski(j->ents[i], kp.ski.p, kp.ski.n)
                          : ent_is_issuer_serial(j->ents[i], kp.issuer.p,
                                kp.issuer.n, kp.serial.p, kp.serial.n))
                e = j->ents[k = i];
        if (e == NULL) {
            h->why = "preferred certificate not in the message";
            return;
        }
    }
    /* smime_cert_can_encrypt(): r->identifier is one of the signer's
     * addresses the entry keeps (identify()) */
    if (e->enc_usage != SMIME_CERT_OK ||
        !cc_cert_has_address(e, r->identifier)) {
        h->why = k == signer ? "signer certificate cannot encrypt"
                             : "preferred certificate cannot encrypt";
        return;
    }
    h->cert = k;
    h->ok = 1;
}

void smime_verify_want_harvest(smime_verify_t *v)
{
    v->want_harvest = 1;
}

int smime_verify_harvest(smime_verify_t *v, size_t i, smime_harvest_t *h)
{
    const struct pick *p = i < v->npicks ? &v->picks[i] : NULL;
    size_t n = 0;

    memset(h, 0, sizeof(*h));
    if (!v->want_harvest) {
        h->why = "not asked";
        return 0;
    }
    if (p == NULL || (!p->ok && p->why == NULL)) {
        h->why = "no passing signature";
        return 0;
    }
    h->caps = p->caps.p;
    h->caps_len = p->caps.p ? p->caps.n : 0;
    h->signing_time = p->signing_time;
    if (!p->ok) {
        h->why = p->why;
        return 0;
    }
    h->cert = v->der[p->cert].p;
    h->cert_len = v->der[p->cert].n;
    free(v->chain);
    free(v->chain_len);
    v->chain_len = NULL;
    if ((v->chain = calloc(v->nder, sizeof(*v->chain))) == NULL ||
        (v->chain_len = calloc(v->nder, sizeof(*v->chain_len))) == NULL)
        return -1;
    /* the other certificates of the CMS: its chain, as the sender sent it */
    for (size_t k = 0; k < v->nder; k++)
        if (k != p->cert) {
            v->chain[n] = v->der[k].p;
            v->chain_len[n++] = v->der[k].n;
        }
    h->chain = v->chain;
    h->chain_len = v->chain_len;
    h->nchain = n;
    return 1;
}

/* The digests the readable SignerInfos name, as a bit set (a copy of
 * the cursor walks them; judge_signer() reads them again). */
static unsigned named_digests(const cms_signed_t *sd)
{
    cms_signed_t walk = *sd;
    cms_signer_t si;
    unsigned want = 0;

    while (cms_next_signer(&walk, &si) == 1)
        if (si.status == CMS_OK && si.digest >= 0 &&
            si.digest < CMS_DIG_COUNT)
            want |= 1u << si.digest;
    return want;
}

/* The content digests: of eContent (opaque) or of the held content with
 * the digests the signers name, or of the streamed content (every
 * digest).  Digests nobody named are zero. */
static int content_digests(smime_verify_t *v, cms_signed_t *sd,
                           uint8_t digests[][64])
{
    unsigned want = v->streaming ? ALL_DIGESTS : named_digests(sd);

    memset(digests, 0, CMS_DIG_COUNT * sizeof(*digests));
    if (!v->detached) {
        if (!sd->has_econtent)
            return -2;
        if (hashes_init(v, want) < 0)
            return -1;
        if (der_octets_foreach(&sd->econtent_cur, &sd->econtent,
                               hashes_feed, v) < 0)
            return -2;
    } else if (!v->streaming) {
        if (hashes_init(v, want) < 0 ||
            (v->heldlen && hashes_feed(v, v->held, v->heldlen) < 0))
            return -1;
    }
    for (int i = 0; i < CMS_DIG_COUNT; i++)
        if ((want & 1u << i) && v->hash[i] == NULL)
            return -1;
    hashes_done(v, digests);
    return 0;
}

size_t smime_verify_finish(smime_verify_t *v, const char *const *addrs,
                           size_t naddrs, smime_signer_result_t *out,
                           size_t max)
{
    uint8_t digests[CMS_DIG_COUNT][64];
    cms_signed_t sd;
    cms_signer_t si;
    struct judge j = { v, &sd, NULL, NULL, NULL, 0, digests, addrs, naddrs };
    size_t n = 0;
    int r;

    if (v->error)
        return one(out, max, SMIME_RESULT_TEMPERROR, "internal error");
    if (v->too_large)
        return cms_peek_type(v->cms, v->cmslen) == CMS_NOT_SIGNED ? 0 :
               one(out, max, SMIME_RESULT_PERMERROR, "CMS too large");
    switch (cms_parse(v->cms, v->cmslen, &sd)) {
    case CMS_OK:
        break;
    case CMS_NOT_SIGNED:
        return 0;
    default:
        return one(out, max, SMIME_RESULT_PERMERROR, "malformed CMS");
    }
    if (sd.nsigners > v->policy->max_signers)
        return one(out, max, SMIME_RESULT_PERMERROR, "too many signers");
    if ((r = content_digests(v, &sd, digests)) < 0)
        return one(out, max, r == -2 ? SMIME_RESULT_PERMERROR :
                   SMIME_RESULT_TEMPERROR,
                   r == -2 ? "malformed CMS" : "internal error");
    if ((r = certs_load(v, &sd, &j)) < 0) {
        certs_free(&j);
        return one(out, max, r == -1 ? SMIME_RESULT_TEMPERROR :
                   SMIME_RESULT_PERMERROR, r == -1 ? "internal error" :
                   r == -2 ? "too many certificates" : "malformed CMS");
    }
    while (n < max && cms_next_signer(&sd, &si) == 1) {
        size_t signer = 0;
        if (judge_signer(&j, &si, &out[n], &signer) == SMIME_RESULT_PASS &&
            v->want_harvest && n < PICKS_MAX)
            harvest_pick(&j, &si, signer, &out[n], &v->picks[n]);
        n++;
    }
    v->npicks = n < PICKS_MAX ? n : PICKS_MAX;
    certs_free(&j);
    return n;
}
