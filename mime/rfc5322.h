/*
 * rfc5322.h - small RFC 5322 header-value helpers: comment/whitespace
 * skipping and address-list parsing (From, Sender).
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

#endif
