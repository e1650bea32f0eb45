/*
 * crypto_testlib.c - helpers of check_crypto: the test PKI and scratch
 * directory, signing with openssl, and running smime_verify_* over a
 * CMS with a given policy, CRL and chunk size.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto_testlib.h"

#ifndef ABS_TOP_SRCDIR
#define ABS_TOP_SRCDIR "."
#endif
#ifndef ABS_TOP_BUILDDIR
#define ABS_TOP_BUILDDIR "."
#endif

char pki[1024];       /* the test PKI */
char work[1024];      /* this program's scratch files */
const char *openssl_bin = "openssl";
const char *certtool_bin = "certtool";

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : dflt;
}

int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc(len > 0 ? (size_t)len : 1);
    ck_assert_ptr_nonnull(buf);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    ck_assert_uint_eq(*n, (size_t)len);
    return buf;
}

/* The serial mkpki.sh gave user name (serials.txt). */
void serial_of(const char *name, char *out, size_t len)
{
    char path[1100], line[256], n[64], s[64];
    FILE *f;

    snprintf(path, sizeof(path), "%s/serials.txt", pki);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%63s %63s", n, s) == 2 && strcmp(n, name) == 0)
            snprintf(out, len, "%s", s);
    fclose(f);
    ck_assert_msg(out[0] != '\0', "no serial for %s", name);
}

/* The signed content: a small MIME entity with CRLF line ends. */
const char content[] =
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "this is signed.\r\n";
const size_t content_len = sizeof(content) - 1;

void setup_once(void)
{
    char path[1100];
    FILE *f;

    openssl_bin = env_or("OPENSSL", "openssl");
    certtool_bin = env_or("CERTTOOL", "certtool");
    snprintf(pki, sizeof(pki), "%s/tests/work/pki",
             env_or("top_builddir", ABS_TOP_BUILDDIR));
    snprintf(work, sizeof(work), "%s/tests/work/crypto",
             env_or("top_builddir", ABS_TOP_BUILDDIR));
    if (run("mkdir -p '%s' && sh '%s/tests/pki/mkpki.sh' '%s' >/dev/null",
            work, env_or("top_srcdir", ABS_TOP_SRCDIR), pki) != 0) {
        fprintf(stderr, "mkpki.sh failed\n");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/msg.txt", work);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(content, 1, content_len, f) !=
        content_len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* openssl cms -sign by user name with extra options; the DER goes to
 * WORK/out.  Returns the file's bytes. */
unsigned char *ossl_sign(const char *out, const char *name,
                                const char *extra, size_t *n)
{
    char path[1100];

    snprintf(path, sizeof(path), "%s/%s", work, out);
    ck_assert_int_eq(run("%s cms -sign -binary -in '%s/msg.txt' "
                         "-signer '%s/%s.crt' -inkey '%s/%s.key' "
                         "-outform DER -out '%s' %s 2>/dev/null",
                         openssl_bin, work, pki, name, pki, name, path,
                         extra), 0);
    return slurp(path, n);
}

void vrun_init(vrun_t *r, const char *from)
{
    memset(r, 0, sizeof(*r));
    smime_policy_default(&r->pol);
    r->from = from;
}

static void feed(smime_verify_t *v, int cms, const unsigned char *p,
                 size_t n, size_t chunk)
{
    size_t step = chunk ? chunk : (n ? n : 1);

    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        int rc = cms ? smime_verify_cms(v, p + off, k)
                     : smime_verify_content(v, p + off, k);
        ck_assert_int_eq(rc, 0);
    }
}

size_t verify_with(vrun_t *r, const char *body, size_t bodylen,
                          const unsigned char *cms, size_t cmslen)
{
    char path[1100], err[512];
    smime_trust_t *t = smime_trust_new();
    const char *addrs[1] = { r->from };
    size_t n;

    ck_assert_ptr_nonnull(t);
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);
    if (r->crl != NULL)
        smime_trust_add_crl(t, r->crl, err, sizeof(err));
    /* cold (a new store), then warm (its certificate cache and chain
     * memos filled): the same results (tests/check_certcache.c) */
    for (int pass = 0; pass < 2; pass++) {
        smime_signer_result_t out[8];
        memset(out, 0, sizeof(out));
        smime_verify_t *v = smime_verify_new(t, &r->pol, !r->opaque);
        ck_assert_ptr_nonnull(v);
        if (!r->opaque)
            feed(v, 0, (const unsigned char *)body, bodylen, r->chunk);
        feed(v, 1, cms, cmslen, r->chunk);
        size_t k = smime_verify_finish(v, addrs, r->from ? 1 : 0, out, 8);
        smime_verify_free(v);
        if (pass == 0) {
            n = k;
            memcpy(r->out, out, sizeof(out));
            continue;
        }
        ck_assert_uint_eq(k, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(memcmp(&out[i], &r->out[i], sizeof(out[i])) == 0,
                          "warm: %s (%s), cold: %s (%s)",
                          smime_result_name(out[i].result), out[i].reason,
                          smime_result_name(r->out[i].result),
                          r->out[i].reason);
    }
    smime_trust_free(t);
    return n;
}

size_t verify(vrun_t *r, const unsigned char *cms, size_t cmslen)
{
    return verify_with(r, content, content_len, cms, cmslen);
}

void expect(const smime_signer_result_t *res, smime_result_t want,
                   const char *reason)
{
    ck_assert_msg(res->result == want && strcmp(res->reason, reason) == 0,
                  "got %s (%s), want %s (%s)", smime_result_name(res->result),
                  res->reason, smime_result_name(want), reason);
}

/* One signature by user name, verified with From name@example.org. */
void expect_user(const char *name, const char *extra,
                        smime_result_t want, const char *reason)
{
    char from[128];
    size_t n;
    vrun_t r;
    unsigned char *cms = ossl_sign("user.der", name, extra, &n);

    snprintf(from, sizeof(from), "%s@example.org", name);
    vrun_init(&r, from);
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], want, reason);
    free(cms);
}
