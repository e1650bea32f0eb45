/*
 * inbound.c - verification of one inbound message.
 *
 * The message (headers reconstructed as "Name: value" CRLF lines, the
 * empty line, then the body as the MTA delivers it) streams through the
 * MIME parser; every S/MIME object it reports gets a streaming verify
 * context (signed content via signed_data, CMS via cms_data), finished
 * when the object ends.  Sections, as RFC 7281 uses IMAP's: the signed
 * content of a top-level multipart/signed is "1", a top-level pkcs7-mime
 * is "1"; deeper objects are named by the parser's section (the first
 * child of a multipart/signed, or the pkcs7-mime part itself), and a pass
 * there becomes neutral because the signature does not cover the whole
 * message.  From/Sender matching (RequireFromMatch) applies only to
 * signatures over the whole message: the header block is not part of a
 * nested signed entity, and mailing lists that wrap a signed message
 * often rewrite From.  Structural MIME errors inside an object make it
 * permerror.
 * Results are listed in document order (by object id: an enclosing
 * object before the ones nested in it), so the first one covers the
 * most of the message: it is what the session logs,
 * counts and tags, although nested objects end, and are judged, first.
 * A limit against hostile input (MIME_ERR_LIMITS: nesting, header count
 * or length, boundary length, parts, S/MIME objects, CMS size) hit
 * anywhere in the message makes the whole message permerror, with one
 * result naming the limit: what lies beyond the limit was not parsed, so
 * a signature could hide there.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inbound.h"
#include "mime.h"
#include "rfc5322.h"
#include "verify.h"

/* The parser's object limit, passed to it: an object past it is a
 * limit error (permerror), not an object silently left out. */
#define MAX_OBJECTS MIME_MAX_SMIME
#define MAX_SIGNERS 8
#define MAX_ADDRS 8
#define NEUTRAL_REASON "signature not over the whole message"

/* Parser errors that make an S/MIME object malformed when they happen
 * between its beginning and its end. */
#define STRUCTURAL_ERRORS (MIME_ERR_BOUNDARY | MIME_ERR_TRUNCATED | \
    MIME_ERR_SIGNED_FORM | MIME_ERR_LIMITS)

struct object {
    int used;
    int nested;                /* not the top-level entity */
    unsigned err_before;       /* parser error bits at smime_begin */
    smime_verify_t *v;         /* NULL: not signed-data by its type */
    char part[64];
};

struct inbound {
    const config_t *cfg;
    smime_policy_t nested_policy;  /* cfg->policy without From matching */
    mime_parser_t *parser;
    int signable;
    int failed;                /* internal error seen */
    char *addrs[2 * MAX_ADDRS];
    size_t naddrs;
    size_t nfrom;              /* addrs[0..nfrom) are From's */
    harvest_t *harvest;        /* Harvest: the From signer's certificate */
    struct object obj[MAX_OBJECTS];
    /* Allocated as results come (add_result): room for all of them
     * (MAX_OBJECTS * MAX_SIGNERS, 160 KB) with every message cost an
     * mmap or a heap trim per message, most of which have none. */
    struct inbound_result *res;
    unsigned *res_id;          /* object of each result */
    size_t nres, res_cap;
};

static int type_signable(const char *type)
{
    return strncmp(type, "multipart/", 10) == 0 ||
           strcmp(type, "application/pkcs7-mime") == 0 ||
           strcmp(type, "application/x-pkcs7-mime") == 0 ||
           strcmp(type, "application/octet-stream") == 0;
}

static void cb_entity_begin(void *arg, const mime_entity_t *e)
{
    inbound_t *in = arg;

    if (mime_entity_depth(e) == 0)
        in->signable = type_signable(mime_entity_type(e));
}

/* smime-type values that are not signed-data: reported as none. */
static int pkcs7_not_signed(const mime_entity_t *e)
{
    static const char *types[] = {"enveloped-data", "authenveloped-data",
                                  "compressed-data", "certs-only"};
    const char *st = mime_entity_param(e, "smime-type");

    for (size_t i = 0; st && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(st, types[i]) == 0)
            return 1;
    return 0;
}

static void cb_smime_begin(void *arg, unsigned id, enum mime_smime_kind kind,
                           const mime_entity_t *e)
{
    inbound_t *in = arg;
    struct object *o;
    const char *sec = mime_entity_section(e);

    if (id >= MAX_OBJECTS)
        return;
    o = &in->obj[id];
    memset(o, 0, sizeof *o);
    o->used = 1;
    o->nested = mime_entity_depth(e) > 0;
    o->err_before = mime_parser_errors(in->parser);
    if (kind == MIME_SMIME_SIGNED)
        snprintf(o->part, sizeof o->part, "%s%s1", sec, *sec ? "." : "");
    else
        snprintf(o->part, sizeof o->part, "%s", *sec ? sec : "1");
    if (kind == MIME_SMIME_PKCS7 && pkcs7_not_signed(e))
        return;
    o->v = smime_verify_new(in->cfg->trust,
                            o->nested ? &in->nested_policy : &in->cfg->policy,
                            kind == MIME_SMIME_SIGNED);
    if (o->v == NULL)
        in->failed = 1;
    else if (!o->nested && in->cfg->harvest &&
             in->cfg->certificate_store != NULL)
        smime_verify_want_harvest(o->v);    /* see harvest_consider */
}

static void cb_signed_data(void *arg, unsigned id, const char *buf,
                           size_t len)
{
    inbound_t *in = arg;

    if (id < MAX_OBJECTS && in->obj[id].v &&
        smime_verify_content(in->obj[id].v, buf, len) != 0)
        in->failed = 1;
}

static void cb_cms_data(void *arg, unsigned id, const unsigned char *buf,
                        size_t len)
{
    inbound_t *in = arg;

    if (id < MAX_OBJECTS && in->obj[id].v &&
        smime_verify_cms(in->obj[id].v, buf, len) != 0)
        in->failed = 1;
}

/* A new result for object id, kept in document order: after the results
 * of objects that began before it (and of its own earlier signers), before
 * those of the objects nested in it, which ended, and were added, first.
 * Without this an inner signature came first and, e.g. for a message
 * signed by its author around a forwarded signed part, the session logged
 * and counted the inner verdict and withheld TagHeader from the outer
 * pass. */
/* Room for one more result: 0, or -1 (in->failed) on ENOMEM. */
static int res_room(inbound_t *in)
{
    size_t cap = in->res_cap ? 2 * in->res_cap : 2;
    struct inbound_result *nr;
    unsigned *ni;

    if (in->nres < in->res_cap)
        return 0;
    if ((nr = realloc(in->res, cap * sizeof *nr)) != NULL)
        in->res = nr;
    if (nr == NULL || (ni = realloc(in->res_id, cap * sizeof *ni)) == NULL) {
        in->failed = 1;
        return -1;
    }
    in->res_id = ni;
    in->res_cap = cap;
    return 0;
}

/* NULL (in->failed) on ENOMEM. */
static struct inbound_result *add_result(inbound_t *in, unsigned id,
                                         const struct object *o)
{
    size_t pos = in->nres;
    struct inbound_result *r;

    if (in->nres >= MAX_OBJECTS * MAX_SIGNERS || res_room(in) < 0)
        return NULL;
    while (pos > 0 && in->res_id[pos - 1] > id)
        pos--;
    memmove(&in->res[pos + 1], &in->res[pos],
            (in->nres - pos) * sizeof in->res[0]);
    memmove(&in->res_id[pos + 1], &in->res_id[pos],
            (in->nres - pos) * sizeof in->res_id[0]);
    in->nres++;
    in->res_id[pos] = id;
    r = &in->res[pos];
    memset(r, 0, sizeof *r);
    memcpy(r->part, o->part, sizeof r->part);
    return r;
}

/* SPEC: each inbound whole-message pass with From match offers its
 * signer's encryption certificate; the first such signature is taken. */
static void harvest_consider(inbound_t *in, smime_verify_t *v, size_t i,
                             const smime_signer_result_t *r)
{
    int from = 0;

    if (in->harvest != NULL || !in->cfg->harvest ||
        in->cfg->certificate_store == NULL)
        return;
    for (size_t k = 0; k < in->nfrom && !from; k++)
        from = strcasecmp(in->addrs[k], r->identifier) == 0;
    /* out of memory: nothing harvested, the message goes on as it is */
    if (from)
        in->harvest = harvest_take(v, i, r->identifier);
}

static void cb_smime_end(void *arg, unsigned id)
{
    inbound_t *in = arg;
    struct object *o;
    smime_signer_result_t out[MAX_SIGNERS];
    unsigned bad;
    size_t n;

    if (id >= MAX_OBJECTS || !in->obj[id].used || in->obj[id].v == NULL)
        return;
    o = &in->obj[id];
    bad = (mime_parser_errors(in->parser) & ~o->err_before) &
          STRUCTURAL_ERRORS;
    n = smime_verify_finish(o->v, (const char *const *)in->addrs,
                            in->naddrs, out, MAX_SIGNERS);
    if (bad && ((bad & MIME_ERR_LIMITS) ||
                !(n == 1 && out[0].result == SMIME_RESULT_PERMERROR))) {
        smime_verify_free(o->v);
        o->v = NULL;
        struct inbound_result *r = add_result(in, id, o);
        if (r == NULL)
            return;
        r->r.result = SMIME_RESULT_PERMERROR;
        snprintf(r->r.reason, sizeof r->r.reason, "%s",
                 mime_error_string(bad));
        return;
    }
    for (size_t i = 0; i < n && i < MAX_SIGNERS; i++) {
        struct inbound_result *r = add_result(in, id, o);
        if (r == NULL)
            break;
        r->r = out[i];
        if (!o->nested && out[i].result == SMIME_RESULT_PASS)
            harvest_consider(in, o->v, i, &out[i]);
        if (o->nested && r->r.result == SMIME_RESULT_PASS) {
            r->r.result = SMIME_RESULT_NEUTRAL;
            snprintf(r->r.reason, sizeof r->r.reason, NEUTRAL_REASON);
        }
    }
    smime_verify_free(o->v);
    o->v = NULL;
}

/* From and Sender addresses, From first. */
static void collect_addrs(inbound_t *in, const struct msg_headers *h)
{
    static const char *names[] = {"From", "Sender"};

    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < h->n; i++)
            if (strcasecmp(h->v[i].name, names[k]) == 0) {
                size_t got = rfc5322_addrs(h->v[i].value,
                                           in->addrs + in->naddrs,
                                           MAX_ADDRS);
                in->naddrs += got < MAX_ADDRS ? got : MAX_ADDRS;
                if (k == 0)
                    in->nfrom = in->naddrs;
                break;
            }
}

static int parser_out(void *parser, const char *buf, size_t len)
{
    return mime_parser_feed(parser, buf, len);
}

inbound_t *inbound_new(const config_t *cfg, const struct msg_headers *hdrs)
{
    struct mime_callbacks cb = {0};
    struct mime_limits lim;
    inbound_t *in = calloc(1, sizeof *in);

    if (in == NULL)
        return NULL;
    in->cfg = cfg;
    in->nested_policy = cfg->policy;
    in->nested_policy.require_from_match = 0;
    cb.entity_begin = cb_entity_begin;
    cb.smime_begin = cb_smime_begin;
    cb.signed_data = cb_signed_data;
    cb.cms_data = cb_cms_data;
    cb.smime_end = cb_smime_end;
    mime_limits_default(&lim);
    lim.max_smime = MAX_OBJECTS;
    if ((in->parser = mime_parser_new(&lim, &cb, in)) == NULL) {
        free(in);
        return NULL;
    }
    collect_addrs(in, hdrs);
    for (size_t i = 0; i < hdrs->n; i++)
        if (rfc5322_header_write(hdrs->v[i].name, hdrs->v[i].value,
                                 parser_out, in->parser) != 0)
            in->failed = 1;
    if (mime_parser_feed(in->parser, "\r\n", 2) != 0)
        in->failed = 1;
    if (in->failed) {
        inbound_free(in);
        return NULL;
    }
    return in;
}

void inbound_free(inbound_t *in)
{
    if (in == NULL)
        return;
    mime_parser_free(in->parser);
    for (size_t i = 0; i < MAX_OBJECTS; i++)
        smime_verify_free(in->obj[i].v);
    rfc5322_addrs_free(in->addrs, in->naddrs);
    harvest_free(in->harvest);
    free(in->res);
    free(in->res_id);
    free(in);
}

int inbound_signable(const inbound_t *in)
{
    return in->signable;
}

int inbound_body(inbound_t *in, const char *buf, size_t len)
{
    if (in->failed || mime_parser_feed(in->parser, buf, len) != 0)
        return in->failed = 1, -1;
    return 0;
}

/* A limit was hit: one permerror result for the whole message. */
static void limit_result(inbound_t *in, unsigned limits)
{
    struct inbound_result *r;

    in->nres = 0;
    if (res_room(in) < 0)
        return;
    r = &in->res[0];
    memset(r, 0, sizeof *r);
    r->r.result = SMIME_RESULT_PERMERROR;
    snprintf(r->r.reason, sizeof r->r.reason, "%s",
             mime_error_string(limits));
    in->res_id[0] = 0;
    in->nres = 1;
}

int inbound_finish(inbound_t *in)
{
    unsigned limits;

    if (in->failed || mime_parser_finish(in->parser) != 0 || in->failed)
        return in->failed = 1, -1;
    if ((limits = mime_parser_errors(in->parser) & MIME_ERR_LIMITS) != 0) {
        limit_result(in, limits);
        harvest_free(in->harvest);      /* the message is permerror */
        in->harvest = NULL;
    }
    return in->failed ? -1 : 0;
}

const harvest_t *inbound_harvest(const inbound_t *in)
{
    return in->harvest;
}

size_t inbound_results(const inbound_t *in,
                       const struct inbound_result **out)
{
    *out = in->res;
    return in->nres;
}
