/*
 * arheader.h - the Authentication-Results header (RFC 8601) with the
 * smime method (RFC 7281): building our value, and reading the
 * authserv-id of an existing one to decide whether it claims to be ours.
 */
#ifndef SMIME_ARHEADER_H
#define SMIME_ARHEADER_H

#include <stddef.h>
#include "result.h"

/* One resinfo. Empty or NULL strings are left out of the header. */
struct ar_result {
    smime_result_t result;
    const char *reason;       /* the comment after the result */
    const char *identifier;   /* body.smime-identifier (addr-spec) */
    const char *part;         /* body.smime-part (IMAP section) */
    const char *serial;       /* body.smime-serial (hex) */
    const char *issuer;       /* body.smime-issuer (DN) */
};

/*
 * The header value (no "Authentication-Results:" and no leading space),
 * folded with "\n\t" as SPEC.md shows:
 *   ID;\n\tsmime=pass (reason) body.smime-identifier=A\n\t
 *   body.smime-part=1 body.smime-serial=S body.smime-issuer="I"
 * resinfos separated by ";".  n == 0 gives "ID; none" (RFC 8601 no-result).
 * malloc'd; NULL on ENOMEM.
 */
char *arheader_build(const char *authserv_id, const struct ar_result *r,
                     size_t n);

/* The authserv-id of an existing header value (after CFWS; token or
 * quoted-string; a version or the rest after it is ignored), unquoted,
 * into out.  0, or -1 when there is none or it does not fit. */
int arheader_authserv_id(const char *value, char *out, size_t outlen);

/* 1 when id is usable as our authserv-id: a bare domain name (letters,
 * digits and hyphens in dot-separated labels of at most 63 characters,
 * none starting or ending with a hyphen; at most 253 in all; no trailing
 * dot), so that it is written as an RFC 2045 token and every reader
 * compares it the same way. */
int arheader_id_valid(const char *id);

/* 1 when two authserv-ids name the same host: domain names compared
 * ignoring case and one trailing dot (the absolute form). */
int arheader_id_equal(const char *a, const char *b);

/* 1 when the authserv-id of an existing header value (comments and
 * folding around it, token or quoted-string, any case, any version
 * after it) names id, as RFC 8601 section 5 compares them. */
int arheader_is_ours(const char *value, const char *id);

#endif
