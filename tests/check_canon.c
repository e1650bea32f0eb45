/*
 * check_canon.c - unit tests for mime/canon.c (7-bit canonical entity
 * for signing).  Every output is checked for the properties the signer
 * relies on: CRLF line ends only, octets < 128, lines <= 998 octets, the
 * same result for every chunk size, parses again with no error bit, and
 * every leaf part decodes to the same octets as in the input.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_mime.h"
#include "canon.h"

static int out_buf(void *arg, const char *buf, size_t len)
{
    buf_add(arg, buf, len);
    return 0;
}

static int out_fail(void *arg, const char *buf, size_t len)
{
    errno = EPIPE;
    return -1;
}

static void canon_run(struct buf *out, const char *in, size_t len,
                      size_t chunk, size_t threshold)
{
    mime_canon_t *c;

    memset(out, 0, sizeof(*out));
    buf_add(out, "", 0);
    c = mime_canon_new(NULL, threshold, work_path(""), out_buf, out);
    ck_assert_ptr_nonnull(c);
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len; off += chunk)
        ck_assert_int_eq(mime_canon_feed(c, in + off,
                             len - off < chunk ? len - off : chunk), 0);
    ck_assert_int_eq(mime_canon_finish(c), 0);
    mime_canon_free(c);
}

static void assert_7bit_crlf(const struct buf *b)
{
    size_t col = 0;
    for (size_t i = 0; i < b->n; i++) {
        unsigned char ch = (unsigned char)b->p[i];
        ck_assert_msg(ch < 128 && ch != 0, "octet %u at %zu", ch, i);
        if (ch == '\r') {
            ck_assert_msg(i + 1 < b->n && b->p[i + 1] == '\n', "bare CR at %zu", i);
        } else if (ch == '\n') {
            ck_assert_msg(i > 0 && b->p[i - 1] == '\r', "bare LF at %zu", i);
            ck_assert_uint_le(col, 999);
            col = 0;
            continue;
        }
        col++;
    }
    ck_assert_uint_le(col, 998);
}

/* Canonicalise in (LF line ends in the C source), check every property,
 * return the output and the parse of the output. */
static void canon_check(struct buf *out, struct rec *after, const char *in,
                        int same_leaves)
{
    static const size_t sizes[] = { 1, 2, 3, 7, 64, 4096 };
    size_t len = strlen(in);
    struct rec before;

    canon_run(out, in, len, 0, 1 << 20);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct buf o;
        canon_run(&o, in, len, sizes[i], i % 2 ? 0 : 100);  /* spill too */
        ck_assert_msg(o.n == out->n && memcmp(o.p, out->p, o.n) == 0,
                      "chunk %zu differs:\n%s\n---\n%s", sizes[i], o.p, out->p);
        buf_free(&o);
    }
    assert_7bit_crlf(out);
    rec_parse_all(after, out->p, out->n, NULL);
    ck_assert_msg(after->errors == 0, "errors %x in\n%s", after->errors, out->p);
    if (!same_leaves)
        return;
    rec_parse(&before, in, len, 0, NULL);
    ck_assert_uint_eq(before.nleaf, after->nleaf);
    for (unsigned i = 0; i < before.nleaf; i++) {
        const struct buf *a = &before.leaf[i], *b = rec_leaf(after, before.leaf_sec[i]);
        ck_assert_msg(b != NULL, "section %s missing", before.leaf_sec[i]);
        ck_assert_msg(a->n == b->n && memcmp(a->p, b->p, a->n) == 0,
                      "section %s decodes differently", before.leaf_sec[i]);
    }
    rec_free(&before);
}

START_TEST(test_8bit_text)
{
    static const char in[] =
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "Gr\xc3\xbc\xc3\x9f" "e, caf\xc3\xa9 = ok\n"
        "tab\tin the middle, space at end \n"
        "\n";
    struct buf out;
    struct rec r;

    canon_check(&out, &r, in, 1);
    ck_assert_str_eq(out.p,
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Gr=C3=BC=C3=9Fe, caf=C3=A9 =3D ok\r\n"
        "tab\tin the middle, space at end=20\r\n"
        "\r\n");
    ck_assert(rec_has(&r, "B[] text/plain cte=3"));
    rec_free(&r);
    buf_free(&out);
}
END_TEST

START_TEST(test_binary_attachment)
{
    struct buf in = { 0 }, out, dec = { 0 };
    struct rec r;
    const char *h =
        "Content-Type: multipart/mixed; boundary=\"=_b\"\n\n"
        "--=_b\nContent-Type: text/plain\n\nclean\n"
        "--=_b\nContent-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: binary\n\n";

    buf_add(&in, h, strlen(h));
    for (int i = 0; i < 3000; i++) {
        unsigned char ch = (unsigned char)(i * 37 + 11);
        if (ch == '\r' || ch == '\n')
            buf_add(&in, "\r\n", 2);       /* line ends are CRLF anyway */
        else
            buf_add(&dec, &ch, 1), buf_add(&in, &ch, 1);
    }
    buf_add(&in, "\n--=_b--\n", 9);
    canon_check(&out, &r, in.p, 0);         /* NULs: strlen would cut */
    buf_free(&out);
    rec_free(&r);
    /* The NUL octets need the explicit length. */
    canon_run(&out, in.p, in.n, 7, 64);
    assert_7bit_crlf(&out);
    ck_assert_ptr_nonnull(strstr(out.p, "Content-Transfer-Encoding: base64\r\n"));
    ck_assert_ptr_nonnull(strstr(out.p, "--=_b\r\nContent-Type: text/plain\r\n\r\nclean\r\n--=_b\r\n"));
    rec_parse_all(&r, out.p, out.n, NULL);
    ck_assert_uint_eq(r.errors, 0);
    struct rec before;
    rec_parse(&before, in.p, in.n, 0, NULL);
    const struct buf *a = rec_leaf(&before, "2"), *b = rec_leaf(&r, "2");
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(a->n, b->n);
    ck_assert(memcmp(a->p, b->p, a->n) == 0);
    rec_free(&before);
    rec_free(&r);
    buf_free(&out);
    buf_free(&in);
    buf_free(&dec);
}
END_TEST

START_TEST(test_long_lines)
{
    struct buf in = { 0 }, out;
    struct rec r;
    const char *h = "Content-Type: text/plain; charset=us-ascii\n\n";

    buf_add(&in, h, strlen(h));
    for (int i = 0; i < 2500; i++)
        buf_add(&in, i % 80 == 79 ? " " : "x", 1);
    buf_add(&in, "\nshort\n", 7);
    canon_check(&out, &r, in.p, 1);
    ck_assert_ptr_nonnull(strstr(out.p, "Content-Transfer-Encoding: quoted-printable\r\n"));
    ck_assert_ptr_nonnull(strstr(out.p, "=\r\n"));
    rec_free(&r);
    buf_free(&out);
    buf_free(&in);
}
END_TEST

START_TEST(test_from_lines)
{
    static const char in[] =
        "Content-Type: text/plain\n\n"
        "Hello\n"
        "From the start of a line\n"
        "Fine\n";
    struct buf out;
    struct rec r;

    canon_check(&out, &r, in, 1);
    ck_assert_ptr_nonnull(strstr(out.p, "\r\n=46rom the start of a line\r\n"));
    ck_assert_ptr_null(strstr(out.p, "\nFrom "));
    ck_assert_ptr_null(strstr(out.p, " \r\n"));
    rec_free(&r);
    buf_free(&out);
}
END_TEST

static const char clean[] =
    "Content-Type: multipart/alternative;\n"
    "\tboundary=\"alt\"\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "This is a multi-part message in MIME format.\n"
    "--alt\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Plain text, nothing to do.\n"
    "=3D stays as it is.\n"
    "\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>caf=C3=A9</p>\n"
    "--alt\n"
    "Content-Type: image/png\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "iVBORw0KGgo=\n"
    "--alt--\n"
    "epilogue\n";

START_TEST(test_clean_unchanged)
{
    struct buf out;
    struct rec r;
    size_t n;
    char *crlf = to_crlf(clean, &n);

    canon_check(&out, &r, clean, 1);
    ck_assert_uint_eq(out.n, n);
    ck_assert_str_eq(out.p, crlf);
    rec_free(&r);
    buf_free(&out);
    /* CRLF input: the same. */
    canon_run(&out, crlf, n, 5, 0);
    ck_assert_str_eq(out.p, crlf);
    buf_free(&out);
    free(crlf);
}
END_TEST

START_TEST(test_nested_8bit)
{
    static const char in[] =
        "Content-Type: multipart/mixed; boundary=outer\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "--outer   \n"
        "Content-Type: multipart/alternative; boundary=inner\n"
        "\n"
        "--inner\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "na\xefve\n"
        "--inner\n"
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "only ascii\n"
        "--inner--\n"
        "--outer\n"
        "Content-Type: text/plain\n"
        "\n"
        "untouched\n"
        "--outer--\n";
    struct buf out;
    struct rec r;

    canon_check(&out, &r, in, 1);
    ck_assert_str_eq(out.p,
        "Content-Type: multipart/mixed; boundary=outer\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "--outer\r\n"
        "Content-Type: multipart/alternative; boundary=inner\r\n"
        "\r\n"
        "--inner\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "na=EFve\r\n"
        "--inner\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "only ascii\r\n"
        "--inner--\r\n"
        "--outer\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "untouched\r\n"
        "--outer--\r\n");
    rec_free(&r);
    buf_free(&out);
}
END_TEST

START_TEST(test_no_content_type)
{
    struct buf out;
    struct rec r;

    canon_check(&out, &r, "\nplain\n", 1);
    ck_assert_str_eq(out.p, "Content-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n");
    rec_free(&r);
    buf_free(&out);
    canon_check(&out, &r, "Content-Transfer-Encoding: 8bit\n\n\xe2\x82\xac\n", 1);
    ck_assert_str_eq(out.p,
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "Content-Type: text/plain; charset=unknown-8bit\r\n\r\n=E2=82=AC\r\n");
    rec_free(&r);
    buf_free(&out);
}
END_TEST

START_TEST(test_rfc822_part)
{
    static const char in[] =
        "Content-Type: multipart/mixed; boundary=m\n\n"
        "--m\n"
        "Content-Type: message/rfc822\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "From: x@example.org\n"
        "Subject: fwd\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "\xc3\xa9t\xc3\xa9\n"
        "--m--\n";
    struct buf out;
    struct rec r;

    canon_check(&out, &r, in, 0);
    ck_assert_ptr_nonnull(strstr(out.p,
        "Content-Type: message/rfc822\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        "From: x@example.org\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "=C3=A9t=C3=A9\r\n--m--\r\n"));
    rec_free(&r);
    buf_free(&out);
}
END_TEST

START_TEST(test_truncated_fixed)
{
    static const char in[] =
        "Content-Type: multipart/mixed; boundary=t\n\n"
        "pre\xff" "amble  \n"
        "--t\n\n"
        "body";
    struct buf out;
    struct rec r;

    canon_check(&out, &r, in, 1);
    ck_assert_str_eq(out.p,
        "Content-Type: multipart/mixed; boundary=t\r\n\r\n"
        "pre?amble\r\n--t\r\n\r\nbody\r\n--t--");
    rec_free(&r);
    buf_free(&out);
}
END_TEST

/* A header longer than max_header_len (64 KiB by default) is cut by the
 * parser into pieces and not interpreted.  canon used to replace the
 * Content-Transfer-Encoding but leave the pieces, so their 8-bit octets
 * reached the output (the first piece that is not a header line ended
 * the block and became body).  Now the whole header is dropped: the
 * output says what the parser used (no CTE: 7bit, re-encoded). */
START_TEST(test_header_overlong)
{
    struct buf in = { 0 }, out;
    struct rec r;
    const char *h = "Content-Type: text/plain; charset=utf-8\n"
                    "Content-Transfer-Encoding: 8bit\n";
    const char *t;

    buf_add(&in, h, strlen(h));
    for (int i = 0; i < 80; i++) {          /* 80 folded lines of 1 KiB */
        buf_add(&in, " \xc3\xa9", 3);
        for (int j = 0; j < 1021; j++)
            buf_add(&in, j % 64 == 63 ? "\xff" : "x", 1);
        buf_add(&in, "\n", 1);
    }
    /* one 100 KiB line: also cut at max_line_len */
    buf_add(&in, "Content-Description: ", 21);
    for (int j = 0; j < 100000; j++)
        buf_add(&in, j % 100 == 0 ? "\xe9" : "y", 1);
    t = "\nContent-ID: <a@b>\n\ncaf\xc3\xa9\n";
    buf_add(&in, t, strlen(t));
    canon_check(&out, &r, in.p, 1);
    ck_assert_str_eq(out.p,
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-ID: <a@b>\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "caf=C3=A9\r\n");
    rec_free(&r);
    buf_free(&out);
    buf_free(&in);
}
END_TEST

/* The same inside a multipart, with small limits (the fuzzer's): an
 * overlong Content-Type of a part is dropped, and so is a top-level one
 * (text/plain is then what the parser used, and what canon says). */
START_TEST(test_header_overlong_small)
{
    static const char in[] =
        "Content-Type: multipart/mixed; boundary=m\n\n"
        "--m\n"
        "Content-Type: application/x-long;\n"
        " p1=\"\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\";\n"
        " p2=\"012345678901234567890123456789012345678901234567890123456789\";\n"
        " p3=\"012345678901234567890123456789012345678901234567890123456789\";\n"
        " p4=\"012345678901234567890123456789012345678901234567890123456789\";\n"
        " p5=\"01234567890123456789012345678901234567890123456789\xff\xff\"\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "\xe9t\xe9\n"
        "--m--\n";
    struct mime_limits lim;
    struct buf out = { 0 };
    struct rec r;

    mime_limits_default(&lim);
    lim.max_header_len = 256;
    lim.max_line_len = 64;
    buf_add(&out, "", 0);
    mime_canon_t *c = mime_canon_new(&lim, 64, work_path(""), out_buf, &out);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(mime_canon_feed(c, in, sizeof(in) - 1), 0);
    ck_assert_int_eq(mime_canon_finish(c), 0);
    ck_assert(mime_canon_errors(c) & MIME_ERR_HEADER_LONG);
    mime_canon_free(c);
    assert_7bit_crlf(&out);
    ck_assert_str_eq(out.p,
        "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
        "--m\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "=E9t=E9\r\n"
        "--m--\r\n");
    rec_parse_all(&r, out.p, out.n, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert(rec_has(&r, "B[1] text/plain cte=3"));
    rec_free(&r);
    buf_free(&out);
}
END_TEST

/* A message/rfc822 part whose multipart reuses the enclosing boundary:
 * the enclosing parser ends the message/rfc822 part at the first
 * delimiter, so the embedded multipart looks truncated.  The nested
 * canonicaliser used to add its close delimiter, "--b--", which closed
 * the enclosing multipart: the rest of the message went to the epilogue.
 * It must stay unclosed; the structure is kept. */
START_TEST(test_rfc822_enclosing_boundary)
{
    static const char in[] =
        "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
        "--b\n"
        "Content-Type: message/rfc822\n\n"
        "Subject: inner\n"
        "Content-Type: multipart/alternative; boundary=\"b\"\n\n"
        "preamble caf\xc3\xa9\n"
        "--b\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "\xc3\xa9t\xc3\xa9\n"
        "--b--\n";
    /* the same, truncated, and with a boundary that has the enclosing
     * one as a prefix (RFC 2046 5.1.1: a delimiter for some parsers) */
    static const char trunc[] =
        "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
        "--b\n"
        "Content-Type: message/rfc822\n\n"
        "Content-Type: multipart/alternative; boundary=\"bb\"\n\n"
        "na\xefve\n"
        "--b\n"
        "Content-Type: text/plain\n\n"
        "\xe9t\xe9";
    struct buf out;
    struct rec r;
    const struct buf *leaf;

    canon_check(&out, &r, in, 0);
    ck_assert_str_eq(out.p,
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        "--b\r\n"
        "Content-Type: message/rfc822\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        "Subject: inner\r\n"
        "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
        "preamble caf??\r\n"
        "--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "=C3=A9t=C3=A9\r\n"
        "--b--\r\n");
    ck_assert(rec_has(&r, "B[2] text/plain cte=3"));
    ck_assert_ptr_nonnull(leaf = rec_leaf(&r, "2"));
    ck_assert_uint_eq(leaf->n, 5);
    ck_assert(memcmp(leaf->p, "\xc3\xa9t\xc3\xa9", 5) == 0);
    rec_free(&r);
    buf_free(&out);

    canon_check(&out, &r, trunc, 0);
    ck_assert_ptr_null(strstr(out.p, "--bb--"));
    ck_assert_ptr_nonnull(strstr(out.p, "\r\nna?ve\r\n--b\r\n"));
    ck_assert(rec_has(&r, "B[2] text/plain cte=3"));
    ck_assert_ptr_nonnull(leaf = rec_leaf(&r, "2"));
    ck_assert_uint_eq(leaf->n, 3);
    ck_assert(memcmp(leaf->p, "\xe9t\xe9", 3) == 0);
    /* only the added close of the enclosing multipart, at the end */
    ck_assert_str_eq(strstr(out.p, "--b--"), "--b--");
    rec_free(&r);
    buf_free(&out);
}
END_TEST

/* A preamble line over 998 octets is broken; the piece after the break
 * must not start a delimiter line ("--m") or a "From " line. */
START_TEST(test_preamble_break)
{
    struct buf in = { 0 }, out;
    struct rec r;
    const char *h = "Content-Type: multipart/mixed; boundary=m\n\n";

    buf_add(&in, h, strlen(h));
    for (int i = 0; i < 998; i++)
        buf_add(&in, "p", 1);
    buf_add(&in, "--m\n", 4);
    for (int i = 0; i < 998; i++)
        buf_add(&in, "q", 1);
    h = "From here\n--m\n\nbody\n--m--\n";
    buf_add(&in, h, strlen(h));
    canon_check(&out, &r, in.p, 1);
    ck_assert_ptr_nonnull(strstr(out.p, "p\r\n --m\r\n"));
    ck_assert_ptr_nonnull(strstr(out.p, "q\r\n From here\r\n--m\r\n"));
    ck_assert_int_eq(r.nleaf, 1);
    rec_free(&r);
    buf_free(&out);
    buf_free(&in);
}
END_TEST

/* Quoted-printable: a soft line break in front of "--b" (the line is
 * "\xff", 72 octets, "--b": the break falls after 75 columns) must not
 * make "--b" a line of its own, a delimiter of the multipart. */
START_TEST(test_qp_soft_break_dash)
{
    struct buf in = { 0 }, out;
    struct rec r;
    const char *h = "Content-Type: multipart/mixed; boundary=b\n\n"
                    "--b\nContent-Type: text/plain\n\n\xff";

    buf_add(&in, h, strlen(h));
    for (int i = 0; i < 72; i++)
        buf_add(&in, "x", 1);
    h = "--b\nmore\n--b--\n";
    buf_add(&in, h, strlen(h));
    canon_check(&out, &r, in.p, 1);
    ck_assert_ptr_nonnull(strstr(out.p, "x=\r\n=2D-b\r\nmore\r\n--b--\r\n"));
    ck_assert_int_eq(r.nleaf, 1);
    rec_free(&r);
    buf_free(&out);
    buf_free(&in);
}
END_TEST

/* One octet that makes a text body unsafe (>= 128, a bare CR, a NUL) at
 * every position of a 20-octet line, so that each falls in every lane of
 * the eight-octets-at-a-time scan and in the tail: the body is always
 * re-encoded (7-bit CRLF output, same octets decoded). */
START_TEST(test_unsafe_octet_anywhere)
{
    static const char bad[] = { '\xe9', '\r', '\0' };

    for (size_t b = 0; b < sizeof(bad); b++)
        for (size_t pos = 0; pos < 20; pos++) {
            char in[128];
            size_t hl, len;
            struct buf out;
            struct rec r;

            if (bad[b] == '\r' && pos == 19)
                continue;           /* "...s\r\n": a CRLF line end */

            hl = (size_t)snprintf(in, sizeof(in),
                                  "Content-Type: text/plain\n\n");
            memcpy(in + hl, "abcdefghijklmnopqrst\n", 22);
            in[hl + pos] = bad[b];
            len = hl + 22;
            in[len] = '\0';
            if (bad[b] != '\0') {
                canon_check(&out, &r, in, 1);
                rec_free(&r);
            } else {
                canon_run(&out, in, len, 0, 1 << 20);
                assert_7bit_crlf(&out);
            }
            ck_assert_msg(strstr(out.p, "Content-Transfer-Encoding: ") != NULL,
                          "octet %02x at %zu not caught:\n%s",
                          (unsigned char)bad[b], pos, out.p);
            buf_free(&out);
        }
}
END_TEST

START_TEST(test_errors)
{
    mime_canon_t *c;
    static const char in[] = "Content-Type: text/plain\n\nabc\n";

    c = mime_canon_new(NULL, 0, "/nonexistent/dir", out_fail, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(mime_canon_feed(c, in, sizeof(in) - 1), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(mime_canon_finish(c), -1);
    mime_canon_free(c);
    c = mime_canon_new(NULL, 1000, "/tmp", out_fail, NULL);
    ck_assert_int_eq(mime_canon_feed(c, in, sizeof(in) - 1), 0);
    ck_assert_int_eq(mime_canon_finish(c), -1);
    ck_assert_int_eq(errno, EPIPE);
    mime_canon_free(c);
    mime_canon_free(NULL);
}
END_TEST

Suite *canon_suite(void)
{
    Suite *s = suite_create("canon");
    TCase *tc = tcase_create("canon");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_8bit_text);
    tcase_add_test(tc, test_binary_attachment);
    tcase_add_test(tc, test_long_lines);
    tcase_add_test(tc, test_from_lines);
    tcase_add_test(tc, test_clean_unchanged);
    tcase_add_test(tc, test_nested_8bit);
    tcase_add_test(tc, test_no_content_type);
    tcase_add_test(tc, test_rfc822_part);
    tcase_add_test(tc, test_truncated_fixed);
    tcase_add_test(tc, test_header_overlong);
    tcase_add_test(tc, test_header_overlong_small);
    tcase_add_test(tc, test_rfc822_enclosing_boundary);
    tcase_add_test(tc, test_preamble_break);
    tcase_add_test(tc, test_qp_soft_break_dash);
    tcase_add_test(tc, test_unsafe_octet_anywhere);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}
