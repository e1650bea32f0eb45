/*
 * keystore_expiry.h - the daemon's warning about keystore credentials
 * that expire within 30 days: one log line per credential, at start, at
 * each reload and once a day (main.c's periodic jobs).
 */
#ifndef SMIME_KEYSTORE_EXPIRY_H
#define SMIME_KEYSTORE_EXPIRY_H

#include <time.h>
#include "conf.h"

/* Log "event=keystore status=expiring address=... serial=... purpose=...
 * note=\"certificate expires in N days (DATE)\"" at warning for each
 * credential of c's Keystore that keystore_vet_entry_soon() finds at
 * now.  Nothing without a Keystore; an unusable one is reported by the
 * configuration load and by outbound mail, not here.  The count. */
unsigned keystore_expiry_log(const config_t *c, time_t now);

#endif
