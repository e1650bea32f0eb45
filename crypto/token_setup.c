/*
 * token_setup.c - what the configuration and smime-keystore need around
 * token keys: the PIN file (PKCS11PinFile), and the certificate of a key
 * with its issuers when they are kept on the token.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <p11-kit/uri.h>

#include "errbuf.h"
#include "token.h"
#include "token_priv.h"

/* ---- the PIN file ---- */

int
smime_token_read_pin(const char *path, char *pin_out, size_t len, char *err,
                     size_t errlen)
{
    char eb[128];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        smime_seterr(err, errlen, "cannot open %s: %s", path,
                     smime_strerror(errno, eb, sizeof(eb)));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && geteuid() != 0) ||
        (st.st_mode & 077)) {
        smime_seterr(err, errlen, "%s must be a regular file owned by uid "
                     "%lu with no group or other permissions (mode %04o): "
                     "chmod 600 %s", path, (unsigned long)geteuid(),
                     (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    n = read(fd, pin_out, len - 1);
    close(fd);
    if (n < 0) {
        smime_seterr(err, errlen, "cannot read %s: %s", path,
                     smime_strerror(errno, eb, sizeof(eb)));
        return -1;
    }
    while (n > 0 && (pin_out[n - 1] == '\n' || pin_out[n - 1] == '\r'))
        n--;
    pin_out[n] = '\0';
    if (n == 0 || memchr(pin_out, '\n', (size_t)n)) {
        gnutls_memset(pin_out, 0, len);
        smime_seterr(err, errlen, "%s must hold the PIN on one line", path);
        return -1;
    }
    return 0;
}

/* ---- certificates on the token ---- */

/* url as a URI of class cls (for_what: P11_KIT_URI_FOR_*); NULL if it
 * cannot be parsed.  free() it. */
static char *
url_as(const char *url, CK_OBJECT_CLASS cls, P11KitUriType for_what)
{
    P11KitUri *u = p11_kit_uri_new();
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
    char *out = NULL;

    if (u && p11_kit_uri_parse(url, P11_KIT_URI_FOR_ANY, u) == P11_KIT_URI_OK &&
        p11_kit_uri_set_attribute(u, &a) == P11_KIT_URI_OK &&
        p11_kit_uri_format(u, for_what, &out) != P11_KIT_URI_OK)
        out = NULL;
    p11_kit_uri_free(u);
    return out;
}

static int
export_der(gnutls_x509_crt_t crt, gnutls_datum_t *der)
{
    return gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der);
}

int
smime_token_certs(const char *url, gnutls_datum_t *der, size_t max,
                  char *err, size_t errlen)
{
    char *curl = url_as(url, CKO_CERTIFICATE, P11_KIT_URI_FOR_OBJECT_ON_TOKEN);
    char *turl = url_as(url, CKO_CERTIFICATE, P11_KIT_URI_FOR_TOKEN);
    gnutls_x509_crt_t crt = NULL;
    size_t n = 0;
    int r;

    if (curl == NULL || turl == NULL || max == 0) {
        smime_seterr(err, errlen, "bad PKCS#11 URI");
        goto out;
    }
    tok_prov_ensure();
    tok_prov_rdlock();
    if ((r = gnutls_x509_crt_init(&crt)) >= 0)
        r = gnutls_x509_crt_import_url(crt, curl,
                                       GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
    if (r >= 0)
        r = export_der(crt, &der[0]);
    if (r < 0) {
        smime_seterr(err, errlen, "no certificate for the key on the token "
                     "(%s): %s", curl, gnutls_strerror(r));
    } else {
        n = 1;
        /* the issuers the token holds, up to a self-signed one */
        while (n < max && gnutls_x509_crt_check_issuer(crt, crt) != 1) {
            gnutls_datum_t iss = { NULL, 0 };
            if (gnutls_pkcs11_get_raw_issuer(turl, crt, &iss,
                                             GNUTLS_X509_FMT_DER,
                                             GNUTLS_PKCS11_OBJ_FLAG_LOGIN |
                                             GNUTLS_PKCS11_OBJ_FLAG_RETRIEVE_ANY) < 0)
                break;
            gnutls_x509_crt_deinit(crt);
            crt = NULL;
            if (gnutls_x509_crt_init(&crt) < 0 ||
                gnutls_x509_crt_import(crt, &iss, GNUTLS_X509_FMT_DER) < 0) {
                gnutls_free(iss.data);
                break;
            }
            der[n++] = iss;
        }
    }
    tok_prov_unlock();
    gnutls_x509_crt_deinit(crt);
out:
    free(curl);
    free(turl);
    return n ? (int)n : -1;
}
