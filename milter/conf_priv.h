/*
 * conf_priv.h - what the files of the configuration loader share, and
 * nothing else includes:
 *
 *   conf.c           the key table, the lines of the file, config_load
 *   conf_value.c     the syntax and rules of values (sizes, networks,
 *                    header names, AuthservID, UserID, syslog names)
 *   conf_snapshot.c  what is built from a parsed file (trust store,
 *                    token, keystore, policy file), the checks that name
 *                    a key's line, and the snapshot's lifetime
 *
 * Every problem goes through conf_problem() as "FILE:LINE: message" and
 * counts as an error of the load.
 */
#ifndef SMIME_CONF_PRIV_H
#define SMIME_CONF_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "conf.h"

#define CONF_NKEYS 31            /* rows of conf.c's key table */

/* One load in progress. */
struct pstate {
    config_t *c;
    const char *name;
    unsigned line;
    unsigned seen[CONF_NKEYS];        /* line where each key was set, 0: not */
    unsigned *path_lines[CONF_NKEYS]; /* per repeatable entry, its line */
    int errors;
    config_report_fn report;
    void *arg;
    unsigned flags;                   /* CONFIG_* load flags */
};

/* conf.c */
void conf_problem(struct pstate *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The line key name was set on (0: its default or not set); for entry i
 * of a repeatable key, that entry's line. */
unsigned conf_key_line(const struct pstate *ps, const char *name);
unsigned conf_entry_line(const struct pstate *ps, const char *name,
                         size_t i);
int conf_set_string(char **dst, const char *v);    /* -1 out of memory */

/* conf_value.c: 0 ok, -1 not a valid value (nothing reported) */
int conf_parse_bool(const char *v, int *out);
int conf_parse_size(const char *v, uint64_t *out);
int conf_parse_mode(const char *v, unsigned *out);
/* InternalHosts: 0, -1 with the bad item in bad ("none" combined with
 * addresses: the message in bad), -2 out of memory. */
int conf_parse_nets(const char *v, struct config_net **out, size_t *n,
                    char *bad, size_t badlen);
int conf_parse_level(const char *v, int *out);      /* LogLevel */
int conf_parse_facility(const char *v, int *out);   /* SyslogFacility */
int conf_check_user(const char *v, char *err, size_t errlen);
int conf_valid_header_name(const char *v);
/* AuthservID v (or the host name) is not a bare domain name: reported
 * with what to write instead. */
void conf_authserv_problem(struct pstate *ps, unsigned line,
                           const char *what, const char *v);
/* After the whole file: TagHeader and DecryptHeader are names of our
 * own; the host name is a domain name when AuthservID was not set. */
void conf_check_header_names(struct pstate *ps);
void conf_check_default_authserv(struct pstate *ps);

/* conf_snapshot.c */
void conf_load_policy_file(struct pstate *ps);
/* conf_check.h's findings, with the key's line. */
void conf_check_report(void *arg, const char *key, size_t i, int warning,
                       const char *msg);
int conf_build_derived(struct pstate *ps);           /* -1 out of memory */
void conf_destroy(config_t *c);                      /* NULL ok */

#endif
