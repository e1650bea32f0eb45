/*
 * signer_priv.h - the inside of smime_signer_t, shared by signer.c (which
 * parses credentials) and sign.c (which writes the CMS).  Not for other
 * modules: they see the opaque type of sign.h.
 */
#ifndef SMIME_SIGNER_PRIV_H
#define SMIME_SIGNER_PRIV_H

#include <stdatomic.h>
#include <gnutls/abstract.h>
#include "algs.h"
#include "sign.h"

struct smime_signer {
    atomic_uint refs;                 /* smime_signer_ref/free */
    gnutls_privkey_t key;
    gnutls_x509_crt_t *crts;          /* [0] signer, then intermediates */
    size_t ncrts;

    cms_sigkind_t kind;               /* the scheme (algs.h) */
    gnutls_digest_algorithm_t dig;    /* messageDigest hash */
    gnutls_sign_algorithm_t sign;     /* for gnutls_privkey_sign_data2 */
    unsigned sign_flags;
    unsigned salt;                    /* RSA-PSS salt length */

    /* DER pieces that are the same for every message, made once. */
    unsigned char *digest_alg;  size_t digest_alg_len;  /* AlgorithmIdentifier */
    unsigned char *sig_alg;     size_t sig_alg_len;     /* AlgorithmIdentifier */
    unsigned char *sid;         size_t sid_len;         /* IssuerAndSerialNumber */
    unsigned char *certset;     size_t certset_len;     /* [0] IMPLICIT SET */
    unsigned char *attr_caps;   size_t attr_caps_len;   /* SMIMECapabilities */
    unsigned char *attr_scv2;   size_t attr_scv2_len;   /* signingCertificateV2 */
};

/* sign.c: make the DER pieces above from key, crts and the algorithms.
 * 0 or -1 (ENOMEM, unreadable certificate). */
int smime_signer_precompute(struct smime_signer *s, char *err, size_t errlen);

#endif
