/*
 * session_eom.c - the end of a message (session_eom): every
 * Authentication-Results header carrying our authserv-id, TagHeader and
 * DecryptHeader is deleted in both directions; inbound, the decrypted
 * message replaces the enveloped one and our verdict is prepended;
 * outbound, the message is signed, then encrypted.  An internal error
 * ends in OnError: tempfail, or accept what can still be done.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_priv.h"

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
        sess_fail(s, why);
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
        sess_fail(s, "verifying the decrypted message");
        return -2;
    }
    inbound_free(s->in);
    s->in = in;
    o->decrypted = 1;
    sess_copy_into(o->cipher, sizeof o->cipher, decrypt_cipher(s->dec));
    return 1;
}

/* The DecryptHeader value; integrity from the first result. */
static void decrypt_value(session_t *s, const struct ar_result *ar, size_t n,
                          char *buf, size_t len)
{
    struct session_outcome *o = &s->outcome;

    sess_copy_into(o->integrity, sizeof o->integrity,
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
        sess_fail(s, "verifying");
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
    sess_outcome_inbound(s, ar, n);
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
                sess_fail(s, "changing headers");
            return on_error(s, act, arg);
        }
        return SESSION_ACCEPT;
    }
    if (strip_forged(s, act, arg) != 0) {
        sess_fail(s, "changing headers");
        return on_error(s, act, arg);
    }
    if (s->dir == DIR_OUT && s->out) {
        /* sign first; with encryption the signed entity goes to it */
        const struct actions *sa = s->enc ? encrypt_actions(s->enc, act, arg)
                                          : act;
        int r = outbound_finish(s->out, sa, s->enc ? (void *)s->enc : arg,
                                &s->out_kind, s->out_why, sizeof s->out_why);
        if (r < 0) {
            sess_fail(s, s->out_why[0] ? s->out_why : "signing");
            return on_error(s, act, arg);
        }
        s->signed_ok = r == 1;
    }
    if (s->dir == DIR_OUT && s->enc) {
        int r = encrypt_finish(s->enc, act, arg, s->enc_why,
                               sizeof s->enc_why);
        if (r < 0) {
            sess_fail(s, s->enc_why[0] ? s->enc_why : "encrypting");
            return on_error(s, act, arg);
        }
        s->encrypted_ok = 1;
    }
    if (required_unencrypted(s)) {
        char why[400];
        snprintf(why, sizeof why, "a recipient requires encryption, not "
                 "encrypted: %s", s->enc_why[0] ? s->enc_why : "unknown");
        errno = 0;
        sess_fail(s, why);
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
        sess_outcome_outbound(s);
    sess_outcome_end(s, s->dir == DIR_IN    ? SESSION_DIR_IN
                   : s->dir == DIR_OUT ? SESSION_DIR_OUT
                                       : SESSION_DIR_IGNORED);
    return st;
}
