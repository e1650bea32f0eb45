/*
 * decrypt.c - Mode d glue: decrypts an inbound message whose top-level
 * entity is CMS EnvelopedData or AuthEnvelopedData.
 *
 * The top-level Content-Type decides whether a message is a candidate
 * (pkcs7-mime with smime-type enveloped-data or authEnveloped-data, or
 * without smime-type; octet-stream named *.p7m), the body is
 * transfer-decoded here (base64, or taken as it is for 7bit, 8bit and
 * binary) and fed to crypto/envelope.h in bounded chunks.  When the
 * RecipientInfos have been read, every envelope recipient must have a
 * decryption credential named by one of them (issuerAndSerialNumber or
 * subjectKeyIdentifier): keys of some recipients must never open mail
 * for others.  The plaintext streams to a spool; nothing of it is used
 * before smime_decrypt_finish() succeeded (the GCM tag, the CBC padding)
 * and the result looks like a MIME entity: a wrong RSA key gives a random
 * content key (RFC 3218), which decrypts CBC to garbage with valid
 * padding about once in 256 tries.  The entity's header block (at most
 * MAX_INNER_HEADER bytes) is kept for the session, its body is read back
 * from the spool.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "decrypt.h"
#include "envelope.h"
#include "keystore.h"
#include "log.h"
#include "mime.h"
#include "outbound.h"
#include "rfc5322.h"
#include "sign.h"
#include "spool.h"

#define FEED_CHUNK 16384          /* CMS bytes per smime_decrypt_feed */
#define MAX_INNER_HEADER 65536    /* header block of the decrypted entity */
#define MAX_INNER_FIELDS 256

enum cte_kind { CTE_RAW, CTE_BASE64, CTE_BAD };

struct decrypt {
    const config_t *cfg;
    char *const *rcpt;
    size_t nrcpt;
    enum cte_kind cte;
    struct b64_dec b64;
    smime_decrypt_t *env;
    int keyed;                 /* the content key was recovered */
    int stopped;               /* decided not to decrypt: ignore the rest */
    int enveloped;             /* the CMS is enveloped (header read) */
    enum decrypt_outcome outcome;
    char reason[400];
    char forlist[512];
    keystore_entry_t *entry;   /* holds the credential used */
    spool_t *plain;
    uint64_t hdr_len;          /* bytes of the inner header block */
    struct msg_header *hv;
    size_t nh;
    struct msg_headers view;
};

/* ---- is it a candidate ---- */

struct top {
    int candidate;
    enum cte_kind cte;
};

static void top_entity(void *arg, const mime_entity_t *e)
{
    struct top *t = arg;
    const char *type = mime_entity_type(e), *st, *name;
    size_t n;

    if (mime_entity_depth(e) != 0)
        return;
    st = mime_entity_param(e, "smime-type");
    if (strcmp(type, "application/pkcs7-mime") == 0 ||
        strcmp(type, "application/x-pkcs7-mime") == 0)
        t->candidate = st == NULL ||
                       strcasecmp(st, "enveloped-data") == 0 ||
                       strcasecmp(st, "authenveloped-data") == 0;
    else if (strcmp(type, "application/octet-stream") == 0 && st == NULL) {
        name = mime_entity_param(e, "name");
        if (name == NULL)
            name = mime_entity_disposition_param(e, "filename");
        n = name ? strlen(name) : 0;
        t->candidate = n >= 4 && strcasecmp(name + n - 4, ".p7m") == 0;
    }
    switch (mime_entity_cte(e)) {
    case MIME_CTE_BASE64: t->cte = CTE_BASE64; break;
    case MIME_CTE_7BIT: case MIME_CTE_8BIT: case MIME_CTE_BINARY:
        t->cte = CTE_RAW; break;
    default: t->cte = CTE_BAD;
    }
}

static int parser_out(void *parser, const char *buf, size_t len)
{
    return mime_parser_feed(parser, buf, len);
}

/* The top-level entity's type and encoding, from the header block. */
static int classify(const struct msg_headers *hdrs, struct top *t)
{
    struct mime_callbacks cb = {0};
    mime_parser_t *p;
    int r = 0;

    cb.entity_begin = top_entity;
    if ((p = mime_parser_new(NULL, &cb, t)) == NULL)
        return -1;
    for (size_t i = 0; i < hdrs->n && r == 0; i++)
        r = rfc5322_header_write(hdrs->v[i].name, hdrs->v[i].value,
                                 parser_out, p);
    if (r == 0)
        r = mime_parser_feed(p, "\r\n", 2);
    mime_parser_free(p);
    return r == 0 ? 0 : -1;
}

/* Not to be decrypted: the outcome and why (the rest is ignored). */
static void __attribute__((format(printf, 3, 4)))
stop(decrypt_t *d, enum decrypt_outcome o, const char *fmt, ...)
{
    va_list ap;

    if (d->stopped)
        return;
    d->stopped = 1;
    d->outcome = o;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

static int sink(void *arg, const void *p, size_t n)
{
    decrypt_t *d = arg;

    return spool_write(d->plain, p, n);
}

int decrypt_begin(const config_t *cfg, const struct msg_headers *hdrs,
                  char *const *rcpt, size_t nrcpt, decrypt_t **out)
{
    struct top t = {0, CTE_RAW};
    decrypt_t *d;

    *out = NULL;
    if (classify(hdrs, &t) != 0)
        return -1;
    if (!t.candidate)
        return 0;
    if ((d = calloc(1, sizeof *d)) == NULL)
        return -1;
    d->cfg = cfg;
    d->rcpt = rcpt;
    d->nrcpt = nrcpt;
    d->cte = t.cte;
    d->outcome = DECRYPT_FAILED;
    d->env = smime_decrypt_new(NULL, sink, d);
    d->plain = spool_new(cfg->spool_threshold, cfg->spool_directory);
    if (d->env == NULL || d->plain == NULL) {
        decrypt_free(d);
        return -1;
    }
    if (t.cte == CTE_BAD)
        stop(d, DECRYPT_FAILED, "unsupported transfer encoding");
    *out = d;
    return 1;
}

void decrypt_free(decrypt_t *d)
{
    if (d == NULL)
        return;
    smime_decrypt_free(d->env);
    spool_free(d->plain);
    keystore_entry_free(d->entry);
    for (size_t i = 0; i < d->nh; i++) {
        free((char *)d->hv[i].name);
        free((char *)d->hv[i].value);
    }
    free(d->hv);
    free(d);
}

/* ---- the recipients ---- */

/* The credential of entry named by one of the RecipientInfos, or NULL. */
static const smime_signer_t *named_cred(const decrypt_t *d,
                                        const keystore_entry_t *e)
{
    size_t n = smime_decrypt_recipient_count(d->env);

    for (size_t i = 0; i < n; i++) {
        smime_decrypt_rid_t rid;
        const smime_signer_t *c;
        if (smime_decrypt_recipient(d->env, i, &rid) != 0 ||
            rid.kind == SMIME_RI_OTHER)
            continue;
        gnutls_datum_t issuer = {(unsigned char *)rid.issuer,
                                 (unsigned)rid.issuer_len};
        gnutls_datum_t serial = {(unsigned char *)rid.serial,
                                 (unsigned)rid.serial_len};
        gnutls_datum_t ski = {(unsigned char *)rid.ski, (unsigned)rid.ski_len};
        c = keystore_entry_find_decrypt(e, rid.is_ski ? NULL : &issuer,
                                        rid.is_ski ? NULL : &serial,
                                        rid.is_ski ? &ski : NULL);
        if (c)
            return c;
    }
    return NULL;
}

static void add_for(decrypt_t *d, const char *addr)
{
    size_t n = strlen(d->forlist);

    snprintf(d->forlist + n, sizeof d->forlist - n, "%s%s", n ? ", " : "",
             addr);
}

/* The RecipientInfos are read: every envelope recipient needs a key
 * they name; then the first one's opens the content.  0, or -1 when
 * the message is not to be decrypted (d->stopped says why). */
static int choose_key(decrypt_t *d)
{
    keystore_t *ks = outbound_keystore(d->cfg);
    const smime_signer_t *use = NULL;
    char err[256];

    if (d->nrcpt == 0)
        return stop(d, DECRYPT_NO_KEY, "no envelope recipients"), -1;
    if (ks == NULL)
        return stop(d, DECRYPT_NO_KEY, "no keystore"), -1;
    for (size_t i = 0; i < d->nrcpt; i++) {
        keystore_entry_t *e = NULL;
        const smime_signer_t *c;
        int r = keystore_lookup(ks, d->rcpt[i], &e, err, sizeof err);
        if (r < 0)
            return stop(d, DECRYPT_FAILED, "keystore: %s", err), -1;
        c = r > 0 ? named_cred(d, e) : NULL;
        if (c == NULL) {
            keystore_entry_free(e);
            return stop(d, DECRYPT_NO_KEY, "no key for recipient %s",
                        d->rcpt[i]), -1;
        }
        add_for(d, keystore_entry_address(e));
        if (use == NULL) {
            use = c;
            d->entry = e;          /* keeps c valid */
        } else {
            keystore_entry_free(e);
        }
    }
    smime_decrypt_status_t st = smime_decrypt_unwrap(
        d->env, smime_signer_privkey(use), smime_signer_cert(use, 0));
    log_token_state();          /* a token key: its state, once */
    if (st == SMIME_DECRYPT_UNAVAILABLE)   /* not the message's fault */
        return stop(d, DECRYPT_UNAVAILABLE, "%s",
                    smime_decrypt_error(d->env)), -1;
    if (st != SMIME_DECRYPT_OK)
        return stop(d, DECRYPT_FAILED, "%s", smime_decrypt_error(d->env)), -1;
    d->keyed = 1;
    return 0;
}

/* ---- the body ---- */

/* A failure of the envelope layer: the reason, or an internal error. */
static int env_failed(decrypt_t *d, smime_decrypt_status_t st)
{
    if (st == SMIME_DECRYPT_NOMEM) {
        errno = ENOMEM;
        return -1;
    }
    if (st == SMIME_DECRYPT_SINK)
        return -1;                 /* the spool: errno is set */
    if (st == SMIME_DECRYPT_NOT_ENVELOPED) {
        stop(d, DECRYPT_NOT_ENVELOPED, "not enveloped");
        return 0;
    }
    /* unsupported, damaged, a limit, the key, a failed tag or padding */
    stop(d, DECRYPT_FAILED, "%s", *smime_decrypt_error(d->env)
                                      ? smime_decrypt_error(d->env)
                                      : smime_decrypt_status_name(st));
    return 0;
}

static int feed_cms(decrypt_t *d, const unsigned char *p, size_t len)
{
    while (len && !d->stopped) {
        size_t n = len < FEED_CHUNK ? len : FEED_CHUNK;
        smime_decrypt_status_t st = smime_decrypt_feed(d->env, p, n);
        p += n;
        len -= n;
        if (st == SMIME_DECRYPT_NEED_KEY) {
            d->enveloped = 1;
            if (choose_key(d) != 0)
                return 0;
        } else if (st != SMIME_DECRYPT_OK) {
            return env_failed(d, st);
        }
    }
    return 0;
}

int decrypt_body(decrypt_t *d, const char *buf, size_t len)
{
    unsigned char out[FEED_CHUNK / 4 * 3 + 3];
    int bad = 0;

    while (len && !d->stopped) {
        size_t n = len < FEED_CHUNK ? len : FEED_CHUNK, got;
        if (d->cte == CTE_BASE64) {
            got = b64_decode(&d->b64, buf, n, out, &bad);
            if (feed_cms(d, out, got) != 0)
                return -1;
        } else if (feed_cms(d, (const unsigned char *)buf, n) != 0) {
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

/* ---- the end ---- */

/* Split a header block (raw bytes, CRLF or LF) into fields as an MTA
 * hands them over: 1 a plausible header block, 0 not one, -1 ENOMEM. */
static int split_headers(decrypt_t *d, const char *b, size_t len)
{
    const char *end = b + len, *p = b;
    int content_type = 0;

    while (p < end) {
        const char *start = p, *colon, *vs;
        char *v, *w;
        /* a field: its first line and continuation lines */
        do {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
        } while (p < end && (*p == ' ' || *p == '\t'));
        if (!rfc5322_is_header_start(start, (size_t)(p - start)))
            return 0;
        for (const char *q = start; q < p; q++)
            if ((unsigned char)*q < 32 && *q != '\t' && *q != '\r' &&
                *q != '\n')
                return 0;
        if (d->nh == MAX_INNER_FIELDS)
            return 0;
        colon = memchr(start, ':', (size_t)(p - start));
        size_t nl = (size_t)(colon - start);
        while (nl && (start[nl - 1] == ' ' || start[nl - 1] == '\t'))
            nl--;
        vs = colon + 1;
        if (vs < p && *vs == ' ')
            vs++;
        if ((v = malloc((size_t)(p - vs) + 1)) == NULL)
            return -1;
        for (w = v; vs < p; vs++)
            if (*vs != '\r')
                *w++ = *vs;
        while (w > v && w[-1] == '\n')
            w--;
        *w = '\0';
        d->hv[d->nh].value = v;
        if ((d->hv[d->nh].name = strndup(start, nl)) == NULL) {
            free(v);
            return -1;
        }
        if (strcasecmp(d->hv[d->nh].name, "Content-Type") == 0)
            content_type = 1;
        d->nh++;
    }
    return d->nh > 0 && content_type;
}

/* Read the decrypted entity's header block: 1 plausible (headers kept,
 * hdr_len set), 0 not a MIME entity, -1 error. */
static int inner_headers(decrypt_t *d)
{
    char *buf = malloc(MAX_INNER_HEADER + 1);
    size_t have = 0, hlen = 0;
    ssize_t n;
    int r = 0;

    if (buf == NULL || spool_rewind(d->plain) != 0 ||
        (d->hv = calloc(MAX_INNER_FIELDS, sizeof *d->hv)) == NULL) {
        free(buf);
        return -1;
    }
    while (have < MAX_INNER_HEADER &&
           (n = spool_read(d->plain, buf + have, MAX_INNER_HEADER - have)) > 0)
        have += (size_t)n;
    if (have < MAX_INNER_HEADER && spool_size(d->plain) > have) {
        free(buf);
        return -1;                 /* a read error */
    }
    buf[have] = '\0';
    /* the empty line: at the start of the buffer or after a line end */
    for (size_t i = 0; i < have; i++) {
        if (i > 0 && buf[i - 1] != '\n')
            continue;
        if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < have &&
                               buf[i + 1] == '\n')) {
            hlen = i;
            d->hdr_len = i + (buf[i] == '\r' ? 2 : 1);
            r = 1;
            break;
        }
    }
    if (r == 0 && have < MAX_INNER_HEADER && have > 0) {
        hlen = have;               /* headers only, no body */
        d->hdr_len = have;
        r = 1;
    }
    if (r == 1)
        r = split_headers(d, buf, hlen);
    free(buf);
    d->view.v = d->hv;
    d->view.n = d->nh;
    return r;
}

int decrypt_finish(decrypt_t *d)
{
    smime_decrypt_status_t st;
    unsigned char tail[3];
    int bad = 0, r;

    if (!d->stopped && d->cte == CTE_BASE64) {
        size_t n = b64_decode_end(&d->b64, tail, &bad);
        if (feed_cms(d, tail, n) != 0)
            return -1;
    }
    if (d->stopped && d->outcome == DECRYPT_UNAVAILABLE) {
        errno = 0;                 /* decrypt_reason() says it all */
        return -1;
    }
    if (d->stopped)
        return d->outcome == DECRYPT_DONE;
    if (!d->keyed) {
        stop(d, DECRYPT_FAILED, "truncated CMS");   /* before the key */
        return 0;
    }
    if ((st = smime_decrypt_finish(d->env)) != SMIME_DECRYPT_OK) {
        if (env_failed(d, st) != 0)
            return -1;
        return 0;
    }
    if ((r = inner_headers(d)) < 0)
        return -1;
    if (r == 0) {
        stop(d, DECRYPT_FAILED, "decrypted content is not a MIME "
             "entity: wrong key or damaged");
        return 0;
    }
    d->stopped = 1;
    d->outcome = DECRYPT_DONE;
    d->reason[0] = '\0';
    return 1;
}

/* ---- accessors ---- */

enum decrypt_outcome decrypt_outcome(const decrypt_t *d)
{
    return d->outcome;
}

int decrypt_enveloped(const decrypt_t *d)
{
    return d->enveloped;
}

const char *decrypt_reason(const decrypt_t *d)
{
    return d->reason;
}

const char *decrypt_cipher(const decrypt_t *d)
{
    return smime_decrypt_cipher(d->env);
}

int decrypt_is_aead(const decrypt_t *d)
{
    return smime_decrypt_is_aead(d->env);
}

const char *decrypt_for(const decrypt_t *d)
{
    return d->forlist;
}

const struct msg_headers *decrypt_headers(const decrypt_t *d)
{
    return &d->view;
}

int decrypt_body_rewind(decrypt_t *d)
{
    char buf[4096];
    uint64_t skip = d->hdr_len;

    if (spool_rewind(d->plain) != 0)
        return -1;
    while (skip > 0) {
        ssize_t n = spool_read(d->plain, buf,
                               skip < sizeof buf ? (size_t)skip : sizeof buf);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        skip -= (uint64_t)n;
    }
    return 0;
}

ssize_t decrypt_body_read(void *rarg, void *buf, size_t len)
{
    decrypt_t *d = rarg;

    return spool_read(d->plain, buf, len);
}

/* ---- the decrypted message ---- */

static int is_content_header(const char *name)
{
    return strncasecmp(name, "Content-", 8) == 0;
}

/* The outer headers but the content headers, then the entity's content
 * headers: its other fields (a MIME-Version, a copy of Subject) would
 * only duplicate or contradict the outer ones, which stay. */
static struct msg_header *combined(const decrypt_t *d,
                                   const struct msg_headers *outer,
                                   size_t *n)
{
    struct msg_header *v = calloc(outer->n + d->nh + 1, sizeof *v);

    *n = 0;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < outer->n; i++)
        if (!is_content_header(outer->v[i].name))
            v[(*n)++] = outer->v[i];
    for (size_t i = 0; i < d->nh; i++)
        if (is_content_header(d->hv[i].name))
            v[(*n)++] = d->hv[i];
    return v;
}

inbound_t *decrypt_verify(decrypt_t *d, const struct msg_headers *outer)
{
    char buf[65536];
    size_t n;
    struct msg_header *v = combined(d, outer, &n);
    struct msg_headers view = {v, n};
    inbound_t *in;
    ssize_t got = 0;

    if (v == NULL)
        return NULL;
    in = inbound_new(d->cfg, &view);
    free(v);
    if (in == NULL || decrypt_body_rewind(d) != 0)
        goto fail;
    while (inbound_signable(in) &&
           (got = decrypt_body_read(d, buf, sizeof buf)) > 0)
        if (inbound_body(in, buf, (size_t)got) != 0)
            goto fail;
    if (got < 0 || inbound_finish(in) != 0)
        goto fail;
    return in;
fail:
    inbound_free(in);
    return NULL;
}

int decrypt_apply(decrypt_t *d, const struct msg_headers *outer,
                  const struct actions *act, void *arg)
{
    /* delete the outer content headers, each name from its last copy */
    for (size_t i = outer->n; i-- > 0;) {
        unsigned idx = 0;
        if (!is_content_header(outer->v[i].name))
            continue;
        for (size_t j = 0; j <= i; j++)
            if (strcasecmp(outer->v[j].name, outer->v[i].name) == 0)
                idx++;
        if (act->change_header(arg, outer->v[i].name, idx, NULL) != 0)
            return -1;
    }
    /* the entity's content headers, appended in order */
    for (size_t i = 0; i < d->nh; i++)
        if (is_content_header(d->hv[i].name) &&
            act->insert_header(arg, (unsigned)(outer->n + 1 + i),
                               d->hv[i].name, d->hv[i].value) != 0)
            return -1;
    if (decrypt_body_rewind(d) != 0)
        return -1;
    return act->replace_body(arg, decrypt_body_read, d);
}
