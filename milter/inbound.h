/*
 * inbound.h - verification of one inbound message: feeds it to the MIME
 * parser, runs one verify context per S/MIME object and turns the
 * outcome into per-signature results with their IMAP section
 * (body.smime-part) as RFC 7281 and SPEC.md define it.
 */
#ifndef SMIME_INBOUND_H
#define SMIME_INBOUND_H

#include <stddef.h>
#include "actions.h"
#include "conf.h"
#include "harvest.h"
#include "result.h"

typedef struct inbound inbound_t;

struct inbound_result {
    smime_signer_result_t r;   /* none is never listed */
    char part[64];             /* body.smime-part */
};

/* Starts with the header block (fed as "Name: value" CRLF lines, then the
 * empty line).  cfg is borrowed and must outlive the object.  NULL on
 * ENOMEM. */
inbound_t *inbound_new(const config_t *cfg, const struct msg_headers *hdrs);
void inbound_free(inbound_t *in);                   /* accepts NULL */

/* 0 when the top-level Content-Type cannot hold a signature (not
 * multipart, not pkcs7-mime, not octet-stream): the body can be skipped
 * and the result is none. */
int inbound_signable(const inbound_t *in);

/* Body bytes (CRLF line ends). 0, or -1 on an internal error. */
int inbound_body(inbound_t *in, const char *buf, size_t len);
/* End of message. 0, or -1 on an internal error. */
int inbound_finish(inbound_t *in);

/* After finish: the signatures found, in order of appearance; or, when
 * the message hit a limit against hostile input (MIME_ERR_LIMITS), one
 * permerror result without part whose reason names the limit. */
size_t inbound_results(const inbound_t *in,
                       const struct inbound_result **out);

/* After finish: with Harvest yes and a CertificateStore, the candidate
 * of the top-level signature that passed for a From address (the first
 * one), or NULL.  Never for a message that ended permerror. */
const harvest_t *inbound_harvest(const inbound_t *in);

#endif
