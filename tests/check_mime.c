/*
 * check_mime.c - unit tests for mime/: the streaming parser (events are
 * compared across chunk sizes, RFC 1847 signed content checked byte for
 * byte and against `openssl cms -verify`), the spool and the RFC 5322
 * address parser.  The canonicaliser's tests are in check_canon.c.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_mime.h"
#include "codec.h"
#include "rfc5322.h"
#include "spool.h"

static void parse_lf(struct rec *r, const char *lf, const struct mime_limits *lim)
{
    rec_parse_all(r, lf, strlen(lf), lim);
}

#define assert_buf_eq(b, s) do {                                        \
        const struct buf *b_ = (b);                                     \
        ck_assert_ptr_nonnull(b_);                                      \
        ck_assert_uint_eq(b_->n, strlen(s));                            \
        ck_assert_msg(memcmp(b_->p, (s), b_->n) == 0, "got [%s]", b_->p); \
    } while (0)

/* ---- fixtures ---- */

static const char msg_plain[] =
    "From: a@example.org\n"
    "Subject: folded\n"
    " subject\n"
    "\n"
    "Hello\n"
    "--not a boundary\n"
    "last";

static const char msg_mixed[] =
    "From: a@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; (comment) boundary=\"b1\"\n"
    "\n"
    "preamble\n"
    "--b1 \t\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "caf=C3=A9 soft=\n"
    "break  \n"
    "--b1\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAEC\n"
    " A/7/\n"
    "--b1--  \n"
    "epilogue\n";

static const char msg_nested[] =
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "\n"
    "part one\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "alt 1\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>alt 2</p>\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "three\n"
    "--outer--\n";

static const char msg_signed[] =
    "From: alice@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\n"
    "\tmicalg=sha-256; boundary=\"sig\"\n"
    "\n"
    "This is an S/MIME signed message\n"
    "--sig\n"
    "Content-Type: text/plain;\n"
    " charset=us-ascii\n"
    "\n"
    "Signed text\n"
    "\n"
    "--sig\n"
    "Content-Type: application/pkcs7-signature; name=smime.p7s\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "MIAGCSqG\n"
    "SIb3DQEH\n"
    "--sig--\n";

/* ---- parser tests ---- */

START_TEST(test_plain)
{
    struct rec r;
    size_t n;
    char *crlf = to_crlf(msg_plain, &n);

    parse_lf(&r, msg_plain, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert(rec_has(&r, "B[] text/plain cte=0 mp=0 depth=0 parent=-"));
    ck_assert(rec_has(&r, "L[0:] Subject: folded\\x0d\\x0a subject\\x0d\\x0a\n"));
    assert_buf_eq(rec_leaf(&r, ""), "Hello\r\n--not a boundary\r\nlast");
    /* The lines give back the message with CRLF line ends. */
    ck_assert_uint_eq(r.lines.n, n);
    ck_assert(memcmp(r.lines.p, crlf, n) == 0);
    struct rec r2;
    rec_parse_all(&r2, crlf, n, NULL);
    ck_assert_str_eq(r.log.p, r2.log.p);
    rec_free(&r2);
    rec_free(&r);
    free(crlf);
}
END_TEST

START_TEST(test_mixed)
{
    struct rec r;

    parse_lf(&r, msg_mixed, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert(rec_has(&r, "B[] multipart/mixed cte=0 mp=1 depth=0"));
    ck_assert(rec_has(&r, "L[2:] preamble\\x0d\\x0a\n"));
    ck_assert(rec_has(&r, "L[3:] --b1 \\x09\\x0d\\x0a\n"));
    ck_assert(rec_has(&r, "B[1] text/plain cte=3 mp=0 depth=1 parent=\n"));
    ck_assert(rec_has(&r, "B[2] application/octet-stream cte=4"));
    ck_assert(rec_has(&r, "L[4:] --b1--  \\x0d\\x0a\n"));
    ck_assert(rec_has(&r, "L[5:] epilogue\\x0d\\x0a\n"));
    assert_buf_eq(rec_leaf(&r, "1"), "caf\xc3\xa9 softbreak");
    const struct buf *b = rec_leaf(&r, "2");
    ck_assert_uint_eq(b->n, 6);
    ck_assert(memcmp(b->p, "\x00\x01\x02\x03\xfe\xff", 6) == 0);
    ck_assert_uint_eq(r.nsmime, 0);
    rec_free(&r);
}
END_TEST

START_TEST(test_nested)
{
    struct rec r;

    parse_lf(&r, msg_nested, NULL);
    ck_assert_uint_eq(r.errors, 0);   /* inner closed by outer: accepted */
    ck_assert(rec_has(&r, "B[1] text/plain cte=0 mp=0 depth=1"));
    ck_assert(rec_has(&r, "B[2] multipart/alternative cte=0 mp=1 depth=1"));
    ck_assert(rec_has(&r, "B[2.1] text/plain cte=0 mp=0 depth=2 parent=2\n"));
    ck_assert(rec_has(&r, "B[2.2] text/html"));
    ck_assert(rec_has(&r, "E[2.2]\nE[2]\nL[3:] --outer"));
    ck_assert(rec_has(&r, "B[3] text/plain"));
    assert_buf_eq(rec_leaf(&r, "2.2"), "<p>alt 2</p>");
    assert_buf_eq(rec_leaf(&r, "3"), "three");
    rec_free(&r);
}
END_TEST

static const char signed_content[] =
    "Content-Type: text/plain;\r\n"
    " charset=us-ascii\r\n"
    "\r\n"
    "Signed text\r\n";

START_TEST(test_signed_top)
{
    struct rec r, r2;
    size_t n;
    char *crlf = to_crlf(msg_signed, &n);

    parse_lf(&r, msg_signed, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.nsmime, 1);
    ck_assert_uint_eq(r.nended, 1);
    ck_assert_int_eq(r.smime_kind[0], MIME_SMIME_SIGNED);
    ck_assert_str_eq(r.smime_section[0], "");
    ck_assert(rec_has(&r, "B[1] text/plain"));
    assert_buf_eq(&r.sig[0], signed_content);
    ck_assert_uint_eq(r.cms[0].n, 12);
    ck_assert(memcmp(r.cms[0].p, "\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07", 12) == 0);
    ck_assert(rec_has(&r, "SE0\nE[]"));
    /* CRLF input: the same events and bytes. */
    rec_parse_all(&r2, crlf, n, NULL);
    ck_assert_str_eq(r.log.p, r2.log.p);
    assert_buf_eq(&r2.sig[0], signed_content);
    rec_free(&r);
    rec_free(&r2);
    free(crlf);
}
END_TEST

START_TEST(test_signed_nested)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=list\n"
        "\n"
        "--list\n"
        "Content-Type: multipart/signed; boundary=s2;\n"
        "  protocol=\"application/x-pkcs7-signature\"\n"
        "\n"
        "--s2\n"
        "\n"
        "body\n"
        "--s2\n"
        "Content-Type: application/x-pkcs7-signature\n"
        "\n"
        "\x30\x03\x02\x01\x01\n"
        "--s2--\n"
        "--list\n"
        "Content-Type: text/plain\n"
        "\n"
        "footer\n"
        "--list--\n";
    struct rec r;

    parse_lf(&r, msg, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.nsmime, 1);
    ck_assert_str_eq(r.smime_section[0], "1");
    ck_assert(rec_has(&r, "B[1.1] text/plain"));
    ck_assert(rec_has(&r, "B[1.2] application/x-pkcs7-signature cte=0"));
    assert_buf_eq(&r.sig[0], "\r\nbody");
    /* 7bit CMS: the CRLF before the delimiter is not part of it. */
    assert_buf_eq(&r.cms[0], "\x30\x03\x02\x01\x01");
    rec_free(&r);
}
END_TEST

START_TEST(test_signed_in_signed)
{
    static const char msg[] =
        "Content-Type: multipart/signed; boundary=o\n\n--o\n"
        "Content-Type: multipart/signed; boundary=i\n\n--i\n\ninner\n--i\n"
        "Content-Type: application/pkcs7-signature\n\nIN\n--i--\n"
        "--o\nContent-Type: application/pkcs7-signature\n\nOUT\n--o--\n";
    struct rec r;

    parse_lf(&r, msg, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.nsmime, 2);
    ck_assert_str_eq(r.smime_section[1], "1");
    assert_buf_eq(&r.sig[0], "Content-Type: multipart/signed; boundary=i\r\n\r\n"
                  "--i\r\n\r\ninner\r\n--i\r\n"
                  "Content-Type: application/pkcs7-signature\r\n\r\nIN\r\n--i--");
    assert_buf_eq(&r.sig[1], "\r\ninner");
    assert_buf_eq(&r.cms[1], "IN");
    assert_buf_eq(&r.cms[0], "OUT");
    ck_assert(rec_has(&r, "SE1\nE[1]"));
    rec_free(&r);
}
END_TEST

/* Pseudo-random MIME-like garbage with tight limits: no crash, the same
 * events for every chunk size. */
START_TEST(test_garbage)
{
    static const char *const pieces[] = {
        "Content-Type: multipart/mixed; boundary=a\n",
        "Content-Type: multipart/signed; boundary=b\n",
        "Content-Type: application/pkcs7-mime\n",
        "Content-Type: application/pkcs7-signature\n",
        "Content-Transfer-Encoding: base64\n",
        "Content-Transfer-Encoding: quoted-printable\n",
        "Content-Type: text/plain; a*0*=x'y'%4; a*1=\"\\\n", "\n", "\r\n",
        "--a\n", "--b\n", "--a--\n", "--b-- \n", " folded\n", "=\n",
        "=4G=41\n", "QUJD\n", "@@@\n", "x:y\n", "\r", "\xff\x00\n",
        "(((\n", "--", "Content-Type: message/rfc822\n",
    };
    struct mime_limits lim;
    struct buf m = { 0 };
    unsigned seed = 12345;

    mime_limits_default(&lim);
    lim.max_line_len = 24;
    lim.max_header_len = 60;
    lim.max_headers = 5;
    lim.max_parts = 40;
    lim.max_depth = 4;
    lim.max_smime = 3;
    lim.max_cms_size = 10;
    for (int round = 0; round < 30; round++) {
        m.n = 0;
        for (int i = 0; i < 120; i++) {
            seed = seed * 1103515245u + 12345u;
            const char *pc = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
            buf_add(&m, pc, strlen(pc));
        }
        struct rec r;
        rec_parse_all(&r, m.p, m.n, &lim);
        rec_free(&r);
        rec_parse_all(&r, m.p, m.n, NULL);
        rec_free(&r);
    }
    buf_free(&m);
}
END_TEST

static void add_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Lines and headers longer than the parser's first buffers (1 KB, grown
 * as needed up to the limits) with the default limits: the same events,
 * lines and decoded data in every chunk size, a header folded over long
 * lines, a long base64 and a long quoted-printable line included. */
START_TEST(test_long_lines_grow)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct buf m = { 0 }, want1 = { 0 }, want2 = { 0 };
    struct rec r;
    size_t n;

    add_str(&m, "Content-Type: multipart/mixed; boundary=zz\n");
    add_str(&m, "X-Long: ");
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 2500; i++)
            add_str(&m, "h");
        add_str(&m, k < 2 ? "\n " : "\n");
    }
    add_str(&m, "\n--zz\nContent-Transfer-Encoding: base64\n\n");
    for (int i = 0; i < 100; i++)           /* 6400 characters, one line */
        buf_add(&m, b64, 64);
    add_str(&m, "\n--zz\nContent-Transfer-Encoding: quoted-printable\n\n");
    for (int i = 0; i < 5000; i++) {
        add_str(&m, i % 100 == 99 ? "=41" : "q");
        buf_add(&want2, i % 100 == 99 ? "A" : "q", 1);
    }
    add_str(&m, "\n--zz--\n");
    buf_add(&m, "", 1);         /* NUL-terminated for to_crlf */
    m.n--;
    /* the base64 alphabet in order, decoded: 48 bytes per 64 characters */
    for (int i = 0; i < 100; i++)
        for (int q = 0; q < 64; q += 4) {
            unsigned v = (unsigned)(q << 18 | (q + 1) << 12 | (q + 2) << 6 |
                                    (q + 3));
            unsigned char o[3] = { (unsigned char)(v >> 16),
                                   (unsigned char)(v >> 8), (unsigned char)v };
            buf_add(&want1, o, 3);
        }
    char *crlf = to_crlf(m.p, &n);
    rec_parse_all(&r, crlf, n, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.lines.n, n);
    ck_assert(memcmp(r.lines.p, crlf, n) == 0);
    const struct buf *l1 = rec_leaf(&r, "1"), *l2 = rec_leaf(&r, "2");
    ck_assert_ptr_nonnull(l1);
    ck_assert_ptr_nonnull(l2);
    ck_assert_uint_eq(l1->n, want1.n);
    ck_assert(memcmp(l1->p, want1.p, want1.n) == 0);
    ck_assert_uint_eq(l2->n, want2.n);
    ck_assert(memcmp(l2->p, want2.p, want2.n) == 0);
    rec_free(&r);
    /* LF line ends: each line is copied to add its CRLF */
    rec_parse_all(&r, m.p, m.n, NULL);
    ck_assert_uint_eq(r.lines.n, n);
    ck_assert(memcmp(r.lines.p, crlf, n) == 0);
    rec_free(&r);
    free(crlf);
    buf_free(&m);
    buf_free(&want1);
    buf_free(&want2);
}
END_TEST

START_TEST(test_signed_forms)
{
    static const char one[] =
        "Content-Type: multipart/signed; boundary=x\n\n--x\n\nonly\n--x--\n";
    static const char three[] =
        "Content-Type: multipart/signed; boundary=x\n\n--x\n\na\n--x\n"
        "Content-Type: application/pkcs7-signature\n\nAA\n--x\n\nc\n--x--\n";
    static const char notsig[] =
        "Content-Type: multipart/signed; boundary=x\n\n--x\n\na\n--x\n"
        "Content-Type: text/plain\n\nAA\n--x--\n";
    static const char pgp[] =
        "Content-Type: multipart/signed; boundary=x;\n"
        " protocol=\"application/pgp-signature\"\n\n--x\n\na\n--x\n"
        "Content-Type: application/pgp-signature\n\nsig\n--x--\n";
    struct rec r;

    parse_lf(&r, one, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_SIGNED_FORM);
    ck_assert_uint_eq(r.nsmime, 1);
    assert_buf_eq(&r.sig[0], "\r\nonly");
    rec_free(&r);
    parse_lf(&r, three, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_SIGNED_FORM);
    assert_buf_eq(&r.sig[0], "\r\na");
    rec_free(&r);
    parse_lf(&r, notsig, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_SIGNED_FORM);
    ck_assert_uint_eq(r.cms[0].n, 0);
    rec_free(&r);
    parse_lf(&r, pgp, NULL);          /* not S/MIME at all */
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.nsmime, 0);
    rec_free(&r);
}
END_TEST

START_TEST(test_pkcs7_mime)
{
    static const char top[] =
        "Content-Type: application/pkcs7-mime; smime-type=signed-data;\n"
        "  name=smime.p7m\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "MAMCAQE=\n";
    static const char part[] =
        "Content-Type: multipart/mixed; boundary=z\n\n--z\n"
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename=\"SMIME.P7M\"\n"
        "Content-Transfer-Encoding: base64\n\nMAMC\nAQE\n--z--\n";
    static const char bad[] =
        "Content-Type: application/x-pkcs7-mime\n"
        "Content-Transfer-Encoding: base64\n\nMA!MC*AQE=\n";
    struct rec r;

    parse_lf(&r, top, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.nsmime, 1);
    ck_assert_int_eq(r.smime_kind[0], MIME_SMIME_PKCS7);
    ck_assert_str_eq(r.smime_section[0], "");
    assert_buf_eq(&r.cms[0], "\x30\x03\x02\x01\x01");
    rec_free(&r);
    parse_lf(&r, part, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_str_eq(r.smime_section[0], "1");
    assert_buf_eq(&r.cms[0], "\x30\x03\x02\x01\x01");   /* unpadded end */
    rec_free(&r);
    parse_lf(&r, bad, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_ENCODING);
    assert_buf_eq(&r.cms[0], "\x30\x03\x02\x01\x01");
    rec_free(&r);
}
END_TEST

static char t_title[100], t_name[50], t_cs[50], t_y[50], t_fn[50], t_cs2[50];

static void copy_param(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v ? v : "(null)");
}

static void params_begin(void *arg, const mime_entity_t *e)
{
    if (strcmp(mime_entity_section(e), "1") == 0) {
        copy_param(t_title, sizeof(t_title), mime_entity_param(e, "TITLE"));
        copy_param(t_name, sizeof(t_name), mime_entity_param(e, "name"));
        copy_param(t_cs, sizeof(t_cs), mime_entity_param(e, "charset"));
        copy_param(t_y, sizeof(t_y), mime_entity_param(e, "y"));
        copy_param(t_fn, sizeof(t_fn),
                   mime_entity_disposition_param(e, "filename"));
        ck_assert_ptr_null(mime_entity_param(e, "x"));
        ck_assert_ptr_null(mime_entity_param(e, "junk"));
    } else if (strcmp(mime_entity_section(e), "2") == 0) {
        copy_param(t_cs2, sizeof(t_cs2), mime_entity_param(e, "charset"));
    }
}

START_TEST(test_rfc2231)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=q\n\n--q\n"
        "Content-Type: application/x-stuff;\n"
        " title*0*=us-ascii'en'This%20is%20even%20more%20;\n"
        " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n"
        " title*2=\"isn't it!\"; name*1=\"bar\"; name*0=\"foo\";\n"
        " (a comment) charset = \"a\\\"b\" ; junk; x=; y*=utf-8''%E2%82%AC\n"
        "Content-Disposition: attachment;\n"
        " filename*=UTF-8'de'%C3%A4.txt\n\n"
        "data\n--q\n"
        "Content-Type: text/plain; charset=\"us-ascii\"; CHARSET=ignored\n\n"
        "x\n--q--\n";
    struct rec r;
    mime_parser_t *p;
    struct mime_callbacks cb = { 0 };

    parse_lf(&r, msg, NULL);
    ck_assert_uint_eq(r.errors, 0);
    rec_free(&r);
    /* Look at the parameters while the entity is alive. */
    cb.entity_begin = params_begin;
    p = mime_parser_new(NULL, &cb, NULL);
    ck_assert_int_eq(mime_parser_feed(p, msg, sizeof(msg) - 1), 0);
    ck_assert_int_eq(mime_parser_finish(p), 0);
    mime_parser_free(p);
    ck_assert_str_eq(t_title, "This is even more ***fun*** isn't it!");
    ck_assert_str_eq(t_name, "foobar");
    ck_assert_str_eq(t_cs, "a\"b");
    ck_assert_str_eq(t_y, "\xe2\x82\xac");
    ck_assert_str_eq(t_fn, "\xc3\xa4.txt");
    ck_assert_str_eq(t_cs2, "us-ascii");
}
END_TEST

START_TEST(test_defaults)
{
    static const char digest[] =
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
        "Subject: inner\n\nbody\n--d\n"
        "Content-Type: text/plain\n\nt\n--d--\n";
    static const char invalid[] =
        "Content-Type: text; charset=x\n"
        "Content-Transfer-Encoding: X-UUENCODE\n\nbody\n";
    static const char nobound[] =
        "Content-Type: multipart/mixed\n\n--x\n\nbody\n";
    struct rec r;

    parse_lf(&r, digest, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert(rec_has(&r, "B[1] message/rfc822 cte=0 mp=0"));
    ck_assert(rec_has(&r, "B[2] text/plain"));
    assert_buf_eq(rec_leaf(&r, "1"), "Subject: inner\r\n\r\nbody");
    rec_free(&r);
    parse_lf(&r, invalid, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert(rec_has(&r, "B[] text/plain cte=5 mp=0"));
    rec_free(&r);
    parse_lf(&r, nobound, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_BOUNDARY);
    ck_assert(rec_has(&r, "B[] multipart/mixed cte=0 mp=0"));
    assert_buf_eq(rec_leaf(&r, ""), "--x\r\n\r\nbody\r\n");
    rec_free(&r);
}
END_TEST

START_TEST(test_truncated)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
        "Content-Type: multipart/alternative; boundary=b\n\n--b\n\ninner\n";
    static const char inhdr[] =
        "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
        "Content-Type: text/plain";
    struct rec r;

    parse_lf(&r, msg, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_TRUNCATED);
    ck_assert(rec_has(&r, "E[1.1]\nE[1]\nE[]\nEND"));
    /* At the end of the message the last line end belongs to the body. */
    assert_buf_eq(rec_leaf(&r, "1.1"), "inner\r\n");
    rec_free(&r);
    parse_lf(&r, inhdr, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_TRUNCATED);
    ck_assert(rec_has(&r, "L[0:1] Content-Type: text/plain\nB[1] text/plain"));
    ck_assert(rec_has(&r, "E[1]\nE[]\nEND"));
    rec_free(&r);
}
END_TEST

START_TEST(test_header_syntax)
{
    static const char msg[] =
        "Subject: x\nthis is not a header\nSubject: y\n\nbody\n";
    struct rec r;

    parse_lf(&r, msg, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_HEADER_SYNTAX);
    assert_buf_eq(rec_leaf(&r, ""),
                  "this is not a header\r\nSubject: y\r\n\r\nbody\r\n");
    rec_free(&r);
}
END_TEST

/* A message nesting multiparts n deep. */
static char *deep_msg(int n)
{
    struct buf b = { 0 };
    char t[200];
    for (int i = 0; i < n; i++) {
        snprintf(t, sizeof(t), "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
        buf_add(&b, t, strlen(t));
    }
    buf_add(&b, "\nleaf\n", 6);
    for (int i = n - 1; i >= 0; i--) {
        snprintf(t, sizeof(t), "--b%d--\n", i);
        buf_add(&b, t, strlen(t));
    }
    return b.p;
}

START_TEST(test_limits)
{
    struct mime_limits lim;
    struct rec r;
    char *m;

    mime_limits_default(&lim);
    lim.max_depth = 3;
    m = deep_msg(5);
    parse_lf(&r, m, &lim);
    ck_assert_uint_eq(r.errors, MIME_ERR_NESTING);
    ck_assert(rec_has(&r, "B[1.1.1] multipart/mixed cte=0 mp=0 depth=3"));
    rec_free(&r);
    free(m);
    m = deep_msg(200);                  /* defaults: 32 deep, no crash */
    parse_lf(&r, m, NULL);
    ck_assert_uint_eq(r.errors, MIME_ERR_NESTING);
    rec_free(&r);
    free(m);

    mime_limits_default(&lim);
    lim.max_header_len = 40;
    lim.max_headers = 2;
    parse_lf(&r, "A: 1\nB: 2\nC: 3\nX-Long: 0123456789012345678901234567890123456789\n"
             "  more\n\nbody\n", &lim);
    ck_assert_uint_eq(r.errors, MIME_ERR_HEADER_COUNT | MIME_ERR_HEADER_LONG);
    ck_assert(rec_has(&r, "L[0:] C: 3\\x0d\\x0a\n"));
    ck_assert(rec_has(&r, "L[0:]   more\\x0d\\x0a\n"));
    assert_buf_eq(rec_leaf(&r, ""), "body\r\n");
    rec_free(&r);

    mime_limits_default(&lim);
    lim.max_boundary_len = 5;
    parse_lf(&r, "Content-Type: multipart/mixed; boundary=abcdef\n\n--abcdef\n\nx\n", &lim);
    ck_assert_uint_eq(r.errors, MIME_ERR_BOUNDARY_LONG);
    ck_assert_str_eq(mime_error_string(r.errors), "MIME boundary too long");
    rec_free(&r);

    mime_limits_default(&lim);
    lim.max_parts = 3;
    parse_lf(&r, "Content-Type: multipart/mixed; boundary=p\n\n--p\n\n1\n--p\n\n2\n"
             "--p\n\n3\n--p--\n", &lim);
    ck_assert_uint_eq(r.errors, MIME_ERR_PARTS | MIME_ERR_TRUNCATED);
    assert_buf_eq(rec_leaf(&r, "2"), "2\r\n--p\r\n\r\n3\r\n--p--\r\n");
    rec_free(&r);

    mime_limits_default(&lim);
    lim.max_smime = 1;
    lim.max_cms_size = 3;
    parse_lf(&r, "Content-Type: multipart/mixed; boundary=p\n\n--p\n"
             "Content-Type: application/pkcs7-mime\n\n12345\n--p\n"
             "Content-Type: application/pkcs7-mime\n\nabc\n--p--\n", &lim);
    ck_assert_uint_eq(r.errors, MIME_ERR_SMIME_COUNT | MIME_ERR_CMS_SIZE);
    ck_assert_uint_eq(r.nsmime, 1);
    assert_buf_eq(&r.cms[0], "123");
    assert_buf_eq(rec_leaf(&r, "1"), "12345");
    rec_free(&r);
}
END_TEST

START_TEST(test_long_lines)
{
    struct mime_limits lim;
    struct rec r;
    struct buf m = { 0 };
    const char *hdr = "Content-Type: multipart/signed; boundary=L\n\n--L\n\n";

    mime_limits_default(&lim);
    lim.max_line_len = 16;
    buf_add(&m, hdr, strlen(hdr));
    /* A CR at a piece boundary must stay with its LF. */
    buf_add(&m, "0123456789abcde\r\n", 17);
    buf_add(&m, "0123456789abcdefghijklmnopqrstuvwxyz0123456789\n", 47);
    buf_add(&m, "--L\nContent-Type: application/pkcs7-signature\n\nAA\n--L--\n", 56);
    rec_parse_all(&r, m.p, m.n, &lim);
    ck_assert_uint_eq(r.errors, MIME_ERR_LINE_LONG);
    assert_buf_eq(&r.sig[0], "\r\n0123456789abcde\r\n"
                  "0123456789abcdefghijklmnopqrstuvwxyz0123456789");
    assert_buf_eq(rec_leaf(&r, "1"), "0123456789abcde\r\n"
                  "0123456789abcdefghijklmnopqrstuvwxyz0123456789");
    ck_assert(rec_has(&r, "L[6:1] 0123456789abcde\n"));
    rec_free(&r);
    buf_free(&m);
}
END_TEST

/* Sign content with openssl, parse the S/MIME message, and verify the
 * signature over the bytes signed_data() delivered. */
static void openssl_roundtrip(const char *content, int crlf_eol)
{
    const char *pki = pki_dir();
    char cmd[4000], in[1024], out[1024], sd[1024], cms[1024];
    struct rec r;
    FILE *f;
    struct buf m = { 0 };
    char tmp[4096];
    size_t n;

    snprintf(in, sizeof(in), "%s", work_path("ossl-in.txt"));
    snprintf(out, sizeof(out), "%s", work_path("ossl-out.eml"));
    snprintf(sd, sizeof(sd), "%s", work_path("ossl-signed.bin"));
    snprintf(cms, sizeof(cms), "%s", work_path("ossl-sig.der"));
    ck_assert_int_eq(write_file(in, content, strlen(content)), 0);
    snprintf(cmd, sizeof(cmd),
             "openssl cms -sign -in '%s' -out '%s' -signer '%s/alice.crt' "
             "-inkey '%s/alice.key' -certfile '%s/inter.crt' -md sha256 %s "
             "2>/dev/null", in, out, pki, pki, pki, crlf_eol ? "-crlfeol" : "");
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_ptr_nonnull(f = fopen(out, "rb"));
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_add(&m, tmp, n);
    fclose(f);
    /* (openssl writes the signed part with CRLF in both cases) */
    ck_assert(strncmp(m.p, crlf_eol ? "MIME-Version: 1.0\r\n" :
                      "MIME-Version: 1.0\n", 18 + (size_t)crlf_eol) == 0);
    rec_parse_all(&r, m.p, m.n, NULL);
    ck_assert_uint_eq(r.errors, 0);
    ck_assert_uint_eq(r.nsmime, 1);
    ck_assert_uint_gt(r.cms[0].n, 100);
    ck_assert_int_eq(write_file(sd, r.sig[0].p, r.sig[0].n), 0);
    ck_assert_int_eq(write_file(cms, r.cms[0].p, r.cms[0].n), 0);
    snprintf(cmd, sizeof(cmd),
             "openssl cms -verify -binary -inform DER -in '%s' -content '%s' "
             "-CAfile '%s/roots.pem' -purpose any -out /dev/null 2>/dev/null",
             cms, sd, pki);
    ck_assert_msg(system(cmd) == 0, "openssl cms -verify failed: %s", cmd);
    /* And one changed byte makes it fail. */
    r.sig[0].p[r.sig[0].n / 2] ^= 1;
    ck_assert_int_eq(write_file(sd, r.sig[0].p, r.sig[0].n), 0);
    ck_assert_int_ne(system(cmd), 0);
    rec_free(&r);
    buf_free(&m);
}

START_TEST(test_openssl_signed)
{
    static const char text[] =
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "Line one\n\n  indented, trailing space \nlast line without end";
    static const char text2[] =
        "Content-Type: multipart/mixed; boundary=in\n\n--in\n\nx\n--in--\n\n";
    openssl_roundtrip(text, 0);
    openssl_roundtrip(text, 1);
    openssl_roundtrip(text2, 0);
    openssl_roundtrip(text2, 1);
}
END_TEST

/* ---- spool ---- */

static void spool_fill_check(size_t threshold, size_t total, int spilled)
{
    spool_t *sp = spool_new(threshold, work_path(""));
    unsigned char buf[777], rd[1000];
    size_t off = 0, got = 0;
    ssize_t r;

    ck_assert_ptr_nonnull(sp);
    while (off < total) {
        size_t n = total - off < sizeof(buf) ? total - off : (off % 5) * 100 + 7;
        if (n > total - off)
            n = total - off;
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)((off + i) * 7 + 3);
        ck_assert_int_eq(spool_write(sp, buf, n), 0);
        off += n;
    }
    ck_assert_uint_eq(spool_size(sp), total);
    ck_assert_int_eq(spool_spilled(sp), spilled);
    ck_assert_int_eq(spool_rewind(sp), 0);
    ck_assert_int_eq(spool_write(sp, "x", 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    while ((r = spool_read(sp, rd, (got % 3) ? sizeof(rd) : 13)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            ck_assert_uint_eq(rd[i], (unsigned char)((got + (size_t)i) * 7 + 3));
        got += (size_t)r;
    }
    ck_assert_int_eq(r, 0);
    ck_assert_uint_eq(got, total);
    /* Reuse after reset. */
    spool_reset(sp);
    ck_assert_uint_eq(spool_size(sp), 0);
    ck_assert_int_eq(spool_write(sp, "abc", 3), 0);
    ck_assert_int_eq(spool_rewind(sp), 0);
    ck_assert_int_eq(spool_read(sp, rd, sizeof(rd)), 3);
    spool_free(sp);
}

START_TEST(test_spool)
{
    spool_fill_check(1 << 20, 100000, 0);
    spool_fill_check(1000, 300000, 1);
    spool_fill_check(0, 5, 1);
    spool_fill_check(100, 0, 0);
    spool_free(NULL);
}
END_TEST

/* Reads return full buffers until the end, whatever the buffering: a
 * body replaced in 65535-byte protocol chunks (libmilter's limit) used
 * to go out as 65535 bytes, then 1, then 65535... */
START_TEST(test_spool_full_reads)
{
    static unsigned char buf[300000], rd[65535];
    const size_t sizes[] = {65535, 13, 65535, 40000, 65535, 65535};
    spool_t *sp = spool_new(1000, work_path(""));
    size_t got = 0;

    ck_assert_ptr_nonnull(sp);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 13 + 5);
    ck_assert_int_eq(spool_write(sp, buf, sizeof(buf)), 0);
    ck_assert_int_eq(spool_spilled(sp), 1);
    ck_assert_int_eq(spool_rewind(sp), 0);
    for (size_t k = 0; got < sizeof(buf); k++) {
        size_t want = sizes[k % 6], left = sizeof(buf) - got;
        ssize_t r = spool_read(sp, rd, want);
        ck_assert_int_eq(r, (ssize_t)(want < left ? want : left));
        ck_assert_mem_eq(rd, buf + got, (size_t)r);
        got += (size_t)r;
    }
    ck_assert_int_eq(spool_read(sp, rd, sizeof(rd)), 0);
    spool_free(sp);
}
END_TEST

START_TEST(test_spool_errors)
{
    spool_t *sp = spool_new(4, "/nonexistent/dir");
    const char *file = work_path("notadir");
    unsigned char rd[4];

    ck_assert_int_eq(spool_write(sp, "abc", 3), 0);     /* in memory */
    ck_assert_int_eq(spool_write(sp, "defg", 4), -1);
    ck_assert_int_eq(errno, ENOENT);
    spool_free(sp);
    ck_assert_int_eq(write_file(file, "x", 1), 0);
    sp = spool_new(0, file);
    ck_assert_int_eq(spool_write(sp, "abc", 3), -1);
    ck_assert_int_eq(errno, ENOTDIR);
    spool_free(sp);
    sp = spool_new(10, "/tmp");
    ck_assert_int_eq(spool_read(sp, rd, 4), -1);        /* not rewound */
    ck_assert_int_eq(errno, EINVAL);
    spool_free(sp);
}
END_TEST

START_TEST(test_spool_unlinked)
{
    const char *dir = work_path("spooldir");
    char cmd[1200];
    spool_t *sp;
    struct stat st;

    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    sp = spool_new(1, dir);
    ck_assert_int_eq(spool_write(sp, "abc", 3), 0);
    ck_assert_int_eq(spool_spilled(sp), 1);
    /* Nothing visible in the directory. */
    ck_assert_int_eq(stat(dir, &st), 0);
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", dir);
    ck_assert_int_eq(system(cmd), 0);
    spool_free(sp);
}
END_TEST

/* ---- rfc5322 ---- */

static void addrs_expect(const char *value, size_t n_expect, ...)
{
    char *out[8];
    size_t n = rfc5322_addrs(value, out, 8);
    va_list ap;

    ck_assert_msg(n == n_expect, "%s: %zu addresses, expected %zu", value, n, n_expect);
    va_start(ap, n_expect);
    for (size_t i = 0; i < n && i < 8; i++)
        ck_assert_str_eq(out[i], va_arg(ap, const char *));
    va_end(ap);
    rfc5322_addrs_free(out, n < 8 ? n : 8);
}

START_TEST(test_addrs)
{
    addrs_expect("alice@example.org", 1, "alice@example.org");
    addrs_expect("Alice <alice@example.org>", 1, "alice@example.org");
    addrs_expect("\"Smith, Bob\" <bob@example.org>, carol@example.net (Carol)",
                 2, "bob@example.org", "carol@example.net");
    addrs_expect("(c1 (nested) \\) ) a.b (x) @ (y) example . org", 1,
                 "a.b@example.org");
    addrs_expect("undisclosed-recipients:;", 0);
    addrs_expect("friends: a@x.org, B <b@y.org>;, c@z.org", 3,
                 "a@x.org", "b@y.org", "c@z.org");
    addrs_expect("<@route1,@route2:user@host.example>", 1, "user@host.example");
    addrs_expect("\"john doe\"@example.org", 1, "\"john doe\"@example.org");
    addrs_expect("\"plain\"@example.org", 1, "plain@example.org");
    addrs_expect("alice@example.org <bob@example.org>", 1, "bob@example.org");
    addrs_expect("x@[192.0.2.1]", 1, "x@[192.0.2.1]");
    addrs_expect("Display Name x@y.org", 1, "x@y.org");
    /* Garbage: no crash, what can be found. */
    addrs_expect("\"unterminated <a@b.org>", 0);
    addrs_expect("(unterminated comment a@b.org", 0);
    addrs_expect("<a@b.org", 1, "a@b.org");
    addrs_expect("a@b.org>>>,,,<<<@@@", 1, "a@b.org");
    addrs_expect("", 0);
    addrs_expect("@", 0);
    addrs_expect("just words", 0);
    /* More than max: counted, max stored. */
    char *out[1];
    ck_assert_uint_eq(rfc5322_addrs("a@b.c, d@e.f, g@h.i", out, 1), 3);
    ck_assert_str_eq(out[0], "a@b.c");
    rfc5322_addrs_free(out, 1);
}
END_TEST

START_TEST(test_cfws_equal)
{
    const char *s = " (a (b) \\( c)\r\n\t x";
    ck_assert_str_eq(rfc5322_skip_cfws(s), "x");
    ck_assert_str_eq(rfc5322_skip_cfws("(open (comment"), "");
    ck_assert_str_eq(rfc5322_skip_cfws("x"), "x");
    ck_assert_int_eq(rfc5322_addr_equal("Alice@Example.ORG", "alice@example.org"), 1);
    ck_assert_int_eq(rfc5322_addr_equal("alice@example.org", "alicex@example.org"), 0);
    ck_assert_int_eq(rfc5322_addr_equal("alice@example.org", "alice@example.com"), 0);
    ck_assert_int_eq(rfc5322_addr_equal("alice", "alice"), 0);
}
END_TEST

static int sink_buf(void *arg, const char *p, size_t n)
{
    buf_add(arg, p, n);
    return 0;
}

START_TEST(test_header_lines)
{
    struct buf b = {0};

    ck_assert(rfc5322_is_header_start("Subject: x", 10));
    ck_assert(rfc5322_is_header_start("Subject \t: x", 12));   /* obsolete */
    ck_assert(rfc5322_is_header_start("X:", 2));
    ck_assert(!rfc5322_is_header_start(": x", 3));
    ck_assert(!rfc5322_is_header_start(" folded: x", 10));
    ck_assert(!rfc5322_is_header_start("Sub ject: x", 11));
    ck_assert(!rfc5322_is_header_start("Subject", 7));
    ck_assert(!rfc5322_is_header_start("Subject: x", 7));      /* len */
    ck_assert(!rfc5322_is_header_start("S\xc3\xbc: x", 6));

    /* folds as an MTA hands them over ("\n", also "\r\n") become CRLF */
    ck_assert_int_eq(rfc5322_header_write("Content-Type",
        "multipart/signed;\n\tboundary=b;\r\n micalg=sha-256", sink_buf,
        &b), 0);
    buf_add(&b, "", 1);
    ck_assert_str_eq(b.p, "Content-Type: multipart/signed;\r\n\tboundary=b;"
                          "\r\n micalg=sha-256\r\n");
    buf_free(&b);
    ck_assert_int_eq(rfc5322_header_write("X", "", sink_buf, &b), 0);
    ck_assert_mem_eq(b.p, "X: \r\n", 5);
    buf_free(&b);
}
END_TEST

START_TEST(test_error_string)
{
    ck_assert_str_eq(mime_error_string(0), "");
    ck_assert_str_eq(mime_error_string(MIME_ERR_TRUNCATED | MIME_ERR_CMS_SIZE),
                     "truncated MIME structure");
    ck_assert_str_eq(mime_error_string(MIME_ERR_HEADER_SYNTAX), "header syntax error");
}
END_TEST

/* ---- codec ---- */

/* The constant decoding table against the alphabet of RFC 2045 6.8:
 * each of the 64 characters is its own sextet, whitespace is skipped,
 * "=" pads, every other octet is bad. */
START_TEST(test_b64_every_octet)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (int c = 0; c < 256; c++) {
        struct b64_dec d = {0};
        char in[4] = {'A', 'A', 'A', (char)c};
        unsigned char out[8];
        int bad = 0;
        const char *pos = c ? strchr(alphabet, c) : NULL;
        size_t n = b64_decode(&d, in, 4, out, &bad);
        if (pos != NULL) {
            ck_assert_msg(n == 3 && !bad && out[2] == pos - alphabet,
                          "octet %d", c);
        } else if (c == '=') {
            ck_assert_msg(n == 2 && !bad, "pad");
        } else if (strchr(" \t\r\n\f\v", c) && c) {
            ck_assert_msg(n == 0 && !bad && d.n == 3, "whitespace %d", c);
        } else {
            ck_assert_msg(n == 0 && bad, "octet %d must be bad", c);
        }
    }
}
END_TEST

/* b64_decode one octet at a time (as it was before its four-at-a-time
 * path), with RFC 2045's alphabet spelled out: the reference. */
static size_t b64_ref(unsigned *bits, int *n, const char *src, size_t len,
                      unsigned char *dst, int *bad)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        const char *pos = src[i] ? strchr(alphabet, src[i]) : NULL;
        if (pos != NULL) {
            *bits = (*bits << 6) | (unsigned)(pos - alphabet);
            if (++*n == 4) {
                dst[o++] = (unsigned char)(*bits >> 16);
                dst[o++] = (unsigned char)(*bits >> 8);
                dst[o++] = (unsigned char)*bits;
                *bits = 0;
                *n = 0;
            }
        } else if (src[i] && strchr(" \t\r\n\f\v", src[i])) {
            continue;
        } else if (src[i] == '=') {
            if (*n == 2)
                dst[o++] = (unsigned char)(*bits >> 4);
            else if (*n == 3) {
                dst[o++] = (unsigned char)(*bits >> 10);
                dst[o++] = (unsigned char)(*bits >> 2);
            } else if (*n == 1)
                *bad = 1;
            *bits = 0;
            *n = 0;
        } else {
            *bad = 1;
        }
    }
    return o;
}

/* The four-at-a-time path against the reference: bodies of base64
 * lines with whitespace, padding and bad octets at random places (one in
 * a few hundred, so that long clean runs take the fast path), fed in
 * chunks split anywhere, quanta included. */
START_TEST(test_b64_decode_fast)
{
    static const char pick[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char odd[] = " \t\r\n=*\x80-.";
    char in[4096];
    unsigned char out[4096], ref[4096];
    unsigned seed = 12345;

    for (int round = 0; round < 400; round++) {
        size_t len = 0, o = 0, ro = 0;
        struct b64_dec d = {0};
        unsigned rbits = 0;
        int rn = 0, bad = 0, rbad = 0;
        while (len < sizeof(in) - 2) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = (seed >> 8) % 1000;
            if (len % 78 == 76 && round % 2 == 0) {
                in[len++] = '\r';
                in[len++] = '\n';
            } else if (r < (unsigned)(round % 7) * 3) {
                in[len++] = odd[(seed >> 20) % (sizeof(odd) - 1)];
            } else {
                in[len++] = pick[(seed >> 16) % 64];
            }
        }
        for (size_t off = 0; off < len;) {
            seed = seed * 1103515245u + 12345u;
            size_t k = 1 + (seed >> 10) % 300;
            if (k > len - off)
                k = len - off;
            o += b64_decode(&d, in + off, k, out + o, &bad);
            ro += b64_ref(&rbits, &rn, in + off, k, ref + ro, &rbad);
            off += k;
        }
        ck_assert_uint_eq(o, ro);
        ck_assert_mem_eq(out, ref, o);
        ck_assert_int_eq(bad, rbad);
        ck_assert_int_eq(d.n, rn);
        ck_assert_uint_eq(d.bits, rbits);
    }
}
END_TEST

/* Every octet value, in every alignment, encodes to lines of 76 and
 * decodes back. */
START_TEST(test_b64_round_trip)
{
    unsigned char all[256 + 2], back[512];

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t len = 254; len <= 256; len++) {
        struct buf enc = {0};
        struct b64_enc e;
        struct b64_dec d = {0};
        int bad = 0;
        b64_enc_init(&e, sink_buf, &enc);
        ck_assert_int_eq(b64_enc_update(&e, all, len), 0);
        ck_assert_int_eq(b64_enc_finish(&e), 0);
        ck_assert_ptr_nonnull(memchr(enc.p, '\r', enc.n));
        ck_assert_uint_eq((size_t)((char *)memchr(enc.p, '\r', enc.n) -
                                   enc.p), 76);
        size_t n = b64_decode(&d, enc.p, enc.n, back, &bad);
        n += b64_decode_end(&d, back + n, &bad);
        ck_assert(!bad);
        ck_assert_uint_eq(n, len);
        ck_assert_mem_eq(back, all, len);
        buf_free(&enc);
    }
}
END_TEST

/* An independent base64 of len bytes: quanta of 4 characters, CRLF
 * between lines of 76, none after the last (b64_enc_finish's form). */
static size_t b64_enc_ref(const unsigned char *in, size_t len, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, col = 0;

    for (size_t i = 0; i < len; i += 3) {
        size_t n = len - i < 3 ? len - i : 3;
        unsigned long v = (unsigned long)in[i] << 16 |
                          (n > 1 ? (unsigned long)in[i + 1] << 8 : 0) |
                          (n > 2 ? in[i + 2] : 0);
        if (col == 76) {
            out[o++] = '\r';
            out[o++] = '\n';
            col = 0;
        }
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = n > 1 ? a[v >> 6 & 63] : '=';
        out[o++] = n > 2 ? a[v & 63] : '=';
        col += 4;
    }
    return o;
}

struct sink_count {
    struct buf b;
    size_t calls, small;        /* small: calls of under 4 KB */
};

static int sink_count(void *arg, const char *p, size_t n)
{
    struct sink_count *c = arg;

    c->calls++;
    c->small += n < 4096;
    buf_add(&c->b, p, n);
    return 0;
}

/* The streaming encoder fed in pieces of every size (1 and 2 bytes too,
 * so quanta straddle calls; and lines and the output buffer end
 * anywhere) gives exactly the reference encoding; and it hands the
 * sink pieces of at least 4 KB but the last (each is a spool write for
 * a large encrypted message: it used to be one per 512 bytes). */
START_TEST(test_b64_enc_stream)
{
    enum { LEN = 300000 };
    unsigned char *in = malloc(LEN);
    char *ref = malloc(LEN / 3 * 4 + LEN / 57 * 2 + 16);
    unsigned seed = 12345;

    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(ref);
    for (size_t i = 0; i < LEN; i++) {
        seed = seed * 1103515245u + 12345u;
        in[i] = (unsigned char)(seed >> 16);
    }
    for (size_t len = LEN - 2; len <= LEN; len++) {
        struct sink_count c = {0};
        struct b64_enc e;
        size_t rn = b64_enc_ref(in, len, ref);

        b64_enc_init(&e, sink_count, &c);
        for (size_t off = 0; off < len;) {
            seed = seed * 1103515245u + 12345u;
            size_t k = seed >> 9 & 1 ? 1 + (seed >> 10) % 3
                                      : 1 + (seed >> 10) % 20000;
            if (k > len - off)
                k = len - off;
            ck_assert_int_eq(b64_enc_update(&e, in + off, k), 0);
            off += k;
        }
        ck_assert_int_eq(b64_enc_finish(&e), 0);
        ck_assert_uint_eq(c.b.n, rn);
        ck_assert_mem_eq(c.b.p, ref, rn);
        ck_assert_uint_le(c.small, 1);
        ck_assert_uint_ge(c.calls, 2);
        buf_free(&c.b);
    }
    free(in);
    free(ref);
}
END_TEST

/* The one-shot encoder of the smime.p7s part: RFC 4648 vectors, lines
 * of 76, every line ended by CRLF. */
START_TEST(test_b64_encode_lines)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", "\r\n"}, {"f", "Zg==\r\n"}, {"fo", "Zm8=\r\n"},
        {"foo", "Zm9v\r\n"}, {"foob", "Zm9vYg==\r\n"},
        {"fooba", "Zm9vYmE=\r\n"}, {"foobar", "Zm9vYmFy\r\n"},
    };
    unsigned char zeros[58] = {0};
    size_t n;
    char *out;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        out = b64_encode_lines(v[i].in, strlen(v[i].in), &n);
        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(out, v[i].out);
        ck_assert_uint_eq(n, strlen(v[i].out));
        free(out);
    }
    out = b64_encode_lines(zeros, 57, &n);          /* exactly one line */
    ck_assert_uint_eq(n, 78);
    ck_assert_str_eq(out + 76, "\r\n");
    free(out);
    out = b64_encode_lines(zeros, 58, &n);          /* one more quantum */
    ck_assert_str_eq(out + 76, "\r\nAA==\r\n");
    ck_assert_uint_eq(n, 84);
    free(out);
}
END_TEST

static Suite *mime_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("parser");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_long_lines_grow);
    tcase_add_test(tc, test_mixed);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_signed_top);
    tcase_add_test(tc, test_signed_nested);
    tcase_add_test(tc, test_signed_forms);
    tcase_add_test(tc, test_signed_in_signed);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_pkcs7_mime);
    tcase_add_test(tc, test_rfc2231);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_header_syntax);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_long_lines);
    tcase_add_test(tc, test_error_string);
    suite_add_tcase(s, tc);
    tc = tcase_create("openssl");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_openssl_signed);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_b64_every_octet);
    tcase_add_test(tc, test_b64_round_trip);
    tcase_add_test(tc, test_b64_decode_fast);
    tcase_add_test(tc, test_b64_encode_lines);
    tcase_add_test(tc, test_b64_enc_stream);
    suite_add_tcase(s, tc);
    tc = tcase_create("spool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_spool);
    tcase_add_test(tc, test_spool_errors);
    tcase_add_test(tc, test_spool_full_reads);
    tcase_add_test(tc, test_spool_unlinked);
    suite_add_tcase(s, tc);
    tc = tcase_create("rfc5322");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_addrs);
    tcase_add_test(tc, test_cfws_equal);
    tcase_add_test(tc, test_header_lines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mime_suite());
    int failed;

    srunner_add_suite(sr, canon_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
