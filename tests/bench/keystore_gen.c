/*
 * keystore_gen.c - the source of a large keystore for
 * tests/bench/keystore_scale.sh (make bench).
 *
 *   keystore_gen PKI DIR NADDR PERCERT
 *
 * Writes DIR/source, an `smime-keystore build' SOURCE of NADDR entries
 * u<I>.<J>@scale.example, and the credential files it names,
 * DIR/c/<I>.pem: a private key of the test PKI (tests/pki/mkpki.sh:
 * alice's RSA-2048, ecdsa's P-256 and ed25519's keys in turn, so the
 * same few keys serve many addresses), a new certificate for that key
 * naming the PERCERT addresses u<I>.0 .. u<I>.<PERCERT-1>, and its chain
 * (as a real credential file holds it): a P-256 "Scale CA" made for the
 * run, issued by the PKI's intermediate, and the intermediate.  Issuing
 * with an EC key rather than the intermediate's RSA-2048 one: 100,000
 * certificates (a million addresses) took 179 s with RSA signatures,
 * most of `make bench'.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

static const char *const user_keys[] = { "alice", "ecdsa", "ed25519" };
#define NKEYS (sizeof(user_keys) / sizeof(user_keys[0]))

static void
die(const char *what, int r)
{
    fprintf(stderr, "keystore_gen: %s: %s\n", what,
            r ? gnutls_strerror(r) : strerror(errno));
    exit(1);
}

/* The PEM file PKI/NAME.SUFFIX, whole. */
static gnutls_datum_t
load(const char *pki, const char *name, const char *suffix)
{
    char path[4096];
    gnutls_datum_t d = { NULL, 0 };
    int r;

    snprintf(path, sizeof(path), "%s/%s.%s", pki, name, suffix);
    if ((r = gnutls_load_file(path, &d)) < 0)
        die(path, r);
    return d;
}

static gnutls_privkey_t
privkey(const gnutls_datum_t *pem)
{
    gnutls_privkey_t k;
    int r;

    if ((r = gnutls_privkey_init(&k)) < 0 ||
        (r = gnutls_privkey_import_x509_raw(k, pem, GNUTLS_X509_FMT_PEM,
                                            NULL, 0)) < 0)
        die("private key", r);
    return k;
}

/* The Scale CA: a new P-256 key (*key) and its certificate (*crt, PEM
 * into pem), CA:TRUE with path length 0, issued by ca. */
static void
scale_ca(gnutls_x509_crt_t ca, gnutls_privkey_t ca_key, gnutls_privkey_t *key,
         gnutls_x509_crt_t *crt, gnutls_datum_t *pem)
{
    static const char cn[] = "Scale CA", o[] = "smime-milter test";
    unsigned char serial[3] = { 0x2f, 0x00, 0x01 }, id[64];
    size_t idlen = sizeof(id);
    gnutls_pubkey_t pub;
    int r;

    if ((r = gnutls_privkey_init(key)) < 0 ||
        (r = gnutls_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                     0)) < 0 ||
        (r = gnutls_x509_crt_init(crt)) < 0 ||
        (r = gnutls_pubkey_init(&pub)) < 0 ||
        (r = gnutls_pubkey_import_privkey(pub, *key, 0, 0)) < 0 ||
        (r = gnutls_x509_crt_set_pubkey(*crt, pub)) < 0 ||
        (r = gnutls_x509_crt_set_version(*crt, 3)) < 0 ||
        (r = gnutls_x509_crt_set_serial(*crt, serial, sizeof(serial))) < 0 ||
        (r = gnutls_x509_crt_set_activation_time(*crt, 1577836800)) < 0 ||
        (r = gnutls_x509_crt_set_expiration_time(*crt, 4102444799)) < 0 ||
        (r = gnutls_x509_crt_set_basic_constraints(*crt, 1, 0)) < 0 ||
        (r = gnutls_x509_crt_set_key_usage(*crt, GNUTLS_KEY_KEY_CERT_SIGN |
                                           GNUTLS_KEY_CRL_SIGN)) < 0 ||
        (r = gnutls_x509_crt_get_key_id(*crt, 0, id, &idlen)) < 0 ||
        (r = gnutls_x509_crt_set_subject_key_id(*crt, id, idlen)) < 0 ||
        (r = gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_ORGANIZATION_NAME,
                                           0, o, sizeof(o) - 1)) < 0 ||
        (r = gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_COMMON_NAME,
                                           0, cn, sizeof(cn) - 1)) < 0 ||
        (r = gnutls_x509_crt_privkey_sign(*crt, ca, ca_key, GNUTLS_DIG_SHA256,
                                          0)) < 0 ||
        (r = gnutls_x509_crt_export2(*crt, GNUTLS_X509_FMT_PEM, pem)) < 0)
        die("the Scale CA", r);
    gnutls_pubkey_deinit(pub);
}

/* A certificate for key, naming u<i>.0 .. u<i>.<percert-1>, by ca. */
static int
issue(FILE *out, long i, long percert, gnutls_privkey_t key,
      gnutls_x509_crt_t ca, gnutls_privkey_t ca_key)
{
    gnutls_x509_crt_t c;
    gnutls_pubkey_t pub;
    unsigned char serial[4] = { 0x30, (unsigned char)(i >> 16),
                                (unsigned char)(i >> 8), (unsigned char)i };
    unsigned char id[64];
    size_t idlen = sizeof(id);
    char cn[64], addr[80], buf[16384];
    size_t len = sizeof(buf);
    int r;

    if ((r = gnutls_x509_crt_init(&c)) < 0 || (r = gnutls_pubkey_init(&pub)) < 0 ||
        (r = gnutls_pubkey_import_privkey(pub, key, 0, 0)) < 0 ||
        (r = gnutls_x509_crt_set_pubkey(c, pub)) < 0 ||
        (r = gnutls_x509_crt_set_version(c, 3)) < 0 ||
        (r = gnutls_x509_crt_set_serial(c, serial, sizeof(serial))) < 0 ||
        (r = gnutls_x509_crt_set_activation_time(c, 1577836800)) < 0 ||
        (r = gnutls_x509_crt_set_expiration_time(c, 4102444799)) < 0 ||
        (r = gnutls_x509_crt_set_basic_constraints(c, 0, -1)) < 0 ||
        (r = gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                           GNUTLS_KEY_NON_REPUDIATION)) < 0 ||
        (r = gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_EMAIL_PROTECTION,
                                                 0)) < 0 ||
        (r = gnutls_x509_crt_get_key_id(c, 0, id, &idlen)) < 0 ||
        (r = gnutls_x509_crt_set_subject_key_id(c, id, idlen)) < 0)
        die("certificate", r);
    snprintf(cn, sizeof(cn), "Scale %ld", i);
    if ((r = gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0,
                                           cn, (unsigned)strlen(cn))) < 0)
        die("certificate name", r);
    for (long j = 0; j < percert; j++) {
        snprintf(addr, sizeof(addr), "u%ld.%ld@scale.example", i, j);
        if ((r = gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_RFC822NAME,
                                                      addr, (unsigned)strlen(addr),
                                                      GNUTLS_FSAN_APPEND)) < 0)
            die("certificate address", r);
    }
    if ((r = gnutls_x509_crt_privkey_sign(c, ca, ca_key, GNUTLS_DIG_SHA256,
                                          0)) < 0 ||
        (r = gnutls_x509_crt_export(c, GNUTLS_X509_FMT_PEM, buf, &len)) < 0)
        die("signing the certificate", r);
    fwrite(buf, 1, len, out);
    gnutls_pubkey_deinit(pub);
    gnutls_x509_crt_deinit(c);
    return 0;
}

int
main(int argc, char **argv)
{
    gnutls_datum_t key_pem[NKEYS], ca_pem, ca_key_pem, sca_pem;
    gnutls_privkey_t keys[NKEYS], ca_key, sca_key;
    gnutls_x509_crt_t ca, sca;
    char path[4096];
    long naddr, percert;
    FILE *src;
    int r;

    if (argc != 5 || (naddr = atol(argv[3])) < 1 ||
        (percert = atol(argv[4])) < 1) {
        fprintf(stderr, "usage: keystore_gen PKI DIR NADDR PERCERT\n");
        return 2;
    }
    const char *pki = argv[1], *dir = argv[2];
    for (size_t k = 0; k < NKEYS; k++) {
        key_pem[k] = load(pki, user_keys[k], "key");
        keys[k] = privkey(&key_pem[k]);
    }
    ca_pem = load(pki, "inter", "crt");
    ca_key_pem = load(pki, "inter", "key");
    ca_key = privkey(&ca_key_pem);
    if ((r = gnutls_x509_crt_init(&ca)) < 0 ||
        (r = gnutls_x509_crt_import(ca, &ca_pem, GNUTLS_X509_FMT_PEM)) < 0)
        die("inter.crt", r);
    scale_ca(ca, ca_key, &sca_key, &sca, &sca_pem);
    snprintf(path, sizeof(path), "%s/c", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        die(dir, 0);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        die(path, 0);
    snprintf(path, sizeof(path), "%s/source", dir);
    if ((src = fopen(path, "w")) == NULL)
        die(path, 0);
    long ncerts = (naddr + percert - 1) / percert;
    for (long i = 0; i < ncerts; i++) {
        long n = i == ncerts - 1 ? naddr - i * percert : percert;
        FILE *f;
        snprintf(path, sizeof(path), "%s/c/%ld.pem", dir, i);
        if ((f = fopen(path, "w")) == NULL)
            die(path, 0);
        fwrite(key_pem[i % NKEYS].data, 1, key_pem[i % NKEYS].size, f);
        issue(f, i, n, keys[i % NKEYS], sca, sca_key);
        fwrite(sca_pem.data, 1, sca_pem.size, f);
        fwrite(ca_pem.data, 1, ca_pem.size, f);
        if (fclose(f) != 0)
            die(path, 0);
        for (long j = 0; j < n; j++)
            fprintf(src, "u%ld.%ld@scale.example c/%ld.pem\n", i, j, i);
    }
    if (fclose(src) != 0)
        die("source", 0);
    printf("addresses=%ld certificates=%ld\n", naddr, ncerts);
    return 0;
}
