/*
 * check_encpolicy.c - unit tests of milter/encpolicy.c: the
 * EncryptPolicyFile parser (FILE:LINE errors), the most-specific-match
 * lookup, the RCPT decision with injected certificate facts (SPEC
 * "Encryption": 550 5.7.1, 451 4.7.1, 452 4.5.3, EncryptSplit), and the
 * three configuration keys.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "encpolicy.h"

static char reports[8192];
static int nreports;

static void collect(void *arg, const char *msg)
{
    (void)arg;
    nreports++;
    strncat(reports, msg, sizeof reports - strlen(reports) - 2);
    strcat(reports, "\n");
}

static encpolicy_t *load(const char *text)
{
    reports[0] = '\0';
    nreports = 0;
    return encpolicy_load_string("pol", text, collect, NULL);
}

/* ---- the file ---- */

START_TEST(levels)
{
    enum encpolicy_level l;

    ck_assert_int_eq(encpolicy_level_parse("Required", &l), 0);
    ck_assert_int_eq(l, ENCPOLICY_REQUIRED);
    ck_assert_int_eq(encpolicy_level_parse("never", &l), 0);
    ck_assert_int_eq(l, ENCPOLICY_NEVER);
    ck_assert_int_eq(encpolicy_level_parse("OPPORTUNISTIC", &l), 0);
    ck_assert_int_eq(l, ENCPOLICY_OPPORTUNISTIC);
    ck_assert_int_eq(encpolicy_level_parse("always", &l), -1);
    ck_assert_str_eq(encpolicy_level_name(ENCPOLICY_REQUIRED), "required");
}
END_TEST

START_TEST(most_specific_wins)
{
    encpolicy_t *p = load(
        "# partners\n"
        ".example.com      required\n"
        "example.com       opportunistic   # the apex itself\n"
        "Sales.Example.com never\n"
        "Boss@sales.example.com required\n"
        "\n"
        "   lists.example.com\topportunistic\n");
    const char *m;

    ck_assert_msg(p != NULL, "%s", reports);
    ck_assert_int_eq(nreports, 0);
    ck_assert_uint_eq(encpolicy_count(p), 5);
    /* the address beats its domain */
    ck_assert_int_eq(encpolicy_lookup(p, "BOSS@Sales.example.COM",
                     ENCPOLICY_NEVER, &m), ENCPOLICY_REQUIRED);
    ck_assert_str_eq(m, "boss@sales.example.com");
    /* the domain beats a parent .domain */
    ck_assert_int_eq(encpolicy_lookup(p, "ann@sales.example.com",
                     ENCPOLICY_REQUIRED, &m), ENCPOLICY_NEVER);
    ck_assert_str_eq(m, "sales.example.com");
    /* .DOMAIN: subdomains at any depth, the nearest parent first */
    ck_assert_int_eq(encpolicy_lookup(p, "x@a.b.example.com",
                     ENCPOLICY_NEVER, &m), ENCPOLICY_REQUIRED);
    ck_assert_str_eq(m, ".example.com");
    ck_assert_int_eq(encpolicy_lookup(p, "x@deep.sales.example.com",
                     ENCPOLICY_OPPORTUNISTIC, &m), ENCPOLICY_REQUIRED);
    ck_assert_str_eq(m, ".example.com");
    /* ... but never the domain itself */
    ck_assert_int_eq(encpolicy_lookup(p, "x@example.com", ENCPOLICY_NEVER,
                     &m), ENCPOLICY_OPPORTUNISTIC);
    ck_assert_str_eq(m, "example.com");
    ck_assert_int_eq(encpolicy_lookup(p, "x@lists.example.com",
                     ENCPOLICY_NEVER, NULL), ENCPOLICY_OPPORTUNISTIC);
    /* nothing matches: the default */
    ck_assert_int_eq(encpolicy_lookup(p, "x@example.org", ENCPOLICY_NEVER,
                     &m), ENCPOLICY_NEVER);
    ck_assert_str_eq(m, "default");
    ck_assert_int_eq(encpolicy_lookup(p, "x@notexample.com",
                     ENCPOLICY_OPPORTUNISTIC, NULL), ENCPOLICY_OPPORTUNISTIC);
    ck_assert_int_eq(encpolicy_lookup(p, "postmaster", ENCPOLICY_NEVER,
                     NULL), ENCPOLICY_NEVER);
    encpolicy_free(p);
    /* no file */
    ck_assert_int_eq(encpolicy_lookup(NULL, "a@example.com",
                     ENCPOLICY_REQUIRED, &m), ENCPOLICY_REQUIRED);
    ck_assert_str_eq(m, "default");
}
END_TEST

START_TEST(file_errors_have_lines)
{
    encpolicy_t *p = load(
        "example.com required\n"            /* 1 fine */
        "example.net always\n"              /* 2 bad level */
        "example.org\n"                     /* 3 no level */
        "a@example.org never extra\n"       /* 4 extra word */
        "@example.org never\n"              /* 5 no local part */
        "a@b@example.org never\n"           /* 6 two @ */
        "exa mple\n"                        /* 7 not a level */
        "..example.org never\n"             /* 8 empty label */
        "EXAMPLE.com never\n"               /* 9 duplicate of 1 */
        "ok@example.org required\n");       /* 10 fine */

    ck_assert_ptr_null(p);
    ck_assert_int_eq(nreports, 8);
    ck_assert_msg(strstr(reports, "pol:2: example.net: expected never, "
                  "opportunistic or required, not \"always\"\n"), "%s",
                  reports);
    ck_assert_msg(strstr(reports, "pol:3: example.org: missing policy"),
                  "%s", reports);
    ck_assert_msg(strstr(reports, "pol:4: a@example.org: unexpected "
                  "\"extra\""), "%s", reports);
    ck_assert_msg(strstr(reports, "pol:5: \"@example.org\" has no local "
                  "part"), "%s", reports);
    ck_assert_msg(strstr(reports, "pol:6: \"a@b@example.org\" is not an "
                  "address"), "%s", reports);
    ck_assert_msg(strstr(reports, "pol:7: exa: expected never, "
                  "opportunistic or required, not \"mple\""), "%s",
                  reports);
    ck_assert_msg(strstr(reports, "pol:8: \"..example.org\" is neither"),
                  "%s", reports);
    ck_assert_msg(strstr(reports, "pol:9: example.com already given on "
                  "line 1"), "%s", reports);
}
END_TEST

START_TEST(file_missing)
{
    reports[0] = '\0';
    nreports = 0;
    errno = 0;
    ck_assert_ptr_null(encpolicy_load("/nonexistent/policy", collect, NULL));
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(nreports, 0);      /* the configuration says where */
    /* an empty file is a valid file */
    encpolicy_t *p = load("# nothing yet\n\n");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(encpolicy_count(p), 0);
    encpolicy_free(p);
}
END_TEST

/* ---- the RCPT decision ---- */

#define R ENCPOLICY_REQUIRED
#define O ENCPOLICY_OPPORTUNISTIC
#define N ENCPOLICY_NEVER
#define YES ENCPOLICY_CERT_USABLE
#define NO ENCPOLICY_CERT_NONE
#define TMP ENCPOLICY_CERT_TEMPFAIL

/* Feeds recipients (level, cert) in order; returns the verdict string
 * "A" accept, "5" 550, "4" 451, "D" 452 per recipient. */
static const char *run(int split, size_t n, const enum encpolicy_level *l,
                       const enum encpolicy_cert *c)
{
    static char out[32];
    struct encpolicy_txn t = { 0, 0, 0 };
    struct encpolicy_reply r;

    for (size_t i = 0; i < n; i++) {
        encpolicy_rcpt(&t, l[i], c[i], split, &r);
        out[i] = "A54D"[r.verdict];
        if (r.verdict != ENCPOLICY_ACCEPT) {
            ck_assert_ptr_nonnull(r.rcode);
            ck_assert_ptr_nonnull(r.text);
        }
        ck_assert_ptr_nonnull(r.reason);
    }
    out[n] = '\0';
    return out;
}

START_TEST(rcpt_required_alone)
{
    struct encpolicy_txn t = { 0, 0, 0 };
    struct encpolicy_reply r;

    encpolicy_rcpt(&t, R, NO, 0, &r);
    ck_assert_int_eq(r.verdict, ENCPOLICY_REJECT);
    ck_assert_str_eq(r.rcode, "550");
    ck_assert_str_eq(r.xcode, "5.7.1");
    encpolicy_rcpt(&t, R, TMP, 0, &r);
    ck_assert_int_eq(r.verdict, ENCPOLICY_TEMPFAIL);
    ck_assert_str_eq(r.rcode, "451");
    ck_assert_str_eq(r.xcode, "4.7.1");
    /* refused recipients are not part of the transaction */
    ck_assert_uint_eq(t.required + t.encryptable + t.plain, 0);
    encpolicy_rcpt(&t, R, YES, 0, &r);
    ck_assert_int_eq(r.verdict, ENCPOLICY_ACCEPT);
    ck_assert_ptr_null(r.rcode);
    ck_assert_uint_eq(t.required, 1);
    encpolicy_rcpt(&t, N, YES, 0, &r);
    ck_assert_int_eq(r.verdict, ENCPOLICY_DEFER);
    ck_assert_str_eq(r.rcode, "452");
    ck_assert_str_eq(r.xcode, "4.5.3");
}
END_TEST

START_TEST(rcpt_mixed_without_split)
{
    {   /* required first: later ones that prevent encryption wait */
        enum encpolicy_level l[] = { R, O, N, O, R };
        enum encpolicy_cert c[] = { YES, NO, YES, YES, YES };
        ck_assert_str_eq(run(0, 5, l, c), "ADDAA");
    }
    {   /* one without a certificate first: a required one waits */
        enum encpolicy_level l[] = { O, R, O, N, R };
        enum encpolicy_cert c[] = { NO, YES, YES, NO, NO };
        ck_assert_str_eq(run(0, 5, l, c), "ADAA5");
    }
    {   /* never first */
        enum encpolicy_level l[] = { N, R, R };
        enum encpolicy_cert c[] = { YES, YES, TMP };
        ck_assert_str_eq(run(0, 3, l, c), "AD4");
    }
    {   /* opportunistic only: anything goes, no split */
        enum encpolicy_level l[] = { O, O, N, O };
        enum encpolicy_cert c[] = { YES, NO, NO, TMP };
        ck_assert_str_eq(run(0, 4, l, c), "AAAA");
    }
    {   /* a failed lookup of an opportunistic one prevents encryption */
        enum encpolicy_level l[] = { R, O };
        enum encpolicy_cert c[] = { YES, TMP };
        ck_assert_str_eq(run(0, 2, l, c), "AD");
    }
    {   /* a refused first recipient leaves the transaction empty */
        enum encpolicy_level l[] = { R, N, R };
        enum encpolicy_cert c[] = { NO, YES, YES };
        ck_assert_str_eq(run(0, 3, l, c), "5AD");
    }
}
END_TEST

START_TEST(rcpt_mixed_with_split)
{
    {
        enum encpolicy_level l[] = { O, O, N, O, R };
        enum encpolicy_cert c[] = { YES, NO, YES, YES, YES };
        ck_assert_str_eq(run(1, 5, l, c), "ADDAA");
    }
    {
        enum encpolicy_level l[] = { O, O, O, N, R };
        enum encpolicy_cert c[] = { NO, YES, NO, NO, YES };
        ck_assert_str_eq(run(1, 5, l, c), "ADAAD");
    }
    {   /* all with certificates, or all without: nothing to split */
        enum encpolicy_level l[] = { O, R, O };
        enum encpolicy_cert c[] = { YES, YES, YES };
        ck_assert_str_eq(run(1, 3, l, c), "AAA");
    }
    {
        enum encpolicy_level l[] = { N, O, N };
        enum encpolicy_cert c[] = { NO, NO, YES };
        ck_assert_str_eq(run(1, 3, l, c), "AAA");
    }
}
END_TEST

/* ---- the configuration keys ---- */

static config_t *conf(const char *text)
{
    reports[0] = '\0';
    nreports = 0;
    return config_load_string("test.conf", text, CONFIG_NO_DERIVED, collect,
                              NULL);
}

/* encpolicy_may_refuse() is what lets the daemon negotiate no RCPT
 * replies: where it says 0, no sequence of recipients (every level it
 * allows, every certificate state, up to 5 recipients) gets anything but
 * accept; where it says 1, one does. */
static int any_refusal(int split, int allow_required)
{
    const enum encpolicy_level lv[] = { N, O, R };
    const enum encpolicy_cert cv[] = { YES, NO, TMP };
    size_t nl = allow_required ? 3 : 2;

    for (size_t n = 1; n <= 5; n++) {
        size_t total = 1;
        for (size_t i = 0; i < n; i++)
            total *= nl * 3;
        for (size_t code = 0; code < total; code++) {
            enum encpolicy_level l[5];
            enum encpolicy_cert c[5];
            size_t x = code;
            for (size_t i = 0; i < n; i++) {
                l[i] = lv[x % nl];
                x /= nl;
                c[i] = cv[x % 3];
                x /= 3;
            }
            if (strspn(run(split, n, l, c), "A") != n)
                return 1;
        }
    }
    return 0;
}

START_TEST(may_refuse_is_exact)
{
    encpolicy_t *none = encpolicy_load_string("t", "example.net never\n"
                                              "a@example.org opportunistic\n",
                                              NULL, NULL);
    encpolicy_t *req = encpolicy_load_string("t", "example.net never\n"
                                             "b@example.org required\n",
                                             NULL, NULL);

    ck_assert_ptr_nonnull(none);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(encpolicy_may_refuse(NULL, O, 0), 0);
    ck_assert_int_eq(encpolicy_may_refuse(none, O, 0), 0);
    ck_assert_int_eq(encpolicy_may_refuse(none, N, 0), 0);
    ck_assert_int_eq(any_refusal(0, 0), 0);
    ck_assert_int_eq(encpolicy_may_refuse(none, O, 1), 1);
    ck_assert_int_eq(any_refusal(1, 0), 1);
    ck_assert_int_eq(encpolicy_may_refuse(none, R, 0), 1);
    ck_assert_int_eq(encpolicy_may_refuse(req, O, 0), 1);
    ck_assert_int_eq(any_refusal(0, 1), 1);
    encpolicy_free(none);
    encpolicy_free(req);
}
END_TEST

START_TEST(config_defaults_and_keys)
{
    char path[] = "/tmp/check_encpolicy.XXXXXX", text[256];
    int fd = mkstemp(path);
    config_t *c;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_gt(write(fd, "example.com required\n", 21), 0);
    close(fd);
    c = conf("Socket unix:/tmp/x\n");
    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_int_eq(c->encrypt_default, ENCPOLICY_OPPORTUNISTIC);
    ck_assert_int_eq(c->encrypt_split, 0);
    ck_assert_ptr_null(c->encpolicy);
    config_unref(c);
    snprintf(text, sizeof text, "EncryptPolicyFile %s\nEncryptDefault "
             "never\nEncryptSplit yes\n", path);
    c = conf(text);
    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_int_eq(c->encrypt_default, ENCPOLICY_NEVER);
    ck_assert_int_eq(c->encrypt_split, 1);
    ck_assert_int_eq(encpolicy_lookup(c->encpolicy, "a@example.com",
                     ENCPOLICY_NEVER, NULL), ENCPOLICY_REQUIRED);
    config_unref(c);
    unlink(path);
}
END_TEST

START_TEST(config_errors)
{
    char path[] = "/tmp/check_encpolicy.XXXXXX", text[256], want[128];
    int fd = mkstemp(path);
    config_t *c;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_gt(write(fd, "a.example required\nb.example maybe\n",
                           35), 0);
    close(fd);
    snprintf(text, sizeof text, "# policy\nEncryptDefault always\n"
             "EncryptPolicyFile %s\nEncryptSplit perhaps\n", path);
    c = conf(text);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nreports, 3);
    ck_assert_msg(strstr(reports, "test.conf:2: EncryptDefault: expected "
                  "never, opportunistic or required, not \"always\""), "%s",
                  reports);
    ck_assert_msg(strstr(reports, "test.conf:4: EncryptSplit: expected "
                  "yes or no"), "%s", reports);
    snprintf(want, sizeof want, "%s:2: b.example: expected never, "
             "opportunistic or required, not \"maybe\"", path);
    ck_assert_msg(strstr(reports, want), "%s", reports);
    unlink(path);
    c = conf("# one\nEncryptPolicyFile /nonexistent/policy\n");
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(reports, "test.conf:2: EncryptPolicyFile "
                         "/nonexistent/policy: cannot open: No such file"),
                  "%s", reports);
}
END_TEST

static Suite *encpolicy_suite(void)
{
    Suite *s = suite_create("encpolicy");
    TCase *tc = tcase_create("file");

    tcase_add_test(tc, levels);
    tcase_add_test(tc, most_specific_wins);
    tcase_add_test(tc, file_errors_have_lines);
    tcase_add_test(tc, file_missing);
    suite_add_tcase(s, tc);
    tc = tcase_create("rcpt");
    tcase_add_test(tc, rcpt_required_alone);
    tcase_add_test(tc, rcpt_mixed_without_split);
    tcase_add_test(tc, rcpt_mixed_with_split);
    tcase_add_test(tc, may_refuse_is_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, config_defaults_and_keys);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(encpolicy_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
