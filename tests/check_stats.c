/*
 * check_stats.c - unit tests of milter/stats.c and of the message outcome
 * it counts from (session.h): counting outcomes of every kind (made by
 * hand, and made by the session core for real messages, outbound ones
 * against a keystore from the test PKI), the summary log line formatted
 * from the outcome, exact totals under concurrent counting, the snapshot
 * format, the atomic StatsFile write, and the Prometheus text format
 * (checked by its grammar, every counter once with its labels).
 */
#include "config.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "keystore.h"
#include "session.h"
#include "sign.h"
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

/* ---- counting outcomes made by hand ---- */

static struct session_outcome inbound(smime_result_t r)
{
    struct session_outcome o = {.dir = SESSION_DIR_IN, .result = r};

    snprintf(o.client, sizeof o.client, "192.0.2.1");
    snprintf(o.login, sizeof o.login, "-");
    o.signatures = r == SMIME_RESULT_NONE ? 0 : 1;
    return o;
}

static struct session_outcome outbound(int signed_ok,
                                       enum outbound_unsigned kind)
{
    struct session_outcome o = {.dir = SESSION_DIR_OUT, .outbound = 1,
                                .signed_ok = signed_ok,
                                .unsigned_kind = kind};

    snprintf(o.client, sizeof o.client, "local");
    snprintf(o.login, sizeof o.login, "alice@example.org");
    return o;
}

START_TEST(count_inbound_outcomes)
{
    static const struct {
        smime_result_t r;
        enum stats_counter c;
    } results[] = {
        {SMIME_RESULT_NONE, STATS_RESULT_NONE},
        {SMIME_RESULT_PASS, STATS_RESULT_PASS},
        {SMIME_RESULT_FAIL, STATS_RESULT_FAIL},
        {SMIME_RESULT_POLICY, STATS_RESULT_POLICY},
        {SMIME_RESULT_NEUTRAL, STATS_RESULT_NEUTRAL},
        {SMIME_RESULT_TEMPERROR, STATS_RESULT_TEMPERROR},
        {SMIME_RESULT_PERMERROR, STATS_RESULT_PERMERROR},
    };
    struct session_outcome o;

    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        stats_reset();
        o = inbound(results[i].r);
        stats_count(&o);
        expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                             (int)results[i].c, 1, -1});
    }
    /* too large to verify: not a result */
    stats_reset();
    o = inbound(SMIME_RESULT_NONE);
    o.unverified_too_large = 1;
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                         STATS_UNVERIFIED_TOO_LARGE, 1, -1});
    /* OnError accept: the temperror result and an error */
    stats_reset();
    o = inbound(SMIME_RESULT_TEMPERROR);
    o.error = 1;
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                         STATS_RESULT_TEMPERROR, 1, STATS_ERRORS, 1, -1});
    /* tempfail: no result, an error and a tempfail (the flag alone) */
    stats_reset();
    o = inbound(SMIME_RESULT_PASS);
    o.tempfail = 1;
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                         STATS_ERRORS, 1, STATS_TEMPFAILS, 1, -1});
}
END_TEST

/* Mode d: decrypted, or left encrypted for want of a key or because it
 * could not be decrypted, besides the result. */
START_TEST(count_decrypt_outcomes)
{
    struct session_outcome o;

    stats_reset();
    o = inbound(SMIME_RESULT_PASS);
    o.decrypted = 1;
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                         STATS_RESULT_PASS, 1, STATS_DECRYPTED, 1, -1});
    stats_reset();
    o = inbound(SMIME_RESULT_NONE);
    o.decrypted = -1;
    o.decrypt_no_key = 1;
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                         STATS_RESULT_NONE, 1, STATS_NOT_DECRYPTED_NO_KEY, 1,
                         -1});
    stats_reset();
    o = inbound(SMIME_RESULT_NONE);
    o.decrypted = -1;
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 1, STATS_INBOUND, 1,
                         STATS_RESULT_NONE, 1, STATS_NOT_DECRYPTED_FAILED, 1,
                         -1});
}
END_TEST

START_TEST(count_outbound_outcomes)
{
    static const struct {
        enum outbound_unsigned kind;
        enum stats_counter c;
    } kinds[] = {
        {OUTBOUND_UNSIGNED_NO_KEYSTORE, STATS_UNSIGNED_NO_KEYSTORE},
        {OUTBOUND_UNSIGNED_NO_ENTRY, STATS_UNSIGNED_NO_ENTRY},
        {OUTBOUND_UNSIGNED_LOGIN, STATS_UNSIGNED_LOGIN},
        {OUTBOUND_UNSIGNED_PROTECTED, STATS_UNSIGNED_ALREADY_SIGNED},
        {OUTBOUND_UNSIGNED_DKIM, STATS_UNSIGNED_DKIM},
        {OUTBOUND_UNSIGNED_TOO_LARGE, STATS_UNSIGNED_TOO_LARGE},
        {OUTBOUND_UNSIGNED_FROM, STATS_UNSIGNED_FROM},
        {OUTBOUND_UNSIGNED_CERTIFICATE, STATS_UNSIGNED_CERTIFICATE},
        {OUTBOUND_UNSIGNED_OTHER, STATS_UNSIGNED_OTHER},
        {(enum outbound_unsigned)99, STATS_UNSIGNED_OTHER},
    };
    struct session_outcome o;

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        stats_reset();
        o = outbound(0, kinds[i].kind);
        /* the words do not matter, only the kind */
        snprintf(o.reason, sizeof o.reason, "no keystore entry for x");
        stats_count(&o);
        expect((const int[]){STATS_MESSAGES, 1, STATS_OUTBOUND, 1,
                             (int)kinds[i].c, 1, -1});
    }
    stats_reset();
    o = outbound(1, OUTBOUND_UNSIGNED_OTHER);
    stats_count(&o);
    /* OnError accept: an error, not a refusal */
    o = outbound(0, OUTBOUND_UNSIGNED_NO_ENTRY);
    o.error = 1;
    stats_count(&o);
    o = outbound(0, OUTBOUND_UNSIGNED_OTHER);
    o.tempfail = 1;
    stats_count(&o);
    o = outbound(0, OUTBOUND_UNSIGNED_OTHER);
    o.dir = SESSION_DIR_IGNORED;
    stats_count(&o);
    o.tempfail = 1;                 /* ignored, but the headers failed */
    stats_count(&o);
    o = outbound(0, OUTBOUND_UNSIGNED_NO_ENTRY);
    o.dir = SESSION_DIR_ABORTED;
    stats_count(&o);
    o.dir = SESSION_DIR_NONE;       /* not ended: nothing */
    stats_count(&o);
    stats_count(NULL);
    expect((const int[]){STATS_MESSAGES, 5, STATS_OUTBOUND, 3,
                         STATS_SIGNED, 1, STATS_IGNORED, 2, STATS_ERRORS, 3,
                         STATS_TEMPFAILS, 2, STATS_ABORTED, 1, -1});
}
END_TEST

/* ---- the log line, formatted from the outcome ---- */

static void expect_line(const struct session_outcome *o, const char *want)
{
    char buf[1024];
    int n = session_outcome_format(o, buf, sizeof buf);

    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(n, (int)strlen(want));
}

/* Mode e: encrypted or not, counted besides signed/unsigned; the log
 * line carries the reason. */
START_TEST(count_encrypt_outcomes)
{
    struct session_outcome o;

    stats_reset();
    o = outbound(1, OUTBOUND_UNSIGNED_OTHER);
    o.encrypt_tried = o.encrypted_ok = 1;
    snprintf(o.encrypt_reason, sizeof o.encrypt_reason,
             "encrypted for 3 recipients (aes-256-cbc)");
    stats_count(&o);
    expect_line(&o, "event=message dir=out client=local "
                "login=alice@example.org result=signed reason=\"\" "
                "encrypted=yes encrypt=\"encrypted for 3 recipients "
                "(aes-256-cbc)\"");
    o = outbound(0, OUTBOUND_UNSIGNED_NO_ENTRY);
    o.encrypt_tried = 1;
    snprintf(o.encrypt_reason, sizeof o.encrypt_reason,
             "not encrypted: bob@example.net has no certificate");
    stats_count(&o);
    /* an internal error is neither */
    o.error = 1;
    stats_count(&o);
    /* Mode without e: not counted */
    o = outbound(1, OUTBOUND_UNSIGNED_OTHER);
    stats_count(&o);
    expect((const int[]){STATS_MESSAGES, 4, STATS_OUTBOUND, 4,
                         STATS_SIGNED, 2, STATS_UNSIGNED_NO_ENTRY, 1,
                         STATS_ERRORS, 1, STATS_ENCRYPTED, 1,
                         STATS_NOT_ENCRYPTED, 1, -1});
}
END_TEST

START_TEST(format_from_outcome)
{
    struct session_outcome o = inbound(SMIME_RESULT_PASS);
    char small[20];

    snprintf(o.signer, sizeof o.signer, "alice@example.org");
    snprintf(o.part, sizeof o.part, "1");
    snprintf(o.serial, sizeof o.serial, "1001");
    snprintf(o.reason, sizeof o.reason, "signature verified");
    o.signatures = 2;
    expect_line(&o, "event=message dir=in client=192.0.2.1 result=pass "
                "signer=alice@example.org part=1 serial=1001 "
                "reason=\"signature verified\" signatures=2");
    /* as snprintf: the length needed, output cut */
    ck_assert_int_eq(session_outcome_format(&o, small, sizeof small),
                     (int)strlen("event=message dir=in client=192.0.2.1 "
                                 "result=pass signer=alice@example.org "
                                 "part=1 serial=1001 reason=\"signature "
                                 "verified\" signatures=2"));
    ck_assert_str_eq(small, "event=message dir=i");
    /* unknown fields as "-", quotes and controls in words made safe */
    o = inbound(SMIME_RESULT_PERMERROR);
    snprintf(o.reason, sizeof o.reason, "bad \"x\"\nresult=pass");
    expect_line(&o, "event=message dir=in client=192.0.2.1 "
                "result=permerror signer=- part=- serial=- "
                "reason=\"bad 'x''result=pass\" signatures=1");
    o = inbound(SMIME_RESULT_NONE);
    expect_line(&o, "event=message dir=in client=192.0.2.1 result=none");
    o.unverified_too_large = 1;
    snprintf(o.reason, sizeof o.reason, "message too large");
    expect_line(&o, "event=message dir=in client=192.0.2.1 result=skipped "
                "reason=\"message too large\"");
    o = inbound(SMIME_RESULT_TEMPERROR);
    snprintf(o.reason, sizeof o.reason, "internal error");
    snprintf(o.error_text, sizeof o.error_text, "verifying: I/O error");
    o.error = 1;
    expect_line(&o, "event=message dir=in client=192.0.2.1 "
                "result=temperror signer=- part=- serial=- "
                "reason=\"internal error\" signatures=1 "
                "error=\"verifying: I/O error\" onerror=accept");
    o.error = 0;
    o.tempfail = 1;
    expect_line(&o, "event=message dir=in client=192.0.2.1 result=tempfail "
                "reason=\"verifying: I/O error\"");

    o = outbound(1, OUTBOUND_UNSIGNED_OTHER);
    snprintf(o.reason, sizeof o.reason,
             "signed as alice@example.org (rsa, sha-256)");
    expect_line(&o, "event=message dir=out client=local "
                "login=alice@example.org result=signed "
                "reason=\"signed as alice@example.org (rsa, sha-256)\"");
    o = outbound(0, OUTBOUND_UNSIGNED_NO_ENTRY);
    snprintf(o.reason, sizeof o.reason, "no keystore entry for c@d");
    snprintf(o.login, sizeof o.login, "-");
    expect_line(&o, "event=message dir=out client=local login=- "
                "result=unsigned reason=\"no keystore entry for c@d\"");
    o.dir = SESSION_DIR_IGNORED;
    expect_line(&o, "event=message dir=out client=local login=- "
                "result=ignored");
    o.outbound = 0;
    snprintf(o.client, sizeof o.client, "2001:db8::1");
    expect_line(&o, "event=message dir=in client=2001:db8::1 "
                "result=ignored");
    o.dir = SESSION_DIR_ABORTED;
    expect_line(&o, "event=message dir=in client=2001:db8::1 "
                "result=aborted");
    o.dir = SESSION_DIR_NONE;
    expect_line(&o, "");
}
END_TEST

/* ---- outcomes of real messages through the session core ---- */

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

/* One message (headers: name, value, ..., NULL) through the session;
 * its outcome is counted and returned, and its log line must be the
 * outcome formatted. */
static struct session_outcome run_message(config_t *c, const char *client,
                                          const char *login,
                                          const char *const *hdrs,
                                          size_t bodylen,
                                          const struct actions *act,
                                          int abort_it)
{
    session_t *s = session_new();
    char *body = malloc(bodylen + 1), line[1024];
    struct session_outcome o;

    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(body);
    memset(body, 'x', bodylen);
    session_set_client(s, client);
    session_begin(s, c);
    session_set_login(s, login);
    ck_assert_int_eq(session_outcome(s)->dir, SESSION_DIR_NONE);
    for (; hdrs[0]; hdrs += 2)
        session_header(s, hdrs[0], hdrs[1]);
    session_eoh(s);
    session_body(s, body, bodylen);
    ck_assert_int_eq(session_outcome(s)->dir, SESSION_DIR_NONE);
    ck_assert_str_eq(session_summary(s), "");
    if (abort_it) {
        session_abort(s);
    } else {
        enum session_status st = session_eom(s, act, NULL);
        ck_assert_int_eq(session_outcome(s)->tempfail,
                         st == SESSION_TEMPFAIL);
    }
    o = *session_outcome(s);
    ck_assert_int_ne(o.dir, SESSION_DIR_NONE);
    session_outcome_format(&o, line, sizeof line);
    ck_assert_str_eq(session_summary(s), line);
    stats_count(&o);
    if (abort_it) {                 /* a second abort changes nothing */
        session_abort(s);
        ck_assert_int_eq(session_outcome(s)->dir, SESSION_DIR_ABORTED);
    }
    session_free(s);
    free(body);
    return o;
}

static config_t *load(const char *text)
{
    config_t *c = config_load_string("t.conf", text, CONFIG_NO_DERIVED,
                                     NULL, NULL);

    ck_assert_ptr_nonnull(c);
    return c;
}

static const char *const plain[] = {
    "From", "alice@example.org",
    "Authentication-Results", "mx.test.example; smime=pass",
    "Content-Type", "text/plain", NULL};
static const char *const mixed[] = {
    "From", "alice@example.org",
    "Authentication-Results", "mx.test.example; smime=pass",
    "Content-Type", "multipart/mixed; boundary=b", NULL};

START_TEST(count_real_sessions)
{
    config_t *in = load("AuthservID mx.test.example\nInternalHosts none\n"
                        "MaxMessageSize 1k\n");
    config_t *acc = load("AuthservID mx.test.example\nInternalHosts none\n"
                         "OnError accept\n");
    config_t *s_only = load("AuthservID mx.test.example\n"
                            "InternalHosts none\nMode s\n");
    struct session_outcome o;

    stats_reset();
    o = run_message(in, "192.0.2.1", NULL, plain, 10, &ok_act, 0);
    ck_assert_int_eq(o.dir, SESSION_DIR_IN);
    ck_assert_int_eq(o.result, SMIME_RESULT_NONE);
    ck_assert_str_eq(o.client, "192.0.2.1");
    run_message(in, "192.0.2.1", NULL, mixed, 10, &ok_act, 0);
    o = run_message(in, "192.0.2.1", NULL, mixed, 4096, &ok_act, 0);
    ck_assert(o.unverified_too_large);
    o = run_message(in, "192.0.2.1", NULL, mixed, 10, &bad_act, 0);
    ck_assert(o.tempfail && o.error);
    /* a failed header change tempfails with OnError accept too (the
     * result header itself cannot be written) */
    o = run_message(acc, "192.0.2.1", NULL, mixed, 10, &bad_act, 0);
    ck_assert(o.tempfail && o.error);
    /* parse-only configuration: no keystore, nothing is signed */
    o = run_message(in, "192.0.2.1", "alice@example.org", plain, 10,
                    &ok_act, 0);
    ck_assert_int_eq(o.dir, SESSION_DIR_OUT);
    ck_assert_int_eq(o.unsigned_kind, OUTBOUND_UNSIGNED_NO_KEYSTORE);
    ck_assert_str_eq(o.login, "alice@example.org");
    o = run_message(in, NULL, NULL, plain, 4096, &ok_act, 0);
    ck_assert_int_eq(o.unsigned_kind, OUTBOUND_UNSIGNED_NO_KEYSTORE);
    ck_assert_str_eq(o.client, "local");
    o = run_message(s_only, "192.0.2.1", NULL, plain, 10, &ok_act, 0);
    ck_assert_int_eq(o.dir, SESSION_DIR_IGNORED);
    ck_assert(!o.outbound);
    o = run_message(in, "192.0.2.1", NULL, plain, 10, &ok_act, 1);
    ck_assert_int_eq(o.dir, SESSION_DIR_ABORTED);
    expect((const int[]){
        STATS_MESSAGES, 8, STATS_INBOUND, 5, STATS_OUTBOUND, 2,
        STATS_IGNORED, 1, STATS_ABORTED, 1,
        STATS_RESULT_NONE, 2, STATS_UNVERIFIED_TOO_LARGE, 1,
        STATS_ERRORS, 2, STATS_TEMPFAILS, 2,
        STATS_UNSIGNED_NO_KEYSTORE, 2, -1});
    config_unref(in);
    config_unref(acc);
    config_unref(s_only);
}
END_TEST

/* ---- outbound refusals against a real keystore ---- */

static char pki[1024], work[1024];

static void setup_pki(void)
{
    const char *src = getenv("top_srcdir"), *bld = getenv("top_builddir");
    char cmd[4096];

    snprintf(pki, sizeof pki, "%s/tests/work/pki", bld ? bld : ".");
    snprintf(work, sizeof work, "%s/tests/work/stats", bld ? bld : ".");
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pki/mkpki.sh' '%s' >/dev/null "
             "&& mkdir -p '%s'", src ? src : ".", pki, work);
    if (system(cmd) != 0) {
        fprintf(stderr, "check_stats: cannot make the test PKI\n");
        exit(1);
    }
}

static smime_signer_t *signer_of(const char *name)
{
    char path[1200], err[256] = "", *buf;
    FILE *f;
    long n;
    smime_signer_t *s;

    snprintf(path, sizeof path, "%s/%s.pem", pki, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    ck_assert_ptr_nonnull(buf = malloc((size_t)n));
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    s = smime_signer_from_pem(buf, (size_t)n, err, sizeof err);
    ck_assert_msg(s != NULL, "%s: %s", name, err);
    free(buf);
    return s;
}

/* A keystore: alice (own login), expired (own login), and bob, who only
 * login "boss" may sign as. */
static void keystore_make(const char *path)
{
    static const struct {
        const char *addr, *name, *login;
    } spec[] = {
        {"alice@example.org", "alice", NULL},
        {"expired@example.org", "expired", NULL},
        {"bob@example.org", "bob", "boss"},
    };
    char err[256] = "";
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof err);

    ck_assert_msg(w != NULL, "%s", err);
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        smime_signer_t *s = signer_of(spec[i].name);
        ck_assert_msg(keystore_writer_add(w, spec[i].addr, s, &spec[i].login,
                                          spec[i].login ? 1 : 0, err,
                                          sizeof err) == 0, "%s", err);
        smime_signer_free(s);
    }
    ck_assert_msg(keystore_writer_commit(w, err, sizeof err) == 0, "%s",
                  err);
    keystore_writer_free(w);
}

static void report(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

START_TEST(outbound_kinds_real)
{
    static const char *const from_carol[] = {"From", "carol@example.org",
                                             NULL};
    static const char *const from_bob[] = {"From", "bob@example.org", NULL};
    static const char *const from_expired[] = {"From",
                                               "expired@example.org", NULL};
    static const char *const signed_already[] = {
        "From", "alice@example.org",
        "Content-Type", "multipart/signed; protocol=x; boundary=b", NULL};
    static const char *const encrypted[] = {
        "From", "alice@example.org",
        "Content-Type", "application/pkcs7-mime; smime-type=enveloped-data",
        NULL};
    static const char *const dkim[] = {
        "DKIM-Signature", "v=1; a=rsa-sha256; d=example.org; s=s; b=x",
        "From", "alice@example.org", NULL};
    static const char *const no_from[] = {"Subject", "x", NULL};
    static const char *const two_from[] = {
        "From", "alice@example.org, bob@example.org", NULL};
    static const struct {
        const char *const *hdrs;
        const char *login;
        size_t bodylen;
        enum outbound_unsigned kind;
        enum stats_counter c;
    } cases[] = {
        {from_carol, "carol@example.org", 10, OUTBOUND_UNSIGNED_NO_ENTRY,
         STATS_UNSIGNED_NO_ENTRY},
        {from_bob, "bob@example.org", 10, OUTBOUND_UNSIGNED_LOGIN,
         STATS_UNSIGNED_LOGIN},
        {signed_already, "alice@example.org", 10,
         OUTBOUND_UNSIGNED_PROTECTED, STATS_UNSIGNED_ALREADY_SIGNED},
        {encrypted, "alice@example.org", 10, OUTBOUND_UNSIGNED_PROTECTED,
         STATS_UNSIGNED_ALREADY_SIGNED},
        {dkim, "alice@example.org", 10, OUTBOUND_UNSIGNED_DKIM,
         STATS_UNSIGNED_DKIM},
        {plain, "alice@example.org", 4096, OUTBOUND_UNSIGNED_TOO_LARGE,
         STATS_UNSIGNED_TOO_LARGE},
        {no_from, "alice@example.org", 10, OUTBOUND_UNSIGNED_FROM,
         STATS_UNSIGNED_FROM},
        {two_from, "alice@example.org", 10, OUTBOUND_UNSIGNED_FROM,
         STATS_UNSIGNED_FROM},
        {from_expired, "expired@example.org", 10,
         OUTBOUND_UNSIGNED_CERTIFICATE, STATS_UNSIGNED_CERTIFICATE},
    };
    char ks[1200], conf[4096];
    config_t *c;
    struct session_outcome o;

    setup_pki();
    snprintf(ks, sizeof ks, "%s/keystore.cdb", work);
    keystore_make(ks);
    snprintf(conf, sizeof conf, "Mode s\nAuthservID mx.test.example\n"
             "InternalHosts none\nKeystore %s\nSpoolDirectory %s\n"
             "MaxMessageSize 1k\n", ks, work);
    c = config_load_string("t.conf", conf, 0, report, NULL);
    ck_assert_ptr_nonnull(c);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stats_reset();
        o = run_message(c, "192.0.2.1", cases[i].login, cases[i].hdrs,
                        cases[i].bodylen, &ok_act, 0);
        ck_assert_msg(o.dir == SESSION_DIR_OUT && !o.signed_ok &&
                      o.unsigned_kind == cases[i].kind,
                      "case %zu: dir %d signed %d kind %d, want kind %d",
                      i, o.dir, o.signed_ok, o.unsigned_kind, cases[i].kind);
        ck_assert_msg(o.reason[0] != '\0', "case %zu: no reason", i);
        expect((const int[]){STATS_MESSAGES, 1, STATS_OUTBOUND, 1,
                             (int)cases[i].c, 1, -1});
    }
    /* and the one that is signed; bob by the login allowed to */
    stats_reset();
    o = run_message(c, "192.0.2.1", "alice@example.org", plain, 10,
                    &ok_act, 0);
    ck_assert_msg(o.signed_ok, "%s", o.reason);
    o = run_message(c, "192.0.2.1", "boss", from_bob, 10, &ok_act, 0);
    ck_assert_msg(o.signed_ok, "%s", o.reason);
    expect((const int[]){STATS_MESSAGES, 2, STATS_OUTBOUND, 2,
                         STATS_SIGNED, 2, -1});
    config_unref(c);
}
END_TEST

/* ---- fault injection: asprintf failing, and what it leaves ---- */

/* check_stats is linked with -Wl,--wrap=asprintf,--wrap=free: while
 * `tracking', every string asprintf() returns is noted until free()d,
 * and the asprintf_fail_in-th call from now (0: the next) fails. */
int __real_asprintf(char **p, const char *fmt, ...);
int __wrap_asprintf(char **p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void __real_free(void *p);
void __wrap_free(void *p);
static int tracking, asprintf_fail_in = -1;
static void *live[64];

int __wrap_asprintf(char **p, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (tracking && asprintf_fail_in >= 0 && asprintf_fail_in-- == 0) {
        errno = ENOMEM;
        return -1;      /* *p undefined, as glibc leaves it */
    }
    va_start(ap, fmt);
    r = vasprintf(p, fmt, ap);
    va_end(ap);
    for (size_t i = 0; tracking && r >= 0 && i < 64; i++)
        if (live[i] == NULL) {
            live[i] = *p;
            break;
        }
    return r;
}

void __wrap_free(void *p)
{
    for (size_t i = 0; tracking && p && i < 64; i++)
        if (live[i] == p)
            live[i] = NULL;
    __real_free(p);
}

static size_t live_strings(void)
{
    size_t n = 0;

    for (size_t i = 0; i < 64; i++)
        n += live[i] != NULL;
    return n;
}

/* Signing, with each asprintf of it failing in turn: the message is
 * tempfailed as an internal error and no string stays allocated (the
 * body's head was lost when the second asprintf of outbound_finish
 * failed). */
START_TEST(outbound_oom_no_leak)
{
    char ks[1200], conf[4096];
    config_t *c;
    struct session_outcome o;
    int k;

    setup_pki();
    snprintf(ks, sizeof ks, "%s/keystore-oom.cdb", work);
    keystore_make(ks);
    snprintf(conf, sizeof conf, "Mode s\nAuthservID mx.test.example\n"
             "InternalHosts none\nKeystore %s\nSpoolDirectory %s\n", ks,
             work);
    c = config_load_string("t.conf", conf, 0, report, NULL);
    ck_assert_ptr_nonnull(c);
    for (k = 0; k < 20; k++) {
        memset(live, 0, sizeof live);
        asprintf_fail_in = k;
        tracking = 1;
        o = run_message(c, "192.0.2.1", "alice@example.org", plain, 10,
                        &ok_act, 0);
        tracking = 0;
        ck_assert_msg(live_strings() == 0, "asprintf %d failing: %zu "
                      "strings leaked", k, live_strings());
        if (asprintf_fail_in >= 0) {    /* fewer calls than k: signed */
            ck_assert_msg(o.signed_ok, "%s", o.reason);
            break;
        }
        ck_assert_msg(!o.signed_ok && o.error && o.tempfail,
                      "asprintf %d failing: signed %d error %d", k,
                      o.signed_ok, o.error);
    }
    asprintf_fail_in = -1;
    ck_assert_int_ge(k, 2);         /* head and tail were both tried */
    config_unref(c);
}
END_TEST

/* A header block past the session's cap (4 MiB): inbound permerror,
 * outbound unsigned as too large. */
START_TEST(header_block_too_large)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n");
    size_t len = 1024 * 1024;
    char *big = malloc(len + 1);
    const char *hdrs[] = {"From", "alice@example.org", "X-Big", big,
                          "X-Big", big, "X-Big", big, "X-Big", big,
                          "X-Big", big, NULL};
    struct session_outcome o;

    ck_assert_ptr_nonnull(big);
    memset(big, 'a', len);
    big[len] = '\0';
    stats_reset();
    o = run_message(c, "192.0.2.1", NULL, hdrs, 10, &ok_act, 0);
    ck_assert_int_eq(o.dir, SESSION_DIR_IN);
    ck_assert_int_eq(o.result, SMIME_RESULT_PERMERROR);
    o = run_message(c, "192.0.2.1", "alice@example.org", hdrs, 10, &ok_act,
                    0);
    ck_assert_int_eq(o.dir, SESSION_DIR_OUT);
    ck_assert_int_eq(o.unsigned_kind, OUTBOUND_UNSIGNED_TOO_LARGE);
    expect((const int[]){STATS_MESSAGES, 2, STATS_INBOUND, 1,
                         STATS_OUTBOUND, 1, STATS_RESULT_PERMERROR, 1,
                         STATS_UNSIGNED_TOO_LARGE, 1, -1});
    free(big);
    config_unref(c);
}
END_TEST

/* An internal error before the end of headers (more of our
 * Authentication-Results past the header cap than the session notes):
 * the message still counts in its direction, as an error, and is
 * tempfailed even with OnError accept, since forged headers would stay. */
START_TEST(error_before_eoh)
{
    config_t *tf = load("AuthservID mx.test.example\nInternalHosts none\n");
    config_t *acc = load("AuthservID mx.test.example\nInternalHosts none\n"
                         "OnError accept\n");
    size_t len = 1024 * 1024, nbig = 5, nar = 65537, k = 0;
    char *big = malloc(len + 1);
    const char **hdrs = calloc(2 * (1 + nbig + nar) + 1, sizeof *hdrs);
    struct session_outcome o;

    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_nonnull(hdrs);
    memset(big, 'a', len);
    big[len] = '\0';
    hdrs[k++] = "From";
    hdrs[k++] = "alice@example.org";
    for (size_t i = 0; i < nbig; i++) {
        hdrs[k++] = "X-Big";
        hdrs[k++] = big;
    }
    for (size_t i = 0; i < nar; i++) {
        hdrs[k++] = "Authentication-Results";
        hdrs[k++] = "mx.test.example; smime=pass";
    }
    stats_reset();
    o = run_message(tf, "192.0.2.1", NULL, hdrs, 10, &ok_act, 0);
    ck_assert(o.dir == SESSION_DIR_IN && o.error && o.tempfail);
    /* OnError accept cannot apply: forged headers of ours would stay */
    o = run_message(acc, "192.0.2.1", NULL, hdrs, 10, &ok_act, 0);
    ck_assert(o.dir == SESSION_DIR_IN && o.error && o.tempfail);
    o = run_message(acc, "192.0.2.1", "alice@example.org", hdrs, 10,
                    &ok_act, 0);
    ck_assert(o.dir == SESSION_DIR_OUT && o.error && o.tempfail &&
              !o.signed_ok);
    expect((const int[]){STATS_MESSAGES, 3, STATS_INBOUND, 2,
                         STATS_OUTBOUND, 1, STATS_ERRORS, 3,
                         STATS_TEMPFAILS, 3, -1});
    free(hdrs);
    free(big);
    config_unref(tf);
    config_unref(acc);
}
END_TEST

/* ---- threads ---- */

#define THREADS 8
#define PER_THREAD 100000

static void *bump(void *arg)
{
    struct session_outcome o = inbound(SMIME_RESULT_PASS);

    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        stats_add(STATS_MESSAGES);
        if (i % 2)
            stats_count(&o);
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

/* ---- Prometheus text format ---- */

/* One sample line "NAME{LABELS} VALUE" checked by the text format's
 * grammar: metric and label names [a-zA-Z_:][a-zA-Z0-9_:]* (labels
 * without ':'), label values quoted with only \\, \" and \n escapes,
 * labels separated by commas, one space, a decimal value, end of line.
 * The name goes to name, the labels (unparsed) to labels. */
static unsigned long long prom_sample(const char *line, char *name,
                                      size_t nlen, char *labels, size_t llen)
{
    const char *p = line, *start;
    unsigned long long v;
    char *end;

    ck_assert_msg(isalpha((unsigned char)*p) || *p == '_' || *p == ':',
                  "bad name start: %s", line);
    while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
        p++;
    ck_assert_uint_lt((size_t)(p - line), nlen);
    snprintf(name, nlen, "%.*s", (int)(p - line), line);
    labels[0] = '\0';
    if (*p == '{') {
        start = ++p;
        for (;;) {
            ck_assert_msg(isalpha((unsigned char)*p) || *p == '_',
                          "bad label name: %s", line);
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            ck_assert_msg(p[0] == '=' && p[1] == '"', "no =\": %s", line);
            for (p += 2; *p != '"'; p++) {
                ck_assert_msg(*p != '\0' && *p != '\n', "open value: %s",
                              line);
                if (*p == '\\') {
                    p++;
                    ck_assert_msg(*p == '\\' || *p == '"' || *p == 'n',
                                  "bad escape: %s", line);
                }
            }
            p++;
            if (*p == '}')
                break;
            ck_assert_msg(*p == ',', "no comma: %s", line);
            p++;
        }
        ck_assert_uint_lt((size_t)(p - start), llen);
        snprintf(labels, llen, "%.*s", (int)(p - start), start);
        p++;
    }
    ck_assert_msg(p[0] == ' ' && isdigit((unsigned char)p[1]),
                  "no value: %s", line);
    errno = 0;
    v = strtoull(p + 1, &end, 10);
    ck_assert_msg(errno == 0 && *end == '\n', "bad value: %s", line);
    return v;
}

START_TEST(prom_format_rules)
{
    char buf[16384], help[32][64], type[32][64], name[128], labels[256];
    char *line, *next;
    int nhelp = 0, ntype = 0, seen[STATS_N] = {0};
    unsigned long long dirsum = 0;
    int len;

    /* every counter a value of its own: counter i counts i + 1 */
    stats_reset();
    for (int i = 0; i < STATS_N; i++)
        for (int k = 0; k <= i; k++)
            stats_add((enum stats_counter)i);
    len = stats_format_prom(buf, sizeof buf);
    ck_assert_int_gt(len, 0);
    ck_assert_uint_eq((size_t)len, strlen(buf));
    ck_assert_msg(buf[len - 1] == '\n', "no final newline");
    for (line = buf; *line; line = next) {
        next = strchr(line, '\n');
        ck_assert_ptr_nonnull(next);
        next++;
        if (strncmp(line, "# HELP ", 7) == 0) {
            ck_assert_int_eq(sscanf(line + 7, "%63s", help[nhelp]), 1);
            for (int j = 0; j < nhelp; j++)
                ck_assert_str_ne(help[j], help[nhelp]);
            ck_assert_uint_gt(strlen(line + 7), strlen(help[nhelp]) + 2);
            nhelp++;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char kind[16];
            ck_assert_int_eq(sscanf(line + 7, "%63s %15s", type[ntype],
                                    kind), 2);
            /* HELP first, same family, no sample of it before */
            ck_assert_int_eq(nhelp, ntype + 1);
            ck_assert_str_eq(type[ntype], help[ntype]);
            if (strcmp(kind, "counter") == 0) {
                size_t n = strlen(type[ntype]);
                ck_assert_msg(n > 6 && strcmp(type[ntype] + n - 6,
                                              "_total") == 0,
                              "counter %s does not end in _total",
                              type[ntype]);
            } else {
                ck_assert_str_eq(kind, "gauge");
                ck_assert_str_eq(type[ntype],
                                 "smime_milter_start_time_seconds");
            }
            ntype++;
            continue;
        }
        ck_assert_msg(line[0] != '#', "stray comment: %s", line);
        unsigned long long v = prom_sample(line, name, sizeof name, labels,
                                           sizeof labels);
        /* a sample belongs to the family typed last */
        ck_assert_int_gt(ntype, 0);
        ck_assert_str_eq(name, type[ntype - 1]);
        ck_assert_msg(strncmp(name, "smime_milter_", 13) == 0, "%s", name);
        if (strcmp(name, "smime_milter_start_time_seconds") == 0) {
            ck_assert_uint_gt(v, 1000000000ull);
            ck_assert_uint_le(v, (unsigned long long)time(NULL));
            continue;
        }
        /* the value names the counter */
        ck_assert_uint_ge(v, 1);
        ck_assert_uint_le(v, STATS_N);
        int c = (int)v - 1;
        ck_assert_msg(seen[c]++ == 0, "%s twice", stats_name(c));
        if (strcmp(name, "smime_milter_messages_total") == 0) {
            dirsum += v;
            ck_assert_msg(strncmp(labels, "direction=\"", 11) == 0 &&
                          strstr(labels + 11, stats_name(c)) == labels + 11,
                          "%s: %s", stats_name(c), labels);
        } else if (strcmp(name, "smime_milter_results_total") == 0) {
            const char *r = strstr(labels, ",result=\"");
            ck_assert_msg(r != NULL, "no result label: %s", labels);
            const char *dir = c < STATS_SIGNED ? "direction=\"inbound\","
                                               : "direction=\"outbound\",";
            ck_assert_msg(strncmp(labels, dir, strlen(dir)) == 0 &&
                          labels + strlen(dir) == r + 1, "%s: %s",
                          stats_name(c), labels);
            /* result is the counter's name without result_ */
            const char *want = stats_name(c);
            if (strncmp(want, "result_", 7) == 0)
                want += 7;
            ck_assert_msg(strncmp(r + 9, want, strlen(want)) == 0 &&
                          r[9 + strlen(want)] == '"', "%s: %s",
                          stats_name(c), labels);
            ck_assert_msg(c >= STATS_RESULT_NONE && c <= STATS_UNSIGNED_OTHER,
                          "%s among the results", stats_name(c));
        } else {
            ck_assert_str_eq(labels, "");
            char want[128];
            snprintf(want, sizeof want, "smime_milter_%s_total",
                     stats_name(c));
            ck_assert_str_eq(name, want);
        }
    }
    /* every counter once, but messages: the sum over direction */
    for (int i = 0; i < STATS_N; i++)
        ck_assert_msg(seen[i] == (i != STATS_MESSAGES), "%s seen %d times",
                      stats_name(i), seen[i]);
    ck_assert_uint_eq(dirsum, (STATS_INBOUND + 1) + (STATS_OUTBOUND + 1) +
                                  (STATS_IGNORED + 1));
    ck_assert_int_eq(nhelp, ntype);
    ck_assert_int_eq(ntype, 17);   /* 6, 3 decrypt, 2 encrypt, 3 harvest, 3 RCPT */
    /* as snprintf: the length needed when the buffer is short */
    ck_assert_int_eq(stats_format_prom(buf, 10), len);
    ck_assert_uint_eq(strlen(buf), 9);
    ck_assert_int_eq(stats_format_prom(NULL, 0), len);
}
END_TEST

START_TEST(prom_file_by_name)
{
    char dir[] = "/tmp/check_stats.XXXXXX", path[256], want[16384];
    char got[16384], err[256] = "";
    struct stat st;
    FILE *fp;
    DIR *d;
    struct dirent *e;
    size_t n;

    ck_assert(stats_file_is_prom("/var/lib/node/smime.prom"));
    ck_assert(!stats_file_is_prom("/var/lib/smime/stats"));
    ck_assert(!stats_file_is_prom("/var/lib/smime/stats.prom.txt"));
    ck_assert(!stats_file_is_prom(".prom"));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/smime-milter.prom", dir);
    stats_reset();
    stats_add(STATS_RESULT_PASS);
    ck_assert_int_eq(stats_write_file(path, err, sizeof err), 0);
    stats_add(STATS_RESULT_PASS);
    ck_assert_int_eq(stats_write_file(path, err, sizeof err), 0);
    ck_assert_int_gt(stats_format_prom(want, sizeof want), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);
    ck_assert_ptr_nonnull(fp = fopen(path, "r"));
    n = fread(got, 1, sizeof got - 1, fp);
    got[n] = '\0';
    fclose(fp);
    ck_assert_str_eq(got, want);
    ck_assert_ptr_nonnull(strstr(got, "\nsmime_milter_results_total{"
                                      "direction=\"inbound\",result=\"pass\"} 2\n"));
    ck_assert_ptr_nonnull(d = opendir(dir));
    while ((e = readdir(d)) != NULL)
        ck_assert_msg(e->d_name[0] == '.' ||
                      strcmp(e->d_name, "smime-milter.prom") == 0,
                      "left over: %s", e->d_name);
    closedir(d);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("stats");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, names_unique);
    tcase_add_test(tc, format_lists_everything);
    tcase_add_test(tc, count_inbound_outcomes);
    tcase_add_test(tc, count_decrypt_outcomes);
    tcase_add_test(tc, count_encrypt_outcomes);
    tcase_add_test(tc, count_outbound_outcomes);
    tcase_add_test(tc, format_from_outcome);
    tcase_add_test(tc, count_real_sessions);
    tcase_add_test(tc, outbound_kinds_real);
    tcase_add_test(tc, outbound_oom_no_leak);
    tcase_add_test(tc, header_block_too_large);
    tcase_add_test(tc, error_before_eoh);
    tcase_add_test(tc, threads_exact);
    tcase_add_test(tc, write_file_atomic);
    tcase_add_test(tc, prom_format_rules);
    tcase_add_test(tc, prom_file_by_name);
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
