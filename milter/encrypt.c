/*
 * encrypt.c - Mode e glue (see encrypt.h): which certificates, which
 * algorithm, the content entity in, application/pkcs7-mime out.
 *
 * The content entity is the message's Content-* headers and its body,
 * or, when the message was signed, the multipart/signed entity the
 * signer made: outbound_finish() is given actions (encrypt_actions)
 * that catch its new Content-Type and body instead of applying them, so
 * the signer needs no knowledge of encryption.  The entity goes through
 * the CMS writer (crypto/envelope_write.h) and the streaming base64
 * encoder into a spool, which becomes the new body.  Which entity it is
 * is known at end of headers, once the signer has said whether it signs
 * (encrypt_entity): the message's own streams through the writer as the
 * body arrives (no plaintext spool: one spool's memory and, for a large
 * message, its file written and read back saved); for a signed one the
 * original body is not kept at all, and the signed entity the signer
 * hands over at the end is spooled (it is written whole, before its
 * Content-Type is known).  AES-256-GCM only when every recipient's
 * certificate announced it (SPEC).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "certstore.h"
#include "codec.h"
#include "encrypt.h"
#include "envelope_write.h"
#include "errbuf.h"
#include "recipient.h"
#include "spool.h"

struct encrypt {
    const config_t *cfg;
    const struct msg_headers *hdrs;
    smime_rcpt_cert_t *crt;         /* one per recipient */
    size_t ncrt;
    smime_encrypt_cipher_t cipher;
    int await_signed;               /* the signer's entity is encrypted */
    spool_t *sbody;                 /* the signed entity's body, if signed */
    char *sctype;                   /* its Content-Type */
    int signed_;
    smime_encrypt_t *x;             /* the CMS writer, once started */
    spool_t *out;                   /* base64 of the CMS */
    struct b64_enc b64;
    /* the interposed actions (encrypt_actions) */
    struct actions wrap;
    const struct actions *act;
    void *arg;
};

static int is_content_header(const char *name)
{
    return strncasecmp(name, "Content-", 8) == 0;
}

static const char *first(const struct msg_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

/* Already encrypted: S/MIME enveloped (any pkcs7-mime but signed-data)
 * or PGP/MIME. */
static int already_encrypted(const struct msg_headers *h)
{
    const char *ct = first(h, "Content-Type");
    char v[512];
    size_t i;

    if (ct == NULL)
        return 0;
    for (i = 0; ct[i] && i + 1 < sizeof(v); i++)
        v[i] = (char)(ct[i] >= 'A' && ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
    v[i] = '\0';
    if (strstr(v, "multipart/encrypted") != NULL)
        return 1;
    if (strstr(v, "pkcs7-mime") == NULL)
        return 0;
    return strstr(v, "signed-data") == NULL;
}

void encrypt_free(encrypt_t *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->ncrt; i++)
        smime_rcpt_cert_clear(&e->crt[i]);
    free(e->crt);
    smime_encrypt_free(e->x);
    spool_free(e->sbody);
    spool_free(e->out);
    free(e->sctype);
    free(e);
}

static int cms_start(encrypt_t *e, char *why, size_t whylen);

int encrypt_begin(config_t *cfg, char *const *rcpts, size_t nrcpt,
                  const struct msg_headers *hdrs, encrypt_t **out,
                  char *why, size_t whylen)
{
    char err[256], reason[200];
    certstore_t *cs;
    encrypt_t *e;
    int gcm = 1;

    *out = NULL;
    if (nrcpt == 0) {
        snprintf(why, whylen, "no envelope recipient");
        return 0;
    }
    if (already_encrypted(hdrs)) {
        snprintf(why, whylen, "already encrypted");
        return 0;
    }
    if (cfg->certificate_store == NULL) {
        snprintf(why, whylen, "no CertificateStore");
        return 0;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL ||
        (e->crt = calloc(nrcpt, sizeof(*e->crt))) == NULL) {
        free(e);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    e->cfg = cfg;
    e->hdrs = hdrs;
    /* the snapshot's handle, open across messages; the certificates
     * come from its cache while the store holds the same ones */
    if ((cs = config_certstore(cfg, err, sizeof(err))) == NULL) {
        snprintf(why, whylen, "certificate store: %s", err);
        encrypt_free(e);
        return 0;
    }
    for (size_t i = 0; i < nrcpt; i++) {
        smime_rcpt_cert_t c;
        enum smime_rcpt_status st = smime_rcpt_lookup(cfg->rcpt_cache, cs,
                cfg->trust, cfg->policy.max_chain, rcpts[i], time(NULL), &c,
                reason, sizeof(reason));
        if (st != SMIME_RCPT_OK) {
            if (st == SMIME_RCPT_NONE)
                snprintf(why, whylen, "%s has no certificate", rcpts[i]);
            else
                snprintf(why, whylen, "%s: %s", rcpts[i], reason);
            encrypt_free(e);
            return 0;
        }
        gcm &= c.gcm;
        e->crt[e->ncrt++] = c;          /* taken over */
    }
    e->cipher = gcm ? SMIME_ENCRYPT_AES256_GCM : SMIME_ENCRYPT_AES256_CBC;
    e->out = spool_new((size_t)cfg->spool_threshold, cfg->spool_directory);
    if (e->out == NULL) {
        snprintf(why, whylen, "out of memory");
        encrypt_free(e);
        return -1;
    }
    *out = e;
    return 1;
}

int encrypt_entity(encrypt_t *e, int signing, char *why, size_t whylen)
{
    e->await_signed = signing;
    return signing ? 0 : cms_start(e, why, whylen);
}

int encrypt_body(encrypt_t *e, const char *buf, size_t len)
{
    if (e->await_signed)
        return 0;               /* the signer has it (outbound_body) */
    if (e->x == NULL) {         /* encrypt_entity() not called, or failed */
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    if (smime_encrypt_update(e->x, buf, len) == SMIME_ENCRYPT_OK)
        return 0;
    if (errno == 0)
        errno = EIO;    /* the writer's failure: the spool's errno, or none */
    return -1;
}

/* ---- the signer's changes, caught ---- */

static int w_insert(void *arg, unsigned idx, const char *name,
                    const char *value)
{
    encrypt_t *e = arg;

    if (strcasecmp(name, "Content-Type") == 0) {
        free(e->sctype);
        return (e->sctype = strdup(value)) == NULL ? -1 : 0;
    }
    return e->act->insert_header(e->arg, idx, name, value);
}

static int w_change(void *arg, const char *name, unsigned idx,
                    const char *value)
{
    encrypt_t *e = arg;

    if (strcasecmp(name, "Content-Type") == 0 && value != NULL) {
        free(e->sctype);
        return (e->sctype = strdup(value)) == NULL ? -1 : 0;
    }
    /* the signer's deletions of the message's Content-* headers (extra
     * Content-Types, every Content-Transfer-Encoding): rewrite_headers
     * changes or drops each of those itself, one request per header */
    if (is_content_header(name) && value == NULL)
        return 0;
    return e->act->change_header(e->arg, name, idx, value);
}

static int w_body(void *arg, actions_read_fn rd, void *rarg)
{
    encrypt_t *e = arg;
    char buf[16384];
    ssize_t n;

    if (e->sbody == NULL &&
        (e->sbody = spool_new((size_t)e->cfg->spool_threshold,
                              e->cfg->spool_directory)) == NULL)
        return -1;
    while ((n = rd(rarg, buf, sizeof(buf))) > 0)
        if (spool_write(e->sbody, buf, (size_t)n) < 0)
            return -1;
    e->signed_ = n == 0;
    return n < 0 ? -1 : 0;
}

const struct actions *encrypt_actions(encrypt_t *e, const struct actions *act,
                                      void *arg)
{
    e->act = act;
    e->arg = arg;
    e->wrap.insert_header = w_insert;
    e->wrap.change_header = w_change;
    e->wrap.replace_body = w_body;
    return &e->wrap;
}

/* ---- the end ---- */

static int to_spool(void *arg, const char *buf, size_t len)
{
    return spool_write(arg, buf, len);
}

static int cms_out(void *arg, const void *p, size_t n)
{
    encrypt_t *e = arg;
    return b64_enc_update(&e->b64, p, n);
}

static int header_line(smime_encrypt_t *x, const char *name, const char *v)
{
    return smime_encrypt_update(x, name, strlen(name)) ||
           smime_encrypt_update(x, ": ", 2) ||
           smime_encrypt_update(x, v, strlen(v)) ||
           smime_encrypt_update(x, "\r\n", 2) ? -1 : 0;
}

static void cms_why(encrypt_t *e, char *why, size_t whylen)
{
    const char *m = e->x ? smime_encrypt_error(e->x) : "out of memory";
    char eb[128];

    snprintf(why, whylen, "encrypting: %s",
             *m ? m : smime_strerror(errno, eb, sizeof eb));
}

/* The CMS writer into e->out (base64), its recipients and the entity's
 * header (the signer's Content-Type, or the message's own Content-*
 * headers) written: 0, or -1 with why. */
static int cms_start(encrypt_t *e, char *why, size_t whylen)
{
    smime_encrypt_t *x = e->x = smime_encrypt_new(e->cipher, cms_out, e);

    errno = 0;
    if (x == NULL) {
        cms_why(e, why, whylen);
        return -1;
    }
    b64_enc_init(&e->b64, to_spool, e->out);
    for (size_t i = 0; i < e->ncrt; i++)
        if ((e->crt[i].rkey != NULL
             ? smime_encrypt_add_rkey(x, e->crt[i].rkey)
             : smime_encrypt_add_recipient_key(x, e->crt[i].crt,
                                               e->crt[i].pub)) !=
            SMIME_ENCRYPT_OK)
            goto fail;
    if (e->signed_) {
        if (e->sctype && header_line(x, "Content-Type", e->sctype) < 0)
            goto fail;
    } else {
        for (size_t i = 0; i < e->hdrs->n; i++)
            if (is_content_header(e->hdrs->v[i].name) &&
                header_line(x, e->hdrs->v[i].name, e->hdrs->v[i].value) < 0)
                goto fail;
    }
    if (smime_encrypt_update(x, "\r\n", 2) == SMIME_ENCRYPT_OK)
        return 0;
fail:
    cms_why(e, why, whylen);
    return -1;
}

/* The signed entity (spooled) or the rest of the message's own (it
 * streamed) through the CMS writer into e->out, and the CMS finished. */
static int make_cms(encrypt_t *e, char *why, size_t whylen)
{
    spool_t *body = e->signed_ ? e->sbody : NULL;
    char buf[16384];
    ssize_t n = 0;

    if (e->await_signed && !e->signed_) {
        /* outbound.h allows "not signed after all"; the original body
         * is gone by then, so that would be an error here */
        snprintf(why, whylen, "encrypting: the signer gave no signed "
                 "entity");
        return -1;
    }
    if (body != NULL) {
        if (cms_start(e, why, whylen) < 0)
            return -1;
        if (spool_rewind(body) < 0)
            goto fail;
        while ((n = spool_read(body, buf, sizeof(buf))) > 0)
            if (smime_encrypt_update(e->x, buf, (size_t)n) != SMIME_ENCRYPT_OK)
                goto fail;
    }
    if (n == 0 && smime_encrypt_finish(e->x) == SMIME_ENCRYPT_OK &&
        b64_enc_finish(&e->b64) == 0 && spool_write(e->out, "\r\n", 2) == 0)
        return 0;
fail:
    cms_why(e, why, whylen);
    return -1;
}

static ssize_t out_read(void *arg, void *buf, size_t len)
{
    return spool_read(arg, buf, len);
}

/* Content-Type becomes pkcs7-mime, Content-Transfer-Encoding base64,
 * Content-Disposition an attachment smime.p7m: the message's first of
 * each is changed where it stands, a missing one added; every other
 * Content-* header of the message goes (it is inside now: in the
 * entity, or in the signed part the signer made of it).  MIME-Version
 * added when missing.  One request to the MTA per header, each a
 * protocol round (a change, not a delete and an insert). */
static int rewrite_headers(encrypt_t *e, const struct actions *act,
                           void *arg)
{
    const struct msg_headers *h = e->hdrs;
    char ct[160];
    const char *name[3] = { "Content-Type", "Content-Transfer-Encoding",
                            "Content-Disposition" };
    const char *val[3] = { ct, "base64", "attachment; filename=\"smime.p7m\"" };
    int have[3] = { 0, 0, 0 }, have_mv = 0;

    snprintf(ct, sizeof(ct), "application/pkcs7-mime; smime-type=%s;\n"
             "\tname=\"smime.p7m\"", smime_encrypt_smime_type(e->cipher));
    /* from the last down, so that the indexes stay right */
    for (size_t i = h->n; i > 0; i--) {
        const char *hn = h->v[i - 1].name, *nv = NULL;
        unsigned idx = 0;
        if (strcasecmp(hn, "MIME-Version") == 0)
            have_mv = 1;
        if (!is_content_header(hn))
            continue;
        for (size_t j = 0; j < i; j++)
            idx += strcasecmp(h->v[j].name, hn) == 0;
        for (int k = 0; k < 3 && idx == 1; k++)
            if (strcasecmp(hn, name[k]) == 0) {
                have[k] = 1;
                nv = val[k];
            }
        if (act->change_header(arg, hn, idx, nv) < 0)
            return -1;
    }
    for (int k = 0; k < 3; k++)
        if (!have[k] &&
            act->insert_header(arg, (unsigned)h->n, name[k], val[k]) < 0)
            return -1;
    if (!have_mv && !e->signed_ &&
        act->insert_header(arg, (unsigned)h->n, "MIME-Version", "1.0") < 0)
        return -1;
    return 0;
}

int encrypt_finish(encrypt_t *e, const struct actions *act, void *arg,
                   char *why, size_t whylen)
{
    char eb[128];

    if (make_cms(e, why, whylen) < 0)
        return -1;
    if (spool_rewind(e->out) < 0 ||
        act->replace_body(arg, out_read, e->out) < 0) {
        snprintf(why, whylen, "replacing the body: %s",
                 smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    if (rewrite_headers(e, act, arg) < 0) {
        snprintf(why, whylen, "changing headers: %s",
                 smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    snprintf(why, whylen, "encrypted for %zu recipient%s (%s)", e->ncrt,
             e->ncrt == 1 ? "" : "s", smime_encrypt_cipher_name(e->cipher));
    return 1;
}
