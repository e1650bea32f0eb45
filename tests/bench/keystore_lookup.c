/*
 * keystore_lookup.c - what the daemon pays for a large keystore, for
 * tests/bench/keystore_scale.sh (make bench).
 *
 *   keystore_lookup KEYSTORE NADDR PERCERT COUNT
 *
 * KEYSTORE holds the NADDR addresses tests/bench/keystore_gen made
 * (u<I>.<J>@scale.example, PERCERT per certificate).  Opens it as the
 * daemon does (crypto/keystore.c: a private copy, an unlinked file in
 * the keystore's directory as the daemon's is in SpoolDirectory, every
 * record checked)
 * and prints the time that took and the process's memory after it, then
 * two series of lookups, each timed:
 *   cold  COUNT different addresses (all of them when NADDR < COUNT),
 *         each looked up for the first time: the record found and
 *         parsed (key and certificates), as for the first message of a
 *         sender;
 *   warm  the first 100 of those again, COUNT times in turn: answered
 *         from the keystore's cache of parsed entries (100 senders
 *         active at once: fewer than the cache holds, KS_CACHE_MAX).
 * One line: "open_s=.. rss_open_kb=.. shmem_open_kb=.. cold_p50_us=..
 * cold_p99_us=.. warm_p50_us=.. warm_p99_us=.. rss_end_kb=..
 * heap_live_kb=.." (heap_live: what malloc has handed out and not had
 * back, mallinfo2; rss_end also counts freed memory malloc keeps).  Exits 1
 * if an address was not found.  Asserts nothing about time.
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keystore.h"

static double
now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A line "KEY: N kB" of /proc/self/status. */
static long
status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = atol(line + kl + 1);
    if (f)
        fclose(f);
    return v;
}

/* The k-th address of a fixed permutation of all NADDR (1000003 is a
 * prime that divides no NADDR used here). */
static void
address(char *buf, size_t len, long k, long naddr, long percert)
{
    long idx = (long)((k * 1000003LL) % naddr);
    snprintf(buf, len, "u%ld.%ld@scale.example", idx / percert,
             idx % percert);
}

/* count lookups of addresses first..: microseconds each into us[];
 * returns how many were not found. */
static long
series(keystore_t *ks, double *us, long count, long distinct, long naddr,
       long percert)
{
    char addr[80], err[300];
    long missing = 0;

    for (long i = 0; i < count; i++) {
        keystore_entry_t *e = NULL;
        address(addr, sizeof(addr), i % distinct, naddr, percert);
        double t0 = now();
        int r = keystore_lookup(ks, addr, &e, err, sizeof(err));
        us[i] = (now() - t0) * 1e6;
        if (r != 1) {
            if (missing++ == 0)
                fprintf(stderr, "keystore_lookup: %s: %s\n", addr,
                        r < 0 ? err : "not found");
        }
        keystore_entry_free(e);
    }
    qsort(us, (size_t)count, sizeof(*us), by_value);
    return missing;
}

int
main(int argc, char **argv)
{
    char err[300];
    long naddr, percert, count, cold, missing;
    double *us, t0, open_s;
    keystore_t *ks;

    if (argc != 5 || (naddr = atol(argv[2])) < 1 ||
        (percert = atol(argv[3])) < 1 || (count = atol(argv[4])) < 1) {
        fprintf(stderr, "usage: keystore_lookup KEYSTORE NADDR PERCERT COUNT\n");
        return 2;
    }
    if ((us = malloc((size_t)count * sizeof(*us))) == NULL)
        return 2;
    t0 = now();
    char *dir = strdup(argv[1]), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    ks = keystore_open_in(argv[1], slash ? dir : ".", err, sizeof(err));
    free(dir);
    if (ks == NULL) {
        fprintf(stderr, "keystore_lookup: %s\n", err);
        return 1;
    }
    open_s = now() - t0;
    printf("open_s=%.2f rss_open_kb=%ld shmem_open_kb=%ld ", open_s,
           status_kb("VmRSS"), status_kb("RssShmem"));
    cold = count < naddr ? count : naddr;
    missing = series(ks, us, cold, cold, naddr, percert);
    printf("cold=%ld cold_p50_us=%.1f cold_p99_us=%.1f ", cold,
           us[cold / 2], us[cold * 99 / 100]);
    missing += series(ks, us, count, cold < 100 ? cold : 100, naddr,
                      percert);
    printf("warm=%ld warm_p50_us=%.1f warm_p99_us=%.1f rss_end_kb=%ld "
           "heap_live_kb=%zu missing=%ld\n", count, us[count / 2],
           us[count * 99 / 100], status_kb("VmRSS"),
           mallinfo2().uordblks / 1024, missing);
    keystore_free(ks);
    free(us);
    return missing ? 1 : 0;
}
