/*
 * check_stripecache.c - unit tests of crypto/stripecache.c, the striped
 * LRU table under the trust store's chain memo and the recipient cache:
 * the capacity bound, least-recently-used eviction within a stripe, keys
 * that share a hash, and every value released exactly once (replaced,
 * evicted, dropped, freed with the table) and never while a caller
 * holds it.  Also threads putting and getting at once, for
 * ThreadSanitizer (tests/hardening.sh).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stripecache.h"

#define NVAL 4096

struct val {
    atomic_uint refs;
    int id;
    char key[16];
};

static atomic_int released[NVAL];         /* unref to zero, per id */

static void val_ref(void *p)
{
    atomic_fetch_add(&((struct val *)p)->refs, 1);
}

static void val_unref(void *p)
{
    struct val *v = p;

    if (atomic_fetch_sub(&v->refs, 1) == 1) {
        atomic_fetch_add(&released[v->id], 1);
        free(v);
    }
}

static const struct stripecache_ops ops = { val_ref, val_unref };

static void reset(void)
{
    for (int i = 0; i < NVAL; i++)
        atomic_store(&released[i], 0);
}

/* A value for id under key "k<kid>", with one reference for the caller. */
static struct val *val_new(int id, int kid)
{
    struct val *v = calloc(1, sizeof(*v));

    ck_assert_ptr_nonnull(v);
    atomic_init(&v->refs, 1);
    v->id = id;
    snprintf(v->key, sizeof(v->key), "k%d", kid);
    return v;
}

/* Put id under "k<kid>" with hash h, the caller keeping no reference. */
static void put(stripecache_t *c, int id, int kid, uint32_t h)
{
    struct val *v = val_new(id, kid);

    stripecache_put(c, v->key, strlen(v->key), h, v);
    val_unref(v);
}

/* The id cached under "k<kid>" (hash h), or -1. */
static int get(stripecache_t *c, int kid, uint32_t h)
{
    char key[16];
    int n = snprintf(key, sizeof(key), "k%d", kid);
    struct val *v = stripecache_get(c, key, (size_t)n, h);
    int id = v != NULL ? v->id : -1;

    if (v != NULL)
        val_unref(v);
    return id;
}

static size_t entries(stripecache_t *c)
{
    unsigned long h, m;
    size_t n;

    stripecache_stats(c, &h, &m, &n);
    return n;
}

/* 2 stripes of 4 ways hold 8 values however many are put; each value
 * that went was released once, the rest once more by stripecache_free. */
START_TEST(test_capacity)
{
    stripecache_t *c = stripecache_new(2, 4, &ops);
    int kept = 0;

    reset();
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < 100; i++) {
        put(c, i, i, (uint32_t)i * 2654435761u);
        ck_assert_uint_le(entries(c), 8);
    }
    ck_assert_uint_eq(entries(c), 8);
    for (int i = 0; i < 100; i++) {
        int r = atomic_load(&released[i]);
        ck_assert_int_le(r, 1);
        if (r == 0) {
            kept++;
            ck_assert_int_eq(get(c, i, (uint32_t)i * 2654435761u), i);
        }
    }
    ck_assert_int_eq(kept, 8);
    stripecache_free(c);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(atomic_load(&released[i]), 1);
}
END_TEST

/* One stripe of 3 ways: a get makes an entry the most recently used,
 * so the full stripe drops the one used longest ago. */
START_TEST(test_lru_order)
{
    stripecache_t *c = stripecache_new(1, 3, &ops);

    reset();
    put(c, 0, 0, 7);                    /* A */
    put(c, 1, 1, 7);                    /* B */
    put(c, 2, 2, 7);                    /* C */
    ck_assert_int_eq(get(c, 0, 7), 0);  /* A used: B is the oldest */
    put(c, 3, 3, 7);                    /* D evicts B */
    ck_assert_int_eq(atomic_load(&released[1]), 1);
    ck_assert_int_eq(get(c, 1, 7), -1);
    ck_assert_int_eq(get(c, 2, 7), 2);  /* C used: A is the oldest */
    ck_assert_int_eq(get(c, 3, 7), 3);  /* D used */
    put(c, 4, 4, 7);                    /* E evicts A */
    ck_assert_int_eq(atomic_load(&released[0]), 1);
    ck_assert_int_eq(atomic_load(&released[2]), 0);
    ck_assert_int_eq(atomic_load(&released[3]), 0);
    ck_assert_int_eq(get(c, 0, 7), -1);
    ck_assert_int_eq(get(c, 2, 7), 2);
    ck_assert_int_eq(get(c, 3, 7), 3);
    ck_assert_int_eq(get(c, 4, 7), 4);
    stripecache_free(c);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(atomic_load(&released[i]), 1);
}
END_TEST

/* A put under a cached key replaces its value (the old one released
 * once, and only when its last holder lets go); drop removes a key only
 * while it still holds the value named. */
START_TEST(test_replace_and_drop)
{
    stripecache_t *c = stripecache_new(4, 2, &ops);

    reset();
    put(c, 10, 5, 1);
    struct val *held = stripecache_get(c, "k5", 2, 1);
    ck_assert_ptr_nonnull(held);
    ck_assert_int_eq(held->id, 10);
    put(c, 11, 5, 1);                   /* replaces 10 */
    ck_assert_uint_eq(entries(c), 1);
    ck_assert_int_eq(atomic_load(&released[10]), 0);  /* still held */
    ck_assert_int_eq(get(c, 5, 1), 11);
    stripecache_drop(c, "k5", 2, 1, held);            /* not cached: no-op */
    ck_assert_int_eq(get(c, 5, 1), 11);
    val_unref(held);
    ck_assert_int_eq(atomic_load(&released[10]), 1);

    struct val *cur = stripecache_get(c, "k5", 2, 1);
    stripecache_drop(c, "k5", 2, 1, cur);
    ck_assert_uint_eq(entries(c), 0);
    ck_assert_int_eq(get(c, 5, 1), -1);
    ck_assert_int_eq(atomic_load(&released[11]), 0);  /* we hold it */
    val_unref(cur);
    ck_assert_int_eq(atomic_load(&released[11]), 1);
    stripecache_free(c);
    ck_assert_int_eq(atomic_load(&released[10]), 1);
    ck_assert_int_eq(atomic_load(&released[11]), 1);
}
END_TEST

/* Keys that share a hash (and a stripe) and keys that are prefixes of
 * one another stay apart. */
START_TEST(test_same_hash)
{
    stripecache_t *c = stripecache_new(3, 4, &ops);

    reset();
    put(c, 1, 1, 42);
    put(c, 2, 12, 42);
    put(c, 3, 123, 42);
    ck_assert_int_eq(get(c, 1, 42), 1);
    ck_assert_int_eq(get(c, 12, 42), 2);
    ck_assert_int_eq(get(c, 123, 42), 3);
    ck_assert_int_eq(get(c, 1, 43), -1);              /* another stripe */
    stripecache_free(c);
    stripecache_free(NULL);
}
END_TEST

START_TEST(test_counters)
{
    stripecache_t *c = stripecache_new(1, 1, &ops);
    unsigned long h, m;
    size_t n;

    stripecache_count(c, 1);
    stripecache_count(c, 0);
    stripecache_count(c, 0);
    stripecache_stats(c, &h, &m, NULL);
    ck_assert_uint_eq(h, 1);
    ck_assert_uint_eq(m, 2);
    stripecache_stats(c, &h, &m, &n);
    ck_assert_uint_eq(n, 0);
    stripecache_free(c);
}
END_TEST

/* Threads putting and getting overlapping keys: every value is released
 * exactly once in the end, and ThreadSanitizer sees the locking. */
#define THREADS 4
#define ROUNDS 2000

static stripecache_t *shared;
static atomic_int next_id;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;

    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        int kid = (int)(seed >> 16) % 64;
        if (seed & 0x100) {
            put(shared, atomic_fetch_add(&next_id, 1), kid, (uint32_t)kid);
        } else {
            char key[16];
            int n = snprintf(key, sizeof(key), "k%d", kid);
            struct val *v = stripecache_get(shared, key, (size_t)n,
                                            (uint32_t)kid);
            if (v != NULL) {
                ck_assert_str_eq(v->key, key);
                if (seed & 0x200)
                    stripecache_drop(shared, key, (size_t)n, (uint32_t)kid, v);
                val_unref(v);
            }
        }
    }
    return NULL;
}

START_TEST(test_threads)
{
    pthread_t t[THREADS];

    reset();
    atomic_store(&next_id, 0);
    shared = stripecache_new(4, 4, &ops);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker,
                                        (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int n = atomic_load(&next_id);
    ck_assert_int_lt(n, NVAL);
    ck_assert_uint_le(entries(shared), 16);
    stripecache_free(shared);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(atomic_load(&released[i]), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stripecache");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_capacity);
    tcase_add_test(tc, test_lru_order);
    tcase_add_test(tc, test_replace_and_drop);
    tcase_add_test(tc, test_same_hash);
    tcase_add_test(tc, test_counters);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
