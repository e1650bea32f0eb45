/*
 * tool_lib.h - what the test drivers of crypto/ (sign_tool, token_tool)
 * share: a whole file read, a detached signature made, a result
 * written.  For helpers of shell tests, not for Check programs
 * (crypto_testlib.h asserts instead of returning).
 */
#ifndef TOOL_LIB_H
#define TOOL_LIB_H

#include <stddef.h>
#include <time.h>
#include "sign.h"

/* The whole file (malloc'd, *len octets), or NULL with errno. */
unsigned char *tool_slurp(const char *path, size_t *len);

/* A detached CMS SignedData over msg by signer into *der (malloc'd):
 * the content fed in pieces of chunk octets (0: at once), signingTime
 * when (-1: now).  0, or -1 with why. */
int tool_sign(const smime_signer_t *signer, const unsigned char *msg,
              size_t mlen, size_t chunk, time_t when, unsigned char **der,
              size_t *dlen, char *why, size_t whylen);

/* n octets to a new file path.  0, or -1 with errno. */
int tool_write(const char *path, const void *p, size_t n);

#endif
