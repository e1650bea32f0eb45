/*
 * codec.c - streaming base64 and quoted-printable (RFC 2045 6.7, 6.8)
 * decoders and encoders used by the MIME parser (leaf and CMS data) and
 * by the 7-bit canonicaliser (re-encoding before signing).
 *
 * Decoders are tolerant: whitespace and line lengths do not matter, and
 * garbage only sets a flag.  Encoders keep lines at 76 characters or
 * fewer and never let a relay change the text: whitespace before a line
 * end is encoded, and no encoded line starts with "F" (no "From ").
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hexdig[] = "0123456789ABCDEF";

/*
 * The encoder's table: the two characters of every 12-bit value, so a
 * quantum is two look-ups instead of four.  Constant (built by the
 * preprocessor, not at first use: the encoders run in every milter
 * thread at once).
 */
#define B64_CH(v) ((char)((v) < 26 ? 'A' + (v) : (v) < 52 ? 'a' + (v) - 26 : \
                          (v) < 62 ? '0' + (v) - 52 : (v) == 62 ? '+' : '/'))
#define P1(i) { B64_CH((i) >> 6), B64_CH((i) & 63) },
#define P4(i) P1(i) P1((i) + 1) P1((i) + 2) P1((i) + 3)
#define P16(i) P4(i) P4((i) + 4) P4((i) + 8) P4((i) + 12)
#define P64(i) P16(i) P16((i) + 16) P16((i) + 32) P16((i) + 48)
#define P256(i) P64(i) P64((i) + 64) P64((i) + 128) P64((i) + 192)
#define P1024(i) P256(i) P256((i) + 256) P256((i) + 512) P256((i) + 768)
static const char b64_pairs[4096][2] = {
    P1024(0) P1024(1024) P1024(2048) P1024(3072)
};
#undef P1024
#undef P256
#undef P64
#undef P16
#undef P4
#undef P1
#undef B64_CH

/*
 * The decoding table, constant: the MIME parser runs in every milter
 * thread at once, so nothing here may be built lazily (a table filled on
 * first use was a data race).  An entry is the sextet plus one, so that
 * the zero of every other entry means "not base64".
 */
enum { B64_BAD = 0, B64_WS = 0x81, B64_PAD = 0x82 };
#define S(c, v) [(unsigned char)(c)] = (v) + 1
static const unsigned char b64_table[256] = {
    S('A', 0), S('B', 1), S('C', 2), S('D', 3), S('E', 4), S('F', 5),
    S('G', 6), S('H', 7), S('I', 8), S('J', 9), S('K', 10), S('L', 11),
    S('M', 12), S('N', 13), S('O', 14), S('P', 15), S('Q', 16), S('R', 17),
    S('S', 18), S('T', 19), S('U', 20), S('V', 21), S('W', 22), S('X', 23),
    S('Y', 24), S('Z', 25), S('a', 26), S('b', 27), S('c', 28), S('d', 29),
    S('e', 30), S('f', 31), S('g', 32), S('h', 33), S('i', 34), S('j', 35),
    S('k', 36), S('l', 37), S('m', 38), S('n', 39), S('o', 40), S('p', 41),
    S('q', 42), S('r', 43), S('s', 44), S('t', 45), S('u', 46), S('v', 47),
    S('w', 48), S('x', 49), S('y', 50), S('z', 51), S('0', 52), S('1', 53),
    S('2', 54), S('3', 55), S('4', 56), S('5', 57), S('6', 58), S('7', 59),
    S('8', 60), S('9', 61), S('+', 62), S('/', 63),
    [' '] = B64_WS, ['\t'] = B64_WS, ['\r'] = B64_WS, ['\n'] = B64_WS,
    ['\f'] = B64_WS, ['\v'] = B64_WS,
    ['='] = B64_PAD,
};
#undef S

/*
 * Whole quanta: the four sextets of "abcd" pre-shifted, one table per
 * position, so a quantum is q[0][a] | q[1][b] | q[2][c] | q[3][d]; bit 31
 * is set in the entries of the 64 characters only, so all four have it
 * or the quantum is not four plain sextets.  Constant, like b64_table.
 */
#define B64_ALPHABET(X) \
    X('A', 0) X('B', 1) X('C', 2) X('D', 3) X('E', 4) X('F', 5) \
    X('G', 6) X('H', 7) X('I', 8) X('J', 9) X('K', 10) X('L', 11) \
    X('M', 12) X('N', 13) X('O', 14) X('P', 15) X('Q', 16) X('R', 17) \
    X('S', 18) X('T', 19) X('U', 20) X('V', 21) X('W', 22) X('X', 23) \
    X('Y', 24) X('Z', 25) X('a', 26) X('b', 27) X('c', 28) X('d', 29) \
    X('e', 30) X('f', 31) X('g', 32) X('h', 33) X('i', 34) X('j', 35) \
    X('k', 36) X('l', 37) X('m', 38) X('n', 39) X('o', 40) X('p', 41) \
    X('q', 42) X('r', 43) X('s', 44) X('t', 45) X('u', 46) X('v', 47) \
    X('w', 48) X('x', 49) X('y', 50) X('z', 51) X('0', 52) X('1', 53) \
    X('2', 54) X('3', 55) X('4', 56) X('5', 57) X('6', 58) X('7', 59) \
    X('8', 60) X('9', 61) X('+', 62) X('/', 63)
#define Q(c, v, shift) [(unsigned char)(c)] = 0x80000000u | (uint32_t)(v) << (shift),
#define Q0(c, v) Q(c, v, 18)
#define Q1(c, v) Q(c, v, 12)
#define Q2(c, v) Q(c, v, 6)
#define Q3(c, v) Q(c, v, 0)
static const uint32_t b64_quantum[4][256] = {
    { B64_ALPHABET(Q0) }, { B64_ALPHABET(Q1) }, { B64_ALPHABET(Q2) },
    { B64_ALPHABET(Q3) },
};
#undef Q
#undef Q0
#undef Q1
#undef Q2
#undef Q3
#undef B64_ALPHABET

size_t b64_decode(struct b64_dec *d, const char *src, size_t len,
                  unsigned char *dst, int *bad)
{
    size_t o = 0;
    unsigned bits = d->bits;
    int n = d->n;

    for (size_t i = 0; i < len; i++) {
        /* On a quantum boundary, whole quanta of four sextets at once:
         * the bulk of a base64 body, up to each line end. */
        if (n == 0) {
            while (i + 4 <= len) {
                uint32_t a = b64_quantum[0][(unsigned char)src[i]],
                         b = b64_quantum[1][(unsigned char)src[i + 1]],
                         c = b64_quantum[2][(unsigned char)src[i + 2]],
                         e = b64_quantum[3][(unsigned char)src[i + 3]];
                if (!(a & b & c & e & 0x80000000u))
                    break;
                uint32_t q = a | b | c | e;
                dst[o] = (unsigned char)(q >> 16);
                dst[o + 1] = (unsigned char)(q >> 8);
                dst[o + 2] = (unsigned char)q;
                o += 3;
                i += 4;
            }
            if (i == len)
                break;
        }
        unsigned v = b64_table[(unsigned char)src[i]];
        if (v != B64_BAD && v <= 64) {
            bits = (bits << 6) | (v - 1);
            if (++n == 4) {
                dst[o++] = (unsigned char)(bits >> 16);
                dst[o++] = (unsigned char)(bits >> 8);
                dst[o++] = (unsigned char)bits;
                bits = 0;
                n = 0;
            }
        } else if (v == B64_WS) {
            continue;
        } else if (v == B64_PAD) {
            /* "xx==" or "xxx=": flush the short quantum; a second "="
             * arrives with n == 0 and is ignored. */
            if (n == 2) {
                dst[o++] = (unsigned char)(bits >> 4);
            } else if (n == 3) {
                dst[o++] = (unsigned char)(bits >> 10);
                dst[o++] = (unsigned char)(bits >> 2);
            } else if (n == 1) {
                *bad = 1;
            }
            bits = 0;
            n = 0;
        } else {
            *bad = 1;
        }
    }
    d->bits = bits;
    d->n = n;
    return o;
}

size_t b64_decode_end(struct b64_dec *d, unsigned char *dst, int *bad)
{
    size_t o = 0;

    if (d->n == 1)
        *bad = 1;
    else if (d->n == 2)
        dst[o++] = (unsigned char)(d->bits >> 4);
    else if (d->n == 3) {
        dst[o++] = (unsigned char)(d->bits >> 10);
        dst[o++] = (unsigned char)(d->bits >> 2);
    }
    d->bits = 0;
    d->n = 0;
    return o;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t qp_decode_line(const char *src, size_t len, int eol,
                      unsigned char *dst, int *soft, int *bad)
{
    size_t o = 0;

    *soft = 0;
    if (eol)   /* transport padding: whitespace before the line end */
        while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\t'))
            len--;
    for (size_t i = 0; i < len; i++) {
        const char *q;
        if (src[i] != '=') {
            /* Copy the run up to the next "=" in one go. */
            q = memchr(src + i, '=', len - i);
            size_t run = (q ? (size_t)(q - src) : len) - i;
            memcpy(dst + o, src + i, run);
            o += run;
            i += run - 1;
            continue;
        }
        if (i + 1 == len) {           /* "=" at the end: soft break */
            *soft = 1;
            break;
        }
        if (i + 2 < len && hexval(src[i + 1]) >= 0 &&
            hexval(src[i + 2]) >= 0) {
            dst[o++] = (unsigned char)(hexval(src[i + 1]) * 16 +
                                       hexval(src[i + 2]));
            i += 2;
            continue;
        }
        *bad = 1;                     /* keep the "=" literally */
        dst[o++] = '=';
    }
    return o;
}

/* ---- encoders ---- */

static int out_flush(codec_sink_fn sink, void *arg, char *out, size_t *nout)
{
    if (*nout == 0)
        return 0;
    int r = sink(arg, out, *nout);
    *nout = 0;
    return r;
}

void b64_enc_init(struct b64_enc *e, codec_sink_fn sink, void *arg)
{
    /* not the 8 KB out[]: nout says how much of it is used */
    e->sink = sink;
    e->arg = arg;
    e->nin = e->col = 0;
    e->nout = 0;
}

/* Before up to room - 2 characters go out: flush the buffer unless it
 * has room (a line end and those characters), and end a full line. */
static inline int b64_enc_room(struct b64_enc *e, size_t room)
{
    if (sizeof(e->out) - e->nout < room &&
        out_flush(e->sink, e->arg, e->out, &e->nout) != 0)
        return -1;
    if (e->col == 76) {
        e->out[e->nout++] = '\r';
        e->out[e->nout++] = '\n';
        e->col = 0;
    }
    return 0;
}

static int b64_enc_group(struct b64_enc *e, const unsigned char *in, int n)
{
    char *o;
    unsigned v = (unsigned)in[0] << 16;

    if (b64_enc_room(e, 2 + 4) != 0)
        return -1;
    if (n > 1)
        v |= (unsigned)in[1] << 8;
    if (n > 2)
        v |= in[2];
    o = e->out + e->nout;
    o[0] = b64_alphabet[(v >> 18) & 63];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = n > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
    o[3] = n > 2 ? b64_alphabet[v & 63] : '=';
    e->nout += 4;
    e->col += 4;
    return 0;
}

/* ngroups whole quanta of p, a line (or what is left of the current
 * one) at a time: one room check and one line end per line instead of
 * per quantum.  The same characters as b64_enc_group; this is where a
 * large encrypted message's base64 is made. */
static int b64_enc_groups(struct b64_enc *e, const unsigned char *p,
                          size_t ngroups)
{
    while (ngroups > 0) {
        size_t k;
        char *o;

        if (b64_enc_room(e, 2 + 76) != 0)
            return -1;
        k = (size_t)(76 - e->col) / 4;
        if (k > ngroups)
            k = ngroups;
        o = e->out + e->nout;
        for (size_t g = 0; g < k; g++, p += 3, o += 4) {
            unsigned v = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
            memcpy(o, b64_pairs[v >> 12], 2);
            memcpy(o + 2, b64_pairs[v & 0xfff], 2);
        }
        e->nout += 4 * k;
        e->col += (int)(4 * k);
        ngroups -= k;
    }
    return 0;
}

int b64_enc_update(struct b64_enc *e, const unsigned char *buf, size_t len)
{
    size_t i = 0;

    while (e->nin > 0 && e->nin < 3 && i < len)
        e->in[e->nin++] = buf[i++];
    if (e->nin == 3) {
        if (b64_enc_group(e, e->in, 3) != 0)
            return -1;
        e->nin = 0;
    }
    if (len - i >= 3) {
        if (b64_enc_groups(e, buf + i, (len - i) / 3) != 0)
            return -1;
        i += (len - i) / 3 * 3;
    }
    while (i < len)
        e->in[e->nin++] = buf[i++];
    return 0;
}

int b64_enc_finish(struct b64_enc *e)
{
    if (e->nin > 0 && b64_enc_group(e, e->in, e->nin) != 0)
        return -1;
    e->nin = 0;
    return out_flush(e->sink, e->arg, e->out, &e->nout);
}

/* A sink into a buffer allocated for the whole output and its NUL. */
struct mem_out {
    char *p;
    size_t n, cap;
};

static int mem_sink(void *arg, const char *buf, size_t len)
{
    struct mem_out *m = arg;

    if (len > m->cap - 1 - m->n) {
        errno = ENOBUFS;
        return -1;
    }
    memcpy(m->p + m->n, buf, len);
    m->n += len;
    return 0;
}

char *b64_encode_lines(const void *buf, size_t len, size_t *outlen)
{
    size_t chars = (len + 2) / 3 * 4;
    struct mem_out m = { NULL, 0, chars + (chars / 76 + 1) * 2 + 1 };
    struct b64_enc e;

    if ((m.p = malloc(m.cap)) == NULL)
        return NULL;
    b64_enc_init(&e, mem_sink, &m);
    if (b64_enc_update(&e, buf, len) != 0 || b64_enc_finish(&e) != 0 ||
        mem_sink(&m, "\r\n", 2) != 0) {
        free(m.p);
        return NULL;
    }
    m.p[m.n] = '\0';
    *outlen = m.n;
    return m.p;
}

void qp_enc_init(struct qp_enc *e, codec_sink_fn sink, void *arg)
{
    memset(e, 0, sizeof(*e));
    e->sink = sink;
    e->arg = arg;
}

/* Append one token (a literal character or "=XX"), breaking the line
 * with a soft break first when it would not fit in 76 characters. */
static int qp_put(struct qp_enc *e, const char *tok, int n)
{
    if (e->nout + 8 > sizeof(e->out) &&
        out_flush(e->sink, e->arg, e->out, &e->nout) != 0)
        return -1;
    if (e->col + n > 75) {
        memcpy(e->out + e->nout, "=\r\n", 3);
        e->nout += 3;
        e->col = 0;
        /* A line that the soft break starts must not start with "-":
         * "x...x--b" would put "--b", a delimiter of the enclosing
         * multipart, on a line of its own (RFC 2046 5.1.1).  A hard line
         * is as safe as it was in the input: it was not a delimiter
         * there, and encoding does not make it one. */
        if (n == 1 && tok[0] == '-') {
            tok = "=2D";
            n = 3;
        }
    }
    if (e->col == 0 && n == 1 && tok[0] == 'F') {
        tok = "=46";
        n = 3;
    }
    memcpy(e->out + e->nout, tok, (size_t)n);
    e->nout += (size_t)n;
    e->col += n;
    return 0;
}

static int qp_put_hex(struct qp_enc *e, unsigned char c)
{
    char t[3] = { '=', hexdig[c >> 4], hexdig[c & 15] };
    return qp_put(e, t, 3);
}

/* A pending whitespace character: literal when text follows on the same
 * line, encoded when the line ends after it. */
static int qp_flush_ws(struct qp_enc *e, int line_end)
{
    int r = 0;
    if (e->pend_ws) {
        char c = (char)e->pend_ws;
        r = line_end ? qp_put_hex(e, (unsigned char)c) : qp_put(e, &c, 1);
        e->pend_ws = 0;
    }
    return r;
}

int qp_enc_update(struct qp_enc *e, const unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = buf[i];
        if (e->pend_cr) {
            e->pend_cr = 0;
            if (c == '\n') {
                if (qp_flush_ws(e, 1) != 0)
                    return -1;
                if (e->nout + 2 > sizeof(e->out) &&
                    out_flush(e->sink, e->arg, e->out, &e->nout) != 0)
                    return -1;
                e->out[e->nout++] = '\r';
                e->out[e->nout++] = '\n';
                e->col = 0;
                continue;
            }
            if (qp_flush_ws(e, 0) != 0 || qp_put_hex(e, '\r') != 0)
                return -1;
        }
        if (c == '\r') {
            e->pend_cr = 1;
            continue;
        }
        if (c == ' ' || c == '\t') {
            if (qp_flush_ws(e, 0) != 0)
                return -1;
            e->pend_ws = c;
            continue;
        }
        if (qp_flush_ws(e, 0) != 0)
            return -1;
        if (c >= 33 && c <= 126 && c != '=') {
            char ch = (char)c;
            if (qp_put(e, &ch, 1) != 0)
                return -1;
        } else if (qp_put_hex(e, c) != 0) {
            return -1;
        }
    }
    return 0;
}

int qp_enc_finish(struct qp_enc *e)
{
    if (e->pend_cr) {
        e->pend_cr = 0;
        if (qp_flush_ws(e, 0) != 0 || qp_put_hex(e, '\r') != 0)
            return -1;
    }
    if (qp_flush_ws(e, 1) != 0)
        return -1;
    return out_flush(e->sink, e->arg, e->out, &e->nout);
}
