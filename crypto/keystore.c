/*
 * keystore.c - read the signing keystore (format in keystore.h).
 *
 * An open file is a "generation": a private copy of the file (a sealed
 * memfd that nobody else can change, or with keystore_open_in an
 * unlinked file in a directory of ours: the same privacy, but page
 * cache that the kernel may reclaim instead of memory, and its pages
 * are dropped from our mapping once the file has been checked), tinycdb's mmap of it and a cache
 * of parsed entries (the KS_CACHE_MAX most recently used: a cache of
 * every sender of a large keystore would hold gigabytes).  keystore_reload() swaps in a new generation; the
 * old one is freed when the last lookup using it is done.  Entries are
 * reference-counted on their own, so a message that holds one keeps its
 * signer however often the file is replaced.
 *
 * When the file at the path becomes unusable (deleted, truncated,
 * garbage, wrong owner or mode), the last good generation stays in use
 * and keystore_reload() says so once per change of the file (SPEC:
 * damage never stops signing).  The copy is what makes that safe: a
 * mapping of the file itself would show garbage written in place, and
 * a truncation in place would turn reads past the new end into SIGBUS.
 *
 * Threads: tinycdb's struct cdb keeps per-search state (cdb_vpos...), so
 * every lookup searches a private copy of the generation's struct cdb;
 * the mapped file is only read.  One mutex guards the generation pointer,
 * generation reference counts and the caches; signer parsing runs
 * outside it.
 */
#include "config.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "keystore.h"
#include "keystore_priv.h"

#define KS_BUCKETS 1024                /* > KS_CACHE_MAX: short chains */

struct ks_ident {                     /* which file state we have */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;            /* chmod/chown of a refused file */
};

struct ks_gen {
    unsigned refs;                    /* under keystore.lock */
    int fd;                           /* the private copy */
    int in_file;                      /* ... a file, not a memfd */
    struct cdb cdb;
    struct ks_ident id;
    keystore_entry_t *cache[KS_BUCKETS];
    keystore_entry_t *lru_head;       /* most recently used */
    keystore_entry_t *lru_tail;
    size_t ncached;                   /* at most KS_CACHE_MAX */
};

struct keystore {
    char *path;
    char *copy_dir;                   /* NULL: copies in memfds */
    pthread_mutex_t lock;
    pthread_mutex_t reload_lock;      /* one reload at a time */
    struct ks_gen *gen;               /* the last good file: always set */
    struct ks_ident failed;           /* last state that failed to load */
    int have_failed;                  /* ... and it is the current one */
    int retry;                        /* ... but for a passing reason
                                         (out of memory or descriptors):
                                         try again at the next reload */
    char failed_err[300];             /* why */
};


size_t
keystore_key(const char *address, char *buf)
{
    size_t n = address ? strlen(address) : 0;

    if (n == 0 || n > KS_MAX_ADDRESS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)address[i];
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    buf[n] = '\0';
    return n;
}

static void
ident_of(const struct stat *st, struct ks_ident *id)
{
    memset(id, 0, sizeof(*id));
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
    id->ctime = st->st_ctim;
}

static int
ident_eq(const struct ks_ident *a, const struct ks_ident *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* ---- generations ---- */

static unsigned
bucket_of(const char *key)
{
    return cdb_hash(key, (unsigned)strlen(key)) % KS_BUCKETS;
}

static void
gen_destroy(struct ks_gen *g)
{
    if (g == NULL)
        return;
    for (int i = 0; i < KS_BUCKETS; i++)
        while (g->cache[i]) {
            keystore_entry_t *e = g->cache[i];
            g->cache[i] = e->next;
            keystore_entry_free(e);
        }
    cdb_free(&g->cdb);
    close(g->fd);
    free(g);
}

static void
gen_release(keystore_t *ks, struct ks_gen *g)
{
    pthread_mutex_lock(&ks->lock);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&ks->lock);
    if (last)
        gen_destroy(g);
}

/* The file's version marker: "1" (one signing credential per address,
 * still read) up to KEYSTORE_VERSION. */
static int
known_version(const char *v, unsigned len)
{
    return v != NULL && len == 1 && v[0] >= '1' &&
           v[0] <= '0' + KEYSTORE_VERSION;
}

/* An unlinked file of our own in dir (mode 0600): O_TMPFILE, or where
 * the file system lacks it mkstemp and unlink.  Its fd or -1. */
static int
private_file(const char *dir)
{
    int m = -1;
#ifdef O_TMPFILE
    m = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
#endif
    if (m < 0) {
        size_t n = strlen(dir) + sizeof("/.smime-keystore.XXXXXX");
        char *t = malloc(n);
        if (t == NULL)
            return -1;
        snprintf(t, n, "%s/.smime-keystore.XXXXXX", dir);
        if ((m = mkostemp(t, O_CLOEXEC)) >= 0)
            unlink(t);
        free(t);
    }
    return m;
}

/* A private copy of the open file fd of size bytes: in dir, where nobody
 * else can open it, when dir is set and we can write there (*in_file
 * 1), else a sealed memfd.  The mapping of a copy cannot change under
 * us.  Its fd, or -1 with a message. */
static int
snapshot(int fd, off_t size, const char *path, const char *dir,
         int *in_file, char *err, size_t errlen)
{
    int m = dir ? private_file(dir) : -1;
    char buf[16384];
    char eb[128];               /* smime_strerror() text */
    off_t total = 0;
    ssize_t n;

    if ((*in_file = m >= 0) == 0)
        m = memfd_create("smime-keystore", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0) {
        smime_seterr(err, errlen, "cannot copy keystore %s: %s", path,
                     smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(m, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                smime_seterr(err, errlen, "cannot copy keystore %s: %s", path,
                             smime_strerror(errno, eb, sizeof eb));
                goto fail;
            }
            done += w;
        }
        total += n;
    }
    if (n < 0) {
        smime_seterr(err, errlen, "cannot read keystore %s: %s", path,
                     smime_strerror(errno, eb, sizeof eb));
        goto fail;
    }
    if (total != size) {
        smime_seterr(err, errlen, "keystore %s changed while it was read",
                     path);
        goto fail;
    }
    if (!*in_file &&
        fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
              F_SEAL_SEAL) < 0) {
        smime_seterr(err, errlen, "cannot copy keystore %s: %s", path,
                     smime_strerror(errno, eb, sizeof eb));
        goto fail;
    }
    return m;
fail:
    close(m);
    return -1;
}

#define KS_DROP_STEP (4u << 20)

/* A walk over every record of a file copy read the pages up to pos: drop
 * those past *done from our mapping, every KS_DROP_STEP (the page cache
 * keeps them while memory allows), so that a walk over a keystore of a
 * million addresses does not leave it all resident.  final: all of it.
 * The daemon serves while it walks, so the step is what its RSS grows
 * by meanwhile: 4 MB (550 madvise calls for a 2.2 GB file; 32 MB put
 * the 1 M-address daemon 12.9 MB over the 1 k one while signing). */
static void
drop_behind(const struct ks_gen *g, unsigned *done, unsigned pos, int final)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t base = (uintptr_t)g->cdb.cdb_mem;

    if (!g->in_file || (!final && pos - *done < KS_DROP_STEP))
        return;
    if (final)
        pos = g->cdb.cdb_fsize;
    uintptr_t a = (base + *done) & ~(page - 1), b = (base + pos) & ~(page - 1);
    if (final)
        b = base + pos;                   /* the mapping's last page too */
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
    *done = pos;
}

/* Every record sound (keystore.h) and found by its key: a file damaged
 * anywhere is refused as a whole when it is loaded, not entry by entry
 * when a message needs it.  The keys and certificates inside are parsed
 * at lookup.  0, or -1 with a message. */
static int
gen_validate(struct ks_gen *g, const char *path, char *err, size_t errlen)
{
    struct cdb c = g->cdb;
    unsigned pos, dropped = 0;
    int r, magic = 0;

    cdb_seqinit(&pos, &c);
    while ((r = cdb_seqnext(&pos, &c)) > 0) {
        unsigned kl = cdb_keylen(&c);
        const char *k = cdb_getkey(&c);
        struct cdb f = g->cdb;
        if (k == NULL || kl == 0 || kl > KS_MAX_ADDRESS ||
            cdb_find(&f, k, kl) <= 0)
            break;
        if (kl == KS_MAGIC_KEYLEN && memcmp(k, KS_MAGIC_KEY, kl) == 0) {
            const char *v = cdb_getdata(&c);
            unsigned vl = cdb_datalen(&c);
            if (!known_version(v, vl)) {
                smime_seterr(err, errlen, "keystore %s has format version "
                             "%.*s, this program reads versions 1 to %u: "
                             "rebuild with smime-keystore build", path,
                             v && vl <= 8 ? (int)vl : 1, v && vl <= 8 ? v : "?",
                             KEYSTORE_VERSION);
                return -1;
            }
            magic = 1;
            continue;
        }
        if (k[0] == '\0')
            break;
        if ((r = ks_record_check(cdb_getdata(&c), cdb_datalen(&c))) == -2) {
            const unsigned char *v = cdb_getdata(&c);
            smime_seterr(err, errlen, "keystore %s: entry %.*s has record "
                         "version %u, this program reads 1 to %u: rebuild "
                         "with smime-keystore build", path, (int)kl, k,
                         v && cdb_datalen(&c) ? v[0] : 0u, KEYSTORE_VERSION);
            return -1;
        }
        if (r < 0)
            break;
        drop_behind(g, &dropped, pos, 0);
    }
    drop_behind(g, &dropped, pos, 1);
    if (r != 0) {
        smime_seterr(err, errlen, "keystore %s is damaged: rebuild it", path);
        return -1;
    }
    if (!magic) {
        smime_seterr(err, errlen, "%s was not made by smime-keystore build",
                     path);
        return -1;
    }
    return 0;
}

/* Open path, check that it is safe and ours, and load a private copy;
 * *id gets its identity (also on failure when it could be stat'ed).  On
 * failure *transient says whether it was for a passing reason (out of
 * memory or file descriptors, the file changing while it was read)
 * rather than for the file's contents, name, owner or mode. */
static struct ks_gen *
gen_open(const char *path, const char *copy_dir, struct ks_ident *id,
         int *transient, char *err, size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    struct ks_gen *g = calloc(1, sizeof(*g));
    struct stat st;
    int fd = -1;

    memset(id, 0, sizeof(*id));
    *transient = 1;
    if (g == NULL) {
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    g->fd = -1;
    /* O_NONBLOCK: a FIFO put there must not hang us (refused below) */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        *transient = e == EMFILE || e == ENFILE || e == ENOMEM ||
                     e == EINTR || e == EAGAIN;
        if (fd < 0 && stat(path, &st) == 0)
            ident_of(&st, id);            /* unreadable: this file state */
        smime_seterr(err, errlen, "cannot open keystore %s: %s", path,
                     smime_strerror(e, eb, sizeof eb));
        goto fail;
    }
    *transient = 0;
    ident_of(&st, id);
    if (!S_ISREG(st.st_mode)) {
        smime_seterr(err, errlen, "keystore %s is not a regular file", path);
        goto fail;
    }
    if (st.st_uid != geteuid() && geteuid() != 0) {
        smime_seterr(err, errlen, "keystore %s is owned by uid %lu, not by uid %lu "
               "that reads it: chown it to the user smime-milter runs as",
               path, (unsigned long)st.st_uid, (unsigned long)geteuid());
        goto fail;
    }
    if (st.st_mode & 077) {
        smime_seterr(err, errlen, "keystore %s is accessible to group or others "
               "(mode %04o) but holds private keys: chmod 600 %s", path,
               (unsigned)(st.st_mode & 07777), path);
        goto fail;
    }
    if ((g->fd = snapshot(fd, st.st_size, path, copy_dir, &g->in_file, err,
                          errlen)) < 0) {
        *transient = 1;
        goto fail;
    }
    if (cdb_init(&g->cdb, g->fd) < 0) {
        *transient = errno != EPROTO;        /* else too short */
        smime_seterr(err, errlen, *transient ? "cannot map keystore %s: %s"
                     : "keystore %s is not a CDB file", path,
                     smime_strerror(errno, eb, sizeof eb));
        goto fail;
    }
    if (gen_validate(g, path, err, errlen) < 0) {
        cdb_free(&g->cdb);
        goto fail;
    }
    close(fd);
    g->id = *id;
    g->refs = 1;
    return g;
fail:
    if (fd >= 0)
        close(fd);
    if (g->fd >= 0)
        close(g->fd);
    free(g);
    return NULL;
}

keystore_t *
keystore_open(const char *path, char *err, size_t errlen)
{
    return keystore_open_in(path, NULL, err, errlen);
}

keystore_t *
keystore_open_in(const char *path, const char *copy_dir, char *err,
                 size_t errlen)
{
    keystore_t *ks = calloc(1, sizeof(*ks));
    struct ks_ident id;
    int transient;

    if (ks == NULL || (ks->path = strdup(path)) == NULL ||
        (copy_dir && (ks->copy_dir = strdup(copy_dir)) == NULL)) {
        if (ks)
            free(ks->path);
        free(ks);
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if ((ks->gen = gen_open(path, copy_dir, &id, &transient, err,
                            errlen)) == NULL) {
        free(ks->copy_dir);
        free(ks->path);
        free(ks);
        return NULL;
    }
    pthread_mutex_init(&ks->lock, NULL);
    pthread_mutex_init(&ks->reload_lock, NULL);
    return ks;
}

void
keystore_free(keystore_t *ks)
{
    if (ks == NULL)
        return;
    gen_release(ks, ks->gen);
    pthread_mutex_destroy(&ks->lock);
    pthread_mutex_destroy(&ks->reload_lock);
    free(ks->copy_dir);
    free(ks->path);
    free(ks);
}

const char *
keystore_path(const keystore_t *ks)
{
    return ks->path;
}

int
keystore_changed(keystore_t *ks)
{
    struct stat st;
    struct ks_ident now;

    if (stat(ks->path, &st) < 0)
        memset(&now, 0, sizeof(now));
    else
        ident_of(&st, &now);
    pthread_mutex_lock(&ks->lock);
    int changed = ks->have_failed ? ks->retry || !ident_eq(&now, &ks->failed)
                                  : !ident_eq(&now, &ks->gen->id);
    pthread_mutex_unlock(&ks->lock);
    return changed;
}

int
keystore_reload(keystore_t *ks, char *err, size_t errlen)
{
    struct ks_ident id;
    struct ks_gen *g, *old = NULL;
    char why[300];
    int ret = 0, transient;

    /* Another thread reloading answers for this change: the lookups
     * meanwhile use the last good file. */
    if (pthread_mutex_trylock(&ks->reload_lock) != 0)
        return 0;
    if (keystore_changed(ks)) {
        g = gen_open(ks->path, ks->copy_dir, &id, &transient, why,
                     sizeof(why));
        pthread_mutex_lock(&ks->lock);
        if (g == NULL) {
            /* a retry that fails again the same way says nothing new */
            int again = ks->have_failed && ks->retry &&
                        ident_eq(&ks->failed, &id) &&
                        strcmp(ks->failed_err, why) == 0;
            ks->failed = id;
            ks->have_failed = 1;
            ks->retry = transient;
            memcpy(ks->failed_err, why, sizeof(why));
            ret = again ? 0 : -1;
        } else {
            old = ks->gen;
            ks->gen = g;
            ks->have_failed = 0;
            ret = 1;
        }
        pthread_mutex_unlock(&ks->lock);
    }
    pthread_mutex_unlock(&ks->reload_lock);
    if (old)
        gen_release(ks, old);
    if (ret < 0)
        smime_seterr(err, errlen, "%s", why);
    return ret;
}

static void
lru_unlink(struct ks_gen *g, keystore_entry_t *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        g->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        g->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void
lru_push(struct ks_gen *g, keystore_entry_t *e)
{
    e->lru_prev = NULL;
    e->lru_next = g->lru_head;
    if (g->lru_head)
        g->lru_head->lru_prev = e;
    else
        g->lru_tail = e;
    g->lru_head = e;
}

/* Find key in the cache of g (lock held); adds a reference and makes it
 * the most recently used. */
static keystore_entry_t *
cache_get(struct ks_gen *g, const char *key)
{
    for (keystore_entry_t *e = g->cache[bucket_of(key)]; e; e = e->next)
        if (strcmp(e->address, key) == 0) {
            atomic_fetch_add(&e->refs, 1);
            if (g->lru_head != e) {
                lru_unlink(g, e);
                lru_push(g, e);
            }
            return e;
        }
    return NULL;
}

/* Add e (its cache reference taken) to the cache of g (lock held).  When
 * the cache is full, the least recently used entry leaves it and is
 * returned: the caller drops the cache's reference after unlocking
 * (holders of other references keep it whole). */
static keystore_entry_t *
cache_add(struct ks_gen *g, const char *key, keystore_entry_t *e)
{
    keystore_entry_t *victim = NULL;
    unsigned b = bucket_of(key);

    e->next = g->cache[b];
    g->cache[b] = e;
    lru_push(g, e);
    if (++g->ncached > KS_CACHE_MAX) {
        victim = g->lru_tail;
        lru_unlink(g, victim);
        keystore_entry_t **pp = &g->cache[bucket_of(victim->address)];
        while (*pp != victim)
            pp = &(*pp)->next;
        *pp = victim->next;
        victim->next = NULL;
        g->ncached--;
    }
    return victim;
}

size_t
ks_cache_count(keystore_t *ks)
{
    pthread_mutex_lock(&ks->lock);
    size_t n = ks->gen->ncached;
    pthread_mutex_unlock(&ks->lock);
    return n;
}

int
keystore_lookup(keystore_t *ks, const char *address, keystore_entry_t **out,
                char *err, size_t errlen)
{
    char key[KS_MAX_ADDRESS + 1];
    size_t klen = keystore_key(address, key);
    keystore_entry_t *e;
    int ret = 0;

    *out = NULL;
    if (klen == 0)
        return 0;
    pthread_mutex_lock(&ks->lock);
    struct ks_gen *g = ks->gen;
    g->refs++;
    e = cache_get(g, key);
    pthread_mutex_unlock(&ks->lock);
    if (e == NULL) {
        struct cdb c = g->cdb;               /* private search state */
        int r = cdb_find(&c, key, (unsigned)klen);
        if (r < 0) {
            smime_seterr(err, errlen, "keystore %s: read error", ks->path);
            ret = -1;
        } else if (r > 0) {
            e = ks_entry_parse(key, cdb_getdata(&c), cdb_datalen(&c),
                            err, errlen);
            ret = e ? 1 : -1;
        }
        if (e) {
            keystore_entry_t *drop = NULL;
            pthread_mutex_lock(&ks->lock);
            keystore_entry_t *other = cache_get(g, key);
            if (other) {                     /* another thread was faster */
                drop = e;
                e = other;
            } else {
                atomic_fetch_add(&e->refs, 1);      /* the cache's */
                drop = cache_add(g, key, e);
            }
            pthread_mutex_unlock(&ks->lock);
            keystore_entry_free(drop);
        }
    } else {
        ret = 1;
    }
    gen_release(ks, g);
    *out = e;
    return ret;
}

/* Every record of the current generation in file order (not the format
 * marker): fn gets the address (NULL when the key is too long) and the
 * value.  Stops at fn's non-zero return and returns it; else 0, -1 on a
 * read error. */
static int
ks_walk(keystore_t *ks,
        int (*fn)(void *arg, const char *address, const unsigned char *v,
                  size_t vlen),
        void *arg)
{
    pthread_mutex_lock(&ks->lock);
    struct ks_gen *g = ks->gen;
    g->refs++;
    pthread_mutex_unlock(&ks->lock);

    struct cdb c = g->cdb;
    unsigned pos, dropped = 0;
    int r, ret = 0;
    cdb_seqinit(&pos, &c);
    while ((r = cdb_seqnext(&pos, &c)) > 0) {
        unsigned kl = cdb_keylen(&c);
        const char *k = cdb_getkey(&c);
        char addr[KS_MAX_ADDRESS + 1];
        if (k == NULL || kl == 0 || k[0] == '\0')   /* the format marker */
            continue;
        if (kl <= KS_MAX_ADDRESS) {
            memcpy(addr, k, kl);
            addr[kl] = '\0';
        }
        ret = fn(arg, kl <= KS_MAX_ADDRESS ? addr : NULL,
                 (const unsigned char *)cdb_getdata(&c), cdb_datalen(&c));
        if (ret)
            break;
        drop_behind(g, &dropped, pos, 0);
    }
    drop_behind(g, &dropped, pos, 1);
    if (r < 0)
        ret = -1;
    gen_release(ks, g);
    return ret;
}

struct each_entry {
    keystore_each_fn fn;
    void *arg;
};

static int
each_entry(void *arg, const char *address, const unsigned char *v,
           size_t vlen)
{
    struct each_entry *w = arg;
    char err[256] = "";

    if (address == NULL)
        return w->fn(w->arg, "(overlong key)", NULL, "damaged entry");
    keystore_entry_t *e = ks_entry_parse(address, v, vlen, err, sizeof(err));
    int ret = w->fn(w->arg, address, e, e ? NULL : err);
    keystore_entry_free(e);
    return ret;
}

int
keystore_foreach(keystore_t *ks, keystore_each_fn fn, void *arg)
{
    struct each_entry w = {fn, arg};

    return ks_walk(ks, each_entry, &w);
}

/* keystore_foreach_cert()'s record: the credentials read so far. */
struct each_cert {
    keystore_cert_fn fn;
    void *arg;
    keystore_cert_t creds[KS_MAX_CREDS];
    size_t n;
};

static int
cert_of(void *arg, const struct ks_cred_in *in)
{
    struct each_cert *w = arg;
    keystore_cert_t *c = &w->creds[w->n];

    c->purpose = in->purpose;
    c->on_token = in->is_url;
    c->leaf = NULL;
    if (gnutls_x509_crt_init(&c->leaf) < 0)
        return -1;
    w->n++;
    if (gnutls_x509_crt_import(c->leaf, &in->certs[0],
                               GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(c->leaf);
        c->leaf = NULL;
    }
    return 0;
}

static int
each_cert(void *arg, const char *address, const unsigned char *v,
          size_t vlen)
{
    struct each_cert *w = arg;
    int ret;

    /* every record was found sound (ks_record_check) when this
     * generation was loaded (gen_validate), and the copy cannot change */
    if (address == NULL)
        return 0;
    w->n = 0;
    ret = ks_record_walk(v, vlen, NULL, cert_of, w);
    if (ret == 0)
        ret = w->fn(w->arg, address, w->creds, w->n);
    for (size_t i = 0; i < w->n; i++)
        gnutls_x509_crt_deinit(w->creds[i].leaf);
    return ret;
}

int
keystore_foreach_cert(keystore_t *ks, keystore_cert_fn fn, void *arg)
{
    struct each_cert *w = malloc(sizeof(*w));
    int ret;

    if (w == NULL)
        return -1;
    w->fn = fn;
    w->arg = arg;
    ret = ks_walk(ks, each_cert, w);
    free(w);
    return ret;
}
