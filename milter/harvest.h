/*
 * harvest.h - Harvest yes (SPEC "Certificate store and harvesting"):
 * the encryption certificate of the From address's signer, taken from
 * an inbound whole-message pass, stored in CertificateStore.
 *
 * inbound.c takes a candidate (harvest_take) from the top-level
 * signature's verify context before freeing it, and drops it when the
 * message turns out to be permerror after all; session.c stores it
 * (harvest_store) at end of message, after the results were written.
 * certstore_harvest decides whether it replaces what the store holds.
 * A failure is logged and never affects the message.
 */
#ifndef SMIME_HARVEST_H
#define SMIME_HARVEST_H

#include "conf.h"
#include "verify.h"

typedef struct harvest harvest_t;

/* Copies what result i of v offers for address (its identifier, which
 * matched From).  NULL on ENOMEM. */
harvest_t *harvest_take(smime_verify_t *v, size_t i, const char *address);
void harvest_free(harvest_t *h);                          /* NULL ok */

enum harvest_status {
    HARVEST_NONE = 0,        /* nothing to harvest (no candidate) */
    HARVEST_STORED,
    HARVEST_KEPT,            /* the store keeps what it has */
    HARVEST_SKIPPED,         /* no certificate to store (the signer's
                                cannot encrypt, preference not found) */
    HARVEST_FAILED           /* the store could not be opened or written */
};

/* Stores h in cfg's CertificateStore and logs one event=harvest line
 * for queue id qid. */
enum harvest_status harvest_store(config_t *cfg, const harvest_t *h,
                                  const char *qid);

#endif
