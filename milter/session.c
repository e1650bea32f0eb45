/*
 * session.c - per-connection and per-message core, shared by the milter
 * callbacks and by test mode (-t).
 *
 * It keeps the connection facts (client address, SASL login, queue id)
 * and the message's header block, decides the direction at end of
 * headers (outbound: SASL-authenticated or a client in InternalHosts;
 * inbound otherwise), streams the body to the verifier (inbound.c) or to
 * the signer (outbound.h), and at end of message performs the changes
 * through the action vtable: for inbound mail every Authentication-Results
 * header carrying our authserv-id (and TagHeader) is deleted and ours is
 * prepended.  It never holds the body.
 *
 * The header block is kept up to MAX_HEADER_BYTES.  Past that (a
 * never-ending header block) only what end of message needs is noted:
 * which Authentication-Results headers are ours and how many TagHeader
 * headers there are, so that forged ones are deleted wherever they are.
 * Such inbound mail gets permerror ("header block too large").
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arheader.h"
#include "inbound.h"
#include "outbound.h"
#include "session.h"

#define AR_NAME "Authentication-Results"
#define MAX_HEADER_BYTES (4u * 1024 * 1024)
#define MAX_TAIL_OURS 65536        /* our A-R headers noted past the cap */
#define HEADERS_REASON "header block too large"
#define INTERNAL_REASON "internal error"

enum direction { DIR_NONE, DIR_IN, DIR_OUT };

struct session {
    /* connection */
    char *client;              /* NULL: local submission, no address */
    char *login;
    char *daemon;
    char *qid;
    /* message */
    config_t *cfg;
    struct msg_header *hv;
    size_t nh, caph;
    size_t header_bytes;
    int headers_dropped;       /* header block too large to keep */
    size_t tail_ar, tail_tag;  /* A-R / TagHeader headers past the cap */
    unsigned *tail_ours;       /* which of the tail_ar are ours (1-based) */
    size_t ntail_ours, cap_tail;
    uint64_t size;
    enum direction dir;
    int skipping;              /* body no longer wanted */
    int too_large;             /* MaxMessageSize exceeded */
    int failed;                /* internal error */
    char fail_why[160];
    inbound_t *in;
    outbound_t *out;
    char out_why[256];
    int signed_ok;
    int stripped;              /* strip_forged: 1 done, -1 failed */
    struct msg_headers view;
    char summary[1024];
};

static int set_str(char **dst, const char *v)
{
    char *s = NULL;

    if (v && *v && (s = strdup(v)) == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

session_t *session_new(void)
{
    return calloc(1, sizeof(session_t));
}

static void message_clear(session_t *s)
{
    for (size_t i = 0; i < s->nh; i++) {
        free((char *)s->hv[i].name);
        free((char *)s->hv[i].value);
    }
    s->nh = 0;
    s->header_bytes = 0;
    s->headers_dropped = 0;
    s->tail_ar = s->tail_tag = s->ntail_ours = 0;
    s->size = 0;
    s->dir = DIR_NONE;
    s->skipping = s->too_large = s->failed = s->signed_ok = 0;
    s->stripped = 0;
    s->fail_why[0] = s->out_why[0] = '\0';
    inbound_free(s->in);
    s->in = NULL;
    outbound_free(s->out);
    s->out = NULL;
    config_unref(s->cfg);
    s->cfg = NULL;
}

void session_free(session_t *s)
{
    if (s == NULL)
        return;
    message_clear(s);
    free(s->hv);
    free(s->tail_ours);
    free(s->client);
    free(s->login);
    free(s->daemon);
    free(s->qid);
    free(s);
}

int session_set_client(session_t *s, const char *addr)
{
    return set_str(&s->client, addr);
}

int session_set_login(session_t *s, const char *login)
{
    return set_str(&s->login, login);
}

int session_set_daemon(session_t *s, const char *name)
{
    return set_str(&s->daemon, name);
}

int session_set_queue_id(session_t *s, const char *qid)
{
    return set_str(&s->qid, qid);
}

const char *session_queue_id(const session_t *s)
{
    return s->qid ? s->qid : "";
}

const struct msg_headers *session_headers(const session_t *s)
{
    return &s->view;
}

const char *session_summary(const session_t *s)
{
    return s->summary;
}

void session_begin(session_t *s, config_t *cfg)
{
    message_clear(s);
    s->cfg = config_ref(cfg);
    s->summary[0] = '\0';
    free(s->qid);
    s->qid = NULL;
}

void session_abort(session_t *s)
{
    if (s->cfg && !s->summary[0])
        snprintf(s->summary, sizeof s->summary, "smime aborted");
    message_clear(s);
}

static void fail(session_t *s, const char *why)
{
    if (!s->failed)
        snprintf(s->fail_why, sizeof s->fail_why, "%s%s%s", why,
                 errno ? ": " : "", errno ? strerror(errno) : "");
    s->failed = 1;
    s->skipping = 1;
    inbound_free(s->in);
    s->in = NULL;
    outbound_free(s->out);
    s->out = NULL;
}

/* A header past MAX_HEADER_BYTES: note only what eom deletes. */
static void header_tail(session_t *s, const char *name, const char *value)
{
    if (s->cfg == NULL)
        return;
    if (s->cfg->tag_header && strcasecmp(name, s->cfg->tag_header) == 0)
        s->tail_tag++;
    if (strcasecmp(name, AR_NAME) != 0)
        return;
    s->tail_ar++;
    if (!arheader_is_ours(value, s->cfg->authserv_id))
        return;
    if (s->ntail_ours == s->cap_tail) {
        size_t cap = s->cap_tail ? 2 * s->cap_tail : 16;
        unsigned *nv = NULL;
        errno = 0;
        if (cap > MAX_TAIL_OURS ||
            (nv = realloc(s->tail_ours, cap * sizeof *nv)) == NULL) {
            fail(s, "too many Authentication-Results headers");
            return;
        }
        s->tail_ours = nv;
        s->cap_tail = cap;
    }
    s->tail_ours[s->ntail_ours++] = (unsigned)s->tail_ar;
}

enum session_status session_header(session_t *s, const char *name,
                                   const char *value)
{
    size_t add = strlen(name) + strlen(value) + 4;

    if (s->failed)
        return SESSION_CONTINUE;
    s->size += add;
    if (s->headers_dropped || s->header_bytes + add > MAX_HEADER_BYTES) {
        s->headers_dropped = 1;
        header_tail(s, name, value);
        return SESSION_CONTINUE;
    }
    if (s->nh == s->caph) {
        size_t cap = s->caph ? 2 * s->caph : 32;
        struct msg_header *nv = realloc(s->hv, cap * sizeof *nv);
        if (nv == NULL) {
            fail(s, "storing headers");
            return SESSION_CONTINUE;
        }
        s->hv = nv;
        s->caph = cap;
    }
    s->hv[s->nh].name = strdup(name);
    s->hv[s->nh].value = strdup(value);
    if (!s->hv[s->nh].name || !s->hv[s->nh].value) {
        free((char *)s->hv[s->nh].name);
        free((char *)s->hv[s->nh].value);
        fail(s, "storing headers");
        return SESSION_CONTINUE;
    }
    s->nh++;
    s->header_bytes += add;
    return SESSION_CONTINUE;
}

static const char *first_header(const session_t *s, const char *name)
{
    for (size_t i = 0; i < s->nh; i++)
        if (strcasecmp(s->hv[i].name, name) == 0)
            return s->hv[i].value;
    return NULL;
}

static int is_outbound(const session_t *s)
{
    return s->login != NULL || s->client == NULL ||
           config_is_internal(s->cfg, s->client);
}

enum session_status session_eoh(session_t *s)
{
    s->view.v = s->hv;
    s->view.n = s->nh;
    if (s->failed || s->cfg == NULL)
        return SESSION_CONTINUE;
    if (is_outbound(s)) {
        if (!(s->cfg->mode & CONFIG_MODE_SIGN))
            return SESSION_CONTINUE;
        s->dir = DIR_OUT;
        if (s->headers_dropped) {
            snprintf(s->out_why, sizeof s->out_why, "header block too large");
            s->skipping = 1;
            return SESSION_CONTINUE;
        }
        errno = 0;
        int r = outbound_begin(s->cfg, s->login, first_header(s, "From"),
                               &s->view, &s->out, s->out_why,
                               sizeof s->out_why);
        if (r < 0) {
            if (s->out_why[0])
                errno = 0;          /* the reason says it all */
            fail(s, s->out_why[0] ? s->out_why : "starting to sign");
        }
        else if (r == 0)
            s->skipping = 1;
        return SESSION_CONTINUE;
    }
    if (!(s->cfg->mode & CONFIG_MODE_VERIFY))
        return SESSION_CONTINUE;
    s->dir = DIR_IN;
    if (s->headers_dropped) {          /* permerror at eom */
        s->skipping = 1;
        return SESSION_CONTINUE;
    }
    errno = 0;
    if ((s->in = inbound_new(s->cfg, &s->view)) == NULL)
        fail(s, "starting to verify");
    return SESSION_CONTINUE;
}

enum session_status session_body(session_t *s, const char *buf, size_t len)
{
    if (s->skipping || s->dir == DIR_NONE)
        return SESSION_SKIP;
    s->size += len;
    if (s->cfg->max_message_size && s->size > s->cfg->max_message_size) {
        s->too_large = 1;
        s->skipping = 1;
        inbound_free(s->in);
        s->in = NULL;
        outbound_free(s->out);
        s->out = NULL;
        return SESSION_SKIP;
    }
    errno = 0;
    if (s->in) {
        if (!inbound_signable(s->in)) {
            s->skipping = 1;
            return SESSION_SKIP;
        }
        if (inbound_body(s->in, buf, len) != 0)
            fail(s, "verifying");
    } else if (s->out) {
        if (outbound_body(s->out, buf, len) != 0) {
            char why[160];     /* the spool is what fails in practice */
            snprintf(why, sizeof why, "signing, spool in %s",
                     s->cfg->spool_directory ? s->cfg->spool_directory
                                             : "/var/tmp");
            fail(s, why);
        }
    }
    return s->failed ? SESSION_SKIP : SESSION_CONTINUE;
}

/* ---- end of message ---- */

/* Delete every header called name (only_ours: every one whose
 * authserv-id is ours), from the highest index down (indexes count
 * headers of that name, from 1); those past the header cap first. */
static int delete_headers(session_t *s, const struct actions *act, void *arg,
                          const char *name, int only_ours)
{
    unsigned count = 0;

    for (size_t i = 0; i < s->nh; i++)
        if (strcasecmp(s->hv[i].name, name) == 0)
            count++;
    if (only_ours) {
        for (size_t k = s->ntail_ours; k-- > 0;)
            if (act->change_header(arg, name, count + s->tail_ours[k],
                                   NULL) != 0)
                return -1;
    } else {
        for (size_t k = s->tail_tag; k > 0; k--)
            if (act->change_header(arg, name, count + (unsigned)k, NULL) != 0)
                return -1;
    }
    for (size_t i = s->nh; i-- > 0;) {
        if (strcasecmp(s->hv[i].name, name) != 0)
            continue;
        if (!only_ours ||
            arheader_is_ours(s->hv[i].value, s->cfg->authserv_id)) {
            if (act->change_header(arg, name, count, NULL) != 0)
                return -1;
        }
        count--;
    }
    return 0;
}

/* Remove what only we may write: Authentication-Results with our
 * authserv-id and TagHeader.  Done in both directions: mail from SASL
 * clients, InternalHosts and local submission reaches local mailboxes
 * too, and must not carry a forged verdict there either. */
static int strip_forged(session_t *s, const struct actions *act, void *arg)
{
    /* Deletions go by index: never repeat them, and never accept a
     * message after a partial failure (-1 sticks). */
    if (s->stripped)
        return s->stripped > 0 ? 0 : -1;
    s->stripped = -1;
    if (delete_headers(s, act, arg, AR_NAME, 1) != 0)
        return -1;
    if (s->cfg->tag_header &&
        delete_headers(s, act, arg, s->cfg->tag_header, 0) != 0)
        return -1;
    s->stripped = 1;
    return 0;
}

static void quote_into(char *dst, size_t len, const char *s)
{
    size_t n = 0;

    for (; *s && n + 2 < len; s++)
        dst[n++] = (*s == '"' || (unsigned char)*s < 32) ? '\'' : *s;
    dst[n] = '\0';
}

static void summarize_inbound(session_t *s, const struct ar_result *r,
                              size_t n)
{
    char reason[120];
    int len;

    len = snprintf(s->summary, sizeof s->summary, "smime dir=in client=%s",
                   s->client ? s->client : "local");
    if (n == 0 || r[0].result == SMIME_RESULT_NONE) {
        snprintf(s->summary + len, sizeof s->summary - len, " result=%s",
                 s->too_large ? "skipped reason=\"message too large\""
                              : "none");
        return;
    }
    quote_into(reason, sizeof reason, r[0].reason ? r[0].reason : "");
    snprintf(s->summary + len, sizeof s->summary - len,
             " result=%s signer=%s part=%s serial=%s reason=\"%s\""
             " signatures=%zu",
             smime_result_name(r[0].result),
             r[0].identifier && *r[0].identifier ? r[0].identifier : "-",
             r[0].part && *r[0].part ? r[0].part : "-",
             r[0].serial && *r[0].serial ? r[0].serial : "-", reason, n);
}

/* The resinfos for an inbound message; returns how many (may be 0). */
static size_t inbound_resinfos(session_t *s, struct ar_result *ar,
                               size_t max, int failed)
{
    const struct inbound_result *res = NULL;
    size_t n = 0, got = s->in ? inbound_results(s->in, &res) : 0;

    if (failed) {
        ar[0] = (struct ar_result){.result = SMIME_RESULT_TEMPERROR,
                                   .reason = INTERNAL_REASON};
        return 1;
    }
    if (s->headers_dropped) {
        ar[0] = (struct ar_result){.result = SMIME_RESULT_PERMERROR,
                                   .reason = HEADERS_REASON};
        return 1;
    }
    for (size_t i = 0; i < got && n < max; i++) {
        if (res[i].r.result == SMIME_RESULT_NONE)
            continue;
        ar[n++] = (struct ar_result){
            .result = res[i].r.result, .reason = res[i].r.reason,
            .identifier = res[i].r.identifier, .part = res[i].part,
            .serial = res[i].r.serial, .issuer = res[i].r.issuer};
    }
    if (n == 0 && !s->too_large && s->cfg->add_none_result)
        ar[n++] = (struct ar_result){.result = SMIME_RESULT_NONE};
    return n;
}

static int inbound_eom(session_t *s, const struct actions *act, void *arg,
                       int failed)
{
    struct ar_result ar[128];
    size_t n;
    char *value;

    errno = 0;
    if (!failed && s->in && inbound_finish(s->in) != 0) {
        fail(s, "verifying");
        return -1;
    }
    n = inbound_resinfos(s, ar, sizeof ar / sizeof ar[0], failed);
    summarize_inbound(s, ar, n);
    if (strip_forged(s, act, arg) != 0)
        return -1;
    if (s->cfg->tag_header && n && ar[0].result == SMIME_RESULT_PASS &&
        ar[0].identifier && *ar[0].identifier &&
        act->insert_header(arg, 0, s->cfg->tag_header, ar[0].identifier) != 0)
        return -1;
    if (n == 0)
        return 0;
    if ((value = arheader_build(s->cfg->authserv_id, ar, n)) == NULL)
        return -1;
    int r = act->insert_header(arg, 0, AR_NAME, value);
    free(value);
    return r;
}

static void summarize_outbound(session_t *s, const char *action)
{
    char why[200];

    quote_into(why, sizeof why, s->out_why);
    snprintf(s->summary, sizeof s->summary,
             "smime dir=out client=%s login=%s result=%s reason=\"%s\"",
             s->client ? s->client : "local", s->login ? s->login : "-",
             action, s->too_large ? "message too large" : why);
}

static enum session_status tempfail(session_t *s)
{
    char why[200];

    quote_into(why, sizeof why, s->fail_why);
    snprintf(s->summary, sizeof s->summary,
             "smime dir=%s result=tempfail reason=\"%s\"",
             s->dir == DIR_OUT ? "out" : "in", why);
    return SESSION_TEMPFAIL;
}

/* OnError: tempfail, or accept the message with what can still be done
 * (inbound: temperror result; outbound: unsigned, forged headers gone). */
static enum session_status on_error(session_t *s, const struct actions *act,
                                    void *arg)
{
    char why[200];

    if (!s->cfg->on_error_accept)
        return tempfail(s);
    if (s->dir == DIR_IN) {
        if (inbound_eom(s, act, arg, 1) != 0)
            return tempfail(s);
    } else {
        if (strip_forged(s, act, arg) != 0)
            return tempfail(s);
        summarize_outbound(s, "unsigned");
    }
    quote_into(why, sizeof why, s->fail_why);
    snprintf(s->summary + strlen(s->summary),
             sizeof s->summary - strlen(s->summary),
             " error=\"%s\" onerror=accept", why);
    return SESSION_ACCEPT;
}

enum session_status session_eom(session_t *s, const struct actions *act,
                                 void *arg)
{
    if (s->cfg == NULL)
        return SESSION_ACCEPT;
    s->view.v = s->hv;
    s->view.n = s->nh;
    if (s->failed)
        return on_error(s, act, arg);
    if (s->dir == DIR_IN) {
        if (inbound_eom(s, act, arg, 0) != 0) {
            if (!s->failed)
                fail(s, "changing headers");
            return on_error(s, act, arg);
        }
        return SESSION_ACCEPT;
    }
    if (strip_forged(s, act, arg) != 0) {
        fail(s, "changing headers");
        return on_error(s, act, arg);
    }
    if (s->dir == DIR_OUT) {
        if (s->out) {
            int r = outbound_finish(s->out, act, arg, s->out_why,
                                    sizeof s->out_why);
            if (r < 0) {
                fail(s, s->out_why[0] ? s->out_why : "signing");
                return on_error(s, act, arg);
            }
            s->signed_ok = r == 1;
        }
        summarize_outbound(s, s->signed_ok ? "signed" : "unsigned");
        return SESSION_ACCEPT;
    }
    snprintf(s->summary, sizeof s->summary, "smime dir=%s result=ignored",
             is_outbound(s) ? "out" : "in");
    return SESSION_ACCEPT;
}
