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

#define FUZZ_CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", \
                    __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
