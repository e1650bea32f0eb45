/*
 * verify.h - CMS SignedData verification (RFC 5652, RFC 8551, RFC 8550)
 * over GnuTLS, streaming.
 *
 * Usage for a clear-signed (detached) message:
 *   v = smime_verify_new(trust, &policy, 1);
 *   smime_verify_content(v, ...)   the signed entity, canonical CRLF bytes,
 *                                  in chunks of any size (the first
 *                                  policy->hold_max bytes are held, then
 *                                  everything is hashed as it comes)
 *   smime_verify_cms(v, ...)       the CMS (DER or BER) in chunks
 *   n = smime_verify_finish(v, addrs, naddrs, out, max);
 *   smime_verify_free(v);
 * For opaque signed-data, detached = 0 and no content is fed (content
 * fed anyway is ignored); the CMS then holds the content and is verified
 * in memory, up to policy->max_cms_size.  In detached mode a CMS that
 * also carries eContent is judged against the content that was fed.
 *
 * Results are per signer, already judged against the policy (see
 * ../shared/SPEC.md "Authentication-Results"): "signature does not
 * verify" (fail), "certificate not trustworthy" (fail), "against policy"
 * (policy), malformed (permerror) and transient (temperror) are kept apart
 * in the result and its reason.  Never logs.
 *
 * Reasons (short, lower case, put verbatim in the header comment):
 *   pass      "signature verified"
 *   fail      "content altered", "bad signature", "untrusted certificate",
 *             "untrusted root DN" (the chain ends at a self-signed
 *             certificate that is no trust anchor), "untrusted issuer DN"
 *             (it ends at a certificate whose issuer DN is neither in the
 *             CMS nor a trust anchor: a missing intermediate or an
 *             unknown root, which cannot be told apart), "expired certificate",
 *             "certificate not yet valid", "revoked certificate",
 *             "certificate chain too long", "no emailProtection",
 *             "wrong key usage", "unreadable certificate"
 *   policy    "weak key", "SHA-1 signature", "no address in certificate",
 *             "From mismatch"
 *   permerror "malformed CMS", "no signer certificate", "too many signers",
 *             "too many certificates", "CMS too large",
 *             "unsupported algorithm"
 *   temperror "CRL unavailable" (a CRLFile could not be read and the
 *             signature would otherwise pass), "internal error"
 * The first failing check decides, in this order: malformed, signature,
 * content digest, chain (with CRLs), certificate usage, policy.
 *
 * Thread safety: one trust store may be shared read-only by any number
 * of threads; a verify context belongs to one thread.
 */
#ifndef SMIME_VERIFY_H
#define SMIME_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "result.h"
#include "trust.h"

typedef struct smime_policy {
    int require_from_match;   /* signer address must match From/Sender */
    int allow_sha1;           /* SHA-1 signatures acceptable */
    unsigned min_rsa_bits;    /* smaller RSA keys give policy (2048) */
    unsigned max_signers;     /* more SignerInfos: permerror (8) */
    unsigned max_certs;       /* more certificates: permerror (32) */
    unsigned max_chain;       /* longer chains: fail (8) */
    size_t max_cms_size;      /* larger CMS: permerror (64 MiB) */
    size_t hold_max;          /* detached content held until the CMS names
                                 its digests (SMIME_VERIFY_HOLD_MAX) */
} smime_policy_t;
void smime_policy_default(smime_policy_t *p);

typedef struct smime_verify smime_verify_t;

/* Detached content up to policy->hold_max (by default this) is held in
 * memory and hashed once the CMS has named its digests (only those);
 * beyond it, the content is hashed with every supported digest as it
 * streams, since the CMS that names the digest comes after it and
 * micalg cannot be trusted. */
#define SMIME_VERIFY_HOLD_MAX (256u << 10)

/* trust and policy are borrowed and must outlive v. NULL on ENOMEM. */
smime_verify_t *smime_verify_new(const smime_trust_t *trust,
                                 const smime_policy_t *policy, int detached);
void smime_verify_free(smime_verify_t *v);          /* accepts NULL */

/* 0, or -1 on an internal error (ENOMEM; finish() then gives one
 * temperror result).  A CMS over max_cms_size is not an error here:
 * finish() reports it. */
int smime_verify_content(smime_verify_t *v, const void *buf, size_t len);
int smime_verify_cms(smime_verify_t *v, const void *buf, size_t len);

/*
 * addrs: the addr-specs of From and Sender, From first.
 * Returns the number of signers written to out (at most max), at least 1
 * when the CMS is signed-data (malformed CMS: one permerror result), or 0
 * when the CMS is not signed-data at all (enveloped, compressed, ...;
 * the caller reports none).
 */
size_t smime_verify_finish(smime_verify_t *v, const char *const *addrs,
                           size_t naddrs, smime_signer_result_t *out,
                           size_t max);

/*
 * Harvesting (SPEC "Certificate store and harvesting"): after finish(),
 * what result i (an index into its out) offers to the certificate store
 * when it is a pass: the certificate its SMIMEEncryptionKeyPreference
 * attribute names among the CMS certificates, else the signer
 * certificate, in both cases only if it can encrypt to the signer's
 * address (smime_cert_can_encrypt with the result's identifier); the
 * other CMS certificates as its chain; the SMIMECapabilities and the
 * signingTime of the SignerInfo.  Whether the result is a whole-message
 * pass for the From address is the caller's to judge.  Returns 1 with
 * h->cert set, 0 with h->why saying why not, -1 on ENOMEM.  Pointers
 * stay valid until the next call or smime_verify_free(v).
 */
typedef struct smime_harvest {
    const unsigned char *cert;            /* DER */
    size_t cert_len;
    const unsigned char *const *chain;    /* the other CMS certificates */
    const size_t *chain_len;
    size_t nchain;
    const unsigned char *caps;            /* SMIMECapabilities DER, or NULL */
    size_t caps_len;
    int64_t signing_time;                 /* seconds since the epoch; 0:
                                             absent or malformed */
    const char *why;                      /* nothing to harvest: why */
} smime_harvest_t;
int smime_verify_harvest(smime_verify_t *v, size_t i, smime_harvest_t *h);

/* Before finish(): results of v will be asked for by
 * smime_verify_harvest.  Without it finish() picks nothing (the pick
 * reads the certificate's addresses and usage again: about 2 % of a
 * verification) and smime_verify_harvest answers 0, "not asked". */
void smime_verify_want_harvest(smime_verify_t *v);

#endif
