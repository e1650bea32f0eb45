/*
 * cms.h - CMS ContentInfo / SignedData / SignerInfo parsing (RFC 5652)
 * over der.h (internal to crypto/).  No cryptography here: the parser
 * only finds the pieces and names the algorithms; verify.c judges them.
 * All pointers borrow the caller's buffer.
 */
#ifndef SMIME_CMS_H
#define SMIME_CMS_H

#include <stddef.h>
#include <stdint.h>

#include "algs.h"
#include "der.h"

/* "sha-256" (the micalg spelling), "rsa-pss", ... */
const char *cms_digest_name(cms_digest_t d);
const char *cms_sigkind_name(cms_sigkind_t k);

typedef enum cms_status {
    CMS_OK = 0,
    CMS_NOT_SIGNED,          /* well-formed ContentInfo, not signedData */
    CMS_MALFORMED,
    CMS_UNSUPPORTED          /* an algorithm we do not implement */
} cms_status_t;

typedef struct cms_blob {
    const uint8_t *p;
    size_t n;
} cms_blob_t;

typedef struct cms_signed {
    cms_blob_t econtent_type;      /* OID contents */
    int has_econtent;
    der_tlv_t econtent;            /* the OCTET STRING (maybe constructed) */
    der_cur_t econtent_cur;        /* its parent, for der_octets_foreach */
    der_cur_t certs;               /* contents of certificates [0], if any */
    der_cur_t signers;             /* contents of the signerInfos SET */
    unsigned nsigners;
} cms_signed_t;

typedef struct cms_signer {
    cms_status_t status;           /* CMS_OK, CMS_MALFORMED, CMS_UNSUPPORTED */
    int sid_is_ski;
    cms_blob_t issuer;             /* DER Name (whole TLV) */
    cms_blob_t serial;             /* INTEGER contents */
    cms_blob_t ski;                /* subjectKeyIdentifier octets */
    cms_digest_t digest;           /* digestAlgorithm */
    cms_sigkind_t sigkind;
    cms_digest_t pss_salt_hash;    /* RSA-PSS: hash (= MGF1 hash) */
    unsigned pss_salt;             /* RSA-PSS: salt length */
    int has_attrs;
    cms_blob_t attrs;              /* whole signedAttrs TLV ([0] tag) */
    cms_blob_t content_type;       /* contentType attribute, OID contents */
    cms_blob_t message_digest;     /* messageDigest attribute octets */
    /* For harvesting (RFC 8551 2.5): the value TLV of each, p NULL when
     * absent, repeated or not single-valued (never an error here). */
    cms_blob_t signing_time;       /* UTCTime or GeneralizedTime */
    cms_blob_t caps;               /* SMIMECapabilities SEQUENCE */
    cms_blob_t enc_key_pref;       /* SMIMEEncryptionKeyPreference CHOICE */
    cms_blob_t signature;
} cms_signer_t;

/* Parses ContentInfo and, for signedData, the SignedData around the
 * certificates and SignerInfos (which are read with the functions
 * below). */
cms_status_t cms_parse(const uint8_t *buf, size_t len, cms_signed_t *sd);
/* Only the contentType of a ContentInfo whose start is buf (the rest may
 * be missing): CMS_OK for signedData, CMS_NOT_SIGNED, CMS_MALFORMED. */
cms_status_t cms_peek_type(const uint8_t *buf, size_t len);

/* Next certificate DER (1), end (0), malformed (-1).  Entries of the
 * CertificateChoices that are not X.509 certificates are skipped. */
int cms_next_cert(cms_signed_t *sd, cms_blob_t *cert);
/* Next SignerInfo (1), end (0); problems inside one SignerInfo are in
 * si->status. */
int cms_next_signer(cms_signed_t *sd, cms_signer_t *si);

/* signingTime value (UTCTime or GeneralizedTime TLV, RFC 5652 11.3) as
 * seconds since the epoch: 0, or -1 if malformed. */
int cms_time_parse(cms_blob_t t, int64_t *out);

/* SMIMEEncryptionKeyPreference (RFC 8551 2.5.3), the value TLV: the
 * issuerAndSerialNumber [0] (issuer: DER Name TLV, serial: INTEGER
 * contents), or the subjectKeyIdentifier of recipientKeyId [1] or
 * subjectAltKeyIdentifier [2].  0, or -1 if malformed. */
typedef struct cms_keypref {
    int is_ski;
    cms_blob_t issuer, serial, ski;
} cms_keypref_t;
int cms_keypref_parse(cms_blob_t v, cms_keypref_t *out);

/* 1 if oid (contents) is id-data. */
int cms_oid_is_data(cms_blob_t oid);

#endif
