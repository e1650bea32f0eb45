/*
 * testmode.h - smime-milter -t: one message from a file or stdin through
 * the same session code the milter runs, the result on stdout.
 */
#ifndef SMIME_TESTMODE_H
#define SMIME_TESTMODE_H

#include "conf.h"

/* The client address used when -a is not given: TEST-NET-1 (RFC 5737),
 * remote and not internal unless InternalHosts lists it. */
#define TESTMODE_DEFAULT_CLIENT "192.0.2.1"

/* path "-" is stdin; login NULL: not authenticated; client NULL: the
 * default; rcpt/nrcpt the envelope recipients (-r), nrcpt 0: the
 * addresses in To and Cc.  A recipient the session refuses is reported
 * on stderr and left out.  Returns the exit code: 0 accept, 75 tempfail,
 * 69 reject or every recipient refused, 1 when the message cannot be
 * read or the output written. */
int testmode_run(config_t *cfg, const char *path, const char *login,
                 const char *client, char *const *rcpt, size_t nrcpt);

#endif
