/*
 * conf_check.h - checks of a configuration that need the whole file
 * read, and the ones -n and the daemon's start make beyond parsing:
 * what would otherwise fail only later (at the first SIGHUP, the first
 * spill, the first SIGUSR1) or quietly (an expiring signing certificate,
 * a CRL past its nextUpdate).
 *
 * Findings go to fn with the key they are about ("" for the file
 * itself) and the index of a repeatable key's entry, so that conf.c can
 * put the line number in front.
 */
#ifndef SMIME_CONF_CHECK_H
#define SMIME_CONF_CHECK_H

#include <stddef.h>
#include <time.h>
#include "conf.h"

typedef void (*conf_check_fn)(void *arg, const char *key, size_t i,
                              int warning, const char *msg);

/* Always, once the file is read (not before: a default replaced by the
 * file is never checked): SpoolDirectory is a directory, the
 * directories of PidFile and StatsFile exist. */
void conf_check_settings(const config_t *c, conf_check_fn fn, void *arg);

/* -n and the daemon's start: Mode with s has a Keystore (an error when
 * Mode was set, a warning for the default sv); as root with UserID,
 * every file read on reload is readable by that user and the
 * directories written to are writable by it; warnings for CRLs past
 * their nextUpdate and, with walk_keystore (-n), for keystore entries
 * whose certificate expires within 30 days or whose token key cannot be
 * reached.  The daemon leaves that walk over every entry to
 * keystore_expiry_log(), which runs once it serves. */
void conf_check_files(const config_t *c, int mode_set, int walk_keystore,
                      time_t now, conf_check_fn fn, void *arg);

#endif
