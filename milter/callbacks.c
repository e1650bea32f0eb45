/*
 * callbacks.c - libmilter xxfi_* glue, nothing else: each callback turns
 * the MTA's event into a session.c call, and the action vtable turns the
 * session's wishes into smfi_* calls.  Negotiation drops the events we do
 * not need (HELO, DATA, unknown commands, and RCPT unless Mode has d or
 * e: verify/sign-only sites pay nothing for recipients), asks for no
 * replies where we always continue, and for SMFIS_SKIP so that bodies of
 * mail that cannot be signed are not sent to us.  Each message's summary
 * line is logged here and its outcome counted (stats.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "encpolicy.h"
#include "log.h"
#include "session.h"
#include "stats.h"

#define FILTER_NAME "smime-milter"
#define BODY_CHUNK 65535            /* libmilter's limit per call */

/* Per connection. */
struct conn {
    session_t *s;
    unsigned long pflags;           /* negotiated SMFIP_* */
    int lost;                       /* a fact of this message could not
                                       be kept (ENOMEM): tempfail at eom,
                                       the first reply the MTA waits for */
};

static struct conn *conn_get(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c == NULL && (c = calloc(1, sizeof *c)) != NULL) {
        if ((c->s = session_new()) == NULL) {
            free(c);
            return NULL;
        }
        smfi_setpriv(ctx, c);
    }
    return c;
}

/* Out of memory for the connection's state: try again later. */
static sfsistat oom_tempfail(void)
{
    stats_add(STATS_ERRORS);
    stats_add(STATS_TEMPFAILS);
    return SMFIS_TEMPFAIL;
}

/* SMFIS_NOREPLY where the MTA agreed not to wait for a reply. */
static sfsistat reply(const struct conn *c, unsigned long nr_flag)
{
    return (c && (c->pflags & nr_flag)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* The queue id and the SASL login.  A login that cannot be kept would
 * turn a submission into mail without a login: the message is marked
 * lost.  (The queue id only names the message in the log.) */
static void take_macros(SMFICTX *ctx, struct conn *c)
{
    const char *v;

    if ((v = smfi_getsymval(ctx, "i")) != NULL && *v)
        (void)session_set_queue_id(c->s, v);
    if ((v = smfi_getsymval(ctx, "{auth_authen}")) != NULL && *v &&
        session_set_login(c->s, v) != 0)
        c->lost = 1;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0,
                             unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    unsigned long want = SMFIP_SKIP | SMFIP_NOUNKNOWN | SMFIP_NODATA |
        SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NR_CONN | SMFIP_NR_MAIL |
        SMFIP_NR_HDR | SMFIP_NR_EOH;
    const unsigned long acts = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
    struct conn *c = conn_get(ctx);
    config_t *cfg;

    (void)f2;
    (void)f3;
    if (c == NULL || (f0 & acts) != acts)
        return SMFIS_REJECT;        /* this MTA cannot do what we need */
    /* Recipients only when a mode needs them, and without a reply to
     * each unless the encryption policy may refuse one (Mode e with
     * EncryptSplit or a required level): a round trip per recipient
     * saved.  A reload that adds d or e later reaches connections made
     * before it without recipients: the session then decrypts nothing
     * (no recipient, no decision); one that makes a refusal possible,
     * without RCPT replies (cb_envrcpt). */
    if ((cfg = config_current_get()) != NULL) {
        if (cfg->mode & CONFIG_MODE_NEED_RCPT)
            want &= ~SMFIP_NORCPT;
        if (!(cfg->mode & CONFIG_MODE_ENCRYPT) ||
            !encpolicy_may_refuse(cfg->encpolicy,
                                  (enum encpolicy_level)cfg->encrypt_default,
                                  cfg->encrypt_split))
            want |= SMFIP_NR_RCPT;
        config_unref(cfg);
    }
    *pf0 = acts | (f0 & SMFIF_SETSYMLIST);
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    c->pflags = *pf1;
    /* Without our lists the MTA sends its default macros ({auth_authen}
     * at MAIL FROM in Postfix's and Sendmail's defaults): say so, go on. */
    if ((f0 & SMFIF_SETSYMLIST) &&
        (smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name}") != MI_SUCCESS ||
         smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}") !=
             MI_SUCCESS ||
         smfi_setsymlist(ctx, SMFIM_EOH, "i") != MI_SUCCESS ||
         smfi_setsymlist(ctx, SMFIM_EOM, "i") != MI_SUCCESS))
        log_info(LOG_WARNING, "event=negotiate status=failed "
                 "error=\"cannot set the macro lists; the MTA's defaults "
                 "apply\"");
    return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    struct conn *c = conn_get(ctx);
    char addr[INET6_ADDRSTRLEN] = "";
    const char *v;

    (void)host;
    if (c == NULL)
        return oom_tempfail();
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr,
                  addr, sizeof addr);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr,
                  addr, sizeof addr);
    /* no IP address (local submission): NULL means local to the session.
     * A failure fails closed in the session: the client is never taken
     * for a local or internal one, its messages get OnError. */
    if (session_set_client(c->s, addr[0] ? addr : NULL) != 0)
        log_info(LOG_ERR, "event=connect status=failed client=%s "
                 "error=\"out of memory\"", addr[0] ? addr : "local");
    if ((v = smfi_getsymval(ctx, "{daemon_name}")) != NULL)
        (void)session_set_daemon(c->s, v);      /* for the log only */
    return reply(c, SMFIP_NR_CONN);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct conn *c = conn_get(ctx);
    config_t *cfg;

    (void)argv;
    if (c == NULL)
        return oom_tempfail();
    cfg = config_current_get();
    c->lost = 0;
    (void)session_set_login(c->s, NULL);        /* frees; cannot fail */
    session_begin(c->s, cfg);
    config_unref(cfg);
    take_macros(ctx, c);
    return reply(c, SMFIP_NR_MAIL);
}

/* RCPT TO: kept for the decisions at eom, or refused as the session
 * says.  A recipient that cannot be stored fails the message (OnError at
 * eom) rather than the recipient, like a lost client address. */
static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    struct conn *c = smfi_getpriv(ctx);
    struct session_rcpt_reply r;

    if (c == NULL || argv == NULL || argv[0] == NULL)
        return reply(c, SMFIP_NR_RCPT);
    if (session_rcpt(c->s, argv[0], &r) != 0)
        log_msg(LOG_ERR, session_queue_id(c->s), "event=rcpt "
                "status=failed error=\"out of memory keeping a "
                "recipient\"");
    if (r.refuse == SESSION_RCPT_ACCEPT)
        return reply(c, SMFIP_NR_RCPT);
    if (c->pflags & SMFIP_NR_RCPT) {
        /* negotiated before a reload made refusals possible */
        session_rcpt_unrefused(c->s, &r);
        return SMFIS_NOREPLY;
    }
    if (smfi_setreply(ctx, r.rcode, r.xcode, r.msg) != MI_SUCCESS)
        log_msg(LOG_WARNING, session_queue_id(c->s), "event=rcpt "
                "status=warning error=\"cannot set the reply %s %s\"",
                r.rcode, r.xcode);
    return r.refuse == SESSION_RCPT_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c)
        session_header(c->s, name, value);
    return reply(c, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c) {
        take_macros(ctx, c);
        session_eoh(c->s);
    }
    return reply(c, SMFIP_NR_EOH);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c == NULL ||
        session_body(c->s, (const char *)buf, len) == SESSION_SKIP)
        return (c && (c->pflags & SMFIP_SKIP)) ? SMFIS_SKIP : SMFIS_CONTINUE;
    return SMFIS_CONTINUE;
}

/* ---- actions through libmilter ---- */

static int act_insert(void *arg, unsigned idx, const char *name,
                      const char *value)
{
    return smfi_insheader(arg, (int)idx, (char *)name, (char *)value) ==
           MI_SUCCESS ? 0 : -1;
}

static int act_change(void *arg, const char *name, unsigned idx,
                      const char *value)
{
    return smfi_chgheader(arg, (char *)name, (int)idx, (char *)value) ==
           MI_SUCCESS ? 0 : -1;
}

static int act_replace_body(void *arg, actions_read_fn rd, void *rarg)
{
    unsigned char buf[BODY_CHUNK];
    ssize_t n;

    while ((n = rd(rarg, buf, sizeof buf)) > 0)
        if (smfi_replacebody(arg, buf, (int)n) != MI_SUCCESS)
            return -1;
    return n < 0 ? -1 : 0;
}

static const struct actions milter_actions = {
    act_insert, act_change, act_replace_body
};

static sfsistat cb_eom(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);
    enum session_status st;

    if (c == NULL)
        return oom_tempfail();
    take_macros(ctx, c);
    if (c->lost) {
        session_abort(c->s);
        log_msg(LOG_ERR, session_queue_id(c->s), "event=message "
                "status=failed error=\"out of memory keeping the SASL "
                "login\"");
        smfi_setreply(ctx, "451", "4.3.0",
                      "smime-milter: local error, try again later");
        return oom_tempfail();
    }
    st = session_eom(c->s, &milter_actions, ctx);
    log_msg(session_outcome_priority(session_outcome(c->s)),
            session_queue_id(c->s), "%s", session_summary(c->s));
    stats_count(session_outcome(c->s));
    switch (st) {
    case SESSION_TEMPFAIL:
        smfi_setreply(ctx, "451", "4.3.0",
                      "smime-milter: local error, try again later");
        return SMFIS_TEMPFAIL;
    case SESSION_REJECT:
        return SMFIS_REJECT;
    default:
        return SMFIS_ACCEPT;
    }
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c) {
        /* a message that already ended: eom or an earlier abort counted it */
        int ended = session_outcome(c->s)->dir != SESSION_DIR_NONE;
        session_abort(c->s);
        if (!ended && session_outcome(c->s)->dir == SESSION_DIR_ABORTED) {
            log_msg(session_outcome_priority(session_outcome(c->s)),
                    session_queue_id(c->s), "%s", session_summary(c->s));
            stats_count(session_outcome(c->s));
        }
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c) {
        session_free(c->s);
        free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

int callbacks_register(void)
{
    struct smfiDesc desc = {
        .xxfi_name = FILTER_NAME,
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY,
        .xxfi_connect = cb_connect,
        .xxfi_envfrom = cb_envfrom,
        .xxfi_envrcpt = cb_envrcpt,
        .xxfi_header = cb_header,
        .xxfi_eoh = cb_eoh,
        .xxfi_body = cb_body,
        .xxfi_eom = cb_eom,
        .xxfi_abort = cb_abort,
        .xxfi_close = cb_close,
        .xxfi_negotiate = cb_negotiate,
    };

    return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}
