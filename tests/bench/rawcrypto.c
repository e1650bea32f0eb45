/*
 * rawcrypto.c - the ceiling for `make bench': how many signatures per
 * second GnuTLS itself makes and checks with a key, with no milter, no
 * CMS and no MIME around it.
 *
 * SYNOPSIS
 *	rawcrypto [-d SECONDS] [-t THREADS] [-x sign|verify] NAME KEY.pem CERT.pem ...
 *
 * DESCRIPTION
 *	For each NAME/KEY/CERT triple, and for 1 thread and then THREADS
 *	threads (default 2), signs a 256-byte buffer (the size of a CMS
 *	signedAttrs block) with gnutls_privkey_sign_data2() and SHA-256
 *	(Ed25519: PureEdDSA) for
 *	SECONDS (default 2) and then verifies such a signature with
 *	gnutls_pubkey_verify_data2() for as long (-x: only one of them).  Each thread imports its
 *	own copy of the key, so nothing is shared between threads.  Prints
 *	one line per measurement, with the rate per wall-clock second and
 *	per CPU-second of the process (the latter does not depend on what
 *	else the machine runs):
 *	    sign NAME threads=N ops=COUNT secs=S rate=R cpurate=C
 *	    verify NAME threads=N ops=COUNT secs=S rate=R cpurate=C
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
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

struct job {
    const char *keyfile, *certfile;
    int verify;                 /* 0 sign, 1 verify */
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

static void *run(void *arg)
{
    struct job *j = arg;
    gnutls_privkey_t key = NULL;
    gnutls_pubkey_t pub = NULL;
    unsigned char buf[256];
    gnutls_datum_t data = {buf, sizeof buf}, sig = {0};
    gnutls_sign_algorithm_t alg;
    double end;

    memset(buf, 0x5a, sizeof buf);
    if (keys_import(j, &key, &pub) < 0) {
        j->failed = 1;
        goto out;
    }
    if (gnutls_privkey_get_pk_algorithm(key, NULL) == GNUTLS_PK_EDDSA_ED25519)
        alg = GNUTLS_SIGN_EDDSA_ED25519;    /* no separate digest */
    else
        alg = gnutls_pk_to_sign(gnutls_privkey_get_pk_algorithm(key, NULL),
                                GNUTLS_DIG_SHA256);
    if (gnutls_privkey_sign_data2(key, alg, 0, &data, &sig) < 0) {
        j->failed = 1;
        goto out;
    }
    end = now() + j->secs;
    while (now() < end) {
        for (int i = 0; i < 8; i++) {
            int r;
            if (j->verify)
                r = gnutls_pubkey_verify_data2(pub, alg, 0, &data, &sig);
            else {
                gnutls_datum_t s2 = {0};
                r = gnutls_privkey_sign_data2(key, alg, 0, &data, &s2);
                gnutls_free(s2.data);
            }
            if (r < 0) {
                j->failed = 1;
                goto out;
            }
            j->ops++;
        }
    }
out:
    gnutls_free(sig.data);
    gnutls_privkey_deinit(key);
    gnutls_pubkey_deinit(pub);
    return NULL;
}

/* One measurement: THREADS threads doing the same job. */
static int measure(const char *name, const char *keyfile,
                   const char *certfile, int verify, int threads, double secs)
{
    pthread_t th[64];
    struct job jobs[64];
    long ops = 0;
    double t0, t, c0, c;

    c0 = cpu_now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){keyfile, certfile, verify, secs, 0, 0};
        if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0)
            return -1;
    }
    t0 = now();
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].failed) {
            fprintf(stderr, "rawcrypto: %s: %s failed\n", name,
                    verify ? "verify" : "sign");
            return -1;
        }
        ops += jobs[i].ops;
    }
    t = now() - t0;
    c = cpu_now() - c0;
    printf("%s %s threads=%d ops=%ld secs=%.3f rate=%.1f cpurate=%.1f\n",
           verify ? "verify" : "sign", name, threads, ops, t, ops / t,
           c > 0 ? ops / c : 0.0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    double secs = 2;
    int threads = 2, ch, rc = 0, first = 0, last = 1;

    while ((ch = getopt(argc, argv, "d:t:x:")) != -1) {
        switch (ch) {
        case 'x':
            first = strcmp(optarg, "verify") == 0;
            last = strcmp(optarg, "sign") == 0 ? 0 : 1;
            break;
        case 'd': secs = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        default: goto usage;
        }
    }
    if ((argc - optind) % 3 != 0 || argc == optind || threads < 1 ||
        threads > 64)
        goto usage;
    if (gnutls_global_init() < 0)
        return 2;
    for (int i = optind; i < argc; i += 3)
        for (int verify = first; verify <= last; verify++)
            for (int t = 1; t <= threads; t = t == threads ? t + 1 : threads)
                if (measure(argv[i], argv[i + 1], argv[i + 2], verify, t,
                            secs) < 0)
                    rc = 1;
    gnutls_global_deinit();
    return rc;
usage:
    fprintf(stderr, "usage: rawcrypto [-d SECONDS] [-t THREADS] "
            "[-x sign|verify] NAME KEY.pem CERT.pem ...\n");
    return 64;
}
