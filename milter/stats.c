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
#include <limits.h>
#include <stdarg.h>
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
static time_t started_wall;        /* Unix time of stats_reset */

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
    [STATS_DECRYPTED] = "decrypted",
    [STATS_NOT_DECRYPTED_NO_KEY] = "not_decrypted_no_key",
    [STATS_NOT_DECRYPTED_FAILED] = "not_decrypted_failed",
    [STATS_ENCRYPTED] = "encrypted",
    [STATS_NOT_ENCRYPTED] = "not_encrypted",
    [STATS_ERRORS] = "errors",
    [STATS_TEMPFAILS] = "tempfails",
    [STATS_HARVESTED] = "harvested",
    [STATS_HARVEST_KEPT] = "harvest_kept",
    [STATS_HARVEST_FAILED] = "harvest_failed",
    [STATS_RCPT_REJECTED] = "rcpt_rejected",
    [STATS_RCPT_TEMPFAILED] = "rcpt_tempfailed",
    [STATS_RCPT_DEFERRED] = "rcpt_deferred",
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
    started_wall = time(NULL);
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
    if (o->decrypted > 0)
        stats_add(STATS_DECRYPTED);
    else if (o->decrypted < 0)
        stats_add(o->decrypt_no_key ? STATS_NOT_DECRYPTED_NO_KEY
                                    : STATS_NOT_DECRYPTED_FAILED);
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
    if (o->harvest == HARVEST_STORED)
        stats_add(STATS_HARVESTED);
    else if (o->harvest == HARVEST_KEPT)
        stats_add(STATS_HARVEST_KEPT);
    else if (o->harvest == HARVEST_FAILED)
        stats_add(STATS_HARVEST_FAILED);
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
    if (o->dir == SESSION_DIR_OUT && o->encrypt_tried && !o->error)
        stats_add(o->encrypted_ok ? STATS_ENCRYPTED : STATS_NOT_ENCRYPTED);
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

/* ---- Prometheus text exposition format ---- */

/* Every counter but "messages" (the sum of the direction labels), as
 * samples of a few families.  A row with help starts a family; the rows
 * after it without help belong to it. */
static const struct {
    const char *family;
    const char *help;
    enum stats_counter c;
    const char *labels;
} prom_rows[] = {
    {"smime_milter_messages_total", "Messages that reached the end of "
     "data, by direction (ignored: not handled by Mode).",
     STATS_INBOUND, "direction=\"inbound\""},
    {NULL, NULL, STATS_OUTBOUND, "direction=\"outbound\""},
    {NULL, NULL, STATS_IGNORED, "direction=\"ignored\""},
    {"smime_milter_aborted_total", "Messages the MTA aborted before "
     "their end.", STATS_ABORTED, NULL},
    {"smime_milter_results_total", "Messages by direction and result: "
     "inbound the first S/MIME result, outbound signed or why not.",
     STATS_RESULT_NONE, "direction=\"inbound\",result=\"none\""},
    {NULL, NULL, STATS_RESULT_PASS,
     "direction=\"inbound\",result=\"pass\""},
    {NULL, NULL, STATS_RESULT_FAIL,
     "direction=\"inbound\",result=\"fail\""},
    {NULL, NULL, STATS_RESULT_POLICY,
     "direction=\"inbound\",result=\"policy\""},
    {NULL, NULL, STATS_RESULT_NEUTRAL,
     "direction=\"inbound\",result=\"neutral\""},
    {NULL, NULL, STATS_RESULT_TEMPERROR,
     "direction=\"inbound\",result=\"temperror\""},
    {NULL, NULL, STATS_RESULT_PERMERROR,
     "direction=\"inbound\",result=\"permerror\""},
    {NULL, NULL, STATS_UNVERIFIED_TOO_LARGE,
     "direction=\"inbound\",result=\"unverified_too_large\""},
    {NULL, NULL, STATS_SIGNED,
     "direction=\"outbound\",result=\"signed\""},
    {NULL, NULL, STATS_UNSIGNED_NO_KEYSTORE,
     "direction=\"outbound\",result=\"unsigned_no_keystore\""},
    {NULL, NULL, STATS_UNSIGNED_NO_ENTRY,
     "direction=\"outbound\",result=\"unsigned_no_entry\""},
    {NULL, NULL, STATS_UNSIGNED_LOGIN,
     "direction=\"outbound\",result=\"unsigned_login_not_allowed\""},
    {NULL, NULL, STATS_UNSIGNED_ALREADY_SIGNED,
     "direction=\"outbound\",result=\"unsigned_already_signed\""},
    {NULL, NULL, STATS_UNSIGNED_DKIM,
     "direction=\"outbound\",result=\"unsigned_dkim_present\""},
    {NULL, NULL, STATS_UNSIGNED_TOO_LARGE,
     "direction=\"outbound\",result=\"unsigned_too_large\""},
    {NULL, NULL, STATS_UNSIGNED_FROM,
     "direction=\"outbound\",result=\"unsigned_bad_from\""},
    {NULL, NULL, STATS_UNSIGNED_CERTIFICATE,
     "direction=\"outbound\",result=\"unsigned_certificate_unusable\""},
    {NULL, NULL, STATS_UNSIGNED_OTHER,
     "direction=\"outbound\",result=\"unsigned_other\""},
    {"smime_milter_decrypted_total", "Inbound enveloped messages "
     "decrypted (Mode d).", STATS_DECRYPTED, NULL},
    {"smime_milter_not_decrypted_no_key_total", "Inbound enveloped "
     "messages left encrypted: an envelope recipient has no key for them.",
     STATS_NOT_DECRYPTED_NO_KEY, NULL},
    {"smime_milter_not_decrypted_failed_total", "Inbound enveloped "
     "messages left encrypted: unsupported, damaged, wrong key or failed "
     "tag.", STATS_NOT_DECRYPTED_FAILED, NULL},
    {"smime_milter_encrypted_total", "Outbound messages encrypted "
     "(Mode e).", STATS_ENCRYPTED, NULL},
    {"smime_milter_not_encrypted_total", "Outbound messages left "
     "unencrypted under Mode e (the log line says why).",
     STATS_NOT_ENCRYPTED, NULL},
    {"smime_milter_errors_total", "Messages with an internal error "
     "(also those accepted under OnError accept).", STATS_ERRORS, NULL},
    {"smime_milter_tempfails_total", "Messages answered with a 4xx "
     "(tempfail).", STATS_TEMPFAILS, NULL},
    {"smime_milter_harvested_total", "Inbound signer certificates stored "
     "in the CertificateStore (Harvest).", STATS_HARVESTED, NULL},
    {"smime_milter_harvest_kept_total", "Harvest candidates the store "
     "did not take (an imported or newer certificate).",
     STATS_HARVEST_KEPT, NULL},
    {"smime_milter_harvest_failed_total", "Harvest candidates lost to a "
     "store that could not be opened or written.", STATS_HARVEST_FAILED,
     NULL},
    {"smime_milter_rcpt_rejected_total", "Recipients refused with 550 "
     "5.7.1: encryption required, no usable certificate.",
     STATS_RCPT_REJECTED, NULL},
    {"smime_milter_rcpt_tempfailed_total", "Recipients answered 451 "
     "4.7.1: the certificate lookup failed for a transient reason.",
     STATS_RCPT_TEMPFAILED, NULL},
    {"smime_milter_rcpt_deferred_total", "Recipients answered 452 4.5.3 "
     "to go in another transaction (mixed recipients, EncryptSplit).",
     STATS_RCPT_DEFERRED, NULL},
};

_Static_assert(sizeof prom_rows / sizeof prom_rows[0] == STATS_N - 1,
               "every counter but messages has a Prometheus sample");

/* snprintf at offset *n of buf, keeping the needed length in *n. */
static int append(char *buf, size_t len, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(*n < len ? buf + *n : NULL, *n < len ? len - *n : 0, fmt,
                  ap);
    va_end(ap);
    if (r < 0)
        return -1;
    *n += (size_t)r;
    return 0;
}

int stats_format_prom(char *buf, size_t len)
{
    const char *family = NULL;
    size_t n = 0;

    if (len > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof prom_rows / sizeof prom_rows[0]; i++) {
        if (prom_rows[i].help) {
            family = prom_rows[i].family;
            if (append(buf, len, &n, "# HELP %s %s\n# TYPE %s counter\n",
                       family, prom_rows[i].help, family) != 0)
                return -1;
        }
        if (append(buf, len, &n, "%s%s%s%s %llu\n", family,
                   prom_rows[i].labels ? "{" : "",
                   prom_rows[i].labels ? prom_rows[i].labels : "",
                   prom_rows[i].labels ? "}" : "",
                   (unsigned long long)stats_get(prom_rows[i].c)) != 0)
            return -1;
    }
    if (append(buf, len, &n, "# HELP smime_milter_start_time_seconds When "
               "the daemon started, in Unix time.\n"
               "# TYPE smime_milter_start_time_seconds gauge\n"
               "smime_milter_start_time_seconds %lld\n",
               (long long)started_wall) != 0)
        return -1;
    return n > INT_MAX ? -1 : (int)n;
}

int stats_file_is_prom(const char *path)
{
    size_t n = strlen(path);

    return n > 5 && strcmp(path + n - 5, ".prom") == 0;
}

/* text to path atomically: a temporary file in the same directory
 * (mkstemp, 0644, fsync), renamed over path. */
static int write_atomic(const char *path, const char *text, size_t len,
                        char *err, size_t errlen)
{
    char eb[128];               /* smime_strerror() text */
    char tmp[4096];
    int fd;

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
    if (fchmod(fd, 0644) != 0 || write(fd, text, len) != (ssize_t)len ||
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

int stats_write_file(const char *path, char *err, size_t errlen)
{
    char text[16384];
    int len;

    if (stats_file_is_prom(path)) {
        len = stats_format_prom(text, sizeof text);
    } else {
        len = stats_format(text, sizeof text - 1, "\n");
        if (len >= 0 && (size_t)len < sizeof text - 1)
            text[len++] = '\n';
    }
    if (len < 0 || (size_t)len >= sizeof text - 1) {
        snprintf(err, errlen, "snapshot too long");
        return -1;
    }
    return write_atomic(path, text, (size_t)len, err, errlen);
}
