/*
 * session.c - per-connection and per-message core, shared by the milter
 * callbacks and by test mode (-t).
 *
 * It keeps the connection facts (client address, SASL login, queue id)
 * and the message's header block, decides the direction at end of
 * headers (outbound: SASL-authenticated, a client in InternalHosts or a
 * local submission without a client address; inbound otherwise), streams
 * the body to the verifier (inbound.c) or to the signer (outbound.h), and
 * at end of message performs the changes
 * through the action vtable: for inbound mail every Authentication-Results
 * header carrying our authserv-id (and TagHeader) is deleted and ours is
 * prepended.  It never holds the body.
 *
 * The header block is kept up to MAX_HEADER_BYTES.  Past that (a
 * never-ending header block) only what end of message needs is noted:
 * which Authentication-Results headers are ours and how many TagHeader
 * headers there are, so that forged ones are deleted wherever they are.
 * Such inbound mail gets permerror ("header block too large").
 *
 * What happened to each message is noted in a struct session_outcome as
 * it is decided; when the message ends (eom or abort) the outcome is
 * completed and the log line is made from it, in one place
 * (session_outcome_format).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "arheader.h"
#include "decrypt.h"
#include "errbuf.h"
#include "inbound.h"
#include "encrypt.h"
#include "outbound.h"
#include "rcpt_policy.h"
#include "session.h"

#define AR_NAME "Authentication-Results"
#define MAX_HEADER_BYTES (4u * 1024 * 1024)
#define MAX_TAIL_OURS 65536        /* our A-R headers noted past the cap */
#define HEADERS_REASON "header block too large"
#define INTERNAL_REASON "internal error"
#define TOO_LARGE_REASON "message too large"
#define NEVER_REASON "a recipient's policy is never"

enum direction { DIR_NONE, DIR_IN, DIR_OUT };

struct session {
    /* connection */
    char *client;              /* NULL: local submission, no address */
    int client_lost;           /* the address could not be stored: never
                                  local or internal, each message fails */
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
    size_t tail_dec;           /* DecryptHeader headers past the cap */
    unsigned *tail_ours;       /* which of the tail_ar are ours (1-based) */
    size_t ntail_ours, cap_tail;
    char **rcpt;               /* accepted envelope recipients */
    size_t nrcpt, cap_rcpt;
    struct encpolicy_txn rcpt_enc; /* Mode e: the recipients' policy so far */
    uint64_t size;
    enum direction dir;
    int skipping;              /* body no longer wanted */
    int too_large;             /* MaxMessageSize exceeded */
    int failed;                /* internal error */
    char fail_why[160];
    inbound_t *in;
    decrypt_t *dec;            /* Mode d: a top-level enveloped message */
    outbound_t *out;
    char out_why[256];
    enum outbound_unsigned out_kind;
    int signed_ok;
    encrypt_t *enc;            /* Mode e: encrypting this message */
    int encrypt_tried;         /* Mode e applied: enc_why says */
    int encrypted_ok;
    char enc_why[256];
    int stripped;              /* strip_forged: 1 done, -1 failed */
    struct msg_headers view;
    struct session_outcome outcome;
    char summary[1024];        /* the outcome's log line */
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
    for (size_t i = 0; i < s->nrcpt; i++)
        free(s->rcpt[i]);
    s->nrcpt = 0;
    memset(&s->rcpt_enc, 0, sizeof s->rcpt_enc);
    s->header_bytes = 0;
    s->headers_dropped = 0;
    s->tail_ar = s->tail_tag = s->tail_dec = s->ntail_ours = 0;
    s->size = 0;
    s->dir = DIR_NONE;
    s->skipping = s->too_large = s->failed = s->signed_ok = 0;
    s->stripped = 0;
    s->fail_why[0] = s->out_why[0] = s->enc_why[0] = '\0';
    encrypt_free(s->enc);
    s->enc = NULL;
    s->encrypt_tried = s->encrypted_ok = 0;
    s->out_kind = OUTBOUND_UNSIGNED_OTHER;
    inbound_free(s->in);
    s->in = NULL;
    decrypt_free(s->dec);
    s->dec = NULL;
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
    free(s->rcpt);
    free(s->tail_ours);
    free(s->client);
    free(s->login);
    free(s->daemon);
    free(s->qid);
    free(s);
}

/* Fails closed: a client whose address could not be kept must never
 * pass for a local submission (client NULL) or an InternalHosts client,
 * whose mail is outbound; its messages are internal errors instead. */
int session_set_client(session_t *s, const char *addr)
{
    if (set_str(&s->client, addr) == 0) {
        s->client_lost = 0;
        return 0;
    }
    free(s->client);
    s->client = NULL;
    s->client_lost = 1;
    return -1;
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

const struct session_outcome *session_outcome(const session_t *s)
{
    return &s->outcome;
}

static void fail(session_t *s, const char *why);

void session_begin(session_t *s, config_t *cfg)
{
    message_clear(s);
    s->cfg = config_ref(cfg);
    memset(&s->outcome, 0, sizeof s->outcome);
    s->summary[0] = '\0';
    free(s->qid);
    s->qid = NULL;
    if (s->client_lost) {
        errno = ENOMEM;
        fail(s, "storing the client address");
    }
}

/* Store addr without its angle brackets. */
static int rcpt_store(session_t *s, const char *addr)
{
    size_t len = strlen(addr);
    char *copy;

    if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
        addr++;
        len -= 2;
    }
    if (s->nrcpt == s->cap_rcpt) {
        size_t cap = s->cap_rcpt ? 2 * s->cap_rcpt : 8;
        char **nv = realloc(s->rcpt, cap * sizeof *nv);
        if (nv == NULL)
            return -1;
        s->rcpt = nv;
        s->cap_rcpt = cap;
    }
    if ((copy = strndup(addr, len)) == NULL)
        return -1;
    s->rcpt[s->nrcpt++] = copy;
    return 0;
}

static int is_outbound(const session_t *s);

/* Mode e, outbound: the encryption policy may refuse the recipient. */
static int rcpt_refused(session_t *s, const char *addr,
                        struct session_rcpt_reply *reply)
{
    struct encpolicy_reply er;
    char bare[512];
    size_t len = strlen(addr);

    if (s->cfg == NULL || !(s->cfg->mode & CONFIG_MODE_ENCRYPT) ||
        !is_outbound(s))
        return 0;
    if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
        addr++;
        len -= 2;
    }
    if (len >= sizeof bare)
        len = sizeof bare - 1;      /* no such address has a certificate */
    memcpy(bare, addr, len);
    bare[len] = '\0';
    rcpt_policy_decide(s->cfg, &s->rcpt_enc, bare, session_queue_id(s), &er);
    if (er.verdict == ENCPOLICY_ACCEPT)
        return 0;
    reply->refuse = er.rcode[0] == '5' ? SESSION_RCPT_REJECT
                                       : SESSION_RCPT_TEMPFAIL;
    snprintf(reply->rcode, sizeof reply->rcode, "%s", er.rcode);
    snprintf(reply->xcode, sizeof reply->xcode, "%s", er.xcode);
    snprintf(reply->msg, sizeof reply->msg, "%s", er.text);
    return 1;
}

int session_rcpt(session_t *s, const char *addr,
                 struct session_rcpt_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->refuse = SESSION_RCPT_ACCEPT;
    if (s->failed)
        return 0;
    if (rcpt_refused(s, addr, reply))
        return 0;
    errno = 0;
    if (rcpt_store(s, addr) != 0) {
        errno = ENOMEM;
        fail(s, "storing a recipient");
        return -1;
    }
    return 0;
}

size_t session_nrcpt(const session_t *s)
{
    return s->nrcpt;
}

const char *session_rcpt_at(const session_t *s, size_t i)
{
    return i < s->nrcpt ? s->rcpt[i] : NULL;
}

static void outcome_end(session_t *s, enum session_dir dir);

void session_abort(session_t *s)
{
    if (s->cfg && s->outcome.dir == SESSION_DIR_NONE)
        outcome_end(s, SESSION_DIR_ABORTED);
    message_clear(s);
}

static void fail(session_t *s, const char *why)
{
    char eb[128];               /* smime_strerror() text */

    if (!s->failed)
        snprintf(s->fail_why, sizeof s->fail_why, "%s%s%s", why,
                 errno ? ": " : "",
                 errno ? smime_strerror(errno, eb, sizeof eb) : "");
    s->failed = 1;
    s->skipping = 1;
    inbound_free(s->in);
    s->in = NULL;
    decrypt_free(s->dec);
    s->dec = NULL;
    outbound_free(s->out);
    s->out = NULL;
}

/* fail() for a body step whose spool is what fails in practice: the
 * reason names the directory. */
static void spool_fail(session_t *s, const char *what)
{
    char why[160];

    snprintf(why, sizeof why, "%s, spool in %s", what,
             config_spool_dir(s->cfg));
    fail(s, why);
}

/* A header past MAX_HEADER_BYTES: note only what eom deletes. */
static void header_tail(session_t *s, const char *name, const char *value)
{
    if (s->cfg == NULL)
        return;
    if (s->cfg->tag_header && strcasecmp(name, s->cfg->tag_header) == 0)
        s->tail_tag++;
    if (strcasecmp(name, s->cfg->decrypt_header) == 0)
        s->tail_dec++;
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
            s->stripped = -1;   /* cannot remove them all: never accept */
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
    if (s->login != NULL)
        return 1;
    if (s->client_lost)
        return 0;
    return s->client == NULL || config_is_internal(s->cfg, s->client);
}

/* Inbound: verify (Mode v), decrypt a top-level enveloped message (Mode
 * d; without v only such messages are handled, and verified once
 * decrypted). */
static enum session_status eoh_inbound(session_t *s)
{
    int cand = 0;

    if (!(s->cfg->mode & (CONFIG_MODE_VERIFY | CONFIG_MODE_DECRYPT)))
        return SESSION_CONTINUE;
    if ((s->cfg->mode & CONFIG_MODE_DECRYPT) && !s->failed &&
        !s->headers_dropped) {
        errno = 0;
        cand = decrypt_begin(s->cfg, &s->view, s->rcpt, s->nrcpt, &s->dec);
        if (cand < 0) {
            s->dir = DIR_IN;
            fail(s, "starting to decrypt");
            return SESSION_CONTINUE;
        }
    }
    if (!(s->cfg->mode & CONFIG_MODE_VERIFY) && !cand)
        return SESSION_CONTINUE;
    s->dir = DIR_IN;
    if (s->failed)
        return SESSION_CONTINUE;
    if (s->headers_dropped) {          /* permerror at eom */
        s->skipping = 1;
        return SESSION_CONTINUE;
    }
    errno = 0;
    if ((s->in = inbound_new(s->cfg, &s->view)) == NULL)
        fail(s, "starting to verify");
    return SESSION_CONTINUE;
}

/* The direction is decided even after an internal error, so that
 * OnError accept answers for the right one. */
enum session_status session_eoh(session_t *s)
{
    s->view.v = s->hv;
    s->view.n = s->nh;
    if (s->cfg == NULL)
        return SESSION_CONTINUE;
    if (is_outbound(s)) {
        if (!(s->cfg->mode & (CONFIG_MODE_SIGN | CONFIG_MODE_ENCRYPT)))
            return SESSION_CONTINUE;
        s->dir = DIR_OUT;
        if (s->failed)
            return SESSION_CONTINUE;
        if (s->headers_dropped) {
            snprintf(s->out_why, sizeof s->out_why, "%s", HEADERS_REASON);
            s->out_kind = OUTBOUND_UNSIGNED_TOO_LARGE;
            if (s->cfg->mode & CONFIG_MODE_ENCRYPT) {
                s->encrypt_tried = 1;
                snprintf(s->enc_why, sizeof s->enc_why, "%s", HEADERS_REASON);
            }
            s->skipping = 1;
            return SESSION_CONTINUE;
        }
        if ((s->cfg->mode & CONFIG_MODE_ENCRYPT) && s->rcpt_enc.never) {
            /* SPEC: never encrypt mail to a recipient whose policy is never */
            s->encrypt_tried = 1;
            snprintf(s->enc_why, sizeof s->enc_why, "%s",
                     NEVER_REASON);
        } else if (s->cfg->mode & CONFIG_MODE_ENCRYPT) {
            s->encrypt_tried = 1;
            errno = 0;
            if (encrypt_begin(s->cfg, s->rcpt, s->nrcpt, &s->view, &s->enc,
                              s->enc_why, sizeof s->enc_why) < 0) {
                fail(s, s->enc_why[0] ? s->enc_why : "starting to encrypt");
                return SESSION_CONTINUE;
            }
        }
        if (!(s->cfg->mode & CONFIG_MODE_SIGN)) {
            s->skipping = s->enc == NULL;
            return SESSION_CONTINUE;
        }
        errno = 0;
        int r = outbound_begin(s->cfg, s->login, first_header(s, "From"),
                               &s->view, &s->out, &s->out_kind, s->out_why,
                               sizeof s->out_why);
        if (r < 0) {
            if (s->out_why[0])
                errno = 0;          /* the reason says it all */
            fail(s, s->out_why[0] ? s->out_why : "starting to sign");
        }
        else if (r == 0)
            s->skipping = s->enc == NULL;
        return SESSION_CONTINUE;
    }
    return eoh_inbound(s);
}

enum session_status session_body(session_t *s, const char *buf, size_t len)
{
    if (s->skipping || s->dir == DIR_NONE)
        return SESSION_SKIP;
    s->size += len;
    if (s->cfg->max_message_size && s->size > s->cfg->max_message_size) {
        s->too_large = 1;
        s->skipping = 1;
        encrypt_free(s->enc);
        s->enc = NULL;
        if (s->encrypt_tried)
            snprintf(s->enc_why, sizeof s->enc_why, "%s", TOO_LARGE_REASON);
        inbound_free(s->in);
        s->in = NULL;
        decrypt_free(s->dec);
        s->dec = NULL;
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
        if (s->dec && decrypt_body(s->dec, buf, len) != 0) {
            spool_fail(s, "decrypting");
        } else if (s->dec && decrypt_enveloped(s->dec)) {
            /* enveloped: the verifier's view of the ciphertext is never
             * used (decrypted: verified again; not: none), spare it */
        } else if (inbound_body(s->in, buf, len) != 0) {
            fail(s, "verifying");
        }
    }
    if (s->enc && encrypt_body(s->enc, buf, len) != 0)
        spool_fail(s, "encrypting");
    if (s->out && !s->failed && outbound_body(s->out, buf, len) != 0)
        spool_fail(s, "signing");
    return s->failed ? SESSION_SKIP : SESSION_CONTINUE;
}

/* ---- end of message ---- */

/* Delete every header called name (only_ours: every one whose
 * authserv-id is ours), from the highest index down (indexes count
 * headers of that name, from 1); those past the header cap first (tail:
 * how many, when not only_ours). */
static int delete_headers(session_t *s, const struct actions *act, void *arg,
                          const char *name, int only_ours, size_t tail)
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
        for (size_t k = tail; k > 0; k--)
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
 * authserv-id, TagHeader and DecryptHeader.  Done in both directions:
 * mail from SASL clients, InternalHosts and local submission reaches
 * local mailboxes too, and must not carry a forged verdict there
 * either. */
static int strip_forged(session_t *s, const struct actions *act, void *arg)
{
    /* Deletions go by index: never repeat them, and never accept a
     * message after a partial failure (-1 sticks). */
    if (s->stripped)
        return s->stripped > 0 ? 0 : -1;
    s->stripped = -1;
    if (delete_headers(s, act, arg, AR_NAME, 1, 0) != 0)
        return -1;
    if (s->cfg->tag_header &&
        delete_headers(s, act, arg, s->cfg->tag_header, 0, s->tail_tag) != 0)
        return -1;
    if (delete_headers(s, act, arg, s->cfg->decrypt_header, 0,
                       s->tail_dec) != 0)
        return -1;
    s->stripped = 1;
    return 0;
}

/* ---- the outcome and its log line ---- */

static void quote_into(char *dst, size_t len, const char *s)
{
    size_t n = 0;

    for (; *s && n + 2 < len; s++)
        dst[n++] = (*s == '"' || (unsigned char)*s < 32) ? '\'' : *s;
    dst[n] = '\0';
}

static void copy_into(char *dst, size_t len, const char *s)
{
    snprintf(dst, len, "%s", s ? s : "");
}

/* Append to buf at *n as snprintf, keeping *n the length needed. */
static void __attribute__((format(printf, 4, 5)))
add(char *buf, size_t len, int *n, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (*n < 0)
        return;
    va_start(ap, fmt);
    r = vsnprintf((size_t)*n < len ? buf + *n : NULL,
                  (size_t)*n < len ? len - (size_t)*n : 0, fmt, ap);
    va_end(ap);
    *n = r < 0 ? r : *n + r;
}

static const char *or_dash(const char *s)
{
    return *s ? s : "-";
}

static void format_inbound(const struct session_outcome *o, char *buf,
                           size_t len, int *n, const char *reason)
{
    if (o->result == SMIME_RESULT_NONE && o->unverified_too_large)
        add(buf, len, n, " result=skipped reason=\"%s\"", reason);
    else if (o->result == SMIME_RESULT_NONE && o->decrypted < 0)
        add(buf, len, n, " result=none reason=\"%s\"", reason);
    else if (o->result == SMIME_RESULT_NONE)
        add(buf, len, n, " result=none");
    else
        add(buf, len, n, " result=%s signer=%s part=%s serial=%s "
            "reason=\"%s\" signatures=%zu", smime_result_name(o->result),
            or_dash(o->signer), or_dash(o->part), or_dash(o->serial),
            reason, o->signatures);
    if (o->decrypted > 0)
        add(buf, len, n, " decrypted=yes cipher=%s integrity=%s",
            or_dash(o->cipher), or_dash(o->integrity));
    else if (o->decrypted < 0)
        add(buf, len, n, " decrypted=no");
}

int session_outcome_format(const struct session_outcome *o, char *buf,
                           size_t len)
{
    char reason[200], error[200];
    int out, n = 0;

    if (len)
        buf[0] = '\0';
    if (o->dir == SESSION_DIR_NONE)
        return 0;
    out = o->dir == SESSION_DIR_OUT ||
          (o->dir != SESSION_DIR_IN && o->outbound);
    quote_into(reason, sizeof reason, o->reason);
    quote_into(error, sizeof error, o->error_text);
    add(buf, len, &n, "event=message dir=%s client=%s", out ? "out" : "in",
        or_dash(o->client));
    if (out)
        add(buf, len, &n, " login=%s", or_dash(o->login));
    if (o->tempfail) {
        add(buf, len, &n, " result=tempfail reason=\"%s\"", error);
        return n;
    }
    switch (o->dir) {
    case SESSION_DIR_IN:
        format_inbound(o, buf, len, &n, reason);
        break;
    case SESSION_DIR_OUT:
        add(buf, len, &n, " result=%s reason=\"%s\"",
            o->signed_ok ? "signed" : "unsigned", reason);
        if (o->encrypt_tried) {
            char enc[320];
            quote_into(enc, sizeof enc, o->encrypt_reason);
            add(buf, len, &n, " encrypted=%s encrypt=\"%s\"",
                o->encrypted_ok ? "yes" : "no", enc);
        }
        break;
    case SESSION_DIR_ABORTED:
        add(buf, len, &n, " result=aborted");
        break;
    default:
        add(buf, len, &n, " result=ignored");
    }
    if (o->error)
        add(buf, len, &n, " error=\"%s\" onerror=accept", error);
    return n;
}

int session_outcome_priority(const struct session_outcome *o)
{
    if (o->tempfail || o->error)
        return LOG_NOTICE;
    switch (o->dir) {
    case SESSION_DIR_IN:
        if (o->decrypted < 0 && !o->decrypt_no_key)
            return LOG_NOTICE;      /* could not be decrypted */
        switch (o->result) {
        case SMIME_RESULT_FAIL:
        case SMIME_RESULT_POLICY:
        case SMIME_RESULT_PERMERROR:
        case SMIME_RESULT_TEMPERROR:
            return LOG_NOTICE;
        default:
            return LOG_INFO;
        }
    case SESSION_DIR_OUT:
        return !o->signed_ok &&
                       (o->unsigned_kind == OUTBOUND_UNSIGNED_LOGIN ||
                        o->unsigned_kind == OUTBOUND_UNSIGNED_CERTIFICATE)
                   ? LOG_NOTICE
                   : LOG_INFO;
    case SESSION_DIR_ABORTED:
        return LOG_DEBUG;
    default:
        return LOG_INFO;
    }
}

/* The message ended (eom, abort): complete the outcome, make the line. */
static void outcome_end(session_t *s, enum session_dir dir)
{
    struct session_outcome *o = &s->outcome;

    o->dir = dir;
    o->outbound = is_outbound(s);
    copy_into(o->client, sizeof o->client, s->client ? s->client
                                          : s->client_lost ? "unknown"
                                                           : "local");
    copy_into(o->login, sizeof o->login, s->login ? s->login : "-");
    if (s->failed) {
        o->error = 1;
        copy_into(o->error_text, sizeof o->error_text, s->fail_why);
    }
    session_outcome_format(o, s->summary, sizeof s->summary);
}

/* Inbound: the first of the results written to the header. */
static void outcome_inbound(session_t *s, const struct ar_result *r,
                            size_t n)
{
    struct session_outcome *o = &s->outcome;
    int none = n == 0 || r[0].result == SMIME_RESULT_NONE;

    o->result = none ? SMIME_RESULT_NONE : r[0].result;
    o->unverified_too_large = none && s->too_large;
    o->signatures = none ? 0 : n;
    copy_into(o->signer, sizeof o->signer, none ? "" : r[0].identifier);
    copy_into(o->part, sizeof o->part, none ? "" : r[0].part);
    copy_into(o->serial, sizeof o->serial, none ? "" : r[0].serial);
    copy_into(o->reason, sizeof o->reason,
              o->unverified_too_large ? TOO_LARGE_REASON
              : none                  ? ""
                                      : r[0].reason);
    if (o->decrypted < 0)
        copy_into(o->reason, sizeof o->reason, o->decrypt_reason);
}

/* Outbound: signed, or why not. */
static void outcome_outbound(session_t *s)
{
    struct session_outcome *o = &s->outcome;

    o->signed_ok = s->signed_ok;
    o->encrypt_tried = s->encrypt_tried;
    o->encrypted_ok = s->encrypted_ok;
    copy_into(o->encrypt_reason, sizeof o->encrypt_reason,
              s->encrypted_ok ? s->enc_why : "");
    if (s->encrypt_tried && !s->encrypted_ok)
        snprintf(o->encrypt_reason, sizeof o->encrypt_reason,
                 "not encrypted: %s", s->enc_why);
    o->unsigned_kind = s->too_large ? OUTBOUND_UNSIGNED_TOO_LARGE
                                    : s->out_kind;
    copy_into(o->reason, sizeof o->reason,
              s->too_large ? TOO_LARGE_REASON : s->out_why);
}

/* ---- end of message ---- */

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

/* Mode d at eom: 1 decrypted (s->in now verifies the decrypted
 * message), -1 enveloped but left as it is, 0 nothing to decrypt; -2
 * internal error. */
static int decrypt_eom(session_t *s)
{
    struct session_outcome *o = &s->outcome;
    int r;
    inbound_t *in;

    if (s->dec == NULL)
        return 0;
    errno = 0;
    if ((r = decrypt_finish(s->dec)) < 0) {
        char why[300] = "decrypting";
        if (decrypt_outcome(s->dec) == DECRYPT_UNAVAILABLE)
            snprintf(why, sizeof why, "decrypting: %s",
                     decrypt_reason(s->dec));
        fail(s, why);
        return -2;
    }
    if (r == 0) {
        if (decrypt_outcome(s->dec) == DECRYPT_NOT_ENVELOPED)
            return 0;
        o->decrypted = -1;
        o->decrypt_no_key = decrypt_outcome(s->dec) == DECRYPT_NO_KEY;
        snprintf(o->decrypt_reason, sizeof o->decrypt_reason,
                 "encrypted, not decrypted: %s", decrypt_reason(s->dec));
        return -1;
    }
    errno = 0;
    if ((in = decrypt_verify(s->dec, &s->view)) == NULL) {
        fail(s, "verifying the decrypted message");
        return -2;
    }
    inbound_free(s->in);
    s->in = in;
    o->decrypted = 1;
    copy_into(o->cipher, sizeof o->cipher, decrypt_cipher(s->dec));
    return 1;
}

/* The DecryptHeader value; integrity from the first result. */
static void decrypt_value(session_t *s, const struct ar_result *ar, size_t n,
                          char *buf, size_t len)
{
    struct session_outcome *o = &s->outcome;

    copy_into(o->integrity, sizeof o->integrity,
              n && ar[0].result == SMIME_RESULT_PASS ? "signature"
              : decrypt_is_aead(s->dec)              ? "aead"
                                                     : "none");
    snprintf(buf, len, "for=%s; cipher=%s; integrity=%s",
             decrypt_for(s->dec), o->cipher, o->integrity);
}

static int inbound_eom(session_t *s, const struct actions *act, void *arg,
                       int failed)
{
    struct ar_result ar[128];
    char dvalue[700];
    size_t n;
    char *value = NULL;
    int dec = 0, r = 0;

    errno = 0;
    if (!failed && s->in && inbound_finish(s->in) != 0) {
        fail(s, "verifying");
        return -1;
    }
    if (failed)
        s->outcome.decrypted = 0;   /* a failure after it: not said */
    else if ((dec = decrypt_eom(s)) == -2)
        return -1;
    n = inbound_resinfos(s, ar, sizeof ar / sizeof ar[0], failed);
    if (dec < 0) {          /* whatever the verifier saw: it is encrypted */
        n = 0;
        if (s->cfg->add_none_result)
            ar[n++] = (struct ar_result){.result = SMIME_RESULT_NONE,
                                         .reason = s->outcome.decrypt_reason};
    }
    outcome_inbound(s, ar, n);
    if (dec > 0)
        decrypt_value(s, ar, n, dvalue, sizeof dvalue);
    if (strip_forged(s, act, arg) != 0)
        return -1;
    if (n && (value = arheader_build(s->cfg->authserv_id, ar, n)) == NULL)
        return -1;
    if (dec > 0 &&
        (decrypt_apply(s->dec, &s->view, act, arg) != 0 ||
         act->insert_header(arg, 0, s->cfg->decrypt_header, dvalue) != 0))
        r = -1;
    if (r == 0 && s->cfg->tag_header && n &&
        ar[0].result == SMIME_RESULT_PASS && ar[0].identifier &&
        *ar[0].identifier &&
        act->insert_header(arg, 0, s->cfg->tag_header, ar[0].identifier) != 0)
        r = -1;
    if (r == 0 && value)
        r = act->insert_header(arg, 0, AR_NAME, value);
    free(value);
    /* harvest once the verdict stands; its outcome never changes it */
    if (r == 0 && !failed && !s->headers_dropped && s->in)
        s->outcome.harvest = harvest_store(s->cfg, inbound_harvest(s->in),
                                           session_queue_id(s));
    return r;
}

/* SPEC: mail to a required recipient is never sent unencrypted.  The
 * transaction holds one (encpolicy), so every recipient had a usable
 * certificate at RCPT; if the message is not encrypted after all (the
 * certificate went between RCPT and the end, MaxMessageSize, an
 * internal error, even with OnError accept) it is tempfailed.  Mail the
 * sender encrypted already goes as it is. */
static int required_unencrypted(const session_t *s)
{
    return s->dir == DIR_OUT && s->rcpt_enc.required && !s->encrypted_ok &&
           strcmp(s->enc_why, "already encrypted") != 0;
}

/* OnError: tempfail, or accept the message with what can still be done
 * (inbound: temperror result; outbound: unsigned, forged headers gone). */
static enum session_status on_error(session_t *s, const struct actions *act,
                                    void *arg)
{
    if (!s->cfg->on_error_accept || required_unencrypted(s))
        return SESSION_TEMPFAIL;
    if (s->dir == DIR_IN)
        return inbound_eom(s, act, arg, 1) != 0 ? SESSION_TEMPFAIL
                                                : SESSION_ACCEPT;
    if (strip_forged(s, act, arg) != 0)
        return SESSION_TEMPFAIL;
    return SESSION_ACCEPT;
}

/* Everything eom does; the outcome is completed by the caller. */
static enum session_status message_end(session_t *s,
                                       const struct actions *act, void *arg)
{
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
    if (s->dir == DIR_OUT && s->out) {
        /* sign first; with encryption the signed entity goes to it */
        const struct actions *sa = s->enc ? encrypt_actions(s->enc, act, arg)
                                          : act;
        int r = outbound_finish(s->out, sa, s->enc ? (void *)s->enc : arg,
                                &s->out_kind, s->out_why, sizeof s->out_why);
        if (r < 0) {
            fail(s, s->out_why[0] ? s->out_why : "signing");
            return on_error(s, act, arg);
        }
        s->signed_ok = r == 1;
    }
    if (s->dir == DIR_OUT && s->enc) {
        int r = encrypt_finish(s->enc, act, arg, s->enc_why,
                               sizeof s->enc_why);
        if (r < 0) {
            fail(s, s->enc_why[0] ? s->enc_why : "encrypting");
            return on_error(s, act, arg);
        }
        s->encrypted_ok = 1;
    }
    if (required_unencrypted(s)) {
        char why[400];
        snprintf(why, sizeof why, "a recipient requires encryption, not "
                 "encrypted: %s", s->enc_why[0] ? s->enc_why : "unknown");
        errno = 0;
        fail(s, why);
        return SESSION_TEMPFAIL;
    }
    return SESSION_ACCEPT;
}

enum session_status session_eom(session_t *s, const struct actions *act,
                                 void *arg)
{
    enum session_status st;

    if (s->cfg == NULL)
        return SESSION_ACCEPT;
    s->view.v = s->hv;
    s->view.n = s->nh;
    st = message_end(s, act, arg);
    s->outcome.tempfail = st == SESSION_TEMPFAIL;
    if (s->dir == DIR_OUT)
        outcome_outbound(s);
    outcome_end(s, s->dir == DIR_IN    ? SESSION_DIR_IN
                   : s->dir == DIR_OUT ? SESSION_DIR_OUT
                                       : SESSION_DIR_IGNORED);
    return st;
}
