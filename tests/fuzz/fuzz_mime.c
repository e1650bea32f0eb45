/*
 * fuzz_mime.c - libFuzzer harness for the streaming MIME parser
 * (mime/mime.c, mime_hdr.c, codec.c).
 *
 * Input: one control byte, then 1..8 chunk-size bytes, then the message.
 *   control bits 0-2  number of chunk-size bytes minus one
 *           bit 3     small limits (every limit path is reachable)
 *           bit 4     no leaf_data callback (the parser skips decoding)
 *   chunk sizes       the message is fed in chunks of these sizes, in
 *                     turn (0: all the rest at once)
 * Every callback is set and calls every entity accessor.  Invariants
 * checked besides memory safety:
 *   - the lines delivered, joined, are the input with bare LF made CRLF;
 *   - entity_begin/entity_end and smime_begin/smime_end pair up, ids are
 *     below max_smime, data comes only for open ids, CMS stays within
 *     max_cms_size;
 *   - sections have depth - 1 dots; accessors return sane values.
 */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "mime.h"

#define MAX_IDS 64

struct state {
    struct mime_limits lim;
    struct fuzz_buf lines;      /* every line delivered, joined */
    long open_entities;
    int smime_open[MAX_IDS];    /* 0 never, 1 open, 2 ended */
    size_t cms_len[MAX_IDS];
    size_t sink;                /* keeps accessor results alive */
};

/* Calls every accessor; checks what can be checked. */
static void inspect(struct state *st, const mime_entity_t *e)
{
    const char *sec = mime_entity_section(e);
    unsigned depth = mime_entity_depth(e), dots = 0;
    const mime_entity_t *parent = mime_entity_parent(e);

    FUZZ_CHECK(sec != NULL);
    for (const char *s = sec; *s; s++) {
        FUZZ_CHECK(*s == '.' || (*s >= '0' && *s <= '9'));
        dots += *s == '.';
    }
    FUZZ_CHECK(depth == 0 ? *sec == '\0' : dots == depth - 1);
    FUZZ_CHECK(parent == NULL ? depth == 0
                              : mime_entity_depth(parent) + 1 == depth);
    FUZZ_CHECK(depth <= st->lim.max_depth + 1);
    st->sink += strlen(mime_entity_type(e));
    static const char *const names[] = {
        "boundary", "charset", "name", "protocol", "micalg",
        "smime-type", "BOUNDARY", "title", "x"
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = mime_entity_param(e, names[i]);
        if (v != NULL)
            st->sink += strlen(v);
    }
    const char *fn = mime_entity_disposition_param(e, "filename");
    if (fn != NULL)
        st->sink += strlen(fn);
    enum mime_cte cte = mime_entity_cte(e);
    FUZZ_CHECK(cte >= MIME_CTE_7BIT && cte <= MIME_CTE_OTHER);
    int mp = mime_entity_is_multipart(e);
    FUZZ_CHECK(mp == 0 || mp == 1);
    for (; parent != NULL; parent = mime_entity_parent(parent))
        st->sink += strlen(mime_entity_section(parent));
}

static void cb_line(void *arg, const mime_entity_t *e,
                    enum mime_line_kind kind, const char *buf, size_t len)
{
    struct state *st = arg;

    FUZZ_CHECK(kind >= MIME_LINE_HEADER && kind <= MIME_LINE_BODY);
    if (kind == MIME_LINE_HEADER_END)
        FUZZ_CHECK(len == 2 && memcmp(buf, "\r\n", 2) == 0);
    fuzz_buf_append(&st->lines, buf, len);
    inspect(st, e);
}

static void cb_begin(void *arg, const mime_entity_t *e)
{
    struct state *st = arg;

    st->open_entities++;
    inspect(st, e);
    FUZZ_CHECK(strchr(mime_entity_type(e), '/') != NULL);
    if (mime_entity_is_multipart(e))
        FUZZ_CHECK(strncmp(mime_entity_type(e), "multipart/", 10) == 0);
}

static void cb_end(void *arg, const mime_entity_t *e)
{
    struct state *st = arg;

    st->open_entities--;
    FUZZ_CHECK(st->open_entities >= 0);
    inspect(st, e);
}

static void cb_leaf(void *arg, const mime_entity_t *e,
                    const unsigned char *buf, size_t len)
{
    struct state *st = arg;

    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(!mime_entity_is_multipart(e));
    st->sink += buf[0] + buf[len - 1];
    inspect(st, e);
}

static void cb_smime_begin(void *arg, unsigned id, enum mime_smime_kind kind,
                           const mime_entity_t *e)
{
    struct state *st = arg;

    FUZZ_CHECK(id < st->lim.max_smime && id < MAX_IDS);
    FUZZ_CHECK(st->smime_open[id] == 0);
    FUZZ_CHECK(kind == MIME_SMIME_SIGNED || kind == MIME_SMIME_PKCS7);
    FUZZ_CHECK((kind == MIME_SMIME_SIGNED) == mime_entity_is_multipart(e));
    st->smime_open[id] = 1;
    inspect(st, e);
}

static void cb_signed(void *arg, unsigned id, const char *buf, size_t len)
{
    struct state *st = arg;

    FUZZ_CHECK(id < MAX_IDS && st->smime_open[id] == 1);
    FUZZ_CHECK(len > 0);
    st->sink += (unsigned char)buf[0] + (unsigned char)buf[len - 1];
}

static void cb_cms(void *arg, unsigned id, const unsigned char *buf,
                   size_t len)
{
    struct state *st = arg;

    FUZZ_CHECK(id < MAX_IDS && st->smime_open[id] == 1);
    FUZZ_CHECK(len > 0);
    st->cms_len[id] += len;
    FUZZ_CHECK(st->cms_len[id] <= st->lim.max_cms_size);
    st->sink += buf[0] + buf[len - 1];
}

static void cb_smime_end(void *arg, unsigned id)
{
    struct state *st = arg;

    FUZZ_CHECK(id < MAX_IDS && st->smime_open[id] == 1);
    st->smime_open[id] = 2;
}

static void small_limits(struct mime_limits *lim)
{
    lim->max_depth = 4;
    lim->max_header_len = 256;
    lim->max_headers = 8;
    lim->max_boundary_len = 16;
    lim->max_parts = 12;
    lim->max_line_len = 64;
    lim->max_smime = 2;
    lim->max_cms_size = 512;
}

/* The input with every LF not preceded by CR turned into CRLF. */
static char *normalise(const char *s, size_t n, size_t *outlen)
{
    char *o = malloc(2 * n + 1);
    size_t k = 0;

    FUZZ_CHECK(o != NULL);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            o[k++] = '\r';
        o[k++] = s[i];
    }
    *outlen = k;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state st = {0};
    struct mime_callbacks cb = {
        cb_line, cb_begin, cb_end, cb_leaf,
        cb_smime_begin, cb_signed, cb_cms, cb_smime_end
    };

    if (size < 2)
        return 0;
    unsigned ctl = data[0];
    size_t nsizes = (ctl & 7u) + 1;
    if (size < 1 + nsizes)
        return 0;
    const uint8_t *sizes = data + 1;
    const char *msg = (const char *)data + 1 + nsizes;
    size_t len = size - 1 - nsizes;

    mime_limits_default(&st.lim);
    if (ctl & 8u)
        small_limits(&st.lim);
    if (ctl & 16u)
        cb.leaf_data = NULL;
    mime_parser_t *p = mime_parser_new(&st.lim, &cb, &st);
    FUZZ_CHECK(p != NULL);
    for (size_t off = 0, i = 0; off < len; i++) {
        size_t k = sizes[i % nsizes];
        if (k == 0 || k > len - off)
            k = len - off;
        FUZZ_CHECK(mime_parser_feed(p, msg + off, k) == 0);
        off += k;
    }
    FUZZ_CHECK(mime_parser_finish(p) == 0);
    unsigned err = mime_parser_errors(p);
    FUZZ_CHECK(mime_error_string(err) != NULL);
    FUZZ_CHECK((err == 0) == (*mime_error_string(err) == '\0'));
    mime_parser_free(p);

    FUZZ_CHECK(st.open_entities == 0);
    for (size_t i = 0; i < MAX_IDS; i++)
        FUZZ_CHECK(st.smime_open[i] != 1);
    size_t nlen;
    char *norm = normalise(msg, len, &nlen);
    FUZZ_CHECK(nlen == st.lines.n);
    FUZZ_CHECK(nlen == 0 || memcmp(norm, st.lines.p, nlen) == 0);
    free(norm);
    free(st.lines.p);
    return 0;
}
