/*
 * keystore_write.c - write a keystore (format in keystore.h)
 * atomically: mkstemp next to the target, mode 0600, cdb_make, fsync,
 * rename over the target, fsync the directory.  Readers see either the
 * old file or the complete new one, never a mix.
 *
 * Records hold private keys: every buffer that held one is wiped with
 * gnutls_memset() before it is freed, tinycdb's write buffer included.
 */
#include "config.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "keystore.h"
#include "keystore_priv.h"

struct keystore_writer {
    char *path;
    char *tmp;
    char *dir;
    int fd;
    int started;
    struct cdb_make cm;
};


keystore_writer_t *
keystore_writer_new(const char *path, char *err, size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    keystore_writer_t *w = calloc(1, sizeof(*w));
    char *copy = strdup(path);

    if (w != NULL)
        w->fd = -1;             /* not 0 from calloc: cleanup closes it */
    if (w == NULL || copy == NULL)
        goto nomem;
    if ((w->path = strdup(path)) == NULL ||
        (w->dir = strdup(dirname(copy))) == NULL)
        goto nomem;
    free(copy);
    copy = strdup(path);
    if (copy == NULL ||
        asprintf(&w->tmp, "%s/.%s.XXXXXX", w->dir, basename(copy)) < 0) {
        w->tmp = NULL;
        goto nomem;
    }
    free(copy);
    copy = NULL;
    w->fd = mkstemp(w->tmp);              /* creates it with mode 0600 */
    if (w->fd < 0) {
        smime_seterr(err, errlen, "cannot create a file in %s: %s", w->dir,
                     smime_strerror(errno, eb, sizeof eb));
        free(w->tmp);
        w->tmp = NULL;
        keystore_writer_free(w);
        return NULL;
    }
    const char version[1] = { (char)('0' + KEYSTORE_VERSION) };
    if (fchmod(w->fd, 0600) < 0 || cdb_make_start(&w->cm, w->fd) < 0 ||
        cdb_make_add(&w->cm, KS_MAGIC_KEY, KS_MAGIC_KEYLEN, version, 1) < 0) {
        smime_seterr(err, errlen, "cannot write %s: %s", w->tmp,
                     smime_strerror(errno, eb, sizeof eb));
        keystore_writer_free(w);
        return NULL;
    }
    w->started = 1;
    return w;
nomem:
    free(copy);
    smime_seterr(err, errlen, "out of memory");
    keystore_writer_free(w);
    return NULL;
}

/* A growable record buffer that is wiped when freed. */
struct rec {
    unsigned char *p;
    size_t len, cap;
    int failed;
};

static void
rec_put(struct rec *r, const void *d, size_t n)
{
    if (r->failed)
        return;
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        unsigned char *p = malloc(cap);
        if (p == NULL) {
            r->failed = 1;
            return;
        }
        if (r->len)
            memcpy(p, r->p, r->len);
        if (r->p) {
            gnutls_memset(r->p, 0, r->cap);
            free(r->p);
        }
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p + r->len, d, n);
    r->len += n;
}

static void
rec_field(struct rec *r, unsigned char type, const void *d, size_t n)
{
    unsigned char h[5] = { type, (unsigned char)(n >> 24),
                           (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                           (unsigned char)n };
    if (n > 0xffffffffu) {
        r->failed = 1;
        return;
    }
    rec_put(r, h, sizeof(h));
    rec_put(r, d, n);
}

static void
rec_wipe(struct rec *r)
{
    if (r->p) {
        gnutls_memset(r->p, 0, r->cap);
        free(r->p);
    }
    memset(r, 0, sizeof(*r));
}

/* One credential's fields: purpose, key, certificates. */
static int
rec_cred(struct rec *r, const struct keystore_cred *c)
{
    gnutls_datum_t k = { NULL, 0 };
    unsigned char purpose = (unsigned char)c->purpose;

    const char *url = smime_signer_token_url(c->signer);

    rec_field(r, KS_FIELD_PURPOSE, &purpose, 1);
    if (url != NULL) {
        if (strlen(url) > KS_MAX_URI)
            return -1;
        rec_field(r, KS_FIELD_URI, url, strlen(url));
    } else {
        if (smime_signer_export_key(c->signer, &k) < 0)
            return -1;
        rec_field(r, KS_FIELD_KEY, k.data, k.size);
        gnutls_memset(k.data, 0, k.size);
        gnutls_free(k.data);
    }
    for (size_t i = 0; i < smime_signer_ncerts(c->signer); i++) {
        gnutls_datum_t d = { NULL, 0 };
        if (gnutls_x509_crt_export2(smime_signer_cert(c->signer, i),
                                    GNUTLS_X509_FMT_DER, &d) < 0) {
            r->failed = 1;
            break;
        }
        rec_field(r, KS_FIELD_CERT, d.data, d.size);
        gnutls_free(d.data);
    }
    return 0;
}

int
keystore_writer_add_creds(keystore_writer_t *w, const char *address,
                          const struct keystore_cred *creds, size_t ncreds,
                          const char *const *logins, size_t nlogins,
                          char *err, size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    char key[KS_MAX_ADDRESS + 1];
    size_t klen = keystore_key(address, key);
    struct rec r = { NULL, 0, 0, 0 };
    unsigned char version = KEYSTORE_VERSION;
    int ret = -1;

    if (klen == 0) {
        smime_seterr(err, errlen, "bad address");
        return -1;
    }
    if (ncreds == 0 || ncreds > KS_MAX_CREDS) {
        smime_seterr(err, errlen, "%s: %zu credentials (1 to %d allowed)",
                     address, ncreds, KS_MAX_CREDS);
        return -1;
    }
    if (cdb_make_exists(&w->cm, key, (unsigned)klen) > 0) {
        smime_seterr(err, errlen, "duplicate address %s", address);
        return -1;
    }
    rec_put(&r, &version, 1);
    for (size_t i = 0; i < nlogins; i++)
        rec_field(&r, KS_FIELD_LOGIN, logins[i], strlen(logins[i]));
    for (size_t i = 0; i < ncreds; i++) {
        unsigned p = creds[i].purpose;
        if (p == 0 || (p & ~(KEYSTORE_SIGN | KEYSTORE_DECRYPT))) {
            smime_seterr(err, errlen, "%s: bad credential purpose %u",
                         address, p);
            goto out;
        }
        if (rec_cred(&r, &creds[i]) < 0) {
            smime_seterr(err, errlen, "cannot export the private key");
            goto out;
        }
    }
    if (r.failed) {
        smime_seterr(err, errlen, "out of memory");
        goto out;
    }
    if (cdb_make_add(&w->cm, key, (unsigned)klen, r.p, (unsigned)r.len) < 0) {
        smime_seterr(err, errlen, "cannot write %s: %s", w->tmp,
                     smime_strerror(errno, eb, sizeof eb));
        goto out;
    }
    ret = 0;
out:
    rec_wipe(&r);
    return ret;
}

int
keystore_writer_add(keystore_writer_t *w, const char *address,
                    const smime_signer_t *signer,
                    const char *const *logins, size_t nlogins,
                    char *err, size_t errlen)
{
    struct keystore_cred c = { signer, KEYSTORE_SIGN };

    return keystore_writer_add_creds(w, address, &c, 1, logins, nlogins,
                                     err, errlen);
}

int
keystore_writer_commit(keystore_writer_t *w, char *err, size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    struct stat st;
    int ret = cdb_make_finish(&w->cm);

    w->started = 0;
    gnutls_memset(&w->cm, 0, sizeof(w->cm));
    if (ret < 0 || fsync(w->fd) < 0) {
        smime_seterr(err, errlen, "cannot write %s: %s", w->tmp,
                     smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    /* root rebuilding the daemon's keystore: keep the daemon's owner */
    if (geteuid() == 0 && stat(w->path, &st) == 0 &&
        fchown(w->fd, st.st_uid, st.st_gid) < 0) {
        smime_seterr(err, errlen, "cannot chown %s: %s", w->tmp,
                     smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    if (close(w->fd) < 0) {
        w->fd = -1;
        smime_seterr(err, errlen, "cannot write %s: %s", w->tmp,
                     smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) < 0) {
        smime_seterr(err, errlen, "cannot rename %s to %s: %s", w->tmp, w->path,
                     smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    free(w->tmp);
    w->tmp = NULL;                        /* nothing left to remove */
    int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0) {
        smime_seterr(err, errlen, "cannot sync directory %s: %s", w->dir,
                     smime_strerror(errno, eb, sizeof eb));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    close(dfd);
    return 0;
}

void
keystore_writer_free(keystore_writer_t *w)
{
    if (w == NULL)
        return;
    if (w->started) {
        /* cdb_make keeps record bookkeeping in malloc'd lists that only
         * cdb_make_finish releases; finishing into the doomed file is
         * the way to free them. */
        cdb_make_finish(&w->cm);
        gnutls_memset(&w->cm, 0, sizeof(w->cm));
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp) {
        unlink(w->tmp);
        free(w->tmp);
    }
    free(w->path);
    free(w->dir);
    free(w);
}
