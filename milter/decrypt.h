/*
 * decrypt.h - Mode d: decryption of one inbound message whose top-level
 * entity is CMS EnvelopedData or AuthEnvelopedData (SPEC "Decryption"),
 * between session.c and crypto/envelope.h.
 *
 * Life of a message:
 *   r = decrypt_begin(cfg, hdrs, rcpt, nrcpt, &d)    at end of headers
 *       1: a candidate by its Content-Type (*d set); 0: not one (*d
 *       NULL); -1: out of memory.  hdrs, rcpt: borrowed until
 *       decrypt_free (the session keeps them unchanged until eom).
 *   decrypt_body(d, buf, len)      the body as the MTA delivers it; 0 or
 *       -1 internal error (the spool).  Decryption problems are not
 *       errors: they are noted and the message stays as it is.  Once the
 *       RecipientInfos are read, every envelope recipient must have a
 *       decryption credential one of them names, else nothing is
 *       decrypted; the first recipient's credential opens the message.
 *       The plaintext goes to a spool (SpoolThreshold in memory): CBC as
 *       it streams, GCM too, released only after the tag checked out.
 *   r = decrypt_finish(d)          at eom: 1 decrypted (the plaintext is
 *       a plausible MIME entity), 0 not (decrypt_outcome/_reason say
 *       why), -1 internal error.
 *   After 1: decrypt_headers() the decrypted entity's header block,
 *   decrypt_body_rewind() then decrypt_body_read() its body (any number
 *   of times).
 *   decrypt_free(d)                accepts NULL; key material is wiped.
 * Never logs: the session puts the outcome into the message's line.
 */
#ifndef SMIME_DECRYPT_H
#define SMIME_DECRYPT_H

#include <stddef.h>
#include <sys/types.h>
#include "actions.h"
#include "conf.h"
#include "inbound.h"

typedef struct decrypt decrypt_t;

enum decrypt_outcome {
    DECRYPT_NOT_ENVELOPED,  /* a .p7m of another CMS type: verify it */
    DECRYPT_DONE,           /* decrypted */
    DECRYPT_NO_KEY,         /* an envelope recipient has no key for it */
    DECRYPT_FAILED,         /* unsupported, damaged, wrong key, tag */
    DECRYPT_UNAVAILABLE     /* the key's token cannot be reached now:
                               decrypt_finish() fails, OnError decides */
};

int decrypt_begin(const config_t *cfg, const struct msg_headers *hdrs,
                  char *const *rcpt, size_t nrcpt, decrypt_t **d);
int decrypt_body(decrypt_t *d, const char *buf, size_t len);
int decrypt_finish(decrypt_t *d);
void decrypt_free(decrypt_t *d);

enum decrypt_outcome decrypt_outcome(const decrypt_t *d);
/* 1 once the CMS is known to be EnvelopedData/AuthEnvelopedData (its
 * RecipientInfos read): the message is decrypted or left as it is, and
 * its ciphertext need not be verified. */
int decrypt_enveloped(const decrypt_t *d);
const char *decrypt_reason(const decrypt_t *d);  /* "" when decrypted */
const char *decrypt_cipher(const decrypt_t *d);  /* "aes-256-cbc" */
int decrypt_is_aead(const decrypt_t *d);
const char *decrypt_for(const decrypt_t *d);     /* "a@x, b@y" */

const struct msg_headers *decrypt_headers(const decrypt_t *d);
int decrypt_body_rewind(decrypt_t *d);           /* 0 or -1/errno */
/* An actions_read_fn: rarg is the decrypt_t. */
ssize_t decrypt_body_read(void *rarg, void *buf, size_t len);

/* After decrypt_finish returned 1.
 * decrypt_verify: the decrypted message (outer headers but the Content-*
 *   ones, then the entity's Content-* headers, then its body) through
 *   the ordinary verifier; finished, or NULL on an internal error.
 * decrypt_apply: the changes through the action vtable: the outer
 *   Content-* headers deleted, the entity's Content-* headers appended,
 *   the body replaced by the entity's body.  0 or -1. */
inbound_t *decrypt_verify(decrypt_t *d, const struct msg_headers *outer);
int decrypt_apply(decrypt_t *d, const struct msg_headers *outer,
                  const struct actions *act, void *arg);

#endif
