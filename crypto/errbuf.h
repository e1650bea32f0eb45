/*
 * errbuf.h - the one way crypto/ fills a caller's error buffer, and the
 * thread-safe strerror every library module uses (crypto/ and the
 * milter's worker-thread code).
 */
#ifndef SMIME_ERRBUF_H
#define SMIME_ERRBUF_H

#include <stddef.h>

/* printf into err[errlen]; does nothing when err is NULL or errlen 0. */
void smime_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The text of errno value e, like strerror() but safe in threads
 * (strerror_r): in buf, or a constant string.  Never NULL. */
const char *smime_strerror(int e, char *buf, size_t len);

#endif
