/*
 * check_certcache.h - the certificate-cache test case of check_crypto
 * (tests/check_certcache.c).
 */
#ifndef CHECK_CERTCACHE_H
#define CHECK_CERTCACHE_H

#include <check.h>

TCase *certcache_tcase(void);

#endif
