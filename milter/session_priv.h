/*
 * session_priv.h - what the files of the session share, and nothing
 * else includes:
 *
 *   session.c          the connection facts and the message as it
 *                      arrives: recipients, headers, the direction at end
 *                      of headers, the body streamed to the verifier,
 *                      decrypter, signer and encrypter; internal errors
 *   session_eom.c      end of message: forged headers removed, the
 *                      verdict written, signing and encryption finished,
 *                      OnError
 *   session_outcome.c  the outcome of a message and its log line
 */
#ifndef SMIME_SESSION_PRIV_H
#define SMIME_SESSION_PRIV_H

#include <stddef.h>
#include "arheader.h"
#include "decrypt.h"
#include "encrypt.h"
#include "inbound.h"
#include "outbound.h"
#include "rcpt_policy.h"
#include "session.h"

#define AR_NAME "Authentication-Results"
#define HEADERS_REASON "header block too large"
#define INTERNAL_REASON "internal error"
#define TOO_LARGE_REASON "message too large"
#define NEVER_REASON "a recipient's policy is never"

enum direction { DIR_NONE, DIR_IN, DIR_OUT };

struct session {
    /* connection */
    char *client;              /* NULL: local submission, no address */
    int client_lost;           /* the address could not be stored: never
                                  local or internal, each message fails */
    char *login;
    char *daemon;
    char *qid;
    /* message */
    config_t *cfg;
    struct msg_header *hv;
    size_t nh, caph;
    size_t header_bytes;
    int headers_dropped;       /* header block too large to keep */
    size_t tail_ar, tail_tag;  /* A-R / TagHeader headers past the cap */
    size_t tail_dec;           /* DecryptHeader headers past the cap */
    unsigned *tail_ours;       /* which of the tail_ar are ours (1-based) */
    size_t ntail_ours, cap_tail;
    char **rcpt;               /* accepted envelope recipients */
    size_t nrcpt, cap_rcpt;
    struct encpolicy_txn rcpt_enc; /* Mode e: the recipients' policy so far */
    uint64_t size;
    enum direction dir;
    int skipping;              /* body no longer wanted */
    int too_large;             /* MaxMessageSize exceeded */
    int failed;                /* internal error */
    char fail_why[160];
    inbound_t *in;
    decrypt_t *dec;            /* Mode d: a top-level enveloped message */
    outbound_t *out;
    char out_why[256];
    enum outbound_unsigned out_kind;
    int signed_ok;
    encrypt_t *enc;            /* Mode e: encrypting this message */
    int encrypt_tried;         /* Mode e applied: enc_why says */
    int encrypted_ok;
    char enc_why[256];
    int stripped;              /* strip_forged: 1 done, -1 failed */
    struct msg_headers view;
    struct session_outcome outcome;
    char summary[1024];        /* the outcome's log line */
};

/* session.c */

/* An internal error: why (with errno's text when set) is kept for the
 * log, the body is no longer wanted and the verifier, decrypter and
 * signer are freed.  The first reason stays. */
void sess_fail(session_t *s, const char *why);

/* The direction: SASL login, InternalHosts or local submission. */
int sess_is_outbound(const session_t *s);

/* session_outcome.c */

/* s (NULL: "") into dst of len bytes, cut if need be. */
void sess_copy_into(char *dst, size_t len, const char *s);

/* The message ended (eom, abort): complete the outcome, make the line. */
void sess_outcome_end(session_t *s, enum session_dir dir);

/* Inbound: the first of the n results written to the header. */
void sess_outcome_inbound(session_t *s, const struct ar_result *r,
                          size_t n);

/* Outbound: signed, encrypted, or why not. */
void sess_outcome_outbound(session_t *s);

#endif
