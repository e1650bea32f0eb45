/*
 * daemon.h - what keeps two smime-milter daemons apart: the locked
 * PidFile and the claim on a unix socket path.
 *
 * A second daemon must refuse to start and leave the first one's socket
 * and pid file alone; a daemon that stops cleanly removes its own socket
 * (never one another process bound since) and pid file.
 */
#ifndef SMIME_DAEMON_H
#define SMIME_DAEMON_H

#include <stddef.h>
#include <sys/stat.h>

/* Open and lock path (flock, held for the life of the returned fd, which
 * survives fork()).  The fd, or -1 with a message in err: "already
 * running (pid N)" when another process holds the lock. */
int pidfile_lock(const char *path, char *err, size_t errlen);
/* Write our pid into the locked file (after detaching). 0 or -1/errno. */
int pidfile_write(int fd);
/* Remove the file if it is still the one locked by fd, and close fd. */
void pidfile_release(int fd, const char *path);

/* Before binding a unix socket at path: 0 when the path is free (a stale
 * socket nobody answers on has been removed), -1 with a message when a
 * process answers on it or the path is something else. */
int unix_socket_claim(const char *path, char *err, size_t errlen);
/* After binding: remember which file is ours. 0 or -1/errno. */
int unix_socket_note(const char *path, struct stat *st);
/* At a clean stop: remove path if it is still the file noted. 0, or -1
 * with errno (ENOENT when it is gone, EEXIST when it is not ours). */
int unix_socket_release(const char *path, const struct stat *st);

#endif
