/*
 * crypto_testlib.h - helpers shared by the crypto/ unit tests.
 */
#ifndef CRYPTO_TESTLIB_H
#define CRYPTO_TESTLIB_H

#include <stddef.h>

#include "verify.h"

extern char pki[1024];          /* the test PKI (mkpki.sh output) */
extern char work[1024];         /* scratch files of check_crypto */
extern const char *openssl_bin, *certtool_bin;
extern const char content[];    /* the signed entity, CRLF; in WORK/msg.txt */
extern const size_t content_len;

int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned char *slurp(const char *path, size_t *n);
/* The serial mkpki.sh gave user name (serials.txt). */
void serial_of(const char *name, char *out, size_t len);
/* Runs mkpki.sh and writes WORK/msg.txt (an unchecked fixture). */
void setup_once(void);

/* openssl cms -sign -binary by PKI user name with extra options into
 * WORK/out (DER); returns the bytes (malloc'd). */
unsigned char *ossl_sign(const char *out, const char *name,
                         const char *extra, size_t *n);

typedef struct vrun {
    smime_policy_t pol;
    const char *crl;            /* CRL file or NULL */
    int opaque;
    size_t chunk;               /* 0: all at once */
    const char *from;
    smime_signer_result_t out[8];
} vrun_t;

void vrun_init(vrun_t *r, const char *from);
/* Verifies cms (detached over body, or opaque) with roots.pem: the
 * number of results in r->out. */
size_t verify_with(vrun_t *r, const char *body, size_t bodylen,
                   const unsigned char *cms, size_t cmslen);
size_t verify(vrun_t *r, const unsigned char *cms, size_t cmslen);
void expect(const smime_signer_result_t *res, smime_result_t want,
            const char *reason);
/* One signature by user name, verified with From name@example.org. */
void expect_user(const char *name, const char *extra, smime_result_t want,
                 const char *reason);

#endif
