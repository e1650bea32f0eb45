/*
 * conf_value.c - the syntax and rules of configuration values: yes/no,
 * sizes, Mode letters, InternalHosts networks (and the matcher the
 * session asks), syslog names, UserID, the header names our keys may
 * take, and what to write instead of a bad AuthservID.  The key table
 * (conf.c) says which key takes which; nothing here knows the table.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "arheader.h"
#include "conf_priv.h"

/* ---- value parsers: 0 ok, -1 not a valid value ---- */

int conf_parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"yes", "true", "1", "on"};
    static const char *no[] = {"no", "false", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

int conf_parse_size(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n;

    if (!isdigit((unsigned char)*v))
        return -1;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno)
        return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || n > UINT64_MAX / mul)
        return -1;
    *out = n * mul;
    return 0;
}

/* Letters out of v, s, d and e, at least one. */
int conf_parse_mode(const char *v, unsigned *out)
{
    static const char letters[] = "vsde";
    static const unsigned bits[] = {CONFIG_MODE_VERIFY, CONFIG_MODE_SIGN,
                                    CONFIG_MODE_DECRYPT,
                                    CONFIG_MODE_ENCRYPT};
    unsigned m = 0;
    const char *p, *l;

    for (p = v; *p && (l = strchr(letters, tolower((unsigned char)*p)));
         p++)
        m |= bits[l - letters];
    if (*p || !m)
        return -1;
    *out = m;
    return 0;
}

/* ---- InternalHosts ---- */

/* One InternalHosts item: ADDR or ADDR/PREFIX. */
static int parse_net(const char *item, struct config_net *net)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash, *end;
    unsigned char a4[4];
    long prefix = -1;

    if (strlen(item) >= sizeof buf)
        return -1;
    strcpy(buf, item);
    if ((slash = strchr(buf, '/')) != NULL) {
        *slash++ = '\0';
        if (!isdigit((unsigned char)*slash))
            return -1;
        prefix = strtol(slash, &end, 10);
        if (*end)
            return -1;
    }
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, buf, a4) == 1) {
        if (prefix > 32)
            return -1;
        net->addr[10] = net->addr[11] = 0xff;
        memcpy(net->addr + 12, a4, 4);
        net->prefix = (unsigned)(prefix < 0 ? 32 : prefix) + 96;
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        if (prefix > 128)
            return -1;
        net->prefix = (unsigned)(prefix < 0 ? 128 : prefix);
    } else {
        return -1;
    }
    return 0;
}

static int net_match(const struct config_net *net, const unsigned char *a)
{
    unsigned bytes = net->prefix / 8, bits = net->prefix % 8;

    if (memcmp(net->addr, a, bytes) != 0)
        return 0;
    if (bits) {
        unsigned char mask = (unsigned char)(0xff << (8 - bits));
        if ((net->addr[bytes] & mask) != (a[bytes] & mask))
            return 0;
    }
    return 1;
}

int config_is_internal(const config_t *c, const char *addr)
{
    struct config_net probe;

    if (addr == NULL || parse_net(addr, &probe) != 0 ||
        probe.prefix != 128)
        return 0;
    for (size_t i = 0; i < c->n_internal_hosts; i++)
        if (net_match(&c->internal_hosts[i], probe.addr))
            return 1;
    return 0;
}

/* Split a list value on commas and white space. Calls fn per item. */
static int list_each(const char *v, int (*fn)(void *, const char *),
                     void *arg)
{
    char item[256];

    while (*v) {
        size_t n = strcspn(v, ", \t");
        if (n >= sizeof item)
            return -1;
        if (n) {
            memcpy(item, v, n);
            item[n] = '\0';
            if (fn(arg, item) != 0)
                return -1;
        }
        v += n;
        v += strspn(v, ", \t");
    }
    return 0;
}

struct netacc {
    struct config_net *v;
    size_t n;
    int none;
    const char *bad;
    char badbuf[256];
};

static int net_add(void *arg, const char *item)
{
    struct netacc *na = arg;
    struct config_net net, *nv;

    if (strcasecmp(item, "none") == 0) {
        na->none = 1;
        return 0;
    }
    if (parse_net(item, &net) != 0) {
        snprintf(na->badbuf, sizeof na->badbuf, "%s", item);
        na->bad = na->badbuf;
        return -1;
    }
    nv = realloc(na->v, (na->n + 1) * sizeof *nv);
    if (nv == NULL) {
        na->bad = "(out of memory)";
        return -1;
    }
    na->v = nv;
    na->v[na->n++] = net;
    return 0;
}

int conf_parse_nets(const char *v, struct config_net **out, size_t *n,
                    char *bad, size_t badlen)
{
    struct netacc na = {0};

    if (list_each(v, net_add, &na) != 0) {
        free(na.v);
        if (na.bad && strcmp(na.bad, "(out of memory)") == 0)
            return -2;
        snprintf(bad, badlen, "\"%s\" is not an IP address or CIDR",
                 na.bad ? na.bad : v);
        return -1;
    }
    if (na.none && na.n) {
        free(na.v);
        snprintf(bad, badlen, "none cannot be combined with addresses");
        return -1;
    }
    free(*out);
    *out = na.v;
    *n = na.n;
    return 0;
}

/* ---- syslog names, UserID ---- */

static const struct {
    const char *name;
    int value;
} levels[] = {
    {"err", LOG_ERR}, {"error", LOG_ERR}, {"warning", LOG_WARNING},
    {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
}, facilities[] = {
    {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

static int lookup_name(const char *v, int *out, int which)
{
    size_t n = which ? sizeof facilities / sizeof facilities[0]
                     : sizeof levels / sizeof levels[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = which ? facilities[i].name : levels[i].name;
        if (strcasecmp(v, name) == 0) {
            *out = which ? facilities[i].value : levels[i].value;
            return 0;
        }
    }
    return -1;
}

int conf_parse_level(const char *v, int *out)
{
    return lookup_name(v, out, 0);
}

int conf_parse_facility(const char *v, int *out)
{
    return lookup_name(v, out, 1);
}

int conf_check_user(const char *v, char *err, size_t errlen)
{
    char name[256];
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : strlen(v);

    if (n == 0 || n >= sizeof name || (colon && !colon[1])) {
        snprintf(err, errlen, "UserID must be user or user:group");
        return -1;
    }
    memcpy(name, v, n);
    name[n] = '\0';
    if (getpwnam(name) == NULL) {
        snprintf(err, errlen, "UserID: unknown user %s", name);
        return -1;
    }
    if (colon && getgrnam(colon + 1) == NULL) {
        snprintf(err, errlen, "UserID: unknown group %s", colon + 1);
        return -1;
    }
    return 0;
}

/* ---- header names ---- */

/* RFC 5322 field-name: one or more printable US-ASCII characters but
 * the colon. */
int conf_valid_header_name(const char *v)
{
    if (!*v)
        return 0;
    for (; *v; v++)
        if ((unsigned char)*v <= 32 || (unsigned char)*v >= 127 || *v == ':')
            return 0;
    return 1;
}

/* The name DecryptHeader (SPEC) gives decrypted mail (check_header_names
 * runs after the whole file is read, so TagHeader and DecryptHeader may
 * come in any order). */
static const char *decrypt_header_name(const config_t *c)
{
    return c->decrypt_header ? c->decrypt_header : "X-SMIME-Decrypted";
}

/* Header names a header-name key (TagHeader) may not take: we delete
 * every header of that name from every message, so a standard or
 * security-relevant one would destroy mail or other hosts' verdicts.
 * RFC 5322 and MIME fields, trace fields, other authentication results
 * and signatures (RFC 8601, 6376, 8617, 7208), fields MTAs rely on for
 * loops and auto-replies, and the mailing-list fields (RFC 2369, 2919,
 * 8058: deleting them breaks unsubscribing).  A trailing '*' is a
 * prefix. */
static const char *const reserved_headers[] = {
    "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID",
    "In-Reply-To", "References", "Subject", "Comments", "Keywords", "Date",
    "Resent-*", "Return-Path", "Received", "MIME-Version", "Content-*",
    "Authentication-Results", "DKIM-Signature", "DomainKey-Signature",
    "ARC-*", "Received-SPF", "Delivered-To", "X-Original-To",
    "Auto-Submitted", "List-*", "Archived-At", "Autocrypt",
    "Disposition-Notification-To", "Original-Recipient",
};

/* NULL, or why name cannot be a header of ours (own: the DecryptHeader
 * itself, which may not be refused for being the DecryptHeader). */
static const char *reserved_header_of(const config_t *c, const char *name,
                                      int own)
{
    for (size_t i = 0; i < sizeof reserved_headers / sizeof *reserved_headers;
         i++) {
        const char *r = reserved_headers[i];
        size_t n = strlen(r);
        if (r[n - 1] == '*' ? strncasecmp(name, r, n - 1) == 0
                            : strcasecmp(name, r) == 0)
            return "a standard or security-relevant header";
    }
    if (!own && strcasecmp(name, decrypt_header_name(c)) == 0)
        return "the DecryptHeader of decrypted mail";
    return NULL;
}

/* Every message loses all headers named TagHeader: never one that
 * belongs to someone else.  After the whole file, as DecryptHeader may
 * come later. */
void conf_check_header_names(struct pstate *ps)
{
    const char *why;

    if (ps->c->tag_header &&
        (why = reserved_header_of(ps->c, ps->c->tag_header, 0)) != NULL)
        conf_problem(ps, conf_key_line(ps, "TagHeader"), "TagHeader: %s is "
                     "%s and every copy of it would be deleted from every "
                     "message: choose a name of your own, e.g. TagHeader "
                     "X-SMIME-Verified", ps->c->tag_header, why);
    if ((why = reserved_header_of(ps->c, decrypt_header_name(ps->c), 1)) !=
        NULL)
        conf_problem(ps, conf_key_line(ps, "DecryptHeader"), "DecryptHeader: "
                     "%s is %s and every copy of it would be deleted from "
                     "every message: choose a name of your own, e.g. "
                     "DecryptHeader X-SMIME-Decrypted",
                     decrypt_header_name(ps->c), why);
}

/* ---- AuthservID ---- */

/* AuthservID (SPEC): a bare domain name, or the forged-header check and
 * the header we write disagree with every reader about who we are.  The
 * message says what to write instead. */
void conf_authserv_problem(struct pstate *ps, unsigned line,
                           const char *what, const char *v)
{
    char bare[256];
    size_t n = strlen(v);

    /* a quoted name, or one ending with a dot: show it without */
    if (n >= 2 && n < sizeof bare && v[0] == '"' && v[n - 1] == '"') {
        memcpy(bare, v + 1, n - 2);
        bare[n - 2] = '\0';
    } else if (n >= 2 && n < sizeof bare && v[n - 1] == '.') {
        memcpy(bare, v, n - 1);
        bare[n - 1] = '\0';
    } else {
        bare[0] = '\0';
    }
    /* shown in quotes, unless it has its own */
    const char *q = v[0] == '"' ? "" : "\"";
    if (bare[0] && arheader_id_valid(bare))
        conf_problem(ps, line, "%s %s%s%s is not a bare domain name: write "
                     "AuthservID %s", what, q, v, q, bare);
    else
        conf_problem(ps, line, "%s %s%s%s is not a domain name: write "
                     "AuthservID and this host's name, letters, digits, "
                     "hyphens and dots only, no quotes (e.g. AuthservID "
                     "mx.example.net)", what, q, v, q);
}

/* AuthservID defaults to the host name, which must be a domain name too:
 * checked once the file had its chance to set it. */
void conf_check_default_authserv(struct pstate *ps)
{
    if (!conf_key_line(ps, "AuthservID") &&
        !arheader_id_valid(ps->c->authserv_id))
        conf_authserv_problem(ps, 0, "AuthservID is not set and the host "
                              "name", ps->c->authserv_id);
}
