/*
 * main.c - smime-milter(8): options, configuration, test mode, and the
 * daemon's life (detach, pid file, socket, privilege drop, reload,
 * statistics).
 *
 * Signals: smfi_main runs in a second thread; it and every thread it
 * starts block HUP, USR1, TERM and INT, so they reach the main thread,
 * whose handler only writes to a pipe.  The main thread reloads on HUP
 * (libmilter would stop), writes the statistics on USR1 and on TERM/INT
 * stops libmilter without waiting for its 5-second poll (stop_milter).
 * Between signals its poll on the pipe times out for the jobs of
 * periodic.c (StatsFile, the keystore walk).
 *
 * Log lines not about a message are key=value items starting with
 * event=NAME (log.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cdb.h>
#include <gnutls/gnutls.h>
#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "conf.h"
#include "conf_dump.h"
#include "daemon.h"
#include "errbuf.h"
#include "log.h"
#include "periodic.h"
#include "sockspec.h"
#include "stats.h"
#include "testmode.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/smime-milter.conf"

static const char *progname = "smime-milter";

/* -h: to stdout, exit 0; a usage error: to stderr, exit 64. */
static void usage(int help)
{
    fprintf(help ? stdout : stderr,
            "usage: %s [-c FILE] [-p SOCKET] [-f] [-n [-v]] [-V]\n"
            "       %s [-c FILE] -t MESSAGE [-A LOGIN] [-a CLIENT-IP] "
            "[-r RCPT]...\n"
            "       %s -h | --help\n",
            progname, progname, progname);
    exit(help ? 0 : 64);
}

static void print_versions(void)
{
    unsigned maj = 0, min = 0, pl = 0;

    smfi_version(&maj, &min, &pl);
    printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
    printf("GnuTLS %s (built with %s)\n", gnutls_check_version(NULL),
           GNUTLS_VERSION);
    printf("libmilter %u.%u.%u\n", maj, min, pl);
#define STR2(x) #x
#define STR(x) STR2(x)
    printf("tinycdb %s\n", STR(TINYCDB_VERSION));
}

static void report_stderr(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

static void report_log(void *arg, const char *msg)
{
    char q[1024];

    (void)arg;
    log_info(LOG_ERR, "event=config problem=\"%s\"",
             log_quote(q, sizeof q, msg));
}

/* "event=NAME status=failed error=\"WHAT: strerror\"" */
static void log_failure(int prio, const char *event, const char *what,
                        int err)
{
    char q[1024], text[900], eb[128];

    snprintf(text, sizeof text, "%s%s%s", what, err ? ": " : "",
             err ? smime_strerror(err, eb, sizeof eb) : "");
    log_info(prio, "event=%s status=failed error=\"%s\"", event,
             log_quote(q, sizeof q, text));
}

/* ---- daemon pieces ---- */

static int sig_pipe[2] = {-1, -1};

/* A TERM or INT has come: read before the milter thread is started. */
static volatile sig_atomic_t stop_requested;

/* Sent to the milter thread to cut libmilter's select() short. */
#define WAKE_SIGNAL SIGUSR2

/* 'h' reload, 'u' statistics, 't' stop; the main thread reads them. */
static void on_signal(int sig)
{
    int e = errno;
    char c = sig == SIGUSR1 ? 'u' : sig == SIGHUP ? 'h' : 't';
    if (c == 't')
        stop_requested = 1;
    if (c != 'u')
        periodic_interrupt();           /* the keystore walk, if running */
    else
        periodic_stats_asked();         /* a running walk answers it */
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: that request is pending already */
    }
    errno = e;
}

static void on_wake(int sig)
{
    (void)sig;
}

/* libmilter's stop flag (libmilter.h: MILTER_CONT 0, MILTER_STOP 1,
 * MILTER_ABRT 2): exported by libmilter.so, not declared in mfapi.h. */
int mi_stop(void);
#define LIBMILTER_STOP 1

/* 'q' when smfi_main() returns because it was told to stop.  A stop
 * that comes before the listener's loop (smfi_stop() from stop_milter(),
 * or a TERM or HUP that libmilter's own signal thread sigwait()s for: the
 * kernel may hand it that thread) closes the socket first; the listener
 * then reopens it and fails when it cannot (as root the unix path is
 * still there).  That is still a stop: run_daemon() removes the socket. */
static void *milter_thread(void *arg)
{
    (void)arg;
    int rc = smfi_main();
    int stopped = rc == MI_SUCCESS || mi_stop() == LIBMILTER_STOP;
    if (write(sig_pipe[1], stopped ? "q" : "e", 1) < 0)
        abort();
    return NULL;
}

static void *stopper_thread(void *arg)
{
    (void)arg;
    smfi_stop();
    return NULL;
}

/* Stop the milter thread promptly.  smfi_stop() sets libmilter's stop
 * flag, then waits for the listener's lock, which the listener holds
 * while it sits in poll() for up to 5 seconds (MI_CHK_TIME) before it
 * looks at the flag: that was the 4-second stop.  So smfi_stop() runs in
 * a thread of its own, and a signal to the milter thread ends its poll()
 * with EINTR; the listener then sees the flag and returns at once.  The
 * signal is repeated every 100 ms in case one came before the flag was
 * set or before the poll().  Returns the milter thread's 'q' (stopped)
 * or 'e' (failed). */
static char stop_milter(pthread_t tid)
{
    struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
    pthread_t stopper;
    sigset_t all, old;
    char ch;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&stopper, NULL, stopper_thread, NULL) == 0)
        pthread_detach(stopper);
    else
        smfi_stop();                    /* slow, but it stops */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (;;) {
        /* fails once the thread is gone: its 'q' or 'e' is in the pipe */
        (void)pthread_kill(tid, WAKE_SIGNAL);
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        if (read(sig_pipe[0], &ch, 1) == 1 && (ch == 'q' || ch == 'e'))
            return ch;
    }
}

static int detach(void)
{
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    if ((pid = fork()) < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    /* stdio on /dev/null, or a write to the terminal left behind (or to
     * whatever file later takes fd 0-2) could block or corrupt it */
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
        int e = errno;
        if (fd > 2)
            close(fd);
        errno = e;
        return -1;
    }
    if (fd > 2)
        close(fd);
    return chdir("/");
}

/* TCP_NODELAY on libmilter's listening socket.  At the end of a message
 * libmilter writes each reply (add header, change header, then accept)
 * with its own write; with Nagle's algorithm on, a reply waits until the
 * MTA has acknowledged the one before, and the MTA delays that ACK (40 ms
 * on Linux): one stall per message over inet sockets, none over unix
 * sockets.  libmilter never sets the option and does not tell which fd
 * it listens on, so every listening TCP socket of the process is taken:
 * smime-milter opens no other.  Linux copies TCP_NODELAY from a listening
 * socket to the sockets accept() returns.  The number of sockets set, or
 * -1 when /proc/self/fd cannot be read. */
static int listen_nodelay(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0, one = 1;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        int fd, val = 0;
        socklen_t len = sizeof val;
        char *end;
        long l = strtol(de->d_name, &end, 10);
        if (*end != '\0' || end == de->d_name || l < 0 || l == dirfd(d))
            continue;
        fd = (int)l;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) != 0 || !val)
            continue;
        len = sizeof val;
        if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &val, &len) != 0 ||
            val != IPPROTO_TCP)
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* user[:group] after the socket is open: initgroups, setgid, setuid, and
 * make sure root cannot be regained. */
static int drop_privileges(const char *spec, const char *unix_path)
{
    char user[256];
    char eb[128];               /* smime_strerror() text */
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    struct passwd *pw;
    gid_t gid;

    snprintf(user, sizeof user, "%.*s", (int)n, spec);
    if ((pw = getpwnam(user)) == NULL) {
        log_info(LOG_ERR, "event=setuid status=failed user=%s "
                 "error=\"unknown user\"", user);
        return -1;
    }
    gid = pw->pw_gid;
    if (colon) {
        struct group *gr = getgrnam(colon + 1);
        if (gr == NULL) {
            log_info(LOG_ERR, "event=setuid status=failed group=%s "
                     "error=\"unknown group\"", colon + 1);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (unix_path && chown(unix_path, pw->pw_uid, gid) != 0)
        log_info(LOG_WARNING, "event=chown status=failed path=%s "
                 "error=\"%s\"", unix_path,
                 smime_strerror(errno, eb, sizeof eb));
    if (initgroups(user, gid) != 0 || setgid(gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_info(LOG_ERR, "event=setuid status=failed user=%s error=\"%s\"",
                 spec, smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() != pw->pw_uid ||
                            getegid() != gid)) {
        log_info(LOG_ERR, "event=setuid status=failed user=%s "
                 "error=\"privileges still held\"", spec);
        return -1;
    }
    return 0;
}

/* 0 reloaded, -1 the old configuration kept. */
static int reload(const char *path, unsigned flags, const char *socket)
{
    config_t *c = config_load(path, flags, report_log, NULL);
    config_t *old = config_current_get();

    if (c == NULL) {
        log_info(LOG_ERR, "event=reload status=failed config=%s "
                 "note=\"old configuration kept\"", path);
    } else {
        if (!socket && old && old->socket && c->socket &&
            strcmp(old->socket, c->socket) != 0)
            log_info(LOG_WARNING, "event=reload status=warning "
                     "note=\"Socket change takes effect after a restart\"");
        log_set(c->syslog_facility, c->log_level);
        config_current_set(c);
        log_info(LOG_NOTICE, "event=reload status=reloaded config=%s", path);
    }
    config_unref(old);
    return c ? 0 : -1;
}

/* The signals the main thread handles: HUP reload, USR1 statistics,
 * TERM and INT stop. */
static void daemon_sigset(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

/* Signal dispositions of the daemon, set while run_daemon() holds the
 * signals of daemon_sigset() blocked.  0, or an errno value. */
static int set_signal_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    if (sigaction(SIGHUP, &sa, NULL) != 0 ||
        sigaction(SIGUSR1, &sa, NULL) != 0 ||
        sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0)
        return errno;
    sa.sa_handler = on_wake;            /* no SA_RESTART: EINTR */
    if (sigaction(WAKE_SIGNAL, &sa, NULL) != 0)
        return errno;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return errno;
    return 0;
}

/* The milter thread and every thread it starts (libmilter's signal
 * thread, one per connection) inherit a mask that blocks the signals of
 * daemon_sigset(), so these reach the main thread's handler; libmilter's
 * signal thread, which sigwait()s for HUP, TERM and INT, would only see
 * one that came while the main thread had another one pending, and then
 * stops the milter itself, just slower.  0, or an errno value. */
static int start_milter_thread(pthread_t *tid)
{
    sigset_t set, old;
    int rc;

    daemon_sigset(&set);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    rc = pthread_create(tid, NULL, milter_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Pid file lock, socket claim, bind: everything that can refuse a start
 * before the daemon detaches.  0, or -1 after logging why. */
static int open_listener(config_t *cfg, const struct sockspec *ss,
                         int *pid_fd, struct stat *sock_st)
{
    char err[1200];

    if (cfg->pid_file &&
        (*pid_fd = pidfile_lock(cfg->pid_file, err, sizeof err)) < 0) {
        log_failure(LOG_ERR, "start", err, 0);
        return -1;
    }
    if (ss->family == SOCKSPEC_UNIX &&
        unix_socket_claim(ss->path, err, sizeof err) != 0) {
        log_failure(LOG_ERR, "start", err, 0);
        return -1;
    }
    errno = 0;
    if (smfi_setconn((char *)ss->conn) != MI_SUCCESS ||
        callbacks_register() != 0 || smfi_opensocket(0) != MI_SUCCESS) {
        snprintf(err, sizeof err, "cannot listen on %s", ss->conn);
        log_failure(LOG_ERR, "start", err, errno);
        return -1;
    }
    if (ss->family == SOCKSPEC_UNIX && unix_socket_note(ss->path, sock_st))
        log_failure(LOG_WARNING, "start", ss->path, errno);
    if (ss->family != SOCKSPEC_UNIX && listen_nodelay() <= 0)
        log_info(LOG_WARNING, "event=start status=warning note=\"TCP_NODELAY "
                 "not set on the listening socket: replies may wait for "
                 "the MTA's delayed ACKs\"");
    return 0;
}

/* The main thread while the milter runs: signals (through sig_pipe) and
 * the periodic jobs (StatsFile, expiry lines).  'q' when the milter thread stopped, 'e'
 * when it failed. */
static char serve(pthread_t tid, const char *path, unsigned flags,
                  const char *socket_opt)
{
    char ch = 'e';

    periodic_start(&stop_requested);
    for (;;) {
        struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
        int r = poll(&pfd, 1, periodic_timeout());
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            periodic_tick();
            continue;
        }
        ssize_t n = r < 0 ? -1 : read(sig_pipe[0], &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0 && ch == 'u') {
            if (periodic_stats_take())  /* not answered by a walk */
                periodic_write_stats(1);
            continue;
        }
        if (n > 0 && ch == 't')
            ch = stop_milter(tid);
        if (n <= 0 || ch != 'h')
            return n <= 0 ? 'e' : ch;
        if (reload(path, flags, socket_opt) == 0)
            periodic_reloaded();
    }
}

static int run_daemon(config_t *cfg, const char *path, unsigned flags,
                      const char *socket_opt, int foreground)
{
    struct sockspec ss;
    struct stat sock_st = {0};
    char err[700];
    char eb[128];               /* smime_strerror() text */
    pthread_t tid;
    char ch;
    int pid_fd = -1;
    sigset_t sigs;

    if (sockspec_parse(socket_opt ? socket_opt : cfg->socket, &ss, err,
                       sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", progname, err);   /* checked before */
        goto unref;
    }
    /* From the PidFile lock on, the default action of these signals
     * would leave the socket and the PidFile behind (and HUP or an
     * inherited mask would reach libmilter, which stops on HUP): they
     * wait, blocked, until the handlers are in place. */
    daemon_sigset(&sigs);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    /* problems before detaching also go to the terminal */
    log_open(progname, cfg->syslog_facility, cfg->log_level, 1, 1);
    if (open_listener(cfg, &ss, &pid_fd, &sock_st) != 0)
        goto unref;
    if (!foreground && detach() != 0) {
        log_failure(LOG_ERR, "start", "cannot detach", errno);
        goto unref;
    }
    log_open(progname, cfg->syslog_facility, cfg->log_level, 1, foreground);
    if (pid_fd >= 0 && pidfile_write(pid_fd) != 0)
        log_info(LOG_WARNING, "event=pidfile status=failed path=%s "
                 "error=\"%s\"", cfg->pid_file,
                 smime_strerror(errno, eb, sizeof eb));
    if (cfg->user_id && drop_privileges(cfg->user_id,
            ss.family == SOCKSPEC_UNIX ? ss.path : NULL) != 0)
        goto unref;
    char *pid_file = cfg->pid_file ? strdup(cfg->pid_file) : NULL;
    config_current_set(cfg);

    if (pipe2(sig_pipe, O_CLOEXEC) != 0 ||
        fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
        log_failure(LOG_ERR, "start", "pipe", errno);
        goto unset;
    }
    stats_reset();
    if ((errno = set_signal_handlers()) != 0) {
        log_failure(LOG_ERR, "start", "cannot set up signals", errno);
        goto unset;
    }
    /* what came meanwhile is handled now; a stop needs no milter thread */
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    if (stop_requested) {
        ch = 'q';
    } else {
        if ((errno = start_milter_thread(&tid)) != 0) {
            log_failure(LOG_ERR, "start", "cannot start the milter thread",
                        errno);
            goto unset;
        }
        log_info(LOG_NOTICE, "event=start status=listening version=%s "
                 "config=%s socket=%s pid=%ld", PACKAGE_VERSION, path,
                 ss.conn, (long)getpid());
        ch = serve(tid, path, flags, socket_opt);
        pthread_join(tid, NULL);
    }
    if (ss.family == SOCKSPEC_UNIX &&
        unix_socket_release(ss.path, &sock_st) != 0 && errno != ENOENT)
        log_info(LOG_WARNING, "event=stop status=warning path=%s "
                 "note=\"socket not removed: %s\"", ss.path,
                 errno == EEXIST ? "replaced by another process"
                                 : smime_strerror(errno, eb, sizeof eb));
    periodic_write_stats(1);
    log_info(LOG_NOTICE, "event=stop status=%s version=%s config=%s",
             ch == 'q' ? "stopped" : "failed", PACKAGE_VERSION, path);
    if (pid_file)
        pidfile_release(pid_fd, pid_file);
    free(pid_file);
    config_current_set(NULL);
    return ch == 'q' ? 0 : 1;
unset:
    config_current_set(NULL);   /* releases cfg */
    free(pid_file);
    return 1;
unref:
    config_unref(cfg);
    return 1;
}

/* -a CLIENT-IP: an IPv4 or IPv6 address, or "" for a local submission. */
static int valid_client(const char *client)
{
    unsigned char a[16];

    return !*client || inet_pton(AF_INET, client, a) == 1 ||
           inet_pton(AF_INET6, client, a) == 1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONFIG, *socket_opt = NULL, *msg = NULL;
    const char *login = NULL, *client = NULL;
    char **rcpt = NULL;             /* -r, repeatable */
    size_t nrcpt = 0;
    int foreground = 0, check = 0, dump = 0, opt, bad_socket = 0;
    unsigned flags = 0;
    config_t *cfg;

#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
    /* glibc raises its mmap threshold to the size of each large block
     * freed: once a message's spool buffer (up to SpoolThreshold) is
     * freed, the next ones come from a heap that stays resident, and a
     * 100 MB encryption peaked 2.2 MB above a 4 KB one instead of 1.1.
     * A fixed threshold keeps large buffers mapped only while in use. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* A per-thread arena gives the free pages above 128 KB at its top
     * back to the kernel (madvise) on every free that leaves that much,
     * and faults them in again for the next message: with the parsed
     * certificates cached (crypto/certcache.c), freeing the MIME
     * parser's buffers did so once per verified message, ~100 us of
     * system time each.  Blocks >= 128 KB are mapped anyway (above), so
     * this keeps at most 512 KB per arena. */
    mallopt(M_TRIM_THRESHOLD, 512 * 1024);
#endif
    while ((opt = getopt_long(argc, argv, "c:p:fnvVht:A:a:r:", longopts,
                              NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'p': socket_opt = optarg; break;
        case 'f': foreground = 1; break;
        case 'n': check = 1; break;
        case 'v': dump = 1; break;
        case 'V': print_versions(); return 0;
        case 'h': usage(1); break;
        case 't': msg = optarg; break;
        case 'A': login = optarg; break;
        case 'a': client = optarg; break;
        case 'r':
            if (!*optarg) {
                fprintf(stderr, "%s: -r: an empty recipient\n", progname);
                return 64;
            }
            /* at most argc of them: argv outlives main's use of it */
            if (rcpt == NULL && (rcpt = calloc((size_t)argc,
                                               sizeof *rcpt)) == NULL) {
                fprintf(stderr, "%s: out of memory\n", progname);
                return 1;
            }
            rcpt[nrcpt++] = optarg;
            break;
        default: usage(0);
        }
    }
    if (optind != argc || ((login || client || nrcpt) && !msg) ||
        (msg && check) || (dump && !check))
        usage(0);
    if (client && !valid_client(client)) {
        fprintf(stderr, "%s: -a: \"%s\" is not an IPv4 or IPv6 address "
                "(-a '' is a local submission)\n", progname, client);
        return 64;
    }
    if (!msg && !socket_opt)
        flags |= CONFIG_NEED_SOCKET;
    if (msg) {
        log_open(progname, LOG_MAIL, LOG_INFO, 0, 1);
        if ((cfg = config_load(path, flags, report_stderr, NULL)) == NULL)
            return 1;
        log_set(cfg->syslog_facility, cfg->log_level);
        int rc = testmode_run(cfg, msg, login, client, rcpt, nrcpt);
        config_unref(cfg);
        free(rcpt);
        return rc;
    }
    if (socket_opt) {
        struct sockspec ss;
        char err[700];
        if (sockspec_parse(socket_opt, &ss, err, sizeof err) != 0) {
            fprintf(stderr, "-p: %s\n", err);
            bad_socket = 1;
        }
    }
    /* -n reports the problems of -p and of the file together */
    /* -n and the start check more than a reload can (files as UserID,
     * dates) and print warnings */
    cfg = config_load(path, flags | CONFIG_CHECK | (check ? 0 : CONFIG_START),
                      report_stderr, NULL);
    if (cfg == NULL || bad_socket || check) {
        int rc = cfg == NULL || bad_socket;
        struct conf_dump_override ov = {"Socket", socket_opt, "-p"};
        if (rc == 0 && dump &&
            conf_dump(cfg, &ov, socket_opt ? 1 : 0, stdout) != 0) {
            fprintf(stderr, "%s: -v: write error\n", progname);
            rc = 1;
        }
        config_unref(cfg);
        return rc;
    }
    return run_daemon(cfg, path, flags, socket_opt, foreground);
}
