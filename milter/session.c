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
 *
 * This file takes the message as it arrives, up to the body; its end
 * is in session_eom.c, its outcome and log line in session_outcome.c;
 * session_priv.h holds what the three share.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arheader.h"
#include "errbuf.h"
#include "session_priv.h"

#define MAX_HEADER_BYTES (4u * 1024 * 1024)
#define MAX_TAIL_OURS 65536        /* our A-R headers noted past the cap */

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
    /* asked for at MAIL, end of headers and end of message: the same
     * value each time, kept without another copy */
    if (s->qid && qid && strcmp(s->qid, qid) == 0)
        return 0;
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
        sess_fail(s, "storing the client address");
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

/* Mode e, outbound: the encryption policy may refuse the recipient. */
static int rcpt_refused(session_t *s, const char *addr,
                        struct session_rcpt_reply *reply)
{
    struct encpolicy_reply er;
    char bare[512];
    size_t len = strlen(addr);

    if (s->cfg == NULL || !(s->cfg->mode & CONFIG_MODE_ENCRYPT) ||
        !sess_is_outbound(s))
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
        sess_fail(s, "storing a recipient");
        return -1;
    }
    return 0;
}

void session_rcpt_unrefused(session_t *s,
                            const struct session_rcpt_reply *reply)
{
    char why[300];

    snprintf(why, sizeof why, "a recipient the encryption policy refuses "
             "(%s %s) cannot be refused on a connection made before a "
             "reload allowed refusals", reply->rcode, reply->xcode);
    errno = 0;
    sess_fail(s, why);
}

size_t session_nrcpt(const session_t *s)
{
    return s->nrcpt;
}

const char *session_rcpt_at(const session_t *s, size_t i)
{
    return i < s->nrcpt ? s->rcpt[i] : NULL;
}

void session_abort(session_t *s)
{
    if (s->cfg && s->outcome.dir == SESSION_DIR_NONE)
        sess_outcome_end(s, SESSION_DIR_ABORTED);
    message_clear(s);
}

void sess_fail(session_t *s, const char *why)
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

/* sess_fail() for a body step whose spool is what fails in practice:
 * the reason names the directory. */
static void spool_fail(session_t *s, const char *what)
{
    char why[160];

    snprintf(why, sizeof why, "%s, spool in %s", what,
             config_spool_dir(s->cfg));
    sess_fail(s, why);
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
            sess_fail(s, "too many Authentication-Results headers");
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
            sess_fail(s, "storing headers");
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
        sess_fail(s, "storing headers");
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

int sess_is_outbound(const session_t *s)
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
            sess_fail(s, "starting to decrypt");
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
        sess_fail(s, "starting to verify");
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
    if (sess_is_outbound(s)) {
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
                sess_fail(s, s->enc_why[0] ? s->enc_why
                                           : "starting to encrypt");
                return SESSION_CONTINUE;
            }
        }
        int r = 0;
        if (s->cfg->mode & CONFIG_MODE_SIGN) {
            errno = 0;
            r = outbound_begin(s->cfg, s->login, first_header(s, "From"),
                               &s->view, &s->out, &s->out_kind, s->out_why,
                               sizeof s->out_why);
            if (r < 0) {
                if (s->out_why[0])
                    errno = 0;          /* the reason says it all */
                sess_fail(s, s->out_why[0] ? s->out_why : "starting to sign");
                return SESSION_CONTINUE;
            }
        }
        /* which entity is encrypted: the signer's, or the message's */
        errno = 0;
        if (s->enc && encrypt_entity(s->enc, r == 1, s->enc_why,
                                     sizeof s->enc_why) < 0) {
            sess_fail(s, s->enc_why[0] ? s->enc_why : "starting to encrypt");
            return SESSION_CONTINUE;
        }
        if (r == 0)
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
            sess_fail(s, "verifying");
        }
    }
    if (s->enc && !s->failed && encrypt_body(s->enc, buf, len) != 0)
        spool_fail(s, "encrypting");
    if (s->out && !s->failed && outbound_body(s->out, buf, len) != 0)
        spool_fail(s, "signing");
    return s->failed ? SESSION_SKIP : SESSION_CONTINUE;
}
