/*
 * fuzz_canon.c - libFuzzer harness for the 7-bit canonicaliser used
 * before signing (mime/canon.c, with the parser, codecs and spool).
 *
 * Input: one control byte, then the entity (content header block, empty
 * line, body), as mime_canon_feed() takes it.
 *   control bit 0   spool threshold 64 bytes (parts spill to files in a
 *                   private temporary directory) instead of 1 MiB
 *           bit 1   small parser limits
 *           bits 2-7  feed chunk size (0: all at once)
 * The output is parsed again.  Invariants besides memory safety:
 *   - whatever the input (limits hit and truncation included), every
 *     body, preamble and epilogue line of the output (outside
 *     message/rfc822 and message/global parts, whose headers cannot be
 *     encoded) is 7-bit: no octet over 127, no NUL, CR only in a CRLF
 *     line end, at most 998 octets;
 *   - when the input had no MIME_ERR_* bit, the output has none either
 *     (parsed with the default limits, as a receiver would), and its
 *     top-level header block has a Content-Type.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "canon.h"
#include "harness.h"

static char spool_dir[] = "/tmp/fuzz-canon-XXXXXX";
static int have_dir;


static void remove_dir(void)
{
    rmdir(spool_dir);
}

static int out_fn(void *arg, const char *buf, size_t len)
{
    FUZZ_CHECK(len > 0);
    fuzz_buf_append(arg, buf, len);
    return 0;
}

struct reparse {
    unsigned in_errors;         /* the input's MIME_ERR_* bits */
    unsigned top_ct;            /* Content-Type headers at the top */
};

static int is_content_type(const char *buf, size_t len)
{
    size_t i = 12;

    if (len < 13 || strncasecmp(buf, "content-type", 12) != 0)
        return 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    return i < len && buf[i] == ':';
}

static void check_line(void *arg, const mime_entity_t *e,
                       enum mime_line_kind kind, const char *buf, size_t len)
{
    struct reparse *rp = arg;

    if (kind == MIME_LINE_HEADER && mime_entity_depth(e) == 0)
        rp->top_ct += is_content_type(buf, len);
    if (kind != MIME_LINE_BODY && kind != MIME_LINE_PREAMBLE &&
        kind != MIME_LINE_EPILOGUE)
        return;
    if (kind == MIME_LINE_BODY &&
        (strcmp(mime_entity_type(e), "message/rfc822") == 0 ||
         strcmp(mime_entity_type(e), "message/global") == 0))
        return;
    size_t n = len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n'
               ? len - 2 : len;
    if (n > 998)
        fprintf(stderr, "fuzz_canon: %zu-octet line in part \"%s\"\n", n,
                mime_entity_section(e));
    FUZZ_CHECK(n <= 998);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == 0 || ch >= 128 || ch == '\r' || ch == '\n') {
            fprintf(stderr, "fuzz_canon: octet %u at %zu of a line of "
                    "kind %d in part \"%s\" (%s):\n", ch, i, (int)kind,
                    mime_entity_section(e), mime_entity_type(e));
            fwrite(buf, 1, len, stderr);
            FUZZ_CHECK(!"8-bit, NUL or bare CR/LF in the output");
        }
    }
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mime_limits lim;
    struct fuzz_buf o = {0};

    if (size < 1)
        return 0;
    if (!have_dir) {
        FUZZ_CHECK(mkdtemp(spool_dir) != NULL);
        atexit(remove_dir);
        have_dir = 1;
    }
    unsigned ctl = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1, chunk = ctl >> 2;

    mime_limits_default(&lim);
    if (ctl & 2u)
        small_limits(&lim);
    mime_canon_t *c = mime_canon_new(&lim, ctl & 1u ? 64 : 1u << 20,
                                     spool_dir, out_fn, &o);
    FUZZ_CHECK(c != NULL);
    for (size_t off = 0; off < len;) {
        size_t k = chunk == 0 || chunk > len - off ? len - off : chunk;
        FUZZ_CHECK(mime_canon_feed(c, in + off, k) == 0);
        off += k;
    }
    FUZZ_CHECK(mime_canon_finish(c) == 0);
    struct reparse rp = { mime_canon_errors(c), 0 };
    mime_canon_free(c);

    /* The output is parsed as the receiving side would: default limits
     * (canon may add a header or two to a block, and QP lines of 76). */
    struct mime_callbacks cb = { .line = check_line };
    mime_parser_t *p = mime_parser_new(NULL, &cb, &rp);
    FUZZ_CHECK(p != NULL);
    FUZZ_CHECK(mime_parser_feed(p, o.p ? o.p : "", o.n) == 0);
    FUZZ_CHECK(mime_parser_finish(p) == 0);
    if (rp.in_errors == 0 && mime_parser_errors(p) != 0) {
        fprintf(stderr, "fuzz_canon: clean input, output has errors: %s\n",
                mime_error_string(mime_parser_errors(p)));
        abort();
    }
    if (rp.in_errors == 0)
        FUZZ_CHECK(rp.top_ct >= 1);
    mime_parser_free(p);
    free(o.p);
    return 0;
}
