/*
 * stats.h - the daemon's message counters: how many messages it saw, in
 * which direction, with which result, how many it signed, why it did not
 * sign the others, and how many ended in an internal error or tempfail.
 *
 * Counters are process-wide, lock-free (relaxed atomics) and may be bumped
 * from every milter thread at once.  They start at zero when the daemon
 * starts and survive reloads.  On SIGUSR1 the daemon writes a snapshot
 * (stats_format) to the log and, when StatsFile is set, to that file
 * (stats_write_file: temporary file + rename), which it also rewrites
 * every StatsInterval seconds.  A StatsFile named *.prom gets the
 * Prometheus text exposition format (stats_format_prom) for
 * node_exporter's textfile collector; any other name key=value lines.
 *
 * A message is counted from its outcome (session.h), the same record the
 * log line is made from, never from the wording of that line.
 */
#ifndef SMIME_STATS_H
#define SMIME_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Keep in step with the names in stats.c and the man pages. */
enum stats_counter {
    STATS_MESSAGES,          /* every message that reached end of data */
    STATS_INBOUND,
    STATS_OUTBOUND,
    STATS_IGNORED,           /* direction not handled by Mode */
    STATS_ABORTED,           /* MTA aborted the message before its end */
    /* inbound: the (first) result, as in the log line; same order as
     * smime_result_t */
    STATS_RESULT_NONE,
    STATS_RESULT_PASS,
    STATS_RESULT_FAIL,
    STATS_RESULT_POLICY,
    STATS_RESULT_NEUTRAL,
    STATS_RESULT_TEMPERROR,
    STATS_RESULT_PERMERROR,
    STATS_UNVERIFIED_TOO_LARGE,
    /* outbound; the unsigned ones are enum outbound_unsigned */
    STATS_SIGNED,
    STATS_UNSIGNED_NO_KEYSTORE,      /* no Keystore configured */
    STATS_UNSIGNED_NO_ENTRY,         /* From has no keystore entry */
    STATS_UNSIGNED_LOGIN,            /* login may not sign as From */
    STATS_UNSIGNED_ALREADY_SIGNED,   /* already S/MIME (or PGP) */
    STATS_UNSIGNED_DKIM,             /* DKIM-Signature present */
    STATS_UNSIGNED_TOO_LARGE,
    STATS_UNSIGNED_FROM,             /* no, several or bad From address */
    STATS_UNSIGNED_CERTIFICATE,      /* signer certificate unusable */
    STATS_UNSIGNED_OTHER,
    /* inbound, Mode d: enveloped messages decrypted, or left as they
     * are because a recipient has no key, or because they could not be
     * decrypted (unsupported, damaged, wrong key, failed tag) */
    STATS_DECRYPTED,
    STATS_NOT_DECRYPTED_NO_KEY,
    STATS_NOT_DECRYPTED_FAILED,
    /* failures */
    STATS_ENCRYPTED,         /* outbound, Mode e: encrypted */
    STATS_NOT_ENCRYPTED,     /* outbound, Mode e: left unencrypted */

    STATS_ERRORS,            /* internal errors (with OnError accept too) */
    STATS_TEMPFAILS,         /* messages answered with a 4xx */
    /* Harvest (session_outcome.harvest) */
    STATS_HARVESTED,         /* a certificate stored */
    STATS_HARVEST_KEPT,      /* the store kept what it had */
    STATS_HARVEST_FAILED,    /* the store could not be opened or written */
    /* the encryption policy at RCPT (Mode e, outbound recipients) */
    STATS_RCPT_REJECTED,     /* 550 5.7.1: required, no certificate */
    STATS_RCPT_TEMPFAILED,   /* 451 4.7.1: certificate lookup failed */
    STATS_RCPT_DEFERRED,     /* 452 4.5.3: another transaction */
    STATS_N
};

/* The counter's key in the output ("messages", "result_pass", ...). */
const char *stats_name(enum stats_counter c);

void stats_add(enum stats_counter c);
uint64_t stats_get(enum stats_counter c);
/* Zero every counter and restart the uptime clock (daemon start, tests). */
void stats_reset(void);

struct session_outcome;

/* Count one message that ended (session_outcome after eom or abort):
 * messages and its direction, then inbound its first result (or
 * unverified_too_large), outbound signed or the kind of refusal, and
 * errors/tempfails.  Aborted messages count as aborted only; an outcome
 * whose dir is SESSION_DIR_NONE (or NULL) counts nothing. */
void stats_count(const struct session_outcome *o);

/* The snapshot as "key=value" items, separated by sep ("\n" for the
 * file, " " for the log): uptime (seconds) and time (Unix time), then
 * every counter.  Returns the length written (truncated to len - 1) or
 * the length needed, as snprintf. */
int stats_format(char *buf, size_t len, const char *sep);

/* The snapshot in the Prometheus text exposition format (version
 * 0.0.4): HELP and TYPE lines, then the samples, every family a counter
 * named smime_milter_*_total with labels direction and result (only
 * "messages" is left out: it is the sum over direction), and the gauge
 * smime_milter_start_time_seconds.  Returns as snprintf (-1 on error). */
int stats_format_prom(char *buf, size_t len);

/* 1 when path names a Prometheus file (ends in ".prom"), else 0. */
int stats_file_is_prom(const char *path);

/* Write the snapshot to path atomically: a temporary file in the same
 * directory, fsync, rename; mode 0644.  Prometheus format when path
 * ends in ".prom", else one key=value per line.  0, or -1 with a
 * message in err. */
int stats_write_file(const char *path, char *err, size_t errlen);

#endif
