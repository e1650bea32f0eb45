/*
 * tool_lib.c - what the test drivers of crypto/ share (tool_lib.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tool_lib.h"

unsigned char *
tool_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            unsigned char *p = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (p == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

int
tool_sign(const smime_signer_t *signer, const unsigned char *msg,
          size_t mlen, size_t chunk, time_t when, unsigned char **der,
          size_t *dlen, char *why, size_t whylen)
{
    smime_sign_t *s = smime_sign_new(signer);
    int r = -1;

    if (s == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (when != (time_t)-1)
        smime_sign_set_time(s, when);
    if (chunk == 0)
        chunk = mlen ? mlen : 1;
    for (size_t off = 0; off < mlen; off += chunk)
        if (smime_sign_update(s, msg + off,
                              mlen - off < chunk ? mlen - off : chunk) < 0)
            goto done;
    if (smime_sign_finish(s, der, dlen) == 0)
        r = 0;
done:
    if (r < 0)
        snprintf(why, whylen, "%s", smime_sign_error(s));
    smime_sign_free(s);
    return r;
}

int
tool_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return -1;
    if (fwrite(p, 1, n, f) != n) {
        int e = errno;
        fclose(f);
        errno = e;
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}
