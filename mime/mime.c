/*
 * mime.c - streaming MIME parser: a line-based state machine in the
 * spirit of Postfix's mime_state.
 *
 * mime_parser_feed() cuts the input into lines with memchr (a line is
 * buffered only when it straddles two chunks; lines longer than
 * max_line_len are delivered in pieces), and every line goes through
 * process_line():
 *
 *   1. a line starting with "--" is compared with the boundaries of the
 *      open multiparts, innermost first; a match ends every entity inside
 *      that multipart and starts the next body part (or the epilogue);
 *   2. otherwise the line belongs to the signed content of every open
 *      multipart/signed currently in its first body part (RFC 1847
 *      canonical form: CRLF line ends, the CRLF before the next delimiter
 *      held back and dropped);
 *   3. and it is handled by the state of the innermost entity: header
 *      (folding, Content-* parsing), leaf body (transfer decoding for
 *      leaf_data/cms_data), preamble or epilogue.
 *
 * Entities live on a stack linked by parent pointers; an entity is freed
 * when it ends, so memory is O(depth) plus the line and header buffers.
 * Problems set MIME_ERR_* bits; parsing always goes on.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_int.h"
#include "rfc5322.h"

struct line {
    const char *s;             /* content, line end excluded */
    size_t n;
    int eol;                   /* a line end followed (CRLF or LF) */
};

/* A buffer that grows on demand (realloc keeps its contents). */
struct buf {
    char *s;
    size_t cap;
};

#define BUF_MIN 1024
#define SCRATCH_MAX(p) ((p)->lim.max_line_len + 2)
#define HBUF_MAX(p) ((p)->lim.max_header_len + 1)
#define DBUF_MAX(p) ((p)->lim.max_line_len + 4)

struct mime_parser {
    struct mime_limits lim;
    struct mime_callbacks cb;
    void *arg;
    unsigned errors;
    /* The four buffers grow as lines and headers need them (struct
     * buf), up to the sizes the limits give; allocating those whole for
     * every message (4 x 64 KB) cost more than parsing a 4 KB one. */
    struct buf lbuf;           /* partial line: max_line_len */
    size_t llen;
    struct buf scratch;        /* CRLF-normalised copy: max_line_len + 2 */
    struct buf hbuf;           /* logical header: max_header_len + 1 */
    size_t hlen;
    int hactive, hoverflow, hignore;
    int cont;                  /* the next segment continues a long line */
    struct buf dbuf;           /* decoded data: max_line_len + 4 */
    mime_entity_t *cur;        /* innermost open entity */
    unsigned nparts, nsmime, nsigned_open;
    int frozen;                /* max_parts hit: no more structure */
    int oom, finished;
};

static const char crlf[] = "\r\n";

/* At least need bytes in b, or 0 with p->oom set.  Grows by doubling
 * (from BUF_MIN) but not past max (the size the limits give, which need
 * never exceeds): a message of short lines never allocates more. */
static int buf_need(mime_parser_t *p, struct buf *b, size_t need,
                    size_t max)
{
    size_t cap = b->cap ? b->cap : BUF_MIN;
    char *n;

    if (need <= b->cap)
        return 1;
    while (cap < need)
        cap *= 2;
    if (cap > max)
        cap = max > need ? max : need;
    if ((n = realloc(b->s, cap)) == NULL) {
        p->oom = 1;
        return 0;
    }
    b->s = n;
    b->cap = cap;
    return 1;
}

void mime_limits_default(struct mime_limits *lim)
{
    lim->max_depth = 32;
    lim->max_header_len = 64 * 1024;
    lim->max_headers = 1000;
    lim->max_boundary_len = 200;
    lim->max_parts = 10000;
    lim->max_line_len = 64 * 1024;
    lim->max_smime = MIME_MAX_SMIME;
    lim->max_cms_size = (size_t)64 * 1024 * 1024;
}

/* ---- entities ---- */

static mime_entity_t *entity_new(mime_parser_t *p, mime_entity_t *parent)
{
    mime_entity_t *e = calloc(1, sizeof(*e));
    int r;

    if (e == NULL) {
        p->oom = 1;
        return NULL;
    }
    e->parent = parent;
    e->smime_id = e->cms_id = -1;
    e->state = ST_HEADERS;
    if (parent == NULL)
        r = (e->section = strdup("")) ? 0 : -1;
    else if (parent->depth == 0)
        r = asprintf(&e->section, "%u", parent->nchildren);
    else
        r = asprintf(&e->section, "%s.%u", parent->section, parent->nchildren);
    if (r < 0) {
        free(e);
        p->oom = 1;
        return NULL;
    }
    e->depth = parent ? parent->depth + 1 : 0;
    return e;
}

static void entity_free(mime_entity_t *e)
{
    mimehdr_plist_free(&e->params);
    mimehdr_plist_free(&e->dparams);
    free(e->section);
    free(e);
}

/* ---- output helpers ---- */

static void line_out(mime_parser_t *p, const mime_entity_t *e,
                     enum mime_line_kind kind, const struct line *l)
{
    if (p->cb.line == NULL)
        return;
    if (!l->eol) {
        p->cb.line(p->arg, e, kind, l->s, l->n);
    } else if (l->s[l->n] == '\r') {          /* CRLF in place */
        p->cb.line(p->arg, e, kind, l->s, l->n + 2);
    } else if (buf_need(p, &p->scratch, l->n + 2, SCRATCH_MAX(p))) {
        memcpy(p->scratch.s, l->s, l->n);
        memcpy(p->scratch.s + l->n, crlf, 2);
        p->cb.line(p->arg, e, kind, p->scratch.s, l->n + 2);
    }
}

static void cms_out(mime_parser_t *p, mime_entity_t *e,
                    const unsigned char *buf, size_t n)
{
    uint64_t room = p->lim.max_cms_size - e->cms_len;

    if (n > room) {
        p->errors |= MIME_ERR_CMS_SIZE;
        n = (size_t)room;
    }
    if (n > 0 && p->cb.cms_data)
        p->cb.cms_data(p->arg, (unsigned)e->cms_id, buf, n);
    e->cms_len += n;
}

static void data_out(mime_parser_t *p, mime_entity_t *e, const void *buf,
                     size_t n)
{
    if (n == 0)
        return;
    if (p->cb.leaf_data)
        p->cb.leaf_data(p->arg, e, buf, n);
    if (e->cms_id >= 0)
        cms_out(p, e, buf, n);
}

/* ---- S/MIME objects ---- */

static int new_smime_id(mime_parser_t *p)
{
    if (p->nsmime >= p->lim.max_smime) {
        p->errors |= MIME_ERR_SMIME_COUNT;
        return -1;
    }
    return (int)p->nsmime++;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int is_pkcs7_mime(const mime_entity_t *e)
{
    if (strcmp(e->type, "application/pkcs7-mime") == 0 ||
        strcmp(e->type, "application/x-pkcs7-mime") == 0)
        return 1;
    return strcmp(e->type, "application/octet-stream") == 0 &&
           (has_suffix(mimehdr_plist_get(&e->params, "name"), ".p7m") ||
            has_suffix(mimehdr_plist_get(&e->dparams, "filename"), ".p7m"));
}

static int is_sig_type(const char *t)
{
    return strcasecmp(t, "application/pkcs7-signature") == 0 ||
           strcasecmp(t, "application/x-pkcs7-signature") == 0;
}

/* Called once the entity's type is known. */
static void smime_check(mime_parser_t *p, mime_entity_t *e)
{
    const mime_entity_t *parent = e->parent;
    int id;

    if (e->multipart && strcmp(e->type, "multipart/signed") == 0) {
        const char *proto = mimehdr_plist_get(&e->params, "protocol");
        if ((proto == NULL || is_sig_type(proto)) &&
            (id = new_smime_id(p)) >= 0) {
            e->smime_id = id;
            e->is_signed = 1;
            p->nsigned_open++;
            if (p->cb.smime_begin)
                p->cb.smime_begin(p->arg, (unsigned)id, MIME_SMIME_SIGNED, e);
        }
    } else if (!e->multipart && is_pkcs7_mime(e) &&
               (id = new_smime_id(p)) >= 0) {
        e->smime_id = e->cms_id = id;
        if (p->cb.smime_begin)
            p->cb.smime_begin(p->arg, (unsigned)id, MIME_SMIME_PKCS7, e);
    }
    if (parent != NULL && parent->is_signed && parent->nchildren == 2) {
        if (is_sig_type(e->type) && e->cms_id < 0)
            e->cms_id = parent->smime_id;
        else
            p->errors |= MIME_ERR_SIGNED_FORM;
    }
}

/* ---- headers ---- */

/* Interpret a complete logical header of the current entity. */
static void header_parse(mime_parser_t *p, mime_entity_t *e)
{
    char *h, *colon;
    size_t nl;

    if (!buf_need(p, &p->hbuf, p->hlen + 1, HBUF_MAX(p)))
        return;
    h = p->hbuf.s;
    h[p->hlen] = '\0';
    if ((colon = memchr(h, ':', p->hlen)) == NULL)
        return;
    nl = (size_t)(colon - h);
    while (nl > 0 && (h[nl - 1] == ' ' || h[nl - 1] == '\t'))
        nl--;
#define HNAME(s) (nl == sizeof(s) - 1 && strncasecmp(h, s, nl) == 0)
    if (HNAME("content-type") && !e->have_ct) {
        e->have_ct = 1;
        int r = mimehdr_content_type(colon + 1, e->type, &e->params);
        if (r == -2)
            p->oom = 1;
        if (r != 0) {              /* invalid: RFC 2045 default applies */
            e->have_ct = 2;
            mimehdr_plist_free(&e->params);
        }
    } else if (HNAME("content-transfer-encoding") && !e->have_cte) {
        e->have_cte = 1;
        e->cte = mimehdr_cte(colon + 1);
    } else if (HNAME("content-disposition") && !e->have_cd) {
        e->have_cd = 1;
        if (mimehdr_disposition(colon + 1, &e->dparams) != 0)
            p->oom = 1;
    }
#undef HNAME
}

static void header_append(mime_parser_t *p, const struct line *l)
{
    size_t need = l->n + (l->eol ? 2 : 0);

    if (!p->hoverflow && p->hlen + need <= p->lim.max_header_len) {
        if (!buf_need(p, &p->hbuf, p->hlen + need, HBUF_MAX(p)))
            return;
        memcpy(p->hbuf.s + p->hlen, l->s, l->n);
        if (l->eol)
            memcpy(p->hbuf.s + p->hlen + l->n, crlf, 2);
        p->hlen += need;
        return;
    }
    /* Too long: deliver what we have, then the rest line by line; the
     * header is not interpreted. */
    p->errors |= MIME_ERR_HEADER_LONG;
    if (!p->hoverflow && p->hlen > 0 && p->cb.line)
        p->cb.line(p->arg, p->cur, MIME_LINE_HEADER, p->hbuf.s, p->hlen);
    p->hoverflow = 1;
    p->hlen = 0;
    line_out(p, p->cur, MIME_LINE_HEADER, l);
}

static void header_flush(mime_parser_t *p)
{
    if (!p->hactive)
        return;
    p->hactive = 0;
    if (p->hoverflow)
        return;
    if (p->cb.line)
        p->cb.line(p->arg, p->cur, MIME_LINE_HEADER, p->hbuf.s, p->hlen);
    if (!p->hignore)
        header_parse(p, p->cur);
}

static void header_start(mime_parser_t *p, mime_entity_t *e,
                         const struct line *l)
{
    p->hignore = ++e->nheaders > p->lim.max_headers;
    if (p->hignore)
        p->errors |= MIME_ERR_HEADER_COUNT;
    p->hactive = 1;
    p->hoverflow = 0;
    p->hlen = 0;
    header_append(p, l);
}

/* The header block of e is complete: settle type and structure. */
static void header_end(mime_parser_t *p, mime_entity_t *e)
{
    const mime_entity_t *parent = e->parent;

    if (e->have_ct != 1)
        strcpy(e->type, parent && strcmp(parent->type, "multipart/digest") == 0
                        ? "message/rfc822" : "text/plain");
    if (strncmp(e->type, "multipart/", 10) == 0) {
        const char *b = mimehdr_plist_get(&e->params, "boundary");
        size_t bl = b ? strlen(b) : 0;
        if (bl == 0) {
            p->errors |= MIME_ERR_BOUNDARY;
        } else if (bl > p->lim.max_boundary_len) {
            p->errors |= MIME_ERR_BOUNDARY_LONG;
        } else if (e->depth >= p->lim.max_depth) {
            p->errors |= MIME_ERR_NESTING;
        } else {
            e->multipart = 1;
            e->boundary = b;
            e->blen = bl;
        }
    }
    e->state = e->multipart ? ST_PREAMBLE : ST_BODY;
    if (p->cb.entity_begin)
        p->cb.entity_begin(p->arg, e);
    smime_check(p, e);
}

/* ---- bodies ---- */

static void body_line(mime_parser_t *p, mime_entity_t *e, const struct line *l)
{
    int bad = 0, soft;
    size_t n;
    unsigned char *dbuf = NULL;

    line_out(p, e, MIME_LINE_BODY, l);
    if (p->cb.leaf_data == NULL && e->cms_id < 0)
        return;
    if (e->cte == MIME_CTE_BASE64 || e->cte == MIME_CTE_QP) {
        /* codec.h: len*3/4+3 (base64) and len (QP) bytes */
        if (!buf_need(p, &p->dbuf, l->n + 4, DBUF_MAX(p)))
            return;
        dbuf = (unsigned char *)p->dbuf.s;
    }
    switch (e->cte) {
    case MIME_CTE_BASE64:
        n = b64_decode(&e->b64, l->s, l->n, dbuf, &bad);
        data_out(p, e, dbuf, n);
        break;
    case MIME_CTE_QP:
        if (e->leaf_pending)
            data_out(p, e, crlf, 2);
        n = qp_decode_line(l->s, l->n, l->eol, dbuf, &soft, &bad);
        data_out(p, e, dbuf, n);
        e->leaf_pending = l->eol && !soft;
        break;
    default:
        if (e->leaf_pending)
            data_out(p, e, crlf, 2);
        data_out(p, e, l->s, l->n);
        e->leaf_pending = (unsigned char)l->eol;
        break;
    }
    if (bad)
        p->errors |= MIME_ERR_ENCODING;
}

static void leaf_end(mime_parser_t *p, mime_entity_t *e, int at_eof)
{
    int bad = 0;

    if (e->cte == MIME_CTE_BASE64 && (p->cb.leaf_data || e->cms_id >= 0) &&
        buf_need(p, &p->dbuf, 4, DBUF_MAX(p))) {
        unsigned char *dbuf = (unsigned char *)p->dbuf.s;
        size_t n = b64_decode_end(&e->b64, dbuf, &bad);
        data_out(p, e, dbuf, n);
        if (bad)
            p->errors |= MIME_ERR_ENCODING;
    }
    /* The CRLF before a delimiter belongs to the delimiter (RFC 2046);
     * at the end of the message it belongs to the body. */
    if (at_eof && e->leaf_pending)
        data_out(p, e, crlf, 2);
    e->leaf_pending = 0;
}

static void entity_end(mime_parser_t *p, mime_entity_t *e, int at_eof)
{
    mime_entity_t *parent = e->parent;

    if (e->state == ST_HEADERS) {
        header_flush(p);
        header_end(p, e);
        if (at_eof && parent != NULL)
            p->errors |= MIME_ERR_TRUNCATED;
    }
    if (e->state == ST_BODY) {
        leaf_end(p, e, at_eof);
    } else {
        if (e->state != ST_EPILOGUE && at_eof)
            p->errors |= MIME_ERR_TRUNCATED;
        if (e->is_signed) {
            if (e->nchildren != 2)
                p->errors |= MIME_ERR_SIGNED_FORM;
            p->nsigned_open--;
        }
    }
    if (e->smime_id >= 0 && p->cb.smime_end)
        p->cb.smime_end(p->arg, (unsigned)e->smime_id);
    if (p->cb.entity_end)
        p->cb.entity_end(p->arg, e);
    if (parent != NULL && parent->is_signed && parent->nchildren == 1) {
        if (at_eof && parent->cap_pending && p->cb.signed_data)
            p->cb.signed_data(p->arg, (unsigned)parent->smime_id, crlf, 2);
        parent->cap_pending = 0;
    }
    p->cur = parent;
    entity_free(e);
}

/* ---- lines ---- */

static int all_lwsp(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* The open multipart whose delimiter the line is, or NULL. */
static mime_entity_t *match_boundary(mime_parser_t *p, const struct line *l,
                                     int *close)
{
    for (mime_entity_t *e = p->cur; e != NULL; e = e->parent) {
        if (!e->multipart || e->state == ST_EPILOGUE ||
            l->n < 2 + e->blen || memcmp(l->s + 2, e->boundary, e->blen) != 0)
            continue;
        const char *r = l->s + 2 + e->blen;
        size_t rn = l->n - 2 - e->blen;
        *close = rn >= 2 && r[0] == '-' && r[1] == '-';
        if (all_lwsp(r + 2 * *close, rn - 2 * (size_t)*close))
            return e;
    }
    return NULL;
}

/* A delimiter that would start one part too many: from now on every
 * line is text of the current entity. */
static int parts_full(mime_parser_t *p, int close)
{
    if (close || p->nparts < p->lim.max_parts)
        return 0;
    p->errors |= MIME_ERR_PARTS;
    p->frozen = 1;
    return 1;
}

static void handle_boundary(mime_parser_t *p, mime_entity_t *m, int close,
                            const struct line *l)
{
    mime_entity_t *child;

    while (p->cur != m)
        entity_end(p, p->cur, 0);
    line_out(p, m, close ? MIME_LINE_CLOSE : MIME_LINE_BOUNDARY, l);
    if (close) {
        m->state = ST_EPILOGUE;
        return;
    }
    m->nchildren++;
    if ((child = entity_new(p, m)) == NULL)
        return;
    m->state = ST_PARTS;
    p->cur = child;
    p->nparts++;
}

/* The signed content of every open multipart/signed, from e outwards,
 * that is in its first body part. */
static void capture_line(mime_parser_t *p, mime_entity_t *from,
                         const struct line *l)
{
    for (mime_entity_t *e = from; e != NULL; e = e->parent) {
        if (!e->is_signed || e->state != ST_PARTS || e->nchildren != 1)
            continue;
        if (p->cb.signed_data) {
            if (e->cap_pending)
                p->cb.signed_data(p->arg, (unsigned)e->smime_id, crlf, 2);
            if (l->n > 0)
                p->cb.signed_data(p->arg, (unsigned)e->smime_id, l->s, l->n);
        }
        e->cap_pending = (unsigned char)l->eol;
    }
}

static void dispatch(mime_parser_t *p, const struct line *l, int cont);

static void header_line(mime_parser_t *p, mime_entity_t *e,
                        const struct line *l, int cont)
{
    if (cont && p->hactive) {
        header_append(p, l);
        return;
    }
    if (!cont) {
        if (l->n == 0) {
            header_flush(p);
            line_out(p, e, MIME_LINE_HEADER_END, l);
            header_end(p, e);
            return;
        }
        if (l->s[0] == ' ' || l->s[0] == '\t') {
            if (p->hactive) {
                header_append(p, l);
                return;
            }
        } else if (rfc5322_is_header_start(l->s, l->n)) {
            header_flush(p);
            header_start(p, e, l);
            return;
        }
    }
    /* Not a header: the block ends and this line is body. */
    p->errors |= MIME_ERR_HEADER_SYNTAX;
    header_flush(p);
    header_end(p, e);
    dispatch(p, l, cont);
}

static void dispatch(mime_parser_t *p, const struct line *l, int cont)
{
    mime_entity_t *e = p->cur;

    switch (e->state) {
    case ST_HEADERS:
        header_line(p, e, l, cont);
        break;
    case ST_BODY:
        body_line(p, e, l);
        break;
    case ST_PREAMBLE:
    case ST_PARTS:
        line_out(p, e, MIME_LINE_PREAMBLE, l);
        break;
    case ST_EPILOGUE:
        line_out(p, e, MIME_LINE_EPILOGUE, l);
        break;
    }
}

static void process_line(mime_parser_t *p, const struct line *l, int cont)
{
    if (!cont && !p->frozen && l->n >= 2 && l->s[0] == '-' && l->s[1] == '-') {
        int close;
        mime_entity_t *m = match_boundary(p, l, &close);
        if (m != NULL && !parts_full(p, close)) {
            /* A delimiter inside signed content is signed content. */
            if (p->nsigned_open > 0)
                capture_line(p, m->parent, l);
            handle_boundary(p, m, close, l);
            return;
        }
    }
    if (p->nsigned_open > 0)
        capture_line(p, p->cur, l);
    dispatch(p, l, cont);
}

/* A segment: a whole line (eol set) or a piece of a long line. */
static void process_segment(mime_parser_t *p, const char *s, size_t len,
                            int eol)
{
    struct line l = { s, len, eol };

    if (eol) {
        l.n--;
        if (l.n > 0 && s[l.n - 1] == '\r')
            l.n--;
    } else if (!p->finished) {
        p->errors |= MIME_ERR_LINE_LONG;
    }
    process_line(p, &l, p->cont);
    p->cont = !eol;
}

/* The length of a piece of max_line_len bytes, a trailing CR kept for
 * the next piece so that CRLF is never split. */
static size_t piece_len(const char *s, size_t max)
{
    return s[max - 1] == '\r' ? max - 1 : max;
}

int mime_parser_feed(mime_parser_t *p, const char *buf, size_t len)
{
    const size_t max = p->lim.max_line_len;

    if (p->finished) {
        errno = EINVAL;
        return -1;
    }
    while (len > 0 && !p->oom) {
        const char *nl;
        size_t k;
        if (p->llen == 0) {
            /* Fast path: lines entirely inside this chunk, no copy. */
            if ((nl = memchr(buf, '\n', len < max ? len : max)) != NULL) {
                k = (size_t)(nl - buf) + 1;
                process_segment(p, buf, k, 1);
            } else if (len >= max) {
                k = piece_len(buf, max);
                process_segment(p, buf, k, 0);
            } else {
                if (!buf_need(p, &p->lbuf, len, max))
                    break;
                memcpy(p->lbuf.s, buf, len);
                p->llen = len;
                return 0;
            }
            buf += k;
            len -= k;
            continue;
        }
        /* A line started in an earlier chunk. */
        size_t need = max - p->llen;
        if ((nl = memchr(buf, '\n', len < need ? len : need)) != NULL) {
            k = (size_t)(nl - buf) + 1;
            if (!buf_need(p, &p->lbuf, p->llen + k, max))
                break;
            memcpy(p->lbuf.s + p->llen, buf, k);
            p->llen += k;
            process_segment(p, p->lbuf.s, p->llen, 1);
            p->llen = 0;
        } else if (len >= need) {
            k = need;
            if (!buf_need(p, &p->lbuf, max, max))
                break;
            memcpy(p->lbuf.s + p->llen, buf, k);
            size_t pl = piece_len(p->lbuf.s, max);
            process_segment(p, p->lbuf.s, pl, 0);
            p->llen = max - pl;                 /* 0, or a held-back CR */
            memmove(p->lbuf.s, p->lbuf.s + pl, p->llen);
        } else {
            if (!buf_need(p, &p->lbuf, p->llen + len, max))
                break;
            memcpy(p->lbuf.s + p->llen, buf, len);
            p->llen += len;
            return 0;
        }
        buf += k;
        len -= k;
    }
    if (p->oom) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int mime_parser_finish(mime_parser_t *p)
{
    if (p->finished) {
        errno = EINVAL;
        return -1;
    }
    p->finished = 1;
    if (p->llen > 0 && !p->oom)
        process_segment(p, p->lbuf.s, p->llen, 0);
    p->llen = 0;
    while (p->cur != NULL)
        entity_end(p, p->cur, 1);
    if (p->oom) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

mime_parser_t *mime_parser_new(const struct mime_limits *lim,
                               const struct mime_callbacks *cb, void *arg)
{
    mime_parser_t *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    if (lim != NULL)
        p->lim = *lim;
    else
        mime_limits_default(&p->lim);
    if (p->lim.max_line_len < 8)
        p->lim.max_line_len = 8;
    if (cb != NULL)
        p->cb = *cb;
    p->arg = arg;
    p->nparts = 1;
    p->cur = entity_new(p, NULL);
    if (!p->cur) {
        mime_parser_free(p);
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

void mime_parser_free(mime_parser_t *p)
{
    if (p == NULL)
        return;
    while (p->cur != NULL) {
        mime_entity_t *parent = p->cur->parent;
        entity_free(p->cur);
        p->cur = parent;
    }
    free(p->lbuf.s);
    free(p->scratch.s);
    free(p->hbuf.s);
    free(p->dbuf.s);
    free(p);
}

unsigned mime_parser_errors(const mime_parser_t *p)
{
    return p->errors;
}
