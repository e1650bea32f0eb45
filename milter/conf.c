/*
 * conf.c - smime-milter.conf(5): the key table and the lines of the file.
 *
 * The key table below is the single source of truth: each row names a
 * key, its value type, its default (as text, parsed by the same code as
 * the file) and a one-line description.  Parsing fills a config_t
 * (values: conf_value.c); then the derived state (trust store, policy,
 * outbound state: conf_snapshot.c) is built, so a config_t is a
 * complete, immutable snapshot shared by reference count.  Every
 * problem is reported as "FILE:LINE: message"; parsing goes on so that
 * -n lists them all.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "arheader.h"
#include "conf_check.h"
#include "conf_priv.h"
#include "encpolicy.h"
#include "errbuf.h"
#include "sockspec.h"
#include "spool.h"

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
_Static_assert(NKEYS == CONF_NKEYS, "CONF_NKEYS (conf_priv.h) is the "
               "number of rows of the key table");

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

/* ---- reporting, and the lines of keys ---- */

void conf_problem(struct pstate *ps, unsigned line, const char *fmt, ...)
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

unsigned conf_key_line(const struct pstate *ps, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].info.name, name) == 0)
            return ps->seen[i];
    return 0;
}

unsigned conf_entry_line(const struct pstate *ps, const char *name,
                         size_t i)
{
    for (size_t k = 0; k < NKEYS; k++)
        if (strcmp(keys[k].info.name, name) == 0)
            return keys[k].type == T_PATHS && ps->path_lines[k]
                       ? ps->path_lines[k][i] : ps->seen[k];
    return 0;
}

/* ---- one key ---- */

#define FIELD(c, k, t) ((t *)(void *)((char *)(c) + (k)->off))
#define COUNT(c, k) ((size_t *)(void *)((char *)(c) + (k)->noff))

int conf_set_string(char **dst, const char *v)
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
    unsigned mode;
    int b;

    switch (k->type) {
    case T_SOCKET:
    {
        struct sockspec ss;
        if (sockspec_parse(v, &ss, err, sizeof err) != 0) {
            conf_problem(ps, ps->line, "%s: %s", name, err);
            return 0;
        }
        return conf_set_string(FIELD(c, k, char *), v);
    }
    case T_STRING:
        return conf_set_string(FIELD(c, k, char *), v);
    case T_AUTHSERV:
        if (!arheader_id_valid(v)) {
            conf_authserv_problem(ps, ps->line, "AuthservID:", v);
            return 0;
        }
        return conf_set_string(FIELD(c, k, char *), v);
    case T_HEADER:
        if (!conf_valid_header_name(v)) {
            conf_problem(ps, ps->line, "%s: \"%s\" is not a header name "
                         "(printable ASCII but the colon, no spaces)", name,
                         v);
            return 0;
        }
        return conf_set_string(FIELD(c, k, char *), v);
    case T_DIR:          /* checked once the whole file is read */
        return conf_set_string(FIELD(c, k, char *), v);
    case T_USER:
        if (conf_check_user(v, err, sizeof err) != 0) {
            conf_problem(ps, ps->line, "%s", err);
            return 0;
        }
        return conf_set_string(FIELD(c, k, char *), v);
    case T_PATHS:
        return add_path(ps, k, v);
    case T_BOOL:
        if (conf_parse_bool(v, &b) != 0)
            conf_problem(ps, ps->line, "%s: expected yes or no, not \"%s\"",
                         name, v);
        else
            *FIELD(c, k, int) = b;
        return 0;
    case T_SIZE:
        if (conf_parse_size(v, &size) != 0)
            conf_problem(ps, ps->line, "%s: expected a size in bytes (k and "
                         "M suffixes allowed), not \"%s\"", name, v);
        else
            *FIELD(c, k, uint64_t) = size;
        return 0;
    case T_MODE:
        if (conf_parse_mode(v, &mode) != 0)
            conf_problem(ps, ps->line, "%s: expected letters out of v, s, d "
                         "and e (such as sv), not \"%s\"", name, v);
        else
            *FIELD(c, k, unsigned) = mode;
        return 0;
    case T_NETS:
        switch (conf_parse_nets(v, FIELD(c, k, struct config_net *),
                                COUNT(c, k), err, sizeof err)) {
        case -2:
            return -1;
        case -1:
            conf_problem(ps, ps->line, "%s: %s", name, err);
            return 0;
        }
        return 0;
    case T_ONERROR:
        if (strcasecmp(v, "tempfail") == 0)
            *FIELD(c, k, int) = 0;
        else if (strcasecmp(v, "accept") == 0)
            *FIELD(c, k, int) = 1;
        else
            conf_problem(ps, ps->line, "%s: expected tempfail or accept, "
                         "not \"%s\"", name, v);
        return 0;
    case T_ENCLEVEL: {
        enum encpolicy_level l;
        if (encpolicy_level_parse(v, &l) != 0)
            conf_problem(ps, ps->line, "%s: expected never, opportunistic "
                         "or required, not \"%s\"", name, v);
        else
            *FIELD(c, k, int) = (int)l;
        return 0;
    }
    case T_LOGLEVEL:
        if (conf_parse_level(v, FIELD(c, k, int)) != 0)
            conf_problem(ps, ps->line, "%s: expected err, warning, notice, "
                         "info or debug, not \"%s\"", name, v);
        return 0;
    case T_FACILITY:
        if (conf_parse_facility(v, FIELD(c, k, int)) != 0)
            conf_problem(ps, ps->line, "%s: unknown syslog facility \"%s\"",
                         name, v);
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
        conf_problem(ps, ps->line, "unknown key \"%s\"", key);
        return 0;
    }
    if (!*v) {
        conf_problem(ps, ps->line, "%s: missing value", keys[i].info.name);
        return 0;
    }
    if (ps->seen[i] && keys[i].type != T_PATHS) {
        conf_problem(ps, ps->line, "%s already set on line %u",
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
    return conf_set_string(&ps->c->authserv_id, host);
}

/* ---- load ---- */

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
            conf_problem(&ps, ps.line, "NUL byte in line");
            continue;
        }
        oom = parse_line(&ps, line) != 0;
    }
    free(line);
    if (!oom) {
        conf_check_default_authserv(&ps);
        conf_check_header_names(&ps);
        conf_load_policy_file(&ps);
    }
    if (!oom && ferror(fp))
        conf_problem(&ps, 0, "read error: %s",
                     smime_strerror(errno, eb, sizeof eb));
    if (!oom && (flags & CONFIG_NEED_SOCKET) && ps.c->socket == NULL)
        conf_problem(&ps, 0, "Socket is required (or give -p)");
    if (!oom)
        conf_check_settings(ps.c, conf_check_report, &ps);
    /* the files named are opened even after other problems, so that -n
     * reports everything at once */
    if (!oom && !(flags & CONFIG_NO_DERIVED))
        oom = conf_build_derived(&ps) != 0;
    if (!oom && (flags & CONFIG_CHECK))
        conf_check_files(ps.c, conf_key_line(&ps, "Mode") != 0,
                         !(flags & CONFIG_START), time(NULL),
                         conf_check_report, &ps);
    if (oom)
        conf_problem(&ps, 0, "out of memory");
    for (size_t i = 0; i < NKEYS; i++)
        free(ps.path_lines[i]);
    if (ps.errors) {
        conf_destroy(ps.c);
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
