/*
 * keystore_tool.c - smime-keystore(8): build, list and check the
 * keystore the daemon reads (crypto/keystore.h).
 *
 *   smime-keystore build [-c CONF] SOURCE OUTPUT.cdb
 *   smime-keystore import-dir DIR [-o SOURCE]   (keystore_import.c)
 *   smime-keystore list KEYSTORE.cdb
 *   smime-keystore check KEYSTORE.cdb
 *
 * build reads every SOURCE line (ADDRESS CREDENTIAL-FILE [LOGIN ...], or
 * ADDRESS pkcs11:URI CERTIFICATE-FILE [LOGIN ...] for a key on a token,
 * logins separated by blanks or commas; an ADDRESS on several lines has
 * several credentials and the union of their logins), loads and
 * validates every credential, one address at a time (the lines grouped
 * by address with a sort: memory and time stay in proportion to the
 * lines, for a million of them), and decides what it is for (signing:
 * keystore_check, with -c also its chain against the daemon's trust
 * anchors and CRLs, keystore_vet.h; decryption: keystore_check_decrypt,
 * expired allowed), reports each problem
 * as SOURCE:LINE: message and writes nothing when there is any;
 * otherwise it replaces OUTPUT atomically.  Warnings (SOURCE:LINE:
 * warning: ...) do not stop it.  OUTPUT may not be SOURCE.  list and
 * check flag certificates that expire within 30 days, decryption-only
 * ones too (keystore_vet_entry_soon), not ones already expired.
 * Exit 0 success, 1 problems, 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/gnutls.h>

#include "cert.h"
#include "conf.h"
#include "errbuf.h"
#include "keystore.h"
#include "keystore_tool.h"
#include "keystore_vet.h"
#include "token.h"

#define MAX_CREDENTIAL (1024 * 1024)
#define UTF8_BOM "\xef\xbb\xbf"

/* To stdout for -h (help), else to stderr. */
static void
usage(int help)
{
    fprintf(help ? stdout : stderr,
            "usage: smime-keystore build [-c CONF] SOURCE OUTPUT.cdb\n"
            "       smime-keystore import-dir DIR [-o SOURCE]\n"
            "       smime-keystore list KEYSTORE.cdb\n"
            "       smime-keystore check KEYSTORE.cdb\n"
            "       smime-keystore -h | --help | -V\n");
}

/* Read a credential file (bounded); NULL with errno or EFBIG. */
static unsigned char *
read_credential(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    struct stat st;

    if (f == NULL)
        return NULL;
    int e = 0;
    if (fstat(fileno(f), &st) < 0)
        e = errno;
    else if (!S_ISREG(st.st_mode))
        e = EINVAL;
    else if (st.st_size > MAX_CREDENTIAL)
        e = EFBIG;
    if (e) {
        fclose(f);
        errno = e;
        return NULL;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        e = errno;
        gnutls_memset(buf, 0, (size_t)st.st_size);
        free(buf);
        fclose(f);
        errno = e;
        return NULL;
    }
    fclose(f);
    return buf;
}

/* Credential path relative to the directory of SOURCE. */
static char *
resolve(const char *source, const char *file)
{
    char *copy, *out = NULL;

    if (file[0] == '/')
        return strdup(file);
    if ((copy = strdup(source)) == NULL)
        return NULL;
    if (asprintf(&out, "%s/%s", dirname(copy), file) < 0)
        out = NULL;
    free(copy);
    return out;
}

int
valid_address(const char *a)
{
    const char *at = strrchr(a, '@');

    if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 320)
        return 0;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == '<' || *p == '>' || *p == ',')
            return 0;
    return 1;
}

/* keystore_vet() findings as WHERE: [warning: ]message */
static void
vet_print(void *arg, int error, const char *msg)
{
    fprintf(stderr, "%s: %s%s\n", (const char *)arg,
            error ? "" : "warning: ", msg);
}

/* Print WHERE: [warning: ]msg; 1 for an error, 0 for a warning. */
static int
report(const char *where, int warning, const char *msg)
{
    fprintf(stderr, "%s: %s%s\n", where, warning ? "warning: " : "", msg);
    return !warning;
}

/*
 * What a loaded credential is for, into e->purpose: signing when its
 * certificate allows it and passes keystore_check() (and, with -c, its
 * chain), decryption when it allows that and names the address.  A
 * certificate that allows both but cannot sign only because of its
 * dates is kept for decryption, with a warning; so is an expired
 * decryption-only one (old keys decrypt old mail).  Problem count.
 */
static int
decide_purpose(const char *where, struct source_entry *e,
               const struct vet_ctx *vc)
{
    gnutls_x509_crt_t crt = smime_signer_cert(e->signer, 0);
    int can_sign = smime_cert_can_sign(crt);
    int can_dec = smime_cert_can_decrypt(crt);
    int in_time = smime_cert_check_time(crt, vc->now) == SMIME_CERT_OK;
    char err[512], msg[700];

    if (!can_sign && !can_dec)
        return report(where, 0,
                      smime_cert_check_usage(crt) == SMIME_CERT_EKU ?
                      "no emailProtection (extendedKeyUsage does not allow "
                      "S/MIME)" : "wrong key usage: the certificate allows "
                      "neither signing (digitalSignature, nonRepudiation) "
                      "nor decryption (keyEncipherment for RSA, keyAgreement "
                      "for EC)");
    if (can_dec && keystore_check_decrypt(e->signer, e->address, err,
                                          sizeof(err)) > 0)
        return report(where, 0, err);
    int n = keystore_check(e->signer, e->address, vc->now, err, sizeof(err));
    if (can_sign && n == 0) {
        e->purpose = KEYSTORE_SIGN | (can_dec ? KEYSTORE_DECRYPT : 0);
        return keystore_vet(e->signer, vc->trust, vc->max_chain, vc->conf,
                            vc->now, vet_print, (void *)where) > 0;
    }
    if (can_sign && (!can_dec || in_time ||
                     smime_cert_check_key(crt, 2048) != SMIME_CERT_OK))
        return report(where, 0, err);
    e->purpose = KEYSTORE_DECRYPT;
    if (in_time)
        return 0;
    /* out of its dates: say so, keep it to decrypt mail sent to it */
    enum smime_cert_status st = smime_cert_check_time(crt, vc->now);
    char day[32] = "?";
    struct tm tm;
    time_t t = st == SMIME_CERT_EXPIRED ?
               gnutls_x509_crt_get_expiration_time(crt) :
               gnutls_x509_crt_get_activation_time(crt);
    if (t != (time_t)-1 && gmtime_r(&t, &tm))
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(msg, sizeof(msg), "%s (%s %s): kept for decryption only%s",
             smime_cert_status_string(st),
             st == SMIME_CERT_EXPIRED ? "valid until" : "valid from", day,
             can_sign ? ", it cannot sign" : "");
    return report(where, 1, msg);
}

int
load_entry(const char *where, struct source_entry *e, const char *path,
           const struct vet_ctx *vc)
{
    char err[512];
    char eb[128];               /* smime_strerror() text */
    size_t len = 0;
    unsigned char *data = read_credential(path, &len);

    if (data == NULL) {
        fprintf(stderr, "%s: cannot read %s: %s\n", where, path,
                errno == EFBIG ? "file too large" :
                errno == EINVAL ? "not a regular file"
                                : smime_strerror(errno, eb, sizeof eb));
        return 1;
    }
    e->signer = smime_signer_from_blob(data, len,
                                       getenv("SMIME_KEYSTORE_PASSWORD"),
                                       err, sizeof(err));
    gnutls_memset(data, 0, len);
    free(data);
    if (e->signer == NULL) {
        if (strcmp(where, path) == 0)   /* import-dir: FILE: message */
            fprintf(stderr, "%s: %s\n", where, err);
        else
            fprintf(stderr, "%s: %s: %s\n", where, path, err);
        return 1;
    }
    return decide_purpose(where, e, vc);
}

/* Split one line into fields (in place); '#' at a field start begins a
 * comment.  ADDRESS and CREDENTIAL-FILE are separated by blanks, the
 * logins after them by blanks or commas.  Returns the number of fields
 * (at most max). */
static size_t
split(char *line, char **f, size_t max, int *toomany)
{
    size_t n = 0;
    char *save = NULL;

    *toomany = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t;
         t = strtok_r(NULL, n < 2 ? " \t\r\n" : " \t\r\n,", &save)) {
        if (t[0] == '#')
            break;
        if (n == max) {
            *toomany = 1;
            break;
        }
        f[n++] = t;
    }
    return n;
}

void
entries_free(struct source_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].address);
        free(v[i].file);
        free(v[i].certfile);
        for (size_t j = 0; j < v[i].nlogins; j++)
            free(v[i].logins[j]);
        free(v[i].logins);
        smime_signer_free(v[i].signer);
    }
    free(v);
}

/* DER copies of the certificates in a PEM (or one DER) file: the
 * first must be the token key's.  Count, or -1 with a message. */
static int
read_certs(const char *path, gnutls_datum_t *der, size_t max, char *err,
           size_t errlen)
{
    size_t len = 0;
    unsigned char *data = read_credential(path, &len);
    gnutls_datum_t d = { data, (unsigned)len };
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    int ret;
    char eb[128];               /* smime_strerror() text */

    if (data == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 errno == EFBIG ? "file too large" :
                 errno == EINVAL ? "not a regular file"
                                 : smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    ret = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0)
        ret = gnutls_x509_crt_list_import2(&crts, &n, &d,
                                           GNUTLS_X509_FMT_DER, 0);
    free(data);
    if (ret < 0 || n == 0) {
        snprintf(err, errlen, "%s: no certificate (%s)", path,
                 ret < 0 ? gnutls_strerror(ret) : "empty");
        return -1;
    }
    size_t k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (k < max && gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_DER,
                                               &der[k]) == 0)
            k++;
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);
    if (k < n) {
        for (size_t i = 0; i < k; i++)
            gnutls_free(der[i].data);
        snprintf(err, errlen, "%s: too many certificates (at most %zu)",
                 path, max);
        return -1;
    }
    return (int)k;
}

/*
 * A credential whose key is on a token: URI, certificates from a file
 * (the key's first), or from the token when the file is the word
 * "token".  The key must be found, usable with the PIN, and
 * the certificate's (a test signature).  Problem count, at most 1.
 */
static int
load_token_entry(const char *where, const char *source,
                 struct source_entry *e, const char *url,
                 const char *certfile, const struct vet_ctx *vc)
{
    gnutls_datum_t der[16];
    char err[512];
    int from_token = strcmp(certfile, "token") == 0;
    char *path = from_token ? NULL : resolve(source, certfile);
    int n = from_token ? smime_token_certs(url, der, 16, err, sizeof(err))
          : path ? read_certs(path, der, 16, err, sizeof(err)) : -1;

    if (!from_token && path == NULL)
        snprintf(err, sizeof(err), "out of memory");
    free(path);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", where, err);
        return 1;
    }
    e->signer = smime_signer_from_token(url, der, (size_t)n, err,
                                        sizeof(err));
    for (int i = 0; i < n; i++)
        gnutls_free(der[i].data);
    if (e->signer == NULL ||
        smime_token_probe(smime_signer_privkey(e->signer),
                          smime_signer_cert(e->signer, 0), err,
                          sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s: %s\n", where, url, err);
        return 1;
    }
    return decide_purpose(where, e, vc);
}

/* A LOGIN starting with '+' is a word: only +internal exists. */
static int
valid_logins(char **fields, size_t first, size_t nf, const char **bad)
{
    for (size_t i = first; i < nf; i++)
        if (fields[i][0] == '+' && strcmp(fields[i], KEYSTORE_INTERNAL)) {
            *bad = fields[i];
            return 0;
        }
    return 1;
}

int
duplicate_cred(const char *where, const struct source_entry *v,
               const struct source_group *g, const struct source_entry *e)
{
    gnutls_x509_crt_t crt = smime_signer_cert(e->signer, 0);

    for (size_t k = 0; k < g->n; k++) {
        const struct source_entry *o = &v[g->idx[k]];
        if (o->signer &&
            gnutls_x509_crt_equals(smime_signer_cert(o->signer, 0), crt)) {
            if (o->line == 0)       /* import-dir: named by its file */
                fprintf(stderr, "%s: duplicate credential: %s has the same "
                        "certificate as %s\n", where, e->address, o->file);
            else
                fprintf(stderr, "%s: duplicate credential: %s has the same "
                        "certificate on line %u\n", where, e->address,
                        o->line);
            return 1;
        }
    }
    return 0;
}

/* Read SOURCE's lines into *out (syntax only: the credentials are
 * loaded address by address, see build_groups).  Problem count, -1 on
 * a read error or out of memory. */
static int
read_source(const char *source, struct source_entry **out, size_t *nout)
{
    FILE *f = fopen(source, "r");
    char *line = NULL, *fields[3 + MAX_LOGINS];
    size_t cap = 0, n = 0, vcap = 0;
    struct source_entry *v = NULL;
    unsigned lineno = 0;
    int problems = 0, toomany;
    const char *bad;
    char eb[128];               /* smime_strerror() text */

    if (f == NULL) {
        fprintf(stderr, "smime-keystore: cannot open %s: %s\n", source,
                smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *start = line;
        if (lineno == 1 && strncmp(line, UTF8_BOM, 3) == 0)
            start += 3;             /* editors on some systems write one */
        size_t nf = split(start, fields, 3 + MAX_LOGINS, &toomany);
        if (nf == 0)
            continue;
        /* ADDRESS pkcs11:URI CERTIFICATE-FILE [LOGIN ...] */
        int tok = nf >= 2 && strncmp(fields[1], "pkcs11:", 7) == 0;
        size_t first = tok ? 3 : 2;
        toomany |= nf > first + MAX_LOGINS;
        if (tok && nf < 3 && !toomany) {
            fprintf(stderr, "%s:%u: bad syntax: expected ADDRESS pkcs11:URI "
                    "CERTIFICATE-FILE [LOGIN ...]\n", source, lineno);
            problems++;
            continue;
        }
        if (nf < 2 || toomany || !valid_address(fields[0])) {
            fprintf(stderr, "%s:%u: %s\n", source, lineno, toomany ?
                    "too many logins (at most 64)" : nf < 2 ?
                    "bad syntax: expected ADDRESS CREDENTIAL-FILE [LOGIN ...]"
                    : "bad syntax: not an email address");
            problems++;
            continue;
        }
        if (!valid_logins(fields, first, nf, &bad)) {
            fprintf(stderr, "%s:%u: unknown word %s among the logins (a "
                    "login cannot start with +; only " KEYSTORE_INTERNAL
                    " is known)\n", source, lineno, bad);
            problems++;
            continue;
        }
        if (n == vcap) {
            size_t nc = vcap ? 2 * vcap : 64;
            struct source_entry *nv = realloc(v, nc * sizeof(*v));
            if (nv == NULL)
                goto oom;
            v = nv;
            vcap = nc;
        }
        struct source_entry *e = &v[n++];
        memset(e, 0, sizeof(*e));
        e->line = lineno;
        e->address = strdup(fields[0]);
        e->file = strdup(fields[1]);
        if (tok && (e->certfile = strdup(fields[2])) == NULL)
            goto oom;
        if (nf > first &&
            (e->logins = calloc(nf - first, sizeof(char *))) == NULL)
            goto oom;
        for (size_t i = first; i < nf; i++)
            if ((e->logins[e->nlogins++] = strdup(fields[i])) == NULL)
                goto oom;
        if (e->address == NULL || e->file == NULL)
            goto oom;
    }
    if (ferror(f)) {
        fprintf(stderr, "smime-keystore: cannot read %s: %s\n", source,
                smime_strerror(errno, eb, sizeof eb));
        problems = -1;
    }
    goto done;
oom:
    fprintf(stderr, "smime-keystore: out of memory\n");
    problems = -1;
done:
    free(line);
    fclose(f);
    *out = v;
    *nout = n;
    return problems;
}

/* Sort order of line indexes: by address (any case), then by line. */
static const struct source_entry *sort_v;

static int
by_address(const void *a, const void *b)
{
    const struct source_entry *x = &sort_v[*(const size_t *)a],
                              *y = &sort_v[*(const size_t *)b];
    int c = strcasecmp(x->address, y->address);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int
by_first_line(const void *a, const void *b)
{
    const struct source_group *x = a, *y = b;
    unsigned lx = sort_v[x->idx[0]].line, ly = sort_v[y->idx[0]].line;
    return (lx > ly) - (lx < ly);
}

/* The lines of v grouped by address, the groups in the order their
 * addresses first appear (O(n log n): a million lines must not compare
 * each line with every other).  *idx holds the line indexes the groups
 * point into.  Number of groups, or (size_t)-1 out of memory. */
static size_t
group_lines(const struct source_entry *v, size_t n, size_t **idx,
            struct source_group **groups)
{
    size_t ng = 0;

    *idx = malloc((n ? n : 1) * sizeof(**idx));
    *groups = malloc((n ? n : 1) * sizeof(**groups));
    if (*idx == NULL || *groups == NULL)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        (*idx)[i] = i;
    sort_v = v;
    qsort(*idx, n, sizeof(**idx), by_address);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcasecmp(v[(*idx)[i]].address,
                                 v[(*idx)[i - 1]].address) != 0)
            (*groups)[ng++] = (struct source_group){ *idx + i, 0 };
        (*groups)[ng - 1].n++;
    }
    qsort(*groups, ng, sizeof(**groups), by_first_line);
    return ng;
}

/* 1 when OUTPUT names the same file as SOURCE (another path, a hard or
 * symbolic link): building would replace the source. */
static int
same_file(const char *source, const char *output)
{
    struct stat a, b;

    return stat(source, &a) == 0 && stat(output, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void
conf_print(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

/* Write the address of group g with the credentials of all its lines
 * (at most KEYSTORE_MAX_CREDS) and the union of their logins (each once,
 * in the order they first appear).  0, or -1 with a message. */
static int
write_group(keystore_writer_t *w, const struct source_entry *v,
            const struct source_group *g, char *err, size_t errlen)
{
    struct keystore_cred creds[KEYSTORE_MAX_CREDS];
    const char **logins = NULL;
    size_t nc = 0, nl = 0;

    for (size_t k = 0; k < g->n && k < KEYSTORE_MAX_CREDS; k++) {
        const struct source_entry *e = &v[g->idx[k]];
        creds[nc].signer = e->signer;
        creds[nc++].purpose = e->purpose;
        const char **l = realloc(logins, (nl + e->nlogins + 1) *
                                         sizeof(*l));
        if (l == NULL) {
            free(logins);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        logins = l;
        for (size_t j = 0; j < e->nlogins; j++) {
            size_t i = 0;
            while (i < nl && strcmp(logins[i], e->logins[j]) != 0)
                i++;
            if (i == nl)
                logins[nl++] = e->logins[j];
        }
    }
    int r = keystore_writer_add_creds(w, v[g->idx[0]].address, creds, nc,
                                      logins, nl, err, errlen);
    free(logins);
    return r < 0 ? -1 : 0;
}

/*
 * Load and check the credentials of one address (group g), and write it
 * when w is set (no problem so far); the credentials are freed again
 * after: memory stays that of one address, not of the whole keystore.
 * Problem count, or -1 when writing failed (message printed).
 */
static int
build_group(const char *source, struct source_entry *v,
            const struct source_group *g, const struct vet_ctx *vc,
            keystore_writer_t *w, const char *output)
{
    int problems = 0;
    char err[512];

    for (size_t k = 0; k < g->n; k++) {
        struct source_entry *e = &v[g->idx[k]];
        struct source_group before = { g->idx, k };
        char where[4096], *path = NULL;
        snprintf(where, sizeof(where), "%s:%u", source, e->line);
        if (k >= KEYSTORE_MAX_CREDS) {
            fprintf(stderr, "%s: too many credentials for %s (at most "
                    "%d)\n", where, e->address, KEYSTORE_MAX_CREDS);
            problems++;
        } else if (e->certfile ? load_token_entry(where, source, e, e->file,
                                                  e->certfile, vc) > 0
                   : (path = resolve(source, e->file)) == NULL ||
                     load_entry(where, e, path, vc) > 0) {
            if (!e->certfile && path == NULL)
                fprintf(stderr, "%s: out of memory\n", where);
            problems++;
        } else {
            problems += duplicate_cred(where, v, &before, e);
        }
        free(path);
    }
    if (problems == 0 && w && write_group(w, v, g, err, sizeof(err)) < 0) {
        fprintf(stderr, "smime-keystore: %s: %s\n", output, err);
        problems = -1;
    }
    for (size_t k = 0; k < g->n; k++) {
        smime_signer_free(v[g->idx[k]].signer);
        v[g->idx[k]].signer = NULL;
    }
    return problems;
}

static int
cmd_build(const char *conf, const char *source, const char *output)
{
    struct source_entry *v = NULL;
    size_t n = 0;
    char err[512];
    struct vet_ctx vc = { conf, NULL, 0, time(NULL) };
    config_t *cfg = NULL;

    if (same_file(source, output)) {
        fprintf(stderr, "smime-keystore: %s is the source file %s: "
                "refusing to overwrite it (name another OUTPUT)\n", output,
                source);
        return 1;
    }
    if (conf) {
        /* the daemon's own loader: its trust anchors and CRLs exactly */
        cfg = config_load(conf, CONFIG_NO_KEYSTORE, conf_print, NULL);
        if (cfg == NULL) {
            fprintf(stderr, "smime-keystore: %s is unusable, %s not "
                    "written\n", conf, output);
            return 1;
        }
        if (cfg->n_trust_anchor_files == 0 && !cfg->trust_system_store) {
            fprintf(stderr, "smime-keystore: %s has no TrustAnchorFile and "
                    "TrustSystemStore is no: no chain could be checked, %s "
                    "not written\n", conf, output);
            config_unref(cfg);
            return 1;
        }
        vc.trust = cfg->trust;
        vc.max_chain = cfg->policy.max_chain;
    }
    size_t *idx = NULL;
    struct source_group *groups = NULL;
    size_t ng = 0;
    keystore_writer_t *w = NULL;
    int problems = read_source(source, &v, &n);

    if (problems >= 0 && (ng = group_lines(v, n, &idx, &groups)) ==
                         (size_t)-1) {
        fprintf(stderr, "smime-keystore: out of memory\n");
        problems = -1;
    }
    /* a temporary file: removed unless committed */
    if (problems == 0 &&
        (w = keystore_writer_new(output, err, sizeof(err))) == NULL) {
        fprintf(stderr, "smime-keystore: %s: %s\n", output, err);
        problems = -1;
    }
    for (size_t i = 0; problems >= 0 && i < ng; i++) {
        int p = build_group(source, v, &groups[i], &vc,
                            problems == 0 ? w : NULL, output);
        problems = p < 0 ? -1 : problems + p;
    }
    config_unref(cfg);
    free(idx);
    free(groups);
    entries_free(v, n);
    if (problems == 0 && keystore_writer_commit(w, err, sizeof(err)) < 0) {
        fprintf(stderr, "smime-keystore: %s: %s\n", output, err);
        problems = -1;
    }
    keystore_writer_free(w);
    if (problems != 0) {
        if (problems > 0)
            fprintf(stderr, "smime-keystore: %d problem%s, %s not written\n",
                    problems, problems == 1 ? "" : "s", output);
        return 1;
    }
    printf("smime-keystore: wrote %zu entr%s for %zu address%s to %s\n",
           n, n == 1 ? "y" : "ies", ng, ng == 1 ? "" : "es", output);
    return 0;
}

/* "sign", "decrypt" or "sign,decrypt" */
static const char *
purpose_name(unsigned p)
{
    return p == (KEYSTORE_SIGN | KEYSTORE_DECRYPT) ? "sign,decrypt" :
           p == KEYSTORE_SIGN ? "sign" : p == KEYSTORE_DECRYPT ? "decrypt" :
           "none";
}

/* One line per credential. */
static int
print_entry(void *arg, const char *address, const keystore_entry_t *e,
            const char *err)
{
    char subject[512], serial[130], soon[128];
    const time_t *now = arg;

    if (e == NULL) {
        printf("%s error=\"%s\"\n", address, err);
        return 0;
    }
    for (size_t c = 0; c < keystore_entry_ncreds(e); c++) {
        gnutls_x509_crt_t crt = smime_signer_cert(keystore_entry_cred(e, c),
                                                  0);
        unsigned purpose = keystore_entry_cred_purpose(e, c);
        time_t t = gnutls_x509_crt_get_expiration_time(crt);
        char day[32] = "?";
        struct tm tm;
        smime_cert_subject_dn(crt, subject, sizeof(subject));
        smime_cert_serial_hex(crt, serial, sizeof(serial));
        if (t != (time_t)-1 && gmtime_r(&t, &tm))
            strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s subject=\"%s\" serial=%s not-after=%s purpose=%s "
               "logins=", address, subject, serial, day,
               purpose_name(purpose));
        size_t nl = keystore_entry_nlogins(e);
        for (size_t i = 0; i < nl; i++)
            printf("%s%s", i ? "," : "", keystore_entry_login(e, i));
        printf("%s", nl ? "" : "-");
        const char *url = smime_signer_token_url(keystore_entry_cred(e, c));
        if (url)
            printf(" key=token uri=\"%s\"", url);
        else
            printf(" key=file");
        if ((purpose & KEYSTORE_SIGN) && t != (time_t)-1 && t < *now)
            printf(" warning=\"expired\"");
        /* an expired decryption key is kept on purpose: only "soon" */
        else if (keystore_vet_expiry(crt, *now, soon, sizeof(soon)))
            printf(" warning=\"%s\"", soon);
        printf("\n");
    }
    return 0;
}

struct check_state {
    const char *path;
    time_t now;
    unsigned creds, problems, soon;
};

/* A credential of any purpose expiring within 30 days: a warning. */
static void
check_soon(void *arg, const char *address, const smime_signer_t *cred,
           unsigned purpose, const char *when)
{
    const struct check_state *cs = arg;
    char serial[130];

    smime_cert_serial_hex(smime_signer_cert(cred, 0), serial, sizeof(serial));
    fprintf(stderr, "%s: %s: warning: certificate %s (serial %s, for %s)\n",
            cs->path, address, when, serial, purpose_name(purpose));
}

/* Every credential against the rules of its stored purpose. */
static int
check_entry(void *arg, const char *address, const keystore_entry_t *e,
            const char *err)
{
    struct check_state *cs = arg;
    char why[512];

    if (e == NULL) {
        cs->creds++;
        fprintf(stderr, "%s: %s: %s\n", cs->path, address, err);
        cs->problems++;
        return 0;
    }
    for (size_t c = 0; c < keystore_entry_ncreds(e); c++) {
        const smime_signer_t *cred = keystore_entry_cred(e, c);
        unsigned purpose = keystore_entry_cred_purpose(e, c);
        char serial[130];
        smime_cert_serial_hex(smime_signer_cert(cred, 0), serial,
                              sizeof(serial));
        cs->creds++;
        if (((purpose & KEYSTORE_SIGN) &&
             keystore_check(cred, address, cs->now, why, sizeof(why)) > 0) ||
            ((purpose & KEYSTORE_DECRYPT) &&
             keystore_check_decrypt(cred, address, why, sizeof(why)) > 0)) {
            fprintf(stderr, "%s: %s: %s (serial %s, for %s)\n", cs->path,
                    address, why, serial, purpose_name(purpose));
            cs->problems++;
        }
    }
    cs->soon += keystore_vet_entry_soon(address, e, cs->now, check_soon, cs);
    return 0;
}

static int
cmd_read(const char *cmd, const char *path)
{
    char err[512];
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    int ret = 0;

    if (ks == NULL) {
        fprintf(stderr, "smime-keystore: %s\n", err);
        return 1;
    }
    if (strcmp(cmd, "list") == 0) {
        time_t now = time(NULL);
        if (keystore_foreach(ks, print_entry, &now) < 0)
            ret = 1;
    } else {
        struct check_state cs = { path, time(NULL), 0, 0, 0 };
        if (keystore_foreach(ks, check_entry, &cs) < 0) {
            fprintf(stderr, "smime-keystore: %s: read error\n", path);
            ret = 1;
        } else if (cs.problems) {
            fprintf(stderr, "smime-keystore: %s: %u of %u entries unusable\n",
                    path, cs.problems, cs.creds);
            ret = 1;
        } else {
            printf("smime-keystore: %s: %u entr%s OK", path, cs.creds,
                   cs.creds == 1 ? "y" : "ies");
            if (cs.soon)
                printf(", %u expiring within %d days", cs.soon,
                       KEYSTORE_VET_SOON_DAYS);
            printf("\n");
        }
    }
    keystore_free(ks);
    return ret;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
        usage(1);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "-V") == 0) {
        printf("smime-keystore (%s) %s\nGnuTLS %s\n", PACKAGE_NAME,
               PACKAGE_VERSION, gnutls_check_version(NULL));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "build") == 0)
        return cmd_build(NULL, argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "build") == 0 &&
        strcmp(argv[2], "-c") == 0)
        return cmd_build(argv[3], argv[4], argv[5]);
    if (argc == 3 && strcmp(argv[1], "import-dir") == 0)
        return cmd_import_dir(argv[2], NULL);
    if (argc == 5 && strcmp(argv[1], "import-dir") == 0 &&
        strcmp(argv[3], "-o") == 0)
        return cmd_import_dir(argv[2], argv[4]);
    if (argc == 3 && (strcmp(argv[1], "list") == 0 ||
                      strcmp(argv[1], "check") == 0))
        return cmd_read(argv[1], argv[2]);
    usage(0);
    return 2;
}
