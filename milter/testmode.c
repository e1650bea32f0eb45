/*
 * testmode.c - smime-milter -t MESSAGE.
 *
 * Pass 1 reads the message (LF or CRLF) and hands it to the session the
 * way Postfix hands it to a milter: each logical header split into name
 * and value (value without the one space after the colon, folded lines
 * joined by "\n" and their CR removed), end of headers, then the body
 * with CRLF line ends in chunks.  The actions the session asks for are
 * recorded.  Pass 2 re-reads the input and writes it to stdout with the
 * actions applied: untouched headers and the body are copied byte for
 * byte; inserted or changed headers and a replaced body use the input's
 * line-end style.  Memory stays bounded: stdin is first copied to an
 * unlinked file in SpoolDirectory, replacement bodies go to one too.
 * The envelope recipients are the -r addresses, or else those of To and
 * Cc, read from the header block in a first pass (the MTA hands them
 * over before the headers, so the session sees them first too).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "rfc5322.h"
#include "session.h"
#include "testmode.h"

#define CHUNK 65536

struct hdr_span {
    off_t start, end;         /* raw bytes of the logical header */
    char *name;
    int deleted;
    char *newval;             /* changed value, or NULL */
};

struct ins {                  /* an inserted header */
    size_t pos;               /* before original header pos */
    char *name, *value;
    struct ins *next;
};

struct tmode {
    const config_t *cfg;
    FILE *in;
    int crlf;                 /* input line-end style */
    struct hdr_span *h;
    size_t nh, caph;
    off_t blank_start;        /* the empty line, -1: none */
    off_t body_start;         /* -1: no body (EOF in headers) */
    struct ins *ins;          /* newest first */
    FILE *newbody;            /* replacement body, or NULL */
    int oom;
    char **to;                /* To and Cc addresses (without -r) */
    size_t nto;
};

static FILE *spool_file(const config_t *cfg)
{
    char path[4096];
    int fd;
    FILE *fp;

    snprintf(path, sizeof path, "%s/smime-milter-t.XXXXXX",
             cfg->spool_directory ? cfg->spool_directory : "/tmp");
    if ((fd = mkstemp(path)) < 0)
        return NULL;
    unlink(path);
    if ((fp = fdopen(fd, "w+")) == NULL)
        close(fd);
    return fp;
}

/* ---- the action vtable, recording ---- */

static int act_insert(void *arg, unsigned idx, const char *name,
                      const char *value)
{
    struct tmode *t = arg;
    struct ins *in = calloc(1, sizeof *in);

    if (in == NULL || !(in->name = strdup(name)) ||
        !(in->value = strdup(value))) {
        if (in) {
            free(in->name);
            free(in);
        }
        return -1;
    }
    in->pos = idx;
    in->next = t->ins;
    t->ins = in;
    return 0;
}

static int act_change(void *arg, const char *name, unsigned idx,
                      const char *value)
{
    struct tmode *t = arg;
    unsigned n = 0;

    for (size_t i = 0; i < t->nh; i++) {
        if (strcasecmp(t->h[i].name, name) != 0 || ++n != idx)
            continue;
        free(t->h[i].newval);
        t->h[i].newval = NULL;
        if (value == NULL)
            t->h[i].deleted = 1;
        else if ((t->h[i].newval = strdup(value)) == NULL)
            return -1;
        return 0;
    }
    /* as libmilter: changing a header that does not exist adds it */
    return value ? act_insert(arg, (unsigned)t->nh, name, value) : 0;
}

static int act_replace_body(void *arg, actions_read_fn rd, void *rarg)
{
    struct tmode *t = arg;
    char buf[CHUNK];
    ssize_t n;

    if (t->newbody)
        fclose(t->newbody);
    if ((t->newbody = spool_file(t->cfg)) == NULL)
        return -1;
    while ((n = rd(rarg, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, t->newbody) != (size_t)n)
            return -1;
    return n < 0 ? -1 : 0;
}

static const struct actions tm_actions = {
    act_insert, act_change, act_replace_body
};

/* ---- pass 1 ---- */

/* Split "Name: value" lines (raw, with line ends) into name and value the
 * way Postfix delivers them. */
static int split_header(const char *raw, size_t len, char **name,
                        char **value)
{
    const char *colon = memchr(raw, ':', len), *p, *end = raw + len;
    size_t nlen;
    char *v;

    if (colon == NULL)
        return -1;
    nlen = (size_t)(colon - raw);
    while (nlen && (raw[nlen - 1] == ' ' || raw[nlen - 1] == '\t'))
        nlen--;
    if ((*name = strndup(raw, nlen)) == NULL)
        return -1;
    p = colon + 1;
    if (p < end && *p == ' ')
        p++;
    if ((*value = v = malloc((size_t)(end - p) + 1)) == NULL) {
        free(*name);
        return -1;
    }
    for (; p < end; p++)
        if (*p != '\r')
            *v++ = *p;
    while (v > *value && v[-1] == '\n')   /* the final line end */
        v--;
    *v = '\0';
    return 0;
}

static int add_span(struct tmode *t, off_t start, off_t end, const char *name)
{
    if (t->nh == t->caph) {
        size_t cap = t->caph ? 2 * t->caph : 32;
        struct hdr_span *nv = realloc(t->h, cap * sizeof *nv);
        if (nv == NULL)
            return -1;
        t->h = nv;
        t->caph = cap;
    }
    memset(&t->h[t->nh], 0, sizeof t->h[t->nh]);
    t->h[t->nh].start = start;
    t->h[t->nh].end = end;
    if ((t->h[t->nh].name = strdup(name)) == NULL)
        return -1;
    t->nh++;
    return 0;
}

/* The addresses of a To or Cc header, appended to t->to. */
static int collect_rcpts(struct tmode *t, const char *name, const char *value)
{
    size_t n;
    char **nv;

    if (strcasecmp(name, "To") != 0 && strcasecmp(name, "Cc") != 0)
        return 0;
    if ((n = rfc5322_addrs(value, NULL, 0)) == 0)
        return 0;
    if ((nv = realloc(t->to, (t->nto + n) * sizeof *nv)) == NULL)
        return -1;
    t->to = nv;
    size_t got = rfc5322_addrs(value, t->to + t->nto, n);
    if (got != n) {                   /* out of memory: got were stored */
        rfc5322_addrs_free(t->to + t->nto, got);
        return -1;
    }
    t->nto += n;
    return 0;
}

/* Deliver the pending logical header (raw bytes in hb); with s NULL only
 * collect the recipients in To and Cc. */
static int flush_header(struct tmode *t, session_t *s, const char *hb,
                        size_t hlen, off_t start)
{
    char *name, *value;
    int r;

    if (hlen == 0)
        return 0;
    if (split_header(hb, hlen, &name, &value) != 0)
        return -1;
    if (s == NULL)
        r = collect_rcpts(t, name, value);
    else {
        session_header(s, name, value);
        r = add_span(t, start, start + (off_t)hlen, name);
    }
    free(name);
    free(value);
    return r;
}

/* s NULL: the first pass, for To and Cc only. */
static int read_headers(struct tmode *t, session_t *s)
{
    char *line = NULL, *hb = NULL;
    size_t cap = 0, hlen = 0, hcap = 0;
    ssize_t len;
    off_t pos = 0, hstart = 0;
    int first = 1, r = 0;

    t->body_start = t->blank_start = -1;
    while ((len = getline(&line, &cap, t->in)) > 0) {
        off_t lstart = pos;
        pos += len;
        if (first) {
            t->crlf = len >= 2 && line[len - 2] == '\r';
            first = 0;
            if (len >= 5 && strncmp(line, "From ", 5) == 0)
                continue;               /* mbox separator */
        }
        int blank = (len == 1 && line[0] == '\n') ||
                    (len == 2 && line[0] == '\r' && line[1] == '\n');
        if (hlen && !blank && (line[0] == ' ' || line[0] == '\t')) {
            /* continuation */
        } else {
            if ((r = flush_header(t, s, hb, hlen, hstart)) != 0)
                break;
            hlen = 0;
            if (blank) {
                t->blank_start = lstart;
                t->body_start = pos;
                break;
            }
            if (!rfc5322_is_header_start(line, (size_t)len)) {
                t->body_start = lstart;     /* not a header: body */
                break;
            }
            hstart = lstart;
        }
        if (hlen + (size_t)len > hcap) {
            size_t nc = (hlen + (size_t)len) * 2;
            char *nb = realloc(hb, nc);
            if (nb == NULL) {
                r = -1;
                break;
            }
            hb = nb;
            hcap = nc;
        }
        memcpy(hb + hlen, line, (size_t)len);
        hlen += (size_t)len;
    }
    if (r == 0 && len <= 0)
        r = ferror(t->in) ? -1 : flush_header(t, s, hb, hlen, hstart);
    free(line);
    free(hb);
    return r;
}

/* Body to the session with CRLF line ends, in chunks, until SKIP. */
static int feed_body(struct tmode *t, session_t *s)
{
    char out[CHUNK + 2];
    size_t n = 0;
    int c, prev = 0;

    if (t->body_start < 0)
        return 0;
    if (fseeko(t->in, t->body_start, SEEK_SET) != 0)
        return -1;
    while ((c = getc_unlocked(t->in)) != EOF) {
        if (c == '\n' && prev != '\r')
            out[n++] = '\r';
        out[n++] = (char)c;
        prev = c;
        if (n >= CHUNK) {
            if (session_body(s, out, n) == SESSION_SKIP)
                return 0;
            n = 0;
        }
    }
    if (ferror(t->in))
        return -1;
    if (prev && prev != '\n') {       /* SMTP ends the data with CRLF */
        out[n++] = '\r';
        out[n++] = '\n';
    }
    if (n)
        session_body(s, out, n);
    return 0;
}

/* ---- pass 2 ---- */

static int copy_range(FILE *in, off_t from, off_t to, FILE *out)
{
    char buf[CHUNK];

    if (fseeko(in, from, SEEK_SET) != 0)
        return -1;
    while (to < 0 || from < to) {
        size_t want = sizeof buf;
        if (to >= 0 && (off_t)want > to - from)
            want = (size_t)(to - from);
        size_t got = fread(buf, 1, want, in);
        if (got == 0)
            return ferror(in) ? -1 : 0;
        if (fwrite(buf, 1, got, out) != got)
            return -1;
        from += (off_t)got;
    }
    return 0;
}

/* s with every "\n" written as the input's line end, then a line end. */
static void put_lines(const struct tmode *t, const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '\r' && s[1] == '\n')
            continue;
        if (*s == '\n' && t->crlf)
            putc('\r', out);
        putc(*s, out);
    }
    if (t->crlf)
        putc('\r', out);
    putc('\n', out);
}

static void put_header(const struct tmode *t, const char *name,
                       const char *value, FILE *out)
{
    fprintf(out, "%s: ", name);
    put_lines(t, value, out);
}

/* Inserted headers for position pos, oldest insertion last (the newest
 * insert at one index ends up on top, as with smfi_insheader). */
static void put_inserted(const struct tmode *t, size_t pos, FILE *out)
{
    for (const struct ins *in = t->ins; in; in = in->next)
        if ((in->pos >= t->nh ? t->nh : in->pos) == pos)
            put_header(t, in->name, in->value, out);
}

static int put_body(const struct tmode *t, FILE *out)
{
    int c, cr = 0;

    if (t->blank_start >= 0 &&
        copy_range(t->in, t->blank_start, t->body_start, out) != 0)
        return -1;
    if (t->newbody == NULL)
        return t->body_start < 0 ? 0 : copy_range(t->in, t->body_start, -1,
                                                   out);
    if (t->blank_start < 0)
        fputs(t->crlf ? "\r\n" : "\n", out);
    rewind(t->newbody);
    while ((c = getc_unlocked(t->newbody)) != EOF) {
        if (cr && c != '\n')
            putc('\r', out);
        cr = !t->crlf && c == '\r';
        if (!cr)
            putc(c, out);
    }
    if (cr)
        putc('\r', out);
    return ferror(t->newbody) ? -1 : 0;
}

static int write_output(struct tmode *t, FILE *out)
{
    off_t first = t->nh ? t->h[0].start
                : t->blank_start >= 0 ? t->blank_start
                : t->body_start >= 0 ? t->body_start : 0;

    if (copy_range(t->in, 0, first, out) != 0)
        return -1;
    for (size_t i = 0; i < t->nh; i++) {
        put_inserted(t, i, out);
        if (t->h[i].deleted)
            continue;
        if (t->h[i].newval)
            put_header(t, t->h[i].name, t->h[i].newval, out);
        else if (copy_range(t->in, t->h[i].start, t->h[i].end, out) != 0)
            return -1;
    }
    put_inserted(t, t->nh, out);
    if (put_body(t, out) != 0)
        return -1;
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* ---- driver ---- */

static FILE *open_input(const config_t *cfg, const char *path)
{
    char buf[CHUNK];
    size_t n;
    FILE *fp;

    if (strcmp(path, "-") != 0)
        return fopen(path, "rb");
    if ((fp = spool_file(cfg)) == NULL)
        return NULL;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (fwrite(buf, 1, n, fp) != n) {
            fclose(fp);
            return NULL;
        }
    if (ferror(stdin) || fflush(fp) != 0) {
        fclose(fp);
        return NULL;
    }
    rewind(fp);
    return fp;
}

static void tm_free(struct tmode *t)
{
    for (size_t i = 0; i < t->nh; i++) {
        free(t->h[i].name);
        free(t->h[i].newval);
    }
    free(t->h);
    while (t->ins) {
        struct ins *next = t->ins->next;
        free(t->ins->name);
        free(t->ins->value);
        free(t->ins);
        t->ins = next;
    }
    if (t->newbody)
        fclose(t->newbody);
    if (t->in)
        fclose(t->in);
    rfc5322_addrs_free(t->to, t->nto);
    free(t->to);
}

/* Hand the envelope recipients to the session: -r, else To and Cc.
 * Returns how many were taken, -1 when none of several was. */
static long give_rcpts(struct tmode *t, session_t *s, char *const *rcpt,
                       size_t nrcpt)
{
    long taken = 0;

    if (nrcpt == 0) {
        if (read_headers(t, NULL) != 0 || fseeko(t->in, 0, SEEK_SET) != 0)
            return -2;
        rcpt = t->to;
        nrcpt = t->nto;
    }
    for (size_t i = 0; i < nrcpt; i++) {
        struct session_rcpt_reply r;
        (void)session_rcpt(s, rcpt[i], &r);  /* ENOMEM: fails at eom */
        if (r.refuse == SESSION_RCPT_ACCEPT) {
            taken++;
            continue;
        }
        fprintf(stderr, "smime-milter: -t: recipient %s refused: "
                "%s %s %s\n", rcpt[i], r.rcode, r.xcode, r.msg);
    }
    return nrcpt && !taken ? -1 : taken;
}

int testmode_run(config_t *cfg, const char *path, const char *login,
                 const char *client, char *const *rcpt, size_t nrcpt)
{
    struct tmode t = {0};
    session_t *s = session_new();
    enum session_status st = SESSION_TEMPFAIL;
    int rc = 1;

    t.cfg = cfg;
    if (s == NULL) {
        log_info(LOG_ERR, "out of memory");
        return 1;
    }
    if ((t.in = open_input(cfg, path)) == NULL) {
        log_info(LOG_ERR, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (session_set_client(s, client ? client : TESTMODE_DEFAULT_CLIENT) ||
        session_set_login(s, login))
        goto oom;
    session_begin(s, cfg);
    if (session_set_queue_id(s, "TEST") != 0)
        goto oom;
    switch (give_rcpts(&t, s, rcpt, nrcpt)) {
    case -1:
        fputs("smime-milter: -t: every recipient was refused\n", stderr);
        rc = 69;
        goto out;
    case -2:
        log_info(LOG_ERR, "cannot read %s: %s", path,
                 errno ? strerror(errno) : "out of memory");
        goto out;
    }
    if (read_headers(&t, s) != 0) {
        log_info(LOG_ERR, "cannot read %s: %s", path,
                 errno ? strerror(errno) : "out of memory");
        goto out;
    }
    session_eoh(s);
    if (feed_body(&t, s) != 0) {
        log_info(LOG_ERR, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    st = session_eom(s, &tm_actions, &t);
    log_msg(session_outcome_priority(session_outcome(s)),
            session_queue_id(s), "%s", session_summary(s));
    switch (st) {
    case SESSION_TEMPFAIL:
        rc = 75;
        break;
    case SESSION_REJECT:
        rc = 69;
        break;
    default:
        if (write_output(&t, stdout) != 0) {
            log_info(LOG_ERR, "cannot write the message: %s",
                     strerror(errno));
            rc = 1;
        } else {
            rc = 0;
        }
    }
    goto out;
oom:
    log_info(LOG_ERR, "out of memory");
out:
    session_free(s);
    tm_free(&t);
    return rc;
}
