/*
 * daemon.c - PidFile lock and unix socket claim (daemon.h).
 *
 * libmilter removes whatever is at a unix socket path before binding it
 * (smfi_opensocket(1)), so a second daemon on the same path used to take
 * the socket away from a running one.  Here a socket file is removed
 * only when connect() finds nobody listening on it.  The PidFile is
 * locked with flock(): the lock belongs to the open file, so it survives
 * the fork of detach() and ends with the process, even after a crash:
 * a pid file left behind is no obstacle.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "errbuf.h"

/* ---- PidFile ---- */

static long pid_in(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int pidfile_lock(const char *path, char *err, size_t errlen)
{
    /* Locking a file that a stopping daemon has just unlinked would lock
     * nothing anyone else can see: check it is still the file at path. */
    for (int tries = 0; tries < 10; tries++) {
        struct stat fst, pst;
        char eb[128];           /* smime_strerror() text */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

        if (fd < 0) {
            snprintf(err, errlen, "PidFile %s: %s", path,
                     smime_strerror(errno, eb, sizeof eb));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long pid = pid_in(fd);
            close(fd);
            if (e == EWOULDBLOCK && pid > 0)
                snprintf(err, errlen, "PidFile %s is locked: smime-milter "
                         "is already running (pid %ld)", path, pid);
            else if (e == EWOULDBLOCK)
                snprintf(err, errlen, "PidFile %s is locked: smime-milter "
                         "is already running", path);
            else
                snprintf(err, errlen, "PidFile %s: cannot lock: %s", path,
                         smime_strerror(e, eb, sizeof eb));
            return -1;
        }
        if (fstat(fd, &fst) == 0 && stat(path, &pst) == 0 &&
            fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
            return fd;
        close(fd);
    }
    snprintf(err, errlen, "PidFile %s keeps being replaced", path);
    return -1;
}

int pidfile_write(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return -1;
    return 0;
}

void pidfile_release(int fd, const char *path)
{
    struct stat fst, pst;

    if (fd < 0)
        return;
    if (fstat(fd, &fst) == 0 && stat(path, &pst) == 0 &&
        fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino &&
        unlink(path) != 0) {
        /* a directory we may no longer write to: leave an empty file,
         * so nobody reads a stale pid from it */
        if (ftruncate(fd, 0) != 0) {
            /* nothing more to do; the lock ends with close */
        }
    }
    close(fd);
}

/* ---- unix socket ---- */

/* 1 when a process accepts connections on path, 0 when nobody does (or
 * it is no socket), -1 with errno when that cannot be told. */
static int answered(const char *path)
{
    struct sockaddr_un sun;
    int fd, rc;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    /* EAGAIN: a listener whose backlog is full is still a listener */
    if (e == EAGAIN)
        return 1;
    errno = e;
    return -1;
}

int unix_socket_claim(const char *path, char *err, size_t errlen)
{
    struct stat st;
    char eb[128];               /* smime_strerror() text */

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path,
                 smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket: not "
                 "removing it", path);
        return -1;
    }
    switch (answered(path)) {
    case 1:
        snprintf(err, errlen, "%s is in use: another process (another "
                 "smime-milter?) answers on it; not starting", path);
        return -1;
    case 0:
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove the stale socket %s: %s",
                     path, smime_strerror(errno, eb, sizeof eb));
            return -1;
        }
        return 0;
    default:
        snprintf(err, errlen, "cannot tell whether %s is in use: %s",
                 path, smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
}

int unix_socket_note(const char *path, struct stat *st)
{
    return lstat(path, st);
}

int unix_socket_release(const char *path, const struct stat *st)
{
    struct stat now;

    if (lstat(path, &now) != 0)
        return -1;
    if (now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        errno = EEXIST;
        return -1;
    }
    return unlink(path);
}
