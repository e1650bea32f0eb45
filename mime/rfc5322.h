/*
 * rfc5322.h - small RFC 5322 helpers: comment/whitespace skipping,
 * address-list parsing (From, Sender), and the header line itself (what
 * starts one, writing one back).
 */
#ifndef SMIME_RFC5322_H
#define SMIME_RFC5322_H

#include <stddef.h>

/* Skip CFWS (whitespace, folding, nested comments) from p; returns the
 * first character after it. */
const char *rfc5322_skip_cfws(const char *p);

/* Parse an address-list (display names, comments, quoted local parts,
 * groups, obsolete route syntax) and store up to max addr-specs as
 * malloc'd "local@domain" strings in out.  Returns how many were found
 * (may exceed max; only max are stored). Free with rfc5322_addrs_free. */
size_t rfc5322_addrs(const char *value, char **out, size_t max);
void rfc5322_addrs_free(char **addrs, size_t n);

/* Address equality for S/MIME: local part exact (case-insensitive too, as
 * RFC 8550 and real clients expect), domain case-insensitive. 1 if equal. */
int rfc5322_addr_equal(const char *a, const char *b);

/* 1 if line (len bytes, no NUL needed) starts a header field: a name of
 * printable characters other than ":", optional WSP (obsolete syntax),
 * then ":". */
int rfc5322_is_header_start(const char *line, size_t len);

/* Write the header "name: value" CRLF through out, turning the "\n" (or
 * "\r\n") that joins folded lines of value into CRLF: the header as it
 * was on the wire, from the name and value an MTA hands a milter.
 * 0, or the first non-zero return of out. */
int rfc5322_header_write(const char *name, const char *value,
                         int (*out)(void *arg, const char *buf, size_t len),
                         void *arg);

#endif
