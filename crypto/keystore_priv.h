/*
 * keystore_priv.h - record format constants shared by the keystore reader
 * (keystore.c) and writer (keystore_write.c).  See keystore.h.
 */
#ifndef SMIME_KEYSTORE_PRIV_H
#define SMIME_KEYSTORE_PRIV_H

#include <stddef.h>

#define KS_MAGIC_KEY      "\0smime-keystore"
#define KS_MAGIC_KEYLEN   15
#define KS_FIELD_LOGIN    'L'
#define KS_FIELD_KEY      'K'
#define KS_FIELD_CERT     'C'
#define KS_MAX_ADDRESS    320        /* 64 + 1 + 255 */

/* The CDB key of an address: ASCII lower case into buf (KS_MAX_ADDRESS+1
 * bytes).  Length, or 0 when the address is empty or too long. */
size_t keystore_key(const char *address, char *buf);

#endif
