/*
 * certstore_lookup.c - lookup latency of the certificate store, for
 * tests/bench/certstore_scale.sh (make bench).
 *
 *   certstore_lookup STORE NCERTS NSANS COUNT [CERT.der]
 *
 * With CERT.der, first fills a new STORE through certstore_import_all:
 * NCERTS transactions of NSANS addresses, all with that certificate
 * (the store does not look inside it), and prints the time it took;
 * certtool cannot make certificates with more than 128 addresses fast
 * enough for 1 M.
 * The store holds addresses u<I>.<J>@scale.example (I < NCERTS,
 * J < NSANS).  COUNT lookups of random ones, each timed, then the same
 * COUNT again (their pages now mapped: "warm"); prints
 * "lookups=COUNT p50_us=.. p99_us=.. max_us=.. warm_p50_us=..
 * warm_p99_us=.. missing=.." and exits 1 if any lookup did not find its
 * address.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "certstore.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fill(const char *store, const char *der_path, long ncerts,
                long nsans)
{
    unsigned char der[65536];
    char err[300], **addrs = calloc((size_t)nsans, sizeof(*addrs));
    enum certstore_status *each = calloc((size_t)nsans, sizeof(*each));
    FILE *f = fopen(der_path, "rb");
    size_t n = f ? fread(der, 1, sizeof(der), f) : 0;
    certstore_t *cs;
    double t0;

    if (f)
        fclose(f);
    if (n == 0 || addrs == NULL || each == NULL ||
        (cs = certstore_open(store, CERTSTORE_RDWR | CERTSTORE_CREATE, 0,
                             err, sizeof(err))) == NULL) {
        fprintf(stderr, "certstore_lookup: cannot fill %s\n", store);
        return -1;
    }
    for (long j = 0; j < nsans; j++)
        addrs[j] = malloc(80);
    t0 = now();
    for (long i = 0; i < ncerts; i++) {
        for (long j = 0; j < nsans; j++)
            snprintf(addrs[j], 80, "u%ld.%ld@scale.example", i, j);
        if (certstore_import_all(cs, (const char *const *)addrs,
                                 (size_t)nsans, each, der, n, NULL, NULL, 0,
                                 err, sizeof(err)) != CERTSTORE_OK) {
            fprintf(stderr, "certstore_lookup: %s\n", err);
            return -1;
        }
    }
    printf("filled=%ld fill_s=%.2f fill_us_per_address=%.1f ",
           ncerts * nsans, now() - t0, (now() - t0) * 1e6 /
           (double)(ncerts * nsans));
    certstore_free(cs);
    for (long j = 0; j < nsans; j++)
        free(addrs[j]);
    free(addrs);
    free(each);
    return 0;
}

int main(int argc, char **argv)
{
    char err[300], addr[80];
    certstore_t *cs;
    double *us;
    long ncerts, nsans, count, missing = 0;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: certstore_lookup STORE NCERTS NSANS COUNT "
                "[CERT.der]\n");
        return 2;
    }
    ncerts = atol(argv[2]);
    nsans = atol(argv[3]);
    count = atol(argv[4]);
    if (ncerts < 1 || nsans < 1 || count < 1 ||
        (us = malloc((size_t)count * sizeof(*us))) == NULL)
        return 2;
    if (argc == 6 && fill(argv[1], argv[5], ncerts, nsans) != 0)
        return 1;
    if ((cs = certstore_open(argv[1], CERTSTORE_RDONLY, 0, err,
                             sizeof(err))) == NULL) {
        fprintf(stderr, "certstore_lookup: %s\n", err);
        return 1;
    }
    /* warm the page cache with other addresses first: the daemon's
     * store is warm; a cold first touch measures the disk */
    srand(54321);
    for (long i = 0; i < count; i++) {
        certstore_list_t *l = NULL;
        snprintf(addr, sizeof(addr), "u%ld.%ld@scale.example",
                 (long)(rand() % ncerts), (long)(rand() % nsans));
        certstore_lookup(cs, addr, &l, err, sizeof(err));
        certstore_list_free(l);
    }
    for (int pass = 0; pass < 2; pass++) {
        srand(12345);
        for (long i = 0; i < count; i++) {
            struct timespec a, b;
            certstore_list_t *l = NULL;
            snprintf(addr, sizeof(addr), "u%ld.%ld@scale.example",
                     (long)(rand() % ncerts), (long)(rand() % nsans));
            clock_gettime(CLOCK_MONOTONIC, &a);
            enum certstore_status st = certstore_lookup(cs, addr, &l, err,
                                                        sizeof(err));
            clock_gettime(CLOCK_MONOTONIC, &b);
            missing += st != CERTSTORE_OK;
            certstore_list_free(l);
            us[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 +
                    (double)(b.tv_nsec - a.tv_nsec) / 1e3;
        }
        qsort(us, (size_t)count, sizeof(*us), cmp);
        if (pass == 0)
            printf("lookups=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f ", count,
                   us[count / 2], us[count * 99 / 100], us[count - 1]);
        else
            printf("warm_p50_us=%.1f warm_p99_us=%.1f missing=%ld\n",
                   us[count / 2], us[count * 99 / 100], missing);
    }
    certstore_free(cs);
    free(us);
    return missing ? 1 : 0;
}
