/*
 * recipient.c - choosing the certificate to encrypt to a recipient (see
 * recipient.h): the rules are cert.c's (validity, key usage, address)
 * and trust.c's (chain, CRLs); this file only applies them to what the
 * certificate store holds and picks one, and keeps the answers in the
 * cache (recipient_cache.c) while they hold: the certificate parsed
 * and judged once, not per message and per RCPT.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algs.h"
#include "cert.h"
#include "der.h"
#include "recipient.h"
#include "recipient_priv.h"

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

/* Narrows [*lo, *hi] around now to where a validity period from..until
 * keeps the side of now it has (trust.c's rule for chain results). */
static void narrow(time_t *lo, time_t *hi, time_t now, time_t from,
                   time_t until)
{
    if (now < from) {
        if (from - 1 < *hi)
            *hi = from - 1;
    } else if (from > *lo) {
        *lo = from;
    }
    if (now > until) {
        if (until + 1 > *lo)
            *lo = until + 1;
    } else if (until < *hi) {
        *hi = until;
    }
}

/* smime_rcpt_judge, also narrowing [*lo, *hi] to where its answer holds
 * (an answer that does not depend on the time leaves it alone). */
static const char *judge(const struct certstore_entry *e,
                         gnutls_x509_crt_t crt, const char *address,
                         const smime_trust_t *trust, unsigned max_chain,
                         time_t now, int *transient, time_t *lo, time_t *hi)
{
    enum smime_cert_status s;
    gnutls_x509_crt_t pool[MAX_POOL];
    size_t np = 0;
    enum smime_chain_status ch;
    time_t nb = gnutls_x509_crt_get_activation_time(crt);
    time_t na = gnutls_x509_crt_get_expiration_time(crt);
    time_t clo, chi;
    int sha1 = 0;

    *transient = 0;
    if (nb != (time_t)-1 && na != (time_t)-1)
        narrow(lo, hi, now, nb, na);
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
    ch = smime_trust_verify_chain_window(trust, crt, pool, np, max_chain,
                                         &sha1, &clo, &chi);
    for (size_t i = 0; i < np; i++)
        gnutls_x509_crt_deinit(pool[i]);
    if (ch == SMIME_CHAIN_ERROR)
        *transient = 1;
    if (clo > *lo)
        *lo = clo;
    if (chi < *hi)
        *hi = chi;
    return ch == SMIME_CHAIN_OK ? NULL : smime_chain_status_string(ch);
}

const char *smime_rcpt_judge(const struct certstore_entry *e,
                             gnutls_x509_crt_t crt, const char *address,
                             const smime_trust_t *trust, unsigned max_chain,
                             time_t now, int *transient)
{
    time_t lo = 0, hi = now;

    return judge(e, crt, address, trust, max_chain, now, transient, &lo,
                 &hi);
}

/* 1 if a is a better choice than b: imported first, then later notAfter. */
static int better(int a_imp, time_t a_na, int b_imp, time_t b_na)
{
    if (a_imp != b_imp)
        return a_imp;
    return a_na > b_na;
}

/* The cache key of address: lower-cased (as the store's); 0 if too long. */
static int cache_key(const char *address, char *key, size_t keylen)
{
    size_t n = strlen(address);

    if (n >= keylen)
        return 0;
    for (size_t i = 0; i <= n; i++)
        key[i] = (char)tolower((unsigned char)address[i]);
    return 1;
}

/* The cached answer for key at now, if the store still holds what it
 * was chosen from: 1 with *out (a reference), else 0. */
static int cache_answer(smime_rcpt_cache_t *cache, certstore_t *cs,
                        const char *address, const char *key, time_t now,
                        smime_rcpt_cert_t *out)
{
    char err[256];
    struct rcpt_memo *m = rcpt_cache_get(cache, key);
    int r = 0;

    if (m == NULL)
        return 0;
    if (m->lo <= now && now <= m->hi &&
        (r = certstore_stamp_check(cs, address, m->stamp, err,
                                   sizeof err)) == 1) {
        out->crt = m->crt;
        out->pub = m->pub;
        out->rkey = m->rkey;
        out->gcm = m->gcm;
        out->imported = m->imported;
        out->memo = m;
        return 1;
    }
    if (r == 0)                 /* changed, or out of its window */
        rcpt_cache_drop(cache, m);
    rcpt_memo_unref(m);
    return 0;
}

/* Hand out's certificate to a new cache entry for key (valid for
 * [lo, hi], stamp taken over); out then holds a reference to it. */
static void cache_remember(smime_rcpt_cache_t *cache, const char *key,
                           certstore_stamp_t *stamp, time_t lo, time_t hi,
                           smime_rcpt_cert_t *out)
{
    size_t kl = strlen(key) + 1;
    struct rcpt_memo *m = malloc(sizeof(*m) + kl);

    if (m == NULL) {
        certstore_stamp_free(stamp);
        return;
    }
    atomic_init(&m->refs, 1);               /* out's */
    m->crt = out->crt;
    /* the key too: encryption would import it from crt per message */
    if (gnutls_pubkey_init(&m->pub) < 0)
        m->pub = NULL;
    else if (gnutls_pubkey_import_x509(m->pub, m->crt, 0) < 0) {
        gnutls_pubkey_deinit(m->pub);
        m->pub = NULL;
    }
    out->pub = m->pub;
    /* and what the CMS writer reads of it per recipient and message
     * (key type, IssuerAndSerialNumber, EC point) */
    m->rkey = NULL;
    if (m->pub != NULL) {
        smime_encrypt_status_t st;
        const char *why;
        m->rkey = smime_encrypt_rkey_new(m->crt, m->pub, &st, &why);
    }
    out->rkey = m->rkey;
    m->gcm = out->gcm;
    m->imported = out->imported;
    m->lo = lo;
    m->hi = hi;
    m->stamp = stamp;
    memcpy(m->key, key, kl);
    out->memo = m;
    rcpt_cache_put(cache, m);
}

enum smime_rcpt_status smime_rcpt_lookup(smime_rcpt_cache_t *cache,
                                         certstore_t *cs,
                                         const smime_trust_t *trust,
                                         unsigned max_chain,
                                         const char *address, time_t now,
                                         smime_rcpt_cert_t *out,
                                         char *why, size_t whylen)
{
    certstore_list_t *l = NULL;
    certstore_stamp_t *stamp = NULL;
    char err[256] = "", key[400];
    const char *problem = NULL;
    enum smime_rcpt_status st;
    int temp = 0;
    time_t best_na = 0, lo = now, hi = now;

    memset(out, 0, sizeof(*out));
    snprintf(why, whylen, "%s", "no certificate");
    if (cs == NULL)
        return SMIME_RCPT_NONE;
    if (cache != NULL && (trust == NULL || rcpt_cache_trust(cache) != trust ||
                          !cache_key(address, key, sizeof key)))
        cache = NULL;
    if (cache != NULL) {
        int hit = cache_answer(cache, cs, address, key, now, out);
        rcpt_cache_count(cache, hit);
        if (hit) {
            why[0] = '\0';
            return SMIME_RCPT_OK;
        }
        /* the window of a new answer: from every date it reads */
        lo = (time_t)1 << (sizeof(time_t) * 8 - 2);
        lo = -lo;
        hi = -lo;
    }
    switch (certstore_lookup_stamp(cs, address, &l, cache ? &stamp : NULL,
                                   err, sizeof(err))) {
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
        p = judge(e, crt, address, trust, max_chain, now, &t, &lo, &hi);
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
        /* only a whole judgement is kept: no entry judged in passing
         * trouble (it might have been the better one) */
        if (cache != NULL && !temp && lo <= now && now <= hi) {
            cache_remember(cache, key, stamp, lo, hi, out);
            stamp = NULL;
        }
    } else {
        snprintf(why, whylen, "%s", problem ? problem : "no certificate");
        st = temp ? SMIME_RCPT_TEMP : SMIME_RCPT_UNUSABLE;
    }
    certstore_stamp_free(stamp);
    certstore_list_free(l);
    return st;
}

void smime_rcpt_cert_clear(smime_rcpt_cert_t *c)
{
    if (c->memo != NULL)
        rcpt_memo_unref(c->memo);       /* the certificate is the memo's */
    else if (c->crt != NULL)
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
