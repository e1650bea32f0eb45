/*
 * trust.h - the set of trust anchors and CRLs that verification chains
 * to.  Built once (at start and on reload), then shared read-only by any
 * number of threads.
 */
#ifndef SMIME_TRUST_H
#define SMIME_TRUST_H

#include <stddef.h>

typedef struct smime_trust smime_trust_t;

smime_trust_t *smime_trust_new(void);              /* NULL on ENOMEM */
void smime_trust_free(smime_trust_t *t);           /* accepts NULL */

/* Each returns the number of items loaded (>= 1), or -1 with a message
 * that says what to fix in err ("cannot read /x: Permission denied",
 * "/x: no PEM certificate found", ...). */
int smime_trust_add_anchors(smime_trust_t *t, const char *pemfile,
                            char *err, size_t errlen);
int smime_trust_add_system(smime_trust_t *t, char *err, size_t errlen);
/* PEM or DER CRL file. A CRL that cannot be read also marks the store as
 * degraded: verification then gives temperror instead of pass. */
int smime_trust_add_crl(smime_trust_t *t, const char *file,
                        char *err, size_t errlen);
int smime_trust_degraded(const smime_trust_t *t);

#endif
