/*
 * strdup_fail.c - an LD_PRELOAD shim for tests/login_oom.sh: strdup()
 * of the one string named by $STRDUP_FAIL fails with ENOMEM, as if
 * memory ran out just then; every other call is the C library's.  Lets
 * a test reach the daemon's out-of-memory paths for a value that only
 * the MTA sends (a SASL login), without failing anything else.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *strdup(const char *s)
{
    static char *(*real)(const char *);
    const char *fail = getenv("STRDUP_FAIL");

    if (fail && *fail && strcmp(s, fail) == 0) {
        errno = ENOMEM;
        return NULL;
    }
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "strdup");
    return real(s);
}
