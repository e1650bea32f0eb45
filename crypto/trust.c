/*
 * trust.c - trust anchors and certificate-chain verification.
 *
 * Anchors live in a GnuTLS trust list; CRLs are kept beside it
 * (trust_crl.c), and a chain that verifies against the anchors is then
 * checked against them.
 *
 * The store is built once and then only read: GnuTLS trust lists and
 * parsed CRLs are safe to read from many threads.  Four memos make the
 * per-message cost small, each safe because the store does not change
 * once it verifies (a reload builds a new store, with empty memos; a
 * smime_trust_add_* all the same starts a new generation, part of the
 * chain keys):
 *  - chain results (trust_cache.c), keyed by a SHA-256 of the chain's
 *    DER and valid while no date of the chain, the anchors or the CRLs
 *    is crossed;
 *  - the same results per certificate pool (smime_trust_verify_pool),
 *    keyed by the ids of every pool certificate, and the store's
 *    parsed message certificates (certcache.c): see HACKING.md;
 *  - per CRL, the issuers its signature verified with, and its revoked
 *    serial numbers sorted (trust_crl.c);
 *  - per call, each certificate's raw DER names: issuers are matched by
 *    memcmp first, as GnuTLS itself compares names (byte for byte), and
 *    gnutls_x509_crt_check_issuer() (which adds the key identifiers)
 *    runs only on a match.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "cert.h"
#include "errbuf.h"
#include "trust_priv.h"
#include "trust_dn.h"

#define CHAIN_LIMIT 16
#define TIME_MAX ((time_t)(((uintmax_t)1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))
#define TIME_MIN (-TIME_MAX - 1)

/* The clock of smime_trust_set_time_function(); NULL: time(). */
static time_t (*_Atomic trust_clock)(time_t *);

static time_t trust_now(void)
{
    time_t (*fn)(time_t *) = atomic_load(&trust_clock);

    return fn != NULL ? fn(NULL) : time(NULL);
}

void smime_trust_set_time_function(time_t (*fn)(time_t *))
{
    gnutls_global_set_time_function(fn != NULL ? fn : time);
    atomic_store(&trust_clock, fn);
}

smime_trust_t *smime_trust_new(void)
{
    smime_trust_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    if ((t->cache = trust_cache_new()) == NULL ||
        (t->pool_cache = trust_cache_new()) == NULL ||
        (t->certs = certcache_new(CERTCACHE_SIZE)) == NULL ||
        gnutls_x509_trust_list_init(&t->tl, 0) < 0) {
        trust_cache_free(t->cache);
        trust_cache_free(t->pool_cache);
        certcache_free(t->certs);
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->crl_lock, NULL);
    return t;
}

void smime_trust_free(smime_trust_t *t)
{
    if (t == NULL)
        return;
    gnutls_x509_trust_list_deinit(t->tl, 1);
    for (size_t i = 0; i < t->ncrls; i++)
        trust_crl_info_free(&t->crls[i]);
    free(t->crls);
    free(t->anchor_times);
    trust_cache_free(t->cache);
    trust_cache_free(t->pool_cache);
    certcache_free(t->certs);
    pthread_mutex_destroy(&t->crl_lock);
    free(t);
}

int smime_trust_degraded(const smime_trust_t *t)
{
    return t->degraded;
}

void smime_trust_cache_stats(const smime_trust_t *t, unsigned long *hits,
                             unsigned long *misses)
{
    trust_cache_stats(t->cache, hits, misses);
}

void smime_trust_pool_stats(const smime_trust_t *t, unsigned long *hits,
                            unsigned long *misses)
{
    trust_cache_stats(t->pool_cache, hits, misses);
}

certcache_t *smime_trust_certcache(const smime_trust_t *t)
{
    return t->certs;
}

/* The whole file, for the error message that names the errno. */
int trust_file_read(const char *path, gnutls_datum_t *d, char *err,
                    size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    FILE *f = fopen(path, "rb");
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    for (;;) {
        if (n == cap) {
            unsigned char *nb = cap > 64u << 20 ? NULL :
                                realloc(buf, cap = cap ? 2 * cap : 65536);
            if (nb == NULL) {
                snprintf(err, errlen, "%s: file too large", path);
                goto fail;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 smime_strerror(errno, eb, sizeof eb));
        goto fail;
    }
    fclose(f);
    d->data = buf;
    d->size = (unsigned)n;
    return 0;
fail:
    fclose(f);
    free(buf);
    return -1;
}

/* Notes every anchor's validity for the chain cache's windows.  Anchors
 * that cannot be listed turn the cache off: a window must never leave
 * out a date that verification depends on. */
static void anchors_note(smime_trust_t *t)
{
    gnutls_x509_trust_list_iter_t it = NULL;
    gnutls_x509_crt_t crt;
    size_t n = 0, cap = 0;
    time_t *times = NULL;
    int r;

    while ((r = gnutls_x509_trust_list_iter_get_ca(t->tl, &it, &crt)) >= 0) {
        if (n == cap) {
            time_t *nt = realloc(times, (cap = cap ? 2 * cap : 64) *
                                        sizeof(*nt));
            if (nt == NULL) {
                gnutls_x509_crt_deinit(crt);
                break;
            }
            times = nt;
        }
        times[n++] = gnutls_x509_crt_get_activation_time(crt);
        times[n++] = gnutls_x509_crt_get_expiration_time(crt);
        gnutls_x509_crt_deinit(crt);
    }
    gnutls_x509_trust_list_iter_deinit(it);
    free(t->anchor_times);
    t->anchor_times = times;
    t->nanchor_times = n;
    if (r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        t->no_cache = 1;
}

int smime_trust_add_anchors(smime_trust_t *t, const char *pemfile,
                            char *err, size_t errlen)
{
    gnutls_datum_t d;
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int r;

    t->gen++;                   /* memoized chain results no longer hold */
    if (trust_file_read(pemfile, &d, err, errlen) < 0)
        return -1;
    r = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    free(d.data);
    if (r < 0 || n == 0) {
        snprintf(err, errlen, "%s: no PEM certificate found%s%s", pemfile,
                 r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
        return -1;
    }
    /* The list takes the certificates (and frees duplicates itself). */
    r = gnutls_x509_trust_list_add_cas(t->tl, list, n, GNUTLS_TL_NO_DUPLICATES);
    gnutls_free(list);
    anchors_note(t);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", pemfile, gnutls_strerror(r));
        return -1;
    }
    return (int)n;
}

int smime_trust_add_system(smime_trust_t *t, char *err, size_t errlen)
{
    int r = gnutls_x509_trust_list_add_system_trust(t->tl, 0, 0);

    t->gen++;                   /* memoized chain results no longer hold */
    anchors_note(t);
    if (r <= 0) {
        snprintf(err, errlen, "system trust store: %s",
                 r < 0 ? gnutls_strerror(r) : "no certificate found");
        return -1;
    }
    return r;
}

const char *smime_chain_status_string(enum smime_chain_status s)
{
    switch (s) {
    case SMIME_CHAIN_OK:                   return "certificate trusted";
    case SMIME_CHAIN_UNTRUSTED:            return "untrusted certificate";
    case SMIME_CHAIN_UNTRUSTED_ROOT:       return "untrusted root";
    case SMIME_CHAIN_UNKNOWN_ISSUER:       return "untrusted issuer";
    case SMIME_CHAIN_EXPIRED:              return "expired certificate";
    case SMIME_CHAIN_NOT_YET_VALID:        return "certificate not yet valid";
    case SMIME_CHAIN_REVOKED:              return "revoked certificate";
    case SMIME_CHAIN_TOO_LONG:             return "certificate chain too long";
    case SMIME_CHAIN_ERROR:                break;
    }
    return "internal error";
}


/* ---- names ---- */

int trust_datum_eq(const gnutls_datum_t *a, const gnutls_datum_t *b)
{
    return a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

/* ---- one verification: the certificates at hand ---- */

void trust_ci_init(struct cinfo *c, gnutls_x509_crt_t crt)
{
    memset(c, 0, sizeof(*c));
    c->crt = crt;
    c->self = -1;
}

void trust_ci_clear(struct cinfo *c)
{
    gnutls_free(c->dn.data);
    gnutls_free(c->idn.data);
    gnutls_free(c->str[0].data);
    gnutls_free(c->str[1].data);
    gnutls_free(c->der.data);
}

int trust_ci_names(struct cinfo *c)
{
    if (c->names == 0)
        c->names = gnutls_x509_crt_get_raw_dn(c->crt, &c->dn) >= 0 &&
                   gnutls_x509_crt_get_raw_issuer_dn(c->crt, &c->idn) >= 0
                   ? 1 : -1;
    return c->names > 0;
}

const gnutls_datum_t *trust_ci_der(struct cinfo *c)
{
    if (c->has_der == 0)
        c->has_der = gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER,
                                             &c->der) >= 0 ? 1 : -1;
    return c->has_der > 0 ? &c->der : NULL;
}

/* The RFC 4514 string of the subject (which 0) or issuer (1) name. */
static const gnutls_datum_t *ci_str(struct cinfo *c, int which)
{
    if (c->has_str[which] == 0)
        c->has_str[which] = gnutls_x509_rdn_get2(which ? &c->idn : &c->dn,
                                                 &c->str[which], 0) >= 0
                            ? 1 : -1;
    return c->has_str[which] > 0 ? &c->str[which] : NULL;
}

/* Name wa of a equals name wb of b, as GnuTLS compares them. */
static int ci_name_eq(struct cinfo *a, int wa, struct cinfo *b, int wb)
{
    const gnutls_datum_t *x = wa ? &a->idn : &a->dn, *y = wb ? &b->idn : &b->dn;

    if (trust_datum_eq(x, y))
        return 1;
    if (x->size == 0 || y->size == 0 || trust_dn_differ(x, y))
        return 0;
    x = ci_str(a, wa);
    y = ci_str(b, wb);
    return x != NULL && y != NULL && trust_datum_eq(x, y);
}

/* gnutls_x509_crt_check_issuer(), which only runs when the names match:
 * it converts both names to strings whenever their bytes differ. */
static int ci_issued_by(struct cinfo *child, struct cinfo *parent)
{
    if (trust_ci_names(child) && trust_ci_names(parent) &&
        !ci_name_eq(child, 1, parent, 0))
        return 0;
    return gnutls_x509_crt_check_issuer(child->crt, parent->crt) == 1;
}

int trust_ci_self_signed(struct cinfo *c)
{
    if (c->self < 0)
        c->self = (signed char)ci_issued_by(c, c);
    return c->self;
}

static int ci_same(struct cinfo *a, struct cinfo *b)
{
    const gnutls_datum_t *x, *y;

    if (a->crt == b->crt)
        return 1;
    if ((x = trust_ci_der(a)) != NULL && (y = trust_ci_der(b)) != NULL)
        return trust_datum_eq(x, y);
    return gnutls_x509_crt_equals(a->crt, b->crt);
}

/* Fills chain[] (indexes into ci: ci[0] the signer, then the pool) from
 * the signer upwards; returns its length.  *cut is set when max stopped
 * it while an issuer was still at hand. */
static size_t chain_build(struct cinfo *ci, size_t nci, size_t *chain,
                          size_t max, int *cut)
{
    size_t n = 1;

    chain[0] = 0;
    *cut = 0;
    while (!trust_ci_self_signed(&ci[chain[n - 1]])) {
        size_t j;
        for (j = 1; j < nci; j++) {
            int used = 0;
            for (size_t k = 0; k < n && !used; k++)
                used = ci_same(&ci[chain[k]], &ci[j]);
            if (!used && ci_issued_by(&ci[chain[n - 1]], &ci[j]))
                break;
        }
        if (j == nci)
            break;
        if (n == max) {
            *cut = 1;
            break;
        }
        chain[n++] = j;
    }
    return n;
}

/* ---- the chain ---- */

/* No anchor found: what is known is where the chain built from the
 * pool stops.  At a self-signed certificate: an untrusted root.  At one
 * whose issuer is neither in the pool nor an anchor: that issuer is
 * unknown -- whether it is a missing intermediate or an untrusted root
 * cannot be told without its certificate, so neither is claimed.  With
 * the issuer an anchor after all, GnuTLS refused the path: untrusted. */
static enum smime_chain_status status_map(const smime_trust_t *t,
        unsigned st, struct cinfo *last)
{
    const unsigned time_bits = GNUTLS_CERT_INVALID | GNUTLS_CERT_EXPIRED |
                               GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_REVOKED;
    gnutls_x509_crt_t iss;

    if (st & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        if (trust_ci_self_signed(last))
            return SMIME_CHAIN_UNTRUSTED_ROOT;
        if (gnutls_x509_trust_list_get_issuer(t->tl, last->crt, &iss, 0) == 0)
            return SMIME_CHAIN_UNTRUSTED;
        return SMIME_CHAIN_UNKNOWN_ISSUER;
    }
    if (st & ~time_bits)
        return SMIME_CHAIN_UNTRUSTED;
    if (st & GNUTLS_CERT_REVOKED)
        return SMIME_CHAIN_REVOKED;
    if (st & GNUTLS_CERT_EXPIRED)
        return SMIME_CHAIN_EXPIRED;
    if (st & GNUTLS_CERT_NOT_ACTIVATED)
        return SMIME_CHAIN_NOT_YET_VALID;
    return SMIME_CHAIN_UNTRUSTED;
}

/* The uncached verification of a built chain. */
static enum smime_chain_status chain_verify(const smime_trust_t *t,
        struct cinfo *ci, const size_t *chain, size_t n, int cut, int *sha1)
{
    gnutls_x509_crt_t crts[CHAIN_LIMIT];
    unsigned st = 0;

    for (size_t i = 0; i < n; i++)
        crts[i] = ci[chain[i]].crt;
    if (gnutls_x509_trust_list_verify_crt2(t->tl, crts, (unsigned)n, NULL, 0,
            GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1, &st, NULL) < 0)
        return SMIME_CHAIN_ERROR;
    if (st != 0)
        return cut ? SMIME_CHAIN_TOO_LONG : status_map(t, st, &ci[chain[n - 1]]);
    for (size_t i = 0; i < n && !trust_ci_self_signed(&ci[chain[i]]); i++) {
        int alg = gnutls_x509_crt_get_signature_algorithm(crts[i]);
        if (alg > 0 && gnutls_sign_get_hash_algorithm(alg) == GNUTLS_DIG_SHA1)
            *sha1 = 1;
    }
    return trust_chain_crls(t, ci, chain, n);
}

/* The cache key: SHA-256 over the store's generation, cut, the length
 * and each certificate's DER (length-prefixed).  -1 when any of it could not be hashed: a key
 * over part of the chain could name another chain's cached result, so
 * the chain is then verified without the cache. */
static int chain_key(const smime_trust_t *t, struct cinfo *ci,
                     const size_t *chain, size_t n, int cut,
                     unsigned char *key)
{
    gnutls_hash_hd_t h;
    unsigned char head[6] = { (unsigned char)cut, (unsigned char)n,
        (unsigned char)(t->gen >> 24), (unsigned char)(t->gen >> 16),
        (unsigned char)(t->gen >> 8), (unsigned char)t->gen };
    int bad;

    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return -1;
    bad = gnutls_hash(h, head, sizeof(head)) < 0;
    for (size_t i = 0; i < n && !bad; i++) {
        const gnutls_datum_t *d = trust_ci_der(&ci[chain[i]]);
        if (d == NULL) {
            bad = 1;
            break;
        }
        unsigned char len[4] = { (unsigned char)(d->size >> 24),
            (unsigned char)(d->size >> 16), (unsigned char)(d->size >> 8),
            (unsigned char)d->size };
        bad = gnutls_hash(h, len, sizeof(len)) < 0 ||
              gnutls_hash(h, d->data, d->size) < 0;
    }
    gnutls_hash_deinit(h, key);
    return bad ? -1 : 0;
}

/* The certificates at hand (ci[0] the signer, then the pool) and the
 * chain built from them into chain[] (*n long); NULL on ENOMEM.  Free
 * with pool_free(). */
static struct cinfo *pool_chain(gnutls_x509_crt_t signer,
        const gnutls_x509_crt_t *pool, size_t npool, unsigned max_chain,
        size_t *chain, size_t *n, int *cut)
{
    size_t max = max_chain == 0 || max_chain > CHAIN_LIMIT ? CHAIN_LIMIT
                                                           : max_chain;
    struct cinfo *ci = calloc(npool + 1, sizeof(*ci));

    if (ci == NULL)
        return NULL;
    trust_ci_init(&ci[0], signer);
    for (size_t j = 0; j < npool; j++)
        trust_ci_init(&ci[j + 1], pool[j]);
    *n = chain_build(ci, npool + 1, chain, max, cut);
    return ci;
}

static void pool_free(struct cinfo *ci, size_t npool)
{
    for (size_t j = 0; j <= npool; j++)
        trust_ci_clear(&ci[j]);
    free(ci);
}

gnutls_x509_crt_t smime_trust_chain_end(gnutls_x509_crt_t signer,
        const gnutls_x509_crt_t *pool, size_t npool, unsigned max_chain)
{
    size_t chain[CHAIN_LIMIT], n;
    int cut;
    struct cinfo *ci = pool_chain(signer, pool, npool, max_chain, chain,
                                  &n, &cut);
    gnutls_x509_crt_t end = ci ? ci[chain[n - 1]].crt : NULL;

    if (ci)
        pool_free(ci, npool);
    return end;
}

/* Narrows [v->lo, v->hi] around now to where a validity period
 * from..until (either -1: unknown) keeps the state it has at now.
 * GnuTLS: not yet valid when now < from, expired when now > until; the
 * same comparisons for a CRL's thisUpdate and nextUpdate. */
static void window_narrow(struct trust_cache_val *v, time_t now, time_t from,
                          time_t until)
{
    if (from != (time_t)-1) {
        if (now < from)
            v->hi = from - 1 < v->hi ? from - 1 : v->hi;
        else
            v->lo = from > v->lo ? from : v->lo;
    }
    if (until != (time_t)-1) {
        if (now > until)
            v->lo = until + 1 > v->lo ? until + 1 : v->lo;
        else
            v->hi = until < v->hi ? until : v->hi;
    }
}

/* The time window of a result reached at now: every date the result may
 * depend on keeps its side of now within it.  It takes all anchors and
 * all CRLs, not only those verification used: wider than needed is
 * never wrong. */
static void chain_window(const smime_trust_t *t, struct cinfo *ci,
                         const size_t *chain, size_t n, time_t now,
                         struct trust_cache_val *v)
{
    v->lo = TIME_MIN;
    v->hi = TIME_MAX;
    for (size_t i = 0; i < n; i++)
        window_narrow(v, now, gnutls_x509_crt_get_activation_time(ci[chain[i]].crt),
                      gnutls_x509_crt_get_expiration_time(ci[chain[i]].crt));
    for (size_t i = 0; i + 1 < t->nanchor_times; i += 2)
        window_narrow(v, now, t->anchor_times[i], t->anchor_times[i + 1]);
    for (size_t i = 0; i < t->ncrls; i++)
        window_narrow(v, now, t->crls[i].this_update, t->crls[i].next_update);
}

enum smime_chain_status smime_trust_verify_chain(const smime_trust_t *t,
        gnutls_x509_crt_t signer, const gnutls_x509_crt_t *pool,
        size_t npool, unsigned max_chain, int *sha1)
{
    time_t lo, hi;

    return smime_trust_verify_chain_window(t, signer, pool, npool,
                                           max_chain, sha1, &lo, &hi);
}

enum smime_chain_status smime_trust_verify_chain_window(
        const smime_trust_t *t, gnutls_x509_crt_t signer,
        const gnutls_x509_crt_t *pool, size_t npool, unsigned max_chain,
        int *sha1, time_t *lo, time_t *hi)
{
    size_t chain[CHAIN_LIMIT], n;
    unsigned char key[TRUST_CACHE_KEYLEN];
    struct trust_cache_val v;
    enum smime_chain_status st;
    int cut;

    *sha1 = 0;
    *lo = 1;
    *hi = 0;
    /* The clock is read before GnuTLS reads its own: a date crossed in
     * between puts the window's end before GnuTLS's now, so the entry
     * is never used. */
    time_t now = trust_now();
    struct cinfo *ci = pool_chain(signer, pool, npool, max_chain, chain, &n,
                                  &cut);
    if (ci == NULL)
        return SMIME_CHAIN_ERROR;
    int keyed = !t->no_cache && chain_key(t, ci, chain, n, cut, key) == 0;

    if (keyed && trust_cache_get(t->cache, key, now, &v)) {
        st = (enum smime_chain_status)v.status;
        *sha1 = v.sha1;
    } else {
        st = chain_verify(t, ci, chain, n, cut, sha1);
        v.lo = 1;
        v.hi = 0;
        if (st != SMIME_CHAIN_ERROR) {
            v.status = (int)st;
            v.sha1 = *sha1;
            chain_window(t, ci, chain, n, now, &v);
            if (keyed)
                trust_cache_put(t->cache, key, &v);
        }
    }
    *lo = v.lo;
    *hi = v.hi;
    pool_free(ci, npool);
    return st;
}

/* The pool memo's key: SHA-256 over the store's generation, max_chain,
 * the signer's index, the pool's size and the ids in pool order. */
static int pool_key(const smime_trust_t *t, size_t signer,
                    const unsigned char (*ids)[CERTCACHE_IDLEN], size_t npool,
                    unsigned max_chain, unsigned char *key)
{
    uint32_t v[4] = { t->gen, max_chain, (uint32_t)signer, (uint32_t)npool };
    unsigned char head[16];
    gnutls_hash_hd_t h;
    int bad;

    for (size_t i = 0; i < 16; i++)
        head[i] = (unsigned char)(v[i / 4] >> (8 * (3 - i % 4)));
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return -1;
    bad = gnutls_hash(h, head, sizeof(head)) < 0 ||
          (npool > 0 && gnutls_hash(h, ids, npool * CERTCACHE_IDLEN) < 0);
    gnutls_hash_deinit(h, key);
    return bad ? -1 : 0;
}

enum smime_chain_status smime_trust_verify_pool(const smime_trust_t *t,
        size_t signer, const gnutls_x509_crt_t *pool,
        const unsigned char (*ids)[CERTCACHE_IDLEN], size_t npool,
        unsigned max_chain, int *sha1, char *end_dn, size_t dnlen)
{
    unsigned char key[TRUST_CACHE_KEYLEN];
    struct trust_cache_val v;
    enum smime_chain_status st;
    int keyed = !t->no_cache && npool <= UINT32_MAX &&
                pool_key(t, signer, ids, npool, max_chain, key) == 0;

    if (dnlen > 0)
        end_dn[0] = '\0';
    if (keyed && trust_cache_get(t->pool_cache, key, trust_now(), &v)) {
        *sha1 = v.sha1;
        snprintf(end_dn, dnlen, "%s", v.end_dn);
        return (enum smime_chain_status)v.status;
    }
    st = smime_trust_verify_chain_window(t, pool[signer], pool, npool,
                                         max_chain, sha1, &v.lo, &v.hi);
    v.end_dn[0] = '\0';
    if (st == SMIME_CHAIN_UNTRUSTED_ROOT || st == SMIME_CHAIN_UNKNOWN_ISSUER) {
        gnutls_x509_crt_t end = smime_trust_chain_end(pool[signer], pool,
                                                      npool, max_chain);
        if (end == NULL)
            return SMIME_CHAIN_ERROR;
        smime_cert_issuer_dn(end, v.end_dn, sizeof(v.end_dn));
    }
    snprintf(end_dn, dnlen, "%s", v.end_dn);
    if (st != SMIME_CHAIN_ERROR && keyed) {
        v.status = (int)st;
        v.sha1 = *sha1;
        trust_cache_put(t->pool_cache, key, &v);
    }
    return st;
}
