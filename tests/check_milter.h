/*
 * check_milter.h - the test cases of the check_milter binary that live in
 * their own files.
 */
#ifndef CHECK_MILTER_H
#define CHECK_MILTER_H

#include <check.h>

#include "conf.h"

TCase *daemon_tcase(void);      /* check_milter_daemon.c */

/* check_milter.c: config_load_string() of text (CONFIG_NO_DERIVED |
 * flags); its problem reports, one a line, in reports, counted in
 * nreports. */
extern char reports[8192];
extern int nreports;
config_t *milter_test_load(const char *text, unsigned flags);

#endif
