/*
 * canon.h - turn a MIME entity into a 7-bit canonical entity that is safe
 * to sign (RFC 8551 3.1) and to relay.
 *
 * Input, fed in chunks of any size: the content header block (the
 * message's Content-Type, Content-Transfer-Encoding and other Content-*
 * headers as "Name: value\r\n" lines, LF also accepted), an empty line,
 * then the body.  Output, through out(): the same entity with
 *   - every line end CRLF;
 *   - every leaf part 7-bit: a part that has 8-bit octets, NULs or bare
 *     CRs, lines over 998 octets, whitespace at the end of a line, or
 *     a line starting with "From " is re-encoded (text/... and message/...
 *     other than rfc822 to quoted-printable, anything else to base64) and
 *     its Content-Transfer-Encoding header rewritten; an embedded
 *     message/rfc822 is canonicalised recursively instead (RFC 2046 allows
 *     no encoding for it); a part declared 8bit/binary whose octets are
 *     7-bit is relabelled 7bit; anything already safe passes unchanged;
 *   - multipart structure and boundaries kept (transport padding after a
 *     delimiter dropped; a missing close delimiter added, except inside
 *     an embedded message when that line would also be a delimiter of an
 *     enclosing multipart; preamble and epilogue made 7-bit);
 *   - a header longer than max_header_len (the parser does not interpret
 *     it) dropped, in every header block;
 *   - the first header block emitted with exactly the headers given, plus
 *     "Content-Type: text/plain; charset=us-ascii" when there is no
 *     Content-Type (charset=unknown-8bit, RFC 1428, when the text had
 *     8-bit octets: its charset is not known);
 * The output parses again with no MIME_ERR_* bit when the input did not
 * hit a limit.  Each leaf part goes through a spool (threshold, directory)
 * so that memory stays bounded.  The output does not end with the CRLF
 * that will precede the next delimiter: the signer adds "\r\n--boundary".
 */
#ifndef SMIME_CANON_H
#define SMIME_CANON_H

#include <stddef.h>

#include "mime.h"

typedef struct mime_canon mime_canon_t;

/* Output sink: 0, or -1 with errno set (the error is passed back from
 * mime_canon_feed()/mime_canon_finish()). */
typedef int (*mime_out_fn)(void *arg, const char *buf, size_t len);

/* lim may be NULL for the defaults; spool_dir is copied (NULL:
 * SPOOL_DEFAULT_DIR of spool.h).  NULL on ENOMEM. */
mime_canon_t *mime_canon_new(const struct mime_limits *lim,
                             size_t spool_threshold, const char *spool_dir,
                             mime_out_fn out, void *arg);
/* 0, or -1 with errno (ENOMEM, spool I/O errors, out() errors). */
int mime_canon_feed(mime_canon_t *c, const char *buf, size_t len);
/* End of input: flush everything. 0, or -1 with errno. */
int mime_canon_finish(mime_canon_t *c);
/* MIME_ERR_* bits the parser saw in the input (valid after finish). */
unsigned mime_canon_errors(const mime_canon_t *c);
void mime_canon_free(mime_canon_t *c);            /* accepts NULL */

#endif
