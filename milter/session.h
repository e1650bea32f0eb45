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
 *     session_rcpt(s, addr, &reply)            each RCPT TO (only when
 *                                              Mode has d or e)
 *     session_header(s, name, value)           each header
 *     session_eoh(s)                           direction decided here
 *     session_body(s, buf, len)                chunks, CRLF line ends;
 *                                              stop at SESSION_SKIP
 *     session_eom(s, act, arg)                 actions, then the reply
 *     (or session_abort(s) instead of eom)
 *     session_outcome(s)                       what happened, for counting
 *     session_summary(s)                       the log line, made from it
 *   session_free(s)                            close
 * Return values other than SESSION_CONTINUE/SKIP only come from eom; an
 * internal error earlier is remembered and answered at eom (OnError).
 */
#ifndef SMIME_SESSION_H
#define SMIME_SESSION_H

#include <stddef.h>
#include "actions.h"
#include "conf.h"
#include "harvest.h"
#include "outbound.h"
#include "result.h"

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

/* Connection and message facts. Strings are copied; 0 or -1 (ENOMEM).
 * After a failed session_set_client the client is unknown, never local
 * or internal: every message on the connection is an internal error
 * (OnError), and without a SASL login it is inbound. */
int session_set_client(session_t *s, const char *addr);
int session_set_login(session_t *s, const char *login); /* NULL/"": none */
int session_set_daemon(session_t *s, const char *name);
int session_set_queue_id(session_t *s, const char *qid);
const char *session_queue_id(const session_t *s);  /* "" when unknown */

/* A new message (ends any previous one). Takes a reference on cfg. */
void session_begin(session_t *s, config_t *cfg);

/* An envelope recipient (RCPT TO), after session_begin.  addr as the MTA
 * gives it ("<bob@example.com>"; the angle brackets are stripped, the
 * rest copied).  *reply says whether to take the recipient: refuse 0
 * (accepted, stored), else the recipient is not stored and the MTA
 * answers it with rcode/xcode/msg (refuse is SESSION_RCPT_REJECT for a
 * 5xx, SESSION_RCPT_TEMPFAIL for a 4xx).  Returns 0, or -1 when the
 * accepted recipient could not be stored (ENOMEM): that fails closed,
 * the message is an internal error at eom (OnError), as decisions that
 * need every recipient (decryption) could otherwise be taken on part of
 * them.  Recipients are forgotten at the next session_begin. */
enum session_rcpt_refuse {
    SESSION_RCPT_ACCEPT,
    SESSION_RCPT_REJECT,       /* 5xx: SMFIS_REJECT */
    SESSION_RCPT_TEMPFAIL      /* 4xx: SMFIS_TEMPFAIL */
};
struct session_rcpt_reply {
    enum session_rcpt_refuse refuse;
    char rcode[4];             /* "550", "451", "452" */
    char xcode[8];             /* "5.7.1" */
    char msg[200];             /* text of the reply */
};
int session_rcpt(session_t *s, const char *addr,
                 struct session_rcpt_reply *reply);
/* A refusal session_rcpt() asked for that cannot be given (the
 * connection negotiated no RCPT replies before a reload made refusals
 * possible): the message fails, OnError at its end. */
void session_rcpt_unrefused(session_t *s,
                            const struct session_rcpt_reply *reply);
size_t session_nrcpt(const session_t *s);          /* accepted ones */
const char *session_rcpt_at(const session_t *s, size_t i); /* i < nrcpt */
enum session_status session_header(session_t *s, const char *name,
                                   const char *value);
enum session_status session_eoh(session_t *s);
enum session_status session_body(session_t *s, const char *buf, size_t len);
enum session_status session_eom(session_t *s, const struct actions *act,
                                 void *arg);
/* The message ended without eom (MTA abort, connection lost). */
void session_abort(session_t *s);

/* Where the last message went.  NONE until it ended (eom or abort). */
enum session_dir {
    SESSION_DIR_NONE,
    SESSION_DIR_IN,         /* inbound, verified (Mode v) */
    SESSION_DIR_OUT,        /* outbound, signed or not (Mode s) */
    SESSION_DIR_IGNORED,    /* Mode does not cover its direction */
    SESSION_DIR_ABORTED     /* ended without eom */
};

/* What happened to the last message, as the session decided it; final
 * once dir is not NONE, valid until the next session_begin.  Counters
 * (stats.h) are kept from this, and the log line is made from it. */
struct session_outcome {
    enum session_dir dir;
    int outbound;           /* the client counts as outbound (SASL login,
                               InternalHosts, local): the log's dir= */
    char client[64];        /* "local" without an IP address */
    char login[256];        /* SASL login, "-" without */
    /* inbound: the first result of our Authentication-Results */
    smime_result_t result;  /* NONE: no signature (or nothing verified) */
    int unverified_too_large; /* not verified: over MaxMessageSize */
    size_t signatures;      /* results in the header (0 with NONE) */
    char signer[256];       /* identifier, "" unknown */
    char part[64];          /* IMAP section of the signed entity */
    char serial[130];
    /* inbound, Mode d: 1 decrypted, -1 enveloped and left so (reason in
     * decrypt_reason, also the result's comment), 0 not enveloped */
    int decrypted;
    int decrypt_no_key;     /* -1 because a recipient has no key */
    char cipher[24];        /* decrypted: "aes-256-cbc" */
    char integrity[12];     /* decrypted: signature, aead, none */
    char decrypt_reason[200];
    enum harvest_status harvest; /* Harvest: what became of the signer's
                                    certificate (HARVEST_NONE: nothing) */
    /* outbound */
    int signed_ok;
    enum outbound_unsigned unsigned_kind; /* why not, when !signed_ok */
    int encrypt_tried;      /* Mode e looked at it (outbound) */
    int encrypted_ok;
    char encrypt_reason[300]; /* "encrypted for 3 recipients (aes-256-cbc)",
                                 "not encrypted: bob@x has no certificate" */
    /* both: the result's comment, why (not) signed, in words */
    char reason[256];
    /* failures */
    int error;              /* internal error (with tempfail 0: OnError
                               accept let the message pass) */
    int tempfail;           /* answered with a tempfail (always an error) */
    char error_text[160];
};

const struct session_outcome *session_outcome(const session_t *s);

/* The outcome as one key=value log line, without the queue id:
 *   event=message dir=in client=192.0.2.1 result=pass signer=a@b part=1
 *     serial=0a reason="signature verified" signatures=1
 *   event=message dir=out client=local login=a@b result=signed reason="..."
 * (decrypted=yes cipher=aes-256-cbc integrity=signature after a decrypted
 * message's result; result=none reason="encrypted, not decrypted: ..."
 * decrypted=no for one left encrypted; error="..." onerror=accept added
 * after an accepted internal error;
 * result= is also none, skipped, unsigned, tempfail, ignored, aborted).
 * "" while dir is NONE.  Returns the length as snprintf. */
int session_outcome_format(const struct session_outcome *o, char *buf,
                           size_t len);

/* The syslog priority of the outcome's log line: LOG_NOTICE when
 * something failed (inbound fail, policy, permerror, temperror; a
 * tempfail; an internal error let pass by OnError accept; outbound mail
 * left unsigned because the login may not sign as From or our own
 * certificate is unusable), so that LogLevel notice still shows every
 * failure; LOG_DEBUG for aborted messages; LOG_INFO otherwise (pass,
 * neutral, none, signed, the usual reasons not to sign). */
int session_outcome_priority(const struct session_outcome *o);

/* session_outcome_format of the last message, valid until the next
 * begin ("" before it ended). */
const char *session_summary(const session_t *s);

/* The header block received so far, in order (for outbound.c, tests). */
const struct msg_headers *session_headers(const session_t *s);

#endif
