/*
 * log.h - the daemon's logging: syslog with the configured facility and
 * level, plus stderr when running in the foreground (-f) or in test mode.
 * Every line about a message starts with its queue id ("NOQUEUE" until
 * the MTA has assigned one).  Only milter/ logs.
 */
#ifndef SMIME_LOG_H
#define SMIME_LOG_H

#include <syslog.h>

/* to_syslog/to_stderr: where lines go.  Levels are syslog's LOG_*. */
void log_open(const char *ident, int facility, int level, int to_syslog,
              int to_stderr);
/* New facility/level after a reload. */
void log_set(int facility, int level);
void log_close(void);

/* "QID: text"; qid NULL or "" writes "NOQUEUE". */
void log_msg(int prio, const char *qid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Lines not about a message. */
void log_info(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
