/*
 * keystore_entry.c - one keystore entry: the record of an address (format
 * in keystore.h) parsed into its logins and credentials, and the
 * questions the milter asks of it: may this login sign, which
 * credential signs now, which ones decrypt.
 *
 * Everything that does not depend on the time is checked once, when the
 * record is parsed (entries are cached): choosing the signer for a
 * message costs a few time comparisons.  The private keys are imported
 * by GnuTLS straight from the read-only mapping of the file; no copy of
 * them is made here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cert.h"
#include "errbuf.h"
#include "keystore.h"
#include "keystore_priv.h"
#include "trust_dn.h"

static void
cred_clear(struct ks_cred *c)
{
    smime_signer_free(c->signer);
    gnutls_free(c->issuer.data);
    memset(c, 0, sizeof(*c));
}

void
keystore_entry_free(keystore_entry_t *e)
{
    if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    for (size_t i = 0; i < e->nlogins; i++)
        free(e->logins[i]);
    free(e->logins);
    for (size_t i = 0; i < e->ncreds; i++)
        cred_clear(&e->creds[i]);
    free(e->creds);
    free(e->address);
    free(e);
}

const char *
keystore_entry_address(const keystore_entry_t *e)
{
    return e->address;
}

size_t
keystore_entry_nlogins(const keystore_entry_t *e)
{
    return e->nlogins;
}

const char *
keystore_entry_login(const keystore_entry_t *e, size_t i)
{
    return i < e->nlogins ? e->logins[i] : NULL;
}

size_t
keystore_entry_ncreds(const keystore_entry_t *e)
{
    return e->ncreds;
}

const smime_signer_t *
keystore_entry_cred(const keystore_entry_t *e, size_t i)
{
    return i < e->ncreds ? e->creds[i].signer : NULL;
}

unsigned
keystore_entry_cred_purpose(const keystore_entry_t *e, size_t i)
{
    return i < e->ncreds ? e->creds[i].purpose : 0;
}

int
keystore_may_sign(const keystore_entry_t *e, const char *login)
{
    size_t listed = 0;

    for (size_t i = 0; i < e->nlogins; i++) {
        int internal = strcmp(e->logins[i], KEYSTORE_INTERNAL) == 0;
        if (login == NULL || *login == '\0') {
            if (internal)
                return 1;
        } else if (!internal) {
            listed++;
            if (strcmp(login, e->logins[i]) == 0)
                return 1;
        }
    }
    if (login == NULL || *login == '\0')
        return 0;
    return listed == 0 && strcasecmp(login, e->address) == 0;
}

/* ---- signing ---- */

static int
signs_at(const struct ks_cred *c, time_t now)
{
    return (c->purpose & KEYSTORE_SIGN) && c->sign_ok && c->nb <= now &&
           now <= c->na;
}

const smime_signer_t *
keystore_entry_signer_at(const keystore_entry_t *e, time_t now)
{
    for (size_t i = 0; i < e->ncreds; i++)      /* newest first */
        if (signs_at(&e->creds[i], now))
            return e->creds[i].signer;
    return NULL;
}

const smime_signer_t *
keystore_entry_signer(const keystore_entry_t *e)
{
    return keystore_entry_signer_at(e, time(NULL));
}

/* ---- decryption ---- */

static int
decrypts(const struct ks_cred *c)
{
    return (c->purpose & KEYSTORE_DECRYPT) && c->decrypt_ok;
}

size_t
keystore_entry_ndecrypt(const keystore_entry_t *e)
{
    size_t n = 0;

    for (size_t i = 0; i < e->ncreds; i++)
        n += decrypts(&e->creds[i]) != 0;
    return n;
}

const smime_signer_t *
keystore_entry_decrypt_cred(const keystore_entry_t *e, size_t i)
{
    for (size_t k = 0; k < e->ncreds; k++)
        if (decrypts(&e->creds[k]) && i-- == 0)
            return e->creds[k].signer;
    return NULL;
}

/* Big-endian INTEGER contents without leading zero bytes (a serial's
 * DER may carry one for the sign; an encoder may write more). */
static void
strip_zeros(const unsigned char **p, size_t *n)
{
    while (*n > 1 && (*p)[0] == 0) {
        (*p)++;
        (*n)--;
    }
}

/* The same DER Name: the same bytes, or (another string type or length
 * encoding) the same RFC 4514 string, as GnuTLS compares names. */
static int
same_name(const gnutls_datum_t *a, const gnutls_datum_t *b)
{
    gnutls_datum_t sa = { NULL, 0 }, sb = { NULL, 0 };
    int same;

    if (a->size == b->size && memcmp(a->data, b->data, a->size) == 0)
        return 1;
    if (trust_dn_differ(a, b))
        return 0;
    same = gnutls_x509_rdn_get2(a, &sa, 0) >= 0 &&
           gnutls_x509_rdn_get2(b, &sb, 0) >= 0 && sa.size == sb.size &&
           memcmp(sa.data, sb.data, sa.size) == 0;
    gnutls_free(sa.data);
    gnutls_free(sb.data);
    return same;
}

const smime_signer_t *
keystore_entry_find_decrypt(const keystore_entry_t *e,
                            const gnutls_datum_t *issuer,
                            const gnutls_datum_t *serial,
                            const gnutls_datum_t *ski)
{
    const unsigned char *sp = serial ? serial->data : NULL;
    size_t sn = serial ? serial->size : 0;

    if (sn)
        strip_zeros(&sp, &sn);
    for (size_t i = 0; i < e->ncreds; i++) {
        const struct ks_cred *c = &e->creds[i];
        if (!decrypts(c))
            continue;
        if (ski && ski->size) {
            if (c->ski_len == ski->size &&
                memcmp(c->ski, ski->data, c->ski_len) == 0)
                return c->signer;
        } else if (issuer && issuer->size && sn && c->serial_len == sn &&
                   memcmp(c->serial, sp, sn) == 0 &&
                   same_name(&c->issuer, issuer)) {
            return c->signer;
        }
    }
    return NULL;
}

/* ---- parsing ---- */

static int
add_login(keystore_entry_t *e, const unsigned char *p, size_t n)
{
    char **l = realloc(e->logins, (e->nlogins + 1) * sizeof(*l));

    if (l == NULL)
        return -1;
    e->logins = l;
    if ((l[e->nlogins] = strndup((const char *)p, n)) == NULL)
        return -1;
    e->nlogins++;
    return 0;
}

/* The time-independent checks of a credential, and the fields a
 * RecipientInfo names it by. */
static int
cred_vet(struct ks_cred *c, const char *address)
{
    gnutls_x509_crt_t crt = smime_signer_cert(c->signer, 0);
    unsigned char buf[64];
    size_t n = sizeof(buf);
    int has = smime_cert_has_address(crt, address);

    c->nb = gnutls_x509_crt_get_activation_time(crt);
    c->na = gnutls_x509_crt_get_expiration_time(crt);
    c->sign_ok = has && c->nb != (time_t)-1 && c->na != (time_t)-1 &&
                 smime_cert_check_usage(crt) == SMIME_CERT_OK &&
                 smime_cert_check_key(crt, 2048) == SMIME_CERT_OK;
    c->decrypt_ok = has && smime_cert_can_decrypt(crt);
    if (gnutls_x509_crt_get_serial(crt, buf, &n) == 0 && n > 0) {
        const unsigned char *p = buf;
        strip_zeros(&p, &n);
        memcpy(c->serial, p, n);
        c->serial_len = n;
    }
    n = sizeof(c->ski);
    if (gnutls_x509_crt_get_subject_key_id(crt, c->ski, &n, NULL) == 0)
        c->ski_len = n;
    return gnutls_x509_crt_get_raw_issuer_dn(crt, &c->issuer) < 0 ? -1 : 0;
}

/* Newest first: a later notBefore sorts first (stable, a few items). */
static void
creds_sort(struct ks_cred *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct ks_cred t = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1].nb < t.nb) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

/* Make creds[ncreds] from what was read.  0, or -1 with a message. */
static int
cred_finish(keystore_entry_t *e, const struct ks_cred_in *in, char *err,
            size_t errlen)
{
    char why[200];

    if (in->key == NULL || in->ncerts == 0) {
        smime_seterr(err, errlen, "entry %s is damaged: rebuild the "
                     "keystore", e->address);
        return -1;
    }
    struct ks_cred *c = &e->creds[e->ncreds];
    memset(c, 0, sizeof(*c));
    c->purpose = in->purpose;
    if (in->is_url) {
        char url[KS_MAX_URI + 1];
        memcpy(url, in->key, in->keylen);
        url[in->keylen] = '\0';
        c->signer = smime_signer_from_token(url, in->certs, in->ncerts, why,
                                            sizeof(why));
    } else {
        c->signer = smime_signer_from_der(in->key, in->keylen, in->certs,
                                          in->ncerts, why, sizeof(why));
    }
    if (c->signer == NULL) {
        smime_seterr(err, errlen, "entry %s: %s", e->address, why);
        return -1;
    }
    e->ncreds++;
    if (cred_vet(c, e->address) < 0) {
        smime_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The next field of a record at *pos: 1 (type, data), 0 at the end,
 * -1 when the framing is broken. */
static int
field_next(const unsigned char *v, size_t vlen, size_t *pos, unsigned *type,
           const unsigned char **d, size_t *n)
{
    if (*pos >= vlen)
        return 0;
    if (vlen - *pos < 5)
        return -1;
    *type = v[*pos];
    *n = (size_t)v[*pos + 1] << 24 | (size_t)v[*pos + 2] << 16 |
         (size_t)v[*pos + 3] << 8 | v[*pos + 4];
    *d = v + *pos + 5;
    *pos += 5;
    if (*n > vlen - *pos)
        return -1;
    *pos += *n;
    return 1;
}

int
ks_record_check(const unsigned char *v, size_t vlen)
{
    const unsigned char *d;
    size_t pos = 1, n, ncreds = 0, ncerts = 0;
    unsigned type;
    int r, open_cred, haskey = 0;

    if (v == NULL)        /* tinycdb: the record runs past the file end */
        return -1;
    if (vlen < 1 || v[0] < 1 || v[0] > KEYSTORE_VERSION)
        return -2;
    open_cred = v[0] == 1;            /* one credential, for signing */
    while ((r = field_next(v, vlen, &pos, &type, &d, &n)) > 0) {
        if (type == KS_FIELD_LOGIN) {         /* the address's, anywhere */
            if (n == 0 || memchr(d, '\0', n))
                return -1;
        } else if (type == KS_FIELD_PURPOSE && v[0] >= 2) {
            if ((open_cred && (!haskey || ncerts == 0)) || n != 1 ||
                d[0] == 0 || (d[0] & ~(KEYSTORE_SIGN | KEYSTORE_DECRYPT)) ||
                ncreds == KS_MAX_CREDS)
                return -1;
            ncreds++;
            open_cred = 1;
            haskey = 0;
            ncerts = 0;
        } else if (type == KS_FIELD_KEY && open_cred && !haskey) {
            haskey = 1;
        } else if (type == KS_FIELD_URI && v[0] >= 2 && open_cred &&
                   !haskey && n > 7 && n <= KS_MAX_URI &&
                   memchr(d, '\0', n) == NULL) {
            haskey = 1;
        } else if (type == KS_FIELD_CERT && open_cred &&
                   ncerts < KS_MAX_CERTS) {
            ncerts++;
        } else {
            return -1;
        }
    }
    return r < 0 || !open_cred || !haskey || ncerts == 0 ? -1 : 0;
}

int
ks_record_walk(const unsigned char *v, size_t vlen,
               int (*login_fn)(void *arg, const unsigned char *p, size_t n),
               int (*cred_fn)(void *arg, const struct ks_cred_in *in),
               void *arg)
{
    const unsigned char *d;
    struct ks_cred_in in;
    size_t pos = 1, n;
    unsigned type;
    int r;

    memset(&in, 0, sizeof(in));
    if (v[0] == 1)
        in.purpose = KEYSTORE_SIGN;
    while (field_next(v, vlen, &pos, &type, &d, &n) > 0) {
        if (type == KS_FIELD_LOGIN) {
            if (login_fn && (r = login_fn(arg, d, n)) != 0)
                return r;
        } else if (type == KS_FIELD_PURPOSE) {
            if (in.purpose != 0 && (r = cred_fn(arg, &in)) != 0)
                return r;
            memset(&in, 0, sizeof(in));
            in.purpose = d[0];
        } else if (type == KS_FIELD_KEY || type == KS_FIELD_URI) {
            in.key = d;
            in.keylen = n;
            in.is_url = type == KS_FIELD_URI;
        } else {
            in.certs[in.ncerts].data = (unsigned char *)d;
            in.certs[in.ncerts++].size = (unsigned)n;
        }
    }
    return cred_fn(arg, &in);
}

/* ks_entry_parse()'s state for ks_record_walk(): 1 out of memory, 2 an
 * error in err. */
struct parse_state {
    keystore_entry_t *e;
    char *err;
    size_t errlen;
};

static int
parse_login(void *arg, const unsigned char *p, size_t n)
{
    return add_login(((struct parse_state *)arg)->e, p, n) < 0 ? 1 : 0;
}

static int
parse_cred(void *arg, const struct ks_cred_in *in)
{
    struct parse_state *ps = arg;

    return cred_finish(ps->e, in, ps->err, ps->errlen) < 0 ? 2 : 0;
}

keystore_entry_t *
ks_entry_parse(const char *address, const unsigned char *v, size_t vlen,
               char *err, size_t errlen)
{
    keystore_entry_t *e = calloc(1, sizeof(*e));
    struct parse_state ps = {e, err, errlen};
    int rc;

    if (e == NULL || (e->address = strdup(address)) == NULL ||
        (e->creds = calloc(KS_MAX_CREDS, sizeof(*e->creds))) == NULL)
        goto nomem;
    atomic_init(&e->refs, 1);
    if ((rc = ks_record_check(v, vlen)) == -2) {
        smime_seterr(err, errlen, "entry %s has record version %u, this "
                     "program reads 1 to %u: rebuild with smime-keystore "
                     "build", address, vlen ? v[0] : 0u, KEYSTORE_VERSION);
        goto fail;
    }
    if (rc < 0) {
        smime_seterr(err, errlen, "entry %s is damaged: rebuild the "
                     "keystore", address);
        goto fail;
    }
    rc = ks_record_walk(v, vlen, parse_login, parse_cred, &ps);
    if (rc == 1)
        goto nomem;
    if (rc != 0)
        goto fail;
    creds_sort(e->creds, e->ncreds);
    return e;
nomem:
    smime_seterr(err, errlen, "out of memory");
fail:
    keystore_entry_free(e);
    return NULL;
}

/* ---- the checks smime-keystore and the milter report ---- */

/* One problem of keystore_check(), with the detail an operator needs. */
static void
check_detail(gnutls_x509_crt_t crt, enum smime_cert_status st, char *buf,
             size_t len)
{
    char day[32] = "?";
    time_t t = (time_t)-1;
    struct tm tm;
    unsigned bits = 0;

    if (st == SMIME_CERT_EXPIRED)
        t = gnutls_x509_crt_get_expiration_time(crt);
    else if (st == SMIME_CERT_NOT_YET_VALID)
        t = gnutls_x509_crt_get_activation_time(crt);
    if (t != (time_t)-1 && gmtime_r(&t, &tm))
        strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S UTC", &tm);
    switch (st) {
    case SMIME_CERT_EXPIRED:
        snprintf(buf, len, "expired certificate (valid until %s)", day);
        break;
    case SMIME_CERT_NOT_YET_VALID:
        snprintf(buf, len, "certificate not yet valid (valid from %s)", day);
        break;
    case SMIME_CERT_KEY_USAGE:
        snprintf(buf, len, "wrong key usage (keyUsage lacks "
                 "digitalSignature and nonRepudiation)");
        break;
    case SMIME_CERT_EKU:
        snprintf(buf, len, "no emailProtection (extendedKeyUsage does not "
                 "allow S/MIME)");
        break;
    case SMIME_CERT_WEAK_KEY:
        gnutls_x509_crt_get_pk_algorithm(crt, &bits);
        snprintf(buf, len, "weak key (RSA %u bits, at least 2048 needed)",
                 bits);
        break;
    default:
        snprintf(buf, len, "%s", smime_cert_status_string(st));
    }
}

/* 1 and a message when address is not in the certificate. */
static int
address_problem(gnutls_x509_crt_t crt, const char *address, char *buf,
                size_t len)
{
    char *addrs[1];

    if (smime_cert_has_address(crt, address))
        return 0;
    size_t na = smime_cert_addresses(crt, addrs, 1);
    snprintf(buf, len, "%s is not in the certificate (%s%s)", address,
             na ? "it has " : "it has no address", na ? addrs[0] : "");
    smime_cert_addresses_free(addrs, na);
    return 1;
}

int
keystore_check_decrypt(const smime_signer_t *cred, const char *address,
                       char *err, size_t errlen)
{
    gnutls_x509_crt_t crt = smime_signer_cert(cred, 0);
    enum smime_cert_status st = smime_cert_check_encrypt_usage(crt);
    char one[300];
    size_t used = 0;
    int n = 0;

    if (err && errlen)
        err[0] = '\0';
    if (st != SMIME_CERT_OK) {
        if (st == SMIME_CERT_KEY_USAGE)
            snprintf(one, sizeof(one), "wrong key usage for decryption "
                     "(keyUsage lacks %s)",
                     gnutls_x509_crt_get_pk_algorithm(crt, NULL) ==
                     GNUTLS_PK_RSA ? "keyEncipherment" : "keyAgreement");
        else
            check_detail(crt, st, one, sizeof(one));
        used = (size_t)snprintf(err, errlen, "%s", one);
        n++;
    }
    if (address_problem(crt, address, one, sizeof(one))) {
        if (err && used < errlen)
            snprintf(err + used, errlen - used, "%s%s", n ? "; " : "", one);
        n++;
    }
    return n;
}

int
keystore_check(const smime_signer_t *signer, const char *address, time_t now,
               char *err, size_t errlen)
{
    gnutls_x509_crt_t crt = smime_signer_cert(signer, 0);
    enum smime_cert_status st[3];
    char one[300];
    int n = 0;
    size_t used = 0;

    if (err && errlen)
        err[0] = '\0';
    st[0] = smime_cert_check_time(crt, now);
    st[1] = smime_cert_check_usage(crt);
    st[2] = smime_cert_check_key(crt, 2048);
    for (int i = 0; i < 4; i++) {
        if (i < 3 && st[i] == SMIME_CERT_OK)
            continue;
        if (i < 3) {
            check_detail(crt, st[i], one, sizeof(one));
        } else if (!address_problem(crt, address, one, sizeof(one))) {
            break;
        }
        if (err && used < errlen)
            used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                                     n ? "; " : "", one);
        n++;
    }
    return n;
}

int
keystore_entry_check(const keystore_entry_t *e, const char *address,
                     time_t now, char *err, size_t errlen)
{
    if (strcasecmp(address, e->address) == 0 &&
        keystore_entry_signer_at(e, now) != NULL) {
        if (err && errlen)
            err[0] = '\0';
        return 0;
    }
    for (size_t i = 0; i < e->ncreds; i++)      /* the newest signing one */
        if (e->creds[i].purpose & KEYSTORE_SIGN)
            return keystore_check(e->creds[i].signer, address, now, err,
                                  errlen);
    smime_seterr(err, errlen, "no signing credential (%zu for decryption "
                 "only)", e->ncreds);
    return 1;
}
