/*
 * encpolicy.c - EncryptPolicyFile and the per-recipient decision at RCPT
 * (SPEC "Encryption": policy, mixed recipients, EncryptSplit).
 *
 * The file becomes one array of lower-cased keys sorted for bsearch, so
 * a lookup costs at most a few binary searches whatever the file's size:
 * the address, its domain, then each parent ".DOMAIN" from the nearest
 * up.  The decision is a small state machine over three counts of the
 * recipients accepted so far: those that need encryption (required),
 * those that allow it (opportunistic with a certificate) and those that
 * prevent it (never, or opportunistic without a certificate).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encpolicy.h"
#include "errbuf.h"

#define KEY_MAX 512               /* longer keys and addresses: not ours */

struct entry {
    char *key;                    /* lower case */
    enum encpolicy_level level;
    unsigned line;
};

struct encpolicy {
    struct entry *v;
    size_t n, cap;
};

static const char *const level_names[] = {
    [ENCPOLICY_NEVER] = "never",
    [ENCPOLICY_OPPORTUNISTIC] = "opportunistic",
    [ENCPOLICY_REQUIRED] = "required",
};

const char *encpolicy_level_name(enum encpolicy_level l)
{
    return (unsigned)l < 3 ? level_names[l] : "?";
}

int encpolicy_level_parse(const char *s, enum encpolicy_level *out)
{
    for (unsigned i = 0; i < 3; i++)
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum encpolicy_level)i;
            return 0;
        }
    return -1;
}

/* ---- parsing ---- */

struct pstate {
    const char *name;
    encpolicy_report_fn report;
    void *arg;
    int errors;
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

/* A domain: dot-separated non-empty labels of letters, digits, '-', '_'
 * or UTF-8 bytes. */
static int domain_ok(const char *d)
{
    size_t label = 0;

    if (*d == '\0')
        return 0;
    for (; *d; d++) {
        unsigned char ch = (unsigned char)*d;
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_' || ch >= 0x80) {
            label++;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* NULL, or what is wrong with key. */
static const char *key_problem(const char *key)
{
    const char *at = strchr(key, '@');

    if (strlen(key) >= KEY_MAX)
        return "is too long";
    if (at == NULL)
        return domain_ok(key[0] == '.' ? key + 1 : key) ? NULL
               : "is neither an address, a domain nor .domain";
    if (at == key)
        return "has no local part (write the domain alone for a whole "
               "domain)";
    if (strchr(at + 1, '@') != NULL || !domain_ok(at + 1))
        return "is not an address (local@domain)";
    for (const char *p = key; p < at; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
            return "is not an address (local@domain)";
    return NULL;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static int add(encpolicy_t *p, const char *key, enum encpolicy_level l,
               unsigned line)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct entry *v = realloc(p->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    if ((p->v[p->n].key = strdup(key)) == NULL)
        return -1;
    lower(p->v[p->n].key);
    p->v[p->n].level = l;
    p->v[p->n].line = line;
    p->n++;
    return 0;
}

/* One line (comment already cut): 0, or -1 out of memory. */
static int parse_line(struct pstate *ps, encpolicy_t *p, char *s,
                      unsigned line)
{
    static const char ws[] = " \t\r\n\f\v";
    char *key = strtok(s, ws), *lvl, *extra;
    enum encpolicy_level l;
    const char *why;

    if (key == NULL)
        return 0;
    lvl = strtok(NULL, ws);
    extra = lvl ? strtok(NULL, ws) : NULL;
    if (lvl == NULL) {
        problem(ps, line, "%s: missing policy (never, opportunistic or "
                "required)", key);
        return 0;
    }
    if (extra != NULL) {
        problem(ps, line, "%s: unexpected \"%s\" after the policy", key,
                extra);
        return 0;
    }
    if ((why = key_problem(key)) != NULL) {
        problem(ps, line, "\"%s\" %s", key, why);
        return 0;
    }
    if (encpolicy_level_parse(lvl, &l) != 0) {
        problem(ps, line, "%s: expected never, opportunistic or required, "
                "not \"%s\"", key, lvl);
        return 0;
    }
    return add(p, key, l, line);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorted; a key given twice is an error on its later line. */
static void finish(struct pstate *ps, encpolicy_t *p)
{
    if (p->n)
        qsort(p->v, p->n, sizeof *p->v, entry_cmp);
    for (size_t i = 1; i < p->n; i++)
        if (strcmp(p->v[i - 1].key, p->v[i].key) == 0)
            problem(ps, p->v[i].line, "%s already given on line %u",
                    p->v[i].key, p->v[i - 1].line);
}

static encpolicy_t *load_stream(const char *name, FILE *fp,
                                encpolicy_report_fn report, void *arg)
{
    struct pstate ps = { name, report, arg, 0 };
    encpolicy_t *p = calloc(1, sizeof *p);
    char *buf = NULL, eb[128];
    size_t cap = 0;
    ssize_t len;
    unsigned line = 0;
    int oom = p == NULL;

    while (!oom && (len = getline(&buf, &cap, fp)) >= 0) {
        line++;
        if (strlen(buf) != (size_t)len) {
            problem(&ps, line, "NUL byte in line");
            continue;
        }
        buf[strcspn(buf, "#")] = '\0';
        oom = parse_line(&ps, p, buf, line) != 0;
    }
    free(buf);
    if (!oom && ferror(fp))
        problem(&ps, 0, "read error: %s", smime_strerror(errno, eb,
                                                         sizeof eb));
    if (oom)
        problem(&ps, 0, "out of memory");
    else
        finish(&ps, p);
    if (ps.errors) {
        encpolicy_free(p);
        return NULL;
    }
    return p;
}

encpolicy_t *encpolicy_load(const char *path, encpolicy_report_fn report,
                            void *arg)
{
    FILE *fp = fopen(path, "re");
    encpolicy_t *p;

    if (fp == NULL)
        return NULL;            /* errno: the caller says where it is named */
    p = load_stream(path, fp, report, arg);
    fclose(fp);
    return p;
}

encpolicy_t *encpolicy_load_string(const char *name, const char *text,
                                   encpolicy_report_fn report, void *arg)
{
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    encpolicy_t *p;

    if (fp == NULL)
        return NULL;
    p = load_stream(name, fp, report, arg);
    fclose(fp);
    return p;
}

void encpolicy_free(encpolicy_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].key);
    free(p->v);
    free(p);
}

size_t encpolicy_count(const encpolicy_t *p)
{
    return p ? p->n : 0;
}

int encpolicy_may_refuse(const encpolicy_t *p, enum encpolicy_level dflt,
                         int split)
{
    if (split || dflt == ENCPOLICY_REQUIRED)
        return 1;
    for (size_t i = 0; p && i < p->n; i++)
        if (p->v[i].level == ENCPOLICY_REQUIRED)
            return 1;
    return 0;
}

/* ---- lookup ---- */

static int key_cmp(const void *k, const void *e)
{
    return strcmp(k, ((const struct entry *)e)->key);
}

static const struct entry *find(const encpolicy_t *p, const char *key)
{
    return bsearch(key, p->v, p->n, sizeof *p->v, key_cmp);
}

enum encpolicy_level encpolicy_lookup(const encpolicy_t *p,
                                      const char *address,
                                      enum encpolicy_level dflt,
                                      const char **match)
{
    char buf[KEY_MAX + 1];
    const struct entry *e = NULL;
    const char *dom;

    if (match)
        *match = "default";
    if (p == NULL || p->n == 0 || strlen(address) >= sizeof buf - 1)
        return dflt;
    /* buf[0] is a dot, so that ".DOMAIN" probes need no copy */
    buf[0] = '.';
    strcpy(buf + 1, address);
    lower(buf + 1);
    e = find(p, buf + 1);
    if (e == NULL && (dom = strrchr(buf + 1, '@')) != NULL) {
        e = find(p, dom + 1);
        for (const char *d = dom; e == NULL && d != NULL;
             d = strchr(d + 1, '.')) {
            /* d points at '@' or a dot: probe ".rest" */
            if (*d == '.')
                e = find(p, d);
        }
    }
    if (e == NULL)
        return dflt;
    if (match)
        *match = e->key;
    return e->level;
}

/* ---- the RCPT decision ---- */

static void reply(struct encpolicy_reply *out, enum encpolicy_verdict v,
                  const char *reason)
{
    static const struct { const char *rcode, *xcode, *text; } r[] = {
        [ENCPOLICY_ACCEPT] = { NULL, NULL, NULL },
        [ENCPOLICY_REJECT] = { "550", "5.7.1", "Mail to this recipient "
            "must be encrypted and no usable certificate is known" },
        [ENCPOLICY_TEMPFAIL] = { "451", "4.7.1", "Cannot look up the "
            "recipient's certificate now, try again later" },
        [ENCPOLICY_DEFER] = { "452", "4.5.3", "Too many recipients: send "
            "this one in another transaction (encryption differs)" },
    };

    out->verdict = v;
    out->rcode = r[v].rcode;
    out->xcode = r[v].xcode;
    out->text = r[v].text;
    out->reason = reason;
}

void encpolicy_rcpt(struct encpolicy_txn *t, enum encpolicy_level level,
                    enum encpolicy_cert cert, int split,
                    struct encpolicy_reply *out)
{
    if (level == ENCPOLICY_REQUIRED) {
        if (cert == ENCPOLICY_CERT_TEMPFAIL)
            reply(out, ENCPOLICY_TEMPFAIL, "required, certificate lookup "
                  "failed");
        else if (cert == ENCPOLICY_CERT_NONE)
            reply(out, ENCPOLICY_REJECT, "required, no usable certificate");
        else if (t->plain)
            reply(out, ENCPOLICY_DEFER, "required, after recipients that "
                  "prevent encryption");
        else {
            t->required++;
            reply(out, ENCPOLICY_ACCEPT, "required, certificate");
        }
        return;
    }
    if (level == ENCPOLICY_OPPORTUNISTIC && cert == ENCPOLICY_CERT_USABLE) {
        if (split && t->plain)
            reply(out, ENCPOLICY_DEFER, "opportunistic with certificate, "
                  "after recipients without (EncryptSplit)");
        else {
            t->encryptable++;
            reply(out, ENCPOLICY_ACCEPT, "opportunistic, certificate");
        }
        return;
    }
    /* never, or opportunistic without a certificate: prevents encryption */
    const char *what = level == ENCPOLICY_NEVER ? "never"
        : cert == ENCPOLICY_CERT_TEMPFAIL
            ? "opportunistic, certificate lookup failed"
            : "opportunistic, no certificate";
    if (t->required)
        reply(out, ENCPOLICY_DEFER, level == ENCPOLICY_NEVER
              ? "never, after a required recipient"
              : "no certificate, after a required recipient");
    else if (split && t->encryptable)
        reply(out, ENCPOLICY_DEFER, level == ENCPOLICY_NEVER
              ? "never, after recipients with certificates (EncryptSplit)"
              : "no certificate, after recipients with certificates "
                "(EncryptSplit)");
    else {
        t->plain++;
        t->never += level == ENCPOLICY_NEVER;
        reply(out, ENCPOLICY_ACCEPT, what);
    }
}
