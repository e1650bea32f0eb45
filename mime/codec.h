/*
 * codec.h - streaming content-transfer-encoding codecs (RFC 2045):
 * base64 and quoted-printable, decoding and encoding.  Used by mime/
 * (parser, canonicaliser) and by the signer in milter/outbound.c for the
 * smime.p7s part: one base64 encoder for the whole program.
 *
 * Decoders never fail: bad input sets *bad and is skipped (base64) or
 * passed through literally (quoted-printable).  Encoders produce 7-bit
 * lines of at most 76 characters plus CRLF.
 */
#ifndef SMIME_CODEC_H
#define SMIME_CODEC_H

#include <stddef.h>

/* ---- base64 decoding ---- */
struct b64_dec {
    unsigned bits;   /* accumulated sextets */
    int n;           /* sextets in bits (0..3) */
};
/* Decode len characters (whitespace ignored); dst needs len*3/4+3 bytes.
 * Returns the number of bytes written. */
size_t b64_decode(struct b64_dec *d, const char *src, size_t len,
                  unsigned char *dst, int *bad);
/* End of data: the bytes of an unpadded last quantum (at most 2). */
size_t b64_decode_end(struct b64_dec *d, unsigned char *dst, int *bad);

/* ---- quoted-printable decoding ---- */
/* Decode one line (without its line end); trailing whitespace is dropped
 * when eol is set.  *soft is set to 1 when the line ends in a soft line
 * break.  dst needs len bytes.  Returns the number of bytes written. */
size_t qp_decode_line(const char *src, size_t len, int eol,
                      unsigned char *dst, int *soft, int *bad);

/* ---- encoders: output through a sink ---- */
typedef int (*codec_sink_fn)(void *arg, const char *buf, size_t len);

struct b64_enc {
    codec_sink_fn sink;
    void *arg;
    unsigned char in[3];
    int nin;
    int col;          /* characters on the current output line */
    char out[8192];   /* flushed to the sink in pieces this large */
    size_t nout;
};
void b64_enc_init(struct b64_enc *e, codec_sink_fn sink, void *arg);
int b64_enc_update(struct b64_enc *e, const unsigned char *buf, size_t len);
/* Pads the last quantum; does not add a final line end. */
int b64_enc_finish(struct b64_enc *e);
/* All of buf at once: base64 in CRLF lines of 76 characters, the last
 * line ended by CRLF too, NUL-terminated; *outlen excludes the NUL.
 * malloc'd; NULL on ENOMEM. */
char *b64_encode_lines(const void *buf, size_t len, size_t *outlen);

/* Quoted-printable for text: CRLF in the input is a hard line break, a
 * lone CR or LF is encoded (=0D, =0A), so decoding gives the same octets.
 * Whitespace before a line end is encoded, and so is an "F" at the start
 * of an encoded line (so no line starts with "From "). */
struct qp_enc {
    codec_sink_fn sink;
    void *arg;
    int col;          /* characters on the current output line */
    int pend_cr;      /* a CR waits to see whether LF follows */
    int pend_ws;      /* a SP or HT waits (0 when none) */
    char out[512];
    size_t nout;
};
void qp_enc_init(struct qp_enc *e, codec_sink_fn sink, void *arg);
int qp_enc_update(struct qp_enc *e, const unsigned char *buf, size_t len);
/* Flushes what waits; does not add a final line end. */
int qp_enc_finish(struct qp_enc *e);

#endif
