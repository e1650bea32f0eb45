/*
 * trust_dn.h - a quick test on two distinguished names (DER) for the
 * trust store (trust.c), to spare GnuTLS's string comparison.
 */
#ifndef SMIME_TRUST_DN_H
#define SMIME_TRUST_DN_H

#include <gnutls/gnutls.h>

/* 1 when two DER Names that differ as bytes certainly differ as GnuTLS
 * compares them (3.7.9: bytes, then the RFC 4514 strings, which show
 * every RDN, every attribute type and every value): another structure,
 * another attribute type, or the same types and value tags with some
 * value's contents different.  0 when only the strings can tell (a
 * value in another string type, another length encoding, a name that
 * does not parse). */
int trust_dn_differ(const gnutls_datum_t *x, const gnutls_datum_t *y);

#endif
