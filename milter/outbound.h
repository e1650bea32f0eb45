/*
 * outbound.h - the signing side of the message core: the contract between
 * session.c (which decides that a message is outbound) and the signer
 * (outbound.c, owned by the signing work).
 *
 * Life cycle:
 *   At config load (per snapshot, also for -n):
 *     outbound_init(cfg, &state, err, errlen)
 *       builds what signing needs for the whole life of the snapshot (the
 *       opened keystore, cached signers) and stores it in cfg->outbound
 *       (config.c does the store).  -1 with a message in err makes the
 *       configuration unusable (reported against the Keystore line).
 *       Called when Mode has 's' or 'd' (decryption uses the same
 *       keystore: outbound_keystore).  outbound_state_free(state) runs
 *       when the last reference to the snapshot goes, possibly on another
 *       thread, never while a message still uses it.
 *   Per message, when it is outbound (SASL-authenticated or from
 *   InternalHosts) and Mode has 's', at end of headers:
 *     r = outbound_begin(cfg, login, from, hdrs, &o, why, whylen)
 *       cfg   the snapshot (a reference is held by the session for the
 *             whole message: cfg->outbound stays valid);
 *       login the SASL login ({auth_authen}), NULL when the client is
 *             outbound by InternalHosts only;
 *       from  the value of the (first) From header, NULL if none;
 *       hdrs  the whole header block in order (names, values as the MTA
 *             delivered them); borrowed, valid until outbound_finish
 *             returns (the session keeps it unchanged until then).
 *       Returns 1: signing, *o set;  0: not signing, *o NULL, *kind says
 *       which kind of refusal (enum outbound_unsigned, for the counters)
 *       and why says it in a few words for the log ("no keystore entry
 *       for x@y", "already signed", "DKIM-Signature present", "login bob
 *       may not sign as alice@..."; the wording may change, the kind is
 *       what programs look at);  -1: internal error (ENOMEM, I/O; why
 *       says), *o NULL.
 *   Then the body, in the chunks the MTA delivers (CRLF line ends):
 *     outbound_body(o, buf, len)      0, or -1 internal error (errno set).
 *       The signer must never hold the body in memory beyond
 *       cfg->spool_threshold (use mime/spool.h in cfg->spool_directory).
 *   At end of message:
 *     outbound_finish(o, act, actarg, &kind, why, whylen)
 *       performs every change through the action vtable (actions.h):
 *       header changes (Content-Type, Content-Transfer-Encoding,
 *       MIME-Version) with change_header/insert_header and the new body
 *       with replace_body.  Returns 1 signed (why may name the signer for
 *       the log), 0 not signed after all (*kind and why say; no action
 *       was performed), -1 internal error (why says; the session then applies
 *       OnError; actions may have been performed partly only if an
 *       action itself failed).
 *     outbound_free(o)                accepts NULL; also on abort.
 * A message that is not signed passes unchanged.  Nothing about a
 * message is logged here: the session puts `why` into the per-message
 * summary line.  The one line logged here is a change of the keystore
 * file's state (event=keystore: reloaded, or unusable and the last good
 * one kept), once per change.
 */
#ifndef SMIME_OUTBOUND_H
#define SMIME_OUTBOUND_H

#include <stddef.h>
#include "actions.h"
#include "conf.h"

typedef struct outbound outbound_t;

/* Why a message is not signed.  Keep in step with the unsigned_*
 * counters (stats.h). */
enum outbound_unsigned {
    OUTBOUND_UNSIGNED_OTHER,        /* none of the kinds below */
    OUTBOUND_UNSIGNED_NO_KEYSTORE,  /* no Keystore configured */
    OUTBOUND_UNSIGNED_NO_ENTRY,     /* From address has no keystore entry */
    OUTBOUND_UNSIGNED_LOGIN,        /* the login may not sign as From */
    OUTBOUND_UNSIGNED_PROTECTED,    /* already S/MIME signed or encrypted,
                                       or PGP/MIME */
    OUTBOUND_UNSIGNED_DKIM,         /* DKIM-Signature present (SignSkipDKIM) */
    OUTBOUND_UNSIGNED_TOO_LARGE,    /* MaxMessageSize, header block cap */
    OUTBOUND_UNSIGNED_FROM,         /* no From, several, bad address */
    OUTBOUND_UNSIGNED_CERTIFICATE   /* signer certificate unusable */
};

int outbound_init(const config_t *cfg, void **state, char *err,
                  size_t errlen);
void outbound_state_free(void *state);
/* The snapshot's keystore (reopened first when it was rebuilt, the
 * change logged once), for decryption; NULL without one. */
struct keystore;
struct keystore *outbound_keystore(const config_t *cfg);

int outbound_begin(const config_t *cfg, const char *login, const char *from,
                   const struct msg_headers *hdrs, outbound_t **o,
                   enum outbound_unsigned *kind, char *why, size_t whylen);
int outbound_body(outbound_t *o, const char *buf, size_t len);
int outbound_finish(outbound_t *o, const struct actions *act, void *actarg,
                    enum outbound_unsigned *kind, char *why, size_t whylen);
void outbound_free(outbound_t *o);

#endif
