/*
 * stats.c - message counters for SIGUSR1 (see stats.h).
 *
 * Each counter is a 64-bit integer bumped with a relaxed atomic add: no
 * lock, and a snapshot read while threads count is exact per counter
 * (counters may be one message apart from each other, never torn).
 * Messages are counted from their summary line, so the numbers always
 * agree with what the log says about each message.
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

/* ---- counting from the summary line ---- */

/* The value of key in a line of key=value items (values with spaces are
 * double-quoted, without quotes inside).  A bare word counts as a key with
 * an empty value.  1 found (value copied, truncated), 0 not. */
static int summary_get(const char *s, const char *key, char *out,
                       size_t len)
{
    size_t klen = strlen(key);

    while (*s) {
        const char *k, *v;
        size_t kn, vn;

        s += strspn(s, " ");
        k = s;
        kn = strcspn(s, " =");
        s += kn;
        v = s;
        vn = 0;
        if (*s == '=') {
            v = ++s;
            if (*s == '"') {
                v = ++s;
                vn = strcspn(s, "\"");
                s += vn + (s[vn] == '"');
            } else {
                vn = strcspn(s, " ");
                s += vn;
            }
        }
        if (kn == klen && kn && memcmp(k, key, kn) == 0) {
            if (len) {
                size_t n = vn < len - 1 ? vn : len - 1;
                memcpy(out, v, n);
                out[n] = '\0';
            }
            return 1;
        }
    }
    return 0;
}

/* Why outbound mail was not signed, from outbound.c's reasons. */
static enum stats_counter unsigned_kind(const char *why)
{
    static const struct {
        const char *prefix;
        enum stats_counter c;
    } kinds[] = {
        {"no Keystore configured", STATS_UNSIGNED_NO_KEYSTORE},
        {"no keystore entry", STATS_UNSIGNED_NO_ENTRY},
        {"login ", STATS_UNSIGNED_LOGIN},
        {"already ", STATS_UNSIGNED_ALREADY_SIGNED},
        {"DKIM-Signature", STATS_UNSIGNED_DKIM},
        {"message too large", STATS_UNSIGNED_TOO_LARGE},
        {"header block too large", STATS_UNSIGNED_TOO_LARGE},
        {"no From", STATS_UNSIGNED_FROM},
        {"several From", STATS_UNSIGNED_FROM},
        {"no address in From", STATS_UNSIGNED_FROM},
        {"From address", STATS_UNSIGNED_FROM},
        {"certificate of", STATS_UNSIGNED_CERTIFICATE},
    };

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(why, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
            return kinds[i].c;
    return STATS_UNSIGNED_OTHER;
}

static void count_inbound(const char *result)
{
    static const char *const results[] = {
        "none", "pass", "fail", "policy", "neutral", "temperror",
        "permerror"};

    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
        if (strcmp(result, results[i]) == 0) {
            stats_add(STATS_RESULT_NONE + (enum stats_counter)i);
            return;
        }
    if (strcmp(result, "skipped") == 0)
        stats_add(STATS_UNVERIFIED_TOO_LARGE);
}

void stats_count_summary(const char *summary, int tempfailed)
{
    char dir[8], result[32], why[256];
    int error;

    if (summary == NULL || !*summary)
        return;
    if (summary_get(summary, "aborted", NULL, 0)) {
        stats_add(STATS_ABORTED);
        return;
    }
    if (!summary_get(summary, "dir", dir, sizeof dir) ||
        !summary_get(summary, "result", result, sizeof result))
        return;
    stats_add(STATS_MESSAGES);
    if (strcmp(result, "ignored") == 0) {
        stats_add(STATS_IGNORED);
        return;
    }
    stats_add(strcmp(dir, "out") == 0 ? STATS_OUTBOUND : STATS_INBOUND);
    if (tempfailed || strcmp(result, "tempfail") == 0) {
        stats_add(STATS_ERRORS);
        stats_add(STATS_TEMPFAILS);
        return;
    }
    error = summary_get(summary, "error", NULL, 0);
    if (error)
        stats_add(STATS_ERRORS);
    if (strcmp(dir, "out") != 0)
        count_inbound(result);
    else if (strcmp(result, "signed") == 0)
        stats_add(STATS_SIGNED);
    else if (!error) {
        if (!summary_get(summary, "reason", why, sizeof why))
            why[0] = '\0';
        stats_add(unsigned_kind(why));
    }
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
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    errno = 0;
    if (fchmod(fd, 0644) != 0 || write(fd, text, (size_t)len) != len ||
        fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp,
                 errno ? strerror(errno) : "short write");
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
