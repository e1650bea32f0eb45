/*
 * check_threads.c - verification and signing from several threads at
 * once through the message core (milter/session.c), as the milter's
 * worker threads run them: one configuration snapshot, so one trust
 * store and one keystore shared by every thread.
 *
 * Each thread verifies signed messages made by `openssl cms' (RSA and
 * ECDSA, base64 signature parts: the MIME parser, its base64 decoder and
 * the verifier all run), signs a message as alice through the keystore,
 * and verifies what it signed, with Harvest on: the threads share one
 * certificate store handle and write alice's certificate concurrently.
 * A harvest that cannot be written leaves the message as it would be
 * without harvesting.  Results are checked in every build;
 * tests/hardening.sh also runs this under ThreadSanitizer, which is what
 * finds shared state written without a lock.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certstore.h"
#include "conf.h"
#include "keystore.h"
#include "session.h"
#include "sign.h"

#define THREADS 4
#define ROUNDS 6
#define MAX_HDRS 16

static char pki[1024], work[1024];

static const char content[] =
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "this is signed, by several threads at once.\r\n";

/* ---- fixtures ---- */

static void die(const char *what)
{
    fprintf(stderr, "check_threads: %s\n", what);
    exit(1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
        die(path);
    rewind(f);
    if ((buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n)
        die(path);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void setup_pki(void)
{
    const char *src = getenv("top_srcdir"), *bld = getenv("top_builddir");
    const char *openssl = getenv("OPENSSL");
    char cmd[8192];
    FILE *f;

    snprintf(pki, sizeof pki, "%s/tests/work/pki", bld ? bld : ".");
    snprintf(work, sizeof work, "%s/tests/work/threads", bld ? bld : ".");
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pki/mkpki.sh' '%s' >/dev/null "
             "&& mkdir -p '%s'", src ? src : ".", pki, work);
    if (system(cmd) != 0)
        die("cannot make the test PKI");
    snprintf(cmd, sizeof cmd, "%s/content.txt", work);
    if ((f = fopen(cmd, "wb")) == NULL ||
        fwrite(content, 1, strlen(content), f) != strlen(content) ||
        fclose(f) != 0)
        die(cmd);
    /* S/MIME output: multipart/signed, the signature part in base64 */
    for (int i = 0; i < 2; i++) {
        const char *who = i ? "ecdsa" : "alice";
        snprintf(cmd, sizeof cmd, "'%s' cms -sign -binary -in "
                 "'%s/content.txt' -signer '%s/%s.crt' -inkey '%s/%s.key' "
                 "-certfile '%s/inter.crt' -from '%s@example.org' "
                 "-to bob@example.org -subject threads -out '%s/%s.eml'",
                 openssl ? openssl : "openssl", work, pki, who, pki, who,
                 pki, who, work, who);
        if (system(cmd) != 0)
            die("openssl cms -sign failed");
    }
}

static smime_signer_t *signer_of(const char *name)
{
    char path[1200], err[256] = "", *buf;
    size_t n;
    smime_signer_t *s;

    snprintf(path, sizeof path, "%s/%s.pem", pki, name);
    buf = slurp(path, &n);
    if ((s = smime_signer_from_pem(buf, n, err, sizeof err)) == NULL)
        die(err);
    free(buf);
    return s;
}

static void keystore_make(const char *path)
{
    static const char *const names[] = {"alice", "ecdsa"};
    char err[256] = "", addr[64];
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof err);

    if (w == NULL)
        die(err);
    for (size_t i = 0; i < 2; i++) {
        smime_signer_t *s = signer_of(names[i]);
        snprintf(addr, sizeof addr, "%s@example.org", names[i]);
        if (keystore_writer_add(w, addr, s, NULL, 0, err, sizeof err) != 0)
            die(err);
        smime_signer_free(s);
    }
    if (keystore_writer_commit(w, err, sizeof err) != 0)
        die(err);
    keystore_writer_free(w);
}

static void report(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

/* A new, empty certificate store at work/NAME. */
static void certstore_make(const char *name, char *path, size_t len)
{
    char err[256] = "";
    certstore_t *cs;

    snprintf(path, len, "%s/%s", work, name);
    remove(path);
    snprintf(err, sizeof err, "%s-lock", path);
    remove(err);
    if ((cs = certstore_open(path, CERTSTORE_RDWR | CERTSTORE_CREATE, 0, err,
                             sizeof err)) == NULL)
        die(err);
    certstore_free(cs);
}

/* harvest: "yes" or "no"; store: NULL for a new one (certs.mdb) */
static config_t *config_make_with(const char *harvest, const char *store)
{
    char ks[1200], cs[1200], conf[8192];

    snprintf(ks, sizeof ks, "%s/keystore.cdb", work);
    keystore_make(ks);
    if (store == NULL)
        certstore_make("certs.mdb", cs, sizeof cs);
    else
        snprintf(cs, sizeof cs, "%s", store);
    snprintf(conf, sizeof conf, "Mode sv\nAuthservID mx.test.example\n"
             "InternalHosts none\nTrustAnchorFile %s/roots.pem\n"
             "CRLFile %s/crl.pem\nKeystore %s\nSpoolDirectory %s\n"
             "CertificateStore %s\nHarvest %s\n",
             pki, pki, ks, work, cs, harvest);
    return config_load_string("threads.conf", conf, 0, report, NULL);
}

static config_t *config_make(void)
{
    return config_make_with("yes", NULL);
}

/* ---- one message through the session ---- */

/* A message split into unfolded headers and the body (CRLF). */
struct msg {
    char *name[MAX_HDRS], *value[MAX_HDRS];
    size_t nh;
    char *body;
    size_t bodylen;
};

static void msg_add(struct msg *m, const char *name, const char *value)
{
    if (m->nh == MAX_HDRS)
        die("too many headers");
    m->name[m->nh] = strdup(name);
    m->value[m->nh] = strdup(value);
    if (m->name[m->nh] == NULL || m->value[m->nh] == NULL)
        die("out of memory");
    m->nh++;
}

/* Header lines as openssl writes them (unfolded, LF or CRLF), the empty
 * line, the body with its line ends made CRLF. */
static void msg_parse(struct msg *m, const char *text)
{
    const char *p = text;

    memset(m, 0, sizeof *m);
    while (*p && *p != '\r' && *p != '\n') {
        size_t n = strcspn(p, "\r\n");
        const char *colon = memchr(p, ':', n);
        char name[128], value[1024];
        if (colon == NULL || (size_t)(colon - p) >= sizeof name ||
            n >= sizeof value)
            die("bad header line");
        snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
        snprintf(value, sizeof value, "%.*s", (int)(n - (size_t)(colon - p) - 1),
                 colon + 1);
        msg_add(m, name, value + (value[0] == ' '));
        p += n;
        p += *p == '\r';
        p += *p == '\n';
    }
    p += *p == '\r';
    p += *p == '\n';
    if ((m->body = malloc(2 * strlen(p) + 1)) == NULL)
        die("out of memory");
    for (; *p; p++) {
        if (*p == '\n' && (m->bodylen == 0 || m->body[m->bodylen - 1] != '\r'))
            m->body[m->bodylen++] = '\r';
        m->body[m->bodylen++] = *p;
    }
}

static void msg_free(struct msg *m)
{
    for (size_t i = 0; i < m->nh; i++) {
        free(m->name[i]);
        free(m->value[i]);
    }
    free(m->body);
}

/* m (empty): the plain message alice sends bob, From, To, Subject
 * (none when subject is NULL), then content's headers and body. */
static void msg_plain(struct msg *m, const char *subject)
{
    struct msg c;

    msg_add(m, "From", "Alice <alice@example.org>");
    msg_add(m, "To", "bob@example.org");
    if (subject != NULL)
        msg_add(m, "Subject", subject);
    msg_parse(&c, content);
    for (size_t k = 0; k < c.nh; k++)
        msg_add(m, c.name[k], c.value[k]);
    m->body = c.body;
    m->bodylen = c.bodylen;
    c.body = NULL;
    msg_free(&c);
}

/* The actions a signed message asks for, kept to rebuild the message. */
struct capture {
    char content_type[512];
    char ar[2048];                 /* Authentication-Results */
    char *body;
    size_t len;
    int failed;
    int reads;                     /* calls of rd that gave bytes */
};

static int cap_insert(void *arg, unsigned idx, const char *name,
                      const char *value)
{
    struct capture *c = arg;

    (void)idx;
    if (strcasecmp(name, "Content-Type") == 0)
        snprintf(c->content_type, sizeof c->content_type, "%s", value);
    if (strcasecmp(name, "Authentication-Results") == 0)
        snprintf(c->ar, sizeof c->ar, "%s", value);
    return 0;
}

static int cap_change(void *arg, const char *name, unsigned idx,
                      const char *value)
{
    return value ? cap_insert(arg, idx, name, value) : 0;
}

static int cap_body(void *arg, actions_read_fn rd, void *rarg)
{
    struct capture *c = arg;
    char buf[65535];               /* libmilter's limit, as callbacks.c */
    ssize_t n;

    while ((n = rd(rarg, buf, sizeof buf)) > 0) {
        c->reads++;
        char *nb = realloc(c->body, c->len + (size_t)n + 1);
        if (nb == NULL)
            return c->failed = 1, -1;
        memcpy(nb + c->len, buf, (size_t)n);
        c->body = nb;
        c->len += (size_t)n;
        c->body[c->len] = '\0';
    }
    return n < 0 ? -1 : 0;
}

static const struct actions cap_actions = {cap_insert, cap_change, cap_body};

/* Runs m through a new session; the outcome is copied to *out. */
static enum session_status run(config_t *cfg, const char *login,
                               const struct msg *m, struct capture *cap,
                               struct session_outcome *out)
{
    session_t *s = session_new();
    enum session_status st = SESSION_TEMPFAIL;

    if (s == NULL || session_set_client(s, "192.0.2.1") != 0)
        goto out;
    session_begin(s, cfg);
    if (session_set_login(s, login) != 0 ||
        session_set_queue_id(s, "THREADS") != 0)
        goto out;
    for (size_t i = 0; i < m->nh; i++)
        if (session_header(s, m->name[i], m->value[i]) != SESSION_CONTINUE)
            goto out;
    if (session_eoh(s) != SESSION_CONTINUE)
        goto out;
    /* in chunks, as an MTA delivers the body */
    for (size_t off = 0; off < m->bodylen; off += 100) {
        size_t n = m->bodylen - off < 100 ? m->bodylen - off : 100;
        if (session_body(s, m->body + off, n) != SESSION_CONTINUE)
            break;
    }
    st = session_eom(s, &cap_actions, cap);
    *out = *session_outcome(s);
out:
    session_free(s);
    return st;
}

/* ---- the threads ---- */

struct worker {
    config_t *cfg;
    const struct msg *in[2];       /* signed by alice, by ecdsa */
    int verified, signed_ok, roundtrip;
    char problem[600];
};

static void note(struct worker *w, const char *what,
                 const struct session_outcome *o)
{
    if (w->problem[0] == '\0')
        snprintf(w->problem, sizeof w->problem, "%s: %s (%s)", what,
                 o->reason, o->error_text);
}

static void one_round(struct worker *w, int i)
{
    static const char *const signers[] = {"alice@example.org",
                                          "ecdsa@example.org"};
    struct session_outcome o;
    struct capture cap;
    struct msg plain = {0}, back = {0};

    /* verify a message signed by openssl */
    memset(&cap, 0, sizeof cap);
    memset(&o, 0, sizeof o);
    if (run(w->cfg, NULL, w->in[i % 2], &cap, &o) == SESSION_ACCEPT &&
        o.dir == SESSION_DIR_IN && o.result == SMIME_RESULT_PASS &&
        strcmp(o.signer, signers[i % 2]) == 0)
        w->verified++;
    else
        note(w, "verify", &o);
    free(cap.body);

    /* sign one as alice */
    msg_plain(&plain, "signed by a thread");
    memset(&cap, 0, sizeof cap);
    memset(&o, 0, sizeof o);
    if (run(w->cfg, "alice@example.org", &plain, &cap, &o) ==
            SESSION_ACCEPT && o.signed_ok && !cap.failed &&
        cap.body != NULL && cap.content_type[0] != '\0')
        w->signed_ok++;
    else
        note(w, "sign", &o);

    /* and verify what was signed */
    memset(&back, 0, sizeof back);
    msg_add(&back, "From", "Alice <alice@example.org>");
    msg_add(&back, "To", "bob@example.org");
    msg_add(&back, "MIME-Version", "1.0");
    msg_add(&back, "Content-Type", cap.content_type);
    back.body = cap.body;
    back.bodylen = cap.len;
    cap.body = NULL;
    memset(&o, 0, sizeof o);
    struct capture cap2 = {0};
    if (back.body != NULL &&
        run(w->cfg, NULL, &back, &cap2, &o) == SESSION_ACCEPT &&
        o.result == SMIME_RESULT_PASS &&
        strcmp(o.signer, "alice@example.org") == 0)
        w->roundtrip++;
    else
        note(w, "verify own signature", &o);
    free(cap2.body);
    msg_free(&back);
    msg_free(&plain);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < ROUNDS; i++)
        one_round(w, i);
    return NULL;
}

START_TEST(verify_and_sign_in_threads)
{
    struct msg in[2];
    struct worker w[THREADS];
    pthread_t tid[THREADS];
    config_t *cfg;
    char path[1200];
    size_t len;

    setup_pki();
    cfg = config_make();
    ck_assert_ptr_nonnull(cfg);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.eml", work, i ? "ecdsa" : "alice");
        char *text = slurp(path, &len);
        msg_parse(&in[i], text);
        free(text);
    }
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].cfg = cfg;
        w[i].in[0] = &in[0];
        w[i].in[1] = &in[1];
        ck_assert_int_eq(pthread_create(&tid[i], NULL, worker_main, &w[i]),
                         0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
        ck_assert_msg(w[i].verified == ROUNDS && w[i].signed_ok == ROUNDS &&
                      w[i].roundtrip == ROUNDS,
                      "thread %d: verified %d, signed %d, round trips %d "
                      "of %d: %s", i, w[i].verified, w[i].signed_ok,
                      w[i].roundtrip, ROUNDS, w[i].problem);
    }
    /* every thread harvested alice's certificate into one store */
    char err[256] = "";
    certstore_t *cs = config_certstore(cfg, err, sizeof err);
    certstore_list_t *l = NULL;
    ck_assert_msg(cs != NULL, "%s", err);
    ck_assert_int_eq(certstore_lookup(cs, "alice@example.org", &l, err,
                                      sizeof err), CERTSTORE_OK);
    ck_assert_uint_eq(certstore_list_count(l), 1);
    ck_assert_int_eq(certstore_list_get(l, 0)->source, CERTSTORE_HARVEST);
    certstore_list_free(l);
    msg_free(&in[0]);
    msg_free(&in[1]);
    config_unref(cfg);
}
END_TEST

/* A harvest the store refuses (a damaged record for the address) is
 * logged and counted; the message gets exactly what it gets without
 * harvesting. */
/* A signed body shorter than one buffer comes in one read: each read is
 * one SMFIR_REPLBODY packet, and the preamble, the signed entity and the
 * signature part used to come in three. */
START_TEST(signed_body_in_one_read)
{
    struct msg plain = {0};
    struct capture cap = {0};
    struct session_outcome o;

    setup_pki();
    config_t *cfg = config_make();
    ck_assert_ptr_nonnull(cfg);
    msg_plain(&plain, NULL);
    ck_assert_int_eq(run(cfg, "alice@example.org", &plain, &cap, &o),
                     SESSION_ACCEPT);
    ck_assert(o.signed_ok);
    ck_assert_ptr_nonnull(cap.body);
    ck_assert_msg(cap.len < 65535, "%zu octets", cap.len);
    ck_assert_ptr_nonnull(strstr(cap.body, "this is signed"));
    ck_assert_ptr_nonnull(strstr(cap.body, "application/pkcs7-signature"));
    ck_assert_int_eq(cap.reads, 1);
    free(cap.body);
    msg_free(&plain);
    config_unref(cfg);
}
END_TEST

START_TEST(harvest_failure_keeps_message)
{
    struct msg in = {0};
    struct capture with = {0}, without = {0};
    struct session_outcome o1, o2;
    char path[1200], store[1200], err[256] = "";
    size_t len;

    setup_pki();
    certstore_make("damaged.mdb", store, sizeof store);
    certstore_t *cs = certstore_open(store, CERTSTORE_RDWR, 0, err,
                                     sizeof err);
    ck_assert_msg(cs != NULL, "%s", err);
    ck_assert_int_eq(certstore_put_raw(cs, "alice@example.org", "\xff\x01",
                                       2, err, sizeof err), CERTSTORE_OK);
    certstore_free(cs);
    snprintf(path, sizeof path, "%s/alice.eml", work);
    char *text = slurp(path, &len);
    msg_parse(&in, text);
    free(text);

    config_t *on = config_make_with("yes", store);
    config_t *off = config_make_with("no", store);
    ck_assert_ptr_nonnull(on);
    ck_assert_ptr_nonnull(off);
    ck_assert_int_eq(run(on, NULL, &in, &with, &o1), SESSION_ACCEPT);
    ck_assert_int_eq(run(off, NULL, &in, &without, &o2), SESSION_ACCEPT);
    ck_assert_int_eq(o1.result, SMIME_RESULT_PASS);
    ck_assert_int_eq(o1.harvest, HARVEST_FAILED);
    ck_assert_int_eq(o2.harvest, HARVEST_NONE);
    ck_assert_int_eq(o1.error, 0);
    ck_assert_str_eq(with.ar, without.ar);
    ck_assert_ptr_null(with.body);
    ck_assert_ptr_null(without.body);
    ck_assert_str_eq(o1.reason, o2.reason);
    msg_free(&in);
    config_unref(on);
    config_unref(off);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("session");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, verify_and_sign_in_threads);
    tcase_add_test(tc, harvest_failure_keeps_message);
    tcase_add_test(tc, signed_body_in_one_read);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
