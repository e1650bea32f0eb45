/*
 * rcpt_policy.h - the encryption policy at RCPT time (SPEC "Encryption"):
 * the recipient's level from EncryptPolicyFile/EncryptDefault, its
 * certificate from CertificateStore (crypto/recipient.h, the one rule
 * of "usable"), and encpolicy_rcpt()'s answer, logged with its reason.
 * Used by session_rcpt() for outbound mail when Mode has e.
 */
#ifndef SMIME_RCPT_POLICY_H
#define SMIME_RCPT_POLICY_H

#include "conf.h"
#include "encpolicy.h"

/* addr without angle brackets; qid for the log line. */
void rcpt_policy_decide(config_t *cfg, struct encpolicy_txn *t,
                        const char *addr, const char *qid,
                        struct encpolicy_reply *out);

#endif
