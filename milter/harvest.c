/*
 * harvest.c - storing the certificates of inbound signers (see
 * harvest.h).  The candidate is a private copy: the verify context it
 * came from is freed when its S/MIME object ends, long before the end of
 * the message decides whether it is harvested.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "certstore.h"
#include "harvest.h"
#include "log.h"

struct harvest {
    char *address;
    unsigned char *cert;              /* NULL: nothing to store (why) */
    size_t cert_len;
    unsigned char **chain;
    size_t *chain_len;
    size_t nchain;
    unsigned char *caps;
    size_t caps_len;
    int64_t signing_time;
    char why[96];
};

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);

    if (d != NULL && n)
        memcpy(d, p, n);
    return d;
}

void harvest_free(harvest_t *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->nchain; i++)
        free(h->chain[i]);
    free(h->chain);
    free(h->chain_len);
    free(h->cert);
    free(h->caps);
    free(h->address);
    free(h);
}

static int copy_chain(harvest_t *h, const smime_harvest_t *sh)
{
    if (sh->nchain == 0)
        return 0;
    if ((h->chain = calloc(sh->nchain, sizeof *h->chain)) == NULL ||
        (h->chain_len = calloc(sh->nchain, sizeof *h->chain_len)) == NULL)
        return -1;
    for (size_t i = 0; i < sh->nchain; i++) {
        if ((h->chain[i] = dup_bytes(sh->chain[i], sh->chain_len[i])) == NULL)
            return -1;
        h->chain_len[i] = sh->chain_len[i];
        h->nchain++;
    }
    return 0;
}

harvest_t *harvest_take(smime_verify_t *v, size_t i, const char *address)
{
    harvest_t *h = calloc(1, sizeof *h);
    smime_harvest_t sh;
    int r;

    if (h == NULL || (h->address = strdup(address)) == NULL ||
        (r = smime_verify_harvest(v, i, &sh)) < 0)
        goto oom;
    h->signing_time = sh.signing_time;
    if (r == 0) {
        snprintf(h->why, sizeof h->why, "%s", sh.why ? sh.why : "");
        return h;
    }
    if ((h->cert = dup_bytes(sh.cert, sh.cert_len)) == NULL ||
        copy_chain(h, &sh) != 0 ||
        (sh.caps && (h->caps = dup_bytes(sh.caps, sh.caps_len)) == NULL))
        goto oom;
    h->cert_len = sh.cert_len;
    h->caps_len = sh.caps ? sh.caps_len : 0;
    return h;
oom:
    harvest_free(h);
    return NULL;
}

enum harvest_status harvest_store(config_t *cfg, const harvest_t *h,
                                  const char *qid)
{
    char err[512], why[600];
    certstore_t *cs;
    enum certstore_status st;

    if (h == NULL)
        return HARVEST_NONE;
    if (h->cert == NULL) {
        log_msg(LOG_INFO, qid, "event=harvest status=skipped address=%s "
                "reason=\"%s\"", h->address, log_quote(why, sizeof why,
                                                       h->why));
        return HARVEST_SKIPPED;
    }
    if ((cs = config_certstore(cfg, err, sizeof err)) == NULL) {
        log_msg(LOG_WARNING, qid, "event=harvest status=failed address=%s "
                "reason=\"%s\"", h->address, log_quote(why, sizeof why, err));
        return HARVEST_FAILED;
    }
    err[0] = '\0';
    st = certstore_harvest(cs, h->address, h->cert, h->cert_len,
                           (const unsigned char *const *)h->chain,
                           h->chain_len, h->nchain, h->caps, h->caps_len,
                           h->signing_time, err, sizeof err);
    switch (st) {
    case CERTSTORE_OK:
        log_msg(LOG_INFO, qid, "event=harvest status=stored address=%s "
                "signing_time=%lld", h->address, (long long)h->signing_time);
        return HARVEST_STORED;
    case CERTSTORE_KEPT:
        log_msg(LOG_INFO, qid, "event=harvest status=kept address=%s "
                "reason=\"%s\"", h->address, log_quote(why, sizeof why, err));
        return HARVEST_KEPT;
    default:
        log_msg(LOG_WARNING, qid, "event=harvest status=failed address=%s "
                "reason=\"%s\"", h->address, log_quote(why, sizeof why,
                                                       err[0] ? err
                                                       : "store error"));
        return HARVEST_FAILED;
    }
}
