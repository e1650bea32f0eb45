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
 *
 * Here: the commands.  SOURCE's lines and their grouping are
 * keystore_source.c's, loading and checking one credential
 * keystore_cred.c's (shared with import-dir).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/gnutls.h>

#include "cert.h"
#include "conf.h"
#include "keystore.h"
#include "keystore_tool.h"
#include "keystore_vet.h"

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
                   : (path = source_resolve(source, e->file)) == NULL ||
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
    struct cred_cache cache = { NULL, {0}, NULL };
    struct vet_ctx vc = { conf, NULL, 0, time(NULL), &cache };
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
    cred_cache_clear(&cache);
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
check_soon(void *arg, const char *address, gnutls_x509_crt_t leaf,
           unsigned purpose, const char *when)
{
    const struct check_state *cs = arg;
    char serial[130];

    smime_cert_serial_hex(leaf, serial, sizeof(serial));
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
