/*
 * keystore_vet.h - what smime-keystore(8) says about a signing credential
 * beyond keystore_check(): can recipients verify its signatures (the
 * chain against the daemon's trust anchors and CRLs, or, without them,
 * self-signed certificates and missing intermediates), Ed25519, and a
 * certificate that expires soon.
 */
#ifndef SMIME_KEYSTORE_VET_H
#define SMIME_KEYSTORE_VET_H

#include <stddef.h>
#include <time.h>
#include <gnutls/x509.h>
#include "keystore.h"
#include "sign.h"
#include "trust.h"

#define KEYSTORE_VET_SOON_DAYS 30

/* Each finding once: error (the entry must be refused) or a warning. */
typedef void (*keystore_vet_fn)(void *arg, int error, const char *msg);

/* With trust (the trust store of the configuration named conf_name):
 * a chain that does not verify to an anchor, or is revoked, is an
 * error.  Without trust: a self-signed certificate, or one whose issuer
 * is not in the credential, is a warning.  Ed25519 and expiry within
 * KEYSTORE_VET_SOON_DAYS of now are warnings.  Returns the number of
 * errors. */
int keystore_vet(const smime_signer_t *signer, const smime_trust_t *trust,
                 unsigned max_chain, const char *conf_name, time_t now,
                 keystore_vet_fn fn, void *arg);

/* "expires in 12 days (2026-01-02T00:00:00Z)" when crt expires within
 * KEYSTORE_VET_SOON_DAYS of now (and has not yet): 1, else 0 and "". */
int keystore_vet_expiry(gnutls_x509_crt_t crt, time_t now, char *buf,
                        size_t len);

/* Each credential, whatever its purpose, whose certificate expires
 * within KEYSTORE_VET_SOON_DAYS of now and has not yet: fn gets its
 * certificate with its stored purpose and keystore_vet_expiry()'s text.
 * An expired one (a decryption key kept for old mail) is not reported.
 * The one rule for smime-keystore check, -n and the daemon's daily
 * line: keystore_vet_soon() for the credentials of
 * keystore_foreach_cert(), keystore_vet_entry_soon() for a parsed entry.
 * Returns how many were reported. */
typedef void (*keystore_vet_soon_fn)(void *arg, const char *address,
                                     gnutls_x509_crt_t leaf,
                                     unsigned purpose, const char *when);
unsigned keystore_vet_soon(const char *address, const keystore_cert_t *creds,
                           size_t n, time_t now, keystore_vet_soon_fn fn,
                           void *arg);
unsigned keystore_vet_entry_soon(const char *address,
                                 const keystore_entry_t *e, time_t now,
                                 keystore_vet_soon_fn fn, void *arg);

/* When one of address's credentials (creds, as keystore_foreach_cert()
 * gives them) is on a token, the entry is looked up in ks and each of
 * its token keys signs once now (smime_token_probe, which also feeds
 * the token state log_token_state() reports); fn (may be NULL) gets each
 * that cannot, with its URI and why.  -n warns with it, the daemon's
 * walk logs the state.  Nothing for an entry that cannot be looked up
 * (its mail fails and says so). */
typedef void (*keystore_vet_token_fn)(void *arg, const char *address,
                                      const char *url, const char *why);
void keystore_vet_tokens(keystore_t *ks, const char *address,
                         const keystore_cert_t *creds, size_t n,
                         keystore_vet_token_fn fn, void *arg);

#endif
