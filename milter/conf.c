/*
 * conf.c - smime-milter.conf(5).
 *
 * The key table below is the single source of truth: each row names a
 * key, its value type, its default (as text, parsed by the same code as
 * the file) and a one-line description.  Parsing fills a config_t; then
 * the derived state (trust store, policy, outbound state) is built, so a
 * config_t is a complete, immutable snapshot shared by reference count.
 * Every problem is reported as "FILE:LINE: message"; parsing goes on so
 * that -n lists them all.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "arheader.h"
#include "certstore.h"
#include "conf.h"
#include "conf_check.h"
#include "encpolicy.h"
#include "errbuf.h"
#include "outbound.h"
#include "sockspec.h"
#include "spool.h"
#include "token.h"

enum ktype {
    T_STRING, T_PATHS, T_BOOL, T_SIZE, T_MODE, T_NETS, T_ONERROR,
    T_LOGLEVEL, T_FACILITY, T_SOCKET, T_USER, T_HEADER, T_DIR, T_AUTHSERV,
    T_ENCLEVEL
};

struct key {
    struct config_key_info info;
    enum ktype type;
    size_t off;              /* offset of the field in config_t */
    const char *dflt;        /* parsed default, NULL: none / computed */
    size_t noff;             /* list types: offset of the item count */
};

#define F(m) offsetof(config_t, m)
static const struct key keys[] = {
    {{"Socket", "(required)", "where to listen: inet:PORT@HOST, "
      "inet6:PORT@HOST, unix:PATH, local:PATH or an absolute path"}, T_SOCKET, F(socket), NULL, 0},
    {{"Mode", "sv", "letters: v verify inbound, s sign outbound, "
      "d decrypt inbound, e encrypt outbound"},
     T_MODE, F(mode), "sv", 0},
    {{"AuthservID", "host name", "authserv-id in Authentication-Results: "
      "a bare domain name"}, T_AUTHSERV, F(authserv_id), NULL, 0},
    {{"TrustAnchorFile", "none", "PEM file of trusted roots; repeatable"},
     T_PATHS, F(trust_anchor_files), NULL, F(n_trust_anchor_files)},
    {{"TrustSystemStore", "no", "also trust the system CA store"},
     T_BOOL, F(trust_system_store), "no", 0},
    {{"CRLFile", "none", "PEM or DER CRL file; repeatable"},
     T_PATHS, F(crl_files), NULL, F(n_crl_files)},
    {{"Keystore", "none", "CDB file built by smime-keystore (needed for s)"},
     T_STRING, F(keystore), NULL, 0},
    {{"PKCS11Module", "p11-kit", "PKCS#11 module (shared library) for "
      "keystore keys on a token; default: the modules p11-kit loads"},
     T_STRING, F(pkcs11_module), NULL, 0},
    {{"PKCS11PinFile", "none", "file holding the token's user PIN (mode "
      "0600, owned by the daemon's user)"},
     T_STRING, F(pkcs11_pin_file), NULL, 0},
    {{"CertificateStore", "none", "recipient certificate store managed by "
      "smime-certstore (needed for e)"},
     T_STRING, F(certificate_store), NULL, 0},
    {{"Harvest", "yes", "store signer certificates of inbound pass mail in "
      "CertificateStore"}, T_BOOL, F(harvest), "yes", 0},
    {{"EncryptPolicyFile", "none", "ADDRESS, DOMAIN or .DOMAIN then never, "
      "opportunistic or required, one per line; the most specific wins"},
     T_STRING, F(encrypt_policy_file), NULL, 0},
    {{"EncryptDefault", "opportunistic", "policy for recipients the "
      "EncryptPolicyFile does not name"},
     T_ENCLEVEL, F(encrypt_default), "opportunistic", 0},
    {{"EncryptSplit", "no", "split opportunistic recipients with and "
      "without certificates with 452"}, T_BOOL, F(encrypt_split), "no", 0},
    {{"InternalHosts", "none", "clients (IPs, CIDRs) whose mail is "
      "outbound without SASL; none for no client"},
     T_NETS, F(internal_hosts), NULL, F(n_internal_hosts)},
    {{"RequireFromMatch", "yes", "signer address must match From (else "
      "policy)"}, T_BOOL, F(require_from_match), "yes", 0},
    {{"AllowSHA1", "no", "SHA-1 signatures give policy unless yes"},
     T_BOOL, F(allow_sha1), "no", 0},
    {{"AddNoneResult", "yes", "add smime=none to unsigned inbound mail"},
     T_BOOL, F(add_none_result), "yes", 0},
    {{"SignSkipDKIM", "yes", "do not sign mail that already has a "
      "DKIM-Signature"}, T_BOOL, F(sign_skip_dkim), "yes", 0},
    {{"TagHeader", "none", "header added with the verified signer address"},
     T_HEADER, F(tag_header), NULL, 0},
    {{"DecryptHeader", "X-SMIME-Decrypted", "header added to mail decrypted "
      "here (forged copies always removed)"},
     T_HEADER, F(decrypt_header), "X-SMIME-Decrypted", 0},
    {{"OnError", "tempfail", "internal error: tempfail or accept"},
     T_ONERROR, F(on_error_accept), "tempfail", 0},
    {{"SpoolThreshold", "1048576", "bytes kept in memory per message "
      "before spilling"}, T_SIZE, F(spool_threshold), "1048576", 0},
    {{"SpoolDirectory", SPOOL_DEFAULT_DIR, "where spill files go"},
     T_DIR, F(spool_directory), SPOOL_DEFAULT_DIR, 0},
    {{"MaxMessageSize", "0", "larger messages pass unverified and unsigned; "
      "0: no limit"}, T_SIZE, F(max_message_size), "0", 0},
    {{"UserID", "none", "user[:group] to switch to after binding the "
      "socket"}, T_USER, F(user_id), NULL, 0},
    {{"PidFile", "none", "pid file"}, T_STRING, F(pid_file), NULL, 0},
    {{"StatsFile", "none", "file the counters are written to on SIGUSR1 "
      "and every StatsInterval; *.prom: Prometheus format"},
     T_STRING, F(stats_file), NULL, 0},
    {{"StatsInterval", "60", "seconds between rewrites of StatsFile; 0: "
      "only on SIGUSR1"}, T_SIZE, F(stats_interval), "60", 0},
    {{"LogLevel", "info", "err, warning, notice, info or debug"},
     T_LOGLEVEL, F(log_level), "info", 0},
    {{"SyslogFacility", "mail", "syslog facility"},
     T_FACILITY, F(syslog_facility), "mail", 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

size_t config_key_count(void)
{
    return NKEYS;
}

const struct config_key_info *config_key(size_t i)
{
    return i < NKEYS ? &keys[i].info : NULL;
}

size_t config_setting_count(const config_t *c)
{
    return c->n_settings;
}

const struct config_setting *config_setting(const config_t *c, size_t j)
{
    return j < c->n_settings ? &c->settings[j] : NULL;
}

/* Note that key i got text v on line (0: its default); a value from the
 * file replaces the default.  Kept in key order.  -1 out of memory. */
static int note_setting(config_t *c, size_t i, unsigned line, const char *v)
{
    struct config_setting *s;
    size_t at = 0, j;

    for (j = 0; j < c->n_settings; j++) {
        if (line && c->settings[j].key == i && c->settings[j].line == 0) {
            free(c->settings[j].value);
            memmove(&c->settings[j], &c->settings[j + 1],
                    (--c->n_settings - j) * sizeof *s);
            j--;
        }
    }
    while (at < c->n_settings && c->settings[at].key <= i)
        at++;
    if ((s = realloc(c->settings, (c->n_settings + 1) * sizeof *s)) == NULL)
        return -1;
    c->settings = s;
    memmove(&s[at + 1], &s[at], (c->n_settings - at) * sizeof *s);
    s[at] = (struct config_setting){i, line, strdup(v)};
    c->n_settings++;
    return s[at].value ? 0 : -1;
}

/* ---- parse state and reporting ---- */

struct pstate {
    config_t *c;
    const char *name;
    unsigned line;
    unsigned seen[NKEYS];        /* line where each key was set, 0: not */
    unsigned *path_lines[NKEYS]; /* per repeatable entry, its line */
    int errors;
    config_report_fn report;
    void *arg;
    unsigned flags;              /* CONFIG_* load flags */
};

static void problem(struct pstate *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct pstate *ps, unsigned line, const char *fmt, ...)
{
    char msg[1024], out[1400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        snprintf(out, sizeof out, "%s:%u: %s", ps->name, line, msg);
    else
        snprintf(out, sizeof out, "%s: %s", ps->name, msg);
    ps->errors++;
    if (ps->report)
        ps->report(ps->arg, out);
}

/* ---- value parsers: 0 ok, -1 with a message reported ---- */

static int parse_bool(const char *v, int *out)
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

static int parse_size(const char *v, uint64_t *out)
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

static int check_user(const char *v, char *err, size_t errlen)
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

/* RFC 5322 field-name: one or more printable US-ASCII characters but
 * the colon. */
static int valid_header_name(const char *v)
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

static const char *reserved_header(const config_t *c, const char *name)
{
    return reserved_header_of(c, name, 0);
}

/* AuthservID (SPEC): a bare domain name, or the forged-header check and
 * the header we write disagree with every reader about who we are.  The
 * message says what to write instead. */
static void authserv_problem(struct pstate *ps, unsigned line,
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
        problem(ps, line, "%s %s%s%s is not a bare domain name: write "
                "AuthservID %s", what, q, v, q, bare);
    else
        problem(ps, line, "%s %s%s%s is not a domain name: write "
                "AuthservID and this host's name, letters, digits, hyphens "
                "and dots only, no quotes (e.g. AuthservID mx.example.net)",
                what, q, v, q);
}

/* ---- one key ---- */

#define FIELD(c, k, t) ((t *)(void *)((char *)(c) + (k)->off))
#define COUNT(c, k) ((size_t *)(void *)((char *)(c) + (k)->noff))

static int set_string(char **dst, const char *v)
{
    char *s = strdup(v);
    if (s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int add_path(struct pstate *ps, const struct key *k, const char *v)
{
    size_t *n = COUNT(ps->c, k), i = (size_t)(k - keys);
    char ***vec = FIELD(ps->c, k, char **);
    char **nv = realloc(*vec, (*n + 1) * sizeof *nv);
    unsigned *nl;

    if (nv == NULL)
        return -1;
    *vec = nv;
    nl = realloc(ps->path_lines[i], (*n + 1) * sizeof *nl);
    if (nl == NULL)
        return -1;
    ps->path_lines[i] = nl;
    if ((nv[*n] = strdup(v)) == NULL)
        return -1;
    nl[*n] = ps->line;
    (*n)++;
    return 0;
}

/* Set key k from text v. Reports problems; returns -1 only on ENOMEM. */
static int set_value(struct pstate *ps, const struct key *k, const char *v)
{
    config_t *c = ps->c;
    const char *name = k->info.name;
    char err[700];
    uint64_t size;
    int b;

    switch (k->type) {
    case T_SOCKET:
    {
        struct sockspec ss;
        if (sockspec_parse(v, &ss, err, sizeof err) != 0) {
            problem(ps, ps->line, "%s: %s", name, err);
            return 0;
        }
        return set_string(FIELD(c, k, char *), v);
    }
    case T_STRING:
        return set_string(FIELD(c, k, char *), v);
    case T_AUTHSERV:
        if (!arheader_id_valid(v)) {
            authserv_problem(ps, ps->line, "AuthservID:", v);
            return 0;
        }
        return set_string(FIELD(c, k, char *), v);
    case T_HEADER:
        if (!valid_header_name(v)) {
            problem(ps, ps->line, "%s: \"%s\" is not a header name "
                    "(printable ASCII but the colon, no spaces)", name, v);
            return 0;
        }
        return set_string(FIELD(c, k, char *), v);
    case T_DIR:          /* checked once the whole file is read */
        return set_string(FIELD(c, k, char *), v);
    case T_USER:
        if (check_user(v, err, sizeof err) != 0) {
            problem(ps, ps->line, "%s", err);
            return 0;
        }
        return set_string(FIELD(c, k, char *), v);
    case T_PATHS:
        return add_path(ps, k, v);
    case T_BOOL:
        if (parse_bool(v, &b) != 0)
            problem(ps, ps->line, "%s: expected yes or no, not \"%s\"",
                    name, v);
        else
            *FIELD(c, k, int) = b;
        return 0;
    case T_SIZE:
        if (parse_size(v, &size) != 0)
            problem(ps, ps->line, "%s: expected a size in bytes (k and M "
                    "suffixes allowed), not \"%s\"", name, v);
        else
            *FIELD(c, k, uint64_t) = size;
        return 0;
    case T_MODE: {
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
            problem(ps, ps->line, "%s: expected letters out of v, s, d "
                    "and e (such as sv), not \"%s\"", name, v);
        else
            *FIELD(c, k, unsigned) = m;
        return 0;
    }
    case T_NETS: {
        struct netacc na = {0};
        if (list_each(v, net_add, &na) != 0) {
            free(na.v);
            if (na.bad && strcmp(na.bad, "(out of memory)") == 0)
                return -1;
            problem(ps, ps->line, "%s: \"%s\" is not an IP address or "
                    "CIDR", name, na.bad ? na.bad : v);
            return 0;
        }
        if (na.none && na.n) {
            free(na.v);
            problem(ps, ps->line, "%s: none cannot be combined with "
                    "addresses", name);
            return 0;
        }
        free(*FIELD(c, k, struct config_net *));
        *FIELD(c, k, struct config_net *) = na.v;
        *COUNT(c, k) = na.n;
        return 0;
    }
    case T_ONERROR:
        if (strcasecmp(v, "tempfail") == 0)
            *FIELD(c, k, int) = 0;
        else if (strcasecmp(v, "accept") == 0)
            *FIELD(c, k, int) = 1;
        else
            problem(ps, ps->line, "%s: expected tempfail or accept, not "
                    "\"%s\"", name, v);
        return 0;
    case T_ENCLEVEL: {
        enum encpolicy_level l;
        if (encpolicy_level_parse(v, &l) != 0)
            problem(ps, ps->line, "%s: expected never, opportunistic or "
                    "required, not \"%s\"", name, v);
        else
            *FIELD(c, k, int) = (int)l;
        return 0;
    }
    case T_LOGLEVEL:
    case T_FACILITY:
        if (lookup_name(v, FIELD(c, k, int), k->type == T_FACILITY) != 0)
            problem(ps, ps->line, k->type == T_FACILITY
                    ? "%s: unknown syslog facility \"%s\""
                    : "%s: expected err, warning, notice, info or debug, "
                      "not \"%s\"", name, v);
        return 0;
    }
    return 0;
}

/* ---- lines ---- */

static int parse_line(struct pstate *ps, char *line)
{
    char *p = line, *key, *v, *end;
    size_t i;

    if ((end = strchr(p, '#')) != NULL)
        *end = '\0';
    while (isspace((unsigned char)*p))
        p++;
    end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = '\0';
    if (!*p)
        return 0;
    key = p;
    p += strcspn(p, " \t=");
    if (*p)
        *p++ = '\0';
    while (isspace((unsigned char)*p) || *p == '=')
        p++;
    v = p;
    for (i = 0; i < NKEYS; i++)
        if (strcasecmp(key, keys[i].info.name) == 0)
            break;
    if (i == NKEYS) {
        problem(ps, ps->line, "unknown key \"%s\"", key);
        return 0;
    }
    if (!*v) {
        problem(ps, ps->line, "%s: missing value", keys[i].info.name);
        return 0;
    }
    if (ps->seen[i] && keys[i].type != T_PATHS) {
        problem(ps, ps->line, "%s already set on line %u",
                keys[i].info.name, ps->seen[i]);
        return 0;
    }
    ps->seen[i] = ps->line;
    if (note_setting(ps->c, i, ps->line, v) != 0)
        return -1;
    return set_value(ps, &keys[i], v);
}

static int apply_defaults(struct pstate *ps)
{
    char host[256];

    ps->line = 0;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].dflt && (note_setting(ps->c, i, 0, keys[i].dflt) != 0 ||
                             set_value(ps, &keys[i], keys[i].dflt) != 0))
            return -1;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].off == F(authserv_id) &&
            note_setting(ps->c, i, 0, host) != 0)
            return -1;
    return set_string(&ps->c->authserv_id, host);
}

static unsigned key_line(const struct pstate *ps, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].info.name, name) == 0)
            return ps->seen[i];
    return 0;
}

/* Every message loses all headers named TagHeader: never one that
 * belongs to someone else.  After the whole file, as DecryptHeader may
 * come later. */
static void check_header_names(struct pstate *ps)
{
    const char *why;

    if (ps->c->tag_header &&
        (why = reserved_header(ps->c, ps->c->tag_header)) != NULL)
        problem(ps, key_line(ps, "TagHeader"), "TagHeader: %s is %s and "
                "every copy of it would be deleted from every message: "
                "choose a name of your own, e.g. TagHeader X-SMIME-Verified",
                ps->c->tag_header, why);
    if ((why = reserved_header_of(ps->c, decrypt_header_name(ps->c), 1)) !=
        NULL)
        problem(ps, key_line(ps, "DecryptHeader"), "DecryptHeader: %s is %s "
                "and every copy of it would be deleted from every message: "
                "choose a name of your own, e.g. DecryptHeader "
                "X-SMIME-Decrypted", decrypt_header_name(ps->c), why);
}

/* EncryptPolicyFile problems come as "POLICYFILE:LINE: message". */
static void policy_report(void *arg, const char *msg)
{
    struct pstate *ps = arg;

    ps->errors++;
    if (ps->report)
        ps->report(ps->arg, msg);
}

/* The policy file is part of the configuration: read with it, so -n
 * checks it and a SIGHUP reloads it (a broken one keeps the old
 * snapshot). */
static void load_policy_file(struct pstate *ps)
{
    config_t *c = ps->c;
    int before = ps->errors;

    if (c->encrypt_policy_file == NULL)
        return;
    c->encpolicy = encpolicy_load(c->encrypt_policy_file, policy_report, ps);
    if (c->encpolicy == NULL && ps->errors == before)
        problem(ps, key_line(ps, "EncryptPolicyFile"), "EncryptPolicyFile: "
                "%s cannot be used", c->encrypt_policy_file);
}

/* AuthservID defaults to the host name, which must be a domain name too:
 * checked once the file had its chance to set it. */
static void check_default_authserv(struct pstate *ps)
{
    if (!key_line(ps, "AuthservID") && !arheader_id_valid(ps->c->authserv_id))
        authserv_problem(ps, 0, "AuthservID is not set and the host name",
                         ps->c->authserv_id);
}

/* conf_check.c's findings, with the line of the key (of entry i of a
 * repeatable key); warnings only where they are asked for (-n, start). */
static void check_report(void *arg, const char *key, size_t i, int warning,
                         const char *msg)
{
    struct pstate *ps = arg;
    unsigned line = 0;
    char out[1400];

    for (size_t k = 0; *key && k < NKEYS; k++)
        if (strcmp(keys[k].info.name, key) == 0)
            line = keys[k].type == T_PATHS && ps->path_lines[k]
                       ? ps->path_lines[k][i] : ps->seen[k];
    if (!warning) {
        problem(ps, line, "%s", msg);
        return;
    }
    if (!(ps->flags & CONFIG_CHECK) || ps->report == NULL)
        return;
    if (line)
        snprintf(out, sizeof out, "%s:%u: warning: %s", ps->name, line, msg);
    else
        snprintf(out, sizeof out, "%s: warning: %s", ps->name, msg);
    ps->report(ps->arg, out);
}

/* At -n and at load the certificate store is opened read-only, to
 * report a missing or unreadable one, and closed; the daemon opens it
 * for good on first use (config_certstore). */
static void check_certificate_store(struct pstate *ps)
{
    char err[600];
    certstore_t *cs = certstore_open(ps->c->certificate_store,
                                     CERTSTORE_RDONLY, 0, err, sizeof err);

    if (cs == NULL)
        problem(ps, key_line(ps, "CertificateStore"), "CertificateStore: %s",
                err);
    certstore_free(cs);
}

const char *config_spool_dir(const config_t *c)
{
    return c->spool_directory ? c->spool_directory : SPOOL_DEFAULT_DIR;
}

certstore_t *config_certstore(config_t *c, char *err, size_t errlen)
{
    certstore_t *cs;

    if (c->certificate_store == NULL) {
        snprintf(err, errlen, "no CertificateStore");
        return NULL;
    }
    pthread_mutex_lock(&c->certstore_lock);
    if ((cs = c->certstore_handle) == NULL)
        cs = c->certstore_handle = certstore_open(c->certificate_store,
                c->harvest ? CERTSTORE_RDWR : CERTSTORE_RDONLY, 0, err,
                errlen);
    pthread_mutex_unlock(&c->certstore_lock);
    return cs;
}

/* PKCS11Module and PKCS11PinFile: the token provider for keystore keys
 * on a token (crypto/token.h; process-wide, a reload may change it). */
static void setup_token(struct pstate *ps)
{
    config_t *c = ps->c;
    char pin[256], err[512];
    int have_pin = 0;

    if (c->pkcs11_pin_file) {
        if (smime_token_read_pin(c->pkcs11_pin_file, pin, sizeof pin, err,
                                 sizeof err) < 0) {
            problem(ps, key_line(ps, "PKCS11PinFile"), "PKCS11PinFile: %s",
                    err);
            return;
        }
        have_pin = 1;
    }
    /* a module that does not load is a token failure like the others:
     * messages needing it get OnError, each use tries it again */
    if (smime_token_setup(c->pkcs11_module, have_pin ? pin : NULL, err,
                          sizeof err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "PKCS11Module: %s (keys on a token "
                 "cannot be used until it loads)", err);
        check_report(ps, "PKCS11Module", 0, 1, msg);
    }
    gnutls_memset(pin, 0, sizeof pin);
}

/* Trust store, policy, outbound state. */
static int build_derived(struct pstate *ps)
{
    config_t *c = ps->c;
    char err[512];
    size_t ta = 0, crl = 0;

    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].off == F(trust_anchor_files))
            ta = i;
        if (keys[i].off == F(crl_files))
            crl = i;
    }
    smime_policy_default(&c->policy);
    c->policy.require_from_match = c->require_from_match;
    c->policy.allow_sha1 = c->allow_sha1;
    /* inbound.c harvests only then: spare the verifier its pick */
    c->policy.harvest = c->harvest && c->certificate_store != NULL;
    if ((c->trust = smime_trust_new()) == NULL)
        return -1;
    for (size_t i = 0; i < c->n_trust_anchor_files; i++)
        if (smime_trust_add_anchors(c->trust, c->trust_anchor_files[i],
                                    err, sizeof err) < 0)
            problem(ps, ps->path_lines[ta][i], "TrustAnchorFile: %s", err);
    if (c->trust_system_store &&
        smime_trust_add_system(c->trust, err, sizeof err) < 0)
        problem(ps, key_line(ps, "TrustSystemStore"),
                "TrustSystemStore: %s", err);
    for (size_t i = 0; i < c->n_crl_files; i++)
        if (smime_trust_add_crl(c->trust, c->crl_files[i],
                                err, sizeof err) < 0)
            problem(ps, ps->path_lines[crl][i], "CRLFile: %s", err);
    if ((c->mode & CONFIG_MODE_VERIFY) && c->n_trust_anchor_files == 0 &&
        !c->trust_system_store)
        problem(ps, 0, "Mode has v but no TrustAnchorFile is given and "
                "TrustSystemStore is no: nothing could pass");
    if (c->certificate_store)
        check_certificate_store(ps);
    setup_token(ps);            /* also when a reload dropped the keys */
    if ((c->mode & (CONFIG_MODE_SIGN | CONFIG_MODE_DECRYPT)) &&
        !(ps->flags & CONFIG_NO_KEYSTORE)) {
        err[0] = '\0';
        if (outbound_init(c, &c->outbound, err, sizeof err) != 0)
            problem(ps, key_line(ps, "Keystore"), "Keystore: %s",
                    err[0] ? err : "cannot be used");
    }
    return 0;
}

/* ---- load ---- */

static void config_destroy(config_t *c)
{
    if (c == NULL)
        return;
    if (c->outbound)
        outbound_state_free(c->outbound);
    certstore_free(c->certstore_handle);
    pthread_mutex_destroy(&c->certstore_lock);
    smime_trust_free(c->trust);
    free(c->socket);
    free(c->authserv_id);
    for (size_t i = 0; i < c->n_trust_anchor_files; i++)
        free(c->trust_anchor_files[i]);
    free(c->trust_anchor_files);
    for (size_t i = 0; i < c->n_crl_files; i++)
        free(c->crl_files[i]);
    free(c->crl_files);
    free(c->keystore);
    free(c->pkcs11_module);
    free(c->pkcs11_pin_file);
    free(c->certificate_store);
    free(c->encrypt_policy_file);
    encpolicy_free(c->encpolicy);
    free(c->internal_hosts);
    free(c->tag_header);
    free(c->decrypt_header);
    free(c->spool_directory);
    free(c->user_id);
    free(c->pid_file);
    free(c->stats_file);
    free(c->path_buf);
    for (size_t i = 0; i < c->n_settings; i++)
        free(c->settings[i].value);
    free(c->settings);
    free(c);
}

static config_t *load_stream(const char *name, FILE *fp, unsigned flags,
                             config_report_fn report, void *arg)
{
    char eb[128];               /* smime_strerror() text */
    struct pstate ps = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int oom = 0;

    ps.name = name;
    ps.report = report;
    ps.arg = arg;
    ps.flags = flags;
    if ((ps.c = calloc(1, sizeof *ps.c)) == NULL ||
        (ps.c->path_buf = strdup(name)) == NULL)
        oom = 1;
    if (!oom) {
        pthread_mutex_init(&ps.c->certstore_lock, NULL);
        ps.c->refs = 1;
        ps.c->path = ps.c->path_buf;
        oom = apply_defaults(&ps) != 0;
    }
    while (!oom && (len = getline(&line, &cap, fp)) >= 0) {
        ps.line++;
        if (strlen(line) != (size_t)len) {
            problem(&ps, ps.line, "NUL byte in line");
            continue;
        }
        oom = parse_line(&ps, line) != 0;
    }
    free(line);
    if (!oom) {
        check_default_authserv(&ps);
        check_header_names(&ps);
        load_policy_file(&ps);
    }
    if (!oom && ferror(fp))
        problem(&ps, 0, "read error: %s",
                smime_strerror(errno, eb, sizeof eb));
    if (!oom && (flags & CONFIG_NEED_SOCKET) && ps.c->socket == NULL)
        problem(&ps, 0, "Socket is required (or give -p)");
    if (!oom)
        conf_check_settings(ps.c, check_report, &ps);
    /* the files named are opened even after other problems, so that -n
     * reports everything at once */
    if (!oom && !(flags & CONFIG_NO_DERIVED))
        oom = build_derived(&ps) != 0;
    if (!oom && (flags & CONFIG_CHECK))
        conf_check_files(ps.c, key_line(&ps, "Mode") != 0, time(NULL),
                         check_report, &ps);
    if (oom)
        problem(&ps, 0, "out of memory");
    for (size_t i = 0; i < NKEYS; i++)
        free(ps.path_lines[i]);
    if (ps.errors) {
        config_destroy(ps.c);
        return NULL;
    }
    return ps.c;
}

config_t *config_load(const char *path, unsigned flags,
                      config_report_fn report, void *arg)
{
    char eb[128];               /* smime_strerror() text */
    FILE *fp = fopen(path, "re");
    config_t *c;

    if (fp == NULL) {
        if (report) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s: cannot open: %s", path,
                     smime_strerror(errno, eb, sizeof eb));
            report(arg, msg);
        }
        return NULL;
    }
    c = load_stream(path, fp, flags, report, arg);
    fclose(fp);
    return c;
}

config_t *config_load_string(const char *name, const char *text,
                             unsigned flags, config_report_fn report,
                             void *arg)
{
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    config_t *c;

    if (fp == NULL)
        return NULL;
    c = load_stream(name, fp, flags, report, arg);
    fclose(fp);
    return c;
}

/* ---- references ---- */

config_t *config_ref(config_t *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void config_unref(config_t *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        config_destroy(c);
}

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static config_t *current;

config_t *config_current_get(void)
{
    config_t *c;

    pthread_mutex_lock(&current_lock);
    c = config_ref(current);
    pthread_mutex_unlock(&current_lock);
    return c;
}

void config_current_set(config_t *c)
{
    config_t *old;

    pthread_mutex_lock(&current_lock);
    old = current;
    current = c;
    pthread_mutex_unlock(&current_lock);
    config_unref(old);
}
