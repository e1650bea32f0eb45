/*
 * check_keystore.c - unit tests for the keystore's credentials
 * (crypto/keystore.h, format 2): several per address, what each is for
 * (crypto/cert.h usage rules), the signer chosen at a time, decryption
 * credentials (expired ones too) listed and found by issuer and serial
 * or by subjectKeyIdentifier, version 1 files, unknown versions, damaged
 * records, entries held across a reload, and the bounded cache of
 * parsed entries.
 *
 * The certificates are pki/carol-* and friends from tests/pki/mkpki.sh:
 * carol-sign (digitalSignature, 2020-2099), carol-sign2 (digitalSignature,
 * 2021-2098), carol-enc (keyEncipherment), carol-old (keyEncipherment,
 * 2001-2002), all for carol@example.org.
 */
#include "config.h"

#include <cdb.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/abstract.h>

#include "cert.h"
#include "keystore.h"
#include "keystore_priv.h"
#include "sign.h"

static char pki[1024], work[1024];

/* 2050-01-01, 2099-06-01, 2020-06-01, 2100-01-01 */
#define T2050 ((time_t)2524608000)
#define T2099 ((time_t)4083782400)
#define T2020 ((time_t)1590969600)
#define T2100 ((time_t)4102444800)

static void
setup_dirs(void)
{
    const char *src = getenv("top_srcdir"), *bld = getenv("top_builddir");
    char cmd[4096];

    if (src == NULL)
        src = ".";
    if (bld == NULL)
        bld = ".";
    snprintf(pki, sizeof(pki), "%s/tests/work/pki", bld);
    snprintf(work, sizeof(work), "%s/tests/work/keystore", bld);
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pki/mkpki.sh' '%s' >/dev/null "
             "&& mkdir -p '%s'", src, pki, work);
    if (system(cmd) != 0) {
        fprintf(stderr, "check_keystore: cannot make the test PKI\n");
        exit(1);
    }
}

static smime_signer_t *
load(const char *name)
{
    char path[2048], err[256] = "";
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/%s.pem", pki, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    smime_signer_t *s = smime_signer_from_pem(buf, (size_t)n, err,
                                              sizeof(err));
    free(buf);
    ck_assert_msg(s != NULL, "%s: %s", name, err);
    return s;
}

static gnutls_x509_crt_t
crt_of(const smime_signer_t *s)
{
    return smime_signer_cert(s, 0);
}

/* The serial of a credential, as lower-case hex. */
static const char *
serial_of(const smime_signer_t *s)
{
    static char buf[130];

    if (s == NULL)
        return "(none)";
    smime_cert_serial_hex(crt_of(s), buf, sizeof(buf));
    return buf;
}

/* Write path with one address and the named credentials. */
static void
write_one(const char *path, const char *address, const char *const *names,
          const unsigned *purposes, size_t n, const char *const *logins,
          size_t nlogins)
{
    char err[256] = "";
    struct keystore_cred c[8];
    smime_signer_t *s[8];
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));

    ck_assert_msg(w != NULL, "%s", err);
    for (size_t i = 0; i < n; i++) {
        s[i] = load(names[i]);
        c[i].signer = s[i];
        c[i].purpose = purposes[i];
    }
    ck_assert_msg(keystore_writer_add_creds(w, address, c, n, logins, nlogins,
                                            err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(keystore_writer_commit(w, err, sizeof(err)) == 0, "%s", err);
    keystore_writer_free(w);
    for (size_t i = 0; i < n; i++)
        smime_signer_free(s[i]);
}

static const char *const carol_names[] = { "carol-old", "carol-sign",
                                           "carol-enc", "carol-sign2" };
static const unsigned carol_purposes[] = { KEYSTORE_DECRYPT, KEYSTORE_SIGN,
                                           KEYSTORE_DECRYPT, KEYSTORE_SIGN };

static keystore_entry_t *
lookup(keystore_t *ks, const char *address)
{
    char err[256] = "";
    keystore_entry_t *e = NULL;

    ck_assert_msg(keystore_lookup(ks, address, &e, err, sizeof(err)) == 1,
                  "%s: %s", address, err);
    return e;
}

/* ---- cert.c: what a certificate allows ---- */

START_TEST(cert_usages)
{
    static const struct { const char *name; int sign, decrypt; } t[] = {
        { "alice", 1, 1 },          /* digitalSignature + keyEncipherment */
        { "carol-sign", 1, 0 },     /* digitalSignature only */
        { "carol-enc", 0, 1 },      /* keyEncipherment only (RSA) */
        { "nokeyusage", 0, 1 },
        { "dave-ecenc", 1, 1 },     /* EC with keyAgreement */
        { "ecdsa", 1, 0 },          /* EC without keyAgreement */
        { "rsa-agree", 0, 0 },      /* keyAgreement on RSA: neither */
        { "pss", 1, 0 },            /* RSA-PSS keys only sign */
        { "ed25519", 1, 0 },
        { "noeku", 0, 0 },          /* serverAuth only: no S/MIME at all */
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        smime_signer_t *s = load(t[i].name);
        ck_assert_msg(smime_cert_can_sign(crt_of(s)) == t[i].sign,
                      "%s: can_sign", t[i].name);
        ck_assert_msg(smime_cert_can_decrypt(crt_of(s)) == t[i].decrypt,
                      "%s: can_decrypt", t[i].name);
        smime_signer_free(s);
    }
    smime_signer_t *s = load("pss");
    ck_assert_int_eq(smime_cert_check_encrypt_usage(crt_of(s)),
                     SMIME_CERT_KEY_TYPE);
    smime_signer_free(s);
    s = load("noeku");
    ck_assert_int_eq(smime_cert_check_encrypt_usage(crt_of(s)),
                     SMIME_CERT_EKU);
    smime_signer_free(s);
}
END_TEST

/* ---- several credentials of one address ---- */

START_TEST(signer_newest_valid)
{
    char path[2048], err[512];

    snprintf(path, sizeof(path), "%s/carol.cdb", work);
    write_one(path, "carol@example.org", carol_names, carol_purposes, 4,
              NULL, 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *e = lookup(ks, "Carol@Example.org");

    ck_assert_uint_eq(keystore_entry_ncreds(e), 4);
    /* stored newest first (latest notBefore) */
    ck_assert_str_eq(serial_of(keystore_entry_cred(e, 0)), "1102");
    ck_assert_uint_eq(keystore_entry_cred_purpose(e, 0), KEYSTORE_SIGN);
    ck_assert_str_eq(serial_of(keystore_entry_cred(e, 3)), "1104");
    /* the newest valid signing credential; never a decryption one */
    ck_assert_str_eq(serial_of(keystore_entry_signer_at(e, T2050)), "1102");
    ck_assert_str_eq(serial_of(keystore_entry_signer_at(e, T2020)), "1101");
    ck_assert_str_eq(serial_of(keystore_entry_signer_at(e, T2099)), "1101");
    ck_assert_ptr_null(keystore_entry_signer_at(e, T2100));
    ck_assert_ptr_nonnull(keystore_entry_signer(e));
    ck_assert_int_eq(keystore_entry_check(e, "carol@example.org", T2099, err,
                                          sizeof(err)), 0);
    ck_assert_int_eq(keystore_entry_check(e, "carol@example.org", T2100, err,
                                          sizeof(err)), 1);
    ck_assert_msg(strstr(err, "expired certificate") != NULL, "%s", err);
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

START_TEST(decrypt_creds)
{
    char path[2048], err[512];

    snprintf(path, sizeof(path), "%s/carol-dec.cdb", work);
    write_one(path, "carol@example.org", carol_names, carol_purposes, 4,
              NULL, 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *e = lookup(ks, "carol@example.org");

    /* every decryption credential, the expired one too, newest first */
    ck_assert_uint_eq(keystore_entry_ndecrypt(e), 2);
    const smime_signer_t *enc = keystore_entry_decrypt_cred(e, 0);
    const smime_signer_t *old = keystore_entry_decrypt_cred(e, 1);
    ck_assert_str_eq(serial_of(enc), "1103");
    ck_assert_str_eq(serial_of(old), "1104");
    ck_assert_ptr_null(keystore_entry_decrypt_cred(e, 2));

    /* the key decrypts what was encrypted to the certificate */
    gnutls_pubkey_t pub;
    gnutls_datum_t cek = { (unsigned char *)"0123456789abcdef", 16 };
    gnutls_datum_t ct = { NULL, 0 }, pt = { NULL, 0 };
    ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
    ck_assert_int_eq(gnutls_pubkey_import_x509(pub, crt_of(old), 0), 0);
    ck_assert_int_eq(gnutls_pubkey_encrypt_data(pub, 0, &cek, &ct), 0);
    ck_assert_int_eq(gnutls_privkey_decrypt_data(smime_signer_privkey(old),
                                                 0, &ct, &pt), 0);
    ck_assert_uint_eq(pt.size, 16);
    ck_assert_int_eq(memcmp(pt.data, cek.data, 16), 0);
    gnutls_free(ct.data);
    gnutls_free(pt.data);
    gnutls_pubkey_deinit(pub);

    /* found by issuer and serial (with and without a leading zero) */
    gnutls_datum_t issuer = { NULL, 0 };
    ck_assert_int_eq(gnutls_x509_crt_get_raw_issuer_dn(crt_of(old),
                                                       &issuer), 0);
    unsigned char s1[] = { 0x11, 0x04 }, s0[] = { 0x00, 0x11, 0x04 },
                  s2[] = { 0x11, 0x01 };
    gnutls_datum_t serial = { s1, 2 }, serial0 = { s0, 3 },
                   sign_serial = { s2, 2 };
    ck_assert_ptr_eq(keystore_entry_find_decrypt(e, &issuer, &serial, NULL),
                     old);
    ck_assert_ptr_eq(keystore_entry_find_decrypt(e, &issuer, &serial0, NULL),
                     old);
    /* a signing-only credential is never a decryption one */
    ck_assert_ptr_null(keystore_entry_find_decrypt(e, &issuer, &sign_serial,
                                                   NULL));
    /* another issuer: the certificate's own subject */
    gnutls_datum_t subject = { NULL, 0 };
    ck_assert_int_eq(gnutls_x509_crt_get_raw_dn(crt_of(old), &subject), 0);
    ck_assert_ptr_null(keystore_entry_find_decrypt(e, &subject, &serial,
                                                   NULL));
    gnutls_free(subject.data);
    gnutls_free(issuer.data);

    /* found by subjectKeyIdentifier */
    unsigned char ski[64];
    size_t skilen = sizeof(ski);
    ck_assert_int_eq(gnutls_x509_crt_get_subject_key_id(crt_of(enc), ski,
                                                        &skilen, NULL), 0);
    gnutls_datum_t kid = { ski, (unsigned)skilen };
    ck_assert_ptr_eq(keystore_entry_find_decrypt(e, NULL, NULL, &kid), enc);
    ski[0] ^= 1;
    ck_assert_ptr_null(keystore_entry_find_decrypt(e, NULL, NULL, &kid));
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

/* The stored purpose is re-checked when read: a certificate that does not
 * allow a use is not used for it, whatever the record says. */
START_TEST(purpose_rechecked)
{
    char path[2048], err[512];
    static const char *const names[] = { "carol-sign", "carol-enc" };
    static const unsigned wrong[] = { KEYSTORE_DECRYPT, KEYSTORE_SIGN };

    snprintf(path, sizeof(path), "%s/wrong.cdb", work);
    write_one(path, "carol@example.org", names, wrong, 2, NULL, 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *e = lookup(ks, "carol@example.org");
    ck_assert_uint_eq(keystore_entry_ncreds(e), 2);
    ck_assert_uint_eq(keystore_entry_ndecrypt(e), 0);
    ck_assert_ptr_null(keystore_entry_signer_at(e, T2050));
    ck_assert_int_eq(keystore_entry_check(e, "carol@example.org", T2050, err,
                                          sizeof(err)), 1);
    ck_assert_msg(strstr(err, "wrong key usage") != NULL, "%s", err);
    keystore_entry_free(e);
    keystore_free(ks);

    /* decryption only: no signer, and the check says why */
    static const char *const enc[] = { "carol-enc" };
    static const unsigned dec[] = { KEYSTORE_DECRYPT };
    write_one(path, "carol@example.org", enc, dec, 1, NULL, 0);
    ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    e = lookup(ks, "carol@example.org");
    ck_assert_ptr_null(keystore_entry_signer_at(e, T2050));
    ck_assert_uint_eq(keystore_entry_ndecrypt(e), 1);
    ck_assert_int_eq(keystore_entry_check(e, "carol@example.org", T2050, err,
                                          sizeof(err)), 1);
    ck_assert_msg(strstr(err, "no signing credential") != NULL, "%s", err);
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

START_TEST(writer_refuses)
{
    char path[2048], err[256] = "";
    smime_signer_t *s = load("carol-enc");
    struct keystore_cred c[2] = { { s, 0 }, { s, 4 } };

    snprintf(path, sizeof(path), "%s/refused.cdb", work);
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_int_eq(keystore_writer_add_creds(w, "carol@example.org", c, 0,
                                               NULL, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(keystore_writer_add_creds(w, "carol@example.org", c, 1,
                                               NULL, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(keystore_writer_add_creds(w, "carol@example.org", c + 1,
                                               1, NULL, 0, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "purpose") != NULL, "%s", err);
    keystore_writer_free(w);
    smime_signer_free(s);
}
END_TEST

/* ---- files written here by hand: version 1, unknown versions ---- */

static void
put_field(unsigned char **p, size_t *len, unsigned char type, const void *d,
          size_t n)
{
    unsigned char *q = realloc(*p, *len + 5 + n);

    ck_assert_ptr_nonnull(q);
    q[*len] = type;
    q[*len + 1] = (unsigned char)(n >> 24);
    q[*len + 2] = (unsigned char)(n >> 16);
    q[*len + 3] = (unsigned char)(n >> 8);
    q[*len + 4] = (unsigned char)n;
    memcpy(q + *len + 5, d, n);
    *p = q;
    *len += 5 + n;
}

/* A CDB with marker `marker' and alice's record: record version byte
 * `version', then fields 'L' "boss", [extra], 'K', 'C'. */
static void
write_raw(const char *path, const char *marker, unsigned char version,
          const unsigned char *extra, size_t extralen)
{
    smime_signer_t *s = load("alice");
    gnutls_datum_t k, c;
    struct cdb_make cm;
    unsigned char *rec = malloc(1);
    size_t len = 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(rec);
    rec[0] = version;
    put_field(&rec, &len, 'L', "boss", 4);
    if (extralen) {
        unsigned char *q = realloc(rec, len + extralen);
        ck_assert_ptr_nonnull(q);
        memcpy(q + len, extra, extralen);
        rec = q;
        len += extralen;
    }
    ck_assert_int_eq(smime_signer_export_key(s, &k), 0);
    put_field(&rec, &len, 'K', k.data, k.size);
    ck_assert_int_eq(gnutls_x509_crt_export2(crt_of(s), GNUTLS_X509_FMT_DER,
                                             &c), 0);
    put_field(&rec, &len, 'C', c.data, c.size);
    ck_assert_int_eq(cdb_make_start(&cm, fd), 0);
    ck_assert_int_eq(cdb_make_add(&cm, "\0smime-keystore", 15, marker,
                                  (unsigned)strlen(marker)), 0);
    ck_assert_int_eq(cdb_make_add(&cm, "alice@example.org", 17, rec,
                                  (unsigned)len), 0);
    ck_assert_int_eq(cdb_make_finish(&cm), 0);
    close(fd);
    gnutls_memset(k.data, 0, k.size);
    gnutls_free(k.data);
    gnutls_memset(rec, 0, len);
    gnutls_free(c.data);
    free(rec);
    smime_signer_free(s);
}

START_TEST(version1_read)
{
    char path[2048], err[512];

    snprintf(path, sizeof(path), "%s/v1.cdb", work);
    write_raw(path, "1", 1, NULL, 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *e = lookup(ks, "alice@example.org");
    /* version 1: one credential, for signing, as before */
    ck_assert_uint_eq(keystore_entry_ncreds(e), 1);
    ck_assert_uint_eq(keystore_entry_cred_purpose(e, 0), KEYSTORE_SIGN);
    ck_assert_str_eq(serial_of(keystore_entry_signer_at(e, T2050)), "1001");
    ck_assert_uint_eq(keystore_entry_ndecrypt(e), 0);
    ck_assert_uint_eq(keystore_entry_nlogins(e), 1);
    ck_assert_int_eq(keystore_may_sign(e, "boss"), 1);
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

START_TEST(unknown_versions)
{
    char path[2048], err[512] = "";
    keystore_entry_t *e = NULL;

    snprintf(path, sizeof(path), "%s/v3.cdb", work);
    write_raw(path, "3", 3, NULL, 0);
    ck_assert_ptr_null(keystore_open(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "format version 3") &&
                  strstr(err, "rebuild with smime-keystore build"), "%s", err);

    /* a version 3 record in a version 2 file: the whole file is refused
     * when it is loaded (the last good keystore stays in use) */
    write_raw(path, "2", 3, NULL, 0);
    ck_assert_ptr_null(keystore_open(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "record version 3") &&
                  strstr(err, "rebuild with smime-keystore build"), "%s", err);
    keystore_t *ks;

    /* version 2 records: a purpose first; unknown purpose bits, or key
     * and certificate without a purpose, are damage */
    static const unsigned char bad_purpose[] = { 'P', 0, 0, 0, 1, 4 };
    static const unsigned char zero_purpose[] = { 'P', 0, 0, 0, 1, 0 };
    static const unsigned char good[] = { 'P', 0, 0, 0, 1, 3 };
    const unsigned char *extra[] = { bad_purpose, zero_purpose, NULL, good };
    for (size_t i = 0; i < 4; i++) {
        write_raw(path, "2", 2, extra[i], extra[i] ? 6 : 0);
        ks = keystore_open(path, err, sizeof(err));
        if (i < 3) {
            ck_assert_msg(ks == NULL && strstr(err, "damaged"), "%zu: %s",
                          i, err);
            continue;
        } else {
            ck_assert_msg(ks != NULL, "%s", err);
            ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e,
                                             err, sizeof(err)), 1);
            ck_assert_uint_eq(keystore_entry_cred_purpose(e, 0),
                              KEYSTORE_SIGN | KEYSTORE_DECRYPT);
            ck_assert_uint_eq(keystore_entry_ndecrypt(e), 1);
            ck_assert_ptr_nonnull(keystore_entry_signer_at(e, T2050));
            keystore_entry_free(e);
        }
        keystore_free(ks);
    }
}
END_TEST

/* A credential on a token: the record holds the URI ('U') and the
 * certificates, no key and no PIN; reading it does not touch the token
 * (none exists here).  'U' and 'K' in one credential are damage, and a
 * URI carrying a PIN is refused. */
START_TEST(token_uri_record)
{
    static const char url[] = "pkcs11:token=none;object=alice;type=private";
    char path[2048], err[512] = "";
    smime_signer_t *file = load("alice");
    gnutls_datum_t der[2];
    size_t n = smime_signer_ncerts(file);
    keystore_entry_t *e = NULL;

    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(gnutls_x509_crt_export2(smime_signer_cert(file, i),
                                                 GNUTLS_X509_FMT_DER,
                                                 &der[i]), 0);
    ck_assert_ptr_null(smime_signer_from_token(
        "pkcs11:token=none;object=alice?pin-value=1234", der, n, err,
        sizeof(err)));
    ck_assert_msg(strstr(err, "pin-value") != NULL, "%s", err);
    smime_signer_t *tok = smime_signer_from_token(url, der, n, err,
                                                  sizeof(err));
    ck_assert_msg(tok != NULL, "%s", err);
    ck_assert_ptr_null(smime_signer_token_url(file));
    ck_assert_str_eq(smime_signer_token_url(tok), url);

    snprintf(path, sizeof(path), "%s/token.cdb", work);
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_int_eq(keystore_writer_add(w, "alice@example.org", tok, NULL, 0,
                                         err, sizeof(err)), 0);
    ck_assert_int_eq(keystore_writer_commit(w, err, sizeof(err)), 0);
    keystore_writer_free(w);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    ck_assert_int_eq(keystore_lookup(ks, "alice@example.org", &e, err,
                                     sizeof(err)), 1);
    const smime_signer_t *c = keystore_entry_signer_at(e, T2050);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(smime_signer_token_url(c), url);
    ck_assert_str_eq(serial_of(c), "1001");
    ck_assert_uint_eq(smime_signer_ncerts(c), 2);
    keystore_entry_free(e);
    keystore_free(ks);

    /* nothing of the key in the file, the URI as given */
    FILE *f = fopen(path, "rb");
    unsigned char buf[65536];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    ck_assert_ptr_nonnull(memmem(buf, len, url, strlen(url)));
    gnutls_datum_t k;
    ck_assert_int_eq(smime_signer_export_key(file, &k), 0);
    ck_assert_ptr_null(memmem(buf, len, k.data + k.size - 32, 32));
    gnutls_memset(k.data, 0, k.size);
    gnutls_free(k.data);

    /* 'U' then 'K' in one credential: damaged */
    size_t ul = strlen(url);
    unsigned char extra[11 + sizeof(url)];
    memcpy(extra, "P\0\0\0\1\1" "U\0\0\0", 10);
    extra[10] = (unsigned char)ul;
    memcpy(extra + 11, url, ul);
    write_raw(path, "2", 2, extra, 11 + ul);
    ck_assert_ptr_null(keystore_open(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "damaged") != NULL, "%s", err);

    for (size_t i = 0; i < n; i++)
        gnutls_free(der[i].data);
    smime_signer_free(tok);
    smime_signer_free(file);
}
END_TEST

/* keystore_foreach_cert() gives what keystore_foreach() gives, without
 * the keys: per address the same credentials (serial, purpose, on a
 * token or not), each once. */
struct walk_seen {
    char line[8][512];
    size_t n;
};

static void
seen_add(struct walk_seen *w, const char *address, gnutls_x509_crt_t leaf,
         unsigned purpose, int on_token)
{
    char serial[130];

    ck_assert_uint_lt(w->n, 8);
    smime_cert_serial_hex(leaf, serial, sizeof(serial));
    /* credentials in sorted order: the line is appended to its address */
    for (size_t i = 0; i < w->n; i++)
        if (strncmp(w->line[i], address, strlen(address)) == 0 &&
            w->line[i][strlen(address)] == ':') {
            char tmp[512];
            snprintf(tmp, sizeof(tmp), "%s %s/%u/%d", w->line[i], serial,
                     purpose, on_token);
            strcpy(w->line[i], tmp);
            return;
        }
    snprintf(w->line[w->n++], sizeof(w->line[0]), "%s: %s/%u/%d", address,
             serial, purpose, on_token);
}

static int
walk_entry(void *arg, const char *address, const keystore_entry_t *e,
           const char *err)
{
    ck_assert_msg(e != NULL, "%s: %s", address, err);
    for (size_t i = 0; i < keystore_entry_ncreds(e); i++) {
        const smime_signer_t *c = keystore_entry_cred(e, i);
        seen_add(arg, address, crt_of(c), keystore_entry_cred_purpose(e, i),
                 smime_signer_token_url(c) != NULL);
    }
    return 0;
}

static int
walk_cert(void *arg, const char *address, const keystore_cert_t *creds,
          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(creds[i].leaf);
        seen_add(arg, address, creds[i].leaf, creds[i].purpose,
                 creds[i].on_token);
    }
    return 0;
}

static int
cmp_line(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sort each line's credentials, then the lines. */
static void
seen_sort(struct walk_seen *w)
{
    for (size_t i = 0; i < w->n; i++) {
        char *colon = strchr(w->line[i], ':'), words[8][64], out[512];
        size_t nw = 0;
        for (char *t = strtok(colon + 1, " "); t && nw < 8;
             t = strtok(NULL, " "))
            snprintf(words[nw++], sizeof(words[0]), "%s", t);
        qsort(words, nw, sizeof(words[0]), cmp_line);
        *colon = '\0';
        snprintf(out, sizeof(out), "%s:", w->line[i]);
        for (size_t k = 0; k < nw; k++) {
            strncat(out, " ", sizeof(out) - strlen(out) - 1);
            strncat(out, words[k], sizeof(out) - strlen(out) - 1);
        }
        strcpy(w->line[i], out);
    }
    qsort(w->line, w->n, sizeof(w->line[0]), cmp_line);
}

START_TEST(cert_walk)
{
    static const char url[] = "pkcs11:token=none;object=alice;type=private";
    char path[2048], err[512] = "";
    struct keystore_cred c[4];
    smime_signer_t *s[4], *alice = load("alice"), *bob = load("bob");
    gnutls_datum_t der[2];
    size_t n = smime_signer_ncerts(alice);

    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(gnutls_x509_crt_export2(smime_signer_cert(alice, i),
                                                 GNUTLS_X509_FMT_DER,
                                                 &der[i]), 0);
    smime_signer_t *tok = smime_signer_from_token(url, der, n, err,
                                                  sizeof(err));
    ck_assert_msg(tok != NULL, "%s", err);
    snprintf(path, sizeof(path), "%s/walk.cdb", work);
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));
    ck_assert_msg(w != NULL, "%s", err);
    for (size_t i = 0; i < 4; i++) {
        s[i] = load(carol_names[i]);
        c[i].signer = s[i];
        c[i].purpose = carol_purposes[i];
    }
    ck_assert_msg(keystore_writer_add_creds(w, "carol@example.org", c, 4,
                                            NULL, 0, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(keystore_writer_add(w, "alice@example.org", tok, NULL, 0,
                                         err, sizeof(err)), 0);
    ck_assert_int_eq(keystore_writer_add(w, "bob@example.org", bob, NULL, 0,
                                         err, sizeof(err)), 0);
    ck_assert_msg(keystore_writer_commit(w, err, sizeof(err)) == 0, "%s", err);
    keystore_writer_free(w);

    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    struct walk_seen full = {.n = 0}, light = {.n = 0};
    ck_assert_int_eq(keystore_foreach(ks, walk_entry, &full), 0);
    ck_assert_int_eq(keystore_foreach_cert(ks, walk_cert, &light), 0);
    ck_assert_uint_eq(full.n, 3);
    seen_sort(&full);
    seen_sort(&light);
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(light.line[i], full.line[i]);
    /* judged by hand: the PKI's serials and the purposes written */
    ck_assert_str_eq(light.line[0], "alice@example.org: 1001/1/1");
    ck_assert_str_eq(light.line[2], "carol@example.org: 1101/1/0 1102/1/0 "
                     "1103/2/0 1104/2/0");
    keystore_free(ks);
    for (size_t i = 0; i < 4; i++)
        smime_signer_free(s[i]);
    for (size_t i = 0; i < n; i++)
        gnutls_free(der[i].data);
    smime_signer_free(tok);
    smime_signer_free(bob);
    smime_signer_free(alice);
}
END_TEST

/* An entry and its credentials stay valid across a rebuild, a reload and
 * keystore_free(), until keystore_entry_free(). */
START_TEST(held_across_reload)
{
    char path[2048], tmp[2100], err[512];

    snprintf(path, sizeof(path), "%s/reload.cdb", work);
    snprintf(tmp, sizeof(tmp), "%s/reload.new", work);
    write_one(path, "carol@example.org", carol_names, carol_purposes, 4,
              NULL, 0);
    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *old = lookup(ks, "carol@example.org");
    const smime_signer_t *oldenc = keystore_entry_decrypt_cred(old, 1);

    static const char *const enc[] = { "carol-enc" };
    static const unsigned dec[] = { KEYSTORE_DECRYPT };
    write_one(tmp, "carol@example.org", enc, dec, 1, NULL, 0);
    ck_assert_int_eq(rename(tmp, path), 0);
    ck_assert_int_eq(keystore_reload(ks, err, sizeof(err)), 1);
    keystore_entry_t *e = lookup(ks, "carol@example.org");
    ck_assert_ptr_ne(e, old);
    ck_assert_uint_eq(keystore_entry_ncreds(e), 1);
    keystore_entry_free(e);
    keystore_free(ks);

    /* the old entry is whole: its expired key still decrypts */
    ck_assert_uint_eq(keystore_entry_ncreds(old), 4);
    ck_assert_str_eq(serial_of(oldenc), "1104");
    gnutls_pubkey_t pub;
    gnutls_datum_t m = { (unsigned char *)"k", 1 }, ct, pt;
    ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
    ck_assert_int_eq(gnutls_pubkey_import_x509(pub, crt_of(oldenc), 0), 0);
    ck_assert_int_eq(gnutls_pubkey_encrypt_data(pub, 0, &m, &ct), 0);
    ck_assert_int_eq(gnutls_privkey_decrypt_data(smime_signer_privkey(oldenc),
                                                 0, &ct, &pt), 0);
    ck_assert_uint_eq(pt.size, 1);
    gnutls_free(ct.data);
    gnutls_free(pt.data);
    gnutls_pubkey_deinit(pub);
    keystore_entry_free(old);
}
END_TEST

/* keystore_open_in: the private copy is a file in the directory given,
 * which nobody sees there (unlinked), and garbage written in place into
 * the keystore file changes nothing for lookups until a reload, which
 * keeps the last good copy. */
START_TEST(copy_in_directory)
{
    char path[2048], dir[2048], err[512];
    static const char *const enc[] = { "carol-enc" };
    static const unsigned dec[] = { KEYSTORE_DECRYPT };

    snprintf(dir, sizeof(dir), "%s/copydir", work);
    ck_assert(mkdir(dir, 0700) == 0 || errno == EEXIST);
    snprintf(path, sizeof(path), "%s/inplace.cdb", work);
    write_one(path, "carol@example.org", enc, dec, 1, NULL, 0);
    keystore_t *ks = keystore_open_in(path, dir, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);

    DIR *d = opendir(dir);
    struct dirent *de;
    int visible = 0;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        visible += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    ck_assert_int_eq(visible, 0);

    int fd = open(path, O_WRONLY | O_TRUNC);   /* in place, same inode */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "garbage", 7), 7);
    close(fd);
    keystore_entry_t *e = lookup(ks, "carol@example.org");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(keystore_entry_ncreds(e), 1);
    keystore_entry_free(e);
    ck_assert_int_eq(keystore_changed(ks), 1);
    ck_assert_int_lt(keystore_reload(ks, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(e = lookup(ks, "carol@example.org"));
    keystore_entry_free(e);
    keystore_free(ks);

    /* a directory we cannot use: the copy is made in memory instead */
    write_one(path, "carol@example.org", enc, dec, 1, NULL, 0);
    ks = keystore_open_in(path, "/nonexistent/dir", err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    ck_assert_ptr_nonnull(e = lookup(ks, "carol@example.org"));
    keystore_entry_free(e);
    keystore_free(ks);
}
END_TEST

/* The cache of parsed entries keeps the KS_CACHE_MAX most recently
 * used: looking up more addresses than that does not keep them all
 * parsed (about 60 KB each: a million senders would take tens of GB).
 * An entry that left the cache stays whole for its holder, and a new
 * lookup of its address parses it again. */
START_TEST(cache_bounded)
{
    char path[2048], addr[64], err[512] = "";
    const size_t n = KS_CACHE_MAX + 40;
    smime_signer_t *s = load("carol-sign");
    struct keystore_cred c = { s, KEYSTORE_SIGN };

    snprintf(path, sizeof(path), "%s/many.cdb", work);
    keystore_writer_t *w = keystore_writer_new(path, err, sizeof(err));
    ck_assert_msg(w != NULL, "%s", err);
    for (size_t i = 0; i < n; i++) {
        snprintf(addr, sizeof(addr), "u%zu@example.org", i);
        ck_assert_msg(keystore_writer_add_creds(w, addr, &c, 1, NULL, 0, err,
                                                sizeof(err)) == 0, "%s", err);
    }
    ck_assert_msg(keystore_writer_commit(w, err, sizeof(err)) == 0, "%s", err);
    keystore_writer_free(w);
    smime_signer_free(s);

    keystore_t *ks = keystore_open(path, err, sizeof(err));
    ck_assert_msg(ks != NULL, "%s", err);
    keystore_entry_t *first = lookup(ks, "u0@example.org");
    keystore_entry_t *again = lookup(ks, "U0@example.org");
    ck_assert_ptr_eq(again, first);                 /* cached */
    keystore_entry_free(again);
    for (size_t i = 1; i < n; i++) {
        snprintf(addr, sizeof(addr), "u%zu@example.org", i);
        keystore_entry_free(lookup(ks, addr));
        ck_assert_uint_le(ks_cache_count(ks), KS_CACHE_MAX);
    }
    ck_assert_uint_eq(ks_cache_count(ks), KS_CACHE_MAX);
    /* the most recently used are still cached ... */
    snprintf(addr, sizeof(addr), "u%zu@example.org", n - 1);
    keystore_entry_t *last = lookup(ks, addr);
    keystore_entry_t *last2 = lookup(ks, addr);
    ck_assert_ptr_eq(last, last2);
    keystore_entry_free(last);
    keystore_entry_free(last2);
    /* ... the first left: parsed again, while the one held is whole */
    again = lookup(ks, "u0@example.org");
    ck_assert_ptr_ne(again, first);
    ck_assert_str_eq(keystore_entry_address(first), "u0@example.org");
    ck_assert_str_eq(serial_of(keystore_entry_cred(first, 0)),
                     serial_of(keystore_entry_cred(again, 0)));
    keystore_entry_free(again);
    keystore_free(ks);
    ck_assert_str_eq(keystore_entry_address(first), "u0@example.org");
    keystore_entry_free(first);
}
END_TEST

static Suite *
keystore_suite(void)
{
    Suite *s = suite_create("keystore");
    TCase *tc = tcase_create("credentials");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cert_usages);
    tcase_add_test(tc, signer_newest_valid);
    tcase_add_test(tc, decrypt_creds);
    tcase_add_test(tc, purpose_rechecked);
    tcase_add_test(tc, writer_refuses);
    tcase_add_test(tc, version1_read);
    tcase_add_test(tc, unknown_versions);
    tcase_add_test(tc, token_uri_record);
    tcase_add_test(tc, cert_walk);
    tcase_add_test(tc, held_across_reload);
    tcase_add_test(tc, copy_in_directory);
    tcase_add_test(tc, cache_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    setup_dirs();
    SRunner *sr = srunner_create(keystore_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
