/*
 * keystore_priv.h - what the keystore reader (keystore.c: files,
 * generations, cache), its entries (keystore_entry.c: records,
 * credentials, signer choice) and the writer (keystore_write.c) share.
 * See keystore.h for the format.
 */
#ifndef SMIME_KEYSTORE_PRIV_H
#define SMIME_KEYSTORE_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include "keystore.h"
#include "sign.h"

#define KS_MAGIC_KEY      "\0smime-keystore"
#define KS_MAGIC_KEYLEN   15
#define KS_FIELD_LOGIN    'L'
#define KS_FIELD_PURPOSE  'P'        /* version 2: starts a credential */
#define KS_FIELD_KEY      'K'
#define KS_FIELD_CERT     'C'
#define KS_FIELD_URI      'U'        /* a token key: instead of 'K' */
#define KS_MAX_URI        2048
#define KS_MAX_ADDRESS    320        /* 64 + 1 + 255 */
#define KS_MAX_CREDS      KEYSTORE_MAX_CREDS
#define KS_MAX_CERTS      16         /* a credential's chain */

/* The CDB key of an address: ASCII lower case into buf (KS_MAX_ADDRESS+1
 * bytes).  Length, or 0 when the address is empty or too long. */
size_t keystore_key(const char *address, char *buf);

/* One credential of an entry, with what was checked when it was parsed. */
struct ks_cred {
    smime_signer_t *signer;
    unsigned purpose;                 /* KEYSTORE_SIGN|DECRYPT as stored */
    int sign_ok;                      /* passes keystore_check() for the
                                         entry's address between nb and na */
    int decrypt_ok;                   /* its certificate allows decryption
                                         and holds the address */
    time_t nb, na;
    gnutls_datum_t issuer;            /* raw issuer DN (DER) */
    unsigned char serial[64];         /* without leading zero bytes */
    size_t serial_len;
    unsigned char ski[64];            /* subjectKeyIdentifier, if any */
    size_t ski_len;
};

struct keystore_entry {
    atomic_uint refs;
    char *address;
    char **logins;
    size_t nlogins;
    struct ks_cred *creds;            /* newest (latest notBefore) first */
    size_t ncreds;
    struct keystore_entry *next;      /* cache bucket chain (keystore.c) */
    struct keystore_entry *lru_prev;  /* cache use order, newest first */
    struct keystore_entry *lru_next;
};

/* Parsed entries each generation keeps (least recently used ones go):
 * a parsed entry (key and certificates in GnuTLS's structures) takes
 * about 60 KB, so a cache of every sender of a million-address keystore
 * would take tens of GB.  Lookups of other addresses parse again (about
 * 0.5 ms). */
#define KS_CACHE_MAX      256

/* How many parsed entries the current generation caches (tests). */
size_t ks_cache_count(keystore_t *ks);

/* The record rules of keystore.h, without parsing keys or certificates:
 * 0 sound, -1 damaged (v NULL: tinycdb found it running past the end of
 * the file), -2 a record version this program does not read. */
int ks_record_check(const unsigned char *v, size_t vlen);

/* The fields of one credential as they are read (pointers into the
 * record; nothing parsed). */
struct ks_cred_in {
    unsigned purpose;
    const unsigned char *key;         /* 'K', or */
    size_t keylen;
    int is_url;                       /* 'U' (key, keylen: the URI) */
    gnutls_datum_t certs[KS_MAX_CERTS];
    size_t ncerts;
};

/* The fields of a sound record (ks_record_check() 0) in stored order:
 * each login to login_fn (may be NULL), each credential, complete, to
 * cred_fn.  Stops at the first non-zero return and returns it; else 0.
 * The one reader of the framing for ks_entry_parse() and
 * keystore_foreach_cert(). */
int ks_record_walk(const unsigned char *v, size_t vlen,
                   int (*login_fn)(void *arg, const unsigned char *p,
                                   size_t n),
                   int (*cred_fn)(void *arg, const struct ks_cred_in *in),
                   void *arg);

/* Parse one record (value of the CDB key address, v NULL when tinycdb
 * found it running past the end of the file) into a new entry with one
 * reference.  NULL with a message. */
struct keystore_entry *ks_entry_parse(const char *address,
                                      const unsigned char *v, size_t vlen,
                                      char *err, size_t errlen);

#endif
