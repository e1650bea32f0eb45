/*
 * fuzz_rfc5322.c - libFuzzer harness for the RFC 5322 helpers
 * (mime/rfc5322.c): CFWS skipping and address-list parsing, as used on
 * From and Sender values.
 *
 * The input, up to its first NUL, is the header value.  Invariants
 * besides memory safety: rfc5322_skip_cfws() stays inside the string;
 * rfc5322_addrs() gives the same count and the same first addresses
 * whatever max is, each address equals itself, and equality is
 * symmetric.
 */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "rfc5322.h"

#define FEW 3
#define MANY 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size + 1);
    char *few[FEW], *many[MANY];

    FUZZ_CHECK(v != NULL);
    memcpy(v, data, size);
    v[size] = '\0';
    size_t len = strlen(v);

    /* CFWS from the first positions (comments may start anywhere). */
    for (size_t i = 0; i < len && i < 32; i++) {
        const char *p = rfc5322_skip_cfws(v + i);
        FUZZ_CHECK(p >= v + i && p <= v + len);
    }

    size_t n1 = rfc5322_addrs(v, few, FEW);
    size_t n2 = rfc5322_addrs(v, many, MANY);
    FUZZ_CHECK(n1 == n2);
    size_t k1 = n1 < FEW ? n1 : FEW, k2 = n2 < MANY ? n2 : MANY;
    for (size_t i = 0; i < k1; i++)
        FUZZ_CHECK(strcmp(few[i], many[i]) == 0);
    for (size_t i = 0; i < k2; i++) {
        FUZZ_CHECK(many[i] != NULL);
        FUZZ_CHECK(rfc5322_addr_equal(many[i], many[i]) == 1);
        if (i > 0)
            FUZZ_CHECK(rfc5322_addr_equal(many[i], many[i - 1]) ==
                       rfc5322_addr_equal(many[i - 1], many[i]));
    }
    /* The raw value against itself and a fixed address. */
    int e1 = rfc5322_addr_equal(v, "alice@example.org");
    FUZZ_CHECK(e1 == rfc5322_addr_equal("alice@example.org", v));
    rfc5322_addrs_free(few, k1);
    rfc5322_addrs_free(many, k2);
    free(v);
    return 0;
}
