/*
 * log.h - the daemon's logging: syslog with the configured facility and
 * level, plus stderr when running in the foreground (-f) or in test mode.
 * Every line is a list of key=value items (values with white space in
 * double quotes, which never contain a double quote), so grep and awk can
 * read it.  A line about a message starts with its queue id, as Postfix
 * writes it ("QUEUEID: event=message dir=in ..."; "NOQUEUE" until the MTA has assigned
 * one); other lines start with event=NAME.  Only milter/ logs.
 */
#ifndef SMIME_LOG_H
#define SMIME_LOG_H

#include <stddef.h>
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

/* Free text made fit for a double-quoted key="value": double quotes
 * become single quotes, control characters spaces; truncated to fit.
 * Returns buf. */
const char *log_quote(char *buf, size_t len, const char *text);

/* Log a change of the PKCS#11 token state (crypto/token.h) once:
 * "event=token status=unusable error=..." or "status=usable".  Call it
 * after each use of a keystore key (signing, decryption). */
void log_token_state(void);

#endif
