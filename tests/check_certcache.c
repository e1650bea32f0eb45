/*
 * check_certcache.c - the trust store's cache of parsed message
 * certificates (crypto/certcache.c) and its memo of chain results per
 * certificate pool (smime_trust_verify_pool), part of check_crypto:
 * hits and misses; a verdict never reused for a pool that lacks the
 * intermediates it was reached with, after the store got a CRL or an
 * anchor, or once the clock crossed a certificate date; the bound; the
 * same certificates from many threads at once; a certificate GnuTLS
 * cannot read never entering.  crypto_testlib.c's verify_with() also
 * verifies every CMS of check_crypto a second time with the same store
 * (warm) and asserts the same results as the first (cold).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "certcache.h"
#include "trust.h"
#include "crypto_testlib.h"
#include "check_certcache.h"

/* roots.pem (unless !anchors) and crl.pem (if crl). */
static smime_trust_t *store(int anchors, int crl)
{
    char path[1100], err[512];
    smime_trust_t *t = smime_trust_new();

    ck_assert_ptr_nonnull(t);
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    if (anchors)
        ck_assert_int_eq(smime_trust_add_anchors(t, path, err,
                                                 sizeof(err)), 1);
    snprintf(path, sizeof(path), "%s/crl.pem", pki);
    if (crl)
        ck_assert_int_eq(smime_trust_add_crl(t, path, err, sizeof(err)), 1);
    return t;
}

/* Signed by name, with the intermediate in the CMS or not. */
static unsigned char *sign(const char *name, int with_inter, size_t *n)
{
    char e[1200];

    snprintf(e, sizeof(e), "%s%s%s", with_inter ? "-certfile " : "",
             with_inter ? pki : "", with_inter ? "/inter.crt" : "");
    return ossl_sign("cc.der", name, e, n);
}

/* One verification of cms on t, From name@example.org: its one result. */
static smime_policy_t cur_pol;        /* set by want_pol(), else default */

static smime_signer_result_t verify_on(smime_trust_t *t, const char *name,
                                       const unsigned char *cms, size_t n)
{
    char from[128];
    const char *addrs[1] = { from };
    smime_signer_result_t r[2];

    snprintf(from, sizeof(from), "%s@example.org", name);
    smime_verify_t *v = smime_verify_new(t, &cur_pol, 1);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(smime_verify_content(v, content, content_len), 0);
    ck_assert_int_eq(smime_verify_cms(v, cms, n), 0);
    ck_assert_uint_eq(smime_verify_finish(v, addrs, 1, r, 2), 1);
    smime_verify_free(v);
    return r[0];
}

static void want_pol(smime_trust_t *t, const char *name,
                     const unsigned char *cms, size_t n, const char *reason,
                     unsigned max_chain, unsigned min_rsa_bits)
{
    smime_policy_default(&cur_pol);
    if (max_chain)
        cur_pol.max_chain = max_chain;
    if (min_rsa_bits)
        cur_pol.min_rsa_bits = min_rsa_bits;
    smime_signer_result_t r = verify_on(t, name, cms, n);

    smime_policy_default(&cur_pol);
    ck_assert_msg(strcmp(r.reason, reason) == 0, "%s: got %s (%s), want %s",
                  name, smime_result_name(r.result), r.reason, reason);
}

static void want(smime_trust_t *t, const char *name, const unsigned char *cms,
                 size_t n, const char *reason)
{
    smime_signer_result_t r;

    smime_policy_default(&cur_pol);
    r = verify_on(t, name, cms, n);

    ck_assert_msg(strcmp(r.reason, reason) == 0, "%s: got %s (%s), want %s",
                  name, smime_result_name(r.result), r.reason, reason);
}

static void stats(smime_trust_t *t, unsigned long *hits,
                  unsigned long *misses, size_t *entries,
                  unsigned long *pool_hits)
{
    unsigned long pm;

    certcache_stats(smime_trust_certcache(t), hits, misses, entries);
    smime_trust_pool_stats(t, pool_hits, &pm);
}

START_TEST(test_hits_and_misses)
{
    smime_trust_t *t = store(1, 1);
    unsigned long hits, misses, ph;
    size_t entries, n;
    unsigned char *cms = sign("alice", 1, &n);

    want(t, "alice", cms, n, "signature verified");
    stats(t, &hits, &misses, &entries, &ph);
    ck_assert_uint_eq(hits, 0);
    ck_assert_uint_eq(misses, 2);             /* alice, inter */
    ck_assert_uint_eq(entries, 2);
    ck_assert_uint_eq(ph, 0);
    smime_signer_result_t cold = verify_on(t, "alice", cms, n);
    smime_signer_result_t warm = verify_on(t, "alice", cms, n);
    ck_assert_mem_eq(&cold, &warm, sizeof(cold));
    stats(t, &hits, &misses, &entries, &ph);
    ck_assert_uint_eq(hits, 4);
    ck_assert_uint_eq(misses, 2);
    ck_assert_uint_eq(entries, 2);
    ck_assert_uint_eq(ph, 2);
    free(cms);
    smime_trust_free(t);
}
END_TEST

/* alice's verdict reached with inter from one message is not the
 * verdict of a message without inter, and back. */
START_TEST(test_pool_is_part_of_the_key)
{
    smime_trust_t *t = store(1, 1);
    char e[1200];
    size_t n1, n2, n3;
    unsigned char *with = sign("alice", 1, &n1);
    unsigned char *without = sign("alice", 0, &n2);
    /* as many certificates as with, another one beside alice */
    snprintf(e, sizeof(e), "-certfile %s/other-inter.crt", pki);
    unsigned char *other = ossl_sign("cc-other.der", "alice", e, &n3);

    for (int i = 0; i < 2; i++) {
        want(t, "alice", with, n1, "signature verified");
        want(t, "alice", without, n2, "untrusted issuer "
             "CN=Test Intermediate CA,O=smime-milter test");
        want(t, "alice", other, n3, "untrusted issuer "
             "CN=Test Intermediate CA,O=smime-milter test");
    }
    free(with);
    free(without);
    free(other);
    smime_trust_free(t);
}
END_TEST

/* The policy a verdict was reached under is part of it: the chain's
 * length limit (a key of the memo), the RSA key size (judged per call). */
START_TEST(test_policy_is_part_of_the_key)
{
    smime_trust_t *t = store(1, 1);
    size_t n;
    unsigned char *cms = sign("alice", 1, &n);

    for (int i = 0; i < 2; i++) {
        want(t, "alice", cms, n, "signature verified");
        want_pol(t, "alice", cms, n, "certificate chain too long", 1, 0);
        want_pol(t, "alice", cms, n, "weak key", 0, 4096);
    }
    free(cms);
    smime_trust_free(t);
}
END_TEST

/* A CRL or an anchor added to a store that already verified. */
START_TEST(test_store_change_invalidates)
{
    char path[1100], err[512];
    smime_trust_t *t = store(1, 0);
    size_t n;
    unsigned char *cms = sign("revoked", 1, &n);

    want(t, "revoked", cms, n, "signature verified");
    want(t, "revoked", cms, n, "signature verified");
    snprintf(path, sizeof(path), "%s/crl.pem", pki);
    ck_assert_int_eq(smime_trust_add_crl(t, path, err, sizeof(err)), 1);
    want(t, "revoked", cms, n, "revoked certificate");
    free(cms);
    smime_trust_free(t);

    t = store(0, 0);
    cms = sign("alice", 1, &n);
    want(t, "alice", cms, n, "untrusted issuer CN=Test Root CA,O=smime-milter test");
    want(t, "alice", cms, n, "untrusted issuer CN=Test Root CA,O=smime-milter test");
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);
    want(t, "alice", cms, n, "signature verified");
    free(cms);
    smime_trust_free(t);
}
END_TEST

static time_t pinned;
static time_t pinned_time(time_t *tp)
{
    if (tp != NULL)
        *tp = pinned;
    return pinned;
}

/* A cached verdict ends where a date of the chain is crossed. */
START_TEST(test_clock_invalidates)
{
    smime_trust_t *t = store(1, 1);
    size_t n;
    unsigned char *cms = sign("alice", 1, &n);

    want(t, "alice", cms, n, "signature verified");
    want(t, "alice", cms, n, "signature verified");
    smime_trust_set_time_function(pinned_time);
    pinned = (time_t)4102444800LL + 86400 * 30;   /* after notAfter */
    want(t, "alice", cms, n, "expired certificate");
    pinned = (time_t)1577836800LL - 1;            /* before notBefore */
    want(t, "alice", cms, n, "certificate not yet valid");
    pinned = (time_t)1577836800LL;
    want(t, "alice", cms, n, "signature verified");
    smime_trust_set_time_function(NULL);
    want(t, "alice", cms, n, "signature verified");
    free(cms);
    smime_trust_free(t);
}
END_TEST

/* user's certificate, DER (malloc'd). */
static unsigned char *cert_der(const char *name, size_t *n)
{
    char path[1100];
    gnutls_datum_t pem, der;
    unsigned char *out;

    snprintf(path, sizeof(path), "%s/%s.crt", pki, name);
    pem.data = slurp(path, n);
    pem.size = (unsigned)*n;
    ck_assert_int_eq(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der), 0);
    free(pem.data);
    out = malloc(der.size);
    ck_assert_ptr_nonnull(out);
    memcpy(out, der.data, der.size);
    *n = der.size;
    gnutls_free(der.data);
    return out;
}

/* More certificates than the bound: the table keeps at most the bound,
 * and what it let go is parsed again. */
START_TEST(test_bound)
{
    enum { N = CERTCACHE_SIZE + 200 };
    certcache_t *c = certcache_new(CERTCACHE_SIZE);
    unsigned long hits, misses;
    size_t n, entries;
    unsigned char *der = cert_der("alice", &n);
    struct cc_cert *e;

    ck_assert_ptr_nonnull(c);
    /* 30 82 L L | 30 82 L L | a0 03 02 01 02 | 02 len serial... */
    ck_assert_int_eq(der[13], 0x02);
    size_t last = 14 + der[14];              /* the serial's last byte */
    for (int round = 0; round < 2; round++)
        for (unsigned i = 0; i < N; i++) {
            der[last] = (unsigned char)i;
            der[last - 1] = (unsigned char)(i >> 8 | 0x10);
            ck_assert_int_eq(certcache_get(c, der, n, &e), 1);
            cc_cert_unref(e);
        }
    certcache_stats(c, &hits, &misses, &entries);
    ck_assert_uint_le(entries, CERTCACHE_SIZE);
    ck_assert_uint_ge(entries, CERTCACHE_SIZE / 2);
    ck_assert_uint_ge(misses, N + (N - CERTCACHE_SIZE));
    ck_assert_uint_eq(hits + misses, 2 * N);
    /* just used: a hit */
    ck_assert_int_eq(certcache_get(c, der, n, &e), 1);
    cc_cert_unref(e);
    certcache_stats(c, &hits, &misses, &entries);
    ck_assert_uint_eq(hits + misses, 2 * N + 1);
    free(der);
    certcache_free(c);
}
END_TEST

/* A certificate GnuTLS cannot read: not cached, not a signer. */
START_TEST(test_malformed_never_enters)
{
    smime_trust_t *t = store(1, 1);
    certcache_t *c = smime_trust_certcache(t);
    unsigned long hits, misses;
    size_t n, dn, entries;
    unsigned char *cms = sign("alice", 0, &n);
    unsigned char *der = cert_der("alice", &dn);
    struct cc_cert *e = (struct cc_cert *)1;

    /* the CMS's copy of alice, version [0] turned into an OCTET STRING */
    unsigned char *at = memmem(cms, n, der, dn);
    ck_assert_ptr_nonnull(at);
    ck_assert_int_eq(at[8], 0xa0);
    at[8] = 0x04;
    der[8] = 0x04;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(certcache_get(c, der, dn, &e), 0);
        ck_assert_ptr_null(e);
        want(t, "alice", cms, n, "no signer certificate");
    }
    certcache_stats(c, &hits, &misses, &entries);
    ck_assert_uint_eq(entries, 0);
    ck_assert_uint_eq(hits, 0);
    ck_assert_uint_eq(misses, 4);
    free(der);
    free(cms);
    smime_trust_free(t);
}
END_TEST

#define THREADS 8
#define ROUNDS 40

struct targ {
    smime_trust_t *t;
    const unsigned char *cms;
    size_t n;
    pthread_barrier_t *go;
    int good;
};

static void *worker(void *p)
{
    struct targ *a = p;
    const char *from = "alice@example.org";
    smime_policy_t pol;

    smime_policy_default(&pol);
    pthread_barrier_wait(a->go);
    for (int i = 0; i < ROUNDS; i++) {
        smime_signer_result_t r[2];
        smime_verify_t *v = smime_verify_new(a->t, &pol, 1);
        if (v == NULL)
            return NULL;
        smime_verify_content(v, content, content_len);
        smime_verify_cms(v, a->cms, a->n);
        size_t k = smime_verify_finish(v, &from, 1, r, 2);
        smime_verify_free(v);
        int pass = 0, revoked = 0;
        for (size_t j = 0; j < k; j++) {
            pass += r[j].result == SMIME_RESULT_PASS &&
                    strcmp(r[j].identifier, "alice@example.org") == 0;
            revoked += strcmp(r[j].reason, "revoked certificate") == 0;
        }
        a->good += k == 2 && pass == 1 && revoked == 1;
    }
    return NULL;
}

/* The same certificates from many threads at once, starting cold. */
START_TEST(test_threads)
{
    char e[4000];
    struct targ args[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_t go;
    unsigned long hits, misses, ph;
    size_t n, entries;

    snprintf(e, sizeof(e), "-certfile %s/inter.crt -signer %s/revoked.crt "
             "-inkey %s/revoked.key", pki, pki, pki);
    unsigned char *cms = ossl_sign("cc-threads.der", "alice", e, &n);
    smime_trust_t *t = store(1, 1);
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct targ){ t, cms, n, &go, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].good, ROUNDS);
    }
    stats(t, &hits, &misses, &entries, &ph);
    ck_assert_uint_eq(entries, 3);            /* alice, revoked, inter */
    ck_assert_uint_eq(hits + misses, 3 * THREADS * ROUNDS);
    ck_assert_uint_ge(hits, 3 * THREADS * ROUNDS - 3 * THREADS);
    pthread_barrier_destroy(&go);
    smime_trust_free(t);
    free(cms);
}
END_TEST

TCase *certcache_tcase(void)
{
    TCase *tc = tcase_create("certcache");

    tcase_add_unchecked_fixture(tc, setup_once, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hits_and_misses);
    tcase_add_test(tc, test_pool_is_part_of_the_key);
    tcase_add_test(tc, test_policy_is_part_of_the_key);
    tcase_add_test(tc, test_store_change_invalidates);
    tcase_add_test(tc, test_clock_invalidates);
    tcase_add_test(tc, test_bound);
    tcase_add_test(tc, test_malformed_never_enters);
    tcase_add_test(tc, test_threads);
    return tc;
}
