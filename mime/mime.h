/*
 * mime.h - streaming MIME parser (RFC 2045/2046/2231, RFC 1847, RFC 8551
 * media types).
 *
 * The caller feeds a whole RFC 5322 message (header block, empty line,
 * body) in chunks of any size; LF or CRLF line ends.  The parser never
 * holds more than one line (bounded by the limits) and a small per-entity
 * state stack.  It reports what it finds through callbacks, in message
 * order.  Malformed input never stops it: it sets MIME_ERR_* bits
 * (mime_parser_errors()) and goes on the best it can, the way Postfix's
 * mime_state does.
 *
 * Sections: every entity has an IMAP (RFC 3501) section string.  The
 * top-level entity (the message) is "", the parts of a top-level multipart
 * are "1", "2", ..., nested parts "1.2" and so on.  (As in IMAP, the body
 * of a non-multipart top-level entity is addressed as "1".)
 * message/rfc822 parts are leaves: the parser does not descend into them.
 *
 * S/MIME objects: every multipart/signed entity whose protocol parameter
 * is application/pkcs7-signature or application/x-pkcs7-signature (or
 * missing: PGP/MIME and other protocols are not S/MIME objects), every
 * application/pkcs7-mime or application/x-pkcs7-mime entity (also
 * application/octet-stream whose name or filename ends in ".p7m"), gets an
 * id (0, 1, ... in order of appearance, at most limits.max_smime).
 *   multipart/signed: smime_begin(id, kind=MIME_SMIME_SIGNED), then
 *     signed_data(id, ...) with the exact bytes of its first body part,
 *     headers included, in canonical form (every line end CRLF, the CRLF
 *     before the next delimiter excluded, as RFC 1847 says), then
 *     cms_data(id, ...) with the transfer-decoded bytes of the second part
 *     when its type is application/pkcs7-signature or
 *     application/x-pkcs7-signature, then smime_end(id).
 *   pkcs7-mime: smime_begin(id, kind=MIME_SMIME_PKCS7), cms_data(id, ...)
 *     with the transfer-decoded body, smime_end(id).
 * S/MIME objects may nest (a multipart/signed inside the signed content of
 * another): data callbacks for different ids may then interleave.
 */
#ifndef SMIME_MIME_H
#define SMIME_MIME_H

#include <stddef.h>

typedef struct mime_parser mime_parser_t;
typedef struct mime_entity mime_entity_t;   /* borrowed in callbacks only */

enum mime_cte {
    MIME_CTE_7BIT, MIME_CTE_8BIT, MIME_CTE_BINARY,
    MIME_CTE_QP, MIME_CTE_BASE64, MIME_CTE_OTHER
};

enum mime_smime_kind { MIME_SMIME_SIGNED, MIME_SMIME_PKCS7 };

/* What a line delivered by the line callback is. */
enum mime_line_kind {
    MIME_LINE_HEADER,      /* one logical header, folded lines included */
    MIME_LINE_HEADER_END,  /* the empty line after a header block */
    MIME_LINE_PREAMBLE,    /* multipart preamble line */
    MIME_LINE_BOUNDARY,    /* a delimiter line (--b) */
    MIME_LINE_CLOSE,       /* a close-delimiter line (--b--) */
    MIME_LINE_EPILOGUE,    /* line after the close delimiter */
    MIME_LINE_BODY         /* a line of a leaf body */
};

/* Error bits (accumulated; parsing goes on). */
#define MIME_ERR_NESTING       0x0001u /* deeper than max_depth: leaf */
#define MIME_ERR_HEADER_LONG   0x0002u /* logical header > max_header_len */
#define MIME_ERR_HEADER_COUNT  0x0004u /* more than max_headers in a block */
#define MIME_ERR_BOUNDARY      0x0008u /* boundary missing or empty */
#define MIME_ERR_PARTS         0x0010u /* more than max_parts entities */
#define MIME_ERR_TRUNCATED     0x0020u /* no close delimiter / EOF in headers */
#define MIME_ERR_ENCODING      0x0040u /* bad base64 / quoted-printable */
#define MIME_ERR_LINE_LONG     0x0080u /* a line longer than max_line_len */
#define MIME_ERR_SMIME_COUNT   0x0100u /* more than max_smime objects */
#define MIME_ERR_CMS_SIZE      0x0200u /* decoded CMS > max_cms_size */
#define MIME_ERR_SIGNED_FORM   0x0400u /* multipart/signed without 2 parts */
#define MIME_ERR_HEADER_SYNTAX 0x0800u /* a line in a header block that is
                                          not a header */
#define MIME_ERR_BOUNDARY_LONG 0x1000u /* boundary > max_boundary_len */

/* The bits that mean a limit against hostile input was hit (as opposed
 * to ordinary sloppiness such as a missing close delimiter or a long
 * line): what follows the limit was not parsed as MIME, so a signature
 * could hide there. */
#define MIME_ERR_LIMITS (MIME_ERR_NESTING | MIME_ERR_HEADER_LONG | \
    MIME_ERR_HEADER_COUNT | MIME_ERR_BOUNDARY_LONG | MIME_ERR_PARTS | \
    MIME_ERR_SMIME_COUNT | MIME_ERR_CMS_SIZE)

/* The default of max_smime: S/MIME objects reported per message.  A
 * caller that keeps per-object state in an array sizes it by the
 * max_smime it passes (milter/inbound.c); objects past the limit are not
 * reported but set MIME_ERR_SMIME_COUNT, never dropped silently. */
#define MIME_MAX_SMIME 16

struct mime_limits {
    unsigned max_depth;        /* multipart nesting, default 32 */
    size_t max_header_len;     /* one logical header, default 64 KiB */
    unsigned max_headers;      /* headers per block, default 1000 */
    size_t max_boundary_len;   /* default 200 (RFC 2046 says 70) */
    unsigned max_parts;        /* entities per message, default 10000 */
    size_t max_line_len;       /* longer lines are split, default 64 KiB */
    unsigned max_smime;        /* S/MIME objects per message, default
                                  MIME_MAX_SMIME */
    size_t max_cms_size;       /* decoded CMS per object, default 64 MiB */
};
void mime_limits_default(struct mime_limits *lim);

struct mime_callbacks {
    /* Every line of the message, in order, exactly as fed except that
     * the line end is normalised to CRLF (len includes the CRLF; a last
     * line without line end is delivered without one).  e is the entity
     * the line belongs to (for a BOUNDARY/CLOSE/PREAMBLE/EPILOGUE line:
     * the multipart entity).  Any member may be NULL. */
    void (*line)(void *arg, const mime_entity_t *e, enum mime_line_kind kind,
                 const char *buf, size_t len);
    /* An entity's header block is complete (type, params, cte known). */
    void (*entity_begin)(void *arg, const mime_entity_t *e);
    /* An entity's body ended. */
    void (*entity_end)(void *arg, const mime_entity_t *e);
    /* Transfer-decoded body bytes of a leaf entity. */
    void (*leaf_data)(void *arg, const mime_entity_t *e,
                      const unsigned char *buf, size_t len);

    void (*smime_begin)(void *arg, unsigned id, enum mime_smime_kind kind,
                        const mime_entity_t *e);
    void (*signed_data)(void *arg, unsigned id, const char *buf, size_t len);
    void (*cms_data)(void *arg, unsigned id, const unsigned char *buf,
                     size_t len);
    void (*smime_end)(void *arg, unsigned id);
};

/* lim may be NULL for the defaults; cb is copied. NULL on ENOMEM. */
mime_parser_t *mime_parser_new(const struct mime_limits *lim,
                               const struct mime_callbacks *cb, void *arg);
void mime_parser_free(mime_parser_t *p);        /* accepts NULL */
/* Feed the next chunk (any size, even 1 byte). 0, or -1 on ENOMEM. */
int mime_parser_feed(mime_parser_t *p, const char *buf, size_t len);
/* End of message: flushes the last line and closes open entities. */
int mime_parser_finish(mime_parser_t *p);
unsigned mime_parser_errors(const mime_parser_t *p);  /* MIME_ERR_* bits */
/* A short English description of the first error bit set, or "". */
const char *mime_error_string(unsigned errors);

/* Entity accessors (valid only during the callback that passed e). */
const char *mime_entity_section(const mime_entity_t *e); /* "", "1", "1.2" */
unsigned mime_entity_depth(const mime_entity_t *e);      /* top-level: 0 */
const char *mime_entity_type(const mime_entity_t *e);    /* "text/plain",
                  lower case, default applied (from entity_begin on) */
/* Parameter of Content-Type (RFC 2231 continuations and charsets decoded,
 * quotes removed; names case-insensitive), or NULL. */
const char *mime_entity_param(const mime_entity_t *e, const char *name);
/* The same for Content-Disposition ("filename"), or NULL. */
const char *mime_entity_disposition_param(const mime_entity_t *e,
                                          const char *name);
enum mime_cte mime_entity_cte(const mime_entity_t *e);
int mime_entity_is_multipart(const mime_entity_t *e);
/* Parent entity, NULL for the top level. */
const mime_entity_t *mime_entity_parent(const mime_entity_t *e);

#endif
