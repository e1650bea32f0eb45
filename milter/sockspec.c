/*
 * sockspec.c - parse a milter socket address (sockspec.h).
 *
 * libmilter's own parser guesses: "inet:127.0.0.1:40001" becomes port
 * 127 on every interface, "inet:8891" every interface, "unix:x.sock" a
 * path relative to wherever the daemon runs.  This parser takes only the
 * SPEC syntax, so what -n accepts is exactly what the daemon listens on,
 * and hands libmilter a normalised string it cannot misread.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sockspec.h"

#define EXPECTED "expected inet:PORT@HOST, inet6:PORT@HOST, unix:PATH, " \
                 "local:PATH or an absolute path"

/* 1..65535 written in n decimal digits, else 0. */
static unsigned parse_port(const char *s, size_t n)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (unsigned)v : 0;
}

/* A host name as libmilter resolves it: letters, digits, '-', '.'; one
 * made of digits and dots only must be a dotted-quad address instead. */
static int valid_hostname(const char *h)
{
    int alpha = 0;

    if (!*h || *h == '-' || *h == '.')
        return 0;
    for (const char *p = h; *p; p++) {
        if (isalpha((unsigned char)*p))
            alpha = 1;
        else if (!isdigit((unsigned char)*p) && *p != '-' && *p != '.')
            return 0;
    }
    return alpha;
}

static int parse_unix(const char *text, const char *path,
                      struct sockspec *out, char *err, size_t errlen)
{
    if (*path != '/') {
        snprintf(err, errlen, "\"%s\": the socket path must be absolute "
                 "(e.g. unix:/run/smime-milter/milter.sock)", text);
        return -1;
    }
    if (strlen(path) >= sizeof out->path) {
        snprintf(err, errlen, "\"%s\": socket path longer than %zu bytes",
                 text, sizeof out->path - 1);
        return -1;
    }
    out->family = SOCKSPEC_UNIX;
    snprintf(out->path, sizeof out->path, "%s", path);
    snprintf(out->conn, sizeof out->conn, "unix:%s", path);
    return 0;
}

/* "HOST:PORT" or "[HOST]:PORT" (Postfix's spelling): the libmilter one
 * in hint, or 0 when rest is not of that form. */
static int postfix_hint(const char *rest, char *hint, size_t len)
{
    const char *colon = strrchr(rest, ':');
    char host[300];
    size_t hn;

    if (colon == NULL || colon == rest ||
        !parse_port(colon + 1, strlen(colon + 1)) ||
        strchr(rest, '@') != NULL)
        return 0;
    hn = (size_t)(colon - rest);
    if (rest[0] == '[' && rest[hn - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)(hn - 2), rest + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)hn, rest);
    snprintf(hint, len, "%s:%s@%s", strchr(host, ':') ? "inet6" : "inet",
             colon + 1, host);
    return 1;
}

static int parse_inet(const char *text, const char *fam, const char *rest,
                      int v6, struct sockspec *out, char *err,
                      size_t errlen)
{
    const char *at = strchr(rest, '@');
    unsigned char addr[16];
    char hint[400];

    if (at == NULL) {
        if (postfix_hint(rest, hint, sizeof hint))
            snprintf(err, errlen, "\"%s\" is Postfix's syntax; "
                     "smime-milter wants PORT@HOST: use %s", text, hint);
        else if (parse_port(rest, strlen(rest)))
            snprintf(err, errlen, "\"%s\" names no address: use "
                     "%s:%s@%s to listen on loopback only, or %s:%s@%s "
                     "for every interface", text, fam, rest,
                     v6 ? "::1" : "127.0.0.1", fam, rest,
                     v6 ? "::" : "0.0.0.0");
        else
            snprintf(err, errlen, "%s, not \"%s\"", EXPECTED, text);
        return -1;
    }
    if ((out->port = parse_port(rest, (size_t)(at - rest))) == 0) {
        snprintf(err, errlen, "\"%s\": the port must be a number from 1 "
                 "to 65535 (%s:PORT@HOST)", text, fam);
        return -1;
    }
    const char *host = at + 1;
    if (!v6 && strchr(host, ':') != NULL) {
        snprintf(err, errlen, "\"%s\": an IPv6 address needs inet6: "
                 "use inet6:%u@%s", text, out->port, host);
        return -1;
    }
    if (strlen(host) >= sizeof out->host ||
        !(inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) == 1 ||
          valid_hostname(host))) {
        snprintf(err, errlen, "\"%s\": \"%s\" is not an %s address or a "
                 "host name", text, host, v6 ? "IPv6" : "IPv4");
        return -1;
    }
    out->family = v6 ? SOCKSPEC_INET6 : SOCKSPEC_INET;
    snprintf(out->host, sizeof out->host, "%s", host);
    snprintf(out->conn, sizeof out->conn, "%s:%u@%s", fam, out->port, host);
    return 0;
}

int sockspec_parse(const char *text, struct sockspec *out, char *err,
                   size_t errlen)
{
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : 0;
    char hint[400];

    memset(out, 0, sizeof *out);
    if (text[0] == '/')
        return parse_unix(text, text, out, err, errlen);
    if (colon && ((n == 4 && strncasecmp(text, "unix", 4) == 0) ||
                  (n == 5 && strncasecmp(text, "local", 5) == 0)))
        return parse_unix(text, colon + 1, out, err, errlen);
    if (colon && n == 4 && strncasecmp(text, "inet", 4) == 0)
        return parse_inet(text, "inet", colon + 1, 0, out, err, errlen);
    if (colon && n == 5 && strncasecmp(text, "inet6", 5) == 0)
        return parse_inet(text, "inet6", colon + 1, 1, out, err, errlen);
    if (postfix_hint(text, hint, sizeof hint))
        snprintf(err, errlen, "%s, not \"%s\" (use %s)", EXPECTED, text,
                 hint);
    else
        snprintf(err, errlen, "%s, not \"%s\"", EXPECTED, text);
    return -1;
}
