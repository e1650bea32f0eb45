/*
 * spool.h - a byte buffer that stays in memory up to a threshold and
 * spills to an unlinked, mode 0600 temporary file beyond it.
 *
 * Used to hold a message body (or a part of one) in O(threshold) memory.
 * Write everything first, then spool_rewind() and read it back; writing
 * after reading has started is an error (EINVAL).
 */
#ifndef SMIME_SPOOL_H
#define SMIME_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct spool spool_t;

/* Where spill files go when the caller names no directory; also the
 * default of SpoolDirectory (milter/conf.c). */
#define SPOOL_DEFAULT_DIR "/var/tmp"

/* NULL on ENOMEM. dir is copied (NULL: SPOOL_DEFAULT_DIR); the file is
 * created only when needed. */
spool_t *spool_new(size_t threshold, const char *dir);
void spool_free(spool_t *sp);                 /* accepts NULL */

/* 0, or -1 with errno set (ENOSPC, EACCES, EIO, ...). */
int spool_write(spool_t *sp, const void *buf, size_t len);
uint64_t spool_size(const spool_t *sp);
int spool_spilled(const spool_t *sp);         /* 1 if a file is in use */

int spool_rewind(spool_t *sp);                /* 0 or -1/errno */
/* Bytes read, len unless the end came first (0 at the end), or -1 with
 * errno. */
ssize_t spool_read(spool_t *sp, void *buf, size_t len);
/* Drop the contents, keep the object for reuse (next message). */
void spool_reset(spool_t *sp);

#endif
