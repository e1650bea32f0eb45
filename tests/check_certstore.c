/*
 * check_certstore.c - unit tests of the recipient certificate store
 * (crypto/certstore.c, certstore_write.c, certstore_stamp.c) and of the
 * encryption usage rule (smime_cert_check_encrypt_usage): put, lookup,
 * delete, keys in any case, the harvest rules of SPEC, damaged and
 * unknown records, a second process writing at the same time, and a map
 * that must grow.
 * Certificates come from the test PKI (tests/pki/mkpki.sh); the store
 * logic does not care which address a certificate names.
 */
#include "config.h"

#include <check.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "cert.h"
#include "certstore.h"
#include "crypto_testlib.h"
#include "envelope_write.h"
#include "recipient.h"
#include "recipient_priv.h"
#include "trust.h"

static char dir[1100];

struct der {
    unsigned char *p;
    size_t n;
};

/* The DER of PKI certificate name (caller frees p). */
static struct der der_of(const char *name)
{
    char path[1200];
    size_t n;
    unsigned char *pem;
    gnutls_datum_t in, out;
    struct der d;

    snprintf(path, sizeof(path), "%s/%s.crt", pki, name);
    pem = slurp(path, &n);
    in.data = pem;
    in.size = (unsigned)n;
    ck_assert_int_ge(gnutls_pem_base64_decode2("CERTIFICATE", &in, &out), 0);
    d.p = malloc(out.size);
    memcpy(d.p, out.data, out.size);
    d.n = out.size;
    gnutls_free(out.data);
    free(pem);
    return d;
}

static gnutls_x509_crt_t crt_of(const char *name)
{
    struct der d = der_of(name);
    gnutls_datum_t dd = { d.p, (unsigned)d.n };
    gnutls_x509_crt_t crt;

    ck_assert_int_ge(gnutls_x509_crt_init(&crt), 0);
    ck_assert_int_ge(gnutls_x509_crt_import(crt, &dd, GNUTLS_X509_FMT_DER), 0);
    free(d.p);
    return crt;
}

/* A fresh store path in the scratch directory. */
static const char *store_path(const char *name)
{
    static char path[1300];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "-lock");
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static certstore_t *open_new(const char *name, size_t mapsize)
{
    char err[300];
    certstore_t *cs = certstore_open(store_path(name),
                                     CERTSTORE_RDWR | CERTSTORE_CREATE,
                                     mapsize, err, sizeof(err));
    ck_assert_msg(cs != NULL, "open: %s", err);
    return cs;
}

static void setup(void)
{
    setup_once();
    snprintf(dir, sizeof(dir), "%s/certstore", work);
    ck_assert_int_eq(run("mkdir -p '%s'", dir), 0);
}

static enum certstore_status imp(certstore_t *cs, const char *addr,
                                 const struct der *d)
{
    char err[300];
    return certstore_import(cs, addr, d->p, d->n, NULL, NULL, 0, err,
                            sizeof(err));
}

static enum certstore_status harv(certstore_t *cs, const char *addr,
                                  const struct der *d, int64_t t,
                                  const char *caps)
{
    char err[300];
    return certstore_harvest(cs, addr, d->p, d->n, NULL, NULL, 0,
                             (const unsigned char *)caps,
                             caps ? strlen(caps) : 0, t, err, sizeof(err));
}

/* The entries of addr (asserting it is there), in *l. */
static size_t look(certstore_t *cs, const char *addr, certstore_list_t **l)
{
    char err[300];
    enum certstore_status st = certstore_lookup(cs, addr, l, err,
                                                sizeof(err));
    ck_assert_msg(st == CERTSTORE_OK, "lookup %s: %d %s", addr, st, err);
    return certstore_list_count(*l);
}

static int same(const struct certstore_entry *e, const struct der *d)
{
    return e->cert_len == d->n && memcmp(e->cert, d->p, d->n) == 0;
}

/* ---- the encryption usage rule ---- */

START_TEST(test_encrypt_usage)
{
    static const struct {
        const char *name;
        enum smime_cert_status want;
    } c[] = {
        { "alice", SMIME_CERT_OK },          /* RSA, keyEncipherment too */
        { "encrsa", SMIME_CERT_OK },         /* keyEncipherment only */
        { "encec", SMIME_CERT_OK },          /* EC, keyAgreement */
        { "nokeyusage", SMIME_CERT_OK },     /* keyEncipherment only */
        { "ecdsa", SMIME_CERT_KEY_USAGE },   /* EC, signing only */
        { "noeku", SMIME_CERT_EKU },
        { "ed25519", SMIME_CERT_KEY_TYPE },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        gnutls_x509_crt_t crt = crt_of(c[i].name);
        char addr[64];
        ck_assert_msg(smime_cert_check_encrypt_usage(crt) == c[i].want,
                      "%s: %s", c[i].name, smime_cert_status_string(
                          smime_cert_check_encrypt_usage(crt)));
        snprintf(addr, sizeof(addr), "%s@EXAMPLE.org", c[i].name);
        ck_assert_int_eq(smime_cert_can_encrypt(crt, addr),
                         c[i].want == SMIME_CERT_OK);
        ck_assert_int_eq(smime_cert_can_encrypt(crt, "mallory@example.org"),
                         0);
        gnutls_x509_crt_deinit(crt);
    }
    /* signing rules unchanged: encrsa cannot sign */
    gnutls_x509_crt_t crt = crt_of("encrsa");
    ck_assert_int_eq(smime_cert_check_usage(crt), SMIME_CERT_KEY_USAGE);
    gnutls_x509_crt_deinit(crt);
}
END_TEST

/* ---- put, lookup, delete ---- */

START_TEST(test_put_lookup_delete)
{
    certstore_t *cs = open_new("basic.mdb", 0);
    struct der a = der_of("alice"), b = der_of("bob");
    certstore_list_t *l;
    char serial[64], err[300];

    ck_assert_int_eq(imp(cs, "Alice@Example.ORG", &a), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "alice@example.org", &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    ck_assert_int_eq(certstore_list_get(l, 0)->source, CERTSTORE_IMPORT);
    certstore_list_free(l);
    ck_assert_int_eq(look(cs, "ALICE@EXAMPLE.ORG", &l), 1);
    certstore_list_free(l);

    /* a second certificate of the address stays beside the first */
    ck_assert_int_eq(imp(cs, "alice@example.org", &b), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "alice@example.org", &l), 2);
    certstore_list_free(l);
    /* the same one again replaces itself */
    ck_assert_int_eq(imp(cs, "alice@example.org", &b), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "alice@example.org", &l), 2);
    certstore_list_free(l);

    ck_assert_int_eq(certstore_lookup(cs, "nobody@example.org", &l, err,
                                      sizeof(err)), CERTSTORE_NOTFOUND);
    ck_assert_ptr_null(l);
    ck_assert_int_eq(certstore_lookup(cs, "no address", &l, err,
                                      sizeof(err)), CERTSTORE_BAD_INPUT);
    ck_assert_int_eq(imp(cs, "", &a), CERTSTORE_BAD_INPUT);
    struct der junk = { (unsigned char *)"junk", 4 };
    ck_assert_int_eq(imp(cs, "x@example.org", &junk), CERTSTORE_BAD_INPUT);

    /* delete by serial: leading zeros and case do not matter */
    serial_of("bob", serial, sizeof(serial));
    ck_assert_int_eq(certstore_delete(cs, "alice@example.org", "ffff", err,
                                      sizeof(err)), CERTSTORE_NOTFOUND);
    char padded[80];
    snprintf(padded, sizeof(padded), "00%s", serial);
    ck_assert_int_eq(certstore_delete(cs, "ALICE@example.org", padded, err,
                                      sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "alice@example.org", &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    certstore_list_free(l);
    ck_assert_int_eq(certstore_delete(cs, "alice@example.org", NULL, err,
                                      sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(certstore_lookup(cs, "alice@example.org", &l, err,
                                      sizeof(err)), CERTSTORE_NOTFOUND);
    ck_assert_int_eq(certstore_delete(cs, "alice@example.org", NULL, err,
                                      sizeof(err)), CERTSTORE_NOTFOUND);
    certstore_free(cs);
    certstore_free(NULL);
    certstore_list_free(NULL);
    free(a.p);
    free(b.p);
}
END_TEST

/* A certificate stored for many addresses is one record: deleting some
 * addresses keeps it for the others. */
START_TEST(test_shared_certificate)
{
    certstore_t *cs = open_new("shared.mdb", 0);
    struct der a = der_of("alice");
    certstore_list_t *l;
    char err[300];

    ck_assert_int_eq(imp(cs, "a1@example.org", &a), CERTSTORE_OK);
    ck_assert_int_eq(harv(cs, "a2@example.org", &a, 10, NULL), CERTSTORE_OK);
    ck_assert_int_eq(certstore_delete(cs, "a1@example.org", NULL, err,
                                      sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "a2@example.org", &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    certstore_list_free(l);
    certstore_free(cs);
    free(a.p);
}
END_TEST

/* Many addresses at once: a damaged record or a non-address fails
 * alone. */
START_TEST(test_import_all)
{
    certstore_t *cs = open_new("all.mdb", 0);
    struct der a = der_of("alice");
    const char *addrs[] = { "one@example.org", "not-an-address",
                            "broken@example.org", "TWO@example.org" };
    enum certstore_status each[4];
    certstore_list_t *l;
    char err[300];

    ck_assert_int_eq(certstore_put_raw(cs, "broken@example.org", "\x07", 1,
                                       err, sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(certstore_import_all(cs, addrs, 4, each, a.p, a.n, NULL,
                                          NULL, 0, err, sizeof(err)),
                     CERTSTORE_OK);
    ck_assert_int_eq(each[0], CERTSTORE_OK);
    ck_assert_int_eq(each[1], CERTSTORE_BAD_INPUT);
    ck_assert_int_eq(each[2], CERTSTORE_CORRUPT);
    ck_assert_int_eq(each[3], CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "two@example.org", &l), 1);
    certstore_list_free(l);
    ck_assert_int_eq(look(cs, "one@example.org", &l), 1);
    certstore_list_free(l);
    ck_assert_int_eq(certstore_lookup(cs, "broken@example.org", &l, err,
                                      sizeof(err)), CERTSTORE_CORRUPT);
    certstore_free(cs);
    free(a.p);
}
END_TEST

/* ---- harvest rules ---- */

START_TEST(test_harvest_rules)
{
    certstore_t *cs = open_new("harvest.mdb", 0);
    struct der a = der_of("alice"), b = der_of("bob");
    const struct certstore_entry *e;
    certstore_list_t *l;
    const char *who = "partner@example.net";

    ck_assert_int_eq(harv(cs, who, &a, 1000, "capsA"), CERTSTORE_OK);
    /* an older signingTime does not replace a newer one, nor an equal */
    ck_assert_int_eq(harv(cs, who, &b, 999, "capsB"), CERTSTORE_KEPT);
    ck_assert_int_eq(harv(cs, who, &b, 1000, "capsB"), CERTSTORE_KEPT);
    ck_assert_int_eq(look(cs, who, &l), 1);
    e = certstore_list_get(l, 0);
    ck_assert(same(e, &a));
    ck_assert_int_eq(e->signing_time, 1000);
    ck_assert_int_eq(e->source, CERTSTORE_HARVEST);
    ck_assert_uint_eq(e->caps_len, 5);
    ck_assert_int_eq(memcmp(e->caps, "capsA", 5), 0);
    certstore_list_free(l);
    /* a later one replaces it (one harvested certificate per address) */
    ck_assert_int_eq(harv(cs, who, &b, 2000, "capsB"), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, who, &l), 1);
    e = certstore_list_get(l, 0);
    ck_assert(same(e, &b));
    ck_assert_int_eq(e->signing_time, 2000);
    ck_assert_int_eq(memcmp(e->caps, "capsB", 5), 0);
    certstore_list_free(l);
    /* the same certificate seen later: time and capabilities move on */
    ck_assert_int_eq(harv(cs, who, &b, 3000, NULL), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, who, &l), 1);
    ck_assert_int_eq(certstore_list_get(l, 0)->signing_time, 3000);
    ck_assert_uint_eq(certstore_list_get(l, 0)->caps_len, 0);
    certstore_list_free(l);

    /* import replaces harvest */
    ck_assert_int_eq(imp(cs, who, &a), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, who, &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    ck_assert_int_eq(certstore_list_get(l, 0)->source, CERTSTORE_IMPORT);
    certstore_list_free(l);
    /* harvest never replaces (nor joins) an import, however late */
    ck_assert_int_eq(harv(cs, who, &b, 9999999, NULL), CERTSTORE_KEPT);
    ck_assert_int_eq(harv(cs, who, &a, 9999999, NULL), CERTSTORE_KEPT);
    ck_assert_int_eq(look(cs, who, &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    ck_assert_int_eq(certstore_list_get(l, 0)->source, CERTSTORE_IMPORT);
    certstore_list_free(l);
    certstore_free(cs);
    free(a.p);
    free(b.p);
}
END_TEST

/* ---- records this code cannot read ---- */

START_TEST(test_bad_records)
{
    certstore_t *cs = open_new("garbage.mdb", 0);
    struct der a = der_of("alice");
    unsigned char fp[32], rec[128];
    size_t n = 0;
    certstore_list_t *l;
    char err[300];

    /* a valid record made by hand, with a field type from the future */
    ck_assert_int_eq(imp(cs, "keep@example.org", &a), CERTSTORE_OK);
    gnutls_hash_fast(GNUTLS_DIG_SHA256, a.p, a.n, fp);
    rec[n++] = 1;
    memcpy(rec + n, "f\0\0\0\x20", 5); n += 5;
    memcpy(rec + n, fp, 32); n += 32;
    memcpy(rec + n, "s\0\0\0\x01\x02", 6); n += 6;
    memcpy(rec + n, "z\0\0\0\x03xyz", 8); n += 8;
    ck_assert_int_eq(certstore_put_raw(cs, "future@example.org", rec, n, err,
                                       sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "future@example.org", &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    ck_assert_int_eq(certstore_list_get(l, 0)->source, CERTSTORE_HARVEST);
    certstore_list_free(l);

    static const struct {
        const char *addr;
        const char *rec;
        size_t len;
    } bad[] = {
        { "v2@example.org", "\x02", 1 },               /* another version */
        { "empty@example.org", "", 0 },
        { "noentry@example.org", "\x01", 1 },
        { "trunc@example.org", "\x01" "f\0\0\0\x20" "abc", 9 },
        { "huge@example.org", "\x01" "f\xff\xff\xff\xff", 6 },
        { "nosource@example.org", "\x01" "f\0\0\0\x02" "ab", 8 },
        { "orphan@example.org", "\x01" "s\0\0\0\x01\x01", 7 },
        { "badsrc@example.org", "\x01" "f\0\0\0\x20"
          "0123456789abcdef0123456789abcdef" "s\0\0\0\x01\x07", 44 },
        { "missing@example.org", "\x01" "f\0\0\0\x20"
          "0123456789abcdef0123456789abcdef" "s\0\0\0\x01\x01", 44 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(certstore_put_raw(cs, bad[i].addr, bad[i].rec,
                                           bad[i].len, err, sizeof(err)),
                         CERTSTORE_OK);
        ck_assert_msg(certstore_lookup(cs, bad[i].addr, &l, err, sizeof(err))
                      == CERTSTORE_CORRUPT, "%s", bad[i].addr);
        ck_assert_ptr_null(l);
        /* writes to it say so instead of guessing */
        if (strcmp(bad[i].addr, "missing@example.org") != 0)
            ck_assert_int_eq(imp(cs, bad[i].addr, &a), CERTSTORE_CORRUPT);
    }
    /* an import drops an entry whose certificate record is gone */
    ck_assert_int_eq(imp(cs, "missing@example.org", &a), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "missing@example.org", &l), 1);
    ck_assert(same(certstore_list_get(l, 0), &a));
    certstore_list_free(l);
    /* a broken record can still be deleted, then imported again */
    ck_assert_int_eq(certstore_delete(cs, "v2@example.org", NULL, err,
                                      sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(imp(cs, "v2@example.org", &a), CERTSTORE_OK);
    ck_assert_int_eq(look(cs, "v2@example.org", &l), 1);
    certstore_list_free(l);
    ck_assert_int_eq(look(cs, "keep@example.org", &l), 1);
    certstore_list_free(l);
    certstore_free(cs);
    free(a.p);
}
END_TEST

static int count_each(void *arg, const char *address,
                      const certstore_list_t *l, const char *why)
{
    int *c = arg;
    (void)address;
    c[l ? 0 : 1]++;
    ck_assert(l != NULL || why != NULL);
    return 0;
}

START_TEST(test_foreach_survives_garbage)
{
    certstore_t *cs = open_new("each.mdb", 0);
    struct der a = der_of("alice");
    char err[300];
    int c[2] = { 0, 0 };

    ck_assert_int_eq(imp(cs, "a@example.org", &a), CERTSTORE_OK);
    ck_assert_int_eq(imp(cs, "b@example.org", &a), CERTSTORE_OK);
    ck_assert_int_eq(certstore_put_raw(cs, "c@example.org", "\x01zz", 3,
                                       err, sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(certstore_foreach(cs, count_each, c, err, sizeof(err)),
                     CERTSTORE_OK);
    ck_assert_int_eq(c[0], 2);
    ck_assert_int_eq(c[1], 1);
    certstore_free(cs);
    free(a.p);
}
END_TEST

/* ---- opening ---- */

START_TEST(test_open_errors)
{
    char err[300], path[1300];
    certstore_t *cs, *ro;
    struct der a = der_of("alice");
    FILE *f;

    /* read-only: no store, no writes */
    ck_assert_ptr_null(certstore_open(store_path("none.mdb"),
                                      CERTSTORE_RDONLY, 0, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "No such file"));
    ck_assert_ptr_null(certstore_open(store_path("none.mdb"), CERTSTORE_RDWR,
                                      0, err, sizeof(err)));
    cs = open_new("ro.mdb", 0);
    ck_assert_int_eq(imp(cs, "a@example.org", &a), CERTSTORE_OK);
    certstore_free(cs);
    snprintf(path, sizeof(path), "%s/ro.mdb", dir);
    ro = certstore_open(path, CERTSTORE_RDONLY, 0, err, sizeof(err));
    ck_assert_msg(ro != NULL, "%s", err);
    ck_assert_int_eq(certstore_import(ro, "b@example.org", a.p, a.n, NULL,
                                      NULL, 0, err, sizeof(err)),
                     CERTSTORE_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "read-only"));
    /* the same file again in this process: shares the environment, and
     * cannot become writable under a read-only one */
    ck_assert_ptr_null(certstore_open(path, CERTSTORE_RDWR, 0, err,
                                      sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "already open read-only"));
    certstore_free(ro);
    cs = certstore_open(path, CERTSTORE_RDWR, 0, err, sizeof(err));
    ro = certstore_open(path, CERTSTORE_RDONLY, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(cs);
    ck_assert_ptr_nonnull(ro);
    ck_assert_int_eq(imp(cs, "b@example.org", &a), CERTSTORE_OK);
    certstore_free(cs);
    certstore_list_t *l;
    ck_assert_int_eq(look(ro, "b@example.org", &l), 1);
    certstore_list_free(l);
    certstore_free(ro);

    /* writable by others: whoever can write it chooses the recipients */
    chmod(path, 0666);
    ck_assert_ptr_null(certstore_open(path, CERTSTORE_RDONLY, 0, err,
                                      sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "writable by group or others"));

    /* not LMDB at all */
    snprintf(path, sizeof(path), "%s", store_path("junk.mdb"));
    f = fopen(path, "w");
    for (int i = 0; i < 3000; i++)
        fputs("not a database ", f);
    fclose(f);
    ck_assert_ptr_null(certstore_open(path, CERTSTORE_RDWR, 0, err,
                                      sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "not a certificate store"));
    free(a.p);
}
END_TEST

/* A store of another format version is refused, not misread. */
START_TEST(test_format_version)
{
    certstore_t *cs = open_new("v9.mdb", 0);
    char err[300], path[1300];
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_val k = { 7, "version" }, v = { 1, "\x09" };

    certstore_free(cs);
    snprintf(path, sizeof(path), "%s/v9.mdb", dir);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    ck_assert_int_eq(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &t), 0);
    ck_assert_int_eq(mdb_dbi_open(t, "meta", 0, &dbi), 0);
    ck_assert_int_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    ck_assert_ptr_null(certstore_open(path, CERTSTORE_RDONLY, 0, err,
                                      sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "format 9"));
}
END_TEST

/* ---- growth and concurrency ---- */

/* Addresses PREFIX<i>@example.test. */
static void fill(certstore_t *cs, const char *prefix, int from, int to,
                 const struct der *a, const struct der *b)
{
    char addr[64];

    for (int i = from; i < to; i++) {
        snprintf(addr, sizeof(addr), "%s%d@example.test", prefix, i);
        ck_assert_int_eq(i % 2 ? imp(cs, addr, a) : harv(cs, addr, b, i,
                         "caps"), CERTSTORE_OK);
    }
}

static void verify_all(certstore_t *cs, const char *prefix, int n,
                       const struct der *a, const struct der *b)
{
    char addr[64];
    certstore_list_t *l;

    for (int i = 0; i < n; i++) {
        snprintf(addr, sizeof(addr), "%s%d@example.test", prefix, i);
        ck_assert_int_eq(look(cs, addr, &l), 1);
        ck_assert(same(certstore_list_get(l, 0), i % 2 ? a : b));
        certstore_list_free(l);
    }
}

START_TEST(test_map_growth)
{
    certstore_t *cs = open_new("grow.mdb", 64 * 1024);
    struct der a = der_of("alice"), b = der_of("bob");
    size_t before = certstore_mapsize(cs);

    fill(cs, "user", 0, 300, &a, &b);
    ck_assert_uint_gt(certstore_mapsize(cs), before);
    verify_all(cs, "user", 300, &a, &b);

    /* one transaction that fills the map on its own: run again after
     * growing, with every address in it */
    enum { N = 3000 };
    char **addrs = calloc(N, sizeof(*addrs));
    enum certstore_status *each = calloc(N, sizeof(*each));
    char err[300];
    certstore_list_t *l;
    before = certstore_mapsize(cs);
    for (int i = 0; i < N; i++) {
        addrs[i] = malloc(64);
        snprintf(addrs[i], 64, "bulk%d@example.test", i);
    }
    ck_assert_int_eq(certstore_import_all(cs, (const char *const *)addrs, N,
                                          each, a.p, a.n, NULL, NULL, 0, err,
                                          sizeof(err)), CERTSTORE_OK);
    ck_assert_uint_gt(certstore_mapsize(cs), before);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(each[i], CERTSTORE_OK);
        ck_assert_int_eq(look(cs, addrs[i], &l), 1);
        certstore_list_free(l);
        free(addrs[i]);
    }
    free(addrs);
    free(each);
    certstore_free(cs);
    free(a.p);
    free(b.p);
}
END_TEST

/* Two processes write (and grow the map) at once; every write of both
 * is there afterwards and every record reads. */
START_TEST(test_concurrent_writers)
{
    struct der a = der_of("alice"), b = der_of("bob");
    const char *path = store_path("conc.mdb");
    char err[300];
    certstore_t *cs;
    int status;
    pid_t pid;

    cs = open_new("conc.mdb", 64 * 1024);
    /* the child inherits an open store: it must open its own */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        certstore_t *c2 = certstore_open(path, CERTSTORE_RDWR, 0, err,
                                         sizeof(err));
        int bad = c2 == NULL;
        char addr[64];
        for (int i = 0; !bad && i < 300; i++) {
            snprintf(addr, sizeof(addr), "child%d@example.test", i);
            enum certstore_status st = i % 2 ? imp(c2, addr, &a)
                                             : harv(c2, addr, &b, i, "caps");
            if ((bad = st != CERTSTORE_OK))
                fprintf(stderr, "child: %s: status %d\n", addr, st);
        }
        if (c2 == NULL)
            fprintf(stderr, "child: %s\n", err);
        certstore_free(c2);
        _exit(bad ? 1 : 0);
    }
    char addr[64];
    certstore_list_t *l;
    for (int i = 0; i < 300; i++) {
        fill(cs, "parent", i, i + 1, &a, &b);
        /* read what the child may be writing right now */
        snprintf(addr, sizeof(addr), "child%d@example.test", i);
        enum certstore_status st = certstore_lookup(cs, addr, &l, err,
                                                    sizeof(err));
        ck_assert_msg(st == CERTSTORE_OK || st == CERTSTORE_NOTFOUND,
                      "%s: %s", addr, err);
        certstore_list_free(l);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    verify_all(cs, "parent", 300, &a, &b);
    verify_all(cs, "child", 300, &a, &b);
    certstore_free(cs);
    /* and a fresh reader agrees */
    cs = certstore_open(path, CERTSTORE_RDONLY, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(cs);
    verify_all(cs, "child", 300, &a, &b);
    certstore_free(cs);
    free(a.p);
    free(b.p);
}
END_TEST

/* ---- the usable certificate of a recipient (crypto/recipient.c) ---- */

static enum certstore_status imp_chain(certstore_t *cs, const char *addr,
                                       const char *name)
{
    struct der d = der_of(name), in = der_of("inter");
    const unsigned char *cp[1] = { in.p };
    size_t cl[1] = { in.n };
    char err[300];
    enum certstore_status st = certstore_import(cs, addr, d.p, d.n, cp, cl,
                                                1, err, sizeof(err));
    free(d.p);
    free(in.p);
    return st;
}

static smime_trust_t *trust_with(const char *crl)
{
    char path[1200], err[300];
    smime_trust_t *t = smime_trust_new();

    ck_assert_ptr_nonnull(t);
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    ck_assert_int_ge(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);
    if (crl != NULL)
        smime_trust_add_crl(t, crl, err, sizeof(err));
    return t;
}

static enum smime_rcpt_status rlook(certstore_t *cs, const smime_trust_t *t,
                                    const char *addr, smime_rcpt_cert_t *c,
                                    char *why)
{
    return smime_rcpt_lookup(NULL, cs, t, 8, addr, time(NULL), c, why, 200);
}

START_TEST(test_recipient_lookup)
{
    /* SMIMECapabilities: SEQUENCE { SEQUENCE { id-aes256-GCM } ,
     * SEQUENCE { id-aes256-CBC } } */
    static const unsigned char gcm_caps[] = {
        0x30, 0x1a, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x01, 0x2e, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
        0x01, 0x65, 0x03, 0x04, 0x01, 0x2a };
    static const unsigned char cbc_caps[] = {
        0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x01, 0x2a };
    certstore_t *cs = open_new("rcpt.mdb", 0);
    char crl[1200], why[200], err[300];
    smime_trust_t *t;
    smime_rcpt_cert_t c;
    struct der ec = der_of("ecdh256"), ex = der_of("expired");

    snprintf(crl, sizeof(crl), "%s/crl.pem", pki);
    t = trust_with(crl);
    ck_assert_int_eq(smime_caps_have_aes256_gcm(gcm_caps, sizeof(gcm_caps)), 1);
    ck_assert_int_eq(smime_caps_have_aes256_gcm(cbc_caps, sizeof(cbc_caps)), 0);
    ck_assert_int_eq(smime_caps_have_aes256_gcm(gcm_caps, 5), 0);

    ck_assert_int_eq(imp_chain(cs, "encrsa@example.org", "encrsa"), CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "ENCRSA@example.org", &c, why), SMIME_RCPT_OK);
    ck_assert_ptr_nonnull(c.crt);
    ck_assert_int_eq(c.gcm, 0);
    ck_assert_int_eq(c.imported, 1);
    smime_rcpt_cert_clear(&c);

    /* harvested without its intermediate: the chain cannot be built */
    ck_assert_int_eq(certstore_harvest(cs, "ecdh256@example.org", ec.p, ec.n,
                     NULL, NULL, 0, gcm_caps, sizeof(gcm_caps), 100, err,
                     sizeof(err)), CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "ecdh256@example.org", &c, why),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_str_eq(why, "untrusted issuer");
    ck_assert_ptr_null(c.crt);
    {
        struct der in = der_of("inter");
        const unsigned char *cp[1] = { in.p };
        size_t cl[1] = { in.n };
        ck_assert_int_eq(certstore_harvest(cs, "ecdh256@example.org", ec.p,
                         ec.n, cp, cl, 1, gcm_caps, sizeof(gcm_caps), 200,
                         err, sizeof(err)), CERTSTORE_OK);
        free(in.p);
    }
    ck_assert_int_eq(rlook(cs, t, "ecdh256@example.org", &c, why), SMIME_RCPT_OK);
    ck_assert_int_eq(c.gcm, 1);
    ck_assert_int_eq(c.imported, 0);
    smime_rcpt_cert_clear(&c);

    ck_assert_int_eq(rlook(cs, t, "nobody@example.org", &c, why), SMIME_RCPT_NONE);
    ck_assert_str_eq(why, "no certificate");

    ck_assert_int_eq(imp(cs, "expired@example.org", &ex), CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "expired@example.org", &c, why),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_str_eq(why, smime_cert_status_string(SMIME_CERT_EXPIRED));

    ck_assert_int_eq(imp_chain(cs, "revoked@example.org", "revoked"), CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "revoked@example.org", &c, why),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_str_eq(why, smime_chain_status_string(SMIME_CHAIN_REVOKED));

    /* signing-only key, and a certificate stored under another address */
    ck_assert_int_eq(imp_chain(cs, "ecdsa@example.org", "ecdsa"), CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "ecdsa@example.org", &c, why),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_str_eq(why, smime_cert_status_string(SMIME_CERT_KEY_USAGE));
    ck_assert_int_eq(imp_chain(cs, "mallory@example.org", "encrsa"), CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "mallory@example.org", &c, why),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_str_eq(why, "address not in certificate");
    ck_assert_int_eq(imp_chain(cs, "untrusted@example.org", "untrusted"),
                     CERTSTORE_OK);
    ck_assert_int_eq(rlook(cs, t, "untrusted@example.org", &c, why),
                     SMIME_RCPT_UNUSABLE);
    smime_trust_free(t);

    /* an unreadable CRL: revocation unknown, a transient failure */
    snprintf(crl, sizeof(crl), "%s/no-such-crl.pem", dir);
    t = trust_with(crl);
    ck_assert_int_eq(rlook(cs, t, "encrsa@example.org", &c, why), SMIME_RCPT_TEMP);
    ck_assert_str_eq(why, "CRL unreadable");
    smime_trust_free(t);
    /* no store at all: nobody has a certificate */
    ck_assert_int_eq(rlook(NULL, NULL, "encrsa@example.org", &c, why),
                     SMIME_RCPT_NONE);
    free(ec.p);
    free(ex.p);
    certstore_free(cs);
}
END_TEST


/* ---- the recipient cache (recipient.h) ---- */

static enum smime_rcpt_status clook(smime_rcpt_cache_t *rc, certstore_t *cs,
                                    const smime_trust_t *t, const char *addr,
                                    time_t now, smime_rcpt_cert_t *c)
{
    char why[200];

    return smime_rcpt_lookup(rc, cs, t, 8, addr, now, c, why, sizeof why);
}

static unsigned long cache_hits(const smime_rcpt_cache_t *rc,
                                unsigned long *misses)
{
    unsigned long h, m;
    size_t n;

    smime_rcpt_cache_stats(rc, &h, &m, &n);
    if (misses != NULL)
        *misses = m;
    return h;
}

/* A hit hands out the parsed certificate of the first lookup; a change
 * of the address's record (delete, import again, a harvest replacing
 * it) is seen at the next lookup, made through another handle too. */
START_TEST(test_rcpt_cache_hit_and_change)
{
    certstore_t *cs = open_new("rcache.mdb", 0), *other;
    smime_trust_t *t = trust_with(NULL);
    smime_rcpt_cache_t *rc = smime_rcpt_cache_new(t);
    smime_rcpt_cert_t a, b, x;
    unsigned long miss;
    time_t now = time(NULL);
    char err[300];

    ck_assert_ptr_nonnull(rc);
    ck_assert_int_eq(imp_chain(cs, "encrsa@example.org", "encrsa"), CERTSTORE_OK);
    ck_assert_int_eq(clook(rc, cs, t, "encrsa@example.org", now, &a),
                     SMIME_RCPT_OK);
    ck_assert_int_eq(clook(rc, cs, t, "EncRSA@example.org", now, &b),
                     SMIME_RCPT_OK);
    ck_assert_uint_eq(cache_hits(rc, &miss), 1);
    ck_assert_uint_eq(miss, 1);
    ck_assert_ptr_eq(a.crt, b.crt);             /* parsed once */
    ck_assert_ptr_nonnull(a.rkey);              /* prepared once */
    ck_assert_ptr_eq(a.rkey, b.rkey);
    ck_assert_int_eq(b.imported, 1);
    smime_rcpt_cert_clear(&b);

    /* gone from the store (another handle: the same environment) */
    other = certstore_open(certstore_path(cs), CERTSTORE_RDWR, 0,
                           err, sizeof err);
    ck_assert_ptr_nonnull(other);
    ck_assert_int_eq(certstore_delete(other, "encrsa@example.org", NULL, err,
                                      sizeof err), CERTSTORE_OK);
    ck_assert_int_eq(clook(rc, cs, t, "encrsa@example.org", now, &x),
                     SMIME_RCPT_NONE);
    ck_assert_ptr_null(x.crt);
    /* a's certificate stays whole while a holds it */
    ck_assert_int_ne(gnutls_x509_crt_get_expiration_time(a.crt), -1);
    smime_rcpt_cert_clear(&a);

    /* back, then replaced by a harvest under an address the imported
     * one did not have: each change is a miss */
    ck_assert_int_eq(imp_chain(other, "encrsa@example.org", "encrsa"),
                     CERTSTORE_OK);
    ck_assert_int_eq(clook(rc, cs, t, "encrsa@example.org", now, &a),
                     SMIME_RCPT_OK);
    ck_assert_int_eq(clook(rc, cs, t, "encrsa@example.org", now, &b),
                     SMIME_RCPT_OK);
    ck_assert_ptr_eq(a.crt, b.crt);
    smime_rcpt_cert_clear(&a);
    smime_rcpt_cert_clear(&b);
    ck_assert_int_eq(certstore_delete(other, "encrsa@example.org", NULL, err,
                                      sizeof err), CERTSTORE_OK);
    {
        struct der d = der_of("encrsa"), in = der_of("inter");
        const unsigned char *cp[1] = { in.p };
        size_t cl[1] = { in.n };
        ck_assert_int_eq(certstore_harvest(other, "encrsa@example.org", d.p,
                         d.n, cp, cl, 1, NULL, 0, 100, err, sizeof err),
                         CERTSTORE_OK);
        free(d.p);
        free(in.p);
    }
    ck_assert_int_eq(clook(rc, cs, t, "encrsa@example.org", now, &a),
                     SMIME_RCPT_OK);
    ck_assert_int_eq(a.imported, 0);            /* not the cached import */
    smime_rcpt_cert_clear(&a);
    certstore_free(other);
    smime_rcpt_cache_free(rc);
    smime_trust_free(t);
    certstore_free(cs);
}
END_TEST

/* The cache answers only for the trust store it was made for (a reload
 * of anchors or CRLs is a new store), and never outside the validity
 * of what it judged. */
START_TEST(test_rcpt_cache_trust_and_time)
{
    certstore_t *cs = open_new("rcache2.mdb", 0);
    smime_trust_t *nocrl = trust_with(NULL), *withcrl;
    smime_rcpt_cache_t *rc = smime_rcpt_cache_new(nocrl);
    smime_rcpt_cert_t c;
    char crl[1200];
    unsigned long miss;
    time_t now = time(NULL);

    snprintf(crl, sizeof(crl), "%s/crl.pem", pki);
    withcrl = trust_with(crl);
    ck_assert_int_eq(imp_chain(cs, "revoked@example.org", "revoked"),
                     CERTSTORE_OK);
    /* without the CRL the certificate is usable, and cached */
    ck_assert_int_eq(clook(rc, cs, nocrl, "revoked@example.org", now, &c),
                     SMIME_RCPT_OK);
    smime_rcpt_cert_clear(&c);
    /* the reloaded trust store has the CRL: the cached answer is not
     * its answer */
    ck_assert_int_eq(clook(rc, cs, withcrl, "revoked@example.org", now, &c),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_ptr_null(c.crt);

    /* past the certificate's notAfter (2099) and before its notBefore
     * (2020): expired, not yet valid, never the cached answer */
    ck_assert_int_eq(clook(rc, cs, nocrl, "revoked@example.org",
                           (time_t)4102444800 + 86400, &c),
                     SMIME_RCPT_UNUSABLE);
    ck_assert_int_eq(clook(rc, cs, nocrl, "revoked@example.org",
                           (time_t)1500000000, &c), SMIME_RCPT_UNUSABLE);
    ck_assert_uint_eq(cache_hits(rc, &miss), 0);
    ck_assert_uint_eq(miss, 3);
    /* now again: the entry was dropped when it did not hold */
    ck_assert_int_eq(clook(rc, cs, nocrl, "revoked@example.org", now, &c),
                     SMIME_RCPT_OK);
    smime_rcpt_cert_clear(&c);
    ck_assert_int_eq(clook(rc, cs, nocrl, "revoked@example.org", now, &c),
                     SMIME_RCPT_OK);
    smime_rcpt_cert_clear(&c);
    ck_assert_uint_eq(cache_hits(rc, &miss), 1);
    ck_assert_uint_eq(miss, 4);
    smime_rcpt_cache_free(rc);
    smime_trust_free(nocrl);
    smime_trust_free(withcrl);
    certstore_free(cs);
}
END_TEST

/* At most SMIME_RCPT_CACHE_SIZE entries, whatever the number of
 * recipients (entries made directly: the test PKI has few addresses). */
START_TEST(test_rcpt_cache_bounded)
{
    smime_trust_t *t = trust_with(NULL);
    smime_rcpt_cache_t *rc = smime_rcpt_cache_new(t);
    unsigned long h, m;
    size_t n;

    for (int i = 0; i < 4 * SMIME_RCPT_CACHE_SIZE; i++) {
        struct rcpt_memo *e = calloc(1, sizeof(*e) + 40);
        ck_assert_ptr_nonnull(e);
        atomic_init(&e->refs, 1);
        snprintf(e->key, 40, "user%d@example.org", i);
        rcpt_cache_put(rc, e);
        rcpt_memo_unref(e);
    }
    smime_rcpt_cache_stats(rc, &h, &m, &n);
    ck_assert_uint_eq(n, SMIME_RCPT_CACHE_SIZE);
    smime_rcpt_cache_free(rc);
    smime_trust_free(t);
}
END_TEST

/* Four threads looking up through one cache while the store changes
 * under them (the milter's threads and a harvest or smime-certstore),
 * and encrypting to what they got: every answer is one the store had.  Run under ThreadSanitizer by
 * tests/hardening.sh. */
struct rc_thread {
    certstore_t *cs;
    const smime_trust_t *t;
    smime_rcpt_cache_t *rc;
    int bad;
};

static int rc_sink(void *arg, const void *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return 0;
}

/* Encrypts a line to c (twice: its prepared key, then its certificate
 * and key): all of them are the cache's, shared with the other threads. */
static int rc_encrypt(const smime_rcpt_cert_t *c)
{
    smime_encrypt_t *x = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC,
                                           rc_sink, NULL);
    int bad = x == NULL ||
              c->rkey == NULL ||
              smime_encrypt_add_rkey(x, c->rkey) != SMIME_ENCRYPT_OK ||
              smime_encrypt_add_recipient_key(x, c->crt, c->pub) !=
                  SMIME_ENCRYPT_OK ||
              smime_encrypt_update(x, "hello\r\n", 7) != SMIME_ENCRYPT_OK ||
              smime_encrypt_finish(x) != SMIME_ENCRYPT_OK;

    smime_encrypt_free(x);
    return bad;
}

static void *rc_worker(void *arg)
{
    struct rc_thread *w = arg;
    const char *addrs[] = { "encrsa@example.org", "ecdh256@example.org" };

    for (int i = 0; i < 300; i++) {
        smime_rcpt_cert_t c;
        enum smime_rcpt_status st = clook(w->rc, w->cs, w->t, addrs[i % 2],
                                          time(NULL), &c);
        if (st == SMIME_RCPT_OK) {
            w->bad += gnutls_x509_crt_get_expiration_time(c.crt) == -1;
            w->bad += i % 10 == 0 && rc_encrypt(&c);
            smime_rcpt_cert_clear(&c);
        } else if (st != SMIME_RCPT_NONE) {
            w->bad++;
        }
    }
    return NULL;
}

START_TEST(test_rcpt_cache_threads)
{
    certstore_t *cs = open_new("rcache3.mdb", 0);
    smime_trust_t *t = trust_with(NULL);
    smime_rcpt_cache_t *rc = smime_rcpt_cache_new(t);
    struct rc_thread w[4];
    pthread_t th[4];
    char err[300];
    unsigned long h, m;
    size_t n;

    ck_assert_int_eq(imp_chain(cs, "encrsa@example.org", "encrsa"), CERTSTORE_OK);
    ck_assert_int_eq(imp_chain(cs, "ecdh256@example.org", "ecdh256"), CERTSTORE_OK);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct rc_thread){ cs, t, rc, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, rc_worker, &w[i]), 0);
    }
    for (int i = 0; i < 20; i++) {
        certstore_delete(cs, "encrsa@example.org", NULL, err, sizeof err);
        imp_chain(cs, "encrsa@example.org", "encrsa");
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(w[i].bad, 0);
    }
    smime_rcpt_cache_stats(rc, &h, &m, &n);
    ck_assert_uint_eq(h + m, 4 * 300);
    ck_assert_uint_gt(h, 0);
    smime_rcpt_cache_free(rc);
    smime_trust_free(t);
    certstore_free(cs);
}
END_TEST

static Suite *certstore_suite(void)
{
    Suite *s = suite_create("certstore");
    TCase *tc = tcase_create("certstore");

    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_encrypt_usage);
    tcase_add_test(tc, test_put_lookup_delete);
    tcase_add_test(tc, test_shared_certificate);
    tcase_add_test(tc, test_import_all);
    tcase_add_test(tc, test_harvest_rules);
    tcase_add_test(tc, test_bad_records);
    tcase_add_test(tc, test_foreach_survives_garbage);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_format_version);
    tcase_add_test(tc, test_map_growth);
    tcase_add_test(tc, test_concurrent_writers);
    tcase_add_test(tc, test_recipient_lookup);
    tcase_add_test(tc, test_rcpt_cache_hit_and_change);
    tcase_add_test(tc, test_rcpt_cache_trust_and_time);
    tcase_add_test(tc, test_rcpt_cache_bounded);
    tcase_add_test(tc, test_rcpt_cache_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(certstore_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
