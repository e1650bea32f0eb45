/*
 * periodic.c - what the daemon's main thread does besides handling
 * signals: the counters written to StatsFile (every StatsInterval, and
 * with the log line of a SIGUSR1 or a stop) and the walk over the
 * keystore (keystore_expiry.c: at start, after a reload, once a day),
 * which answers a SIGUSR1 between two addresses.
 * The main thread's poll on the signal pipe times out when the next job
 * is due; each job's interval comes from the current snapshot (0: off),
 * so a reload changes it.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "conf.h"
#include "keystore_expiry.h"
#include "log.h"
#include "periodic.h"
#include "stats.h"

/* StatsFile write; a failure of a periodic (quiet) write is logged only
 * when the write before it succeeded, not once a minute. */
static void write_stats_file(const config_t *c, int quiet)
{
    static int failed;
    char err[1200], q[1200];

    if (c == NULL || c->stats_file == NULL)
        return;
    if (stats_write_file(c->stats_file, err, sizeof err) == 0) {
        failed = 0;
        return;
    }
    if (!quiet || !failed)
        log_info(LOG_ERR, "event=stats status=failed path=%s error=\"%s\"",
                 c->stats_file, log_quote(q, sizeof q, err));
    failed = 1;
}

void periodic_write_stats(int to_log)
{
    config_t *c = config_current_get();
    char line[4096];

    if (to_log && stats_format(line, sizeof line, " ") > 0)
        log_info(LOG_NOTICE, "event=stats %s", line);
    write_stats_file(c, !to_log);
    config_unref(c);
}

/* ---- the jobs ---- */

/* Seconds in a "day" for the expiry lines: 86400, or the hidden
 * SMIME_MILTER_TEST_DAY (HACKING.md) so that a test sees the daily line
 * without waiting a day. */
static time_t expiry_day = 86400;

/* The daemon's TERM flag (periodic_start), and the walk's own: a TERM,
 * INT or HUP stops the walk so that the main thread handles it now. */
static const volatile sig_atomic_t *stop_requested;
static volatile sig_atomic_t walk_interrupt;

/* A SIGUSR1 not answered yet: the walk answers it between two
 * addresses, the signal pipe's 'u' otherwise (periodic_stats_take). */
static volatile sig_atomic_t stats_asked;

/* Hidden test knob (HACKING.md): milliseconds the walk pauses after each
 * address, so that a test can signal a daemon in the middle of a walk. */
static long walk_pause_ms;

static time_t stats_interval(const config_t *c)
{
    if (c->stats_file == NULL || c->stats_interval == 0)
        return 0;
    return c->stats_interval > 86400 * 366 ? 86400 * 366
                                           : (time_t)c->stats_interval;
}

static time_t expiry_interval(const config_t *c)
{
    return c->keystore ? expiry_day : 0;
}

static int stats_job(void)
{
    periodic_write_stats(0);
    return 0;
}

/* Between two addresses of the walk: statistics asked for meanwhile
 * are written now (the walk over a million addresses takes half a
 * minute); 1 when a signal wants the walk stopped. */
static int walk_between(void *arg)
{
    (void)arg;
    if (walk_pause_ms > 0) {
        struct timespec ts = {walk_pause_ms / 1000,
                              walk_pause_ms % 1000 * 1000000};
        nanosleep(&ts, NULL);             /* a signal cuts it short */
    }
    if (periodic_stats_take())
        periodic_write_stats(1);
    return walk_interrupt != 0;
}

/* The walk, cut short by a signal, runs again as soon as that signal
 * has been handled (returns 1: due now).  A HUP that came just before
 * walk_interrupt is cleared is still in the pipe; it waits for the
 * walk, as every signal used to. */
static int expiry_job(void)
{
    config_t *c = config_current_get();

    walk_interrupt = *stop_requested;
    keystore_expiry_log(c, time(NULL), walk_between, NULL);
    config_unref(c);
    return walk_interrupt != 0;
}

static struct periodic {
    time_t (*interval)(const config_t *c);   /* seconds, 0: off */
    int (*run)(void);    /* 1: run again as soon as possible */
    time_t due;          /* a CLOCK_MONOTONIC second, 0: not scheduled */
} periodic[] = {
    {stats_interval, stats_job, 0},
    {expiry_interval, expiry_job, 0},
};
#define NPERIODIC (sizeof periodic / sizeof periodic[0])
#define PERIODIC_EXPIRY (&periodic[1])

/* ---- scheduling ---- */

/* A job's due time is set from its interval when unset or further away
 * than a whole interval (a reload shortened it). */
int periodic_timeout(void)
{
    config_t *c = config_current_get();
    struct timespec now;
    int64_t ms = -1;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (size_t i = 0; i < NPERIODIC; i++) {
        struct periodic *p = &periodic[i];
        time_t iv = c ? p->interval(c) : 0;
        if (iv == 0) {
            p->due = 0;
            continue;
        }
        if (p->due == 0 || p->due > now.tv_sec + iv)
            p->due = now.tv_sec + iv;
        int64_t t = ((int64_t)(p->due - now.tv_sec)) * 1000 -
                    now.tv_nsec / 1000000;
        t = t < 0 ? 0 : t > 3600000 ? 3600000 : t;
        if (ms < 0 || t < ms)
            ms = t;
    }
    config_unref(c);
    return (int)ms;
}

void periodic_tick(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (size_t i = 0; i < NPERIODIC; i++)
        if (periodic[i].due != 0 && now.tv_sec >= periodic[i].due)
            periodic[i].due = periodic[i].run() ? now.tv_sec : 0;
}

/* The keystore walk now, the next in a day. */
void periodic_reloaded(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    PERIODIC_EXPIRY->due = PERIODIC_EXPIRY->run() ? now.tv_sec : 0;
}

void periodic_start(const volatile sig_atomic_t *stop)
{
    const char *test_day = getenv("SMIME_MILTER_TEST_DAY");
    const char *pause = getenv("SMIME_MILTER_TEST_WALK_PAUSE");

    stop_requested = stop;
    if (test_day && atol(test_day) > 0)
        expiry_day = (time_t)atol(test_day);
    if (pause && atol(pause) > 0)
        walk_pause_ms = atol(pause);
    periodic_reloaded();
}

void periodic_interrupt(void)
{
    walk_interrupt = 1;
}

void periodic_stats_asked(void)
{
    stats_asked = 1;
}

/* Cleared only when it was set: a USR1 between the test and a clear
 * would otherwise be lost (its 'u' would find nothing asked). */
int periodic_stats_take(void)
{
    if (!stats_asked)
        return 0;
    stats_asked = 0;
    return 1;
}
