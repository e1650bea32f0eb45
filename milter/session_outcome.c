/*
 * session_outcome.c - what happened to a message, as struct
 * session_outcome, and its log line (session_outcome_format): the one
 * place where the line is made, for eom and abort alike.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "session_priv.h"

const char *session_summary(const session_t *s)
{
    return s->summary;
}

const struct session_outcome *session_outcome(const session_t *s)
{
    return &s->outcome;
}

static void quote_into(char *dst, size_t len, const char *s)
{
    size_t n = 0;

    for (; *s && n + 2 < len; s++)
        dst[n++] = (*s == '"' || (unsigned char)*s < 32) ? '\'' : *s;
    dst[n] = '\0';
}

void sess_copy_into(char *dst, size_t len, const char *s)
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
void sess_outcome_end(session_t *s, enum session_dir dir)
{
    struct session_outcome *o = &s->outcome;

    o->dir = dir;
    o->outbound = sess_is_outbound(s);
    sess_copy_into(o->client, sizeof o->client, s->client ? s->client
                                          : s->client_lost ? "unknown"
                                                           : "local");
    sess_copy_into(o->login, sizeof o->login, s->login ? s->login : "-");
    if (s->failed) {
        o->error = 1;
        sess_copy_into(o->error_text, sizeof o->error_text, s->fail_why);
    }
    session_outcome_format(o, s->summary, sizeof s->summary);
}

/* Inbound: the first of the results written to the header. */
void sess_outcome_inbound(session_t *s, const struct ar_result *r,
                            size_t n)
{
    struct session_outcome *o = &s->outcome;
    int none = n == 0 || r[0].result == SMIME_RESULT_NONE;

    o->result = none ? SMIME_RESULT_NONE : r[0].result;
    o->unverified_too_large = none && s->too_large;
    o->signatures = none ? 0 : n;
    sess_copy_into(o->signer, sizeof o->signer, none ? "" : r[0].identifier);
    sess_copy_into(o->part, sizeof o->part, none ? "" : r[0].part);
    sess_copy_into(o->serial, sizeof o->serial, none ? "" : r[0].serial);
    sess_copy_into(o->reason, sizeof o->reason,
              o->unverified_too_large ? TOO_LARGE_REASON
              : none                  ? ""
                                      : r[0].reason);
    if (o->decrypted < 0)
        sess_copy_into(o->reason, sizeof o->reason, o->decrypt_reason);
}

/* Outbound: signed, or why not. */
void sess_outcome_outbound(session_t *s)
{
    struct session_outcome *o = &s->outcome;

    o->signed_ok = s->signed_ok;
    o->encrypt_tried = s->encrypt_tried;
    o->encrypted_ok = s->encrypted_ok;
    sess_copy_into(o->encrypt_reason, sizeof o->encrypt_reason,
              s->encrypted_ok ? s->enc_why : "");
    if (s->encrypt_tried && !s->encrypted_ok)
        snprintf(o->encrypt_reason, sizeof o->encrypt_reason,
                 "not encrypted: %s", s->enc_why);
    o->unsigned_kind = s->too_large ? OUTBOUND_UNSIGNED_TOO_LARGE
                                    : s->out_kind;
    sess_copy_into(o->reason, sizeof o->reason,
              s->too_large ? TOO_LARGE_REASON : s->out_why);
}
