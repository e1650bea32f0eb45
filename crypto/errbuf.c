/*
 * errbuf.c - fill a caller-supplied error buffer; strerror for threads
 * (see errbuf.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"

void smime_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *smime_strerror(int e, char *buf, size_t len)
{
#ifdef STRERROR_R_CHAR_P
    return strerror_r(e, buf, len);          /* GNU: maybe not buf */
#else
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
#endif
}
