/*
 * cert.c - the certificate rules of RFC 8550 §4.4 (signing) and of
 * RFC 5280 §4.2.1.3 / RFC 8550 §4.4.2 (decryption) and the few
 * certificate fields that results and logs show, in one place for
 * verification, signing, the keystore and the certificate store (which
 * keeps certificates usable to encrypt to: keyEncipherment for RSA,
 * keyAgreement for EC).
 *
 * Distinguished names are rendered by gnutls_x509_crt_get_*_dn3() with
 * flags 0, that is RFC 4514 order, most specific first:
 * "CN=Test Intermediate CA,O=smime-milter test".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>

#include "cert.h"

#define ADDR_MAX 256                /* longer is no valid addr-spec */

const char *smime_cert_status_string(enum smime_cert_status s)
{
    switch (s) {
    case SMIME_CERT_OK:            return "certificate usable";
    case SMIME_CERT_EXPIRED:       return "expired certificate";
    case SMIME_CERT_NOT_YET_VALID: return "certificate not yet valid";
    case SMIME_CERT_KEY_USAGE:     return "wrong key usage";
    case SMIME_CERT_EKU:           return "no emailProtection";
    case SMIME_CERT_NO_ADDRESS:    return "no address in certificate";
    case SMIME_CERT_WEAK_KEY:      return "weak key";
    case SMIME_CERT_KEY_TYPE:      return "key type cannot encrypt";
    case SMIME_CERT_BAD:           break;
    }
    return "unreadable certificate";
}

enum smime_cert_status smime_cert_check_time(gnutls_x509_crt_t crt,
                                             time_t now)
{
    time_t nb = gnutls_x509_crt_get_activation_time(crt);
    time_t na = gnutls_x509_crt_get_expiration_time(crt);

    if (nb == (time_t)-1 || na == (time_t)-1)
        return SMIME_CERT_BAD;
    if (now < nb)
        return SMIME_CERT_NOT_YET_VALID;
    if (now > na)
        return SMIME_CERT_EXPIRED;
    return SMIME_CERT_OK;
}

/* extendedKeyUsage: emailProtection or anyExtendedKeyUsage, when present. */
static enum smime_cert_status check_eku(gnutls_x509_crt_t crt)
{
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t sz = sizeof(oid);
        int r = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &sz, NULL);
        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return i == 0 ? SMIME_CERT_OK : SMIME_CERT_EKU;
        if (r == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue;                   /* some long private OID */
        if (r < 0)
            return SMIME_CERT_BAD;
        if (strcmp(oid, GNUTLS_KP_EMAIL_PROTECTION) == 0 ||
            strcmp(oid, GNUTLS_KP_ANY) == 0)
            return SMIME_CERT_OK;
    }
}

/* keyUsage has one of the bits in want, or is absent (every usage). */
static enum smime_cert_status check_ku(gnutls_x509_crt_t crt, unsigned want)
{
    unsigned usage = 0;
    int r = gnutls_x509_crt_get_key_usage(crt, &usage, NULL);

    if (r < 0 && r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return SMIME_CERT_BAD;
    if (r >= 0 && !(usage & want))
        return SMIME_CERT_KEY_USAGE;
    return SMIME_CERT_OK;
}

enum smime_cert_status smime_cert_check_usage(gnutls_x509_crt_t crt)
{
    enum smime_cert_status s = check_ku(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                        GNUTLS_KEY_NON_REPUDIATION);
    return s != SMIME_CERT_OK ? s : check_eku(crt);
}

enum smime_cert_status smime_cert_check_encrypt_usage(gnutls_x509_crt_t crt)
{
    enum smime_cert_status s;
    int alg = gnutls_x509_crt_get_pk_algorithm(crt, NULL);

    if (alg == GNUTLS_PK_RSA)
        s = check_ku(crt, GNUTLS_KEY_KEY_ENCIPHERMENT);
    else if (alg == GNUTLS_PK_EC)
        s = check_ku(crt, GNUTLS_KEY_KEY_AGREEMENT);
    else
        return alg < 0 ? SMIME_CERT_BAD : SMIME_CERT_KEY_TYPE;
    return s != SMIME_CERT_OK ? s : check_eku(crt);
}

int smime_cert_can_sign(gnutls_x509_crt_t crt)
{
    return smime_cert_check_usage(crt) == SMIME_CERT_OK;
}

int smime_cert_can_decrypt(gnutls_x509_crt_t crt)
{
    return smime_cert_check_encrypt_usage(crt) == SMIME_CERT_OK;
}

int smime_cert_can_encrypt(gnutls_x509_crt_t crt, const char *addr)
{
    return smime_cert_check_encrypt_usage(crt) == SMIME_CERT_OK &&
           smime_cert_has_address(crt, addr);
}

enum smime_cert_status smime_cert_check_key(gnutls_x509_crt_t crt,
                                            unsigned min_rsa_bits)
{
    unsigned bits = 0;
    int alg = gnutls_x509_crt_get_pk_algorithm(crt, &bits);

    return smime_cert_key_status(alg, bits, min_rsa_bits);
}

enum smime_cert_status smime_cert_key_status(int alg, unsigned bits,
                                             unsigned min_rsa_bits)
{
    if (alg < 0)
        return SMIME_CERT_BAD;
    if ((alg == GNUTLS_PK_RSA || alg == GNUTLS_PK_RSA_PSS) &&
        bits < min_rsa_bits)
        return SMIME_CERT_WEAK_KEY;
    return SMIME_CERT_OK;
}

/* Appends addr unless it is already there (case-insensitively). */
static int addr_add(char **out, size_t *n, size_t max, const char *addr)
{
    for (size_t i = 0; i < *n; i++)
        if (strcasecmp(out[i], addr) == 0)
            return 0;
    if (*n >= max)
        return -1;
    if ((out[*n] = strdup(addr)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

size_t smime_cert_addresses(gnutls_x509_crt_t crt, char **out, size_t max)
{
    char buf[ADDR_MAX];
    size_t n = 0, sz;
    int r;

    /* the extension decoded once: get_subject_alt_name(i) decodes it
     * again for each i */
    gnutls_datum_t ext = { NULL, 0 };
    gnutls_subject_alt_names_t sans = NULL;
    if (gnutls_x509_crt_get_extension_by_oid2(crt, GNUTLS_X509EXT_OID_SAN, 0,
                                              &ext, NULL) >= 0 &&
        gnutls_subject_alt_names_init(&sans) >= 0 &&
        gnutls_x509_ext_import_subject_alt_names(&ext, sans, 0) >= 0) {
        unsigned type;
        gnutls_datum_t v;
        for (unsigned i = 0; gnutls_subject_alt_names_get(sans, i, &type,
                                                          &v, NULL) >= 0; i++) {
            /* An embedded NUL would let "a@x\0.evil" pass as "a@x". */
            if (type != GNUTLS_SAN_RFC822NAME || v.size >= sizeof(buf) ||
                memchr(v.data, 0, v.size) != NULL)
                continue;
            memcpy(buf, v.data, v.size);
            buf[v.size] = '\0';
            if (addr_add(out, &n, max, buf) < 0)
                break;
        }
    }
    if (sans)
        gnutls_subject_alt_names_deinit(sans);
    gnutls_free(ext.data);
    if (n >= max)
        return n;
    for (unsigned i = 0;; i++) {
        sz = sizeof(buf);
        r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_PKCS9_EMAIL, i, 0,
                                          buf, &sz);
        if (r == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue;
        if (r < 0)
            break;
        if (strlen(buf) == sz && addr_add(out, &n, max, buf) < 0)
            return n;
    }
    return n;
}

void smime_cert_addresses_free(char **addrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(addrs[i]);
        addrs[i] = NULL;
    }
}

int smime_cert_has_address(gnutls_x509_crt_t crt, const char *addr)
{
    char **list = malloc(SMIME_CERT_MAX_ADDRESSES * sizeof(*list));
    size_t n = list ? smime_cert_addresses(crt, list,
                                           SMIME_CERT_MAX_ADDRESSES) : 0;
    int found = 0;

    for (size_t i = 0; i < n && !found; i++)
        found = strcasecmp(list[i], addr) == 0;
    smime_cert_addresses_free(list, n);
    free(list);
    return found;
}

void smime_cert_serial_hex(gnutls_x509_crt_t crt, char *buf, size_t len)
{
    unsigned char serial[64];
    size_t sz = sizeof(serial), i = 0, o = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    if (gnutls_x509_crt_get_serial(crt, serial, &sz) < 0 || sz == 0)
        return;
    while (i + 1 < sz && serial[i] == 0)
        i++;
    for (; i < sz && o + 3 <= len; i++, o += 2)
        snprintf(buf + o, 3, "%02x", serial[i]);
}

static void dn_copy(int r, gnutls_datum_t *d, char *buf, size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    if (r < 0)
        return;
    snprintf(buf, len, "%.*s", (int)d->size, (const char *)d->data);
    gnutls_free(d->data);
}

void smime_cert_issuer_dn(gnutls_x509_crt_t crt, char *buf, size_t len)
{
    gnutls_datum_t d = { NULL, 0 };
    dn_copy(gnutls_x509_crt_get_issuer_dn3(crt, &d, 0), &d, buf, len);
}

void smime_cert_subject_dn(gnutls_x509_crt_t crt, char *buf, size_t len)
{
    gnutls_datum_t d = { NULL, 0 };
    dn_copy(gnutls_x509_crt_get_dn3(crt, &d, 0), &d, buf, len);
}

int smime_cert_serial_eq(const unsigned char *a, size_t an,
                         const unsigned char *b, size_t bn)
{
    while (an > 1 && a[0] == 0) {
        a++;
        an--;
    }
    while (bn > 1 && b[0] == 0) {
        b++;
        bn--;
    }
    return an == bn && memcmp(a, b, bn) == 0;
}

int smime_cert_is_issuer_serial(gnutls_x509_crt_t crt,
                                const unsigned char *issuer, size_t ilen,
                                const unsigned char *serial, size_t slen)
{
    unsigned char buf[128];
    size_t sz = sizeof(buf);
    gnutls_datum_t dn = { NULL, 0 };
    int ok;

    if (gnutls_x509_crt_get_serial(crt, buf, &sz) < 0 ||
        !smime_cert_serial_eq(serial, slen, buf, sz) ||
        gnutls_x509_crt_get_raw_issuer_dn(crt, &dn) < 0)
        return 0;
    ok = dn.size == ilen && memcmp(dn.data, issuer, ilen) == 0;
    gnutls_free(dn.data);
    return ok;
}

int smime_cert_has_ski(gnutls_x509_crt_t crt, const unsigned char *ski,
                       size_t n)
{
    unsigned char buf[128];
    size_t sz = sizeof(buf);

    return gnutls_x509_crt_get_subject_key_id(crt, buf, &sz, NULL) >= 0 &&
           sz == n && memcmp(buf, ski, n) == 0;
}
