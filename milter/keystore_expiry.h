/*
 * keystore_expiry.h - the daemon's walk over its keystore: a warning
 * per credential that expires within 30 days and a test of each token
 * key, at start, at each reload and once a day (main.c's periodic
 * jobs).
 */
#ifndef SMIME_KEYSTORE_EXPIRY_H
#define SMIME_KEYSTORE_EXPIRY_H

#include <signal.h>
#include <time.h>
#include "conf.h"

/* Log "event=keystore status=expiring address=... serial=... purpose=...
 * note=\"certificate expires in N days (DATE)\"" at warning for each
 * credential of c's Keystore that keystore_vet_soon() finds at now, and
 * try each key on a token (log_token_state: a line when its state
 * changed).  Stops early when *stop (may be NULL) becomes non-zero: a
 * TERM need not wait for the walk.  Nothing without a Keystore; an
 * unusable one is reported by the configuration load and by outbound
 * mail, not here.  The count of expiring credentials. */
unsigned keystore_expiry_log(const config_t *c, time_t now,
                             const volatile sig_atomic_t *stop);

#endif
