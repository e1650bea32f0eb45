/*
 * cms_attrs.c - the signed attributes harvesting reads (RFC 8551 2.5):
 * signingTime (RFC 5652 11.3) as a time, and SMIMEEncryptionKeyPreference
 * (RFC 8551 2.5.3) as a certificate identifier.  Over der.h, bounded by
 * the value given; no cryptography.
 */
#include "config.h"

#include <string.h>

#include "cms.h"

#define DER_TAG_UTCTIME  23
#define DER_TAG_GENTIME  24

/* n decimal digits at p, or -1. */
static int digits(const uint8_t *p, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t)doe - 719468;
}

int cms_time_parse(cms_blob_t t, int64_t *out)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30,
                                     31, 30, 31};
    der_cur_t c;
    der_tlv_t v;
    int y, f[5];

    der_cur_init(&c, t.p, t.n);
    if (der_next(&c, &v) != 1 || !der_cur_empty(&c) || v.constructed ||
        v.cls != DER_UNIVERSAL)
        return -1;
    /* DER forms only: YYMMDDHHMMSSZ and YYYYMMDDHHMMSSZ */
    if (v.tag == DER_TAG_UTCTIME && v.vlen == 13) {
        if ((y = digits(v.val, 2)) < 0)
            return -1;
        y += y < 50 ? 2000 : 1900;
    } else if (v.tag == DER_TAG_GENTIME && v.vlen == 15) {
        if ((y = digits(v.val, 4)) < 0)
            return -1;
    } else {
        return -1;
    }
    const uint8_t *p = v.val + v.vlen - 11;
    if (p[10] != 'Z')
        return -1;
    for (int i = 0; i < 5; i++)
        if ((f[i] = digits(p + 2 * i, 2)) < 0)
            return -1;
    if (f[0] < 1 || f[0] > 12 || f[1] < 1 || f[1] > (int)mdays[f[0] - 1] ||
        f[2] > 23 || f[3] > 59 || f[4] > 59)
        return -1;
    int64_t days = days_from_civil(y, (unsigned)f[0], (unsigned)f[1]);
    *out = days * 86400 + f[2] * 3600 + f[3] * 60 + f[4];
    return 0;
}

int cms_keypref_parse(cms_blob_t b, cms_keypref_t *out)
{
    der_cur_t c, in;
    der_tlv_t v, t, name, serial;

    memset(out, 0, sizeof *out);
    der_cur_init(&c, b.p, b.n);
    if (der_next(&c, &v) != 1 || !der_cur_empty(&c) || v.cls != DER_CONTEXT)
        return -1;
    switch (v.tag) {
    case 0:     /* issuerAndSerialNumber [0] IMPLICIT SEQUENCE */
        if (!v.constructed || der_cur_enter(&c, &v, &in) < 0 ||
            der_expect(&in, DER_UNIVERSAL, DER_TAG_SEQUENCE, &name) < 0 ||
            der_expect(&in, DER_UNIVERSAL, DER_TAG_INTEGER, &serial) < 0 ||
            serial.constructed || !der_cur_empty(&in))
            return -1;
        out->issuer = (cms_blob_t){ name.start, name.total };
        out->serial = (cms_blob_t){ serial.val, serial.vlen };
        return 0;
    case 1:     /* recipientKeyId [1] IMPLICIT RecipientKeyIdentifier */
        if (!v.constructed || der_cur_enter(&c, &v, &in) < 0 ||
            der_expect(&in, DER_UNIVERSAL, DER_TAG_OCTETS, &t) < 0 ||
            t.constructed)
            return -1;
        break;   /* date and other: not needed to find the certificate */
    case 2:     /* subjectAltKeyIdentifier [2] IMPLICIT OCTET STRING */
        if (v.constructed)
            return -1;
        t = v;
        break;
    default:
        return -1;
    }
    if (t.vlen == 0)
        return -1;
    out->is_ski = 1;
    out->ski = (cms_blob_t){ t.val, t.vlen };
    return 0;
}
