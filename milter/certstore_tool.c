/*
 * certstore_tool.c - smime-certstore(8): the operator's side of the
 * recipient certificate store (crypto/certstore.h).
 *
 *   smime-certstore import STORE FILE...
 *   smime-certstore list STORE [ADDRESS]
 *   smime-certstore export STORE ADDRESS
 *   smime-certstore delete STORE ADDRESS [SERIAL]
 *   smime-certstore check STORE [-c CONF]
 *
 * import reads PEM (any number of certificates), DER or PKCS#7
 * certs-only files; every end-entity certificate is stored under each
 * address it names, when it can encrypt (smime_cert_check_encrypt_usage);
 * CA certificates of the same file are kept with it as intermediates.
 * check judges every stored certificate now: validity, usage, address,
 * and with -c the chain and CRLs of that configuration (crypto/trust.c).
 * Exit 0 success, 1 a problem (a certificate skipped, not found, store
 * error), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

#include "cert.h"
#include "certstore.h"
#include "conf.h"
#include "errbuf.h"
#include "recipient.h"

#define MAX_FILE (16 * 1024 * 1024)
#define MAX_CHAIN 8

static const char *prog = "smime-certstore";

static void usage(FILE *f)
{
    fprintf(f, "usage: %s import STORE FILE...\n"
            "       %s list STORE [ADDRESS]\n"
            "       %s export STORE ADDRESS\n"
            "       %s delete STORE ADDRESS [SERIAL]\n"
            "       %s check STORE [-c CONF]\n"
            "       %s -h | -V\n", prog, prog, prog, prog, prog, prog);
}

/* ---- reading certificate files ---- */

struct certs {
    gnutls_x509_crt_t *v;
    unsigned n;
};

static void certs_free(struct certs *c)
{
    for (unsigned i = 0; i < c->n; i++)
        gnutls_x509_crt_deinit(c->v[i]);
    gnutls_free(c->v);
    c->v = NULL;
    c->n = 0;
}

static int pkcs7_certs(const gnutls_datum_t *d, gnutls_x509_crt_fmt_t fmt,
                       struct certs *out)
{
    gnutls_pkcs7_t p7;
    int n, ok = 0;

    if (gnutls_pkcs7_init(&p7) < 0)
        return -1;
    if (gnutls_pkcs7_import(p7, d, fmt) >= 0 &&
        (n = gnutls_pkcs7_get_crt_count(p7)) > 0 &&
        (out->v = gnutls_calloc((size_t)n, sizeof(*out->v))) != NULL) {
        ok = 1;
        for (int i = 0; i < n && ok; i++) {
            gnutls_datum_t c;
            ok = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &c) >= 0;
            if (ok && (gnutls_x509_crt_init(&out->v[out->n]) < 0 ||
                       gnutls_x509_crt_import(out->v[out->n], &c,
                                              GNUTLS_X509_FMT_DER) < 0))
                ok = 0;
            if (ok)
                out->n++;
            else if (out->v[out->n])
                gnutls_x509_crt_deinit(out->v[out->n]);
            if (c.data)
                gnutls_free(c.data);
        }
    }
    gnutls_pkcs7_deinit(p7);
    if (!ok)
        certs_free(out);
    return ok ? 0 : -1;
}

/* The certificates of a PEM, DER or PKCS#7 file: 0, or -1 with why
 * (which may point into eb). */
static int read_certs(const char *path, struct certs *out, const char **why,
                      char *eb, size_t eblen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    gnutls_datum_t d = { NULL, 0 };
    int r = -1;

    out->v = NULL;
    out->n = 0;
    *why = "no certificate found (PEM, DER or PKCS#7 expected)";
    if (f == NULL || fstat(fileno(f), &st) < 0) {
        *why = smime_strerror(errno, eb, eblen);
        goto done;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
        *why = S_ISREG(st.st_mode) ? "file too large" : "not a regular file";
        goto done;
    }
    if ((d.data = malloc((size_t)st.st_size + 1)) == NULL) {
        *why = "out of memory";
        goto done;
    }
    d.size = (unsigned)fread(d.data, 1, (size_t)st.st_size, f);
    d.data[d.size] = '\0';
    if (memmem(d.data, d.size, "-----BEGIN PKCS7-----", 21))
        r = pkcs7_certs(&d, GNUTLS_X509_FMT_PEM, out);
    else if (memmem(d.data, d.size, "-----BEGIN CERTIFICATE-----", 27))
        r = gnutls_x509_crt_list_import2(&out->v, &out->n, &d,
                                         GNUTLS_X509_FMT_PEM, 0) < 0 ? -1 : 0;
    else if ((out->v = gnutls_calloc(1, sizeof(*out->v))) != NULL &&
             gnutls_x509_crt_init(&out->v[0]) >= 0) {
        if (gnutls_x509_crt_import(out->v[0], &d, GNUTLS_X509_FMT_DER) >= 0) {
            out->n = 1;
            r = 0;
        } else {
            gnutls_x509_crt_deinit(out->v[0]);
            gnutls_free(out->v);
            out->v = NULL;
            r = pkcs7_certs(&d, GNUTLS_X509_FMT_DER, out);
        }
    }
    if (r == 0 && out->n == 0)
        r = -1;
done:
    if (f)
        fclose(f);
    free(d.data);
    return r;
}

static int is_ca(gnutls_x509_crt_t crt)
{
    unsigned critical;
    return gnutls_x509_crt_get_basic_constraints(crt, &critical, NULL,
                                                 NULL) > 0;
}

static void describe(gnutls_x509_crt_t crt, char *buf, size_t len)
{
    char subject[400], serial[130];

    smime_cert_subject_dn(crt, subject, sizeof(subject));
    smime_cert_serial_hex(crt, serial, sizeof(serial));
    snprintf(buf, len, "\"%s\" (serial %s)", subject, serial);
}

/* ---- import ---- */

/* Stores one end-entity certificate under each of its addresses: the
 * number of problems. */
static int import_one(certstore_t *cs, const char *file,
                      gnutls_x509_crt_t crt, gnutls_datum_t *chain,
                      size_t nchain)
{
    const unsigned char *cp[MAX_CHAIN];
    size_t cl[MAX_CHAIN], n;
    char what[600], err[300];
    gnutls_datum_t der;
    enum smime_cert_status us = smime_cert_check_encrypt_usage(crt);
    char **addrs;
    int problems = 0;

    describe(crt, what, sizeof(what));
    if (us != SMIME_CERT_OK) {
        fprintf(stderr, "%s: %s: %s: cannot encrypt, skipped\n", file, what,
                smime_cert_status_string(us));
        return 1;
    }
    if ((addrs = malloc(SMIME_CERT_MAX_ADDRESSES * sizeof(*addrs))) == NULL ||
        gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0) {
        fprintf(stderr, "%s: %s: out of memory\n", file, what);
        free(addrs);
        return 1;
    }
    n = smime_cert_addresses(crt, addrs, SMIME_CERT_MAX_ADDRESSES);
    if (n == 0) {
        fprintf(stderr, "%s: %s: %s, skipped\n", file, what,
                smime_cert_status_string(SMIME_CERT_NO_ADDRESS));
        problems++;
    }
    for (size_t i = 0; i < nchain; i++) {
        cp[i] = chain[i].data;
        cl[i] = chain[i].size;
    }
    size_t stored = 0;
    enum certstore_status *each = n ? calloc(n, sizeof(*each)) : NULL;
    if (n && each == NULL) {
        fprintf(stderr, "%s: %s: out of memory\n", file, what);
        problems++;
    } else if (n) {
        err[0] = '\0';
        certstore_import_all(cs, (const char *const *)addrs, n, each,
                             der.data, der.size, cp, cl, nchain, err,
                             sizeof(err));
    }
    for (size_t i = 0; each && i < n; i++) {
        if (each[i] != CERTSTORE_OK) {
            fprintf(stderr, "%s: %s: %s: %s\n", file, what, addrs[i],
                    each[i] == CERTSTORE_CORRUPT ? "damaged record (delete "
                    "the address first)" : err);
            problems++;
        } else {
            stored++;
        }
    }
    if (stored == 1)
        for (size_t i = 0; i < n; i++)
            if (each[i] == CERTSTORE_OK)
                printf("%s: %s: stored for %s\n", file, what, addrs[i]);
    if (stored > 1)
        printf("%s: %s: stored for %zu addresses\n", file, what, stored);
    free(each);
    smime_cert_addresses_free(addrs, n);
    free(addrs);
    gnutls_free(der.data);
    return problems;
}

static int import_file(certstore_t *cs, const char *file)
{
    struct certs c;
    gnutls_datum_t chain[MAX_CHAIN];
    size_t nchain = 0;
    const char *why;
    char eb[128];               /* smime_strerror() text */
    int problems = 0, leaves = 0;

    if (read_certs(file, &c, &why, eb, sizeof eb) < 0) {
        fprintf(stderr, "%s: %s\n", file, why);
        return 1;
    }
    /* CA certificates travel with the end-entity ones (as the
     * certificates of a CMS do: never trusted for being there) */
    for (unsigned i = 0; i < c.n; i++)
        if (is_ca(c.v[i]) && nchain < MAX_CHAIN &&
            gnutls_x509_crt_export2(c.v[i], GNUTLS_X509_FMT_DER,
                                    &chain[nchain]) >= 0)
            nchain++;
    for (unsigned i = 0; i < c.n; i++)
        if (!is_ca(c.v[i])) {
            leaves++;
            problems += import_one(cs, file, c.v[i], chain, nchain);
        }
    if (leaves == 0) {
        fprintf(stderr, "%s: only CA certificates, nothing to import\n",
                file);
        problems++;
    }
    for (size_t i = 0; i < nchain; i++)
        gnutls_free(chain[i].data);
    certs_free(&c);
    return problems;
}

static int cmd_import(const char *store, char **files, int nfiles)
{
    char err[600];
    certstore_t *cs = certstore_open(store, CERTSTORE_RDWR | CERTSTORE_CREATE,
                                     0, err, sizeof(err));
    int problems = 0;

    if (cs == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    for (int i = 0; i < nfiles; i++)
        problems += import_file(cs, files[i]);
    certstore_free(cs);
    if (problems)
        fprintf(stderr, "%s: %d problem%s\n", prog, problems,
                problems == 1 ? "" : "s");
    return problems ? 1 : 0;
}

/* ---- list, export ---- */

static gnutls_x509_crt_t entry_crt(const struct certstore_entry *e)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = { (unsigned char *)e->cert, (unsigned)e->cert_len };

    if (gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        return NULL;
    }
    return crt;
}

static void iso(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL)
        snprintf(buf, len, "-");
    else
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int print_list(void *arg, const char *address,
                      const certstore_list_t *l, const char *why)
{
    (void)arg;
    if (l == NULL) {
        printf("%s error=\"%s\"\n", address, why);
        return 0;
    }
    for (size_t i = 0; i < certstore_list_count(l); i++) {
        const struct certstore_entry *e = certstore_list_get(l, i);
        gnutls_x509_crt_t crt = entry_crt(e);
        char subject[400] = "?", serial[130] = "?", na[32] = "?", stt[32],
             upd[32];
        if (crt) {
            smime_cert_subject_dn(crt, subject, sizeof(subject));
            smime_cert_serial_hex(crt, serial, sizeof(serial));
            iso(gnutls_x509_crt_get_expiration_time(crt), na, sizeof(na));
            gnutls_x509_crt_deinit(crt);
        }
        iso(e->signing_time, stt, sizeof(stt));
        iso(e->updated, upd, sizeof(upd));
        printf("%s source=%s serial=%s not-after=%s signing-time=%s "
               "updated=%s caps=%zu subject=\"%s\"\n", address,
               certstore_source_name(e->source), serial, na, stt, upd,
               e->caps_len, subject);
    }
    return 0;
}

static certstore_t *open_ro(const char *store)
{
    char err[600];
    certstore_t *cs = certstore_open(store, CERTSTORE_RDONLY, 0, err,
                                     sizeof(err));
    if (cs == NULL)
        fprintf(stderr, "%s: %s\n", prog, err);
    return cs;
}

/* The entries of address: 0 and *l, or 1 (reported). */
static int lookup(certstore_t *cs, const char *address, certstore_list_t **l)
{
    char err[300];
    enum certstore_status st = certstore_lookup(cs, address, l, err,
                                                sizeof(err));
    if (st == CERTSTORE_OK)
        return 0;
    fprintf(stderr, "%s: %s: %s\n", prog, address,
            st == CERTSTORE_NOTFOUND ? "no such address" : err);
    return 1;
}

static int cmd_list(const char *store, const char *address)
{
    certstore_t *cs = open_ro(store);
    certstore_list_t *l = NULL;
    char err[300];
    int ret = 0;

    if (cs == NULL)
        return 1;
    if (address) {
        if ((ret = lookup(cs, address, &l)) == 0)
            print_list(NULL, address, l, NULL);
        certstore_list_free(l);
    } else if (certstore_foreach(cs, print_list, NULL, err, sizeof(err))
               != CERTSTORE_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, store, err);
        ret = 1;
    }
    certstore_free(cs);
    return ret;
}

static int cmd_export(const char *store, const char *address)
{
    certstore_t *cs = open_ro(store);
    certstore_list_t *l = NULL;
    int ret;

    if (cs == NULL)
        return 1;
    if ((ret = lookup(cs, address, &l)) == 0)
        for (size_t i = 0; i < certstore_list_count(l); i++) {
            const struct certstore_entry *e = certstore_list_get(l, i);
            gnutls_datum_t d = { (unsigned char *)e->cert,
                                 (unsigned)e->cert_len }, pem;
            if (gnutls_pem_base64_encode2("CERTIFICATE", &d, &pem) < 0) {
                ret = 1;
                continue;
            }
            fwrite(pem.data, 1, pem.size, stdout);
            gnutls_free(pem.data);
        }
    certstore_list_free(l);
    certstore_free(cs);
    return fflush(stdout) == 0 ? ret : 1;
}

/* ---- delete ---- */

static int cmd_delete(const char *store, const char *address,
                      const char *serial)
{
    char err[600];
    certstore_t *cs = certstore_open(store, CERTSTORE_RDWR, 0, err,
                                     sizeof(err));
    enum certstore_status st;

    if (cs == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    st = certstore_delete(cs, address, serial, err, sizeof(err));
    certstore_free(cs);
    if (st != CERTSTORE_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, address,
                st == CERTSTORE_NOTFOUND && serial == NULL ?
                "no such address" : err);
        return 1;
    }
    printf("%s: deleted %s%s%s\n", prog, address, serial ? " serial " : "",
           serial ? serial : "");
    return 0;
}

/* ---- check ---- */

struct check {
    const char *store;
    const config_t *conf;       /* NULL: no chain check */
    time_t now;
    unsigned certs, problems;
};

/* The first problem of one stored certificate, or NULL: the rule the
 * daemon applies before encrypting (crypto/recipient.c). */
static const char *judge(struct check *ck, const char *address,
                         const struct certstore_entry *e,
                         gnutls_x509_crt_t crt)
{
    int transient;

    return smime_rcpt_judge(e, crt, address,
                            ck->conf ? ck->conf->trust : NULL,
                            ck->conf ? ck->conf->policy.max_chain : 0,
                            ck->now, &transient);
}

static int check_address(void *arg, const char *address,
                         const certstore_list_t *l, const char *why)
{
    struct check *ck = arg;

    if (l == NULL) {
        fprintf(stderr, "%s: %s: %s\n", ck->store, address, why);
        ck->problems++;
        return 0;
    }
    for (size_t i = 0; i < certstore_list_count(l); i++) {
        const struct certstore_entry *e = certstore_list_get(l, i);
        gnutls_x509_crt_t crt = entry_crt(e);
        char serial[130] = "?";
        const char *p = crt ? judge(ck, address, e, crt)
                            : "unreadable certificate";
        ck->certs++;
        if (crt)
            smime_cert_serial_hex(crt, serial, sizeof(serial));
        if (p) {
            printf("%s serial=%s source=%s problem=\"%s\"\n", address,
                   serial, certstore_source_name(e->source), p);
            ck->problems++;
        }
        if (crt)
            gnutls_x509_crt_deinit(crt);
    }
    return 0;
}

static void report_stderr(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

static int cmd_check(const char *store, const char *conf_path)
{
    struct check ck = { store, NULL, time(NULL), 0, 0 };
    config_t *conf = NULL;
    certstore_t *cs;
    char err[300];
    int ret = 0;

    if (conf_path) {
        if ((conf = config_load(conf_path, CONFIG_NO_KEYSTORE, report_stderr,
                                NULL)) == NULL) {
            fprintf(stderr, "%s: %s: configuration not usable\n", prog,
                    conf_path);
            return 1;
        }
        ck.conf = conf;
    }
    if ((cs = open_ro(store)) == NULL) {
        config_unref(conf);
        return 1;
    }
    if (certstore_foreach(cs, check_address, &ck, err, sizeof(err))
        != CERTSTORE_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, store, err);
        ret = 1;
    } else if (ck.problems) {
        fprintf(stderr, "%s: %s: %u of %u certificate%s with problems\n",
                prog, store, ck.problems, ck.certs, ck.certs == 1 ? "" : "s");
        ret = 1;
    } else {
        printf("%s: %s: %u certificate%s OK%s\n", prog, store, ck.certs,
               ck.certs == 1 ? "" : "s", conf ? "" :
               " (no chain check without -c)");
    }
    certstore_free(cs);
    config_unref(conf);
    return ret;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    /* addresses are shown as they are stored: lower case */
    if (argc > 3 && (strcmp(cmd, "list") == 0 ||
                     strcmp(cmd, "export") == 0 ||
                     strcmp(cmd, "delete") == 0))
        for (char *p = argv[3]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);

    if (strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0) {
        printf("%s %s\nGnuTLS %s\n%s\n", prog, PACKAGE_VERSION,
               gnutls_check_version(NULL), certstore_lmdb_version());
        return 0;
    }
    if (strcmp(cmd, "import") == 0 && argc >= 4)
        return cmd_import(argv[2], argv + 3, argc - 3);
    if (strcmp(cmd, "list") == 0 && (argc == 3 || argc == 4))
        return cmd_list(argv[2], argc == 4 ? argv[3] : NULL);
    if (strcmp(cmd, "export") == 0 && argc == 4)
        return cmd_export(argv[2], argv[3]);
    if (strcmp(cmd, "delete") == 0 && (argc == 4 || argc == 5))
        return cmd_delete(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (strcmp(cmd, "check") == 0 && argc == 3)
        return cmd_check(argv[2], NULL);
    if (strcmp(cmd, "check") == 0 && argc == 5 && strcmp(argv[3], "-c") == 0)
        return cmd_check(argv[2], argv[4]);
    usage(stderr);
    return 2;
}
