/*
 * errbuf.h - the one way crypto/ fills a caller's error buffer.
 */
#ifndef SMIME_ERRBUF_H
#define SMIME_ERRBUF_H

#include <stddef.h>

/* printf into err[errlen]; does nothing when err is NULL or errlen 0. */
void smime_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
