/*
 * keystore_expiry.h - the daemon's walk over its keystore: a warning
 * per credential that expires within 30 days and a test of each token
 * key, at start, at each reload and once a day (main.c's periodic
 * jobs).
 */
#ifndef SMIME_KEYSTORE_EXPIRY_H
#define SMIME_KEYSTORE_EXPIRY_H

#include <time.h>
#include "conf.h"

/* Log "event=keystore status=expiring address=... serial=... purpose=...
 * note=\"certificate expires in N days (DATE)\"" at warning for each
 * credential of c's Keystore that keystore_vet_soon() finds at now, and
 * try each key on a token (log_token_state: a line when its state
 * changed).  between (may be NULL) runs after each address, in the
 * walk's thread: the daemon answers a SIGUSR1 there, and a non-zero
 * return stops the walk (a TERM or HUP need not wait for it).  Nothing
 * without a Keystore; an unusable one is reported by the configuration
 * load and by outbound mail, not here.  The count of expiring
 * credentials. */
unsigned keystore_expiry_log(const config_t *c, time_t now,
                             int (*between)(void *arg), void *arg);

#endif
