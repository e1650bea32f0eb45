/*
 * log.c - syslog plus optional stderr, with a level threshold.  The
 * settings are plain ints read without a lock: a reload changing them
 * mid-line is harmless.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>

#include "log.h"
#include "token.h"

static int log_level = LOG_INFO;
static int log_facility = LOG_MAIL;
static int use_syslog;
static int use_stderr = 1;
static const char *log_ident = "smime-milter";

/* systemd connects stderr to the journal and says so in JOURNAL_STREAM
 * ("DEV:INODE"); syslog lands in the same journal, so writing both would
 * log every line twice. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
           fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_open(const char *ident, int facility, int level, int to_syslog,
              int to_stderr)
{
    log_ident = ident;
    log_facility = facility;
    log_level = level;
    use_syslog = to_syslog;
    use_stderr = to_stderr && !(to_syslog && stderr_is_journal());
    if (use_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_set(int facility, int level)
{
    log_facility = facility;
    log_level = level;
}

void log_close(void)
{
    if (use_syslog)
        closelog();
    use_syslog = 0;
}

static void log_v(int prio, const char *qid, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_v(int prio, const char *qid, const char *fmt, va_list ap)
{
    char text[2048];

    if (prio > log_level)
        return;
    vsnprintf(text, sizeof text, fmt, ap);
    if (use_syslog) {
        if (qid)
            syslog(log_facility | prio, "%s: %s", *qid ? qid : "NOQUEUE",
                   text);
        else
            syslog(log_facility | prio, "%s", text);
    }
    if (use_stderr) {
        flockfile(stderr);
        if (qid)
            fprintf(stderr, "%s: %s: %s\n", log_ident,
                    *qid ? qid : "NOQUEUE", text);
        else
            fprintf(stderr, "%s: %s\n", log_ident, text);
        funlockfile(stderr);
    }
}

void log_msg(int prio, const char *qid, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(prio, qid ? qid : "", fmt, ap);
    va_end(ap);
}

void log_info(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(prio, NULL, fmt, ap);
    va_end(ap);
}

const char *log_quote(char *buf, size_t len, const char *text)
{
    size_t n = 0;

    if (len == 0)
        return buf;
    for (; text && *text && n + 1 < len; text++) {
        unsigned char ch = (unsigned char)*text;
        buf[n++] = ch == '"' ? '\'' : (ch < 32 || ch == 127) ? ' ' : (char)ch;
    }
    buf[n] = '\0';
    return buf;
}

void log_token_state(void)
{
    char msg[300], q[400];
    int usable;

    if (!smime_token_event(&usable, msg, sizeof msg))
        return;
    if (usable)
        log_info(LOG_NOTICE, "event=token status=usable");
    else
        log_info(LOG_ERR, "event=token status=unusable error=\"%s\"",
                 log_quote(q, sizeof q, msg));
}
