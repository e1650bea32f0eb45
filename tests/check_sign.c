/*
 * check_sign.c - unit tests for the signer (crypto/sign.h) and the
 * keystore (crypto/keystore.h).
 *
 * Signatures made here are judged by our verifier (crypto/verify.h) and
 * by independent ones: `openssl cms -verify' for RSA, RSA-PSS and ECDSA,
 * `certtool --p7-verify' for Ed25519 (OpenSSL 3.0 cannot verify Ed25519
 * CMS).  The test PKI comes from tests/pki/mkpki.sh.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cdb.h>

#include "keystore.h"
#include "sign.h"
#include "trust.h"
#include "verify.h"

static char pki[1024], work[1024];

static const char content[] =
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "this is signed.\r\n";

static void
setup_dirs(void)
{
    const char *src = getenv("top_srcdir"), *bld = getenv("top_builddir");
    char cmd[4096];

    if (src == NULL)
        src = ".";
    if (bld == NULL)
        bld = ".";
    snprintf(pki, sizeof(pki), "%s/tests/work/pki", bld);
    snprintf(work, sizeof(work), "%s/tests/work/sign", bld);
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pki/mkpki.sh' '%s' >/dev/null "
             "&& mkdir -p '%s'", src, pki, work);
    if (system(cmd) != 0) {
        fprintf(stderr, "check_sign: cannot make the test PKI\n");
        exit(1);
    }
}

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void
spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* The signer of pki/NAME.EXT (pem or p12). */
static smime_signer_t *
load(const char *name, const char *ext, const char *password, char *err,
     size_t errlen)
{
    char path[2048];
    size_t len;

    snprintf(path, sizeof(path), "%s/%s.%s", pki, name, ext);
    unsigned char *d = slurp(path, &len);
    smime_signer_t *s = smime_signer_from_blob(d, len, password, err, errlen);
    free(d);
    return s;
}

static smime_signer_t *
load_ok(const char *name)
{
    char err[256] = "";
    smime_signer_t *s = load(name, "pem", NULL, err, sizeof(err));

    ck_assert_msg(s != NULL, "%s: %s", name, err);
    return s;
}

/* Sign buf in chunks of `chunk' bytes; signingTime pinned when when>=0. */
static unsigned char *
sign_buf(const smime_signer_t *signer, const char *buf, size_t len,
         size_t chunk, time_t when, size_t *derlen)
{
    smime_sign_t *s = smime_sign_new(signer);
    unsigned char *der = NULL;

    ck_assert_ptr_nonnull(s);
    if (when >= 0)
        smime_sign_set_time(s, when);
    for (size_t off = 0; off < len; off += chunk)
        ck_assert_int_eq(smime_sign_update(s, buf + off,
                         len - off < chunk ? len - off : chunk), 0);
    ck_assert_msg(smime_sign_finish(s, &der, derlen) == 0, "%s",
                  smime_sign_error(s));
    unsigned char *again;
    size_t againlen;
    ck_assert_int_eq(smime_sign_finish(s, &again, &againlen), -1); /* once */
    ck_assert_ptr_null(again);
    smime_sign_free(s);
    return der;
}

/* Our verifier's result for a detached signature over buf. */
static smime_signer_result_t
our_verify(const unsigned char *der, size_t derlen, const char *buf,
           size_t len, const char *from)
{
    char err[256], roots[2048];
    smime_trust_t *t = smime_trust_new();
    smime_policy_t pol;
    smime_signer_result_t r[2];

    snprintf(roots, sizeof(roots), "%s/roots.pem", pki);
    ck_assert_msg(smime_trust_add_anchors(t, roots, err, sizeof(err)) > 0,
                  "%s", err);
    smime_policy_default(&pol);
    smime_verify_t *v = smime_verify_new(t, &pol, 1);
    ck_assert_int_eq(smime_verify_content(v, buf, len), 0);
    ck_assert_int_eq(smime_verify_cms(v, der, derlen), 0);
    ck_assert_uint_eq(smime_verify_finish(v, &from, 1, r, 2), 1);
    smime_verify_free(v);
    smime_trust_free(t);
    return r[0];
}

/* Exit status of an independent verifier over work/NAME.{der,txt}. */
static int
tool_verify(const char *name)
{
    char cmd[8192];
    const char *openssl = getenv("OPENSSL"), *certtool = getenv("CERTTOOL");

    if (strcmp(name, "ed25519") == 0)
        snprintf(cmd, sizeof(cmd), "'%s' --p7-verify --inder --infile "
                 "'%s/%s.der' --load-data '%s/%s.txt' --load-ca-certificate "
                 "'%s/roots.pem' >/dev/null 2>&1",
                 certtool ? certtool : "certtool", work, name, work, name,
                 pki);
    else
        snprintf(cmd, sizeof(cmd), "'%s' cms -verify -binary -inform DER "
                 "-in '%s/%s.der' -content '%s/%s.txt' -CAfile "
                 "'%s/roots.pem' -out /dev/null >/dev/null 2>&1",
                 openssl ? openssl : "openssl", work, name, work, name, pki);
    return system(cmd);
}

static void
sign_and_judge(const char *name, const char *micalg, const char *sigalg)
{
    char path[2048], from[64];
    size_t derlen;
    smime_signer_t *signer = load_ok(name);

    ck_assert_str_eq(smime_sign_micalg(signer), micalg);
    ck_assert_str_eq(smime_sign_sigalg(signer), sigalg);
    unsigned char *der = sign_buf(signer, content, strlen(content), 5, -1,
                                  &derlen);
    snprintf(path, sizeof(path), "%s/%s.der", work, name);
    spit(path, der, derlen);
    snprintf(path, sizeof(path), "%s/%s.txt", work, name);
    spit(path, content, strlen(content));

    snprintf(from, sizeof(from), "%s@example.org", name);
    smime_signer_result_t r = our_verify(der, derlen, content,
                                         strlen(content), from);
    ck_assert_msg(r.result == SMIME_RESULT_PASS, "%s: our verifier: %s",
                  name, r.reason);
    ck_assert_str_eq(r.identifier, from);
    ck_assert_str_eq(r.digest, micalg);
    ck_assert_str_eq(r.sigalg, sigalg);
    ck_assert_msg(tool_verify(name) == 0, "%s: independent verifier failed",
                  name);

    /* one changed byte: content altered, for both judges */
    char *bad = strdup(content);
    bad[strlen(bad) - 3] ^= 1;
    r = our_verify(der, derlen, bad, strlen(bad), from);
    ck_assert_int_eq(r.result, SMIME_RESULT_FAIL);
    ck_assert_str_eq(r.reason, "content altered");
    spit(path, bad, strlen(bad));
    ck_assert_int_ne(tool_verify(name), 0);
    free(bad);
    free(der);
    smime_signer_free(signer);
}

START_TEST(sign_rsa)     { sign_and_judge("alice", "sha-256", "rsa"); }
END_TEST
START_TEST(sign_pss)     { sign_and_judge("pss", "sha-256", "rsa-pss"); }
END_TEST
START_TEST(sign_ecdsa)   { sign_and_judge("ecdsa", "sha-256", "ecdsa"); }
END_TEST
START_TEST(sign_ec384)   { sign_and_judge("ec384", "sha-384", "ecdsa"); }
END_TEST
START_TEST(sign_ec521)   { sign_and_judge("ec521", "sha-512", "ecdsa"); }
END_TEST
START_TEST(sign_ed25519) { sign_and_judge("ed25519", "sha-512", "ed25519"); }
END_TEST

/* RSA PKCS#1 v1.5 is deterministic: with the time pinned, the chunking
 * of the content must not change a single byte of the CMS. */
START_TEST(sign_chunking)
{
    smime_signer_t *s = load_ok("alice");
    size_t l1, l2, l3;
    unsigned char *a = sign_buf(s, content, strlen(content), 1, 1700000000, &l1);
    unsigned char *b = sign_buf(s, content, strlen(content), 7, 1700000000, &l2);
    unsigned char *c = sign_buf(s, content, strlen(content), 1 << 20,
                                1700000000, &l3);

    ck_assert_uint_eq(l1, l2);
    ck_assert_uint_eq(l1, l3);
    ck_assert_mem_eq(a, b, l1);
    ck_assert_mem_eq(a, c, l1);
    free(a);
    free(b);
    free(c);
    smime_signer_free(s);
}
END_TEST

static int
has_bytes(const unsigned char *h, size_t hl, const void *n, size_t nl)
{
    return memmem(h, hl, n, nl) != NULL;
}

/* signingTime: UTCTime before 2050, GeneralizedTime from 2050 on. */
START_TEST(sign_time)
{
    smime_signer_t *s = load_ok("ecdsa");
    size_t l;
    unsigned char *d = sign_buf(s, "x", 1, 1, 1700000000, &l);

    ck_assert(has_bytes(d, l, "\x17\x0d" "231114221320Z", 15));
    free(d);
    d = sign_buf(s, "x", 1, 1, 2524608000, &l);    /* 2050-01-01 */
    ck_assert(has_bytes(d, l, "\x18\x0f" "20500101000000Z", 17));
    free(d);
    smime_signer_free(s);
}
END_TEST

START_TEST(signer_chain)
{
    char dn[512];
    smime_signer_t *s = load_ok("alice");

    ck_assert_uint_eq(smime_signer_ncerts(s), 2);
    gnutls_x509_crt_t inter = smime_signer_cert(s, 1);
    ck_assert_ptr_nonnull(inter);
    size_t len = sizeof(dn);
    ck_assert_int_eq(gnutls_x509_crt_get_dn(inter, dn, &len), 0);
    ck_assert_ptr_nonnull(strstr(dn, "Test Intermediate CA"));
    ck_assert_ptr_null(smime_signer_cert(s, 2));
    smime_signer_free(s);

    s = load_ok("selfsigned");
    ck_assert_uint_eq(smime_signer_ncerts(s), 1);
    smime_signer_free(s);
}
END_TEST

START_TEST(signer_p12)
{
    char err[256] = "";
    smime_signer_t *s = load("pss", "p12", "test", err, sizeof(err));

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(smime_sign_sigalg(s), "rsa-pss");
    ck_assert_uint_ge(smime_signer_ncerts(s), 1);   /* mkpki: no inter */
    smime_signer_free(s);

    s = load("alice", "p12", "wrong", err, sizeof(err));
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, "password"));
}
END_TEST

START_TEST(signer_mismatch)
{
    char err[256] = "", path[2048];
    size_t kl, cl;

    snprintf(path, sizeof(path), "%s/alice.key", pki);
    unsigned char *k = slurp(path, &kl);
    snprintf(path, sizeof(path), "%s/bob.chain.pem", pki);
    unsigned char *c = slurp(path, &cl);
    char *both = malloc(kl + cl);
    memcpy(both, k, kl);
    memcpy(both + kl, c, cl);
    smime_signer_t *s = smime_signer_from_pem(both, kl + cl, err, sizeof(err));
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err, "private key does not match the certificate");
    /* a key alone */
    s = smime_signer_from_pem(k, kl, err, sizeof(err));
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err, "no certificate found");
    free(both);
    free(k);
    free(c);
}
END_TEST

/* ---- keystore ---- */

static void
ks_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.cdb", work, name);
}

/* Write a keystore of (address, credential name, logins) triples. */
static void
ks_build(const char *path, const char *const spec[][3], size_t n)
{
    char err[256] = "";
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));

    ck_assert_msg(w != NULL, "%s", err);
    for (size_t i = 0; i < n; i++) {
        smime_signer_t *s = load_ok(spec[i][1]);
        const char *logins[4];
        size_t nl = 0;
        char *copy = spec[i][2] ? strdup(spec[i][2]) : NULL, *save = NULL;
        for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t && nl < 4;
             t = strtok_r(NULL, " ", &save))
            logins[nl++] = t;
        ck_assert_msg(keystore_writer_add(w, spec[i][0], s, logins, nl, err,
                                          sizeof(err)) == 0, "%s", err);
        free(copy);
        smime_signer_free(s);
    }
    ck_assert_msg(keystore_writer_commit(w, err, sizeof(err)) == 0, "%s", err);
    keystore_writer_free(w);
}

static const char *const spec1[][3] = {
    { "alice@example.org", "alice", NULL },
    { "Ecdsa@Example.ORG", "ecdsa", "ecdsa boss" },
};

START_TEST(keystore_lookup_basic)
{
    char path[2048], err[256] = "";
    keystore_entry_t *e = NULL, *e2 = NULL;
    struct stat st;

    ks_path(path, sizeof(path), "basic");
    ks_build(path, spec1, 2);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);

    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    ck_assert_int_eq(keystore_lookup(ks, "ALICE@example.ORG", &e, err,
                                     sizeof(err)), 1);
    ck_assert_str_eq(keystore_entry_address(e), "alice@example.org");
    ck_assert_str_eq(smime_sign_sigalg(keystore_entry_signer(e)), "rsa");
    ck_assert_uint_eq(keystore_entry_nlogins(e), 0);
    /* cached: the same parsed entry again */
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e2, err,
                                     sizeof(err)), 1);
    ck_assert_ptr_eq(e, e2);
    keystore_entry_free(e2);

    ck_assert_int_eq(keystore_may_sign(e, "alice@example.org"), 1);
    ck_assert_int_eq(keystore_may_sign(e, "Alice@Example.org"), 1);
    ck_assert_int_eq(keystore_may_sign(e, "bob@example.org"), 0);
    ck_assert_int_eq(keystore_may_sign(e, "alice"), 0);
    /* no SASL login (InternalHosts, local): only with +internal */
    ck_assert_int_eq(keystore_may_sign(e, NULL), 0);
    ck_assert_int_eq(keystore_may_sign(e, ""), 0);
    keystore_entry_free(e);

    ck_assert_int_eq(keystore_lookup(ks, "ecdsa@example.org", &e, err,
                                     sizeof(err)), 1);
    ck_assert_uint_eq(keystore_entry_nlogins(e), 2);
    ck_assert_str_eq(keystore_entry_login(e, 1), "boss");
    ck_assert_int_eq(keystore_may_sign(e, "boss"), 1);
    ck_assert_int_eq(keystore_may_sign(e, "ecdsa"), 1);
    ck_assert_int_eq(keystore_may_sign(e, "ecdsa@example.org"), 0);
    ck_assert_int_eq(keystore_may_sign(e, "Boss"), 0);
    ck_assert_int_eq(keystore_may_sign(e, NULL), 0);
    keystore_entry_free(e);

    ck_assert_int_eq(keystore_lookup(ks, "carol@example.org", &e, err,
                                     sizeof(err)), 0);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(keystore_lookup(ks, "", &e, err, sizeof(err)), 0);
    keystore_free(ks);
}
END_TEST

/* "+internal" lets mail without a SASL login sign; it is not a login. */
static const char *const spec_internal[][3] = {
    { "alice@example.org", "alice", "+internal" },
    { "ecdsa@example.org", "ecdsa", "boss +internal" },
};

START_TEST(keystore_may_sign_internal)
{
    char path[2048], err[256] = "";
    keystore_entry_t *e = NULL;

    ks_path(path, sizeof(path), "internal");
    ks_build(path, spec_internal, 2);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);

    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e, err,
                                     sizeof(err)), 1);
    ck_assert_int_eq(keystore_may_sign(e, NULL), 1);
    ck_assert_int_eq(keystore_may_sign(e, ""), 1);
    /* +internal alone lists no login: the address itself may */
    ck_assert_int_eq(keystore_may_sign(e, "alice@example.org"), 1);
    ck_assert_int_eq(keystore_may_sign(e, "+internal"), 0);
    ck_assert_int_eq(keystore_may_sign(e, "mallory"), 0);
    keystore_entry_free(e);

    ck_assert_int_eq(keystore_lookup(ks, "ecdsa@example.org", &e, err,
                                     sizeof(err)), 1);
    ck_assert_int_eq(keystore_may_sign(e, NULL), 1);
    ck_assert_int_eq(keystore_may_sign(e, "boss"), 1);
    ck_assert_int_eq(keystore_may_sign(e, "ecdsa@example.org"), 0);
    ck_assert_int_eq(keystore_may_sign(e, "+internal"), 0);
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

/* A signer from the keystore signs like the one it was made from. */
START_TEST(keystore_signer_roundtrip)
{
    char path[2048], err[256] = "";
    keystore_entry_t *e = NULL;
    size_t l1, l2;

    ks_path(path, sizeof(path), "roundtrip");
    ks_build(path, spec1, 2);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_ptr_nonnull(ks);
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e, err,
                                     sizeof(err)), 1);
    smime_signer_t *orig = load_ok("alice");
    unsigned char *a = sign_buf(orig, content, strlen(content), 64,
                                1700000000, &l1);
    unsigned char *b = sign_buf(keystore_entry_signer(e), content,
                                strlen(content), 64, 1700000000, &l2);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(a, b, l1);
    free(a);
    free(b);
    smime_signer_free(orig);
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

START_TEST(keystore_reload_rebuilt)
{
    static const char *const spec2[][3] = {
        { "alice@example.org", "alice", "alice2" },
        { "bob@example.org", "bob", NULL },
    };
    char path[2048], err[256] = "";
    keystore_entry_t *old = NULL, *e = NULL;

    ks_path(path, sizeof(path), "reload");
    ks_build(path, spec1, 2);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_ptr_nonnull(ks);
    ck_assert_int_eq(keystore_changed(ks), 0);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 0);
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &old, err,
                                     sizeof(err)), 1);

    ks_build(path, spec2, 2);                     /* rename over it */
    ck_assert_int_eq(keystore_changed(ks), 1);
    /* still the old contents until reload */
    ck_assert_int_eq(keystore_lookup(ks, "bob@example.org", &e, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 1);
    ck_assert_int_eq(keystore_changed(ks), 0);
    ck_assert_int_eq(keystore_lookup(ks, "bob@example.org", &e, err,
                                     sizeof(err)), 1);
    keystore_entry_free(e);
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e, err,
                                     sizeof(err)), 1);
    ck_assert_ptr_ne(e, old);
    ck_assert_int_eq(keystore_may_sign(e, "alice2"), 1);
    ck_assert_int_eq(keystore_may_sign(old, "alice2"), 0);
    keystore_entry_free(e);
    ck_assert_int_eq(keystore_lookup(ks, "ecdsa@example.org", &e, err,
                                     sizeof(err)), 0);

    /* a message in flight keeps its entry even after the keystore goes */
    keystore_free(ks);
    size_t l;
    unsigned char *d = sign_buf(keystore_entry_signer(old), "x", 1, 1, -1, &l);
    ck_assert_uint_gt(l, 100);
    free(d);
    keystore_entry_free(old);
}
END_TEST

START_TEST(keystore_refuse_mode)
{
    char path[2048], err[256] = "";

    ks_path(path, sizeof(path), "mode");
    ks_build(path, spec1, 1);
    ck_assert_int_eq(chmod(path, 0644), 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_ptr_null(ks);
    ck_assert_msg(strstr(err, "group or others") && strstr(err, "chmod 600"),
                  "%s", err);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_ptr_null(keystore_open(path, err, sizeof(err)));

    /* a usable keystore, then a rebuilt one with bad permissions: it
     * is reported once, and lookups answer from the last good file
     * until it is fixed */
    ck_assert_int_eq(chmod(path, 0600), 0);
    ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *e = NULL;
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e, err,
                                     sizeof(err)), 1);      /* held on */
    ks_build(path, spec1, 2);
    ck_assert_int_eq(chmod(path, 0604), 0);
    ck_assert_int_eq(keystore_changed(ks), 1);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
    ck_assert_int_eq(keystore_changed(ks), 0);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 0);  /* once */
    ck_assert_ptr_nonnull(keystore_entry_signer(e)); /* still valid */
    keystore_entry_free(e);
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e, err,
                                     sizeof(err)), 1);
    keystore_entry_free(e);
    ck_assert_int_eq(keystore_lookup(ks, "ecdsa@example.org", &e, err,
                                     sizeof(err)), 0);      /* old file */
    ck_assert_int_eq(chmod(path, 0600), 0);       /* fixed: now reloads */
    ck_assert_int_eq(keystore_changed(ks), 1);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 1);
    ck_assert_int_eq(keystore_lookup(ks, "ecdsa@example.org", &e, err,
                                     sizeof(err)), 1);
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

/* Overwrite len bytes of path at offset off with c, in place. */
static void
scribble(const char *path, off_t off, size_t len, int c)
{
    char buf[8192];
    int fd = open(path, O_WRONLY);

    ck_assert_int_ge(fd, 0);
    memset(buf, c, sizeof(buf));
    while (len > 0) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        ck_assert_int_eq(pwrite(fd, buf, n, off), (ssize_t)n);
        off += (off_t)n;
        len -= n;
    }
    close(fd);
}

/* lookup of address on ks gives want (and a reference, dropped) */
static void
ks_expect(keystore_t *ks, const char *address, int want)
{
    char err[256] = "";
    keystore_entry_t *e = NULL;
    int r = keystore_lookup(ks, address, &e, err, sizeof(err));

    ck_assert_msg(r == want, "%s: %d, expected %d (%s)", address, r, want, err);
    if (r == 1)
        ck_assert_ptr_nonnull(keystore_entry_signer(e));
    keystore_entry_free(e);
}

/* reload gives want and says why (a substring of err) when -1; the
 * same state again gives 0: one report per change */
static void
ks_reload_once(keystore_t *ks, int want, const char *why)
{
    char err[256] = "";

    ck_assert_int_eq(keystore_changed(ks), 1);
    int r = keystore_reload(ks, err, sizeof(err));
    ck_assert_msg(r == want, "reload: %d, expected %d (%s)", r, want, err);
    if (why)
        ck_assert_msg(strstr(err, why), "\"%s\" lacks \"%s\"", err, why);
    ck_assert_int_eq(keystore_changed(ks), 0);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 0);
}

/* Garbage written in place, truncated in place, deleted, a record
 * damaged: every lookup still answers from the last good file -- even
 * for entries never looked up before, whose bytes were in the file that
 * was overwritten (never the stale mapping, never SIGBUS) -- each change
 * is reported once, and a good file is taken as soon as it is there. */
START_TEST(keystore_damaged_keeps_last_good)
{
    static const char *const spec2[][3] = {
        { "alice@example.org", "alice", "alice2" },
        { "bob@example.org", "bob", NULL },
    };
    char path[2048], tmp[2100], err[256] = "";
    struct stat st;

    ks_path(path, sizeof(path), "damaged");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ks_build(path, spec1, 2);
    ck_assert_int_eq(stat(path, &st), 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);

    scribble(path, 0, 8192, 'Z');                     /* garbage in place */
    ks_reload_once(ks, -1, "keystore");
    ks_expect(ks, "alice@example.org", 1);
    ck_assert_int_eq(truncate(path, 2100), 0);        /* truncated in place */
    ks_reload_once(ks, -1, "keystore");
    ks_expect(ks, "ecdsa@example.org", 1);
    ck_assert_int_eq(truncate(path, 0), 0);           /* emptied */
    ks_reload_once(ks, -1, "not a CDB");
    ks_build(path, spec1, 1);                         /* unreadable */
    ck_assert_int_eq(chmod(path, 0), 0);
    if (geteuid() == 0)
        ck_assert_int_eq(seteuid(65534), 0);
    ks_reload_once(ks, -1, "Permission denied");
    ks_expect(ks, "ecdsa@example.org", 1);
    if (getuid() == 0)
        ck_assert_int_eq(seteuid(0), 0);
    ck_assert_int_eq(mkfifo(tmp, 0600), 0);           /* a FIFO: no hang */
    ck_assert_int_eq(rename(tmp, path), 0);
    ks_reload_once(ks, -1, "not a regular file");
    ck_assert_int_eq(unlink(path), 0);                /* deleted */
    ks_reload_once(ks, -1, "cannot open");
    ks_expect(ks, "alice@example.org", 1);
    ks_expect(ks, "nobody@example.org", 0);           /* no entry: no error */

    /* a sound CDB with the marker whose last record is broken: refused
     * as a whole when it is loaded, not when bob's mail comes */
    ks_build(tmp, spec2, 2);
    int fd = open(tmp, O_RDONLY);
    struct cdb c;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(cdb_init(&c, fd), 0);
    ck_assert_int_eq(cdb_find(&c, "bob@example.org", 15), 1);
    unsigned bob = cdb_datapos(&c);       /* version, type, length ... */
    cdb_free(&c);
    close(fd);
    scribble(tmp, (off_t)bob + 2, 4, 0xff);  /* the first field's length */
    ck_assert_int_eq(rename(tmp, path), 0);
    ks_reload_once(ks, -1, "damaged");
    ks_expect(ks, "bob@example.org", 0);
    ks_expect(ks, "ecdsa@example.org", 1);

    ks_build(path, spec2, 2);                         /* rebuilt: taken */
    ks_reload_once(ks, 1, NULL);
    ks_expect(ks, "bob@example.org", 1);
    ks_expect(ks, "ecdsa@example.org", 0);
    keystore_free(ks);
    unlink(path);
}
END_TEST

/* Out of file descriptors while a rebuilt keystore is loaded: reported
 * once, tried again at each reload, and taken as soon as it can be read,
 * without waiting for the file to change again. */
START_TEST(keystore_transient_retried)
{
    char path[2048], err[256] = "";
    struct rlimit old, low;

    ks_path(path, sizeof(path), "transient");
    ks_build(path, spec1, 1);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    ks_build(path, spec1, 2);                         /* ecdsa added */

    int next = open("/dev/null", O_RDONLY);           /* lowest free fd */
    ck_assert_int_ge(next, 0);
    close(next);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)next;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int r1 = keystore_reload(ks, err, sizeof(err));
    int changed = keystore_changed(ks);
    int r2 = keystore_reload(ks, err, sizeof(err));
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_eq(r1, -1);
    ck_assert_msg(strstr(err, "Too many open files"), "%s", err);
    ck_assert_int_eq(changed, 1);                     /* to be retried */
    ck_assert_int_eq(r2, 0);                          /* not reported again */
    ks_expect(ks, "ecdsa@example.org", 0);            /* the last good one */
    ck_assert_int_eq(keystore_changed(ks), 1);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 1);
    ks_expect(ks, "ecdsa@example.org", 1);
    keystore_free(ks);
    unlink(path);
}
END_TEST

START_TEST(keystore_refuse_other)
{
    char path[2048], err[256] = "";

    snprintf(path, sizeof(path), "%s/not-a-keystore", work);
    spit(path, "hello\n", 6);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_ptr_null(keystore_open(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "not a CDB") || strstr(err, "smime-keystore"),
                  "%s", err);
    snprintf(path, sizeof(path), "%s/no-such-file.cdb", work);
    ck_assert_ptr_null(keystore_open(path, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(keystore_checks)
{
    char err[512];
    smime_signer_t *s = load_ok("alice");
    time_t t2050 = 2524608000;

    ck_assert_int_eq(keystore_check(s, "Alice@Example.org", t2050, err,
                                    sizeof(err)), 0);
    ck_assert_int_eq(keystore_check(s, "bob@example.org", t2050, err,
                                    sizeof(err)), 1);
    ck_assert_ptr_nonnull(strstr(err, "bob@example.org is not in the "
                                 "certificate"));
    ck_assert_int_eq(keystore_check(s, "alice@example.org", 4102444800 + 86400,
                                    err, sizeof(err)), 1);   /* 2100-01-02 */
    ck_assert_ptr_nonnull(strstr(err, "expired certificate"));
    smime_signer_free(s);

    s = load_ok("expired");
    ck_assert_int_eq(keystore_check(s, "expired@example.org", t2050, err,
                                    sizeof(err)), 1);
    ck_assert_ptr_nonnull(strstr(err, "expired certificate"));
    smime_signer_free(s);
    s = load_ok("nokeyusage");
    ck_assert_int_eq(keystore_check(s, "nokeyusage@example.org", t2050, err,
                                    sizeof(err)), 1);
    ck_assert_ptr_nonnull(strstr(err, "wrong key usage"));
    smime_signer_free(s);
    s = load_ok("noeku");
    ck_assert_int_ge(keystore_check(s, "noeku@example.org", t2050, err,
                                    sizeof(err)), 1);
    ck_assert_ptr_nonnull(strstr(err, "no emailProtection"));
    smime_signer_free(s);
    s = load_ok("weak");
    ck_assert_int_eq(keystore_check(s, "weak@example.org", t2050, err,
                                    sizeof(err)), 1);
    ck_assert_ptr_nonnull(strstr(err, "weak key"));
    smime_signer_free(s);
}
END_TEST

/* Fault injection: check_sign is linked with -Wl,--wrap=strdup, so
 * every strdup() of the code under test comes here; strdup_fail_in
 * counts the calls left before one fails (-1: none fails). */
char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
static int strdup_fail_in = -1;

char *
__wrap_strdup(const char *s)
{
    if (strdup_fail_in >= 0 && strdup_fail_in-- == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

/* Out of memory in keystore_writer_new at each strdup in turn: a clean
 * "out of memory", and standard input still open (the writer's fd was 0,
 * from calloc, until set, and its cleanup closed it). */
START_TEST(keystore_writer_oom_keeps_stdin)
{
    char path[2048], err[256];
    int k;

    if (fcntl(0, F_GETFD) < 0)
        ck_assert_int_eq(open("/dev/null", O_RDONLY), 0);
    ks_path(path, sizeof(path), "oom");
    for (k = 0; k < 10; k++) {
        err[0] = '\0';
        strdup_fail_in = k;
        keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));
        int armed = strdup_fail_in >= 0;
        strdup_fail_in = -1;
        ck_assert_msg(fcntl(0, F_GETFD) >= 0,
                      "fd 0 closed after strdup %d failed", k);
        if (armed) {                /* fewer strdup calls than k: done */
            ck_assert_ptr_nonnull(w);
            keystore_writer_free(w);
            break;
        }
        ck_assert_ptr_null(w);
        ck_assert_str_eq(err, "out of memory");
    }
    ck_assert_int_gt(k, 0);
}
END_TEST

/* Many threads look up and sign while the file is rebuilt and reloaded. */
struct thr {
    keystore_t *ks;
    int failures;
    int signatures;
};

static void *
thr_main(void *arg)
{
    struct thr *t = arg;
    char err[256];

    for (int i = 0; i < 60; i++) {
        keystore_entry_t *e = NULL;
        const char *addr = i % 2 ? "ECDSA@example.org" : "alice@example.org";
        if (keystore_lookup(t->ks, addr, &e, err, sizeof(err)) != 1) {
            t->failures++;
            continue;
        }
        smime_sign_t *s = smime_sign_new(keystore_entry_signer(e));
        unsigned char *der = NULL;
        size_t len;
        if (s == NULL || smime_sign_update(s, content, strlen(content)) < 0 ||
            smime_sign_finish(s, &der, &len) < 0)
            t->failures++;
        else
            t->signatures++;
        free(der);
        smime_sign_free(s);
        keystore_entry_free(e);
    }
    return NULL;
}

START_TEST(keystore_threads)
{
    char path[2048], err[256] = "";
    pthread_t tid[6];
    struct thr t[6];

    ks_path(path, sizeof(path), "threads");
    ks_build(path, spec1, 2);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_ptr_nonnull(ks);
    for (int i = 0; i < 6; i++) {
        t[i].ks = ks;
        t[i].failures = t[i].signatures = 0;
        ck_assert_int_eq(pthread_create(&tid[i], NULL, thr_main, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ks_build(path, spec1, 2);
        ck_assert_int_ge(keystore_reload(ks, err, sizeof(err)), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(tid[i], NULL);
        ck_assert_int_eq(t[i].failures, 0);
        ck_assert_int_eq(t[i].signatures, 60);
    }
    keystore_free(ks);
}
END_TEST

static Suite *
sign_suite(void)
{
    Suite *s = suite_create("sign");
    TCase *tc = tcase_create("signer");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sign_rsa);
    tcase_add_test(tc, sign_pss);
    tcase_add_test(tc, sign_ecdsa);
    tcase_add_test(tc, sign_ec384);
    tcase_add_test(tc, sign_ec521);
    tcase_add_test(tc, sign_ed25519);
    tcase_add_test(tc, sign_chunking);
    tcase_add_test(tc, sign_time);
    tcase_add_test(tc, signer_chain);
    tcase_add_test(tc, signer_p12);
    tcase_add_test(tc, signer_mismatch);
    suite_add_tcase(s, tc);

    tc = tcase_create("keystore");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, keystore_lookup_basic);
    tcase_add_test(tc, keystore_may_sign_internal);
    tcase_add_test(tc, keystore_signer_roundtrip);
    tcase_add_test(tc, keystore_reload_rebuilt);
    tcase_add_test(tc, keystore_refuse_mode);
    tcase_add_test(tc, keystore_damaged_keeps_last_good);
    tcase_add_test(tc, keystore_transient_retried);
    tcase_add_test(tc, keystore_refuse_other);
    tcase_add_test(tc, keystore_checks);
    tcase_add_test(tc, keystore_threads);
    tcase_add_test(tc, keystore_writer_oom_keeps_stdin);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    setup_dirs();
    SRunner *sr = srunner_create(sign_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
