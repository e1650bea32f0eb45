/*
 * check_mime_rec.c - helpers for the mime unit tests: an event recorder
 * for the MIME parser (data events coalesced so that runs with different
 * chunk sizes compare equal), buffers and test work paths.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_mime.h"

/* ---- helpers ---- */

void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

char *to_crlf(const char *lf, size_t *len)
{
    struct buf b = { 0 };
    for (const char *p = lf; *p; p++) {
        if (*p == '\n')
            buf_add(&b, "\r", 1);
        buf_add(&b, p, 1);
    }
    *len = b.n;
    return b.p;
}

static void logf_esc(struct buf *b, const char *p, size_t n)
{
    char t[8];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 32 && c < 127 && c != '\\') {
            buf_add(b, &p[i], 1);
        } else {
            snprintf(t, sizeof(t), "\\x%02x", c);
            buf_add(b, t, 4);
        }
    }
}

static void rec_event(struct rec *r, const char *s)
{
    if (r->last)
        buf_add(&r->log, "\n", 1);
    r->last = 0;
    buf_add(&r->log, s, strlen(s));
    buf_add(&r->log, "\n", 1);
}

/* Coalesce data events of one kind and key into one log record. */
static void rec_data(struct rec *r, char kind, const char *key,
                     const void *p, size_t n)
{
    if (r->last != kind || strcmp(r->last_key, key) != 0) {
        char t[100];
        if (r->last)
            buf_add(&r->log, "\n", 1);
        snprintf(t, sizeof(t), "%c[%s] ", kind, key);
        buf_add(&r->log, t, strlen(t));
        r->last = kind;
        snprintf(r->last_key, sizeof(r->last_key), "%s", key);
    }
    logf_esc(&r->log, p, n);
}

static void cb_line(void *arg, const mime_entity_t *e, enum mime_line_kind k,
                    const char *buf, size_t len)
{
    struct rec *r = arg;
    char t[100];
    snprintf(t, sizeof(t), "%d:%s", (int)k, mime_entity_section(e));
    rec_data(r, 'L', t, buf, len);
    r->last = 'l';             /* lines are never coalesced */
    buf_add(&r->lines, buf, len);
}

static void cb_begin(void *arg, const mime_entity_t *e)
{
    char t[400];
    const mime_entity_t *pa = mime_entity_parent(e);
    snprintf(t, sizeof(t), "B[%s] %s cte=%d mp=%d depth=%u parent=%s",
             mime_entity_section(e), mime_entity_type(e),
             (int)mime_entity_cte(e), mime_entity_is_multipart(e),
             mime_entity_depth(e), pa ? mime_entity_section(pa) : "-");
    rec_event(arg, t);
}

static void cb_end(void *arg, const mime_entity_t *e)
{
    char t[100];
    snprintf(t, sizeof(t), "E[%s]", mime_entity_section(e));
    rec_event(arg, t);
}

static void cb_leaf(void *arg, const mime_entity_t *e, const unsigned char *b,
                    size_t n)
{
    struct rec *r = arg;
    const char *sec = mime_entity_section(e);
    unsigned i;
    rec_data(r, 'D', sec, b, n);
    for (i = 0; i < r->nleaf; i++)
        if (strcmp(r->leaf_sec[i], sec) == 0)
            break;
    if (i == r->nleaf) {
        ck_assert_uint_lt(r->nleaf, REC_MAX);
        snprintf(r->leaf_sec[r->nleaf++], 64, "%s", sec);
    }
    buf_add(&r->leaf[i], b, n);
}

static void cb_smime_begin(void *arg, unsigned id, enum mime_smime_kind kind,
                           const mime_entity_t *e)
{
    struct rec *r = arg;
    char t[100];
    ck_assert_uint_eq(id, r->nsmime);
    ck_assert_uint_lt(id, REC_MAX);
    r->smime_kind[id] = (int)kind;
    snprintf(r->smime_section[id], 64, "%s", mime_entity_section(e));
    r->nsmime++;
    snprintf(t, sizeof(t), "SB%u kind=%d [%s]", id, (int)kind,
             mime_entity_section(e));
    rec_event(r, t);
}

static void cb_signed(void *arg, unsigned id, const char *b, size_t n)
{
    struct rec *r = arg;
    char t[16];
    ck_assert_uint_lt(id, r->nsmime);
    snprintf(t, sizeof(t), "%u", id);
    rec_data(r, 'S', t, b, n);
    buf_add(&r->sig[id], b, n);
}

static void cb_cms(void *arg, unsigned id, const unsigned char *b, size_t n)
{
    struct rec *r = arg;
    char t[16];
    ck_assert_uint_lt(id, r->nsmime);
    snprintf(t, sizeof(t), "%u", id);
    rec_data(r, 'C', t, b, n);
    buf_add(&r->cms[id], b, n);
}

static void cb_smime_end(void *arg, unsigned id)
{
    struct rec *r = arg;
    char t[32];
    snprintf(t, sizeof(t), "SE%u", id);
    rec_event(r, t);
    r->nended++;
}

static const struct mime_callbacks rec_cb = {
    cb_line, cb_begin, cb_end, cb_leaf, cb_smime_begin, cb_signed, cb_cms,
    cb_smime_end,
};

void rec_free(struct rec *r)
{
    buf_free(&r->log);
    buf_free(&r->lines);
    for (int i = 0; i < REC_MAX; i++) {
        buf_free(&r->sig[i]);
        buf_free(&r->cms[i]);
        buf_free(&r->leaf[i]);
    }
    memset(r, 0, sizeof(*r));
}

void rec_parse(struct rec *r, const char *msg, size_t len, size_t chunk,
               const struct mime_limits *lim)
{
    mime_parser_t *p;

    memset(r, 0, sizeof(*r));
    p = mime_parser_new(lim, &rec_cb, r);
    ck_assert_ptr_nonnull(p);
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len; off += chunk)
        ck_assert_int_eq(mime_parser_feed(p, msg + off,
                             len - off < chunk ? len - off : chunk), 0);
    ck_assert_int_eq(mime_parser_finish(p), 0);
    r->errors = mime_parser_errors(p);
    mime_parser_free(p);
    /* Every line, normalised, gives back the message. */
    rec_event(r, "END");
}

void rec_parse_all(struct rec *r, const char *msg, size_t len,
                   const struct mime_limits *lim)
{
    static const size_t sizes[] = { 1, 2, 3, 7, 64, 4096 };

    rec_parse(r, msg, len, 0, lim);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct rec o;
        rec_parse(&o, msg, len, sizes[i], lim);
        if (strcmp(o.log.p, r->log.p) != 0)
            ck_abort_msg("chunk size %zu: events differ:\n%s\n--- vs whole:\n%s",
                         sizes[i], o.log.p, r->log.p);
        ck_assert_uint_eq(o.errors, r->errors);
        rec_free(&o);
    }
}

const struct buf *rec_leaf(const struct rec *r, const char *section)
{
    for (unsigned i = 0; i < r->nleaf; i++)
        if (strcmp(r->leaf_sec[i], section) == 0)
            return &r->leaf[i];
    return NULL;
}

int rec_has(const struct rec *r, const char *needle)
{
    return strstr(r->log.p, needle) != NULL;
}

const char *work_path(const char *name)
{
    static char path[4][1024];
    static int k;
    const char *top = getenv("top_builddir");
    char dir[900];

    snprintf(dir, sizeof(dir), "%s/tests/work/mime", top ? top : ".");
    if (access(dir, F_OK) != 0) {
        char cmd[1000];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
    return path[k];
}

const char *pki_dir(void)
{
    static char dir[1024];
    char cmd[3000];
    const char *top = getenv("top_builddir"), *src = getenv("top_srcdir");

    snprintf(dir, sizeof(dir), "%s/tests/work/pki", top ? top : ".");
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pki/mkpki.sh' '%s' >/dev/null",
             src ? src : "..", dir);
    ck_assert_msg(system(cmd) == 0, "mkpki.sh failed: %s", cmd);
    return dir;
}

int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

