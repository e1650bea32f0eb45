/*
 * check_milter.h - the test cases of the check_milter binary that live in
 * their own files.
 */
#ifndef CHECK_MILTER_H
#define CHECK_MILTER_H

#include <check.h>

TCase *daemon_tcase(void);      /* check_milter_daemon.c */

#endif
