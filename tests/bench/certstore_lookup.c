/*
 * certstore_lookup.c - lookup latency of the certificate store, for
 * tests/bench/certstore_scale.sh (make bench).
 *
 *   certstore_lookup STORE NCERTS NSANS COUNT
 *
 * The store holds addresses u<I>.<J>@scale.example (I < NCERTS,
 * J < NSANS).  COUNT lookups of random ones, each timed; prints
 * "lookups=COUNT p50_us=.. p99_us=.. max_us=.." and exits 1 if any
 * lookup did not find its address.
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

int main(int argc, char **argv)
{
    char err[300], addr[80];
    certstore_t *cs;
    double *us;
    long ncerts, nsans, count, missing = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: certstore_lookup STORE NCERTS NSANS COUNT\n");
        return 2;
    }
    ncerts = atol(argv[2]);
    nsans = atol(argv[3]);
    count = atol(argv[4]);
    if (ncerts < 1 || nsans < 1 || count < 1 ||
        (us = malloc((size_t)count * sizeof(*us))) == NULL)
        return 2;
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
    printf("lookups=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f missing=%ld\n",
           count, us[count / 2], us[count * 99 / 100], us[count - 1],
           missing);
    certstore_free(cs);
    free(us);
    return missing ? 1 : 0;
}
