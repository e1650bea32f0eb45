/*
 * canon.c - 7-bit canonical MIME entity for signing (see canon.h).
 *
 * The input runs through the streaming parser.  Structure lines are
 * written out at once: a multipart's header block at its entity_begin,
 * delimiters (without transport padding), preamble and epilogue (made
 * 7-bit).  A leaf part is held: its header block in memory (bounded by
 * the parser limits), its body lines in a spool, with a note of whatever
 * a relay could change (8-bit octets, NUL, bare CR, long lines, trailing
 * whitespace, "From " lines).  At the leaf's end the part is written
 * either unchanged, or with a new Content-Transfer-Encoding: the spooled
 * body is decoded by a second parser (so that every transfer encoding is
 * handled the same way as on the verify side) and re-encoded to
 * quoted-printable or base64.  An unsafe message/rfc822 part is
 * canonicalised recursively by a nested canonicaliser instead.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "canon.h"
#include "codec.h"
#include "spool.h"

#define CANON_OBUF (16 * 1024)
#define CANON_MAX_LEVEL 8      /* nested message/rfc822 recursion */
#define CANON_MAX_CTE 16       /* Content-Transfer-Encoding headers noted */
#define SMTP_LINE_MAX 998      /* RFC 5322 2.1.1 */

struct slice {
    size_t off, len;
};

struct mime_canon {
    mime_parser_t *parser;
    struct mime_limits lim;
    size_t threshold;
    char *dir;
    mime_out_fn out;
    void *arg;
    int level;                 /* 0, or depth of message/rfc822 nesting */
    const mime_canon_t *up;    /* nested: the canonicaliser of the
                                  message that holds ours */
    int err;                   /* first errno; once set, nothing more */
    unsigned errors;           /* parser error bits */
    char *obuf;                /* CANON_OBUF bytes (not zeroed: olen says
                                  how many are used) */
    size_t olen;
    int at_bol;                /* the output ends with a line end */
    size_t fcol;               /* preamble/epilogue: column of a long line
                                  that comes in pieces */
    /* the current header block */
    char *hdr;
    size_t hlen, hcap;
    struct slice cte[CANON_MAX_CTE];
    unsigned ncte;
    unsigned nct;              /* Content-Type headers kept */
    size_t hstart;             /* offset of the last header in hdr */
    int hkind;                 /* it is: 1 a noted CTE, 2 a Content-Type */
    int hopen;                 /* the last header line had no line end */
    int hdrop;                 /* dropping the rest of an overlong header */
    /* the current leaf body */
    spool_t *sp;
    int unsafe, any8, last_eol, line_start;
    uint64_t line_len;
    /* open multipart boundaries, innermost last */
    char **bnd;
    int *closed;
    unsigned nbnd, capbnd;
};

/* ---- output ---- */

static void fail(mime_canon_t *c, int e)
{
    if (c->err == 0)
        c->err = e ? e : EIO;
}

static void oflush(mime_canon_t *c)
{
    if (c->olen > 0 && c->err == 0 && c->out(c->arg, c->obuf, c->olen) != 0)
        fail(c, errno);
    c->olen = 0;
}

static void emit(mime_canon_t *c, const char *buf, size_t n)
{
    if (c->err || n == 0)
        return;
    c->at_bol = buf[n - 1] == '\n';
    if (c->olen + n > CANON_OBUF) {
        oflush(c);
        if (n > CANON_OBUF / 2) {
            if (c->err == 0 && c->out(c->arg, buf, n) != 0)
                fail(c, errno);
            return;
        }
    }
    memcpy(c->obuf + c->olen, buf, n);
    c->olen += n;
}

static void emits(mime_canon_t *c, const char *s)
{
    emit(c, s, strlen(s));
}

static void ensure_bol(mime_canon_t *c)
{
    if (!c->at_bol)
        emit(c, "\r\n", 2);
}

static int sink_emit(void *arg, const char *buf, size_t len)
{
    mime_canon_t *c = arg;
    emit(c, buf, len);
    if (c->err) {
        errno = c->err;
        return -1;
    }
    return 0;
}

/* ---- header blocks ---- */

static int header_is(const char *h, size_t n, const char *name)
{
    size_t k = strlen(name);
    const char *p = h + k;
    if (n <= k || strncasecmp(h, name, k) != 0)
        return 0;
    while (p < h + n && (*p == ' ' || *p == '\t'))
        p++;
    return p < h + n && *p == ':';
}

/* Make room for n more octets of header block. */
static int header_room(mime_canon_t *c, size_t n)
{
    if (c->hlen + n > c->hcap) {
        size_t cap = c->hcap ? c->hcap : 1024;
        while (cap < c->hlen + n)
            cap *= 2;
        char *h = realloc(c->hdr, cap);
        if (h == NULL) {
            fail(c, ENOMEM);
            return -1;
        }
        c->hdr = h;
        c->hcap = cap;
    }
    return 0;
}

/* Forget the last header (it is longer than max_header_len). */
static void header_drop(mime_canon_t *c)
{
    if (c->hkind == 1)
        c->ncte--;
    else if (c->hkind == 2)
        c->nct--;
    c->hlen = c->hstart;
    c->hkind = 0;
    c->hdrop = 1;
}

/*
 * One header line callback.  A header within max_header_len comes as one
 * callback, folded lines included.  A longer one does not: the parser
 * delivers what it had collected, then every further piece on its own
 * (each a folded line starting with SP or HT, or the next piece of a line
 * cut at max_line_len, after a callback without line end), and does not
 * interpret it.  Such a header is dropped, all its pieces: kept, a
 * replaced Content-Transfer-Encoding would leave its pieces behind (a
 * piece that is not a header line ends the block, and its octets, 8-bit
 * ones too, become body); and a receiver with larger limits could read
 * a Content-Type or Content-Transfer-Encoding that our parser ignored,
 * so the output would not mean what we encoded.  Dropped, the header
 * block says exactly what our parser used.  Memory stays bounded by
 * max_header_len plus one line.
 */
static void header_add(mime_canon_t *c, const char *buf, size_t n)
{
    if (n == 0)
        return;
    int more = c->hopen || buf[0] == ' ' || buf[0] == '\t';

    c->hopen = n < 2 || buf[n - 2] != '\r' || buf[n - 1] != '\n';
    if (more && c->hdrop)
        return;                 /* the rest of a dropped header */
    if (!more) {                /* a new header */
        c->hdrop = 0;
        c->hstart = c->hlen;
        c->hkind = 0;
        if (header_is(buf, n, "content-transfer-encoding") &&
            c->ncte < CANON_MAX_CTE) {
            c->cte[c->ncte++] = (struct slice){ c->hlen, 0 };
            c->hkind = 1;
        } else if (header_is(buf, n, "content-type")) {
            c->nct++;
            c->hkind = 2;
        }
    }
    if (c->hlen - c->hstart + n > c->lim.max_header_len) {
        header_drop(c);
        return;
    }
    if (header_room(c, n) != 0)
        return;
    memcpy(c->hdr + c->hlen, buf, n);
    c->hlen += n;
    if (c->hkind == 1)
        c->cte[c->ncte - 1].len = c->hlen - c->hstart;
}

/* Write the header block, the Content-Transfer-Encoding headers replaced
 * by one saying cte (when cte is not NULL), and the empty line. */
static void header_emit(mime_canon_t *c, const char *cte, const char *ctype)
{
    size_t pos = 0;

    for (unsigned i = 0; i < c->ncte && cte != NULL; i++) {
        emit(c, c->hdr + pos, c->cte[i].off - pos);
        if (i == 0) {
            emits(c, "Content-Transfer-Encoding: ");
            emits(c, cte);
            emits(c, "\r\n");
        }
        pos = c->cte[i].off + c->cte[i].len;
    }
    if (c->hdr != NULL)         /* NULL when no header came at all */
        emit(c, c->hdr + pos, c->hlen - pos);
    ensure_bol(c);              /* the input ended inside a header line */
    if (cte != NULL && c->ncte == 0) {
        emits(c, "Content-Transfer-Encoding: ");
        emits(c, cte);
        emits(c, "\r\n");
    }
    if (ctype != NULL && c->nct == 0) {
        emits(c, "Content-Type: ");
        emits(c, ctype);
        emits(c, "\r\n");
    }
    emit(c, "\r\n", 2);
    c->hlen = c->hstart = 0;
    c->ncte = c->nct = 0;
    c->hkind = c->hopen = c->hdrop = 0;
}

/* ---- leaf bodies ---- */

/* Sets any8 and unsafe for an octet >= 128, unsafe for a NUL or a bare
 * CR, in buf[0..n).  Eight octets at a time while none of them can be
 * one of those (a body is mostly plain text), then one at a time. */
static void scan_octets(mime_canon_t *c, const char *buf, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const uint64_t cr = ones * '\r';
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        /* a high bit, a zero octet or an octet equal to CR: stop here */
        if ((w | ((w - ones) & ~w) | ((((w ^ cr) - ones) & ~(w ^ cr)))) &
            highs)
            break;
    }
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch >= 128)
            c->any8 = c->unsafe = 1;
        else if (ch == 0 || ch == '\r')
            c->unsafe = 1;
    }
}

static void leaf_note(mime_canon_t *c, const char *buf, size_t len)
{
    int eol = len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n';
    size_t n = len - (eol ? 2 : 0);

    if (c->line_start && n >= 5 && memcmp(buf, "From ", 5) == 0)
        c->unsafe = 1;
    if (!c->any8)                /* once any8 is set, unsafe is too */
        scan_octets(c, buf, n);
    c->line_len += n;
    if (c->line_len > SMTP_LINE_MAX)
        c->unsafe = 1;
    if (eol && n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        c->unsafe = 1;
    if (eol)
        c->line_len = 0;
    c->line_start = eol;
    c->last_eol = eol;
    if (c->err == 0 && spool_write(c->sp, buf, len) != 0)
        fail(c, errno);
}

/* Feed the spooled body to fn (a parser or a canonicaliser), without
 * the final CRLF when that belongs to the next delimiter. */
static void spool_replay(mime_canon_t *c, int keep_last_crlf,
                         int (*fn)(void *, const char *, size_t), void *obj)
{
    uint64_t left = spool_size(c->sp);
    char buf[16384];
    ssize_t r;

    if (!keep_last_crlf && c->last_eol)
        left -= 2;
    if (spool_rewind(c->sp) != 0) {
        fail(c, errno);
        return;
    }
    while (left > 0 && c->err == 0 &&
           (r = spool_read(c->sp, buf, left < sizeof(buf) ? left : sizeof(buf))) != 0) {
        if (r < 0 || fn(obj, buf, (size_t)r) != 0) {
            fail(c, errno);
            return;
        }
        left -= (uint64_t)r;
    }
}

static int copy_fn(void *obj, const char *buf, size_t len)
{
    emit(obj, buf, len);
    return 0;
}

static int parser_fn(void *obj, const char *buf, size_t len)
{
    return mime_parser_feed(obj, buf, len);
}

static int canon_fn(void *obj, const char *buf, size_t len)
{
    return mime_canon_feed(obj, buf, len);
}

struct reenc {
    int qp;
    struct qp_enc q;
    struct b64_enc b;
    int err;
};

static void reenc_data(void *arg, const mime_entity_t *e,
                       const unsigned char *buf, size_t len)
{
    struct reenc *r = arg;
    if (r->err == 0 && (r->qp ? qp_enc_update(&r->q, buf, len)
                              : b64_enc_update(&r->b, buf, len)) != 0)
        r->err = errno ? errno : EIO;
}

/* Decode the spooled body (declared transfer encoding cte) and write it
 * re-encoded. */
static void leaf_reencode(mime_canon_t *c, enum mime_cte cte, int qp, int top)
{
    static const char *const names[] = {
        "7bit", "8bit", "binary", "quoted-printable", "base64", "7bit" };
    struct mime_callbacks cb = { 0 };
    struct reenc r = { .qp = qp };
    mime_parser_t *p;
    char hdr[64];

    cb.leaf_data = reenc_data;
    qp_enc_init(&r.q, sink_emit, c);
    b64_enc_init(&r.b, sink_emit, c);
    if ((p = mime_parser_new(&c->lim, &cb, &r)) == NULL) {
        fail(c, ENOMEM);
        return;
    }
    snprintf(hdr, sizeof(hdr), "Content-Transfer-Encoding: %s\r\n\r\n",
             names[cte]);
    if (mime_parser_feed(p, hdr, strlen(hdr)) != 0)
        fail(c, errno);
    spool_replay(c, top, parser_fn, p);
    if (c->err == 0 && mime_parser_finish(p) != 0)
        fail(c, errno);
    mime_parser_free(p);
    if (r.err == 0 && (qp ? qp_enc_finish(&r.q) : b64_enc_finish(&r.b)) != 0)
        r.err = errno ? errno : EIO;
    if (r.err)
        fail(c, r.err);
}

/* Canonicalise an embedded message by a nested canonicaliser. */
static void leaf_recurse(mime_canon_t *c, int top)
{
    mime_canon_t *n = mime_canon_new(&c->lim, c->threshold, c->dir,
                                     sink_emit, c);
    if (n == NULL) {
        fail(c, ENOMEM);
        return;
    }
    n->level = c->level + 1;
    n->up = c;
    spool_replay(c, top, canon_fn, n);
    if (c->err == 0 && mime_canon_finish(n) != 0)
        fail(c, errno);
    mime_canon_free(n);
}

static void leaf_end(mime_canon_t *c, const mime_entity_t *e)
{
    const char *type = mime_entity_type(e);
    enum mime_cte cte = mime_entity_cte(e);
    int top = mime_entity_parent(e) == NULL;
    const char *ctype = NULL;

    if (top && c->level == 0)
        ctype = c->any8 ? "text/plain; charset=unknown-8bit"
                        : "text/plain; charset=us-ascii";
    if (!c->unsafe) {
        header_emit(c, cte == MIME_CTE_8BIT || cte == MIME_CTE_BINARY
                       ? "7bit" : NULL, ctype);
        spool_replay(c, 1, copy_fn, c);
    } else if ((strcmp(type, "message/rfc822") == 0 ||
                strcmp(type, "message/global") == 0) &&
               c->level < CANON_MAX_LEVEL && cte != MIME_CTE_QP &&
               cte != MIME_CTE_BASE64) {
        header_emit(c, "7bit", ctype);
        leaf_recurse(c, top);
    } else {
        int qp = strncmp(type, "text/", 5) == 0 ||
                 strncmp(type, "message/", 8) == 0 ||
                 strncmp(type, "multipart/", 10) == 0;
        header_emit(c, qp ? "quoted-printable" : "base64", ctype);
        leaf_reencode(c, cte, qp, top);
    }
    spool_reset(c->sp);
    c->unsafe = c->any8 = c->last_eol = 0;
    c->line_start = 1;
    c->line_len = 0;
}

/* ---- structure ---- */

/* Preamble and epilogue carry no content: make them 7-bit and safe
 * (8-bit octets, NUL and bare CR become "?", trailing whitespace goes,
 * "From " gets a ">", long lines are broken).  A line we start by
 * breaking a long one gets a space in front when it would start with "-"
 * or "F": it must not become a delimiter (of this multipart or an
 * enclosing one; RFC 2046 5.1.1) or a "From " line. */
static void filler_emit(mime_canon_t *c, const char *buf, size_t len)
{
    int eol = len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n';
    size_t n = len - (eol ? 2 : 0), col = c->fcol;
    char t[256];
    size_t k = 0;

    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (col == 0 && n >= 5 && memcmp(buf, "From ", 5) == 0)
        emit(c, ">", 1), col++;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (col >= SMTP_LINE_MAX) {         /* break before this octet */
            t[k++] = '\r';
            t[k++] = '\n';
            col = 0;
            if (ch == '-' || ch == 'F')
                t[k++] = ' ', col++;
        }
        t[k++] = ch >= 128 || ch == 0 || ch == '\r' ? '?' : (char)ch;
        col++;
        if (k >= sizeof(t) - 4) {
            emit(c, t, k);
            k = 0;
        }
    }
    emit(c, t, k);
    if (eol)
        emit(c, "\r\n", 2);
    c->fcol = eol ? 0 : col;    /* a piece: the line goes on */
}

static void bnd_push(mime_canon_t *c, const char *b)
{
    if (c->nbnd == c->capbnd) {
        unsigned cap = c->capbnd ? 2 * c->capbnd : 8;
        char **nb = realloc(c->bnd, cap * sizeof(*nb));
        if (nb != NULL)
            c->bnd = nb;
        int *nc = realloc(c->closed, cap * sizeof(*nc));
        if (nc != NULL)
            c->closed = nc;
        if (nb == NULL || nc == NULL) {
            fail(c, ENOMEM);
            return;
        }
        c->capbnd = cap;
    }
    if ((c->bnd[c->nbnd] = strdup(b)) == NULL) {
        fail(c, ENOMEM);
        return;
    }
    c->closed[c->nbnd++] = 0;
}

/*
 * Would a receiver take this line (len octets, no line end) for a
 * delimiter of a multipart that encloses the message we canonicalise
 * (nested canonicalisers only)?  RFC 2046 5.1.1 has boundaries compared
 * with the beginning of each line, whatever follows: that is the test
 * here, stricter than our parser's (which wants only "--" and white
 * space after the boundary), so that no parser is misled.
 */
static int encloser_delimiter(const mime_canon_t *c, const char *line,
                              size_t len)
{
    if (len < 2 || line[0] != '-' || line[1] != '-')
        return 0;
    for (const mime_canon_t *u = c->up; u != NULL; u = u->up)
        for (unsigned i = 0; i < u->nbnd; i++) {
            size_t k = strlen(u->bnd[i]);
            if (!u->closed[i] && len >= 2 + k &&
                memcmp(line + 2, u->bnd[i], k) == 0)
                return 1;
        }
    return 0;
}

static void delimiter_emit(mime_canon_t *c, const char *b, int close)
{
    ensure_bol(c);
    emits(c, "--");
    emits(c, b);
    if (close)
        emits(c, "--");
}

static void cb_line(void *arg, const mime_entity_t *e, enum mime_line_kind kind,
                    const char *buf, size_t len)
{
    mime_canon_t *c = arg;

    if (c->err)
        return;
    switch (kind) {
    case MIME_LINE_HEADER:
        header_add(c, buf, len);
        break;
    case MIME_LINE_HEADER_END:
        break;                  /* header_emit() writes the empty line */
    case MIME_LINE_PREAMBLE:
    case MIME_LINE_EPILOGUE:
        filler_emit(c, buf, len);
        break;
    case MIME_LINE_BOUNDARY:
    case MIME_LINE_CLOSE:
        if (c->nbnd == 0)
            break;
        delimiter_emit(c, c->bnd[c->nbnd - 1], kind == MIME_LINE_CLOSE);
        if (kind == MIME_LINE_CLOSE)
            c->closed[c->nbnd - 1] = 1;
        if (kind == MIME_LINE_BOUNDARY || buf[len - 1] == '\n')
            emit(c, "\r\n", 2);
        break;
    case MIME_LINE_BODY:
        leaf_note(c, buf, len);
        break;
    }
}

static void cb_begin(void *arg, const mime_entity_t *e)
{
    mime_canon_t *c = arg;
    enum mime_cte cte = mime_entity_cte(e);

    if (c->err || !mime_entity_is_multipart(e))
        return;                 /* a leaf: written at its end */
    header_emit(c, cte == MIME_CTE_8BIT || cte == MIME_CTE_BINARY
                   ? "7bit" : NULL, NULL);
    bnd_push(c, mime_entity_param(e, "boundary"));
}

/*
 * A multipart ended without its close delimiter: add it -- unless a
 * nested canonicaliser would so write a delimiter of a multipart that
 * encloses the message/rfc822 part (the embedded multipart reuses an
 * enclosing boundary, or has one as a prefix).  That line would end the
 * enclosing part or multipart early for the receiver and push the rest of
 * the message out of the structure we canonicalised (into an epilogue,
 * unencoded).  RFC 2046 5.1.1 forbids a boundary delimiter inside the
 * encapsulated parts, so such a multipart stays unclosed; it has lost
 * nothing by that: any delimiter line of its own in the input was a
 * delimiter of the enclosing multipart and ended the message/rfc822 part
 * there, so it had no body part anyway.  (Renaming the boundary would
 * need the Content-Type header rewritten, RFC 2231 forms included.)
 */
static void close_added(mime_canon_t *c, const char *b)
{
    size_t k = strlen(b);
    char *line = malloc(k + 4);

    if (line == NULL) {
        fail(c, ENOMEM);
        return;
    }
    memcpy(line, "--", 2);
    memcpy(line + 2, b, k);
    memcpy(line + 2 + k, "--", 2);
    if (!encloser_delimiter(c, line, k + 4))
        delimiter_emit(c, b, 1);
    free(line);
}

static void cb_end(void *arg, const mime_entity_t *e)
{
    mime_canon_t *c = arg;

    if (c->err)
        return;
    if (!mime_entity_is_multipart(e)) {
        leaf_end(c, e);
        return;
    }
    if (c->nbnd == 0)
        return;
    c->nbnd--;
    if (!c->closed[c->nbnd])    /* truncated input: close it */
        close_added(c, c->bnd[c->nbnd]);
    free(c->bnd[c->nbnd]);
}

/* ---- API ---- */

mime_canon_t *mime_canon_new(const struct mime_limits *lim,
                             size_t spool_threshold, const char *spool_dir,
                             mime_out_fn out, void *arg)
{
    struct mime_callbacks cb = { 0 };
    mime_canon_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (lim != NULL)
        c->lim = *lim;
    else
        mime_limits_default(&c->lim);
    c->threshold = spool_threshold;
    c->out = out;
    c->arg = arg;
    c->obuf = malloc(CANON_OBUF);
    c->at_bol = 1;
    c->line_start = 1;
    cb.line = cb_line;
    cb.entity_begin = cb_begin;
    cb.entity_end = cb_end;
    c->dir = strdup(spool_dir ? spool_dir : SPOOL_DEFAULT_DIR);
    c->sp = spool_new(spool_threshold, c->dir);
    c->parser = mime_parser_new(&c->lim, &cb, c);
    if (c->obuf == NULL || c->dir == NULL || c->sp == NULL ||
        c->parser == NULL) {
        mime_canon_free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

int mime_canon_feed(mime_canon_t *c, const char *buf, size_t len)
{
    if (c->err == 0 && mime_parser_feed(c->parser, buf, len) != 0)
        fail(c, errno);
    if (c->err) {
        errno = c->err;
        return -1;
    }
    return 0;
}

int mime_canon_finish(mime_canon_t *c)
{
    if (c->err == 0 && mime_parser_finish(c->parser) != 0)
        fail(c, errno);
    c->errors = mime_parser_errors(c->parser);
    oflush(c);
    if (c->err) {
        errno = c->err;
        return -1;
    }
    return 0;
}

unsigned mime_canon_errors(const mime_canon_t *c)
{
    return c->errors;
}

void mime_canon_free(mime_canon_t *c)
{
    if (c == NULL)
        return;
    mime_parser_free(c->parser);
    spool_free(c->sp);
    for (unsigned i = 0; i < c->nbnd; i++)
        free(c->bnd[i]);
    free(c->bnd);
    free(c->closed);
    free(c->hdr);
    free(c->dir);
    free(c->obuf);
    free(c);
}
