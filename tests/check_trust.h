/*
 * check_trust.h - the trust-store test case of check_crypto
 * (tests/check_trust.c).
 */
#ifndef CHECK_TRUST_H
#define CHECK_TRUST_H

#include <check.h>

TCase *trust_tcase(void);

#endif
