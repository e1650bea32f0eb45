/*
 * check_milter_daemon.c - unit tests of what the daemon and -n check
 * before they start: the socket address parser shared by `Socket` and
 * -p (milter/sockspec.c), and the configuration checks that run after
 * the whole file is read.  Part of the check_milter binary.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_milter.h"
#include "conf.h"
#include "sockspec.h"

/* ---- socket addresses ---- */

static void sock_ok(const char *text, enum sockspec_family fam,
                    const char *conn)
{
    struct sockspec ss;
    char err[700] = "";

    ck_assert_msg(sockspec_parse(text, &ss, err, sizeof err) == 0,
                  "%s refused: %s", text, err);
    ck_assert_int_eq(ss.family, fam);
    ck_assert_str_eq(ss.conn, conn);
}

static void sock_bad(const char *text, const char *want)
{
    struct sockspec ss;
    char err[700] = "";

    ck_assert_msg(sockspec_parse(text, &ss, err, sizeof err) != 0,
                  "%s accepted as %s", text, ss.conn);
    ck_assert_msg(strstr(err, want) != NULL, "%s: got \"%s\", want \"%s\"",
                  text, err, want);
}

START_TEST(sockspec_forms)
{
    struct sockspec ss;
    char err[700];

    sock_ok("inet:8891@127.0.0.1", SOCKSPEC_INET, "inet:8891@127.0.0.1");
    sock_ok("INET:8891@localhost", SOCKSPEC_INET, "inet:8891@localhost");
    sock_ok("inet:8891@0.0.0.0", SOCKSPEC_INET, "inet:8891@0.0.0.0");
    sock_ok("inet6:8891@::1", SOCKSPEC_INET6, "inet6:8891@::1");
    sock_ok("inet6:65535@mx.example.net", SOCKSPEC_INET6,
            "inet6:65535@mx.example.net");
    sock_ok("unix:/run/m.sock", SOCKSPEC_UNIX, "unix:/run/m.sock");
    sock_ok("local:/run/m.sock", SOCKSPEC_UNIX, "unix:/run/m.sock");
    sock_ok("/run/m.sock", SOCKSPEC_UNIX, "unix:/run/m.sock");
    ck_assert_int_eq(sockspec_parse("inet:40001@127.0.0.1", &ss, err,
                                    sizeof err), 0);
    ck_assert_uint_eq(ss.port, 40001);
    ck_assert_str_eq(ss.host, "127.0.0.1");
    ck_assert_int_eq(sockspec_parse("unix:/x/y", &ss, err, sizeof err), 0);
    ck_assert_str_eq(ss.path, "/x/y");
}
END_TEST

/* Postfix's spelling once listened on port 127 of every interface. */
START_TEST(sockspec_refused)
{
    char longpath[200];

    sock_bad("inet:127.0.0.1:40001", "use inet:40001@127.0.0.1");
    sock_bad("inet:[::1]:40001", "use inet6:40001@::1");
    sock_bad("127.0.0.1:40001", "(use inet:40001@127.0.0.1)");
    sock_bad("inet:8891", "inet:8891@127.0.0.1 to listen on loopback only");
    sock_bad("inet6:8891", "inet6:8891@::1");
    sock_bad("unix:relative.sock", "must be absolute");
    sock_bad("local:", "must be absolute");
    sock_bad("relative.sock", "expected inet:PORT@HOST");
    sock_bad("tcp:25", "expected inet:PORT@HOST");
    sock_bad("", "expected inet:PORT@HOST");
    sock_bad("inet:0@127.0.0.1", "port must be a number from 1 to 65535");
    sock_bad("inet:99999@localhost", "port must be a number");
    sock_bad("inet:88x@localhost", "port must be a number");
    sock_bad("inet:@localhost", "port must be a number");
    sock_bad("inet:8891@", "is not an IPv4 address or a host name");
    sock_bad("inet:8891@127.0.0", "is not an IPv4 address");
    sock_bad("inet:8891@a b", "is not an IPv4 address");
    sock_bad("inet:8891@::1", "use inet6:8891@::1");
    sock_bad("inet6:8891@1::2::3", "is not an IPv6 address");
    memset(longpath, 'a', sizeof longpath);
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof longpath - 1] = '\0';
    sock_bad(longpath, "socket path longer than 107 bytes");
}
END_TEST

/* ---- checks once the whole file is read ---- */

static config_t *load(const char *text, unsigned flags)
{
    return milter_test_load(text, flags);
}

static void refused(const char *text, unsigned flags, const char *want)
{
    config_t *c = load(text, flags);

    ck_assert_msg(c == NULL, "accepted: %s", text);
    ck_assert_msg(nreports == 1 && strstr(reports, want) != NULL,
                  "got \"%s\", want \"%s\"", reports, want);
}

/* A pid or statistics file in a missing directory used to be found only
 * when the daemon tried to write it. */
START_TEST(config_file_directories)
{
    refused("Socket unix:/run/x.sock\nPidFile /nonexistent/dir/m.pid\n", 0,
            "t.conf:2: PidFile: directory /nonexistent/dir: No such file");
    refused("StatsFile /nonexistent/dir/stats\n", 0,
            "t.conf:1: StatsFile: directory /nonexistent/dir: No such file");
    refused("StatsFile /etc/passwd/stats\n", 0,
            "t.conf:1: StatsFile: /etc/passwd is not a directory");
    refused("Mode v\n\nSpoolDirectory /nonexistent/spool\n", 0,
            "t.conf:3: SpoolDirectory: /nonexistent/spool is not a "
            "directory");
    config_t *c = load("PidFile /tmp/m.pid\nStatsFile /tmp/s\n"
                       "SpoolDirectory /tmp\n", 0);
    ck_assert_msg(c != NULL, "%s", reports);
    config_unref(c);
}
END_TEST

/* The Socket key goes through the same parser as -p. */
START_TEST(config_socket_hint)
{
    refused("Mode v\nSocket inet:127.0.0.1:8891\n", 0,
            "t.conf:2: Socket: \"inet:127.0.0.1:8891\" is Postfix's "
            "syntax; smime-milter wants PORT@HOST: use inet:8891@127.0.0.1");
    refused("Socket unix:milter.sock\n", 0,
            "t.conf:1: Socket: \"unix:milter.sock\": the socket path must "
            "be absolute");
}
END_TEST

/* Mode with s and no Keystore signs nothing: -n says so. */
START_TEST(config_mode_s_needs_keystore)
{
    config_t *c;

    refused("Socket unix:/run/x.sock\nMode sv\n", CONFIG_CHECK,
            "t.conf:2: Mode has s (sign) but no Keystore is given");
    refused("Mode s\n", CONFIG_CHECK, "t.conf:1: Mode has s");
    /* the default sv: a warning, the configuration is usable */
    c = load("Socket unix:/run/x.sock\n", CONFIG_CHECK);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(nreports, 1);
    ck_assert_msg(strstr(reports, "t.conf: warning: Mode (the default sv) "
                                  "has s (sign) but no Keystore") != NULL,
                  "%s", reports);
    config_unref(c);
    /* warnings only where asked for (not at a reload, not with -t) */
    c = load("Socket unix:/run/x.sock\n", 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(nreports, 0);
    config_unref(c);
    c = load("Mode v\n", CONFIG_CHECK);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(nreports, 0);
    config_unref(c);
}
END_TEST

TCase *daemon_tcase(void)
{
    TCase *tc = tcase_create("daemon");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, sockspec_forms);
    tcase_add_test(tc, sockspec_refused);
    tcase_add_test(tc, config_socket_hint);
    tcase_add_test(tc, config_file_directories);
    tcase_add_test(tc, config_mode_s_needs_keystore);
    return tc;
}
