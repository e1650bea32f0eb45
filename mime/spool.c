/*
 * spool.c - write-then-read byte store: memory up to a threshold, then an
 * anonymous file.
 *
 * The file is created in the spool directory with O_TMPFILE (never
 * visible), or where the file system lacks it with mkstemp() (mode 0600)
 * and unlinked at once, so nothing is left behind even after a crash.
 * When the threshold is crossed, the memory contents are written to the
 * file and freed.  File I/O goes through a 64 KiB buffer so that many
 * small writes or reads cost few system calls; a read fills the caller's
 * buffer (large ones straight from the file), so a caller that reads in
 * fixed-size chunks, like the body replacement in 64 KB protocol
 * chunks, gets full chunks and never a one-byte remainder.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

#define SPOOL_IOBUF (64 * 1024)

struct spool {
    size_t threshold;
    char *dir;
    char *mem;                 /* memory contents (before spilling) */
    size_t mcap;
    uint64_t size;             /* bytes written */
    int fd;                    /* -1 until spilled */
    int reading;               /* spool_rewind() was called */
    uint64_t rpos;             /* memory read position */
    char *io;                  /* file write or read buffer */
    size_t iolen, iopos;
};

spool_t *spool_new(size_t threshold, const char *dir)
{
    spool_t *sp = calloc(1, sizeof(*sp));

    if (sp == NULL)
        return NULL;
    sp->threshold = threshold;
    sp->fd = -1;
    if ((sp->dir = strdup(dir ? dir : SPOOL_DEFAULT_DIR)) == NULL) {
        free(sp);
        return NULL;
    }
    return sp;
}

void spool_free(spool_t *sp)
{
    if (sp == NULL)
        return;
    spool_reset(sp);
    free(sp->mem);
    free(sp->io);
    free(sp->dir);
    free(sp);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static int open_tmpfile(const char *dir)
{
    int fd;
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
#endif
    char *path;
    if (asprintf(&path, "%s/smime-spool.XXXXXX", dir) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if ((fd = mkostemp(path, O_CLOEXEC)) >= 0) {
        unlink(path);
        (void)fchmod(fd, 0600);
    }
    free(path);
    return fd;
}

/* Move the memory contents to a new file. */
static int spill(spool_t *sp)
{
    int fd = open_tmpfile(sp->dir);

    if (fd < 0)
        return -1;
    if ((sp->io == NULL && (sp->io = malloc(SPOOL_IOBUF)) == NULL) ||
        write_all(fd, sp->mem, (size_t)sp->size) != 0) {
        int e = sp->io ? errno : ENOMEM;
        close(fd);
        errno = e;
        return -1;
    }
    sp->fd = fd;
    sp->iolen = 0;
    free(sp->mem);
    sp->mem = NULL;
    sp->mcap = 0;
    return 0;
}

static int io_flush(spool_t *sp)
{
    if (sp->iolen > 0 && write_all(sp->fd, sp->io, sp->iolen) != 0)
        return -1;
    sp->iolen = 0;
    return 0;
}

int spool_write(spool_t *sp, const void *buf, size_t len)
{
    if (sp->reading) {
        errno = EINVAL;
        return -1;
    }
    if (len == 0)
        return 0;
    if (sp->fd < 0 && sp->size + len <= sp->threshold) {
        if (sp->size + len > sp->mcap) {
            size_t cap = sp->mcap ? sp->mcap : 4096;
            while (cap < sp->size + len)
                cap *= 2;
            if (cap > sp->threshold)
                cap = sp->threshold;
            char *m = realloc(sp->mem, cap);
            if (m == NULL) {
                errno = ENOMEM;
                return -1;
            }
            sp->mem = m;
            sp->mcap = cap;
        }
        memcpy(sp->mem + sp->size, buf, len);
        sp->size += len;
        return 0;
    }
    if (sp->fd < 0 && spill(sp) != 0)
        return -1;
    if (sp->iolen + len > SPOOL_IOBUF && io_flush(sp) != 0)
        return -1;
    if (len >= SPOOL_IOBUF) {
        if (write_all(sp->fd, buf, len) != 0)
            return -1;
    } else {
        memcpy(sp->io + sp->iolen, buf, len);
        sp->iolen += len;
    }
    sp->size += len;
    return 0;
}

uint64_t spool_size(const spool_t *sp)
{
    return sp->size;
}

int spool_spilled(const spool_t *sp)
{
    return sp->fd >= 0;
}

int spool_rewind(spool_t *sp)
{
    if (sp->fd >= 0) {
        if (!sp->reading && io_flush(sp) != 0)
            return -1;
        if (lseek(sp->fd, 0, SEEK_SET) < 0)
            return -1;
        sp->iolen = sp->iopos = 0;
    }
    sp->reading = 1;
    sp->rpos = 0;
    return 0;
}

ssize_t spool_read(spool_t *sp, void *buf, size_t len)
{
    char *out = buf;
    size_t got = 0;

    if (!sp->reading) {
        errno = EINVAL;
        return -1;
    }
    if (sp->fd < 0) {
        uint64_t left = sp->size - sp->rpos;
        size_t n = len < left ? len : (size_t)left;
        if (n > 0)
            memcpy(buf, sp->mem + sp->rpos, n);
        sp->rpos += n;
        return (ssize_t)n;
    }
    /* fill buf: what the buffer holds, then large reads straight into
     * buf, small ones through the buffer; short only at the end */
    while (got < len) {
        size_t want = len - got;
        ssize_t r;
        if (sp->iopos < sp->iolen) {
            size_t n = sp->iolen - sp->iopos < want ? sp->iolen - sp->iopos
                                                    : want;
            memcpy(out + got, sp->io + sp->iopos, n);
            sp->iopos += n;
            got += n;
            continue;
        }
        int direct = want >= SPOOL_IOBUF / 2;
        r = read(sp->fd, direct ? out + got : sp->io,
                 direct ? want : SPOOL_IOBUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (direct) {
            got += (size_t)r;
        } else {
            sp->iolen = (size_t)r;
            sp->iopos = 0;
        }
    }
    return (ssize_t)got;
}

void spool_reset(spool_t *sp)
{
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    sp->size = 0;
    sp->reading = 0;
    sp->rpos = 0;
    sp->iolen = sp->iopos = 0;
}
