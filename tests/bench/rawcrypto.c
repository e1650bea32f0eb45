/*
 * rawcrypto.c - the ceiling for `make bench': how many signatures,
 * key transports and key agreements per second GnuTLS itself does with a
 * key, and how many MB/s it decrypts, with no milter, no CMS and no MIME
 * around it.
 *
 * SYNOPSIS
 *	rawcrypto [-d SECONDS] [-t THREADS] [-x OP[,OP...]] NAME KEY.pem CERT.pem ...
 *	rawcrypto [-d SECONDS] [-t THREADS] -x cipher[,encipher] aes-256-cbc|aes-256-gcm ...
 *
 * DESCRIPTION
 *	For each NAME/KEY/CERT triple, each OP (default sign,verify), and
 *	for 1 thread and then THREADS threads (default 2), repeats for
 *	SECONDS (default 2):
 *	    sign     signs a 256-byte buffer (the size of a CMS signedAttrs
 *	             block) with gnutls_privkey_sign_data2() and SHA-256
 *	             (Ed25519: PureEdDSA);
 *	    verify   verifies such a signature (gnutls_pubkey_verify_data2);
 *	    decrypt  the recipient's private-key operation: RSA, recovers a
 *	             32-byte key from PKCS#1 v1.5 (gnutls_privkey_decrypt_data2,
 *	             as crypto/envelope_key.c); EC, the ECDH shared secret of
 *	             the private scalar and a point (crypto/ecdh.h
 *	             ecdh_shared, as the reader of ECDH RecipientInfos);
 *	    encrypt  the sender's public-key operation: RSA, encrypts a
 *	             32-byte key (gnutls_pubkey_encrypt_data, as
 *	             crypto/envelope_write_ri.c); EC, an ephemeral key and
 *	             the shared secret with the certificate's point
 *	             (ecdh_ephemeral, as the writer).
 *	With -x cipher the arguments are cipher names and the measurement is
 *	bulk decryption throughput: gnutls_cipher_decrypt2() on 16 KB
 *	chunks, a fresh IV (and for GCM the tag) every MB, as
 *	crypto/envelope_cipher.c decrypts a message; -x encipher is the
 *	same with gnutls_cipher_encrypt2(), the bulk encryption throughput
 *	(the ceiling of Mode e on a large message).
 *	Each thread imports its own copy of the key, so nothing is shared
 *	between threads.  Prints one line per measurement, with the rate
 *	per wall-clock second and per CPU-second of the process (the latter
 *	does not depend on what else the machine runs):
 *	    OP NAME threads=N ops=COUNT secs=S rate=R cpurate=C
 *	for a cipher OP is "cipher" (decryption) or "encipher" and COUNT, R
 *	and C count MB (2^20 bytes) of ciphertext.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ecdh.h"

enum op { OP_SIGN, OP_VERIFY, OP_DECRYPT, OP_ENCRYPT, OP_CIPHER, OP_ENCIPHER,
          OP_N };
static const char *const op_names[OP_N] = {"sign", "verify", "decrypt",
                                           "encrypt", "cipher", "encipher"};
#define CIPHER_OPS (1u << OP_CIPHER | 1u << OP_ENCIPHER)

#define CHUNK (16 * 1024)
#define MB (1024 * 1024)

struct job {
    const char *name, *keyfile, *certfile;
    enum op op;
    double secs;
    long ops;                   /* out */
    int failed;                 /* out */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (all threads), seconds. */
static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load(const char *file, gnutls_datum_t *d)
{
    return gnutls_load_file(file, d) < 0 ? -1 : 0;
}

/* The key and the certificate's public key, imported by this thread. */
static int keys_import(const struct job *j, gnutls_privkey_t *key,
                       gnutls_pubkey_t *pub)
{
    gnutls_datum_t kd = {0}, cd = {0};
    gnutls_x509_crt_t crt = NULL;
    int rc = -1;

    if (load(j->keyfile, &kd) < 0 || load(j->certfile, &cd) < 0)
        goto out;
    if (gnutls_privkey_init(key) < 0 ||
        gnutls_privkey_import_x509_raw(*key, &kd, GNUTLS_X509_FMT_PEM, NULL,
                                       0) < 0)
        goto out;
    if (gnutls_x509_crt_init(&crt) < 0 ||
        gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_PEM) < 0 ||
        gnutls_pubkey_init(pub) < 0 ||
        gnutls_pubkey_import_x509(*pub, crt, 0) < 0)
        goto out;
    rc = 0;
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_free(kd.data);
    gnutls_free(cd.data);
    return rc;
}

/* What one key operation needs, prepared once per thread. */
struct keyop {
    gnutls_privkey_t key;
    gnutls_pubkey_t pub;
    gnutls_sign_algorithm_t alg;
    unsigned char buf[256];
    gnutls_datum_t data, sig, ct;   /* sig: for verify; ct: for decrypt */
    int ec;                         /* decrypt/encrypt by ECDH */
    gnutls_ecc_curve_t curve;
    gnutls_datum_t k;               /* EC private scalar */
    uint8_t xy[2 * ECDH_MAX_FIELD]; /* the certificate's point */
};

static void keyop_free(struct keyop *o)
{
    gnutls_free(o->sig.data);
    gnutls_free(o->ct.data);
    if (o->k.data != NULL) {
        gnutls_memset(o->k.data, 0, o->k.size);
        gnutls_free(o->k.data);
    }
    gnutls_privkey_deinit(o->key);
    gnutls_pubkey_deinit(o->pub);
}

/* The certificate's point as x || y (flen octets each) and the private
 * scalar, for ECDH. */
static int keyop_ec(struct keyop *o)
{
    gnutls_datum_t x = {0}, y = {0};
    size_t flen;
    int rc = -1;

    if (gnutls_pubkey_export_ecc_raw2(o->pub, &o->curve, &x, &y,
                                      GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
        return -1;
    flen = ecdh_field_len(o->curve);
    if (flen != 0 && x.size <= flen && y.size <= flen &&
        gnutls_privkey_export_ecc_raw2(o->key, NULL, NULL, NULL, &o->k,
                                       0) >= 0) {
        memset(o->xy, 0, 2 * flen);
        memcpy(o->xy + flen - x.size, x.data, x.size);
        memcpy(o->xy + 2 * flen - y.size, y.data, y.size);
        rc = 0;
    }
    gnutls_free(x.data);
    gnutls_free(y.data);
    return rc;
}

static int keyop_init(const struct job *j, struct keyop *o)
{
    gnutls_pk_algorithm_t pk;

    memset(o->buf, 0x5a, sizeof o->buf);
    o->data = (gnutls_datum_t){o->buf, sizeof o->buf};
    if (keys_import(j, &o->key, &o->pub) < 0)
        return -1;
    pk = gnutls_privkey_get_pk_algorithm(o->key, NULL);
    if (pk == GNUTLS_PK_EDDSA_ED25519)
        o->alg = GNUTLS_SIGN_EDDSA_ED25519;     /* no separate digest */
    else
        o->alg = gnutls_pk_to_sign(pk, GNUTLS_DIG_SHA256);
    switch (j->op) {
    case OP_VERIFY:
        return gnutls_privkey_sign_data2(o->key, o->alg, 0, &o->data,
                                         &o->sig) < 0 ? -1 : 0;
    case OP_DECRYPT:
    case OP_ENCRYPT:
        if (pk == GNUTLS_PK_ECDSA) {
            o->ec = 1;
            return keyop_ec(o);
        }
        if (pk != GNUTLS_PK_RSA)
            return -1;
        o->data.size = 32;              /* an AES-256 key */
        return gnutls_pubkey_encrypt_data(o->pub, 0, &o->data, &o->ct) < 0
               ? -1 : 0;
    default:
        return 0;
    }
}

static int keyop_once(const struct job *j, struct keyop *o)
{
    gnutls_datum_t out = {0};
    uint8_t z[ECDH_MAX_FIELD], epub[1 + 2 * ECDH_MAX_FIELD];
    unsigned char cek[32];
    const char *why;
    int r;

    switch (j->op) {
    case OP_SIGN:
        r = gnutls_privkey_sign_data2(o->key, o->alg, 0, &o->data, &out);
        break;
    case OP_VERIFY:
        return gnutls_pubkey_verify_data2(o->pub, o->alg, 0, &o->data,
                                          &o->sig);
    case OP_DECRYPT:
        if (o->ec)
            return ecdh_shared(o->curve, o->k.data, o->k.size, o->xy, z,
                               &why);
        return gnutls_privkey_decrypt_data2(o->key, 0, &o->ct, cek,
                                            sizeof cek);
    case OP_ENCRYPT:
        if (o->ec)
            return ecdh_ephemeral(o->curve, o->xy, epub, z, &why);
        r = gnutls_pubkey_encrypt_data(o->pub, 0, &o->data, &out);
        break;
    default:
        return -1;
    }
    gnutls_free(out.data);
    return r;
}

static void run_key(struct job *j)
{
    struct keyop o = {0};
    double end;

    if (keyop_init(j, &o) < 0) {
        j->failed = 1;
        goto out;
    }
    end = now() + j->secs;
    while (now() < end) {
        for (int i = 0; i < 8; i++) {
            if (keyop_once(j, &o) < 0) {
                j->failed = 1;
                goto out;
            }
            j->ops++;
        }
    }
out:
    keyop_free(&o);
}

/* Bulk decryption (OP_CIPHER) or encryption (OP_ENCIPHER), one MB (a
 * fresh IV, and for GCM the tag) at a time. */
static void run_cipher(struct job *j)
{
    gnutls_cipher_algorithm_t alg = gnutls_cipher_get_id(j->name);
    gnutls_cipher_hd_t h = NULL;
    static const unsigned char keyb[32] = {1}, ivb[16] = {2};
    unsigned char *in = NULL, *out = NULL, tag[16];
    gnutls_datum_t key = {(unsigned char *)keyb, 0};
    gnutls_datum_t iv = {(unsigned char *)ivb, 0};
    int aead;
    double end;

    if (alg == GNUTLS_CIPHER_UNKNOWN || (in = calloc(1, CHUNK)) == NULL ||
        (out = malloc(CHUNK)) == NULL)
        goto fail;
    aead = gnutls_cipher_get_tag_size(alg) > 0;
    key.size = (unsigned)gnutls_cipher_get_key_size(alg);
    iv.size = (unsigned)gnutls_cipher_get_iv_size(alg);
    if (key.size > sizeof keyb || iv.size > sizeof ivb ||
        gnutls_cipher_init(&h, alg, &key, &iv) < 0)
        goto fail;
    end = now() + j->secs;
    while (now() < end) {
        gnutls_cipher_set_iv(h, (void *)ivb, iv.size);
        for (int i = 0; i < MB / CHUNK; i++)
            if ((j->op == OP_ENCIPHER
                     ? gnutls_cipher_encrypt2(h, in, CHUNK, out, CHUNK)
                     : gnutls_cipher_decrypt2(h, in, CHUNK, out, CHUNK)) < 0)
                goto fail;
        if (aead && gnutls_cipher_tag(h, tag, sizeof tag) < 0)
            goto fail;
        j->ops++;
    }
    goto out;
fail:
    j->failed = 1;
out:
    if (h != NULL)
        gnutls_cipher_deinit(h);
    free(in);
    free(out);
}

static void *run(void *arg)
{
    struct job *j = arg;

    if (j->op == OP_CIPHER || j->op == OP_ENCIPHER)
        run_cipher(j);
    else
        run_key(j);
    return NULL;
}

/* One measurement: THREADS threads doing the same job. */
static int measure(const char *name, const char *keyfile,
                   const char *certfile, enum op op, int threads,
                   double secs)
{
    pthread_t th[64];
    struct job jobs[64];
    long ops = 0;
    int failed = 0, started;
    double t0, t, c0, c;

    c0 = cpu_now();
    for (started = 0; started < threads; started++) {
        jobs[started] = (struct job){name, keyfile, certfile, op, secs, 0, 0};
        if (pthread_create(&th[started], NULL, run, &jobs[started]) != 0)
            break;
    }
    t0 = now();
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        failed |= jobs[i].failed;
        ops += jobs[i].ops;
    }
    if (failed || started < threads) {
        fprintf(stderr, "rawcrypto: %s: %s failed\n", name, op_names[op]);
        return -1;
    }
    t = now() - t0;
    c = cpu_now() - c0;
    printf("%s %s threads=%d ops=%ld secs=%.3f rate=%.1f cpurate=%.1f\n",
           op_names[op], name, threads, ops, t, ops / t,
           c > 0 ? ops / c : 0.0);
    fflush(stdout);
    return 0;
}

/* "sign,verify" into a bit set of ops; 0 when a name is unknown. */
static unsigned parse_ops(char *s)
{
    unsigned set = 0;

    for (char *tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ",")) {
        int k;
        for (k = 0; k < OP_N && strcmp(tok, op_names[k]) != 0; k++)
            ;
        if (k == OP_N)
            return 0;
        set |= 1u << k;
    }
    return set;
}

int main(int argc, char **argv)
{
    double secs = 2;
    int threads = 2, ch, rc = 0, per;
    unsigned ops = 1u << OP_SIGN | 1u << OP_VERIFY;

    while ((ch = getopt(argc, argv, "d:t:x:")) != -1) {
        switch (ch) {
        case 'x':
            if ((ops = parse_ops(optarg)) == 0)
                goto usage;
            break;
        case 'd': secs = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        default: goto usage;
        }
    }
    /* cipher names alone, or key triples with no cipher among the ops */
    per = (ops & ~CIPHER_OPS) == 0 ? 1 : 3;
    if ((per == 3 && (ops & CIPHER_OPS)) ||
        (argc - optind) % per != 0 || argc == optind || threads < 1 ||
        threads > 64)
        goto usage;
    if (gnutls_global_init() < 0)
        return 2;
    for (int i = optind; i < argc; i += per)
        for (int op = 0; op < OP_N; op++)
            if (ops & 1u << op)
                for (int t = 1; t <= threads; t = t == threads ? t + 1 : threads)
                    if (measure(argv[i], per == 3 ? argv[i + 1] : NULL,
                                per == 3 ? argv[i + 2] : NULL, (enum op)op,
                                t, secs) < 0)
                        rc = 1;
    gnutls_global_deinit();
    return rc;
usage:
    fprintf(stderr, "usage: rawcrypto [-d SECONDS] [-t THREADS] "
            "[-x OP[,OP...]] NAME KEY.pem CERT.pem ...\n"
            "       rawcrypto [-d SECONDS] [-t THREADS] -x cipher[,encipher] "
            "CIPHER ...\n"
            "OP: sign, verify, decrypt, encrypt\n");
    return 64;
}
