/*
 * certstore_write.c - writing the recipient certificate store: import,
 * harvest (with the SPEC's replacement rule), delete.
 *
 * Each operation is one LMDB write transaction: read the address record,
 * decide, write the record and the certificate records' reference
 * counts, commit.  LMDB serialises writers across processes, so the
 * decision always sees the latest committed state.  On MDB_MAP_FULL the
 * transaction is aborted, the map doubled and the whole operation run
 * again.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "certstore_priv.h"
#include "errbuf.h"

/* What one operation gets and answers. */
struct op {
    char key[ADDR_MAX];
    MDB_val k;
    const unsigned char *cert;
    size_t cert_len;
    gnutls_x509_crt_t crt;              /* cert, parsed once */
    unsigned char fp[FP_LEN];
    const unsigned char *const *chain;
    const size_t *chain_len;
    size_t nchain;
    const unsigned char *caps;
    size_t caps_len;
    int64_t signing_time;
    const char *const *addrs;           /* import: every address */
    size_t naddrs;
    enum certstore_status *sts;         /* import: each one's answer */
    const char *serial;                 /* delete: NULL for all */
    const void *raw;                    /* put_raw */
    size_t raw_len;
    enum certstore_status st;           /* the answer */
    char *err;
    size_t errlen;
};

typedef int (*op_fn)(struct cs_env *e, MDB_txn *t, struct op *o);

/* Runs fn in a write transaction, again after growing the map when full.
 * fn returns an LMDB code; it commits when that is 0 and o->st is OK. */
static enum certstore_status write_op(certstore_t *cs, op_fn fn, struct op *o)
{
    struct cs_env *e = cs->e;
    MDB_txn *t;
    int rc;

    if (!cs->rdwr) {
        smime_seterr(o->err, o->errlen, "store opened read-only");
        return CERTSTORE_ERROR;
    }
    for (;;) {
        o->st = CERTSTORE_OK;
        pthread_rwlock_rdlock(&e->resize);
        if ((rc = cs_txn_begin(e, 0, &t)) == 0) {
            rc = fn(e, t, o);
            if (rc == 0 && o->st == CERTSTORE_OK)
                rc = mdb_txn_commit(t);
            else
                mdb_txn_abort(t);
        }
        pthread_rwlock_unlock(&e->resize);
        if (rc != MDB_MAP_FULL)
            break;
        if ((rc = cs_grow(e)) != 0)
            break;
    }
    if (rc != 0)
        return cs_lmdb_fail(rc, "cannot write", o->err, o->errlen);
    return o->st;
}

/* The address record (empty when there is none): 0, or an LMDB code;
 * o->st CORRUPT when it cannot be read. */
static int rec_get(struct cs_env *e, MDB_txn *t, struct op *o, struct rec *r)
{
    MDB_val v;
    int rc = mdb_get(t, e->addr, &o->k, &v);

    r->v = NULL;
    r->n = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && cs_rec_parse(&v, r) < 0) {
        o->st = CERTSTORE_CORRUPT;
        smime_seterr(o->err, o->errlen, "unreadable address record: "
                     "delete the address and import it again");
    }
    return rc;
}

static int rec_put(struct cs_env *e, MDB_txn *t, struct op *o,
                   const struct rec *r)
{
    struct obuf ob = { NULL, 0, 0, 0 };
    MDB_val v;
    int rc;

    if (r->n == 0)
        return (rc = mdb_del(t, e->addr, &o->k, NULL)) == MDB_NOTFOUND ? 0
                                                                        : rc;
    cs_rec_write(r, &ob);
    if (ob.oom) {
        free(ob.p);
        return ENOMEM;
    }
    v.mv_size = ob.n;
    v.mv_data = ob.p;
    rc = mdb_put(t, e->addr, &o->k, &v, 0);
    free(ob.p);
    return rc;
}

/* Adjust the reference count of certificate fp by delta (+1 stores the
 * certificate when new); a count of 0 deletes it. */
static int cert_ref(struct cs_env *e, MDB_txn *t, struct op *o,
                    const unsigned char *fp, int delta)
{
    MDB_val k = { FP_LEN, (void *)fp }, v;
    struct crec c;
    struct obuf ob = { NULL, 0, 0, 0 };
    int rc = mdb_get(t, e->cert, &k, &v);

    if (rc == MDB_NOTFOUND && delta > 0) {
        memset(&c, 0, sizeof(c));
        c.der = o->cert;
        c.der_len = o->cert_len;
        for (size_t i = 0; i < o->nchain && i < MAX_CHAIN; i++) {
            c.chain[i] = o->chain[i];
            c.chain_len[i] = o->chain_len[i];
            c.nchain++;
        }
    } else if (rc == MDB_NOTFOUND) {
        return 0;                        /* already gone */
    } else if (rc != 0) {
        return rc;
    } else if (cs_crec_parse(&v, &c) < 0) {
        o->st = CERTSTORE_CORRUPT;
        smime_seterr(o->err, o->errlen, "unreadable certificate record");
        return 0;
    }
    if (rc == 0 && delta > 0 && o->nchain > 0) {   /* newer intermediates */
        c.nchain = 0;
        for (size_t i = 0; i < o->nchain && i < MAX_CHAIN; i++) {
            c.chain[i] = o->chain[i];
            c.chain_len[i] = o->chain_len[i];
            c.nchain++;
        }
    }
    c.refs = (uint32_t)((int64_t)c.refs + delta);
    if (rc == 0 && delta < 0 && c.refs == 0)
        return mdb_del(t, e->cert, &k, NULL);
    cs_crec_write(&c, &ob);            /* c points into v: write first */
    if (ob.oom) {
        free(ob.p);
        return ENOMEM;
    }
    v.mv_size = ob.n;
    v.mv_data = ob.p;
    rc = mdb_put(t, e->cert, &k, &v, 0);
    free(ob.p);
    return rc;
}

/* Drop entry i of r (and its certificate reference). */
static int rec_drop(struct cs_env *e, MDB_txn *t, struct op *o,
                    struct rec *r, size_t i)
{
    int rc = cert_ref(e, t, o, r->v[i].fp, -1);

    free(r->v[i].caps);
    memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(r->v[0]));
    r->n--;
    return rc;
}

/* Append the operation's certificate as a new entry. */
static int rec_add(struct cs_env *e, MDB_txn *t, struct op *o,
                   struct rec *r, int source)
{
    struct rent *nv = realloc(r->v, (r->n + 1) * sizeof(*nv));
    struct rent *n;

    if (nv == NULL)
        return ENOMEM;
    r->v = nv;
    n = &r->v[r->n];
    memset(n, 0, sizeof(*n));
    memcpy(n->fp, o->fp, FP_LEN);
    n->source = source;
    n->st = o->signing_time;
    n->upd = (int64_t)time(NULL);
    if ((n->caps = malloc(o->caps_len ? o->caps_len : 1)) == NULL)
        return ENOMEM;
    if (o->caps_len)
        memcpy(n->caps, o->caps, o->caps_len);
    n->caps_len = o->caps_len;
    r->n++;
    return cert_ref(e, t, o, o->fp, +1);
}

/* The DER of entry fp's certificate, parsed (caller deinits); NULL when
 * it cannot be had. */
static gnutls_x509_crt_t stored_crt(struct cs_env *e, MDB_txn *t,
                                    const unsigned char *fp)
{
    MDB_val k = { FP_LEN, (void *)fp }, v;
    struct crec c;
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;

    if (mdb_get(t, e->cert, &k, &v) != 0 || cs_crec_parse(&v, &c) < 0 ||
        gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    d.data = (unsigned char *)c.der;
    d.size = (unsigned)c.der_len;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        return NULL;
    }
    return crt;
}

/* Same issuer and serial number. */
static int same_issuer_serial(gnutls_x509_crt_t a, gnutls_x509_crt_t b)
{
    gnutls_datum_t ia, ib;
    unsigned char sa[64], sb[64];
    size_t la = sizeof(sa), lb = sizeof(sb);
    int same;

    if (gnutls_x509_crt_get_serial(a, sa, &la) < 0 ||
        gnutls_x509_crt_get_serial(b, sb, &lb) < 0 || la != lb ||
        memcmp(sa, sb, la) != 0)
        return 0;
    if (gnutls_x509_crt_get_raw_issuer_dn(a, &ia) < 0)
        return 0;
    if (gnutls_x509_crt_get_raw_issuer_dn(b, &ib) < 0) {
        gnutls_free(ia.data);
        return 0;
    }
    same = ia.size == ib.size && memcmp(ia.data, ib.data, ia.size) == 0;
    gnutls_free(ia.data);
    gnutls_free(ib.data);
    return same;
}

/* ---- the operations ---- */

static int do_import(struct cs_env *e, MDB_txn *t, struct op *o)
{
    struct rec r;
    gnutls_x509_crt_t mine = o->crt;
    int rc = rec_get(e, t, o, &r);

    if (rc != 0 || o->st != CERTSTORE_OK)
        return rc;
    /* reference the new one first: re-importing the same certificate
     * must not delete its record on the way */
    rc = rec_add(e, t, o, &r, CERTSTORE_IMPORT);
    for (size_t i = 0; rc == 0 && i + 1 < r.n;) {
        /* an entry whose certificate record is gone goes too */
        gnutls_x509_crt_t old = NULL;
        int drop = r.v[i].source == CERTSTORE_HARVEST ||
                   memcmp(r.v[i].fp, o->fp, FP_LEN) == 0 ||
                   (old = stored_crt(e, t, r.v[i].fp)) == NULL ||
                   same_issuer_serial(old, mine);
        if (old)
            gnutls_x509_crt_deinit(old);
        if (drop)
            rc = rec_drop(e, t, o, &r, i);
        else
            i++;
    }
    if (rc == 0 && o->st == CERTSTORE_OK)
        rc = rec_put(e, t, o, &r);
    cs_rec_clear(&r);
    return rc;
}

/* Each address in a nested transaction of its own: one that fails
 * (a damaged record) leaves no trace and the others are committed. */
static int do_import_all(struct cs_env *e, MDB_txn *t, struct op *o)
{
    size_t done = 0;

    for (size_t i = 0; i < o->naddrs; i++) {
        MDB_txn *sub;
        int rc;

        o->st = CERTSTORE_OK;
        if (cs_addr_key(o->addrs[i], o->key, &o->k) < 0) {
            smime_seterr(o->err, o->errlen, "not an email address: %s",
                         o->addrs[i] ? o->addrs[i] : "(none)");
            o->sts[i] = CERTSTORE_BAD_INPUT;
            continue;
        }
        if ((rc = mdb_txn_begin(e->env, t, 0, &sub)) != 0)
            return rc;
        if ((rc = do_import(e, sub, o)) == 0 && o->st == CERTSTORE_OK)
            rc = mdb_txn_commit(sub);
        else
            mdb_txn_abort(sub);
        if (rc != 0)
            return rc;
        o->sts[i] = o->st;
        done += o->st == CERTSTORE_OK;
    }
    o->st = done ? CERTSTORE_OK : o->naddrs ? o->sts[o->naddrs - 1]
                                            : CERTSTORE_BAD_INPUT;
    return 0;
}

static int do_harvest(struct cs_env *e, MDB_txn *t, struct op *o)
{
    struct rec r;
    int rc = rec_get(e, t, o, &r);

    if (rc != 0 || o->st != CERTSTORE_OK)
        return rc;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].source == CERTSTORE_IMPORT) {
            o->st = CERTSTORE_KEPT;
            smime_seterr(o->err, o->errlen, "an imported certificate is "
                         "stored");
        } else if (r.v[i].st >= o->signing_time) {
            o->st = CERTSTORE_KEPT;
            smime_seterr(o->err, o->errlen, "the stored certificate was "
                         "seen with the same or a later signingTime");
        }
    }
    while (rc == 0 && o->st == CERTSTORE_OK && r.n > 0)
        rc = rec_drop(e, t, o, &r, 0);
    if (rc == 0 && o->st == CERTSTORE_OK)
        rc = rec_add(e, t, o, &r, CERTSTORE_HARVEST);
    if (rc == 0 && o->st == CERTSTORE_OK)
        rc = rec_put(e, t, o, &r);
    cs_rec_clear(&r);
    return rc;
}

/* Hex serial without 0x, colons and leading zeros, lower case. */
static void serial_norm(const char *in, char *out, size_t len)
{
    size_t o = 0, z = 0;

    if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
        in += 2;
    for (; *in && o + 1 < len; in++)
        if (*in != ':')
            out[o++] = (char)(*in >= 'A' && *in <= 'F' ? *in + 32 : *in);
    out[o] = '\0';
    while (z + 1 < o && out[z] == '0')
        z++;
    memmove(out, out + z, o - z + 1);
}

static void crt_serial(gnutls_x509_crt_t crt, char *out, size_t len)
{
    unsigned char s[64];
    size_t n = sizeof(s), o = 0;
    char hex[2 * sizeof(s) + 1];
    static const char digits[] = "0123456789abcdef";

    hex[0] = '\0';
    if (crt && gnutls_x509_crt_get_serial(crt, s, &n) >= 0) {
        for (size_t i = 0; i < n; i++) {
            hex[o++] = digits[s[i] >> 4];
            hex[o++] = digits[s[i] & 15];
        }
        hex[o] = '\0';
    }
    serial_norm(hex, out, len);
}

static int do_delete(struct cs_env *e, MDB_txn *t, struct op *o)
{
    struct rec r;
    char want[160], have[160];
    size_t before;
    int rc = rec_get(e, t, o, &r);

    if (rc != 0 || o->st != CERTSTORE_OK) {
        if (rc == 0 && o->serial == NULL) {   /* a broken record goes too */
            o->st = CERTSTORE_OK;
            return mdb_del(t, e->addr, &o->k, NULL);
        }
        return rc;
    }
    if (r.n == 0) {
        o->st = CERTSTORE_NOTFOUND;
        smime_seterr(o->err, o->errlen, "no such address");
        return 0;
    }
    before = r.n;
    if (o->serial)
        serial_norm(o->serial, want, sizeof(want));
    for (size_t i = 0; rc == 0 && i < r.n;) {
        int drop = o->serial == NULL;
        if (!drop) {
            gnutls_x509_crt_t crt = stored_crt(e, t, r.v[i].fp);
            crt_serial(crt, have, sizeof(have));
            if (crt)
                gnutls_x509_crt_deinit(crt);
            drop = strcmp(have, want) == 0;
        }
        if (drop)
            rc = rec_drop(e, t, o, &r, i);
        else
            i++;
    }
    if (rc == 0 && r.n == before) {
        o->st = CERTSTORE_NOTFOUND;
        smime_seterr(o->err, o->errlen, "no certificate with serial %s",
                     o->serial);
    }
    if (rc == 0 && o->st == CERTSTORE_OK)
        rc = rec_put(e, t, o, &r);
    cs_rec_clear(&r);
    return rc;
}

static int do_put_raw(struct cs_env *e, MDB_txn *t, struct op *o)
{
    MDB_val v = { o->raw_len, (void *)o->raw };
    return mdb_put(t, e->addr, &o->k, &v, 0);
}

/* ---- the public face ---- */

static int op_init(struct op *o, const char *address, char *err,
                   size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->err = err;
    o->errlen = errlen;
    if (cs_addr_key(address, o->key, &o->k) < 0) {
        smime_seterr(err, errlen, "not an email address: %s",
                     address ? address : "(none)");
        return -1;
    }
    return 0;
}

static int op_cert(struct op *o, const unsigned char *cert, size_t len,
                   const unsigned char *const *chain, const size_t *chain_len,
                   size_t nchain)
{
    gnutls_datum_t d = { (unsigned char *)cert, (unsigned)len };

    if (cert == NULL || len == 0 || len > UINT32_MAX ||
        gnutls_x509_crt_init(&o->crt) < 0)
        goto bad;
    if (gnutls_x509_crt_import(o->crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_hash_fast(GNUTLS_DIG_SHA256, cert, len, o->fp) < 0)
        goto bad;
    o->cert = cert;
    o->cert_len = len;
    o->chain = chain;
    o->chain_len = chain_len;
    o->nchain = nchain;
    return 0;
bad:
    if (o->crt)
        gnutls_x509_crt_deinit(o->crt);
    o->crt = NULL;
    smime_seterr(o->err, o->errlen, "not a DER certificate");
    return -1;
}

static enum certstore_status op_done(struct op *o, enum certstore_status st)
{
    if (o->crt)
        gnutls_x509_crt_deinit(o->crt);
    return st;
}

enum certstore_status certstore_import_all(certstore_t *cs,
        const char *const *addresses, size_t naddresses,
        enum certstore_status *each, const unsigned char *cert,
        size_t cert_len, const unsigned char *const *chain,
        const size_t *chain_len, size_t nchain, char *err, size_t errlen)
{
    struct op o;
    enum certstore_status st;

    memset(&o, 0, sizeof(o));
    o.err = err;
    o.errlen = errlen;
    for (size_t i = 0; i < naddresses; i++)
        each[i] = CERTSTORE_BAD_INPUT;
    if (op_cert(&o, cert, cert_len, chain, chain_len, nchain) < 0)
        return CERTSTORE_BAD_INPUT;
    o.addrs = addresses;
    o.naddrs = naddresses;
    o.sts = each;
    if ((st = write_op(cs, do_import_all, &o)) == CERTSTORE_ERROR)
        for (size_t i = 0; i < naddresses; i++)
            each[i] = CERTSTORE_ERROR;
    return op_done(&o, st);
}

enum certstore_status certstore_import(certstore_t *cs, const char *address,
        const unsigned char *cert, size_t cert_len,
        const unsigned char *const *chain, const size_t *chain_len,
        size_t nchain, char *err, size_t errlen)
{
    enum certstore_status each;

    certstore_import_all(cs, &address, 1, &each, cert, cert_len, chain,
                         chain_len, nchain, err, errlen);
    return each;
}

enum certstore_status certstore_harvest(certstore_t *cs, const char *address,
        const unsigned char *cert, size_t cert_len,
        const unsigned char *const *chain, const size_t *chain_len,
        size_t nchain, const unsigned char *caps, size_t caps_len,
        int64_t signing_time, char *err, size_t errlen)
{
    struct op o;

    if (op_init(&o, address, err, errlen) < 0 ||
        op_cert(&o, cert, cert_len, chain, chain_len, nchain) < 0)
        return CERTSTORE_BAD_INPUT;
    o.caps = caps;
    o.caps_len = caps ? caps_len : 0;
    o.signing_time = signing_time;
    return op_done(&o, write_op(cs, do_harvest, &o));
}

enum certstore_status certstore_delete(certstore_t *cs, const char *address,
                                       const char *serial_hex,
                                       char *err, size_t errlen)
{
    struct op o;

    if (op_init(&o, address, err, errlen) < 0)
        return CERTSTORE_BAD_INPUT;
    o.serial = serial_hex;
    return write_op(cs, do_delete, &o);
}

enum certstore_status certstore_put_raw(certstore_t *cs, const char *address,
                                        const void *rec, size_t len,
                                        char *err, size_t errlen)
{
    struct op o;

    if (op_init(&o, address, err, errlen) < 0)
        return CERTSTORE_BAD_INPUT;
    o.raw = rec;
    o.raw_len = len;
    return write_op(cs, do_put_raw, &o);
}
