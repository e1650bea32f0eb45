/*
 * check_trust.c - unit tests of smime_trust_verify_chain() itself (part
 * of check_crypto): every chain status, answered again from the chain
 * cache with the same result as a store that has not seen the chain;
 * cached results that must not outlive a certificate's validity (the
 * clock moved with smime_trust_set_time_function); CRLs, also stale ones;
 * issuer names that match only as GnuTLS compares them (another
 * string type) or not at all.  Also the keystore's per-entry memo of
 * keystore_check() (keystore_entry_check).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "cert.h"
#include "keystore.h"
#include "trust.h"
#include "trust_dn.h"
#include "crypto_testlib.h"
#include "check_trust.h"

static gnutls_x509_crt_t crt_load(const char *name)
{
    char path[1100];
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s.crt", pki, name);
    d.data = slurp(path, &n);
    d.size = (unsigned)n;
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
    free(d.data);
    return crt;
}

/* roots.pem, and the CRL file crl (PKI-relative or absolute) unless NULL. */
static smime_trust_t *store(const char *crl)
{
    char path[1100], err[512];
    smime_trust_t *t = smime_trust_new();

    ck_assert_ptr_nonnull(t);
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);
    if (crl != NULL) {
        snprintf(path, sizeof(path), "%s%s%s", crl[0] == '/' ? "" : pki,
                 crl[0] == '/' ? "" : "/", crl);
        ck_assert_msg(smime_trust_add_crl(t, path, err, sizeof(err)) >= 1,
                      "%s", err);
    }
    return t;
}

static unsigned long hits_of(const smime_trust_t *t)
{
    unsigned long hits, misses;

    smime_trust_cache_stats(t, &hits, &misses);
    return hits;
}

/* The chain of user (with pool: the user's certificate, then the named
 * others) on t, twice: the second answer comes from the cache and
 * equals the first, which equals a fresh store's; returns the status. */
static enum smime_chain_status chain_twice(smime_trust_t *t, const char *crl,
        const char *user, const char *const *others, unsigned max,
        enum smime_chain_status want)
{
    gnutls_x509_crt_t pool[4];
    size_t n = 0;
    int sha1 = -1, sha1b = -1, sha1c = -1;

    pool[n++] = crt_load(user);
    for (; others != NULL && others[n - 1] != NULL; n++)
        pool[n] = crt_load(others[n - 1]);
    unsigned long h0 = hits_of(t);
    enum smime_chain_status a = smime_trust_verify_chain(t, pool[0], pool, n,
                                                         max, &sha1);
    enum smime_chain_status b = smime_trust_verify_chain(t, pool[0], pool, n,
                                                         max, &sha1b);
    smime_trust_t *fresh = store(crl);
    enum smime_chain_status c = smime_trust_verify_chain(fresh, pool[0], pool,
                                                         n, max, &sha1c);

    ck_assert_msg(a == want, "%s: %s, expected %s", user,
                  smime_chain_status_string(a), smime_chain_status_string(want));
    ck_assert_int_eq(b, a);
    ck_assert_int_eq(c, a);
    ck_assert_int_eq(sha1b, sha1);
    ck_assert_int_eq(sha1c, sha1);
    ck_assert_uint_eq(hits_of(fresh), 0);
    ck_assert_uint_ge(hits_of(t), h0 + 1);     /* b came from the cache */
    smime_trust_free(fresh);
    for (size_t i = 0; i < n; i++)
        gnutls_x509_crt_deinit(pool[i]);
    return a;
}

static const char *const inter[] = { "inter", NULL };

START_TEST(test_chain_status_cached)
{
    static const char *const none[] = { NULL };
    static const char *const other[] = { "other-root", NULL };
    static const char *const other_inter[] = { "other-inter", NULL };
    smime_trust_t *t = store("crl.pem");

    chain_twice(t, "crl.pem", "alice", inter, 0, SMIME_CHAIN_OK);
    chain_twice(t, "crl.pem", "ecdsa", inter, 8, SMIME_CHAIN_OK);
    chain_twice(t, "crl.pem", "untrusted", other, 0,
                SMIME_CHAIN_UNTRUSTED_ROOT);
    chain_twice(t, "crl.pem", "selfsigned", none, 0,
                SMIME_CHAIN_UNTRUSTED_ROOT);
    chain_twice(t, "crl.pem", "alice", none, 0, SMIME_CHAIN_UNKNOWN_ISSUER);
    chain_twice(t, "crl.pem", "stranger", other_inter, 0,
                SMIME_CHAIN_UNKNOWN_ISSUER);
    chain_twice(t, "crl.pem", "expired", inter, 0, SMIME_CHAIN_EXPIRED);
    chain_twice(t, "crl.pem", "revoked", inter, 0, SMIME_CHAIN_REVOKED);
    chain_twice(t, "crl.pem", "alice", inter, 1, SMIME_CHAIN_TOO_LONG);
    /* the same chain cut or not is another entry */
    chain_twice(t, "crl.pem", "alice", inter, 2, SMIME_CHAIN_OK);
    smime_trust_free(t);
}
END_TEST

/* check_crypto is linked with -Wl,--wrap=gnutls_hash: while hash_fail
 * is set, every gnutls_hash() of the code under test fails. */
int __real_gnutls_hash(gnutls_hash_hd_t h, const void *p, size_t n);
int __wrap_gnutls_hash(gnutls_hash_hd_t h, const void *p, size_t n);
static int hash_fail;

int __wrap_gnutls_hash(gnutls_hash_hd_t h, const void *p, size_t n)
{
    return hash_fail ? GNUTLS_E_INTERNAL_ERROR : __real_gnutls_hash(h, p, n);
}

/* When the certificates cannot be hashed into the cache key, the chain
 * is verified without the cache: a key over what was hashed (here:
 * nothing) would be the same for every chain, and a revoked one got the
 * cached result of a good one. */
START_TEST(test_cache_key_hash_failure)
{
    static const char *const users[] = { "alice", "revoked", "alice" };
    static const enum smime_chain_status want[] = {
        SMIME_CHAIN_OK, SMIME_CHAIN_REVOKED, SMIME_CHAIN_OK };
    smime_trust_t *t = store("crl.pem");

    for (size_t i = 0; i < 3; i++) {
        gnutls_x509_crt_t pool[2] = { crt_load(users[i]), crt_load("inter") };
        int sha1 = -1;
        hash_fail = 1;
        enum smime_chain_status st = smime_trust_verify_chain(t, pool[0],
                                                              pool, 2, 0,
                                                              &sha1);
        hash_fail = 0;
        ck_assert_msg(st == want[i], "%s: %s", users[i],
                      smime_chain_status_string(st));
        gnutls_x509_crt_deinit(pool[0]);
        gnutls_x509_crt_deinit(pool[1]);
    }
    ck_assert_uint_eq(hits_of(t), 0);
    /* the same for the memo per pool (smime_trust_verify_pool) */
    for (size_t i = 0; i < 3; i++) {
        gnutls_x509_crt_t pool[2] = { crt_load(users[i]), crt_load("inter") };
        unsigned char ids[2][32];
        char dn[256];
        int sha1 = -1;
        memset(ids, (int)i + 1, sizeof(ids));
        hash_fail = 1;
        enum smime_chain_status st = smime_trust_verify_pool(t, 0, pool,
                (const unsigned char (*)[32])ids, 2, 0, &sha1, dn,
                sizeof(dn));
        hash_fail = 0;
        ck_assert_msg(st == want[i], "pool %s: %s", users[i],
                      smime_chain_status_string(st));
        gnutls_x509_crt_deinit(pool[0]);
        gnutls_x509_crt_deinit(pool[1]);
    }
    unsigned long ph, pm;
    smime_trust_pool_stats(t, &ph, &pm);
    ck_assert_uint_eq(ph, 0);
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

START_TEST(test_cache_follows_clock)
{
    smime_trust_t *t = store("crl.pem");

    /* cached as trusted now ... */
    chain_twice(t, "crl.pem", "alice", inter, 0, SMIME_CHAIN_OK);
    /* ... expired once the clock passes notAfter (2099-12-31) */
    pinned = (time_t)4102444800LL + 86400 * 30;
    smime_trust_set_time_function(pinned_time);
    chain_twice(t, "crl.pem", "alice", inter, 0, SMIME_CHAIN_EXPIRED);
    /* not yet valid before notBefore (2020-01-01) */
    pinned = (time_t)1577836800LL - 86400;
    chain_twice(t, "crl.pem", "alice", inter, 0, SMIME_CHAIN_NOT_YET_VALID);
    /* one second either side of notBefore */
    pinned = (time_t)1577836800LL;
    chain_twice(t, "crl.pem", "alice", inter, 0, SMIME_CHAIN_OK);
    pinned = (time_t)1577836800LL - 1;
    chain_twice(t, "crl.pem", "alice", inter, 0, SMIME_CHAIN_NOT_YET_VALID);
    /* in 2001 the expired user was valid, but inter was not yet */
    pinned = (time_t)991353600LL;
    smime_trust_free(t);
    t = store(NULL);
    chain_twice(t, NULL, "expired", inter, 0, SMIME_CHAIN_NOT_YET_VALID);
    smime_trust_set_time_function(NULL);
    chain_twice(t, NULL, "expired", inter, 0, SMIME_CHAIN_EXPIRED);
    chain_twice(t, NULL, "alice", inter, 0, SMIME_CHAIN_OK);
    smime_trust_free(t);
}
END_TEST

/* A CRL by inter revoking `revoked', its nextUpdate long past. */
static void stale_crl(char *out, size_t len)
{
    char tmpl[1100];
    FILE *f;

    snprintf(tmpl, sizeof(tmpl), "%s/stale-crl.tmpl", work);
    snprintf(out, len, "%s/stale-crl.pem", work);
    f = fopen(tmpl, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "crl_number = 7\n"
            "crl_this_update_date = \"2020-02-01 00:00:00 UTC\"\n"
            "crl_next_update_date = \"2020-03-01 00:00:00 UTC\"\n");
    fclose(f);
    ck_assert_int_eq(run("%s --generate-crl --load-ca-privkey %s/inter.key "
                         "--load-ca-certificate %s/inter.crt "
                         "--load-certificate %s/revoked.crt --template %s "
                         "--outfile %s >/dev/null 2>&1", certtool_bin, pki,
                         pki, pki, tmpl, out), 0);
}

START_TEST(test_crl_stale_still_revokes)
{
    char crl[1100];

    stale_crl(crl, sizeof(crl));
    smime_trust_t *t = store(crl);
    chain_twice(t, crl, "revoked", inter, 0, SMIME_CHAIN_REVOKED);
    chain_twice(t, crl, "alice", inter, 0, SMIME_CHAIN_OK);
    smime_trust_free(t);
}
END_TEST

/* alice.crt with byte `at' of its issuer's CN (the first "Test
 * Intermediate CA" in the DER) replaced: the tag (PrintableString) when
 * at is 0, else a letter of the name. */
static gnutls_x509_crt_t alice_patched(size_t at, unsigned char to)
{
    static const char cn[] = "\x13\x14Test Intermediate CA";
    char path[1100];
    gnutls_datum_t pem, der;
    gnutls_x509_crt_t crt;
    size_t n;

    snprintf(path, sizeof(path), "%s/alice.crt", pki);
    pem.data = slurp(path, &n);
    pem.size = (unsigned)n;
    ck_assert_int_eq(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der), 0);
    free(pem.data);
    unsigned char *p = memmem(der.data, der.size, cn, sizeof(cn) - 1);
    ck_assert_ptr_nonnull(p);
    p[at] = to;
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER), 0);
    gnutls_free(der.data);
    return crt;
}

/* trust_dn_differ(issuer name of a, subject name of b) */
static int idn_dn_differ(gnutls_x509_crt_t a, gnutls_x509_crt_t b)
{
    gnutls_datum_t x, y;

    ck_assert_int_eq(gnutls_x509_crt_get_raw_issuer_dn(a, &x), 0);
    ck_assert_int_eq(gnutls_x509_crt_get_raw_dn(b, &y), 0);
    int r = trust_dn_differ(&x, &y);
    gnutls_free(x.data);
    gnutls_free(y.data);
    return r;
}

START_TEST(test_issuer_names_as_gnutls)
{
    smime_trust_t *t = store(NULL);
    gnutls_x509_crt_t pool[2], alice = crt_load("alice");
    int sha1;

    pool[1] = crt_load("inter");
    /* the quick test decides names that differ in a value ... */
    ck_assert_int_eq(idn_dn_differ(alice, alice), 1);
    ck_assert_int_eq(idn_dn_differ(pool[1], pool[1]), 1);
    ck_assert_int_eq(idn_dn_differ(pool[1], alice), 1);
    /* ... and leaves equal names, and a value in another string type,
     * to the byte and string comparisons */
    ck_assert_int_eq(idn_dn_differ(alice, pool[1]), 0);
    gnutls_x509_crt_deinit(alice);
    alice = alice_patched(0, 0x0c);
    ck_assert_int_eq(idn_dn_differ(alice, pool[1]), 0);
    gnutls_x509_crt_deinit(alice);
    alice = alice_patched(2, 'X');
    ck_assert_int_eq(idn_dn_differ(alice, pool[1]), 1);
    gnutls_x509_crt_deinit(alice);

    /* UTF8String instead of PrintableString: the same name to GnuTLS,
     * so inter is found, and the changed certificate fails its
     * signature: untrusted, not a missing intermediate */
    pool[0] = alice_patched(0, 0x0c);
    ck_assert_int_eq(smime_trust_verify_chain(t, pool[0], pool, 2, 0, &sha1),
                     SMIME_CHAIN_UNTRUSTED);
    ck_assert_int_eq(gnutls_x509_crt_check_issuer(pool[0], pool[1]), 1);
    gnutls_x509_crt_deinit(pool[0]);
    /* another name: no issuer in the pool */
    pool[0] = alice_patched(2, 'X');
    ck_assert_int_eq(smime_trust_verify_chain(t, pool[0], pool, 2, 0, &sha1),
                     SMIME_CHAIN_UNKNOWN_ISSUER);
    ck_assert_int_eq(gnutls_x509_crt_check_issuer(pool[0], pool[1]), 0);
    gnutls_x509_crt_deinit(pool[0]);
    gnutls_x509_crt_deinit(pool[1]);
    smime_trust_free(t);
}
END_TEST

/* The issuer name of the chain's end, as verify.c reports it. */
static void end_issuer(gnutls_x509_crt_t signer, const gnutls_x509_crt_t *pool,
                       size_t n, const char *want)
{
    char dn[512];
    gnutls_x509_crt_t end = smime_trust_chain_end(signer, pool, n, 0);

    ck_assert_ptr_nonnull(end);
    smime_cert_issuer_dn(end, dn, sizeof(dn));
    ck_assert_str_eq(dn, want);
}

/* A chain that reaches no anchor says only what is known of it: where
 * it ends.  The intermediate in the pool and the root unknown (a
 * private CA, or TrustSystemStore alone): the root is the unknown
 * issuer, never "missing intermediate". */
START_TEST(test_chain_end_unknown)
{
    char path[1100], err[512];
    smime_trust_t *t = smime_trust_new(), *ours = store(NULL);
    gnutls_x509_crt_t pool[2];
    int sha1;

    ck_assert_ptr_nonnull(t);
    snprintf(path, sizeof(path), "%s/other-root.crt", pki);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);

    /* alice with inter, only other-root trusted: the test root is the
     * unknown issuer */
    pool[0] = crt_load("alice");
    pool[1] = crt_load("inter");
    ck_assert_int_eq(smime_trust_verify_chain(t, pool[0], pool, 2, 0, &sha1),
                     SMIME_CHAIN_UNKNOWN_ISSUER);
    ck_assert_ptr_eq(smime_trust_chain_end(pool[0], pool, 2, 0), pool[1]);
    end_issuer(pool[0], pool, 2, "CN=Test Root CA,O=smime-milter test");
    /* without inter: inter is the unknown issuer */
    ck_assert_int_eq(smime_trust_verify_chain(t, pool[0], pool, 1, 0, &sha1),
                     SMIME_CHAIN_UNKNOWN_ISSUER);
    ck_assert_ptr_eq(smime_trust_chain_end(pool[0], pool, 1, 0), pool[0]);
    end_issuer(pool[0], pool, 1, "CN=Test Intermediate CA,O=smime-milter test");
    gnutls_x509_crt_deinit(pool[0]);
    gnutls_x509_crt_deinit(pool[1]);

    /* stranger with other-inter: the other root is unknown to ours ... */
    pool[0] = crt_load("stranger");
    pool[1] = crt_load("other-inter");
    ck_assert_int_eq(smime_trust_verify_chain(ours, pool[0], pool, 2, 0,
                                              &sha1),
                     SMIME_CHAIN_UNKNOWN_ISSUER);
    end_issuer(pool[0], pool, 2, "CN=Other Root,O=smime-milter test");
    /* ... and an anchor of t */
    ck_assert_int_eq(smime_trust_verify_chain(t, pool[0], pool, 2, 0, &sha1),
                     SMIME_CHAIN_OK);
    gnutls_x509_crt_deinit(pool[0]);
    gnutls_x509_crt_deinit(pool[1]);

    /* a self-signed end is the root itself */
    pool[0] = crt_load("untrusted");
    pool[1] = crt_load("other-root");
    ck_assert_int_eq(smime_trust_verify_chain(ours, pool[0], pool, 2, 0,
                                              &sha1),
                     SMIME_CHAIN_UNTRUSTED_ROOT);
    ck_assert_ptr_eq(smime_trust_chain_end(pool[0], pool, 2, 0), pool[1]);
    end_issuer(pool[0], pool, 2, "CN=Other Root,O=smime-milter test");
    gnutls_x509_crt_deinit(pool[0]);
    gnutls_x509_crt_deinit(pool[1]);
    smime_trust_free(t);
    smime_trust_free(ours);
}
END_TEST

/* keystore_entry_check() answers as keystore_check() does, for every
 * kind of entry, address spelling and time. */
START_TEST(test_keystore_entry_check)
{
    static const char *const users[] = { "alice", "expired", "nokeyusage",
                                         "noeku", "weak", "ecdsa" };
    static const time_t when[] = { 1577836800 - 1, 1577836800,
        2524608000, 4102444799, 4102444800, 4102444801, 1000000000 };
    char path[1100], err[512], a[600], b[600];
    keystore_writer_t *w;
    keystore_t *ks;

    snprintf(path, sizeof(path), "%s/memo.cdb", work);
    w = keystore_writer_new(path, err, sizeof(err));
    ck_assert_msg(w != NULL, "%s", err);
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        char file[1100], addr[64];
        size_t n;
        snprintf(file, sizeof(file), "%s/%s.pem", pki, users[i]);
        unsigned char *pem = slurp(file, &n);
        smime_signer_t *s = smime_signer_from_pem(pem, n, err, sizeof(err));
        ck_assert_msg(s != NULL, "%s: %s", users[i], err);
        snprintf(addr, sizeof(addr), "%s@example.org", users[i]);
        /* alice's entry also under an address not in its certificate */
        ck_assert_int_eq(keystore_writer_add(w, addr, s, NULL, 0, err,
                                             sizeof(err)), 0);
        if (i == 0)
            ck_assert_int_eq(keystore_writer_add(w, "other@example.org", s,
                                                 NULL, 0, err, sizeof(err)), 0);
        smime_signer_free(s);
        free(pem);
    }
    ck_assert_int_eq(keystore_writer_commit(w, err, sizeof(err)), 0);
    keystore_writer_free(w);
    ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    for (size_t i = 0; i <= sizeof(users) / sizeof(users[0]); i++) {
        char addr[64];
        keystore_entry_t *e;
        snprintf(addr, sizeof(addr), "%s@Example.ORG",
                 i < sizeof(users) / sizeof(users[0]) ? users[i] : "other");
        ck_assert_int_eq(keystore_lookup(ks, addr, &e, err, sizeof(err)), 1);
        for (size_t k = 0; k < sizeof(when) / sizeof(when[0]); k++) {
            int x = keystore_entry_check(e, addr, when[k], a, sizeof(a));
            /* one credential: keystore_entry_signer() is NULL when it
             * cannot sign, keystore_check() judges the credential */
            int y = keystore_check(keystore_entry_cred(e, 0), addr, when[k],
                                   b, sizeof(b));
            ck_assert_int_eq(x, y);
            ck_assert_str_eq(a, b);
        }
        /* usable entries pass now and in 2050 */
        if (i == 0 || i == 5)
            ck_assert_int_eq(keystore_entry_check(e, addr, 2524608000, a,
                                                  sizeof(a)), 0);
        keystore_entry_free(e);
    }
    keystore_free(ks);
}
END_TEST

TCase *trust_tcase(void)
{
    TCase *tc = tcase_create("trust");

    tcase_add_unchecked_fixture(tc, setup_once, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_chain_status_cached);
    tcase_add_test(tc, test_cache_key_hash_failure);
    tcase_add_test(tc, test_cache_follows_clock);
    tcase_add_test(tc, test_crl_stale_still_revokes);
    tcase_add_test(tc, test_issuer_names_as_gnutls);
    tcase_add_test(tc, test_chain_end_unknown);
    tcase_add_test(tc, test_keystore_entry_check);
    return tc;
}
