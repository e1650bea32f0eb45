/*
 * certstore_priv.h - what certstore.c (environments, records, reading)
 * shares with certstore_write.c (writing) and certstore_stamp.c (lookup
 * stamps).  Not for other modules.
 */
#ifndef SMIME_CERTSTORE_PRIV_H
#define SMIME_CERTSTORE_PRIV_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "certstore.h"

#define CERTSTORE_FORMAT 1
#define FP_LEN 32
#define ADDR_MAX 320
#define MAP_MAX ((size_t)1 << 40)       /* growth stops at 1 TiB */
#define MAX_READERS 1024
#define MAX_CHAIN 8

/* One LMDB environment per file per process (certstore_open). */
struct cs_env {
    struct cs_env *next;
    dev_t dev;
    ino_t ino;
    MDB_env *env;
    MDB_dbi meta, addr, cert;
    int rdwr;
    unsigned refs;
    pthread_rwlock_t resize;   /* txns hold it shared, resizing exclusive */
};

struct certstore {
    struct cs_env *e;
    int rdwr;
    char *path;
};

struct rent {                       /* one address entry, while writing */
    unsigned char fp[FP_LEN];
    int source;
    int64_t st, upd;
    unsigned char *caps;            /* malloc'd copy */
    size_t caps_len;
};

struct rec {
    struct rent *v;
    size_t n;
};

/* A certificate record's fields: refs, the DER, the intermediates. */
struct crec {
    uint32_t refs;
    const unsigned char *der;
    size_t der_len;
    const unsigned char *chain[MAX_CHAIN];
    size_t chain_len[MAX_CHAIN];
    size_t nchain;
};

/* Growable output buffer. */
struct obuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
};

enum certstore_status cs_lmdb_fail(int rc, const char *what, char *err,
                                   size_t errlen);
/* Begin a transaction while holding e->resize shared (adopts a map
 * another process grew); double the map (no transaction held). */
int cs_txn_begin(struct cs_env *e, unsigned flags, MDB_txn **t);
int cs_grow(struct cs_env *e);
/* The lower-cased key of address a into out[ADDR_MAX]; -1: no address. */
int cs_addr_key(const char *a, char *out, MDB_val *k);

int cs_rec_parse(const MDB_val *v, struct rec *r);       /* -1: corrupt */
void cs_rec_write(const struct rec *r, struct obuf *o);
void cs_rec_clear(struct rec *r);
int cs_crec_parse(const MDB_val *v, struct crec *c);     /* -1: corrupt */
void cs_crec_write(const struct crec *c, struct obuf *o);
void cs_ob_put(struct obuf *o, const void *d, size_t n);
void cs_ob_field(struct obuf *o, int type, const void *d, size_t n);
void cs_ob_i64(struct obuf *o, int type, int64_t v);

/* A stamp of address record v with room for n entries; add entry fp
 * whose certificate record is cv (may move *sp).  NULL / -1: no memory. */
certstore_stamp_t *cs_stamp_new(const MDB_val *v, size_t n);
int cs_stamp_add(certstore_stamp_t **sp, const unsigned char *fp,
                 const MDB_val *cv);

#endif
