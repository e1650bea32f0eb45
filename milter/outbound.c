/*
 * outbound.c - sign outbound mail (S/MIME multipart/signed, RFC 8551
 * 3.5.3) for the message core; the contract is in outbound.h.
 *
 * At end of headers: decide.  Sign only when the From address has a
 * keystore entry, the SASL login may sign as it, the certificate is still
 * usable, the message is not S/MIME (or PGP/MIME) already and, with
 * SignSkipDKIM, carries no DKIM-Signature.  The content headers
 * (Content-Type, Content-Transfer-Encoding) and then the body go through
 * the 7-bit canonicaliser (mime/canon.h); its output is hashed by the
 * signer as it comes and kept in a spool (memory up to SpoolThreshold,
 * then an unlinked file), never whole in memory.
 *
 * At end of message the body becomes
 *     --B CRLF <canonical entity> CRLF --B CRLF <smime.p7s part> --B--
 * Content-Type becomes multipart/signed, Content-Transfer-Encoding goes
 * (the new body is 7-bit), MIME-Version is added when missing; all other
 * headers stay.
 *
 * The keystore is opened once per configuration snapshot and reopened
 * here, before the lookup, when `smime-keystore build' replaced it.  A
 * keystore file that turns up unusable never stops signing: the last
 * good one stays in use, and each change of the file's state is logged
 * here, once (event=keystore), not in every message's line.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "canon.h"
#include "codec.h"
#include "errbuf.h"
#include "keystore.h"
#include "log.h"
#include "outbound.h"
#include "rfc5322.h"
#include "sign.h"
#include "spool.h"

struct outbound_state {
    keystore_t *ks;
};

struct outbound {
    const struct msg_headers *hdrs;   /* borrowed until finish returns */
    keystore_entry_t *entry;
    const smime_signer_t *signer;     /* the entry's, chosen once */
    smime_sign_t *sign;
    mime_canon_t *canon;
    spool_t *spool;             /* the canonical entity, as signed */
    char address[321];
    char boundary[48];
};

/* Root opens any keystore, but after the switch to UserID the daemon
 * reopens it as that user on every rebuild: refuse at start (and -n) a
 * keystore that user will not be allowed to read. */
static int
owner_ok(const config_t *cfg, char *err, size_t errlen)
{
    char name[256];
    struct passwd *pw;
    struct stat st;
    size_t n;

    if (cfg->user_id == NULL || geteuid() != 0)
        return 1;
    n = strcspn(cfg->user_id, ":");
    snprintf(name, sizeof(name), "%.*s", (int)n, cfg->user_id);
    if ((pw = getpwnam(name)) == NULL || stat(cfg->keystore, &st) != 0 ||
        st.st_uid == pw->pw_uid)
        return 1;               /* other checks report those problems */
    snprintf(err, errlen, "keystore %s is owned by uid %lu, not by UserID %s "
             "(uid %lu) that reads it after start: chown %s %s",
             cfg->keystore, (unsigned long)st.st_uid, name,
             (unsigned long)pw->pw_uid, name, cfg->keystore);
    return 0;
}

int
outbound_init(const config_t *cfg, void **state, char *err, size_t errlen)
{
    struct outbound_state *st;

    *state = NULL;
    if (cfg->keystore == NULL)
        return 0;               /* nothing to sign with: begin says so */
    if ((st = calloc(1, sizeof(*st))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((st->ks = keystore_open_in(cfg->keystore, config_spool_dir(cfg),
                                   err, errlen)) == NULL ||
        !owner_ok(cfg, err, errlen)) {
        keystore_free(st->ks);
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

void
outbound_state_free(void *state)
{
    struct outbound_state *st = state;

    if (st == NULL)
        return;
    keystore_free(st->ks);
    free(st);
}

/* ---- the decision ---- */

static const char *
header_value(const struct msg_headers *h, const char *name, size_t *count)
{
    const char *first = NULL;

    *count = 0;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0) {
            if (first == NULL)
                first = h->v[i].value;
            (*count)++;
        }
    return first;
}

/* The media type of a Content-Type value, lower-cased ("" if none). */
static void
media_type(const char *value, char *out, size_t len)
{
    const char *p = value ? rfc5322_skip_cfws(value) : "";
    size_t n = 0;

    while (*p && *p != ';' && *p != ' ' && *p != '\t' && *p != '\n' &&
           *p != '(' && n + 1 < len) {
        char c = *p++;
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[n] = '\0';
}

/* 1 (with kind and why) when the message must not be signed for its
 * content. */
static int
already_protected(const config_t *cfg, const struct msg_headers *h,
                  enum outbound_unsigned *kind, char *why, size_t whylen)
{
    char type[128];
    size_t n;

    media_type(header_value(h, "Content-Type", &n), type, sizeof(type));
    if (strcmp(type, "multipart/signed") == 0) {
        *kind = OUTBOUND_UNSIGNED_PROTECTED;
        snprintf(why, whylen, "already signed");
        return 1;
    }
    if (strcmp(type, "application/pkcs7-mime") == 0 ||
        strcmp(type, "application/x-pkcs7-mime") == 0 ||
        strcmp(type, "multipart/encrypted") == 0) {
        *kind = OUTBOUND_UNSIGNED_PROTECTED;
        snprintf(why, whylen, "already S/MIME or PGP protected (%s)", type);
        return 1;
    }
    if (cfg->sign_skip_dkim && header_value(h, "DKIM-Signature", &n)) {
        *kind = OUTBOUND_UNSIGNED_DKIM;
        snprintf(why, whylen, "DKIM-Signature present");
        return 1;
    }
    return 0;
}

/* The one From address, or 0 with why. */
static int
from_address(const char *from, char *out, size_t len, char *why,
             size_t whylen)
{
    char *addrs[2];
    size_t n;

    if (from == NULL) {
        snprintf(why, whylen, "no From header");
        return 0;
    }
    n = rfc5322_addrs(from, addrs, 2);
    if (n != 1) {
        snprintf(why, whylen, n ? "several From addresses"
                                : "no address in From");
        rfc5322_addrs_free(addrs, n < 2 ? n : 2);
        return 0;
    }
    if (strlen(addrs[0]) >= len) {
        snprintf(why, whylen, "From address too long");
        rfc5322_addrs_free(addrs, 1);
        return 0;
    }
    strcpy(out, addrs[0]);
    rfc5322_addrs_free(addrs, 1);
    return 1;
}

/* Reopen a rebuilt keystore; log each change of its state once. */
static void
keystore_poll(keystore_t *ks)
{
    char err[300], q[400];
    int r = keystore_reload(ks, err, sizeof(err));

    if (r > 0)
        log_info(LOG_NOTICE, "event=keystore status=reloaded path=%s",
                 keystore_path(ks));
    else if (r < 0)
        log_info(LOG_WARNING, "event=keystore status=unusable path=%s "
                 "error=\"%s\" note=\"still using the last good "
                 "keystore\"", keystore_path(ks), log_quote(q, sizeof q, err));
}

keystore_t *
outbound_keystore(const config_t *cfg)
{
    struct outbound_state *st = cfg->outbound;

    if (st == NULL)
        return NULL;
    keystore_poll(st->ks);
    return st->ks;
}

/* Look up and vet the keystore entry: 1 usable, 0 not (kind, why),
 * -1 error. */
static int
find_entry(struct outbound_state *st, const char *login, struct outbound *o,
           enum outbound_unsigned *kind, char *why, size_t whylen)
{
    char err[300];

    keystore_poll(st->ks);
    int r = keystore_lookup(st->ks, o->address, &o->entry, err, sizeof(err));
    if (r < 0) {
        snprintf(why, whylen, "keystore: %s", err);
        return -1;
    }
    if (r == 0) {
        *kind = OUTBOUND_UNSIGNED_NO_ENTRY;
        snprintf(why, whylen, "no keystore entry for %s", o->address);
        return 0;
    }
    if (!keystore_may_sign(o->entry, login)) {
        *kind = OUTBOUND_UNSIGNED_LOGIN;
        if (login == NULL || *login == '\0')
            snprintf(why, whylen, "mail without a SASL login may not sign "
                     "as %s (no " KEYSTORE_INTERNAL ")", o->address);
        else
            snprintf(why, whylen, "login %s may not sign as %s", login,
                     o->address);
        return 0;
    }
    time_t now = time(NULL);
    if (keystore_entry_check(o->entry, o->address, now, err,
                             sizeof(err)) > 0) {
        *kind = OUTBOUND_UNSIGNED_CERTIFICATE;
        snprintf(why, whylen, "certificate of %s unusable: %s", o->address,
                 err);
        return 0;
    }
    o->signer = keystore_entry_signer_at(o->entry, now);
    return 1;
}

/* ---- streaming ---- */

/* Canonical output: hashed and spooled. */
static int
canon_out(void *arg, const char *buf, size_t len)
{
    struct outbound *o = arg;

    if (smime_sign_update(o->sign, buf, len) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return spool_write(o->spool, buf, len);
}

static int
canon_in(void *canon, const char *buf, size_t len)
{
    return mime_canon_feed(canon, buf, len);
}

static int
is_moved_header(const char *name)
{
    return strcasecmp(name, "Content-Type") == 0 ||
           strcasecmp(name, "Content-Transfer-Encoding") == 0;
}

static int
start_stream(const config_t *cfg, const struct msg_headers *h,
             struct outbound *o)
{
    unsigned char rnd[12];
    const smime_signer_t *signer = o->signer;

    static const char hex[] = "0123456789abcdef";
    static const char prefix[] = "----smime-";
    char *b = o->boundary;

    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
        return -1;
    /* prefix and lower-case hex; twelve snprintf calls cost more than
     * everything else in this function but the allocations */
    _Static_assert(sizeof(prefix) - 1 + 2 * sizeof(rnd) < sizeof(o->boundary),
                   "boundary buffer");
    memcpy(b, prefix, sizeof(prefix) - 1);
    b += sizeof(prefix) - 1;
    for (size_t i = 0; i < sizeof(rnd); i++) {
        *b++ = hex[rnd[i] >> 4];
        *b++ = hex[rnd[i] & 15];
    }
    *b = '\0';
    o->spool = spool_new((size_t)cfg->spool_threshold, cfg->spool_directory);
    o->sign = smime_sign_new(signer);
    if (o->spool == NULL || o->sign == NULL)
        return -1;
    o->canon = mime_canon_new(NULL, (size_t)cfg->spool_threshold,
                              cfg->spool_directory, canon_out, o);
    if (o->canon == NULL)
        return -1;
    for (size_t i = 0; i < h->n; i++)
        if (is_moved_header(h->v[i].name) &&
            rfc5322_header_write(h->v[i].name, h->v[i].value, canon_in,
                                 o->canon) != 0)
            return -1;
    return mime_canon_feed(o->canon, "\r\n", 2);
}

int
outbound_begin(const config_t *cfg, const char *login, const char *from,
               const struct msg_headers *hdrs, outbound_t **out,
               enum outbound_unsigned *kind, char *why, size_t whylen)
{
    char eb[128];               /* smime_strerror() text */
    struct outbound_state *st = cfg->outbound;
    struct outbound *o;
    int r;

    *out = NULL;
    *kind = OUTBOUND_UNSIGNED_OTHER;
    if (st == NULL) {
        *kind = OUTBOUND_UNSIGNED_NO_KEYSTORE;
        snprintf(why, whylen, "no Keystore configured");
        return 0;
    }
    if (already_protected(cfg, hdrs, kind, why, whylen))
        return 0;
    if ((o = calloc(1, sizeof(*o))) == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    o->hdrs = hdrs;
    if (!from_address(from, o->address, sizeof(o->address), why, whylen)) {
        *kind = OUTBOUND_UNSIGNED_FROM;
        outbound_free(o);
        return 0;
    }
    if ((r = find_entry(st, login, o, kind, why, whylen)) <= 0) {
        outbound_free(o);
        return r;
    }
    if (start_stream(cfg, hdrs, o) < 0) {
        snprintf(why, whylen, "cannot start signing: %s",
                 smime_strerror(errno, eb, sizeof eb));
        outbound_free(o);
        return -1;
    }
    *out = o;
    return 1;
}

int
outbound_body(outbound_t *o, const char *buf, size_t len)
{
    return mime_canon_feed(o->canon, buf, len);
}

void
outbound_free(outbound_t *o)
{
    if (o == NULL)
        return;
    mime_canon_free(o->canon);
    smime_sign_free(o->sign);
    spool_free(o->spool);
    keystore_entry_free(o->entry);
    free(o);
}

/* ---- end of message ---- */

/* The new body: head (memory), the spooled entity, tail (memory). */
struct body_reader {
    int seg;
    const char *head, *tail;
    size_t headlen, taillen, off;
    spool_t *spool;
};

static ssize_t
body_read_some(struct body_reader *r, char *buf, size_t len)
{
    for (;;) {
        const char *mem = r->seg == 0 ? r->head : r->tail;
        size_t memlen = r->seg == 0 ? r->headlen : r->taillen;
        if (r->seg == 1) {
            ssize_t n = spool_read(r->spool, buf, len);
            if (n != 0)
                return n;
        } else if (r->seg > 2) {
            return 0;
        } else if (r->off < memlen) {
            size_t n = memlen - r->off < len ? memlen - r->off : len;
            memcpy(buf, mem + r->off, n);
            r->off += n;
            return (ssize_t)n;
        }
        r->seg++;
        r->off = 0;
    }
}

/* Fills buf across the segments: each read is one SMFIR_REPLBODY packet
 * (a write(2) here, a read in the MTA), and a 4 KB message took three,
 * the short head, the entity and the tail. */
static ssize_t
body_read(void *arg, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = body_read_some(arg, (char *)buf + got, len - got);
        if (n < 0)
            return -1;          /* the body is not replaced at all */
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* What comes before the signed entity in the new body, malloc'd (NULL
 * on ENOMEM). */
static char *
body_head(const struct outbound *o)
{
    char *head;

    if (asprintf(&head, "This is an S/MIME signed message.\r\n\r\n"
                 "--%s\r\n", o->boundary) < 0)
        return NULL;
    return head;
}

/* What follows it: the signature part with the base64 CMS, and the
 * close delimiter; malloc'd, NULL on ENOMEM. */
static char *
body_tail(const struct outbound *o, const char *b64)
{
    char *tail;

    if (asprintf(&tail, "\r\n--%s\r\n"
                 "Content-Type: application/pkcs7-signature; "
                 "name=\"smime.p7s\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
                 "Content-Description: S/MIME Cryptographic Signature\r\n"
                 "\r\n%s\r\n--%s--\r\n", o->boundary, b64, o->boundary) < 0)
        return NULL;
    return tail;
}

/* Replace Content-Type, drop every Content-Transfer-Encoding, add
 * MIME-Version when missing. */
static int
rewrite_headers(const struct outbound *o, const struct msg_headers *h,
                const struct actions *act, void *actarg)
{
    const smime_signer_t *signer = o->signer;
    char ct[256];
    size_t nct, ncte, nmv;

    header_value(h, "Content-Type", &nct);
    header_value(h, "Content-Transfer-Encoding", &ncte);
    header_value(h, "MIME-Version", &nmv);
    snprintf(ct, sizeof(ct), "multipart/signed; "
             "protocol=\"application/pkcs7-signature\";\n\tmicalg=%s; "
             "boundary=\"%s\"", smime_sign_micalg(signer), o->boundary);
    for (size_t i = ncte; i > 0; i--)
        if (act->change_header(actarg, "Content-Transfer-Encoding",
                               (unsigned)i, NULL) < 0)
            return -1;
    for (size_t i = nct; i > 1; i--)
        if (act->change_header(actarg, "Content-Type", (unsigned)i, NULL) < 0)
            return -1;
    if (nct ? act->change_header(actarg, "Content-Type", 1, ct)
            : act->insert_header(actarg, (unsigned)h->n, "Content-Type", ct))
        return -1;
    if (nmv == 0 &&
        act->insert_header(actarg, (unsigned)h->n, "MIME-Version", "1.0") < 0)
        return -1;
    return 0;
}

int
outbound_finish(outbound_t *o, const struct actions *act, void *actarg,
                enum outbound_unsigned *kind, char *why, size_t whylen)
{
    char eb[128];               /* smime_strerror() text */
    unsigned char *der = NULL;
    char *b64 = NULL, *head = NULL, *tail = NULL;
    size_t derlen, b64len;
    int ret = -1;

    *kind = OUTBOUND_UNSIGNED_OTHER;    /* no refusal here (yet) */
    if (mime_canon_finish(o->canon) < 0) {
        snprintf(why, whylen, "canonicalising: %s",
                 smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    int signed_ok = smime_sign_finish(o->sign, &der, &derlen) == 0;
    log_token_state();          /* a token key: its state, once */
    if (!signed_ok) {
        snprintf(why, whylen, "%s", smime_sign_error(o->sign));
        errno = 0;              /* why says it all; errno is the library's */
        return -1;
    }
    if ((b64 = b64_encode_lines(der, derlen, &b64len)) == NULL ||
        (head = body_head(o)) == NULL || (tail = body_tail(o, b64)) == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    struct body_reader rd = { 0, head, tail, strlen(head), strlen(tail), 0,
                              o->spool };
    if (spool_rewind(o->spool) < 0 ||
        act->replace_body(actarg, body_read, &rd) < 0) {
        snprintf(why, whylen, "replacing the body: %s",
                 smime_strerror(errno, eb, sizeof eb));
        goto out;
    }
    if (rewrite_headers(o, o->hdrs, act, actarg) < 0) {
        snprintf(why, whylen, "changing headers: %s",
                 smime_strerror(errno, eb, sizeof eb));
        goto out;
    }
    const smime_signer_t *signer = o->signer;
    snprintf(why, whylen, "signed as %s (%s, %s)", o->address,
             smime_sign_sigalg(signer), smime_sign_micalg(signer));
    ret = 1;
out:
    free(der);
    free(b64);
    free(head);
    free(tail);
    return ret;
}
