/*
 * session.h - the per-connection and per-message core of smime-milter,
 * without any libmilter dependency: callbacks.c drives it from the
 * xxfi_* callbacks and testmode.c (-t) drives it from a file, so both run
 * the very same code.
 *
 * Order of calls, as the MTA delivers events:
 *   s = session_new()                          connection
 *   session_set_client(s, "192.0.2.1")         connect (NULL: no IP, local)
 *   per message:
 *     session_begin(s, cfg)                    MAIL FROM; holds a ref on cfg
 *     session_set_login / _set_queue_id / _set_daemon   whenever known
 *     session_header(s, name, value)           each header
 *     session_eoh(s)                           direction decided here
 *     session_body(s, buf, len)                chunks, CRLF line ends;
 *                                              stop at SESSION_SKIP
 *     session_eom(s, act, arg)                 actions, then the reply
 *     (or session_abort(s) instead of eom)
 *     session_summary(s)                       the log line for it
 *   session_free(s)                            close
 * Return values other than SESSION_CONTINUE/SKIP only come from eom; an
 * internal error earlier is remembered and answered at eom (OnError).
 */
#ifndef SMIME_SESSION_H
#define SMIME_SESSION_H

#include <stddef.h>
#include "actions.h"
#include "conf.h"

typedef struct session session_t;

enum session_status {
    SESSION_CONTINUE,  /* go on */
    SESSION_SKIP,      /* no more body wanted (SMFIS_SKIP) */
    SESSION_ACCEPT,    /* eom: accept, with the actions performed */
    SESSION_TEMPFAIL,  /* eom: try again later (internal error) */
    SESSION_REJECT     /* eom: reject (not used by the current policy) */
};

session_t *session_new(void);                 /* NULL on ENOMEM */
void session_free(session_t *s);              /* accepts NULL */

/* Connection and message facts. Strings are copied; 0 or -1 (ENOMEM). */
int session_set_client(session_t *s, const char *addr);
int session_set_login(session_t *s, const char *login); /* NULL/"": none */
int session_set_daemon(session_t *s, const char *name);
int session_set_queue_id(session_t *s, const char *qid);
const char *session_queue_id(const session_t *s);  /* "" when unknown */

/* A new message (ends any previous one). Takes a reference on cfg. */
void session_begin(session_t *s, config_t *cfg);
enum session_status session_header(session_t *s, const char *name,
                                   const char *value);
enum session_status session_eoh(session_t *s);
enum session_status session_body(session_t *s, const char *buf, size_t len);
enum session_status session_eom(session_t *s, const struct actions *act,
                                 void *arg);
/* The message ended without eom (MTA abort, connection lost). */
void session_abort(session_t *s);

/* One key=value summary of the last message ("smime dir=in result=pass
 * signer=... part=1 reason=\"...\""), valid until the next begin. */
const char *session_summary(const session_t *s);

/* The header block received so far, in order (for outbound.c, tests). */
const struct msg_headers *session_headers(const session_t *s);

#endif
