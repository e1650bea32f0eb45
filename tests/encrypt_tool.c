/*
 * encrypt_tool.c - test driver for crypto/envelope_write.h (and the
 * reader, envelope.h), so that independent tools (openssl cms, NSS
 * cmsutil, gpgsm) can judge what we encrypt, and our reader what they
 * and we encrypt:
 *
 *   encrypt_tool [-g] [-c CHUNK] IN OUT.der CERT...   encrypt IN to CERTs
 *   encrypt_tool -d CERT KEY IN.der OUT               decrypt (our reader)
 *   encrypt_tool -H STORE ADDRESS CERT CHAIN          harvest CERT (with
 *       SMIMECapabilities listing AES-256-GCM and -CBC) into a
 *       certificate store, as an inbound signed message would
 *
 * -g: AES-256-GCM AuthEnvelopedData (default AES-256-CBC EnvelopedData);
 * -c feeds the content in chunks of that size (default 4096).  CERT and
 * KEY are PEM.  Exit 0 on success, 1 with a message on stderr.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "certstore.h"
#include "envelope.h"
#include "envelope_write.h"

static int die(const char *what, const char *why)
{
    fprintf(stderr, "encrypt_tool: %s: %s\n", what, why);
    return 1;
}

static int load(const char *path, gnutls_datum_t *d)
{
    return gnutls_load_file(path, d) < 0 ? -1 : 0;
}

static int put(void *arg, const void *p, size_t n)
{
    return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

static gnutls_x509_crt_t crt_load(const char *path)
{
    gnutls_datum_t d;
    gnutls_x509_crt_t c = NULL;

    if (load(path, &d) < 0)
        return NULL;
    if (gnutls_x509_crt_init(&c) < 0 ||
        gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM) < 0) {
        gnutls_x509_crt_deinit(c);
        c = NULL;
    }
    gnutls_free(d.data);
    return c;
}

static int encrypt(int gcm, size_t chunk, char **argv, int argc)
{
    FILE *in = fopen(argv[0], "rb"), *out = fopen(argv[1], "wb");
    smime_encrypt_t *e;
    char *buf;
    size_t n;
    smime_encrypt_status_t st = SMIME_ENCRYPT_OK;

    if (in == NULL || out == NULL)
        return die(argv[in == NULL ? 0 : 1], "cannot open");
    e = smime_encrypt_new(gcm ? SMIME_ENCRYPT_AES256_GCM
                              : SMIME_ENCRYPT_AES256_CBC, put, out);
    if (e == NULL || (buf = malloc(chunk)) == NULL)
        return die("encrypt", "out of memory");
    for (int i = 2; i < argc && st == SMIME_ENCRYPT_OK; i++) {
        gnutls_x509_crt_t c = crt_load(argv[i]);
        if (c == NULL)
            return die(argv[i], "not a PEM certificate");
        st = smime_encrypt_add_recipient(e, c);
        gnutls_x509_crt_deinit(c);
    }
    while (st == SMIME_ENCRYPT_OK && (n = fread(buf, 1, chunk, in)) > 0)
        st = smime_encrypt_update(e, buf, n);
    if (st == SMIME_ENCRYPT_OK)
        st = smime_encrypt_finish(e);
    if (st != SMIME_ENCRYPT_OK)
        return die("encrypt", smime_encrypt_error(e));
    smime_encrypt_free(e);
    free(buf);
    fclose(in);
    return fclose(out) == 0 ? 0 : die(argv[1], "write failed");
}

static int decrypt(char **argv)
{
    gnutls_x509_crt_t c = crt_load(argv[0]);
    gnutls_privkey_t key;
    gnutls_datum_t kd;
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    smime_decrypt_t *d;
    smime_decrypt_status_t st = SMIME_DECRYPT_OK;
    char buf[4096];
    size_t n;

    if (c == NULL || in == NULL || out == NULL || load(argv[1], &kd) < 0)
        return die("decrypt", "cannot read the arguments");
    if (gnutls_privkey_init(&key) < 0 ||
        gnutls_privkey_import_x509_raw(key, &kd, GNUTLS_X509_FMT_PEM,
                                       NULL, 0) < 0)
        return die(argv[1], "not a PEM private key");
    if ((d = smime_decrypt_new(NULL, put, out)) == NULL)
        return die("decrypt", "out of memory");
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        st = smime_decrypt_feed(d, buf, n);
        if (st == SMIME_DECRYPT_NEED_KEY &&
            (st = smime_decrypt_unwrap(d, key, c)) == SMIME_DECRYPT_OK)
            continue;
        if (st != SMIME_DECRYPT_OK)
            break;
    }
    if (st == SMIME_DECRYPT_OK)
        st = smime_decrypt_finish(d);
    if (st != SMIME_DECRYPT_OK)
        return die("decrypt", smime_decrypt_error(d));
    printf("%s\n", smime_decrypt_cipher(d));
    smime_decrypt_free(d);
    gnutls_privkey_deinit(key);
    gnutls_x509_crt_deinit(c);
    gnutls_free(kd.data);
    fclose(in);
    return fclose(out) == 0 ? 0 : die(argv[3], "write failed");
}

static int der_of(const char *path, gnutls_datum_t *der)
{
    gnutls_datum_t pem;
    int r;

    if (load(path, &pem) < 0)
        return -1;
    r = gnutls_pem_base64_decode2("CERTIFICATE", &pem, der);
    gnutls_free(pem.data);
    return r < 0 ? -1 : 0;
}

static int harvest(char **argv)
{
    /* SEQUENCE { SEQUENCE { id-aes256-GCM }, SEQUENCE { id-aes256-CBC } } */
    static const unsigned char caps[] = {
        0x30, 0x1a, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x01, 0x2e, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
        0x01, 0x65, 0x03, 0x04, 0x01, 0x2a };
    gnutls_datum_t c, ch;
    char err[256];
    certstore_t *cs;

    if (der_of(argv[2], &c) < 0 || der_of(argv[3], &ch) < 0)
        return die(argv[2], "not a PEM certificate");
    const unsigned char *cp[1] = { ch.data };
    size_t cl[1] = { ch.size };
    cs = certstore_open(argv[0], CERTSTORE_RDWR | CERTSTORE_CREATE, 0, err,
                        sizeof(err));
    if (cs == NULL)
        return die(argv[0], err);
    if (certstore_harvest(cs, argv[1], c.data, c.size, cp, cl, 1, caps,
                          sizeof(caps), (int64_t)time(NULL), err,
                          sizeof(err)) != CERTSTORE_OK)
        return die(argv[1], err);
    certstore_free(cs);
    gnutls_free(c.data);
    gnutls_free(ch.data);
    return 0;
}

int main(int argc, char **argv)
{
    int gcm = 0, dec = 0, harv = 0, o;
    size_t chunk = 4096;

    while ((o = getopt(argc, argv, "gdHc:")) != -1) {
        switch (o) {
        case 'H': harv = 1; break;
        case 'g': gcm = 1; break;
        case 'd': dec = 1; break;
        case 'c': chunk = strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if (harv)
        return argc == 4 ? harvest(argv) : 2;
    if (chunk == 0 || (dec ? argc != 4 : argc < 3)) {
        fprintf(stderr, "usage: encrypt_tool [-g] [-c CHUNK] IN OUT CERT...\n"
                        "       encrypt_tool -d CERT KEY IN OUT\n");
        return 2;
    }
    return dec ? decrypt(argv) : encrypt(gcm, chunk, argv, argc);
}
