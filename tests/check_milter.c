/*
 * check_milter.c - unit tests of milter/: configuration parsing and the
 * key table's documentation, InternalHosts matching, the
 * Authentication-Results value (building and authserv-id parsing), and
 * the session core driven with a recording action vtable.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <syslog.h>

#include "arheader.h"
#include "check_milter.h"
#include "conf.h"
#include "inbound.h"
#include "mime.h"
#include "session.h"

#ifndef ABS_TOP_SRCDIR
#define ABS_TOP_SRCDIR "."
#endif

/* ---- helpers ---- */

/* Linked with -Wl,--wrap=strdup (Makefile.am): a strdup of exactly
 * strdup_fail_on runs out of memory, to test the failure paths. */
static const char *strdup_fail_on;
char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);

char *__wrap_strdup(const char *s)
{
    if (strdup_fail_on && strcmp(s, strdup_fail_on) == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

/* The same for strndup (session_rcpt's copy). */
char *__real_strndup(const char *s, size_t n);
char *__wrap_strndup(const char *s, size_t n);

char *__wrap_strndup(const char *s, size_t n)
{
    if (strdup_fail_on && strncmp(s, strdup_fail_on, n) == 0 &&
        strlen(strdup_fail_on) == n) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strndup(s, n);
}

char reports[8192];
int nreports;

static void collect(void *arg, const char *msg)
{
    (void)arg;
    nreports++;
    strncat(reports, msg, sizeof reports - strlen(reports) - 2);
    strcat(reports, "\n");
}

config_t *milter_test_load(const char *text, unsigned flags)
{
    reports[0] = '\0';
    nreports = 0;
    return config_load_string("t.conf", text, CONFIG_NO_DERIVED | flags,
                              collect, NULL);
}

static config_t *load(const char *text)
{
    return milter_test_load(text, 0);
}

/* Loading must fail with exactly one message containing want. */
static void load_fails(const char *text, const char *want)
{
    config_t *c = load(text);

    ck_assert_ptr_null(c);
    ck_assert_int_eq(nreports, 1);
    ck_assert_msg(strstr(reports, want) != NULL, "got \"%s\", want \"%s\"",
                  reports, want);
}

/* The host name AuthservID defaults to: conf.c's gethostname() is this
 * one (the test binary's definition wins over libc's at link time), so a
 * test can give the host a name that is no domain name. */
static const char *fake_hostname;   /* NULL: the real one */

int gethostname(char *name, size_t len)
{
    struct utsname u;

    if (fake_hostname == NULL) {
        if (uname(&u) != 0)
            return -1;
        snprintf(name, len, "%s", u.nodename);
    } else {
        snprintf(name, len, "%s", fake_hostname);
    }
    return 0;
}

/* ---- configuration ---- */

START_TEST(config_defaults)
{
    config_t *c = load("Socket unix:/run/x.sock\n");

    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->socket, "unix:/run/x.sock");
    ck_assert_uint_eq(c->mode, CONFIG_MODE_VERIFY | CONFIG_MODE_SIGN);
    ck_assert_ptr_nonnull(c->authserv_id);
    ck_assert_uint_gt(strlen(c->authserv_id), 0);
    ck_assert_uint_eq(c->n_trust_anchor_files, 0);
    ck_assert_int_eq(c->trust_system_store, 0);
    ck_assert_ptr_null(c->keystore);
    /* loopback is not special: a content filter re-injecting there
     * carries inbound mail, and Postfix's pickup uses it too */
    ck_assert_uint_eq(c->n_internal_hosts, 0);
    ck_assert(!config_is_internal(c, "127.0.0.1"));
    ck_assert(!config_is_internal(c, "::1"));
    ck_assert_int_eq(c->require_from_match, 1);
    ck_assert_int_eq(c->allow_sha1, 0);
    ck_assert_int_eq(c->add_none_result, 1);
    ck_assert_int_eq(c->sign_skip_dkim, 1);
    ck_assert_ptr_null(c->tag_header);
    ck_assert_int_eq(c->on_error_accept, 0);
    ck_assert_uint_eq(c->spool_threshold, 1048576);
    ck_assert_str_eq(c->spool_directory, "/var/tmp");
    ck_assert_uint_eq(c->max_message_size, 0);
    ck_assert_ptr_null(c->user_id);
    ck_assert_ptr_null(c->pid_file);
    ck_assert_int_eq(c->log_level, LOG_INFO);
    ck_assert_int_eq(c->syslog_facility, LOG_MAIL);
    config_unref(c);
}
END_TEST

START_TEST(config_good)
{
    config_t *c = load(
        "# a comment\n"
        "\n"
        "  socket   inet:8891@127.0.0.1   # trailing comment\n"
        "MODE v\n"
        "AuthservID mx.example.net\n"
        "TrustAnchorFile /etc/a.pem\n"
        "TrustAnchorFile /etc/b.pem\n"
        "CRLFile /etc/c.crl\n"
        "TrustSystemStore true\n"
        "InternalHosts 10.0.0.0/8, 192.0.2.7 2001:db8::/32\n"
        "RequireFromMatch 0\n"
        "AllowSHA1 YES\n"
        "AddNoneResult false\n"
        "SignSkipDKIM no\n"
        "TagHeader X-SMIME-Signer\n"
        "OnError accept\n"
        "SpoolThreshold 64k\n"
        "MaxMessageSize 10M\n"
        "LogLevel debug\n"
        "SyslogFacility local3\n"
        "PidFile /run/smime-milter.pid\n");

    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_str_eq(c->socket, "inet:8891@127.0.0.1");
    ck_assert_uint_eq(c->mode, CONFIG_MODE_VERIFY);
    ck_assert_str_eq(c->authserv_id, "mx.example.net");
    ck_assert_uint_eq(c->n_trust_anchor_files, 2);
    ck_assert_str_eq(c->trust_anchor_files[1], "/etc/b.pem");
    ck_assert_uint_eq(c->n_crl_files, 1);
    ck_assert_int_eq(c->trust_system_store, 1);
    ck_assert_uint_eq(c->n_internal_hosts, 3);
    ck_assert_int_eq(c->require_from_match, 0);
    ck_assert_int_eq(c->allow_sha1, 1);
    ck_assert_int_eq(c->add_none_result, 0);
    ck_assert_int_eq(c->sign_skip_dkim, 0);
    ck_assert_str_eq(c->tag_header, "X-SMIME-Signer");
    ck_assert_int_eq(c->on_error_accept, 1);
    ck_assert_uint_eq(c->spool_threshold, 65536);
    ck_assert_uint_eq(c->max_message_size, 10 * 1048576);
    ck_assert_int_eq(c->log_level, LOG_DEBUG);
    ck_assert_int_eq(c->syslog_facility, LOG_LOCAL3);
    ck_assert_str_eq(c->pid_file, "/run/smime-milter.pid");
    config_unref(c);
}
END_TEST

START_TEST(config_errors)
{
    load_fails("Socket inet:1@h\nFooBar 1\n", "t.conf:2: unknown key \"FooBar\"");
    load_fails("\n\nAllowSHA1 maybe\n", "t.conf:3: AllowSHA1: expected yes or no");
    load_fails("SpoolThreshold 12q\n", "t.conf:1: SpoolThreshold");
    load_fails("SpoolThreshold -1\n", "t.conf:1: SpoolThreshold");
    load_fails("Mode x\n", "t.conf:1: Mode");
    load_fails("Mode \n", "t.conf:1: Mode: missing value");
    load_fails("Socket tcp:25\n", "t.conf:1: Socket");
    load_fails("Socket inet:99999@localhost\n", "t.conf:1: Socket");
    load_fails("OnError ignore\n", "t.conf:1: OnError");
    load_fails("LogLevel loud\n", "t.conf:1: LogLevel");
    load_fails("SyslogFacility kern2\n", "t.conf:1: SyslogFacility");
    load_fails("InternalHosts 10.0.0.0/33\n", "t.conf:1: InternalHosts: \"10.0.0.0/33\"");
    load_fails("InternalHosts 10.1.2\n", "t.conf:1: InternalHosts");
    load_fails("InternalHosts ::1/129\n", "t.conf:1: InternalHosts");
    load_fails("InternalHosts none, ::1\n", "t.conf:1: InternalHosts");
    load_fails("TagHeader Bad:Name\n", "t.conf:1: TagHeader");
    load_fails("SpoolDirectory /nonexistent/dir\n", "t.conf:1: SpoolDirectory");
    load_fails("UserID no-such-user-here\n", "t.conf:1: UserID");
    load_fails("Mode v\n# x\nMode s\n", "t.conf:3: Mode already set on line 1");
}
END_TEST

/* Mode takes the letters v, s, d and e in any order and case. */
START_TEST(config_mode_letters)
{
    static const struct {
        const char *v;
        unsigned m;
    } ok[] = {
        {"v", CONFIG_MODE_VERIFY},
        {"sv", CONFIG_MODE_VERIFY | CONFIG_MODE_SIGN},
        {"vd", CONFIG_MODE_VERIFY | CONFIG_MODE_DECRYPT},
        {"E", CONFIG_MODE_ENCRYPT},
        {"dVeS", CONFIG_MODE_VERIFY | CONFIG_MODE_SIGN | CONFIG_MODE_DECRYPT |
                     CONFIG_MODE_ENCRYPT},
    };
    char text[64];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(text, sizeof text, "Mode %s\n", ok[i].v);
        config_t *c = load(text);
        ck_assert_msg(c != NULL, "Mode %s: %s", ok[i].v, reports);
        ck_assert_uint_eq(c->mode, ok[i].m);
        config_unref(c);
    }
    load_fails("Mode vx\n", "t.conf:1: Mode: expected letters out of v, s, "
               "d and e");
    load_fails("Mode v d\n", "t.conf:1: Mode");
}
END_TEST

START_TEST(config_all_errors_reported)
{
    config_t *c = load("Bogus 1\nAllowSHA1 2\nMode q\n");

    ck_assert_ptr_null(c);
    ck_assert_int_eq(nreports, 3);
    ck_assert(strstr(reports, "t.conf:1:") && strstr(reports, "t.conf:2:") &&
              strstr(reports, "t.conf:3:"));
}
END_TEST

START_TEST(config_socket_required)
{
    config_t *c;

    reports[0] = '\0';
    nreports = 0;
    c = config_load_string("t.conf", "Mode v\n",
                           CONFIG_NEED_SOCKET | CONFIG_NO_DERIVED, collect,
                           NULL);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(reports, "t.conf: Socket is required"), "%s",
                  reports);
    c = load("Mode v\n");          /* -t needs no Socket */
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->socket);
    config_unref(c);
}
END_TEST

START_TEST(config_trust_errors_have_lines)
{
    config_t *c;

    reports[0] = '\0';
    nreports = 0;
    c = config_load_string("t.conf",
                           "Socket inet:1@h\n\nTrustAnchorFile /nonexistent.pem\n",
                           0, collect, NULL);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(reports, "t.conf:3: TrustAnchorFile: ") != NULL,
                  "%s", reports);
}
END_TEST

/* AuthservID is a bare domain name (SPEC); anything else would be
 * written quoted and compared against forged headers by what it is not. */
START_TEST(config_authserv_id_checked)
{
    static const char *const bad[] = {
        "\"mx.example.net\"", "mx example.net", "mx_1.example.net",
        "-mx.example.net", "mx-.example.net", "mx..example.net",
        ".example.net", "mx.example.net;", "mx.example.net(c)",
        "alice@example.net", "\"mx\"x", "mx.\xc3\xa9xample.net",
        "a123456789012345678901234567890123456789012345678901234567890123"
        ".example",
    };
    char line[300];
    config_t *c;

    /* a quoted name or a trailing dot: the message says what to write */
    load_fails("Mode v\nAuthservID \"mx.example.net\"\n",
               "t.conf:2: AuthservID: \"mx.example.net\" is not a bare "
               "domain name: write AuthservID mx.example.net");
    load_fails("AuthservID mx.example.net.\n",
               "t.conf:1: AuthservID: \"mx.example.net.\" is not a bare "
               "domain name: write AuthservID mx.example.net");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(line, sizeof line, "AuthservID %s\n", bad[i]);
        load_fails(line, "t.conf:1: AuthservID: ");
        ck_assert_msg(strstr(reports, "AuthservID mx.example.net") != NULL,
                      "no example of what to write: %s", reports);
    }
    c = load("AuthservID MX.Example-1.NET\n");
    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_str_eq(c->authserv_id, "MX.Example-1.NET");
    config_unref(c);
    c = load("AuthservID mx\n");
    ck_assert_msg(c != NULL, "%s", reports);
    config_unref(c);
}
END_TEST

/* DecryptHeader: a header name of our own (every copy is deleted from
 * every message), the default X-SMIME-Decrypted, never TagHeader's. */
START_TEST(config_decrypt_header)
{
    config_t *c = load("Mode vd\n");

    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_str_eq(c->decrypt_header, "X-SMIME-Decrypted");
    config_unref(c);
    c = load("DecryptHeader X-Gateway-Decrypted\n"
             "TagHeader X-SMIME-Decrypted\n");
    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_str_eq(c->decrypt_header, "X-Gateway-Decrypted");
    config_unref(c);
    load_fails("DecryptHeader Content-Type\n", "t.conf:1: DecryptHeader: "
               "Content-Type is a standard or security-relevant header");
    load_fails("DecryptHeader Authentication-Results\n",
               "t.conf:1: DecryptHeader: ");
    load_fails("DecryptHeader Bad:Name\n", "t.conf:1: DecryptHeader: ");
    load_fails("TagHeader X-Dec\n\nDecryptHeader x-dec\n",
               "t.conf:1: TagHeader: X-Dec is the DecryptHeader");
}
END_TEST

/* Every header named TagHeader is deleted from every message: never a
 * standard or security-relevant one, nor our own DecryptHeader. */
START_TEST(config_tag_header_reserved)
{
    static const char *const reserved[] = {
        "From", "from", "Sender", "Reply-To", "To", "Cc", "Bcc",
        "Message-ID", "In-Reply-To", "References", "Subject", "Comments",
        "Keywords", "Date", "Resent-From", "resent-message-id",
        "Return-Path", "Received", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "content-disposition",
        "Authentication-Results", "AUTHENTICATION-RESULTS",
        "DKIM-Signature", "ARC-Seal", "ARC-Message-Signature",
        "ARC-Authentication-Results", "Received-SPF", "Delivered-To",
        "List-Unsubscribe", "List-Id", "X-SMIME-Decrypted",
        "x-smime-decrypted",
    };
    static const char *const invalid[] = {
        "X Tag", "X-Tag:", "X-T\xc3\xa4g", "X-\x7fTag",
    };
    static const char *const fine[] = {
        "X-SMIME-Verified", "X-From", "Fromage", "X-Content-Type",
        "X-SMIME-Decrypted-By",
    };
    char line[300];
    config_t *c;

    load_fails("Mode v\nTagHeader From\n",
               "t.conf:2: TagHeader: From is a standard or "
               "security-relevant header");
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        snprintf(line, sizeof line, "TagHeader %s\n", reserved[i]);
        load_fails(line, "t.conf:1: TagHeader: ");
        ck_assert_msg(strstr(reports, "TagHeader X-SMIME-Verified") != NULL,
                      "no example of what to write: %s", reports);
    }
    load_fails("TagHeader X-SMIME-Decrypted\n",
               "X-SMIME-Decrypted is the DecryptHeader of decrypted mail");
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        snprintf(line, sizeof line, "TagHeader %s\n", invalid[i]);
        load_fails(line, "is not a header name");
    }
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        snprintf(line, sizeof line, "TagHeader %s\n", fine[i]);
        c = load(line);
        ck_assert_msg(c != NULL, "%s: %s", fine[i], reports);
        ck_assert_str_eq(c->tag_header, fine[i]);
        config_unref(c);
    }
}
END_TEST

/* Without AuthservID the host name must be a domain name: an error
 * (without a line: the file does not say it) that says what to set. */
START_TEST(config_authserv_id_default_checked)
{
    config_t *c;

    fake_hostname = "mail_1";
    load_fails("Mode v\n", "t.conf: AuthservID is not set and the host "
               "name \"mail_1\" is not a domain name: write AuthservID");
    c = load("Mode v\nAuthservID mx.example.net\n");   /* set: fine */
    ck_assert_msg(c != NULL, "%s", reports);
    config_unref(c);
    fake_hostname = "mx.example.net";
    c = load("Mode v\n");
    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert_str_eq(c->authserv_id, "mx.example.net");
    config_unref(c);
    fake_hostname = NULL;
}
END_TEST

/* -n lists every problem at once: the files named are opened even when
 * another line is wrong. */
START_TEST(config_files_checked_despite_errors)
{
    reports[0] = '\0';
    nreports = 0;
    config_t *c = config_load_string("t.conf",
                           "Socket inet:1@h\nBogus 1\n"
                           "TrustAnchorFile /nonexistent/roots.pem\n"
                           "CRLFile /nonexistent/crl.pem\n"
                           "Mode s\nKeystore /nonexistent/ks.cdb\n",
                           0, collect, NULL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nreports, 4);
    ck_assert_msg(strstr(reports, "t.conf:2: unknown key \"Bogus\"\n") &&
                  strstr(reports, "t.conf:3: TrustAnchorFile: ") &&
                  strstr(reports, "t.conf:4: CRLFile: ") &&
                  strstr(reports, "t.conf:6: Keystore: "), "%s", reports);
}
END_TEST

/* Every key of the table is in smime-milter.conf(5) with its default. */
START_TEST(config_keys_documented)
{
    FILE *fp = fopen(ABS_TOP_SRCDIR "/man/smime-milter.conf.5", "r");
    static char page[65536];
    size_t n;

    ck_assert_ptr_nonnull(fp);
    n = fread(page, 1, sizeof page - 1, fp);
    page[n] = '\0';
    fclose(fp);
    ck_assert_uint_gt(config_key_count(), 20);
    for (size_t i = 0; i < config_key_count(); i++) {
        const struct config_key_info *k = config_key(i);
        char item[128], dflt[128];
        char *at, *eol;
        snprintf(item, sizeof item, "\n.It Cm %s ", k->name);
        snprintf(dflt, sizeof dflt, "Pq default: %s\n", k->default_doc);
        at = strstr(page, item);
        ck_assert_msg(at != NULL, "%s not documented", k->name);
        eol = strchr(at + 1, '\n');
        ck_assert_msg(eol && strstr(at, dflt) == eol - strlen(dflt) + 1,
                      "%s: default \"%s\" not on its .It line", k->name,
                      k->default_doc);
        ck_assert_ptr_null(strstr(at + 1, item));   /* one place only */
    }
}
END_TEST

/* ---- InternalHosts ---- */

START_TEST(internal_hosts)
{
    config_t *c = load("InternalHosts 192.0.2.0/24 10.1.2.3, 2001:db8::/33 "
                       "fe80::1 172.16.0.0/12\n");

    ck_assert_msg(c != NULL, "%s", reports);
    ck_assert(config_is_internal(c, "192.0.2.0"));
    ck_assert(config_is_internal(c, "192.0.2.255"));
    ck_assert(!config_is_internal(c, "192.0.3.1"));
    ck_assert(config_is_internal(c, "10.1.2.3"));
    ck_assert(!config_is_internal(c, "10.1.2.4"));
    ck_assert(config_is_internal(c, "172.31.255.255"));
    ck_assert(!config_is_internal(c, "172.32.0.0"));
    ck_assert(config_is_internal(c, "::ffff:192.0.2.9"));   /* mapped */
    ck_assert(config_is_internal(c, "2001:db8:7fff::1"));
    ck_assert(!config_is_internal(c, "2001:db8:8000::1"));
    ck_assert(config_is_internal(c, "fe80::1"));
    ck_assert(!config_is_internal(c, "fe80::2"));
    ck_assert(!config_is_internal(c, "127.0.0.1"));
    ck_assert(!config_is_internal(c, "not-an-ip"));
    ck_assert(!config_is_internal(c, NULL));
    config_unref(c);

    c = load("InternalHosts none\n");
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->n_internal_hosts, 0);
    ck_assert(!config_is_internal(c, "127.0.0.1"));
    config_unref(c);

    c = load("InternalHosts 0.0.0.0/0\n");
    ck_assert(config_is_internal(c, "203.0.113.5"));
    ck_assert(!config_is_internal(c, "2001:db8::1"));
    config_unref(c);
}
END_TEST

/* ---- Authentication-Results ---- */

START_TEST(ar_build_spec_example)
{
    struct ar_result r = {SMIME_RESULT_PASS, "signature verified",
                          "alice@example.org", "1", "0a1b",
                          "CN=Example CA,O=Example"};
    char *v = arheader_build("mx.example.net", &r, 1);

    ck_assert_str_eq(v, "mx.example.net;\n"
        "\tsmime=pass (signature verified) body.smime-identifier=alice@example.org\n"
        "\tbody.smime-part=1 body.smime-serial=0a1b body.smime-issuer=\"CN=Example CA,O=Example\"");
    free(v);
}
END_TEST

START_TEST(ar_build_several_and_quoting)
{
    struct ar_result r[3] = {
        {SMIME_RESULT_NEUTRAL, "not (whole) message\\", "a.b@x.example",
         "1.1", "10", "CN=\"Q\" CA\\x"},
        {SMIME_RESULT_PERMERROR, "malformed CMS", "", "2", NULL, NULL},
        {SMIME_RESULT_FAIL, NULL, "john doe@x.example", NULL, NULL, NULL},
    };
    char *v = arheader_build("mx.example.net", r, 3);

    ck_assert_str_eq(v, "mx.example.net;\n"
        "\tsmime=neutral (not \\(whole\\) message\\\\) body.smime-identifier=a.b@x.example\n"
        "\tbody.smime-part=1.1 body.smime-serial=10 body.smime-issuer=\"CN=\\\"Q\\\" CA\\\\x\";\n"
        "\tsmime=permerror (malformed CMS)\n"
        "\tbody.smime-part=2;\n"
        "\tsmime=fail body.smime-identifier=\"john doe@x.example\"");
    free(v);
}
END_TEST

START_TEST(ar_build_none_and_odd_id)
{
    struct ar_result r = {SMIME_RESULT_NONE, NULL, NULL, NULL, NULL, NULL};
    char *v = arheader_build("mx.test.example", &r, 1);

    ck_assert_str_eq(v, "mx.test.example;\n\tsmime=none");
    free(v);
    v = arheader_build("mx test", NULL, 0);
    ck_assert_str_eq(v, "\"mx test\"; none");
    free(v);
    /* a CR/LF in a value never breaks the header */
    r = (struct ar_result){SMIME_RESULT_FAIL, "bad\r\nX: y", NULL, NULL,
                           NULL, "O=a\nb"};
    v = arheader_build("h", &r, 1);
    ck_assert_str_eq(v, "h;\n\tsmime=fail (bad  X: y)\n"
                        "\tbody.smime-issuer=\"O=a b\"");
    free(v);
}
END_TEST

START_TEST(ar_authserv_id)
{
    char id[64];

    ck_assert_int_eq(arheader_authserv_id("mx.test.example; smime=pass",
                                          id, sizeof id), 0);
    ck_assert_str_eq(id, "mx.test.example");
    ck_assert_int_eq(arheader_authserv_id("\n mx.test.example;\n\tsmime=pass",
                                          id, sizeof id), 0);
    ck_assert_str_eq(id, "mx.test.example");
    ck_assert_int_eq(arheader_authserv_id("(forged (nested) comment)\n\t"
                                          "MX.Test.Example 1; smime=pass",
                                          id, sizeof id), 0);
    ck_assert_str_eq(id, "MX.Test.Example");
    ck_assert_int_eq(arheader_authserv_id("\"mx.test.example\"; none",
                                          id, sizeof id), 0);
    ck_assert_str_eq(id, "mx.test.example");
    ck_assert_int_eq(arheader_authserv_id("mx.test.example(c);x",
                                          id, sizeof id), 0);
    ck_assert_str_eq(id, "mx.test.example");
    ck_assert_int_eq(arheader_authserv_id("   ", id, sizeof id), -1);
    ck_assert_int_eq(arheader_authserv_id("; smime=pass", id, sizeof id), -1);
    ck_assert_int_eq(arheader_authserv_id("averyveryverylongid", id, 5), -1);

    ck_assert(arheader_is_ours("MX.TEST.EXAMPLE; smime=pass",
                               "mx.test.example"));
    ck_assert(arheader_is_ours("mx.test.example 1;\n\tsmime=pass",
                               "mx.test.example"));
    ck_assert(!arheader_is_ours("mx.test.example.evil; smime=pass",
                                "mx.test.example"));
    ck_assert(!arheader_is_ours("other.example; smime=pass",
                                "mx.test.example"));
}
END_TEST

/* RFC 8601 section 5: an authserv-id is compared as the domain name it
 * is, however the forged header writes it. */
START_TEST(ar_is_ours_any_form)
{
    static const char *const ours[] = {
        "mx.example.net; smime=pass",
        "\"mx.example.net\"; smime=pass",
        "MX.Example.NET ; smime=pass",
        "MX.example.net; smime=pass",
        "(comment) mx.example.net; smime=pass",
        "(a (nested) comment)\r\n (another) \"mx.example.net\" (c) 1;"
        " smime=pass",
        "\r\n\tmx.example.net;\r\n\tsmime=pass",
        "mx.example.net\r\n\t;smime=pass",
        "\"mx.ex\\ample.net\"; smime=pass",
        "mx.example.net.; smime=pass",
        "\"MX.EXAMPLE.NET.\"; smime=pass",
        "mx.example.net 1; smime=pass",
        "mx.example.net",
    };
    static const char *const others[] = {
        "mx.example.net.evil; smime=pass",
        "evil.mx.example.net; smime=pass",
        "\"mx.example.net x\"; smime=pass",
        "\"mx.example.net;\" smime=pass",
        "mx.example.ne; smime=pass",
        "mx.example.net..; smime=pass",
        "; smime=pass",
        "(mx.example.net) other.example; smime=pass",
        "",
    };

    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        ck_assert_msg(arheader_is_ours(ours[i], "mx.example.net"),
                      "not ours: %s", ours[i]);
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        ck_assert_msg(!arheader_is_ours(others[i], "mx.example.net"),
                      "ours: %s", others[i]);
    /* the configured id in any case */
    ck_assert(arheader_is_ours("\"mx.example.net\"; smime=pass",
                               "MX.Example.Net"));
}
END_TEST

START_TEST(ar_id_valid_and_equal)
{
    ck_assert(arheader_id_valid("mx.example.net"));
    ck_assert(arheader_id_valid("MX-1.Example.NET"));
    ck_assert(arheader_id_valid("localhost"));
    ck_assert(arheader_id_valid("1.2.3.example"));
    ck_assert(!arheader_id_valid(""));
    ck_assert(!arheader_id_valid("mx.example.net."));
    ck_assert(!arheader_id_valid("\"mx.example.net\""));
    ck_assert(!arheader_id_valid("mx example"));
    ck_assert(!arheader_id_valid("mx_1.example"));
    ck_assert(!arheader_id_valid("-mx.example"));
    ck_assert(!arheader_id_valid("mx-.example"));
    ck_assert(!arheader_id_valid("mx..example"));
    ck_assert(!arheader_id_valid("."));
    ck_assert(arheader_id_valid(
        "a12345678901234567890123456789012345678901234567890123456789012"));
    ck_assert(!arheader_id_valid(
        "a123456789012345678901234567890123456789012345678901234567890123"));
    ck_assert(arheader_id_equal("MX.example.NET", "mx.example.net."));
    ck_assert(arheader_id_equal("mx.example.net.", "mx.example.net"));
    ck_assert(!arheader_id_equal("mx.example.net", "mx.example.net.."));
    ck_assert(!arheader_id_equal("mx.example.net", "mx.example.ne"));
    ck_assert(!arheader_id_equal("mx.example.net", "x.example.net"));
}
END_TEST

/* ---- session with a recording action vtable ---- */

struct rec {
    char log[4096];
};

static int rec_insert(void *arg, unsigned idx, const char *name,
                      const char *value)
{
    struct rec *r = arg;
    snprintf(r->log + strlen(r->log), sizeof r->log - strlen(r->log),
             "ins %u %s: %s\n", idx, name, value);
    return 0;
}

static int rec_change(void *arg, const char *name, unsigned idx,
                      const char *value)
{
    struct rec *r = arg;
    snprintf(r->log + strlen(r->log), sizeof r->log - strlen(r->log),
             "chg %s %u %s\n", name, idx, value ? value : "(delete)");
    return 0;
}

static int rec_body(void *arg, actions_read_fn rd, void *rarg)
{
    struct rec *r = arg;
    (void)rd;
    (void)rarg;
    strcat(r->log, "body\n");
    return 0;
}

static const struct actions rec_actions = {rec_insert, rec_change, rec_body};

struct hdr {
    const char *name, *value;
};

/* Drives one message; returns the eom status, fills rec; *skipped says
 * whether the first body chunk got SKIP. */
static enum session_status run(config_t *c, const char *client,
                               const char *login, const struct hdr *h,
                               const char *body, struct rec *rec,
                               int *skipped)
{
    session_t *s = session_new();
    enum session_status st;

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(session_set_client(s, client), 0);
    session_begin(s, c);
    ck_assert_int_eq(session_set_login(s, login), 0);
    ck_assert_int_eq(session_set_queue_id(s, "4F2A1B"), 0);
    for (; h->name; h++)
        ck_assert_int_eq(session_header(s, h->name, h->value),
                         SESSION_CONTINUE);
    ck_assert_int_eq(session_eoh(s), SESSION_CONTINUE);
    *skipped = body && session_body(s, body, strlen(body)) == SESSION_SKIP;
    rec->log[0] = '\0';
    st = session_eom(s, &rec_actions, rec);
    ck_assert_str_eq(session_queue_id(s), "4F2A1B");
    ck_assert_uint_gt(strlen(session_summary(s)), 0);
    session_free(s);
    return st;
}

static const struct hdr forged[] = {
    {"Received", "from x by y"},
    {"Authentication-Results", "mx.test.example; smime=pass"},
    {"From", "Alice <alice@example.org>"},
    {"Authentication-Results", "other.example; spf=pass"},
    {"authentication-results", "(c)\n\tMX.test.example 1;\n\tsmime=pass"},
    {"Authentication-Results", "third.example; dkim=pass"},
    {"X-Signer", "forged@example.org"},
    {"Content-Type", "text/plain"},
    {NULL, NULL},
};

START_TEST(session_forged_deleted_none_added)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n"
                       "TagHeader X-Signer\n");
    struct rec rec;
    int skipped;

    ck_assert_int_eq(run(c, "192.0.2.1", NULL, forged, "hello\r\n", &rec,
                         &skipped), SESSION_ACCEPT);
    ck_assert(skipped);      /* text/plain cannot hold a signature */
    /* ours are the 1st and 3rd A-R: deleted from the highest index down;
     * the TagHeader forgery too; then our header at the top */
    ck_assert_str_eq(rec.log,
        "chg Authentication-Results 3 (delete)\n"
        "chg Authentication-Results 1 (delete)\n"
        "chg X-Signer 1 (delete)\n"
        "ins 0 Authentication-Results: mx.test.example;\n\tsmime=none\n");
    config_unref(c);
}
END_TEST

START_TEST(session_add_none_off)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n"
                       "AddNoneResult no\n");
    struct rec rec;
    int skipped;

    ck_assert_int_eq(run(c, "192.0.2.1", NULL, forged, "hello\r\n", &rec,
                         &skipped), SESSION_ACCEPT);
    ck_assert_str_eq(rec.log,
        "chg Authentication-Results 3 (delete)\n"
        "chg Authentication-Results 1 (delete)\n");
    config_unref(c);
}
END_TEST

START_TEST(session_skip_decision)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n");
    const struct hdr mixed[] = {
        {"From", "alice@example.org"},
        {"Content-Type", "multipart/mixed;\n\tboundary=\"b\""},
        {NULL, NULL}};
    const struct hdr p7m[] = {
        {"Content-Type", "application/pkcs7-mime; smime-type=enveloped-data"},
        {NULL, NULL}};
    const struct hdr none[] = {{"Subject", "no content-type"}, {NULL, NULL}};
    struct rec rec;
    int skipped;

    run(c, "192.0.2.1", NULL, mixed, "--b\r\n\r\nx\r\n--b--\r\n", &rec,
        &skipped);
    ck_assert(!skipped);
    ck_assert_str_eq(rec.log, "ins 0 Authentication-Results: "
                              "mx.test.example;\n\tsmime=none\n");
    run(c, "192.0.2.1", NULL, p7m, "AAAA\r\n", &rec, &skipped);
    ck_assert(!skipped);
    ck_assert_str_eq(rec.log, "ins 0 Authentication-Results: "
                              "mx.test.example;\n\tsmime=none\n");
    run(c, "192.0.2.1", NULL, none, "x\r\n", &rec, &skipped);
    ck_assert(skipped);
    config_unref(c);
}
END_TEST

START_TEST(session_outbound_forged_deleted)
{
    config_t *c = load("AuthservID mx.test.example\n"
                       "InternalHosts 192.0.2.0/24\nTagHeader X-Signer\n");
    struct rec rec;
    int skipped;
    static const char *const gone =
        "chg Authentication-Results 3 (delete)\n"
        "chg Authentication-Results 1 (delete)\n"
        "chg X-Signer 1 (delete)\n";

    /* Outbound mail is not verified and gets no result, but what only we
     * may write goes: it can reach local mailboxes too.  Others' A-R stay. */
    /* internal client */
    ck_assert_int_eq(run(c, "192.0.2.1", NULL, forged, "x\r\n", &rec,
                         &skipped), SESSION_ACCEPT);
    ck_assert_str_eq(rec.log, gone);
    /* SASL login from outside */
    ck_assert_int_eq(run(c, "203.0.113.9", "alice@example.org", forged,
                         "x\r\n", &rec, &skipped), SESSION_ACCEPT);
    ck_assert_str_eq(rec.log, gone);
    /* no client address (local submission) */
    ck_assert_int_eq(run(c, NULL, NULL, forged, "x\r\n", &rec, &skipped),
                     SESSION_ACCEPT);
    ck_assert_str_eq(rec.log, gone);
    config_unref(c);
}
END_TEST

START_TEST(session_mode_s_only_ignores_inbound)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n"
                       "Mode s\n");
    struct rec rec;
    int skipped;

    /* not verified, no result; forged verdicts of ours still removed */
    ck_assert_int_eq(run(c, "192.0.2.1", NULL, forged, "x\r\n", &rec,
                         &skipped), SESSION_ACCEPT);
    ck_assert(skipped);
    ck_assert_str_eq(rec.log,
        "chg Authentication-Results 3 (delete)\n"
        "chg Authentication-Results 1 (delete)\n");
    config_unref(c);
}
END_TEST

START_TEST(session_max_size)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n"
                       "MaxMessageSize 100\n");
    const struct hdr h[] = {
        {"Authentication-Results", "mx.test.example; smime=pass"},
        {"Content-Type", "multipart/mixed; boundary=b"},
        {NULL, NULL}};
    char body[512];
    struct rec rec;
    int skipped;

    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    ck_assert_int_eq(run(c, "192.0.2.1", NULL, h, body, &rec, &skipped),
                     SESSION_ACCEPT);
    ck_assert(skipped);
    /* the forgery still goes; no result is claimed */
    ck_assert_str_eq(rec.log, "chg Authentication-Results 1 (delete)\n");
    config_unref(c);
}
END_TEST

static int fail_change(void *arg, const char *name, unsigned idx,
                       const char *value)
{
    (void)arg;
    (void)name;
    (void)idx;
    (void)value;
    return -1;
}

/* The MTA refusing a change is an internal error: tempfail, logged at
 * notice. */
START_TEST(session_action_failure_tempfails)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n");
    const struct actions bad = {rec_insert, fail_change, rec_body};
    session_t *s = session_new();
    struct rec rec = {{0}};

    session_set_client(s, "192.0.2.1");
    session_begin(s, c);
    session_header(s, "Authentication-Results", "mx.test.example; x=y");
    session_eoh(s);
    ck_assert_int_eq(session_eom(s, &bad, &rec), SESSION_TEMPFAIL);
    ck_assert_msg(strstr(session_summary(s), "result=tempfail") != NULL,
                  "%s", session_summary(s));
    /* logged at notice, as LogLevel notice must show it */
    ck_assert_int_eq(session_outcome_priority(session_outcome(s)),
                     LOG_NOTICE);
    session_free(s);
    config_unref(c);
}
END_TEST

START_TEST(session_summary_line)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n");
    session_t *s = session_new();
    struct rec rec = {{0}};

    session_set_client(s, "192.0.2.1");
    session_begin(s, c);
    session_header(s, "Subject", "x");
    session_eoh(s);
    ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_ACCEPT);
    ck_assert_str_eq(session_summary(s),
                     "event=message dir=in client=192.0.2.1 result=none");
    session_free(s);
    config_unref(c);
}
END_TEST

/* LogLevel notice shows every failure: the message line's priority. */
START_TEST(session_log_priority)
{
    static const struct {
        smime_result_t r;
        int prio;
    } in[] = {
        {SMIME_RESULT_NONE, LOG_INFO},       {SMIME_RESULT_PASS, LOG_INFO},
        {SMIME_RESULT_NEUTRAL, LOG_INFO},    {SMIME_RESULT_FAIL, LOG_NOTICE},
        {SMIME_RESULT_POLICY, LOG_NOTICE},   {SMIME_RESULT_PERMERROR, LOG_NOTICE},
        {SMIME_RESULT_TEMPERROR, LOG_NOTICE},
    };
    struct session_outcome o;

    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        memset(&o, 0, sizeof o);
        o.dir = SESSION_DIR_IN;
        o.result = in[i].r;
        ck_assert_msg(session_outcome_priority(&o) == in[i].prio, "%s",
                      smime_result_name(in[i].r));
    }
    /* a tempfail, or an error let pass (OnError accept), either way */
    memset(&o, 0, sizeof o);
    o.dir = SESSION_DIR_IN;
    o.tempfail = 1;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_NOTICE);
    memset(&o, 0, sizeof o);
    o.dir = SESSION_DIR_OUT;
    o.tempfail = 1;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_NOTICE);
    memset(&o, 0, sizeof o);
    o.dir = SESSION_DIR_OUT;
    o.error = 1;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_NOTICE);
    /* outbound: signed and the usual reasons not to sign are info; a
     * login refused for From and our own certificate unusable notice */
    memset(&o, 0, sizeof o);
    o.dir = SESSION_DIR_OUT;
    o.signed_ok = 1;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_INFO);
    o.signed_ok = 0;
    o.unsigned_kind = OUTBOUND_UNSIGNED_NO_ENTRY;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_INFO);
    o.unsigned_kind = OUTBOUND_UNSIGNED_LOGIN;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_NOTICE);
    o.unsigned_kind = OUTBOUND_UNSIGNED_CERTIFICATE;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_NOTICE);
    memset(&o, 0, sizeof o);
    o.dir = SESSION_DIR_IGNORED;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_INFO);
    o.dir = SESSION_DIR_ABORTED;
    ck_assert_int_eq(session_outcome_priority(&o), LOG_DEBUG);
}
END_TEST

/* Out of memory storing the client address fails closed: the client is
 * not taken for a local submission (no address) or an internal one, whose
 * mail is outbound and may be signed; its mail is an internal error. */
START_TEST(session_client_oom_fails_closed)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n");
    config_t *ca = load("AuthservID mx.test.example\nInternalHosts none\n"
                        "OnError accept\n");
    struct rec rec = {{0}};
    session_t *s = session_new();

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(ca);
    strdup_fail_on = "198.51.100.7";
    ck_assert_int_eq(session_set_client(s, "198.51.100.7"), -1);
    strdup_fail_on = NULL;
    session_begin(s, c);
    session_header(s, "From", "alice@example.org");
    session_eoh(s);
    ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_TEMPFAIL);
    ck_assert_msg(strstr(session_summary(s), "dir=in client=unknown "
                         "result=tempfail") != NULL, "%s",
                  session_summary(s));
    ck_assert_int_eq(session_outcome(s)->outbound, 0);

    /* OnError accept: inbound, with temperror; every message fails */
    for (int i = 0; i < 2; i++) {
        rec.log[0] = '\0';
        session_begin(s, ca);
        session_header(s, "From", "alice@example.org");
        session_eoh(s);
        ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_ACCEPT);
        ck_assert_str_eq(rec.log, "ins 0 Authentication-Results: "
                         "mx.test.example;\n\tsmime=temperror "
                         "(internal error)\n");
        ck_assert_msg(strstr(session_summary(s), "dir=in client=unknown")
                      != NULL, "%s", session_summary(s));
    }

    /* a later successful set clears it */
    ck_assert_int_eq(session_set_client(s, "198.51.100.7"), 0);
    rec.log[0] = '\0';
    session_begin(s, c);
    session_header(s, "Subject", "x");
    session_eoh(s);
    ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_ACCEPT);
    ck_assert_str_eq(session_summary(s),
                     "event=message dir=in client=198.51.100.7 result=none");
    session_free(s);
    config_unref(ca);
    config_unref(c);
}
END_TEST

/* Envelope recipients: angle brackets stripped, copied, in order,
 * forgotten at the next message; today every one is accepted. */
START_TEST(session_rcpt_stored)
{
    config_t *c = load("AuthservID mx.test.example\nMode vd\n");
    session_t *s = session_new();
    struct session_rcpt_reply r;
    char addr[] = "<Bob@Example.COM>";

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(session_set_client(s, "192.0.2.1"), 0);
    session_begin(s, c);
    ck_assert_uint_eq(session_nrcpt(s), 0);
    ck_assert_int_eq(session_rcpt(s, addr, &r), 0);
    ck_assert_int_eq(r.refuse, SESSION_RCPT_ACCEPT);
    memset(addr, 'x', sizeof addr - 1);        /* the session has a copy */
    ck_assert_int_eq(session_rcpt(s, "carol@example.net", &r), 0);
    ck_assert_int_eq(session_rcpt(s, "<>", &r), 0);
    ck_assert_uint_eq(session_nrcpt(s), 3);
    ck_assert_str_eq(session_rcpt_at(s, 0), "Bob@Example.COM");
    ck_assert_str_eq(session_rcpt_at(s, 1), "carol@example.net");
    ck_assert_str_eq(session_rcpt_at(s, 2), "");
    ck_assert_ptr_null(session_rcpt_at(s, 3));
    session_abort(s);
    ck_assert_uint_eq(session_nrcpt(s), 0);
    session_begin(s, c);
    ck_assert_int_eq(session_rcpt(s, "dave@example.net", &r), 0);
    session_begin(s, c);                       /* the next message */
    ck_assert_uint_eq(session_nrcpt(s), 0);
    session_free(s);
    config_unref(c);
}
END_TEST

/* A recipient that cannot be stored fails the message (OnError), as a
 * decision over all recipients would otherwise see only some. */
START_TEST(session_rcpt_oom_fails_closed)
{
    config_t *c = load("AuthservID mx.test.example\nMode vd\n");
    session_t *s = session_new();
    struct session_rcpt_reply r;
    struct rec rec = {{0}};

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(session_set_client(s, "192.0.2.1"), 0);
    session_begin(s, c);
    ck_assert_int_eq(session_rcpt(s, "<bob@example.com>", &r), 0);
    strdup_fail_on = "carol@example.net";
    ck_assert_int_eq(session_rcpt(s, "<carol@example.net>", &r), -1);
    strdup_fail_on = NULL;
    ck_assert_int_eq(r.refuse, SESSION_RCPT_ACCEPT);
    session_header(s, "From", "alice@example.org");
    session_eoh(s);
    ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_TEMPFAIL);
    ck_assert_msg(strstr(session_summary(s), "result=tempfail reason=\""
                         "storing a recipient") != NULL, "%s",
                  session_summary(s));
    session_free(s);
    config_unref(c);
}
END_TEST

/* Mode d alone negotiates no RCPT replies; a reload that adds e meets
 * such a connection: a refusal it cannot send fails the message (OnError),
 * rather than the recipient getting it unrefused. */
START_TEST(session_rcpt_unrefused_fails)
{
    config_t *c = load("AuthservID mx.test.example\nMode vde\n");
    session_t *s = session_new();
    struct session_rcpt_reply r, refuse = {SESSION_RCPT_TEMPFAIL, "452",
                                           "4.7.0", "try later"};
    struct rec rec = {{0}};

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(session_set_client(s, "192.0.2.1"), 0);
    session_begin(s, c);
    ck_assert_int_eq(session_rcpt(s, "<bob@example.com>", &r), 0);
    session_rcpt_unrefused(s, &refuse);
    session_header(s, "From", "alice@example.org");
    session_eoh(s);
    ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_TEMPFAIL);
    ck_assert_msg(strstr(session_summary(s), "result=tempfail reason=\"a "
                         "recipient the encryption policy refuses (452 "
                         "4.7.0) cannot be refused on a connection made "
                         "before a reload allowed refusals") != NULL, "%s",
                  session_summary(s));
    session_free(s);
    config_unref(c);
}
END_TEST

/* Forged DecryptHeader copies are deleted in every direction, whether
 * or not Mode has d (before: kept, and a mailbox filter trusting it
 * could be fooled). */
START_TEST(session_decrypt_header_forged)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n"
                       "Mode v\nDecryptHeader X-Dec\n");
    static const struct hdr h[] = {
        {"X-Dec", "for=bob@example.com; cipher=aes-256-cbc; "
                  "integrity=signature"},
        {"From", "alice@example.org"},
        {"x-dec", "forged"},
        {NULL, NULL},
    };
    struct rec rec;
    int skipped;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(run(c, "192.0.2.1", NULL, h, "x\r\n", &rec, &skipped),
                     SESSION_ACCEPT);
    ck_assert_str_eq(rec.log, "chg X-Dec 2 (delete)\nchg X-Dec 1 (delete)\n"
                     "ins 0 Authentication-Results: mx.test.example;\n"
                     "\tsmime=none\n");
    ck_assert_int_eq(run(c, "192.0.2.1", "alice@example.org", h, "x\r\n",
                         &rec, &skipped), SESSION_ACCEPT);
    ck_assert_str_eq(rec.log, "chg X-Dec 2 (delete)\nchg X-Dec 1 (delete)\n");
    config_unref(c);
}
END_TEST

/* Mode d: an enveloped message whose CMS is damaged is delivered as it
 * came, with smime=none and why; the log line and the outcome say so. */
START_TEST(session_decrypt_damaged_unchanged)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n"
                       "Mode vd\n");
    session_t *s = session_new();
    struct session_rcpt_reply r;
    struct rec rec = {{0}};
    static const char body[] = "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n";

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(session_set_client(s, "192.0.2.1"), 0);
    session_begin(s, c);
    ck_assert_int_eq(session_rcpt(s, "<bob@example.com>", &r), 0);
    session_header(s, "From", "alice@example.org");
    session_header(s, "Content-Type", "application/pkcs7-mime; "
                   "smime-type=enveloped-data; name=smime.p7m");
    session_header(s, "Content-Transfer-Encoding", "base64");
    session_eoh(s);
    ck_assert_int_eq(session_body(s, body, strlen(body)), SESSION_CONTINUE);
    ck_assert_int_eq(session_eom(s, &rec_actions, &rec), SESSION_ACCEPT);
    ck_assert_str_eq(rec.log, "ins 0 Authentication-Results: "
                     "mx.test.example;\n\tsmime=none (encrypted, not "
                     "decrypted: truncated CMS)\n");
    ck_assert_int_eq(session_outcome(s)->decrypted, -1);
    ck_assert_int_eq(session_outcome(s)->decrypt_no_key, 0);
    ck_assert_str_eq(session_summary(s), "event=message dir=in "
                     "client=192.0.2.1 result=none reason=\"encrypted, not "
                     "decrypted: truncated CMS\" decrypted=no");
    ck_assert_int_eq(session_outcome_priority(session_outcome(s)),
                     LOG_NOTICE);
    session_free(s);
    config_unref(c);
}
END_TEST

/* ---- inbound: as many objects as the parser reports ---- */

/* A multipart/mixed of n pkcs7-mime parts (not valid CMS) verified
 * through inbound.c: the number of results. */
static size_t inbound_objects(config_t *c, unsigned n, smime_result_t *first)
{
    const struct msg_header h[] = {
        {"From", "alice@example.org"},
        {"Content-Type", "multipart/mixed; boundary=\"b\""}};
    const struct msg_headers hdrs = {h, 2};
    const struct inbound_result *res;
    inbound_t *in = inbound_new(c, &hdrs);
    static const char part[] =
        "--b\r\nContent-Type: application/pkcs7-mime; "
        "smime-type=signed-data\r\nContent-Transfer-Encoding: base64\r\n"
        "\r\nMAMCAQE=\r\n";
    size_t nres;

    ck_assert_ptr_nonnull(in);
    for (unsigned i = 0; i < n; i++)
        ck_assert_int_eq(inbound_body(in, part, strlen(part)), 0);
    ck_assert_int_eq(inbound_body(in, "--b--\r\n", 7), 0);
    ck_assert_int_eq(inbound_finish(in), 0);
    nres = inbound_results(in, &res);
    *first = nres ? res[0].r.result : SMIME_RESULT_NONE;
    if (nres == 1 && n > MIME_MAX_SMIME)
        ck_assert_str_eq(res[0].r.reason,
                         mime_error_string(MIME_ERR_SMIME_COUNT));
    inbound_free(in);
    return nres;
}

/* Every object the parser reports gets a result, up to its limit; one
 * more makes the whole message permerror.  (inbound.c once had its own
 * MAX_OBJECTS: had the parser's limit been larger, objects past it would
 * have been left out without a word.) */
START_TEST(inbound_objects_up_to_parser_limit)
{
    config_t *c = load("AuthservID mx.test.example\nInternalHosts none\n");
    struct mime_limits lim;
    smime_result_t r;

    mime_limits_default(&lim);
    ck_assert_uint_eq(lim.max_smime, MIME_MAX_SMIME);
    ck_assert_uint_eq(inbound_objects(c, MIME_MAX_SMIME, &r), MIME_MAX_SMIME);
    ck_assert_int_eq(r, SMIME_RESULT_PERMERROR);
    ck_assert_uint_eq(inbound_objects(c, MIME_MAX_SMIME + 1, &r), 1);
    ck_assert_int_eq(r, SMIME_RESULT_PERMERROR);
    config_unref(c);
}
END_TEST

static Suite *milter_suite(void)
{
    Suite *s = suite_create("milter");
    TCase *tc;

    tc = tcase_create("config");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, config_defaults);
    tcase_add_test(tc, config_good);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, config_mode_letters);
    tcase_add_test(tc, config_all_errors_reported);
    tcase_add_test(tc, config_socket_required);
    tcase_add_test(tc, config_trust_errors_have_lines);
    tcase_add_test(tc, config_files_checked_despite_errors);
    tcase_add_test(tc, config_authserv_id_checked);
    tcase_add_test(tc, config_authserv_id_default_checked);
    tcase_add_test(tc, config_tag_header_reserved);
    tcase_add_test(tc, config_decrypt_header);
    tcase_add_test(tc, config_keys_documented);
    tcase_add_test(tc, internal_hosts);
    suite_add_tcase(s, tc);

    tc = tcase_create("arheader");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, ar_build_spec_example);
    tcase_add_test(tc, ar_build_several_and_quoting);
    tcase_add_test(tc, ar_build_none_and_odd_id);
    tcase_add_test(tc, ar_authserv_id);
    tcase_add_test(tc, ar_is_ours_any_form);
    tcase_add_test(tc, ar_id_valid_and_equal);
    suite_add_tcase(s, tc);

    tc = tcase_create("session");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, session_forged_deleted_none_added);
    tcase_add_test(tc, session_add_none_off);
    tcase_add_test(tc, session_skip_decision);
    tcase_add_test(tc, session_outbound_forged_deleted);
    tcase_add_test(tc, session_mode_s_only_ignores_inbound);
    tcase_add_test(tc, session_max_size);
    tcase_add_test(tc, session_action_failure_tempfails);
    tcase_add_test(tc, session_summary_line);
    tcase_add_test(tc, session_log_priority);
    tcase_add_test(tc, session_client_oom_fails_closed);
    tcase_add_test(tc, session_rcpt_stored);
    tcase_add_test(tc, session_rcpt_oom_fails_closed);
    tcase_add_test(tc, session_rcpt_unrefused_fails);
    tcase_add_test(tc, session_decrypt_header_forged);
    tcase_add_test(tc, session_decrypt_damaged_unchanged);
    tcase_add_test(tc, inbound_objects_up_to_parser_limit);
    suite_add_tcase(s, tc);

    suite_add_tcase(s, daemon_tcase());
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(milter_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
