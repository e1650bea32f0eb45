/*
 * harness.h - small helpers shared by the libFuzzer harnesses.
 *
 * FUZZ_CHECK(cond) states an invariant of the code under test: when it
 * does not hold, the harness aborts, and libFuzzer keeps the input as a
 * crash like any memory error.
 */
#ifndef SMIME_FUZZ_HARNESS_H
#define SMIME_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", \
                    __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/* A growable byte buffer for what a harness collects from callbacks. */
struct fuzz_buf {
    char *p;
    size_t n, cap;
};

static inline void fuzz_buf_append(struct fuzz_buf *b, const char *buf,
                                   size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len)
            cap *= 2;
        char *p = realloc(b->p, cap);
        FUZZ_CHECK(p != NULL);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, buf, len);
    b->n += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
