/*
 * recipient.c - choosing the certificate to encrypt to a recipient (see
 * recipient.h): the rules are cert.c's (validity, key usage, address)
 * and trust.c's (chain, CRLs); this file only applies them to what the
 * certificate store holds and picks one.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "algs.h"
#include "cert.h"
#include "der.h"
#include "recipient.h"

#define MAX_POOL 16

static gnutls_x509_crt_t der_crt(const unsigned char *der, size_t len)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };

    if (gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        return NULL;
    }
    return crt;
}

const char *smime_rcpt_judge(const struct certstore_entry *e,
                             gnutls_x509_crt_t crt, const char *address,
                             const smime_trust_t *trust, unsigned max_chain,
                             time_t now, int *transient)
{
    enum smime_cert_status s;
    gnutls_x509_crt_t pool[MAX_POOL];
    size_t np = 0;
    enum smime_chain_status ch;
    int sha1 = 0;

    *transient = 0;
    if ((s = smime_cert_check_time(crt, now)) != SMIME_CERT_OK ||
        (s = smime_cert_check_encrypt_usage(crt)) != SMIME_CERT_OK)
        return smime_cert_status_string(s);
    if (!smime_cert_has_address(crt, address))
        return "address not in certificate";
    if (trust == NULL)
        return NULL;
    if (smime_trust_degraded(trust)) {
        /* a CRL could not be read: revocation cannot be ruled out */
        *transient = 1;
        return "CRL unreadable";
    }
    for (size_t i = 0; i < e->nchain && np < MAX_POOL; i++)
        if ((pool[np] = der_crt(e->chain[i], e->chain_len[i])) != NULL)
            np++;
    ch = smime_trust_verify_chain(trust, crt, pool, np, max_chain, &sha1);
    for (size_t i = 0; i < np; i++)
        gnutls_x509_crt_deinit(pool[i]);
    if (ch == SMIME_CHAIN_ERROR)
        *transient = 1;
    return ch == SMIME_CHAIN_OK ? NULL : smime_chain_status_string(ch);
}

/* 1 if a is a better choice than b: imported first, then later notAfter. */
static int better(int a_imp, time_t a_na, int b_imp, time_t b_na)
{
    if (a_imp != b_imp)
        return a_imp;
    return a_na > b_na;
}

enum smime_rcpt_status smime_rcpt_lookup(certstore_t *cs,
                                         const smime_trust_t *trust,
                                         unsigned max_chain,
                                         const char *address, time_t now,
                                         smime_rcpt_cert_t *out,
                                         char *why, size_t whylen)
{
    certstore_list_t *l = NULL;
    char err[256] = "";
    const char *problem = NULL;
    enum smime_rcpt_status st;
    int temp = 0;
    time_t best_na = 0;

    memset(out, 0, sizeof(*out));
    snprintf(why, whylen, "%s", "no certificate");
    if (cs == NULL)
        return SMIME_RCPT_NONE;
    switch (certstore_lookup(cs, address, &l, err, sizeof(err))) {
    case CERTSTORE_OK:
        break;
    case CERTSTORE_NOTFOUND:
        return SMIME_RCPT_NONE;
    case CERTSTORE_CORRUPT:
        snprintf(why, whylen, "certificate store record unreadable: %s", err);
        return SMIME_RCPT_UNUSABLE;
    default:
        snprintf(why, whylen, "certificate store: %s", err);
        return SMIME_RCPT_TEMP;
    }
    for (size_t i = 0; i < certstore_list_count(l); i++) {
        const struct certstore_entry *e = certstore_list_get(l, i);
        gnutls_x509_crt_t crt = der_crt(e->cert, e->cert_len);
        int imp = e->source == CERTSTORE_IMPORT, t = 0;
        const char *p;
        time_t na;

        if (crt == NULL) {
            problem = problem ? problem : "unreadable certificate";
            continue;
        }
        p = smime_rcpt_judge(e, crt, address, trust, max_chain, now, &t);
        na = gnutls_x509_crt_get_expiration_time(crt);
        if (p != NULL) {
            temp |= t;
            if (problem == NULL || t)
                problem = p;
            gnutls_x509_crt_deinit(crt);
            continue;
        }
        if (out->crt != NULL && !better(imp, na, out->imported, best_na)) {
            gnutls_x509_crt_deinit(crt);
            continue;
        }
        smime_rcpt_cert_clear(out);
        out->crt = crt;
        out->imported = imp;
        out->gcm = smime_caps_have_aes256_gcm(e->caps, e->caps_len);
        best_na = na;
    }
    if (out->crt != NULL) {
        why[0] = '\0';
        st = SMIME_RCPT_OK;
    } else {
        snprintf(why, whylen, "%s", problem ? problem : "no certificate");
        st = temp ? SMIME_RCPT_TEMP : SMIME_RCPT_UNUSABLE;
    }
    certstore_list_free(l);
    return st;
}

void smime_rcpt_cert_clear(smime_rcpt_cert_t *c)
{
    if (c->crt != NULL)
        gnutls_x509_crt_deinit(c->crt);
    memset(c, 0, sizeof(*c));
}

/* Looks for the capabilityID anywhere a capability can be: in the
 * SEQUENCE OF (or in the attribute's SET around it). */
static int caps_scan(der_cur_t *c, const struct smime_alg *a, unsigned depth)
{
    der_tlv_t t;

    while (der_next(c, &t) == 1) {
        der_cur_t in;
        if (der_oid_is(&t, a->der, a->derlen))
            return 1;
        if (t.constructed && depth < 3 && t.cls == DER_UNIVERSAL &&
            (t.tag == DER_TAG_SEQUENCE || t.tag == DER_TAG_SET) &&
            der_cur_enter(c, &t, &in) == 0 && caps_scan(&in, a, depth + 1))
            return 1;
    }
    return 0;
}

int smime_caps_have_aes256_gcm(const unsigned char *caps, size_t len)
{
    der_cur_t c;

    if (caps == NULL || len == 0)
        return 0;
    der_cur_init(&c, caps, len);
    return caps_scan(&c, smime_alg(SMIME_ALG_AES256_GCM), 0);
}
