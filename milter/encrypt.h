/*
 * encrypt.h - Mode e at end of message (SPEC "Encryption"): the content
 * entity of an outbound message, signed first when signing applies, is
 * encrypted to every envelope recipient and the message becomes
 * application/pkcs7-mime (base64); other headers stay.
 *
 * Per message, driven by session.c:
 *   encrypt_begin(cfg, rcpts, n, hdrs, &e, why, whylen)   end of headers
 *     1: every recipient has a usable certificate (crypto/recipient.h),
 *        *e set;  0: not encrypting (why: "bob@example.net has no
 *        certificate", "already encrypted", ...);  -1 internal error.
 *     This is EncryptDefault opportunistic: the RCPT-time policy
 *     (never/required, EncryptSplit) sits in front of it.
 *   encrypt_entity(e, signing, why, whylen)   still at end of headers,
 *     once outbound_begin has said whether the message is signed (at
 *     once when Mode cannot sign): 1, the signed entity is encrypted
 *     and the original body is not kept (outbound_finish must then hand
 *     it over; encrypt_finish fails if it does not); 0, the message's
 *     own entity, whose body streams through the CMS writer from here
 *     (begun here: the RSA/ECDH work of the RecipientInfos is done at
 *     encrypt_begin).  0, or -1 with why;
 *   encrypt_body(e, buf, len)      the original body: through the CMS
 *     writer, or dropped when signing;
 *   encrypt_actions(e, ...)        when the message is also signed: the
 *     actions to give outbound_finish, which hand the signed entity (its
 *     new Content-Type and body) to e instead of the message, and pass
 *     every other change through to the real actions;
 *   encrypt_finish(e, act, arg, why, whylen)  1 encrypted (why: "encrypted
 *     for 3 recipients (aes-256-cbc)"), -1 internal error;
 *   encrypt_free(e)                accepts NULL.
 * Memory is O(SpoolThreshold): the base64 CMS goes through a spool
 * (mime/spool.h), and so does the signed entity.
 */
#ifndef SMIME_ENCRYPT_H
#define SMIME_ENCRYPT_H

#include <stddef.h>
#include "actions.h"
#include "conf.h"

typedef struct encrypt encrypt_t;

int encrypt_begin(config_t *cfg, char *const *rcpts, size_t nrcpt,
                  const struct msg_headers *hdrs, encrypt_t **e,
                  char *why, size_t whylen);
int encrypt_entity(encrypt_t *e, int signing, char *why, size_t whylen);
int encrypt_body(encrypt_t *e, const char *buf, size_t len);
const struct actions *encrypt_actions(encrypt_t *e, const struct actions *act,
                                      void *arg);
int encrypt_finish(encrypt_t *e, const struct actions *act, void *arg,
                   char *why, size_t whylen);
void encrypt_free(encrypt_t *e);

#endif
