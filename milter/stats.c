/*
 * stats.c - message counters for SIGUSR1 (see stats.h).
 *
 * Each counter is a 64-bit integer bumped with a relaxed atomic add: no
 * lock, and a snapshot read while threads count is exact per counter
 * (counters may be one message apart from each other, never torn).
 * Messages are counted from their outcome (session.h), the record their
 * log line is made from, so the numbers agree with what the log says
 * about each message.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "session.h"
#include "stats.h"

static uint64_t counters[STATS_N];
static struct timespec started;

static const char *const names[STATS_N] = {
    [STATS_MESSAGES] = "messages",
    [STATS_INBOUND] = "inbound",
    [STATS_OUTBOUND] = "outbound",
    [STATS_IGNORED] = "ignored",
    [STATS_ABORTED] = "aborted",
    [STATS_RESULT_NONE] = "result_none",
    [STATS_RESULT_PASS] = "result_pass",
    [STATS_RESULT_FAIL] = "result_fail",
    [STATS_RESULT_POLICY] = "result_policy",
    [STATS_RESULT_NEUTRAL] = "result_neutral",
    [STATS_RESULT_TEMPERROR] = "result_temperror",
    [STATS_RESULT_PERMERROR] = "result_permerror",
    [STATS_UNVERIFIED_TOO_LARGE] = "unverified_too_large",
    [STATS_SIGNED] = "signed",
    [STATS_UNSIGNED_NO_KEYSTORE] = "unsigned_no_keystore",
    [STATS_UNSIGNED_NO_ENTRY] = "unsigned_no_entry",
    [STATS_UNSIGNED_LOGIN] = "unsigned_login_not_allowed",
    [STATS_UNSIGNED_ALREADY_SIGNED] = "unsigned_already_signed",
    [STATS_UNSIGNED_DKIM] = "unsigned_dkim_present",
    [STATS_UNSIGNED_TOO_LARGE] = "unsigned_too_large",
    [STATS_UNSIGNED_FROM] = "unsigned_bad_from",
    [STATS_UNSIGNED_CERTIFICATE] = "unsigned_certificate_unusable",
    [STATS_UNSIGNED_OTHER] = "unsigned_other",
    [STATS_ERRORS] = "errors",
    [STATS_TEMPFAILS] = "tempfails",
};

const char *stats_name(enum stats_counter c)
{
    return (unsigned)c < STATS_N ? names[c] : "unknown";
}

void stats_add(enum stats_counter c)
{
    if ((unsigned)c < STATS_N)
        __atomic_add_fetch(&counters[c], 1, __ATOMIC_RELAXED);
}

uint64_t stats_get(enum stats_counter c)
{
    return (unsigned)c < STATS_N
               ? __atomic_load_n(&counters[c], __ATOMIC_RELAXED) : 0;
}

void stats_reset(void)
{
    for (size_t i = 0; i < STATS_N; i++)
        __atomic_store_n(&counters[i], 0, __ATOMIC_RELAXED);
    clock_gettime(CLOCK_MONOTONIC, &started);
}

/* ---- counting from the outcome ---- */

static enum stats_counter unsigned_counter(enum outbound_unsigned kind)
{
    switch (kind) {
    case OUTBOUND_UNSIGNED_NO_KEYSTORE: return STATS_UNSIGNED_NO_KEYSTORE;
    case OUTBOUND_UNSIGNED_NO_ENTRY:    return STATS_UNSIGNED_NO_ENTRY;
    case OUTBOUND_UNSIGNED_LOGIN:       return STATS_UNSIGNED_LOGIN;
    case OUTBOUND_UNSIGNED_PROTECTED:   return STATS_UNSIGNED_ALREADY_SIGNED;
    case OUTBOUND_UNSIGNED_DKIM:        return STATS_UNSIGNED_DKIM;
    case OUTBOUND_UNSIGNED_TOO_LARGE:   return STATS_UNSIGNED_TOO_LARGE;
    case OUTBOUND_UNSIGNED_FROM:        return STATS_UNSIGNED_FROM;
    case OUTBOUND_UNSIGNED_CERTIFICATE: return STATS_UNSIGNED_CERTIFICATE;
    case OUTBOUND_UNSIGNED_OTHER:       break;
    }
    return STATS_UNSIGNED_OTHER;
}

_Static_assert(STATS_RESULT_PERMERROR - STATS_RESULT_NONE ==
                   (int)SMIME_RESULT_PERMERROR - (int)SMIME_RESULT_NONE,
               "result counters follow smime_result_t");

static void count_inbound(const struct session_outcome *o)
{
    if (o->result == SMIME_RESULT_NONE && o->unverified_too_large)
        stats_add(STATS_UNVERIFIED_TOO_LARGE);
    else if ((unsigned)o->result <= SMIME_RESULT_PERMERROR)
        stats_add(STATS_RESULT_NONE + (enum stats_counter)o->result);
}

void stats_count(const struct session_outcome *o)
{
    if (o == NULL || o->dir == SESSION_DIR_NONE)
        return;
    if (o->dir == SESSION_DIR_ABORTED) {
        stats_add(STATS_ABORTED);
        return;
    }
    stats_add(STATS_MESSAGES);
    stats_add(o->dir == SESSION_DIR_IN    ? STATS_INBOUND
              : o->dir == SESSION_DIR_OUT ? STATS_OUTBOUND
                                          : STATS_IGNORED);
    if (o->error || o->tempfail)
        stats_add(STATS_ERRORS);
    if (o->tempfail) {
        stats_add(STATS_TEMPFAILS);
        return;
    }
    if (o->dir == SESSION_DIR_IN)
        count_inbound(o);
    else if (o->dir == SESSION_DIR_OUT && o->signed_ok)
        stats_add(STATS_SIGNED);
    else if (o->dir == SESSION_DIR_OUT && !o->error)
        stats_add(unsigned_counter(o->unsigned_kind));
}

/* ---- output ---- */

int stats_format(char *buf, size_t len, const char *sep)
{
    struct timespec now;
    long long up;
    size_t n;
    int r;

    clock_gettime(CLOCK_MONOTONIC, &now);
    up = (long long)(now.tv_sec - started.tv_sec);
    if (started.tv_sec == 0 && started.tv_nsec == 0)
        up = 0;
    r = snprintf(buf, len, "uptime=%lld%stime=%lld", up, sep,
                 (long long)time(NULL));
    if (r < 0)
        return r;
    n = (size_t)r;
    for (size_t i = 0; i < STATS_N; i++) {
        r = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
                     "%s%s=%llu", sep, names[i],
                     (unsigned long long)stats_get((enum stats_counter)i));
        if (r < 0)
            return r;
        n += (size_t)r;
    }
    return (int)n;
}

int stats_write_file(const char *path, char *err, size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    char text[4096], tmp[4096];
    int len = stats_format(text, sizeof text - 1, "\n");
    int fd;

    if (len < 0 || (size_t)len >= sizeof text - 1) {
        snprintf(err, errlen, "snapshot too long");
        return -1;
    }
    text[len++] = '\n';
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: name too long", path);
        return -1;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp,
                 smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    errno = 0;
    if (fchmod(fd, 0644) != 0 || write(fd, text, (size_t)len) != len ||
        fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp,
                 errno ? smime_strerror(errno, eb, sizeof eb) : "short write");
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path,
                 smime_strerror(errno, eb, sizeof eb));
        unlink(tmp);
        return -1;
    }
    return 0;
}
