/*
 * trust_dn.c - does a difference in the bytes of two distinguished names
 * (DER) decide that GnuTLS finds them different, without GnuTLS's string
 * conversion?
 *
 * GnuTLS 3.7.9 (_gnutls_x509_compare_raw_dn) calls two names equal when
 * their bytes are, and otherwise when their RFC 4514 strings are (so that
 * a PrintableString matches the same UTF8String).  Such a string shows
 * every RDN (separated by ',' and '+', escaped in values), every
 * attribute type (by a name unique to the OID, or the dotted OID) and
 * every value (a decoding that depends on the value's tag only, or
 * "#" and hex).  So the strings must differ when the RDN structure or
 * an attribute type differs, or when all tags agree and some value's
 * bytes differ.  What is left (another string type, another length
 * encoding) is for the strings to decide.  The walk reads the names with
 * der.c, bounded by their lengths.
 */
#include "config.h"

#include <string.h>

#include "der.h"
#include "trust_dn.h"

/* Enters the next element of c if it is a constructed universal tag. */
static int der_into(der_cur_t *c, unsigned long tag, der_cur_t *in)
{
    der_tlv_t t;

    return der_next(c, &t) == 1 && t.cls == DER_UNIVERSAL && t.constructed &&
           t.tag == tag && der_cur_enter(c, &t, in) == 0;
}

/* One AttributeTypeAndValue of each name: -1 unreadable, else *oid_eq
 * and, for the value, *tag_eq and *val_eq. */
static int ava_compare(der_cur_t *a, der_cur_t *b, int *oid_eq, int *tag_eq,
                       int *val_eq)
{
    der_cur_t sa, sb;
    der_tlv_t oa, ob, va, vb;

    if (!der_into(a, DER_TAG_SEQUENCE, &sa) || !der_into(b, DER_TAG_SEQUENCE, &sb) ||
        der_expect(&sa, DER_UNIVERSAL, DER_TAG_OID, &oa) < 0 ||
        der_expect(&sb, DER_UNIVERSAL, DER_TAG_OID, &ob) < 0 ||
        der_next(&sa, &va) != 1 || der_next(&sb, &vb) != 1 ||
        va.constructed || vb.constructed)
        return -1;
    *oid_eq = oa.vlen == ob.vlen && memcmp(oa.val, ob.val, oa.vlen) == 0;
    *tag_eq = va.cls == vb.cls && va.tag == vb.tag;
    *val_eq = va.vlen == vb.vlen && memcmp(va.val, vb.val, va.vlen) == 0;
    return 0;
}

int trust_dn_differ(const gnutls_datum_t *x, const gnutls_datum_t *y)
{
    der_cur_t ca, cb, ra, rb, sa, sb;
    int tags_eq = 1, vals_eq = 1;

    der_cur_init(&ca, x->data, x->size);
    der_cur_init(&cb, y->data, y->size);
    if (!der_into(&ca, DER_TAG_SEQUENCE, &ra) || !der_into(&cb, DER_TAG_SEQUENCE, &rb))
        return 0;
    for (;;) {
        int ea = der_cur_empty(&ra), eb = der_cur_empty(&rb);
        if (ea || eb)
            return ea != eb || (tags_eq && !vals_eq);
        if (!der_into(&ra, DER_TAG_SET, &sa) || !der_into(&rb, DER_TAG_SET, &sb))
            return 0;
        for (;;) {
            int oid_eq, tag_eq, val_eq;
            ea = der_cur_empty(&sa);
            eb = der_cur_empty(&sb);
            if (ea || eb) {
                if (ea != eb)
                    return 1;
                break;
            }
            if (ava_compare(&sa, &sb, &oid_eq, &tag_eq, &val_eq) < 0)
                return 0;
            if (!oid_eq)
                return 1;
            tags_eq &= tag_eq;
            vals_eq &= val_eq;
        }
    }
}
