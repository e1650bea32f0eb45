/*
 * trust.c - trust anchors, CRLs and certificate-chain verification.
 *
 * Anchors live in a GnuTLS trust list.  CRLs are kept beside it rather
 * than in it: gnutls_x509_trust_list_add_crls() with GNUTLS_TL_VERIFY_CRL
 * drops every CRL not issued by an anchor, and CRLs usually come from
 * intermediates, which are not anchors but arrive with each message.  So
 * after the chain verifies, each certificate is looked up in the CRLs of
 * its issuer, and a CRL counts only when its signature verifies with that
 * (already verified) issuer.  A stale CRL (nextUpdate passed) still
 * revokes: revocations do not expire.
 *
 * The store is built once and then only read: GnuTLS trust lists and
 * parsed CRLs are safe to read from many threads.  Three memos make the
 * per-message cost small, each safe because the store never changes
 * (a reload builds a new store, with empty memos):
 *  - chain results (trust_cache.c), keyed by a SHA-256 of the chain's
 *    DER and valid while no date of the chain, the anchors or the CRLs
 *    is crossed;
 *  - per CRL, the issuers (SHA-256 of their DER) its signature verified
 *    with, and its revoked serial numbers sorted for a binary search;
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

#include "trust.h"
#include "trust_dn.h"
#include "trust_cache.h"

#define CHAIN_LIMIT 16
#define SERIAL_MAX 128              /* GnuTLS's own limit in CRL checks */
#define CRL_ISSUERS 4               /* verified issuers remembered per CRL */
#define TIME_MAX ((time_t)(((uintmax_t)1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))
#define TIME_MIN (-TIME_MAX - 1)

struct crl_info {
    gnutls_x509_crl_t crl;
    gnutls_datum_t idn;             /* raw issuer DN; size 0: not known */
    time_t this_update, next_update;
    unsigned char *serials;         /* records: length byte, the bytes */
    const unsigned char **sorted;   /* into serials, by length and bytes */
    size_t nserials;
    int indexed;                    /* else gnutls_x509_crt_check_revocation */
    unsigned char good[CRL_ISSUERS][TRUST_CACHE_KEYLEN];  /* crl_lock */
    unsigned ngood;                 /* crl_lock */
};

struct smime_trust {
    gnutls_x509_trust_list_t tl;
    struct crl_info *crls;
    size_t ncrls;
    int degraded;
    time_t *anchor_times;           /* notBefore, notAfter of each anchor */
    size_t nanchor_times;
    int no_cache;                   /* the anchors could not be listed */
    trust_cache_t *cache;
    pthread_mutex_t crl_lock;       /* the CRLs' good[] (a memo: see top) */
};

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
    if ((t->cache = trust_cache_new()) == NULL) {
        free(t);
        return NULL;
    }
    if (gnutls_x509_trust_list_init(&t->tl, 0) < 0) {
        trust_cache_free(t->cache);
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->crl_lock, NULL);
    return t;
}

static void crl_info_free(struct crl_info *ci)
{
    if (ci->crl != NULL)
        gnutls_x509_crl_deinit(ci->crl);
    gnutls_free(ci->idn.data);
    free(ci->serials);
    free(ci->sorted);
}

void smime_trust_free(smime_trust_t *t)
{
    if (t == NULL)
        return;
    gnutls_x509_trust_list_deinit(t->tl, 1);
    for (size_t i = 0; i < t->ncrls; i++)
        crl_info_free(&t->crls[i]);
    free(t->crls);
    free(t->anchor_times);
    trust_cache_free(t->cache);
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

/* The whole file, for the error message that names the errno. */
static int file_read(const char *path, gnutls_datum_t *d, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
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
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
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

    if (file_read(pemfile, &d, err, errlen) < 0)
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

    anchors_note(t);
    if (r <= 0) {
        snprintf(err, errlen, "system trust store: %s",
                 r < 0 ? gnutls_strerror(r) : "no certificate found");
        return -1;
    }
    return r;
}

/* ---- CRLs ---- */

static int serial_cmp(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;

    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return memcmp(x + 1, y + 1, x[0]);
}

/* The serials the CRL lists, sorted.  Like gnutls_x509_crt_check_revocation()
 * it stops at an entry it cannot read: the ones before it still count. */
static int crl_index(struct crl_info *ci)
{
    gnutls_x509_crl_iter_t it = NULL;
    unsigned char buf[SERIAL_MAX];
    size_t len = 0, cap = 0, n = 0;

    for (;;) {
        size_t sz = sizeof(buf);
        if (gnutls_x509_crl_iter_crt_serial(ci->crl, &it, buf, &sz, NULL) < 0)
            break;
        if (len + 1 + sz > cap) {
            unsigned char *nb = realloc(ci->serials, cap = 2 * cap + 1024);
            if (nb == NULL)
                goto fail;
            ci->serials = nb;
        }
        ci->serials[len] = (unsigned char)sz;
        memcpy(ci->serials + len + 1, buf, sz);
        len += 1 + sz;
        n++;
    }
    gnutls_x509_crl_iter_deinit(it);
    it = NULL;
    if (n > 0 && (ci->sorted = malloc(n * sizeof(*ci->sorted))) == NULL)
        goto fail;
    for (size_t i = 0, off = 0; i < n; i++, off += 1 + ci->serials[off])
        ci->sorted[i] = ci->serials + off;
    if (n > 0)
        qsort(ci->sorted, n, sizeof(*ci->sorted), serial_cmp);
    ci->nserials = n;
    ci->indexed = 1;
    return 0;
fail:
    gnutls_x509_crl_iter_deinit(it);
    return -1;
}

static int crl_info_init(struct crl_info *ci, gnutls_x509_crl_t crl)
{
    memset(ci, 0, sizeof(*ci));
    ci->crl = crl;
    ci->this_update = gnutls_x509_crl_get_this_update(crl);
    ci->next_update = gnutls_x509_crl_get_next_update(crl);
    if (gnutls_x509_crl_get_raw_issuer_dn(crl, &ci->idn) < 0)
        ci->idn.size = 0;
    else if (crl_index(ci) < 0)
        return -1;
    return 0;
}

static int crl_append(smime_trust_t *t, gnutls_x509_crl_t *list, unsigned n)
{
    struct crl_info *nl = realloc(t->crls, (t->ncrls + n) * sizeof(*nl));

    if (nl == NULL)
        return -1;
    t->crls = nl;
    nl += t->ncrls;
    for (unsigned i = 0; i < n; i++) {
        if (crl_info_init(&nl[i], list[i]) == 0)
            continue;
        for (unsigned j = 0; j <= i; j++) {     /* the caller keeps the CRLs */
            nl[j].crl = NULL;
            crl_info_free(&nl[j]);
        }
        return -1;
    }
    t->ncrls += n;
    return 0;
}

int smime_trust_add_crl(smime_trust_t *t, const char *file,
                        char *err, size_t errlen)
{
    gnutls_datum_t d;
    gnutls_x509_crl_t *list = NULL, one = NULL;
    unsigned n = 0;
    int r;

    if (file_read(file, &d, err, errlen) < 0) {
        t->degraded = 1;
        return -1;
    }
    if (memmem(d.data, d.size, "-----BEGIN", 10) != NULL) {
        r = gnutls_x509_crl_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    } else if ((r = gnutls_x509_crl_init(&one)) >= 0) {
        r = gnutls_x509_crl_import(one, &d, GNUTLS_X509_FMT_DER);
        list = &one;
        n = 1;
    }
    free(d.data);
    if (r >= 0 && n > 0 && crl_append(t, list, n) == 0) {
        if (list != &one)
            gnutls_free(list);
        return (int)n;
    }
    for (unsigned i = 0; r >= 0 && i < n; i++)
        gnutls_x509_crl_deinit(list[i]);
    if (list != &one)
        gnutls_free(list);
    else if (r < 0)
        gnutls_x509_crl_deinit(one);
    snprintf(err, errlen, "%s: no CRL found%s%s", file, r < 0 ? ": " : "",
             r < 0 ? gnutls_strerror(r) : "");
    t->degraded = 1;
    return -1;
}

const char *smime_chain_status_string(enum smime_chain_status s)
{
    switch (s) {
    case SMIME_CHAIN_OK:                   return "certificate trusted";
    case SMIME_CHAIN_UNTRUSTED:            return "untrusted certificate";
    case SMIME_CHAIN_MISSING_INTERMEDIATE: return "missing intermediate";
    case SMIME_CHAIN_EXPIRED:              return "expired certificate";
    case SMIME_CHAIN_NOT_YET_VALID:        return "certificate not yet valid";
    case SMIME_CHAIN_REVOKED:              return "revoked certificate";
    case SMIME_CHAIN_TOO_LONG:             return "certificate chain too long";
    case SMIME_CHAIN_ERROR:                break;
    }
    return "internal error";
}


/* ---- names ---- */

static int datum_eq(const gnutls_datum_t *a, const gnutls_datum_t *b)
{
    return a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

/* ---- one verification: the certificates at hand ---- */

/* A certificate of this call and what was read from it (on first use). */
struct cinfo {
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn, idn;         /* raw subject and issuer DN */
    gnutls_datum_t str[2];          /* their strings (dn, idn) */
    gnutls_datum_t der;
    signed char names, has_der, has_str[2];   /* 0 not yet, 1 ok, -1 failed */
    signed char self;               /* self-issued; -1 not known yet */
};

static void ci_init(struct cinfo *c, gnutls_x509_crt_t crt)
{
    memset(c, 0, sizeof(*c));
    c->crt = crt;
    c->self = -1;
}

static void ci_clear(struct cinfo *c)
{
    gnutls_free(c->dn.data);
    gnutls_free(c->idn.data);
    gnutls_free(c->str[0].data);
    gnutls_free(c->str[1].data);
    gnutls_free(c->der.data);
}

static int ci_names(struct cinfo *c)
{
    if (c->names == 0)
        c->names = gnutls_x509_crt_get_raw_dn(c->crt, &c->dn) >= 0 &&
                   gnutls_x509_crt_get_raw_issuer_dn(c->crt, &c->idn) >= 0
                   ? 1 : -1;
    return c->names > 0;
}

static const gnutls_datum_t *ci_der(struct cinfo *c)
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

    if (datum_eq(x, y))
        return 1;
    if (x->size == 0 || y->size == 0 || trust_dn_differ(x, y))
        return 0;
    x = ci_str(a, wa);
    y = ci_str(b, wb);
    return x != NULL && y != NULL && datum_eq(x, y);
}

/* gnutls_x509_crt_check_issuer(), which only runs when the names match:
 * it converts both names to strings whenever their bytes differ. */
static int ci_issued_by(struct cinfo *child, struct cinfo *parent)
{
    if (ci_names(child) && ci_names(parent) && !ci_name_eq(child, 1, parent, 0))
        return 0;
    return gnutls_x509_crt_check_issuer(child->crt, parent->crt) == 1;
}

static int ci_self_signed(struct cinfo *c)
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
    if ((x = ci_der(a)) != NULL && (y = ci_der(b)) != NULL)
        return datum_eq(x, y);
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
    while (!ci_self_signed(&ci[chain[n - 1]])) {
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

/* ---- CRLs against a chain ---- */

/* The CRL's issuer name is issuer's name (gnutls_x509_crl_check_issuer). */
static int crl_issued_by(const struct crl_info *ci, struct cinfo *issuer)
{
    if (ci->idn.size > 0 && ci_names(issuer)) {
        if (datum_eq(&ci->idn, &issuer->dn))
            return 1;
        if (trust_dn_differ(&ci->idn, &issuer->dn))
            return 0;
    }
    return gnutls_x509_crl_check_issuer(ci->crl, issuer->crt) == 1;
}

/* 1 if the CRL lists cert (gnutls_x509_crt_check_revocation() for one
 * CRL, by a binary search of its serials). */
static int crl_lists(struct crl_info *ci, struct cinfo *cert)
{
    unsigned char key[1 + SERIAL_MAX];
    const unsigned char *k = key;
    size_t sz = SERIAL_MAX;

    if (!ci->indexed || !ci_names(cert) || !datum_eq(&ci->idn, &cert->idn)) {
        if (ci->indexed && cert->names > 0 && trust_dn_differ(&ci->idn, &cert->idn))
            return 0;
        return gnutls_x509_crt_check_revocation(cert->crt, &ci->crl, 1) == 1;
    }
    if (ci->nserials == 0 ||
        gnutls_x509_crt_get_serial(cert->crt, key + 1, &sz) < 0)
        return 0;
    key[0] = (unsigned char)sz;
    return bsearch(&k, ci->sorted, ci->nserials, sizeof(*ci->sorted),
                   serial_cmp) != NULL;
}

/* Does the CRL's signature verify with issuer?  Remembered per CRL for
 * the last CRL_ISSUERS issuers it verified with: the answer does not
 * change (the date bits do not count: a stale CRL still revokes). */
static int crl_signed_by(const smime_trust_t *t, struct crl_info *ci,
                         struct cinfo *issuer)
{
    const unsigned stale = GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
                           GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;
    pthread_mutex_t *lock = (pthread_mutex_t *)&t->crl_lock;   /* memo */
    const gnutls_datum_t *der = ci_der(issuer);
    unsigned char fp[TRUST_CACHE_KEYLEN];
    unsigned vst = 0;
    int known = 0;

    if (der != NULL &&
        gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, fp) < 0)
        der = NULL;
    if (der != NULL) {
        pthread_mutex_lock(lock);
        for (unsigned i = 0; i < ci->ngood && i < CRL_ISSUERS && !known; i++)
            known = memcmp(ci->good[i], fp, sizeof(fp)) == 0;
        pthread_mutex_unlock(lock);
        if (known)
            return 1;
    }
    if (gnutls_x509_crl_verify(ci->crl, &issuer->crt, 1, 0, &vst) < 0)
        return 0;
    /* GnuTLS adds GNUTLS_CERT_INVALID to the date bits. */
    if ((vst & ~(stale | GNUTLS_CERT_INVALID)) != 0 ||
        (vst != 0 && (vst & stale) == 0))
        return 0;
    if (der != NULL) {
        pthread_mutex_lock(lock);
        memcpy(ci->good[ci->ngood++ % CRL_ISSUERS], fp, sizeof(fp));
        pthread_mutex_unlock(lock);
    }
    return 1;
}

/* 1 if a CRL signed by cert's issuer lists cert.  issuer NULL: the
 * anchor that issued cert, fetched only when a CRL lists cert. */
static int crl_revoked(const smime_trust_t *t, struct cinfo *cert,
                       struct cinfo *issuer)
{
    gnutls_x509_crt_t anchor = NULL;
    struct cinfo a;
    int r = 0;

    for (size_t i = 0; i < t->ncrls && !r; i++) {
        struct crl_info *ci = &t->crls[i];
        if (!crl_lists(ci, cert))
            continue;
        if (issuer == NULL) {
            if (gnutls_x509_trust_list_get_issuer(t->tl, cert->crt, &anchor,
                                                  GNUTLS_TL_GET_COPY) != 0)
                break;
            ci_init(&a, anchor);
            issuer = &a;
        }
        r = crl_issued_by(ci, issuer) && crl_signed_by(t, ci, issuer);
    }
    if (anchor != NULL) {
        ci_clear(&a);
        gnutls_x509_crt_deinit(anchor);
    }
    return r;
}

/* Each certificate below the anchor against its issuer's CRLs. */
static enum smime_chain_status chain_crls(const smime_trust_t *t,
        struct cinfo *ci, const size_t *chain, size_t n)
{
    for (size_t i = 0; i < n && t->ncrls > 0; i++) {
        struct cinfo *c = &ci[chain[i]];
        if (ci_self_signed(c))
            break;
        if (crl_revoked(t, c, i + 1 < n ? &ci[chain[i + 1]] : NULL))
            return SMIME_CHAIN_REVOKED;
    }
    return SMIME_CHAIN_OK;
}

/* ---- the chain ---- */

static enum smime_chain_status status_map(const smime_trust_t *t,
        unsigned st, struct cinfo *last)
{
    const unsigned time_bits = GNUTLS_CERT_INVALID | GNUTLS_CERT_EXPIRED |
                               GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_REVOKED;
    gnutls_x509_crt_t iss;

    if (st & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        if (ci_self_signed(last) ||
            gnutls_x509_trust_list_get_issuer(t->tl, last->crt, &iss, 0) == 0)
            return SMIME_CHAIN_UNTRUSTED;
        return SMIME_CHAIN_MISSING_INTERMEDIATE;
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
    for (size_t i = 0; i < n && !ci_self_signed(&ci[chain[i]]); i++) {
        int alg = gnutls_x509_crt_get_signature_algorithm(crts[i]);
        if (alg > 0 && gnutls_sign_get_hash_algorithm(alg) == GNUTLS_DIG_SHA1)
            *sha1 = 1;
    }
    return chain_crls(t, ci, chain, n);
}

/* The cache key: SHA-256 over cut, the length and each certificate's
 * DER (length-prefixed). */
static int chain_key(struct cinfo *ci, const size_t *chain, size_t n,
                     int cut, unsigned char *key)
{
    gnutls_hash_hd_t h;
    unsigned char head[2] = { (unsigned char)cut, (unsigned char)n };

    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return -1;
    gnutls_hash(h, head, sizeof(head));
    for (size_t i = 0; i < n; i++) {
        const gnutls_datum_t *d = ci_der(&ci[chain[i]]);
        if (d == NULL) {
            gnutls_hash_deinit(h, key);
            return -1;
        }
        unsigned char len[4] = { (unsigned char)(d->size >> 24),
            (unsigned char)(d->size >> 16), (unsigned char)(d->size >> 8),
            (unsigned char)d->size };
        gnutls_hash(h, len, sizeof(len));
        gnutls_hash(h, d->data, d->size);
    }
    gnutls_hash_deinit(h, key);
    return 0;
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
    size_t chain[CHAIN_LIMIT];
    size_t max = max_chain == 0 || max_chain > CHAIN_LIMIT ? CHAIN_LIMIT
                                                           : max_chain;
    struct cinfo *ci = calloc(npool + 1, sizeof(*ci));
    unsigned char key[TRUST_CACHE_KEYLEN];
    struct trust_cache_val v;
    enum smime_chain_status st;
    int cut;

    *sha1 = 0;
    if (ci == NULL)
        return SMIME_CHAIN_ERROR;
    /* The clock is read before GnuTLS reads its own: a date crossed in
     * between puts the window's end before GnuTLS's now, so the entry
     * is never used. */
    time_t now = trust_now();
    ci_init(&ci[0], signer);
    for (size_t j = 0; j < npool; j++)
        ci_init(&ci[j + 1], pool[j]);
    size_t n = chain_build(ci, npool + 1, chain, max, &cut);
    int keyed = !t->no_cache && chain_key(ci, chain, n, cut, key) == 0;

    if (keyed && trust_cache_get(t->cache, key, now, &v)) {
        st = (enum smime_chain_status)v.status;
        *sha1 = v.sha1;
    } else {
        st = chain_verify(t, ci, chain, n, cut, sha1);
        if (keyed && st != SMIME_CHAIN_ERROR) {
            v.status = (int)st;
            v.sha1 = *sha1;
            chain_window(t, ci, chain, n, now, &v);
            trust_cache_put(t->cache, key, &v);
        }
    }
    for (size_t j = 0; j <= npool; j++)
        ci_clear(&ci[j]);
    free(ci);
    return st;
}
