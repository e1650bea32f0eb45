/*
 * check_stats.c - unit tests of milter/stats.c: counting from summary
 * lines (literal ones for every category, and real ones made by the
 * session core), exact totals under concurrent counting, the snapshot
 * format, and the atomic StatsFile write.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "session.h"
#include "stats.h"

/* Every counter must be 0 except those listed (counter, value), -1 ends. */
static void expect(const int *pairs)
{
    uint64_t want[STATS_N] = {0};

    for (; pairs[0] >= 0; pairs += 2)
        want[pairs[0]] = (uint64_t)pairs[1];
    for (int i = 0; i < STATS_N; i++)
        ck_assert_msg(stats_get(i) == want[i], "%s = %llu, want %llu",
                      stats_name(i), (unsigned long long)stats_get(i),
                      (unsigned long long)want[i]);
}

/* ---- names and format ---- */

START_TEST(names_unique)
{
    for (int i = 0; i < STATS_N; i++) {
        const char *n = stats_name(i);
        ck_assert_ptr_nonnull(n);
        ck_assert_uint_gt(strlen(n), 0);
        ck_assert_uint_eq(strspn(n, "abcdefghijklmnopqrstuvwxyz_"),
                          strlen(n));
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(n, stats_name(j));
    }
    ck_assert_str_eq(stats_name(STATS_N), "unknown");
}
END_TEST

START_TEST(format_lists_everything)
{
    char buf[4096], key[64];
    int len;

    stats_reset();
    stats_add(STATS_RESULT_PASS);
    stats_add(STATS_RESULT_PASS);
    stats_add(STATS_TEMPFAILS);
    len = stats_format(buf, sizeof buf, "\n");
    ck_assert_int_gt(len, 0);
    ck_assert_uint_eq((size_t)len, strlen(buf));
    ck_assert_msg(strncmp(buf, "uptime=0\ntime=", 14) == 0, "%s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "\nresult_pass=2\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\ntempfails=1"));
    ck_assert_ptr_nonnull(strstr(buf, "\nsigned=0\n"));
    for (int i = 0; i < STATS_N; i++) {
        snprintf(key, sizeof key, "\n%s=", stats_name(i));
        ck_assert_msg(strstr(buf, key) != NULL, "%s missing", key + 1);
    }
    /* as snprintf: the length needed when the buffer is short */
    ck_assert_int_eq(stats_format(buf, 10, "\n"), len);
    ck_assert_uint_eq(strlen(buf), 9);
    ck_assert_int_eq(stats_format(NULL, 0, "\n"), len);
}
END_TEST

/* ---- counting summary lines ---- */

START_TEST(count_inbound_results)
{
    static const char *const lines[] = {
        "smime dir=in client=192.0.2.1 result=none",
        "smime dir=in client=192.0.2.1 result=pass signer=a@example.org "
        "part=1 serial=0a reason=\"signature verified\" signatures=1",
        "smime dir=in client=local result=fail signer=a@example.org part=1 "
        "serial=0a reason=\"content altered\" signatures=1",
        "smime dir=in client=192.0.2.1 result=policy signer=- part=1 "
        "serial=- reason=\"From mismatch\" signatures=2",
        "smime dir=in client=192.0.2.1 result=neutral signer=- part=2 "
        "serial=- reason=\"x\" signatures=1",
        "smime dir=in client=192.0.2.1 result=permerror signer=- part=1 "
        "serial=- reason=\"result=pass dir=out\" signatures=1",
        "smime dir=in client=192.0.2.1 result=skipped "
        "reason=\"message too large\"",
        "smime dir=in client=192.0.2.1 result=temperror signer=- part=- "
        "serial=- reason=\"internal error\" signatures=1 "
        "error=\"verifying: Cannot allocate memory\" onerror=accept",
        "smime dir=in result=tempfail reason=\"changing headers\"",
    };

    stats_reset();
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        stats_count_summary(lines[i],
                            strstr(lines[i], "result=tempfail") != NULL);
    expect((const int[]){
        STATS_MESSAGES, 9, STATS_INBOUND, 9, STATS_RESULT_NONE, 1,
        STATS_RESULT_PASS, 1, STATS_RESULT_FAIL, 1, STATS_RESULT_POLICY, 1,
        STATS_RESULT_NEUTRAL, 1, STATS_RESULT_PERMERROR, 1,
        STATS_UNVERIFIED_TOO_LARGE, 1, STATS_RESULT_TEMPERROR, 1,
        STATS_ERRORS, 2, STATS_TEMPFAILS, 1, -1});
}
END_TEST

START_TEST(count_outbound_reasons)
{
    static const struct {
        const char *reason;
        enum stats_counter c;
    } cases[] = {
        {"no Keystore configured", STATS_UNSIGNED_NO_KEYSTORE},
        {"no keystore entry for carol@example.org", STATS_UNSIGNED_NO_ENTRY},
        {"login alice@example.org may not sign as bob@example.org",
         STATS_UNSIGNED_LOGIN},
        {"already signed", STATS_UNSIGNED_ALREADY_SIGNED},
        {"already S/MIME or PGP protected (multipart/encrypted)",
         STATS_UNSIGNED_ALREADY_SIGNED},
        {"DKIM-Signature present", STATS_UNSIGNED_DKIM},
        {"message too large", STATS_UNSIGNED_TOO_LARGE},
        {"header block too large", STATS_UNSIGNED_TOO_LARGE},
        {"no From header", STATS_UNSIGNED_FROM},
        {"several From addresses", STATS_UNSIGNED_FROM},
        {"no address in From", STATS_UNSIGNED_FROM},
        {"From address too long", STATS_UNSIGNED_FROM},
        {"certificate of a@example.org unusable: expired",
         STATS_UNSIGNED_CERTIFICATE},
        {"something new", STATS_UNSIGNED_OTHER},
        {"", STATS_UNSIGNED_OTHER},
    };
    char line[512];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stats_reset();
        snprintf(line, sizeof line, "smime dir=out client=local login=- "
                 "result=unsigned reason=\"%s\"", cases[i].reason);
        stats_count_summary(line, 0);
        expect((const int[]){STATS_MESSAGES, 1, STATS_OUTBOUND, 1,
                             (int)cases[i].c, 1, -1});
    }
    stats_reset();
    stats_count_summary("smime dir=out client=local login=alice "
                        "result=signed reason=\"signed as a@b (rsa, "
                        "sha-256)\"", 0);
    /* OnError accept: an error, not a refusal */
    stats_count_summary("smime dir=out client=local login=- "
                        "result=unsigned reason=\"signing: I/O error\" "
                        "error=\"signing: I/O error\" onerror=accept", 0);
    stats_count_summary("smime dir=out result=tempfail reason=\"x\"", 1);
    stats_count_summary("smime dir=out result=ignored", 0);
    stats_count_summary("smime aborted", 0);
    stats_count_summary("", 0);
    stats_count_summary(NULL, 0);
    stats_count_summary("garbage without keys", 0);
    expect((const int[]){STATS_MESSAGES, 4, STATS_OUTBOUND, 3,
                         STATS_SIGNED, 1, STATS_IGNORED, 1, STATS_ERRORS, 2,
                         STATS_TEMPFAILS, 1, STATS_ABORTED, 1, -1});
}
END_TEST

/* ---- real summary lines from the session core ---- */

static int nop_insert(void *a, unsigned i, const char *n, const char *v)
{
    (void)a, (void)i, (void)n, (void)v;
    return 0;
}

static int nop_change(void *a, const char *n, unsigned i, const char *v)
{
    (void)a, (void)n, (void)i, (void)v;
    return 0;
}

static int bad_change(void *a, const char *n, unsigned i, const char *v)
{
    (void)a, (void)n, (void)i, (void)v;
    return -1;
}

static int nop_body(void *a, actions_read_fn rd, void *rarg)
{
    (void)a, (void)rd, (void)rarg;
    return 0;
}

static const struct actions ok_act = {nop_insert, nop_change, nop_body};
static const struct actions bad_act = {nop_insert, bad_change, nop_body};

/* One message through the session; its summary is counted. */
static void message(const char *conf, const char *client, const char *login,
                    const char *ctype, size_t bodylen,
                    const struct actions *act, int abort_it)
{
    config_t *c = config_load_string("t.conf", conf, CONFIG_NO_DERIVED,
                                     NULL, NULL);
    session_t *s = session_new();
    char *body = malloc(bodylen + 1);
    enum session_status st = SESSION_ACCEPT;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(body);
    memset(body, 'x', bodylen);
    session_set_client(s, client);
    session_begin(s, c);
    session_set_login(s, login);
    session_header(s, "From", "alice@example.org");
    session_header(s, "Authentication-Results", "mx.test.example; smime=pass");
    session_header(s, "Content-Type", ctype);
    session_eoh(s);
    session_body(s, body, bodylen);
    if (abort_it)
        session_abort(s);
    else
        st = session_eom(s, act, NULL);
    stats_count_summary(session_summary(s), st == SESSION_TEMPFAIL);
    session_free(s);
    config_unref(c);
    free(body);
}

START_TEST(count_real_sessions)
{
    const char *in = "AuthservID mx.test.example\nInternalHosts none\n"
                     "MaxMessageSize 1k\n";
    const char *acc = "AuthservID mx.test.example\nInternalHosts none\n"
                      "OnError accept\n";
    const char *s_only = "AuthservID mx.test.example\nInternalHosts none\n"
                         "Mode s\n";
    const char *mixed = "multipart/mixed; boundary=b";

    stats_reset();
    message(in, "192.0.2.1", NULL, "text/plain", 10, &ok_act, 0);
    message(in, "192.0.2.1", NULL, mixed, 10, &ok_act, 0);
    message(in, "192.0.2.1", NULL, mixed, 4096, &ok_act, 0);
    message(in, "192.0.2.1", NULL, mixed, 10, &bad_act, 0);
    message(acc, "192.0.2.1", NULL, mixed, 10, &bad_act, 0);
    message(in, "192.0.2.1", "alice@example.org", "text/plain", 10,
            &ok_act, 0);
    message(in, NULL, NULL, "text/plain", 4096, &ok_act, 0);
    message(s_only, "192.0.2.1", NULL, "text/plain", 10, &ok_act, 0);
    message(in, "192.0.2.1", NULL, "text/plain", 10, &ok_act, 1);
    /* a failed header change tempfails, with OnError accept too (the
     * result header itself cannot be written) */
    expect((const int[]){
        STATS_MESSAGES, 8, STATS_INBOUND, 5, STATS_OUTBOUND, 2,
        STATS_IGNORED, 1, STATS_ABORTED, 1,
        STATS_RESULT_NONE, 2, STATS_UNVERIFIED_TOO_LARGE, 1,
        STATS_ERRORS, 2, STATS_TEMPFAILS, 2,
        /* parse-only configuration: no keystore, nothing is signed */
        STATS_UNSIGNED_NO_KEYSTORE, 2, -1});
}
END_TEST

/* ---- threads ---- */

#define THREADS 8
#define PER_THREAD 100000

static void *bump(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        stats_add(STATS_MESSAGES);
        if (i % 2)
            stats_count_summary("smime dir=in client=x result=pass "
                                "reason=\"signature verified\"", 0);
    }
    return NULL;
}

START_TEST(threads_exact)
{
    pthread_t t[THREADS];

    stats_reset();
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, bump, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    expect((const int[]){STATS_MESSAGES, THREADS * PER_THREAD * 3 / 2,
                         STATS_INBOUND, THREADS * PER_THREAD / 2,
                         STATS_RESULT_PASS, THREADS * PER_THREAD / 2, -1});
}
END_TEST

/* ---- StatsFile ---- */

START_TEST(write_file_atomic)
{
    char dir[] = "/tmp/check_stats.XXXXXX", path[256], line[256];
    struct stat st;
    FILE *fp;
    DIR *d;
    struct dirent *e;
    int lines = 0, found = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/stats", dir);
    stats_reset();
    stats_add(STATS_SIGNED);
    stats_add(STATS_SIGNED);
    stats_add(STATS_SIGNED);
    char err[256] = "";
    ck_assert_int_eq(stats_write_file(path, err, sizeof err), 0);
    stats_add(STATS_SIGNED);
    ck_assert_int_eq(stats_write_file(path, err, sizeof err), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);
    ck_assert_ptr_nonnull(fp = fopen(path, "r"));
    while (fgets(line, sizeof line, fp)) {
        lines++;
        ck_assert_ptr_nonnull(strchr(line, '='));
        ck_assert_ptr_nonnull(strchr(line, '\n'));
        if (strcmp(line, "signed=4\n") == 0)
            found = 1;
    }
    fclose(fp);
    ck_assert_int_eq(lines, STATS_N + 2);   /* + uptime, time */
    ck_assert(found);
    /* no temporary file left next to it */
    ck_assert_ptr_nonnull(d = opendir(dir));
    while ((e = readdir(d)) != NULL)
        ck_assert_msg(e->d_name[0] == '.' || strcmp(e->d_name, "stats") == 0,
                      "left over: %s", e->d_name);
    closedir(d);
    unlink(path);
    rmdir(dir);
    /* a directory that does not exist: an error with the file's name */
    snprintf(path, sizeof path, "%s/stats", dir);
    ck_assert_int_eq(stats_write_file(path, err, sizeof err), -1);
    ck_assert_msg(strstr(err, dir) != NULL, "%s", err);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("stats");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, names_unique);
    tcase_add_test(tc, format_lists_everything);
    tcase_add_test(tc, count_inbound_results);
    tcase_add_test(tc, count_outbound_reasons);
    tcase_add_test(tc, count_real_sessions);
    tcase_add_test(tc, threads_exact);
    tcase_add_test(tc, write_file_atomic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
