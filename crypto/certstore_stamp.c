/*
 * certstore_stamp.c - stamps of certificate store lookups
 * (certstore_lookup_stamp, certstore_stamp_check): what a lookup read,
 * kept so that a cache can tell in one read transaction, without parsing
 * or allocating, whether an address's answer is still the same.
 * list_build (certstore.c) fills them through cs_stamp_new/cs_stamp_add.
 */
#include "config.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "certstore.h"
#include "certstore_priv.h"

/* What a lookup read: the address record as stored, then per entry the
 * certificate's fingerprint and its record without the reference count
 * (a change of another address's use of the certificate is no change of
 * this one).  b: the address record (alen octets), then n times
 * fp[FP_LEN], a size_t length (memcpy), that many octets. */
struct certstore_stamp {
    size_t alen, n, len, cap;
    unsigned char b[];
};

#define CREC_HEAD 5                     /* version, refcount */

certstore_stamp_t *cs_stamp_new(const MDB_val *v, size_t n)
{
    size_t cap = v->mv_size + n * (FP_LEN + sizeof(size_t) + 2048);
    certstore_stamp_t *s = malloc(sizeof(*s) + cap);

    if (s == NULL)
        return NULL;
    s->alen = s->len = v->mv_size;
    s->n = 0;
    s->cap = cap;
    memcpy(s->b, v->mv_data, v->mv_size);
    return s;
}

int cs_stamp_add(certstore_stamp_t **sp, const unsigned char *fp,
                 const MDB_val *cv)
{
    certstore_stamp_t *s = *sp;
    size_t tl = cv->mv_size - CREC_HEAD;
    size_t need = s->len + FP_LEN + sizeof(size_t) + tl;

    if (need > s->cap) {
        certstore_stamp_t *ns = realloc(s, sizeof(*s) + need);
        if (ns == NULL)
            return -1;
        *sp = s = ns;
        s->cap = need;
    }
    memcpy(s->b + s->len, fp, FP_LEN);
    memcpy(s->b + s->len + FP_LEN, &tl, sizeof(size_t));
    memcpy(s->b + s->len + FP_LEN + sizeof(size_t),
           (const unsigned char *)cv->mv_data + CREC_HEAD, tl);
    s->len = need;
    s->n++;
    return 0;
}

void certstore_stamp_free(certstore_stamp_t *s)
{
    free(s);
}

/* 1 when what t reads for key k is what s recorded, 0 when not, -1
 * with *lrc on an LMDB error. */
static int stamp_same(struct cs_env *env, MDB_txn *t, MDB_val *k,
                      const certstore_stamp_t *s, int *lrc)
{
    MDB_val v;
    size_t off;
    int rc = mdb_get(t, env->addr, k, &v);

    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return *lrc = rc, -1;
    if (v.mv_size != s->alen || memcmp(v.mv_data, s->b, s->alen) != 0)
        return 0;
    off = s->alen;
    for (size_t i = 0; i < s->n; i++) {
        MDB_val ck = { FP_LEN, (void *)(s->b + off) }, cv;
        size_t tl;
        memcpy(&tl, s->b + off + FP_LEN, sizeof(size_t));
        off += FP_LEN + sizeof(size_t);
        if ((rc = mdb_get(t, env->cert, &ck, &cv)) == MDB_NOTFOUND)
            return 0;
        if (rc != 0)
            return *lrc = rc, -1;
        if (cv.mv_size != CREC_HEAD + tl ||
            memcmp((const unsigned char *)cv.mv_data + CREC_HEAD, s->b + off,
                   tl) != 0)
            return 0;
        off += tl;
    }
    return 1;
}

int certstore_stamp_check(certstore_t *cs, const char *address,
                          const certstore_stamp_t *stamp, char *err,
                          size_t errlen)
{
    char kb[ADDR_MAX];
    MDB_val k;
    MDB_txn *t;
    int rc, r, lrc = 0;

    if (cs_addr_key(address, kb, &k) < 0)
        return 0;
    pthread_rwlock_rdlock(&cs->e->resize);
    if ((rc = cs_txn_begin(cs->e, MDB_RDONLY, &t)) != 0) {
        pthread_rwlock_unlock(&cs->e->resize);
        cs_lmdb_fail(rc, "cannot read", err, errlen);
        return -1;
    }
    r = stamp_same(cs->e, t, &k, stamp, &lrc);
    mdb_txn_abort(t);
    pthread_rwlock_unlock(&cs->e->resize);
    if (r < 0) {
        cs_lmdb_fail(lrc, "cannot read", err, errlen);
        return -1;
    }
    return r;
}
