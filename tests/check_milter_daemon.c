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

TCase *daemon_tcase(void)
{
    TCase *tc = tcase_create("daemon");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, sockspec_forms);
    tcase_add_test(tc, sockspec_refused);
    return tc;
}
