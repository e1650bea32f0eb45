/*
 * certstore.c - the recipient certificate store (certstore.h) in LMDB.
 *
 * STORE is one LMDB data file (MDB_NOSUBDIR) and STORE-lock, mode 0600.
 * Three named databases:
 *   "meta"  key "version" -> one byte, CERTSTORE_FORMAT (1)
 *   "addr"  key: the address, ASCII lower-cased -> an address record
 *   "cert"  key: SHA-256 of the certificate DER  -> a certificate record
 * A certificate naming many addresses is stored once and counted.
 *
 * Records are a version byte (1) then fields TYPE (1 byte) LENGTH (4 bytes,
 * big-endian) DATA.  Address record fields, per entry, in order:
 *   'f' SHA-256 of the certificate (32 bytes; starts an entry)
 *   's' source, 1 byte: 1 import, 2 harvest
 *   't' signingTime last seen, 8 bytes big-endian seconds (0: none)
 *   'u' when the entry was last written, 8 bytes
 *   'p' SMIMECapabilities DER (may be empty)
 * Certificate record: refcount (4 bytes) after the version byte, then
 *   'c' the certificate DER (exactly one), 'i' an intermediate (repeatable).
 * Readers skip field types they do not know (so new fields can be added);
 * another version byte, a bad length or a missing 'f'/'s'/'c' is CORRUPT.
 * A writer rewriting a record keeps only the fields it knows.
 *
 * Every read is one read transaction (MDB_NOTLS: any thread); every write
 * one write transaction, retried after doubling the map on MDB_MAP_FULL.
 * A per-environment rwlock keeps mdb_env_set_mapsize() away from open
 * transactions of this process (LMDB requires it); other processes see
 * MDB_MAP_RESIZED and adopt the new size.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "certstore.h"
#include "certstore_priv.h"
#include "errbuf.h"


/* ---- one LMDB environment per file per process ---- */



static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cs_env *reg;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A forked child must not use its parent's environments (LMDB), nor
 * close them: it forgets them and opens its own. */
static void forget_after_fork(void)
{
    reg = NULL;
    pthread_mutex_init(&reg_lock, NULL);
}

static void atfork_init(void)
{
    pthread_atfork(NULL, NULL, forget_after_fork);
}

const char *certstore_source_name(enum certstore_source s)
{
    return s == CERTSTORE_IMPORT ? "import" :
           s == CERTSTORE_HARVEST ? "harvest" : "unknown";
}

const char *certstore_lmdb_version(void)
{
    return mdb_version(NULL, NULL, NULL);
}

enum certstore_status cs_lmdb_fail(int rc, const char *what, char *err,
                                       size_t errlen)
{
    smime_seterr(err, errlen, "%s: %s", what, mdb_strerror(rc));
    return CERTSTORE_ERROR;
}

/* Begin a transaction; the caller holds e->resize shared. */
int cs_txn_begin(struct cs_env *e, unsigned flags, MDB_txn **t)
{
    int rc = mdb_txn_begin(e->env, NULL, flags, t);

    /* another process grew the map (maybe again meanwhile) */
    for (int i = 0; rc == MDB_MAP_RESIZED && i < 100; i++) {
        pthread_rwlock_unlock(&e->resize);
        pthread_rwlock_wrlock(&e->resize);
        mdb_env_set_mapsize(e->env, 0);
        pthread_rwlock_unlock(&e->resize);
        pthread_rwlock_rdlock(&e->resize);
        rc = mdb_txn_begin(e->env, NULL, flags, t);
    }
    return rc;
}

int cs_grow(struct cs_env *e)
{
    MDB_envinfo info;
    int rc;

    pthread_rwlock_wrlock(&e->resize);
    mdb_env_info(e->env, &info);
    rc = info.me_mapsize >= MAP_MAX ? MDB_MAP_FULL :
         mdb_env_set_mapsize(e->env, info.me_mapsize * 2);
    pthread_rwlock_unlock(&e->resize);
    return rc;
}

/* The named databases and the format version. */
static int env_setup(struct cs_env *e, char *err, size_t errlen)
{
    unsigned cr = e->rdwr ? MDB_CREATE : 0;
    MDB_txn *t;
    MDB_val k = { 7, "version" }, v;
    unsigned char ver = CERTSTORE_FORMAT;
    int rc;

    pthread_rwlock_rdlock(&e->resize);
    rc = cs_txn_begin(e, e->rdwr ? 0 : MDB_RDONLY, &t);
    pthread_rwlock_unlock(&e->resize);
    if (rc != 0)
        return cs_lmdb_fail(rc, "cannot begin", err, errlen), -1;
    if ((rc = mdb_dbi_open(t, "meta", cr, &e->meta)) == 0 &&
        (rc = mdb_dbi_open(t, "addr", cr, &e->addr)) == 0)
        rc = mdb_dbi_open(t, "cert", cr, &e->cert);
    if (rc == 0 && (rc = mdb_get(t, e->meta, &k, &v)) == MDB_NOTFOUND &&
        e->rdwr) {
        v.mv_size = 1;
        v.mv_data = &ver;
        rc = mdb_put(t, e->meta, &k, &v, 0);
    }
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
        mdb_txn_abort(t);
        smime_seterr(err, errlen, "not a certificate store");
        return -1;
    }
    if (rc == 0 && (v.mv_size != 1 ||
                    *(unsigned char *)v.mv_data != CERTSTORE_FORMAT)) {
        mdb_txn_abort(t);
        smime_seterr(err, errlen, "certificate store format %u, this "
                     "version reads %u", v.mv_size == 1 ?
                     *(unsigned char *)v.mv_data : 0u, CERTSTORE_FORMAT);
        return -1;
    }
    if (rc == 0)
        rc = mdb_txn_commit(t);        /* keeps the dbi handles */
    else
        mdb_txn_abort(t);
    if (rc != 0)
        return cs_lmdb_fail(rc, "cannot set up", err, errlen), -1;
    return 0;
}

static struct cs_env *env_new(const char *path, unsigned flags,
                              size_t mapsize, int exists, char *err,
                              size_t errlen)
{
    struct cs_env *e = calloc(1, sizeof(*e));
    unsigned ef = MDB_NOSUBDIR | MDB_NOTLS;
    int rc, dead;

    if (e == NULL) {
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    e->rdwr = (flags & CERTSTORE_RDWR) != 0;
    if (!e->rdwr)
        ef |= MDB_RDONLY;
    pthread_rwlock_init(&e->resize, NULL);
    if ((rc = mdb_env_create(&e->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(e->env, 4)) != 0 ||
        (rc = mdb_env_set_maxreaders(e->env, MAX_READERS)) != 0 ||
        (!exists && (rc = mdb_env_set_mapsize(e->env, mapsize ? mapsize :
                                              CERTSTORE_MAP_DEFAULT)) != 0)) {
        cs_lmdb_fail(rc, "cannot create environment", err, errlen);
        goto fail;
    }
    if ((rc = mdb_env_open(e->env, path, ef, 0600)) != 0) {
        smime_seterr(err, errlen, "%s", rc == MDB_INVALID ||
                     rc == MDB_VERSION_MISMATCH ? "not a certificate store"
                     : mdb_strerror(rc));
        goto fail;
    }
    mdb_reader_check(e->env, &dead);    /* slots of crashed readers */
    if (env_setup(e, err, errlen) == 0)
        return e;
fail:
    if (e->env)
        mdb_env_close(e->env);
    pthread_rwlock_destroy(&e->resize);
    free(e);
    return NULL;
}

certstore_t *certstore_open(const char *path, unsigned flags, size_t mapsize,
                            char *err, size_t errlen)
{
    struct stat st;
    struct cs_env *e;
    certstore_t *cs = calloc(1, sizeof(*cs));
    char why[300];
    char eb[128];               /* smime_strerror() text */
    int exists;

    pthread_once(&atfork_once, atfork_init);
    if (cs == NULL || (cs->path = strdup(path)) == NULL) {
        free(cs);
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    cs->rdwr = (flags & CERTSTORE_RDWR) != 0;
    pthread_mutex_lock(&reg_lock);
    exists = stat(path, &st) == 0;
    if (!exists && (errno != ENOENT || !(flags & CERTSTORE_CREATE) ||
                    !cs->rdwr)) {
        smime_seterr(err, errlen, "%s: %s", path,
                     smime_strerror(errno, eb, sizeof eb));
        goto fail;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        smime_seterr(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    /* whoever may write it chooses whom mail is encrypted to */
    if (exists && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        smime_seterr(err, errlen, "%s is writable by group or others "
                     "(mode %04o): chmod go-w %s", path,
                     (unsigned)(st.st_mode & 07777), path);
        goto fail;
    }
    for (e = reg; exists && e; e = e->next)
        if (e->dev == st.st_dev && e->ino == st.st_ino)
            break;
    if (e && cs->rdwr && !e->rdwr) {
        smime_seterr(err, errlen, "%s: already open read-only in this "
                     "process", path);
        goto fail;
    }
    if (e == NULL) {
        if ((e = env_new(path, flags, mapsize, exists, why,
                         sizeof(why))) == NULL) {
            smime_seterr(err, errlen, "%s: %s", path, why);
            goto fail;
        }
        stat(path, &st);
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->next = reg;
        reg = e;
    }
    e->refs++;
    cs->e = e;
    pthread_mutex_unlock(&reg_lock);
    return cs;
fail:
    pthread_mutex_unlock(&reg_lock);
    free(cs->path);
    free(cs);
    return NULL;
}

void certstore_free(certstore_t *cs)
{
    if (cs == NULL)
        return;
    pthread_mutex_lock(&reg_lock);
    if (--cs->e->refs == 0) {
        for (struct cs_env **p = &reg; *p; p = &(*p)->next)
            if (*p == cs->e) {
                *p = cs->e->next;
                break;
            }
        mdb_env_close(cs->e->env);
        pthread_rwlock_destroy(&cs->e->resize);
        free(cs->e);
    }
    pthread_mutex_unlock(&reg_lock);
    free(cs->path);
    free(cs);
}

const char *certstore_path(const certstore_t *cs)
{
    return cs->path;
}

size_t certstore_mapsize(const certstore_t *cs)
{
    MDB_envinfo info;

    pthread_rwlock_rdlock(&cs->e->resize);
    mdb_env_info(cs->e->env, &info);
    pthread_rwlock_unlock(&cs->e->resize);
    return info.me_mapsize;
}

/* ---- keys ---- */

/* Lower-cased address key; -1 for no address. */
int cs_addr_key(const char *a, char *out, MDB_val *k)
{
    size_t n = a ? strlen(a) : 0;
    const char *at = a ? strrchr(a, '@') : NULL;

    if (n == 0 || n > ADDR_MAX || at == NULL || at == a || at[1] == '\0')
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
            return -1;
        out[i] = (char)tolower(c);
    }
    k->mv_size = n;
    k->mv_data = out;
    return 0;
}

/* ---- record codec ---- */



void cs_rec_clear(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].caps);
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static int64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* Next field of buf[*off..len): 1 with type/data/dlen, 0 at the end,
 * -1 when truncated. */
static int field_next(const unsigned char *buf, size_t len, size_t *off,
                      int *type, const unsigned char **data, size_t *dlen)
{
    if (*off == len)
        return 0;
    if (len - *off < 5)
        return -1;
    *type = buf[*off];
    *dlen = get32(buf + *off + 1);
    if (*dlen > len - *off - 5)
        return -1;
    *data = buf + *off + 5;
    *off += 5 + *dlen;
    return 1;
}

int cs_rec_parse(const MDB_val *v, struct rec *r)
{
    const unsigned char *b = v->mv_data, *d;
    size_t off = 1, dl;
    int type, k;
    struct rent *cur = NULL;

    r->v = NULL;
    r->n = 0;
    if (v->mv_size < 1 || b[0] != CERTSTORE_FORMAT)
        return -1;
    while ((k = field_next(b, v->mv_size, &off, &type, &d, &dl)) == 1) {
        if (type == 'f') {
            struct rent *nv;
            if (dl != FP_LEN || (cur && !cur->source) ||
                (nv = realloc(r->v, (r->n + 1) * sizeof(*nv))) == NULL)
                goto bad;
            r->v = nv;
            cur = &r->v[r->n++];
            memset(cur, 0, sizeof(*cur));
            memcpy(cur->fp, d, FP_LEN);
        } else if (cur == NULL) {
            goto bad;
        } else if (type == 's') {
            if (dl != 1 || (d[0] != CERTSTORE_IMPORT &&
                            d[0] != CERTSTORE_HARVEST))
                goto bad;
            cur->source = d[0];
        } else if (type == 't' || type == 'u') {
            if (dl != 8)
                goto bad;
            *(type == 't' ? &cur->st : &cur->upd) = get64(d);
        } else if (type == 'p') {
            free(cur->caps);
            if ((cur->caps = malloc(dl ? dl : 1)) == NULL)
                goto bad;
            memcpy(cur->caps, d, dl);
            cur->caps_len = dl;
        }                               /* else: a newer field, skipped */
    }
    if (k < 0 || r->n == 0 || !cur->source)
        goto bad;
    return 0;
bad:
    cs_rec_clear(r);
    return -1;
}


void cs_ob_put(struct obuf *o, const void *d, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n > o->cap) {
        size_t cap = (o->n + n) * 2;
        unsigned char *np = realloc(o->p, cap);
        if (np == NULL) {
            o->oom = 1;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->n, d, n);
    o->n += n;
}

void cs_ob_field(struct obuf *o, int type, const void *d, size_t n)
{
    unsigned char h[5] = { (unsigned char)type, (unsigned char)(n >> 24),
                           (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                           (unsigned char)n };
    cs_ob_put(o, h, 5);
    cs_ob_put(o, d, n);
}

void cs_ob_i64(struct obuf *o, int type, int64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        b[i] = (unsigned char)v;
    cs_ob_field(o, type, b, 8);
}

void cs_rec_write(const struct rec *r, struct obuf *o)
{
    unsigned char ver = CERTSTORE_FORMAT;

    cs_ob_put(o, &ver, 1);
    for (size_t i = 0; i < r->n; i++) {
        unsigned char s = (unsigned char)r->v[i].source;
        cs_ob_field(o, 'f', r->v[i].fp, FP_LEN);
        cs_ob_field(o, 's', &s, 1);
        cs_ob_i64(o, 't', r->v[i].st);
        cs_ob_i64(o, 'u', r->v[i].upd);
        cs_ob_field(o, 'p', r->v[i].caps, r->v[i].caps_len);
    }
}


int cs_crec_parse(const MDB_val *v, struct crec *c)
{
    const unsigned char *b = v->mv_data, *d;
    size_t off = 5, dl;
    int type, k;

    memset(c, 0, sizeof(*c));
    if (v->mv_size < 5 || b[0] != CERTSTORE_FORMAT)
        return -1;
    c->refs = get32(b + 1);
    while ((k = field_next(b, v->mv_size, &off, &type, &d, &dl)) == 1) {
        if (type == 'c' && c->der == NULL) {
            c->der = d;
            c->der_len = dl;
        } else if (type == 'c') {
            return -1;
        } else if (type == 'i' && c->nchain < MAX_CHAIN) {
            c->chain[c->nchain] = d;
            c->chain_len[c->nchain++] = dl;
        }
    }
    return k < 0 || c->der == NULL || c->der_len == 0 ? -1 : 0;
}

void cs_crec_write(const struct crec *c, struct obuf *o)
{
    unsigned char h[5] = { CERTSTORE_FORMAT, (unsigned char)(c->refs >> 24),
                           (unsigned char)(c->refs >> 16),
                           (unsigned char)(c->refs >> 8),
                           (unsigned char)c->refs };
    cs_ob_put(o, h, 5);
    cs_ob_field(o, 'c', c->der, c->der_len);
    for (size_t i = 0; i < c->nchain; i++)
        cs_ob_field(o, 'i', c->chain[i], c->chain_len[i]);
}

/* ---- lists handed to callers ---- */

struct certstore_list {
    struct certstore_entry *v;
    size_t n;
};

size_t certstore_list_count(const certstore_list_t *l)
{
    return l ? l->n : 0;
}

const struct certstore_entry *certstore_list_get(const certstore_list_t *l,
                                                 size_t i)
{
    return l && i < l->n ? &l->v[i] : NULL;
}

void certstore_list_free(certstore_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        struct certstore_entry *e = &l->v[i];
        free((void *)e->cert);
        free((void *)e->caps);
        for (size_t j = 0; j < e->nchain; j++)
            free((void *)e->chain[j]);
        free((void *)e->chain);
        free((void *)e->chain_len);
    }
    free(l->v);
    free(l);
}

static void *dup_mem(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Entry i of the list from r's entry and its certificate record. */
static int list_fill(struct certstore_entry *e, const struct rent *re,
                     const struct crec *c)
{
    unsigned char **chain = calloc(c->nchain + 1, sizeof(*chain));
    size_t *clen = calloc(c->nchain + 1, sizeof(*clen));

    e->chain = (const unsigned char *const *)chain;
    e->chain_len = clen;
    e->source = (enum certstore_source)re->source;
    e->signing_time = re->st;
    e->updated = re->upd;
    e->cert = dup_mem(c->der, c->der_len);
    e->cert_len = c->der_len;
    e->caps = dup_mem(re->caps, re->caps_len);
    e->caps_len = re->caps_len;
    if (!chain || !clen || !e->cert || !e->caps)
        return -1;
    for (size_t j = 0; j < c->nchain; j++) {
        if ((chain[j] = dup_mem(c->chain[j], c->chain_len[j])) == NULL)
            return -1;
        clen[j] = c->chain_len[j];
        e->nchain++;
    }
    return 0;
}

/* The list of address record v, in transaction t.  why on failure.
 * stamp: when not NULL, also a stamp of what was read. */
static enum certstore_status list_build(struct cs_env *env, MDB_txn *t,
                                        const MDB_val *v,
                                        certstore_list_t **out,
                                        certstore_stamp_t **stamp,
                                        char *why, size_t whylen)
{
    struct rec r;
    certstore_list_t *l;
    enum certstore_status st = CERTSTORE_OK;

    *out = NULL;
    if (cs_rec_parse(v, &r) < 0) {
        smime_seterr(why, whylen, "unreadable address record");
        return CERTSTORE_CORRUPT;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL ||
        (l->v = calloc(r.n, sizeof(*l->v))) == NULL ||
        (stamp != NULL && (*stamp = cs_stamp_new(v, r.n)) == NULL)) {
        if (l != NULL)
            free(l->v);
        free(l);
        cs_rec_clear(&r);
        smime_seterr(why, whylen, "out of memory");
        return CERTSTORE_ERROR;
    }
    for (size_t i = 0; i < r.n && st == CERTSTORE_OK; i++) {
        MDB_val k = { FP_LEN, r.v[i].fp }, cv;
        struct crec c;
        int rc = mdb_get(t, env->cert, &k, &cv);
        if (rc != 0 || cs_crec_parse(&cv, &c) < 0) {
            st = rc == 0 || rc == MDB_NOTFOUND ? CERTSTORE_CORRUPT
                                               : CERTSTORE_ERROR;
            smime_seterr(why, whylen, "%s", rc == MDB_NOTFOUND ?
                         "certificate record missing" : rc ? mdb_strerror(rc)
                         : "unreadable certificate record");
            break;
        }
        l->n++;
        if (list_fill(&l->v[i], &r.v[i], &c) < 0 ||
            (stamp != NULL && cs_stamp_add(stamp, r.v[i].fp, &cv) < 0)) {
            st = CERTSTORE_ERROR;
            smime_seterr(why, whylen, "out of memory");
        }
    }
    cs_rec_clear(&r);
    if (st != CERTSTORE_OK) {
        certstore_list_free(l);
        if (stamp != NULL) {
            certstore_stamp_free(*stamp);
            *stamp = NULL;
        }
    } else {
        *out = l;
    }
    return st;
}

/* ---- reading ---- */

enum certstore_status certstore_lookup(certstore_t *cs, const char *address,
                                       certstore_list_t **out,
                                       char *err, size_t errlen)
{
    return certstore_lookup_stamp(cs, address, out, NULL, err, errlen);
}

enum certstore_status certstore_lookup_stamp(certstore_t *cs,
                                             const char *address,
                                             certstore_list_t **out,
                                             certstore_stamp_t **stamp,
                                             char *err, size_t errlen)
{
    char kb[ADDR_MAX];
    MDB_val k, v;
    MDB_txn *t;
    enum certstore_status st;
    int rc;

    *out = NULL;
    if (stamp != NULL)
        *stamp = NULL;
    if (cs_addr_key(address, kb, &k) < 0) {
        smime_seterr(err, errlen, "not an email address");
        return CERTSTORE_BAD_INPUT;
    }
    pthread_rwlock_rdlock(&cs->e->resize);
    if ((rc = cs_txn_begin(cs->e, MDB_RDONLY, &t)) != 0) {
        pthread_rwlock_unlock(&cs->e->resize);
        return cs_lmdb_fail(rc, "cannot read", err, errlen);
    }
    rc = mdb_get(t, cs->e->addr, &k, &v);
    if (rc == MDB_NOTFOUND)
        st = CERTSTORE_NOTFOUND;
    else if (rc != 0)
        st = cs_lmdb_fail(rc, "cannot read", err, errlen);
    else
        st = list_build(cs->e, t, &v, out, stamp, err, errlen);
    mdb_txn_abort(t);
    pthread_rwlock_unlock(&cs->e->resize);
    return st;
}

enum certstore_status certstore_foreach(certstore_t *cs, certstore_each_fn fn,
                                        void *arg, char *err, size_t errlen)
{
    MDB_txn *t = NULL;
    MDB_cursor *c;
    MDB_val k, v;
    char addr[ADDR_MAX + 1], why[200];
    int rc;

    pthread_rwlock_rdlock(&cs->e->resize);
    if ((rc = cs_txn_begin(cs->e, MDB_RDONLY, &t)) == 0 &&
        (rc = mdb_cursor_open(t, cs->e->addr, &c)) != 0)
        mdb_txn_abort(t);
    if (rc != 0) {
        pthread_rwlock_unlock(&cs->e->resize);
        return cs_lmdb_fail(rc, "cannot read", err, errlen);
    }
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        certstore_list_t *l = NULL;
        snprintf(addr, sizeof(addr), "%.*s", (int)k.mv_size,
                 (const char *)k.mv_data);
        list_build(cs->e, t, &v, &l, NULL, why, sizeof(why));
        int stop = fn(arg, addr, l, l ? NULL : why);
        certstore_list_free(l);
        if (stop)
            break;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    pthread_rwlock_unlock(&cs->e->resize);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return cs_lmdb_fail(rc, "cannot read", err, errlen);
    return CERTSTORE_OK;
}
