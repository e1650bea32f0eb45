/*
 * periodic.h - the daemon's main-thread jobs (periodic.c): StatsFile and
 * the keystore walk, scheduled around the poll on the signal pipe.
 */
#ifndef SMIME_PERIODIC_H
#define SMIME_PERIODIC_H

#include <signal.h>

/* Once serving: stop is the daemon's TERM flag (a walk started after a
 * TERM stops at once); the keystore walk now (SMIME_MILTER_TEST_DAY, a
 * hidden test knob in HACKING.md, makes its "day" that many seconds). */
void periodic_start(const volatile sig_atomic_t *stop);
/* After a reload: the keystore walk now, the next in a day. */
void periodic_reloaded(void);
/* The poll timeout (ms): until the earliest due job, at most an hour
 * (poll then returns early and the wait goes on); -1 when no job is on. */
int periodic_timeout(void);
/* poll timed out: run the jobs that are due.  A walk cut short by a
 * signal runs again as soon as the signal has been handled. */
void periodic_tick(void);
/* From a signal handler (TERM, INT, HUP): a running keystore walk stops
 * so that the main thread handles the signal now.  Async-signal-safe. */
void periodic_interrupt(void);
/* From the SIGUSR1 handler: statistics are asked for (a running walk
 * writes them between two addresses).  Async-signal-safe. */
void periodic_stats_asked(void);
/* 1 (and no longer asked) when statistics were asked for and not yet
 * written: the main thread's answer to the 'u' in its signal pipe. */
int periodic_stats_take(void);
/* The counters to StatsFile, and with to_log (SIGUSR1, stop) one log
 * line too; a failure of the periodic write is logged only when the
 * write before it succeeded. */
void periodic_write_stats(int to_log);

#endif
