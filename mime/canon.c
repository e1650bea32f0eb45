/*
 * canon.c - 7-bit canonicaliser for signing (see canon.h).  Placeholder
 * until the implementation lands: every call fails with ENOSYS.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "canon.h"

mime_canon_t *mime_canon_new(const struct mime_limits *lim,
                             size_t spool_threshold, const char *spool_dir,
                             mime_out_fn out, void *arg)
{
    errno = ENOSYS;
    return NULL;
}

int mime_canon_feed(mime_canon_t *c, const char *buf, size_t len)
{
    errno = ENOSYS;
    return -1;
}

int mime_canon_finish(mime_canon_t *c)
{
    errno = ENOSYS;
    return -1;
}

unsigned mime_canon_errors(const mime_canon_t *c)
{
    return 0;
}

void mime_canon_free(mime_canon_t *c)
{
}
