/*
 * rcpt_policy.c - see rcpt_policy.h.  The decision itself is
 * encpolicy.c's (pure, unit-tested with injected facts); this file only
 * gathers the facts and logs the answer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "certstore.h"
#include "log.h"
#include "rcpt_policy.h"
#include "recipient.h"
#include "stats.h"

/* What the store says about addr: usable, none, or a transient failure
 * (store unreadable, CRL unreadable, ENOMEM); why for the log. */
static enum encpolicy_cert lookup(config_t *cfg, const char *addr,
                                  char *why, size_t len)
{
    smime_rcpt_cert_t rc = { 0 };
    certstore_t *cs;
    enum smime_rcpt_status st;

    if (cfg->certificate_store == NULL) {
        snprintf(why, len, "no CertificateStore");
        return ENCPOLICY_CERT_NONE;
    }
    if ((cs = config_certstore(cfg, why, len)) == NULL)
        return ENCPOLICY_CERT_TEMPFAIL;
    st = smime_rcpt_lookup(cfg->rcpt_cache, cs, cfg->trust,
                           cfg->policy.max_chain, addr, time(NULL), &rc,
                           why, len);
    smime_rcpt_cert_clear(&rc);
    switch (st) {
    case SMIME_RCPT_OK:
        snprintf(why, len, "certificate");
        return ENCPOLICY_CERT_USABLE;
    case SMIME_RCPT_TEMP:
        return ENCPOLICY_CERT_TEMPFAIL;
    default:
        return ENCPOLICY_CERT_NONE;
    }
}

/* A quoted local part may hold spaces: then the value is quoted. */
static const char *q_open(const char *a)
{
    return strchr(a, ' ') ? "\"" : "";
}

void rcpt_policy_decide(config_t *cfg, struct encpolicy_txn *t,
                        const char *addr, const char *qid,
                        struct encpolicy_reply *out)
{
    const char *match;
    char why[300] = "", q[320], a[600];
    enum encpolicy_level level = encpolicy_lookup(cfg->encpolicy, addr,
            (enum encpolicy_level)cfg->encrypt_default, &match);
    enum encpolicy_cert cert = ENCPOLICY_CERT_NONE;

    if (level != ENCPOLICY_NEVER)
        cert = lookup(cfg, addr, why, sizeof why);
    encpolicy_rcpt(t, level, cert, cfg->encrypt_split, out);
    log_quote(a, sizeof a, addr);
    if (out->verdict == ENCPOLICY_REJECT)
        stats_add(STATS_RCPT_REJECTED);
    else if (out->verdict == ENCPOLICY_TEMPFAIL)
        stats_add(STATS_RCPT_TEMPFAILED);
    else if (out->verdict == ENCPOLICY_DEFER)
        stats_add(STATS_RCPT_DEFERRED);
    log_msg(out->verdict == ENCPOLICY_ACCEPT ? LOG_INFO : LOG_NOTICE, qid,
            "event=rcpt rcpt=%s%s%s policy=%s match=%s reply=%s%s%s "
            "reason=\"%s%s%s\"", q_open(a), a, q_open(a),
            encpolicy_level_name(level), match,
            out->rcode ? out->rcode : "accept", out->xcode ? " xcode=" : "",
            out->xcode ? out->xcode : "", out->reason, why[0] ? ": " : "",
            log_quote(q, sizeof q, why));
}
