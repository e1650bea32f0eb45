/*
 * keystore_tool.c - smime-keystore(8): build, list and check the signing
 * keystore the daemon reads (crypto/keystore.h).
 *
 *   smime-keystore build SOURCE OUTPUT.cdb
 *   smime-keystore list KEYSTORE.cdb
 *   smime-keystore check KEYSTORE.cdb
 *
 * build reads every SOURCE line (ADDRESS CREDENTIAL-FILE [LOGIN ...]),
 * loads and validates every credential first, reports each problem as
 * SOURCE:LINE: message and writes nothing when there is any; otherwise it
 * replaces OUTPUT atomically.  Exit 0 success, 1 problems, 2 usage.
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
#include "keystore.h"

#define MAX_CREDENTIAL (1024 * 1024)
#define MAX_LOGINS 64

struct source_entry {
    unsigned line;
    char *address;
    char *logins[MAX_LOGINS];
    size_t nlogins;
    smime_signer_t *signer;
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: smime-keystore build SOURCE OUTPUT.cdb\n"
            "       smime-keystore list KEYSTORE.cdb\n"
            "       smime-keystore check KEYSTORE.cdb\n");
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

static int
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

/*
 * Load and check one source line's entry.  Prints each problem as
 * SOURCE:LINE: message; returns the number printed.
 */
static int
load_entry(const char *source, struct source_entry *e, const char *file,
           time_t now)
{
    char err[512];
    size_t len = 0;
    char *path = resolve(source, file);
    unsigned char *data = path ? read_credential(path, &len) : NULL;

    if (data == NULL) {
        fprintf(stderr, "%s:%u: cannot read %s: %s\n", source, e->line,
                path ? path : file,
                errno == EFBIG ? "file too large" :
                errno == EINVAL ? "not a regular file" : strerror(errno));
        free(path);
        return 1;
    }
    e->signer = smime_signer_from_blob(data, len,
                                       getenv("SMIME_KEYSTORE_PASSWORD"),
                                       err, sizeof(err));
    gnutls_memset(data, 0, len);
    free(data);
    if (e->signer == NULL) {
        fprintf(stderr, "%s:%u: %s: %s\n", source, e->line, path, err);
        free(path);
        return 1;
    }
    free(path);
    if (keystore_check(e->signer, e->address, now, err, sizeof(err)) > 0) {
        fprintf(stderr, "%s:%u: %s\n", source, e->line, err);
        return 1;
    }
    return 0;
}

/* Split one line into fields (in place); '#' at a field start begins a
 * comment.  Returns the number of fields (at most max). */
static size_t
split(char *line, char **f, size_t max, int *toomany)
{
    size_t n = 0;
    char *save = NULL;

    *toomany = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t;
         t = strtok_r(NULL, " \t\r\n", &save)) {
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

static void
entries_free(struct source_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].address);
        for (size_t j = 0; j < v[i].nlogins; j++)
            free(v[i].logins[j]);
        smime_signer_free(v[i].signer);
    }
    free(v);
}

/* Parse and validate SOURCE; *out gets the entries.  Problem count. */
static int
read_source(const char *source, struct source_entry **out, size_t *nout)
{
    FILE *f = fopen(source, "r");
    char *line = NULL, *fields[2 + MAX_LOGINS];
    size_t cap = 0, n = 0;
    struct source_entry *v = NULL;
    unsigned lineno = 0;
    int problems = 0, toomany;
    time_t now = time(NULL);

    if (f == NULL) {
        fprintf(stderr, "smime-keystore: cannot open %s: %s\n", source,
                strerror(errno));
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        size_t nf = split(line, fields, 2 + MAX_LOGINS, &toomany);
        if (nf == 0)
            continue;
        if (nf < 2 || toomany || !valid_address(fields[0])) {
            fprintf(stderr, "%s:%u: %s\n", source, lineno, toomany ?
                    "too many logins (at most 64)" : nf < 2 ?
                    "bad syntax: expected ADDRESS CREDENTIAL-FILE [LOGIN ...]"
                    : "bad syntax: not an email address");
            problems++;
            continue;
        }
        size_t dup = 0;
        while (dup < n && strcasecmp(v[dup].address, fields[0]) != 0)
            dup++;
        if (dup < n) {
            fprintf(stderr, "%s:%u: duplicate address %s (first on line %u)\n",
                    source, lineno, fields[0], v[dup].line);
            problems++;
            continue;
        }
        struct source_entry *nv = realloc(v, (n + 1) * sizeof(*v));
        if (nv == NULL) {
            fprintf(stderr, "smime-keystore: out of memory\n");
            problems = -1;
            break;
        }
        v = nv;
        struct source_entry *e = &v[n++];
        memset(e, 0, sizeof(*e));
        e->line = lineno;
        e->address = strdup(fields[0]);
        for (size_t i = 2; i < nf; i++)
            e->logins[e->nlogins++] = strdup(fields[i]);
        problems += load_entry(source, e, fields[1], now);
    }
    if (ferror(f)) {
        fprintf(stderr, "smime-keystore: cannot read %s: %s\n", source,
                strerror(errno));
        problems = -1;
    }
    free(line);
    fclose(f);
    *out = v;
    *nout = n;
    return problems;
}

static int
cmd_build(const char *source, const char *output)
{
    struct source_entry *v = NULL;
    size_t n = 0;
    char err[512];
    int problems = read_source(source, &v, &n);

    if (problems != 0) {
        if (problems > 0)
            fprintf(stderr, "smime-keystore: %d problem%s, %s not written\n",
                    problems, problems == 1 ? "" : "s", output);
        entries_free(v, n);
        return 1;
    }
    keystore_writer_t *w = keystore_writer_new(output, err, sizeof(err));
    for (size_t i = 0; w && i < n; i++)
        if (keystore_writer_add(w, v[i].address, v[i].signer,
                                (const char *const *)v[i].logins,
                                v[i].nlogins, err, sizeof(err)) < 0) {
            keystore_writer_free(w);
            w = NULL;
        }
    if (w == NULL || keystore_writer_commit(w, err, sizeof(err)) < 0) {
        fprintf(stderr, "smime-keystore: %s: %s\n", output, err);
        keystore_writer_free(w);
        entries_free(v, n);
        return 1;
    }
    keystore_writer_free(w);
    printf("smime-keystore: wrote %zu entr%s to %s\n", n,
           n == 1 ? "y" : "ies", output);
    entries_free(v, n);
    return 0;
}

static int
print_entry(void *arg, const char *address, const keystore_entry_t *e,
            const char *err)
{
    char subject[512], serial[130], day[32] = "?";
    struct tm tm;

    (void)arg;
    if (e == NULL) {
        printf("%s error=\"%s\"\n", address, err);
        return 0;
    }
    gnutls_x509_crt_t crt = smime_signer_cert(keystore_entry_signer(e), 0);
    time_t t = gnutls_x509_crt_get_expiration_time(crt);
    smime_cert_subject_dn(crt, subject, sizeof(subject));
    smime_cert_serial_hex(crt, serial, sizeof(serial));
    if (t != (time_t)-1 && gmtime_r(&t, &tm))
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s subject=\"%s\" serial=%s not-after=%s logins=", address,
           subject, serial, day);
    size_t nl = keystore_entry_nlogins(e);
    for (size_t i = 0; i < nl; i++)
        printf("%s%s", i ? "," : "", keystore_entry_login(e, i));
    printf("%s\n", nl ? "" : "-");
    return 0;
}

struct check_state {
    const char *path;
    time_t now;
    unsigned entries, problems;
};

static int
check_entry(void *arg, const char *address, const keystore_entry_t *e,
            const char *err)
{
    struct check_state *cs = arg;
    char why[512];

    cs->entries++;
    if (e == NULL) {
        fprintf(stderr, "%s: %s: %s\n", cs->path, address, err);
        cs->problems++;
    } else if (keystore_check(keystore_entry_signer(e), address, cs->now,
                              why, sizeof(why)) > 0) {
        fprintf(stderr, "%s: %s: %s\n", cs->path, address, why);
        cs->problems++;
    }
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
        if (keystore_foreach(ks, print_entry, NULL) < 0)
            ret = 1;
    } else {
        struct check_state cs = { path, time(NULL), 0, 0 };
        if (keystore_foreach(ks, check_entry, &cs) < 0) {
            fprintf(stderr, "smime-keystore: %s: read error\n", path);
            ret = 1;
        } else if (cs.problems) {
            fprintf(stderr, "smime-keystore: %s: %u of %u entries unusable\n",
                    path, cs.problems, cs.entries);
            ret = 1;
        } else {
            printf("smime-keystore: %s: %u entr%s OK\n", path, cs.entries,
                   cs.entries == 1 ? "y" : "ies");
        }
    }
    keystore_free(ks);
    return ret;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "build") == 0)
        return cmd_build(argv[2], argv[3]);
    if (argc == 3 && (strcmp(argv[1], "list") == 0 ||
                      strcmp(argv[1], "check") == 0))
        return cmd_read(argv[1], argv[2]);
    usage();
    return 2;
}
