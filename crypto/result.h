/*
 * result.h - the S/MIME verification results of RFC 7281 and the
 * per-signature outcome that crypto/ hands to its callers.
 */
#ifndef SMIME_RESULT_H
#define SMIME_RESULT_H

typedef enum smime_result {
    SMIME_RESULT_NONE,
    SMIME_RESULT_PASS,
    SMIME_RESULT_FAIL,
    SMIME_RESULT_POLICY,
    SMIME_RESULT_NEUTRAL,
    SMIME_RESULT_TEMPERROR,
    SMIME_RESULT_PERMERROR
} smime_result_t;

/* "none", "pass", ... as written in Authentication-Results. */
const char *smime_result_name(smime_result_t r);

/* One signature (one SignerInfo). Strings are NUL-terminated, possibly
 * empty when unknown. */
typedef struct smime_signer_result {
    smime_result_t result;
    char reason[256];       /* short English: "signature verified",
                               "content altered", "expired certificate",
                               "From mismatch", ...; "untrusted issuer
                               DN" names a certificate issuer */
    char identifier[256];   /* signer email address from the certificate
                               (the one matching From/Sender if several) */
    char serial[130];       /* certificate serial, lower-case hex */
    char issuer[512];       /* issuer DN, RFC 4514 string */
    char digest[16];        /* "sha-256", ... (for logging) */
    char sigalg[24];        /* "rsa", "rsa-pss", "ecdsa", "ed25519" */
} smime_signer_result_t;

#endif
