/*
 * keystore_cred.c - one credential of smime-keystore, loaded and
 * checked by the same code whether build (a SOURCE line) or import-dir
 * (a file of the directory) named it: read a bounded file, import it
 * (PEM or PKCS#12) or reach its key on a token, and decide what it is
 * for (signing: keystore_check, with -c its chain, keystore_vet.h;
 * decryption: keystore_check_decrypt, expired allowed).  Each problem
 * and warning is printed as WHERE: [warning: ]message.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/gnutls.h>

#include "cert.h"
#include "errbuf.h"
#include "keystore.h"
#include "keystore_tool.h"
#include "keystore_vet.h"
#include "token.h"

#define MAX_CREDENTIAL (1024 * 1024)

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
char *
source_resolve(const char *source, const char *file)
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

void
cred_cache_clear(struct cred_cache *c)
{
    free(c->path);
    smime_signer_free(c->signer);
    memset(c, 0, sizeof(*c));
}

static int
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The cached credential for path, or NULL; *st gets path's state (or
 * st_ino 0 when it cannot be had). */
static smime_signer_t *
cache_get(struct cred_cache *c, const char *path, struct stat *st)
{
    if (stat(path, st) < 0)
        memset(st, 0, sizeof(*st));
    if (c == NULL || c->signer == NULL || st->st_ino == 0 ||
        strcmp(c->path, path) != 0 || !same_file(&c->st, st))
        return NULL;
    return smime_signer_ref(c->signer);
}

static void
cache_put(struct cred_cache *c, const char *path, const struct stat *st,
          smime_signer_t *s)
{
    char *p;

    if (c == NULL || st->st_ino == 0 || (p = strdup(path)) == NULL)
        return;
    cred_cache_clear(c);
    c->path = p;
    c->st = *st;
    c->signer = smime_signer_ref(s);
}

int
load_entry(const char *where, struct source_entry *e, const char *path,
           const struct vet_ctx *vc)
{
    char err[512];
    char eb[128];               /* smime_strerror() text */
    size_t len = 0;
    struct stat st;

    if ((e->signer = cache_get(vc->cache, path, &st)) != NULL)
        return decide_purpose(where, e, vc);
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
    cache_put(vc->cache, path, &st, e->signer);
    return decide_purpose(where, e, vc);
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
int
load_token_entry(const char *where, const char *source,
                 struct source_entry *e, const char *url,
                 const char *certfile, const struct vet_ctx *vc)
{
    gnutls_datum_t der[16];
    char err[512];
    int from_token = strcmp(certfile, "token") == 0;
    char *path = from_token ? NULL : source_resolve(source, certfile);
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
