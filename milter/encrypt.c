/*
 * encrypt.c - Mode e glue (see encrypt.h): which certificates, which
 * algorithm, the content entity in, application/pkcs7-mime out.
 *
 * The content entity is the message's Content-* headers and its body
 * (spooled as it arrives), or, when the message was signed, the
 * multipart/signed entity the signer made: outbound_finish() is given
 * actions (encrypt_actions) that catch its new Content-Type and body
 * instead of applying them, so the signer needs no knowledge of
 * encryption.  At the end the entity is streamed through the CMS writer
 * (crypto/envelope_write.h) and the streaming base64 encoder into a
 * second spool, which becomes the new body.  AES-256-GCM only when every
 * recipient's certificate announced it (SPEC).
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
    spool_t *body;                  /* the original body */
    spool_t *sbody;                 /* the signed entity's body, if signed */
    char *sctype;                   /* its Content-Type */
    int signed_;
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
    spool_free(e->body);
    spool_free(e->sbody);
    spool_free(e->out);
    free(e->sctype);
    free(e);
}

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
    e->body = spool_new((size_t)cfg->spool_threshold, cfg->spool_directory);
    e->out = spool_new((size_t)cfg->spool_threshold, cfg->spool_directory);
    if (e->body == NULL || e->out == NULL) {
        snprintf(why, whylen, "out of memory");
        encrypt_free(e);
        return -1;
    }
    *out = e;
    return 1;
}

int encrypt_body(encrypt_t *e, const char *buf, size_t len)
{
    return spool_write(e->body, buf, len);
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

    if (strcasecmp(name, "Content-Type") == 0) {
        if (value == NULL)
            return 0;       /* extra Content-Types: encrypt_finish drops */
        free(e->sctype);
        return (e->sctype = strdup(value)) == NULL ? -1 : 0;
    }
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

/* The entity through the CMS writer into e->out (base64). */
static int make_cms(encrypt_t *e, char *why, size_t whylen)
{
    smime_encrypt_t *x = smime_encrypt_new(e->cipher, cms_out, e);
    spool_t *body = e->signed_ ? e->sbody : e->body;
    char buf[16384];
    ssize_t n;
    int r = -1;

    if (x == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    b64_enc_init(&e->b64, to_spool, e->out);
    for (size_t i = 0; i < e->ncrt; i++)
        if (smime_encrypt_add_recipient_key(x, e->crt[i].crt,
                                            e->crt[i].pub) !=
            SMIME_ENCRYPT_OK)
            goto out;
    /* the content headers: the signer's one, or the message's own */
    if (e->signed_) {
        if (e->sctype && header_line(x, "Content-Type", e->sctype) < 0)
            goto out;
    } else {
        for (size_t i = 0; i < e->hdrs->n; i++)
            if (is_content_header(e->hdrs->v[i].name) &&
                header_line(x, e->hdrs->v[i].name, e->hdrs->v[i].value) < 0)
                goto out;
    }
    if (smime_encrypt_update(x, "\r\n", 2) != SMIME_ENCRYPT_OK ||
        spool_rewind(body) < 0)
        goto out;
    while ((n = spool_read(body, buf, sizeof(buf))) > 0)
        if (smime_encrypt_update(x, buf, (size_t)n) != SMIME_ENCRYPT_OK)
            goto out;
    if (n == 0 && smime_encrypt_finish(x) == SMIME_ENCRYPT_OK &&
        b64_enc_finish(&e->b64) == 0 && spool_write(e->out, "\r\n", 2) == 0)
        r = 0;
out:
    if (r < 0) {
        const char *m = smime_encrypt_error(x);
        char eb[128];
        snprintf(why, whylen, "encrypting: %s",
                 *m ? m : smime_strerror(errno, eb, sizeof eb));
    }
    smime_encrypt_free(x);
    return r;
}

static ssize_t out_read(void *arg, void *buf, size_t len)
{
    return spool_read(arg, buf, len);
}

/* Content-Type becomes pkcs7-mime, every other Content-* header of the
 * message goes (it is inside now: in the entity, or in the signed part
 * the signer made of it), then Content-Transfer-Encoding base64
 * and Content-Disposition; MIME-Version added when missing. */
static int rewrite_headers(encrypt_t *e, const struct actions *act,
                           void *arg)
{
    const struct msg_headers *h = e->hdrs;
    char ct[160];
    int have_ct = 0, have_mv = 0;

    snprintf(ct, sizeof(ct), "application/pkcs7-mime; smime-type=%s;\n"
             "\tname=\"smime.p7m\"", smime_encrypt_smime_type(e->cipher));
    /* from the last down, so that the indexes stay right */
    for (size_t i = h->n; i > 0; i--) {
        const char *name = h->v[i - 1].name;
        unsigned idx = 0;
        if (strcasecmp(name, "MIME-Version") == 0)
            have_mv = 1;
        if (!is_content_header(name))
            continue;
        for (size_t j = 0; j < i; j++)
            idx += strcasecmp(h->v[j].name, name) == 0;
        if (strcasecmp(name, "Content-Type") == 0 && idx == 1) {
            have_ct = 1;
            if (act->change_header(arg, name, 1, ct) < 0)
                return -1;
        } else if (act->change_header(arg, name, idx, NULL) < 0 &&
                   !(e->signed_ &&
                     strcasecmp(name, "Content-Transfer-Encoding") == 0)) {
            return -1;      /* (the signer deleted the CTEs already) */
        }
    }
    if (!have_ct &&
        act->insert_header(arg, (unsigned)h->n, "Content-Type", ct) < 0)
        return -1;
    if (act->insert_header(arg, (unsigned)h->n, "Content-Transfer-Encoding",
                           "base64") < 0 ||
        act->insert_header(arg, (unsigned)h->n, "Content-Disposition",
                           "attachment; filename=\"smime.p7m\"") < 0)
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
