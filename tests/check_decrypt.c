/*
 * check_decrypt.c - unit tests of crypto/envelope.c: CMS EnvelopedData
 * and AuthEnvelopedData made at test time by openssl cms, NSS cmsutil
 * and gpgsm (tests/fixtures/mkenc.sh) with the keys of
 * tests/pki/mkpki.sh, decrypted through smime_decrypt_* and compared
 * with the plaintext byte for byte; damaged, truncated, hostile and
 * wrong-key input must fail with a clear status, never crash.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "der.h"
#include "ecdh.h"
#include "envelope.h"
#include "envelope_priv.h"          /* env_cipher_*: the wipe test */
#include "envelope_write.h"
#include "crypto_testlib.h"

static char enc[1100];           /* mkenc.sh output */

typedef struct outbuf {
    unsigned char *p;
    size_t n, cap;
} outbuf_t;

static int sink(void *arg, const void *p, size_t n)
{
    outbuf_t *o = arg;

    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        ck_assert_ptr_nonnull(o->p);
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
    return 0;
}

static unsigned char *enc_file(const char *name, size_t *n)
{
    char path[1300];
    snprintf(path, sizeof(path), "%s/%s", enc, name);
    return slurp(path, n);
}

static gnutls_x509_crt_t load_crt(const char *user)
{
    char path[1300];
    size_t n;
    gnutls_x509_crt_t c;

    snprintf(path, sizeof(path), "%s/%s.crt", pki, user);
    unsigned char *pem = slurp(path, &n);
    gnutls_datum_t d = { pem, (unsigned)n };
    ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
    free(pem);
    return c;
}

static gnutls_privkey_t load_key(const char *user)
{
    char path[1300];
    size_t n;
    gnutls_privkey_t k;

    snprintf(path, sizeof(path), "%s/%s.key", pki, user);
    unsigned char *pem = slurp(path, &n);
    gnutls_datum_t d = { pem, (unsigned)n };
    ck_assert_int_eq(gnutls_privkey_init(&k), 0);
    ck_assert_int_eq(gnutls_privkey_import_x509_raw(k, &d,
                     GNUTLS_X509_FMT_PEM, NULL, 0), 0);
    free(pem);
    return k;
}

typedef struct drun {
    const char *certuser, *keyuser;  /* keyuser NULL: = certuser */
    long chunk;                      /* 0 whole, > 0 fixed, < 0 random */
    const smime_decrypt_limits_t *lim;
    outbuf_t out;
    char why[128];
    char cipher[32];
    int aead;
} drun_t;

/* The next chunk size. */
static size_t chunk_of(long chunk, size_t left)
{
    size_t k = chunk == 0 ? left
               : chunk > 0 ? (size_t)chunk : 1 + (size_t)(rand() % 97);
    return k < left ? k : left;
}

/* Decrypts cms with r's key and certificate: the last status. */
static smime_decrypt_status_t decrypt(drun_t *r, const unsigned char *cms,
                                      size_t n)
{
    smime_decrypt_t *d = smime_decrypt_new(r->lim, sink, &r->out);
    smime_decrypt_status_t st = SMIME_DECRYPT_OK;
    size_t off = 0;

    ck_assert_ptr_nonnull(d);
    r->out.n = 0;
    while (off < n && st == SMIME_DECRYPT_OK) {
        size_t k = chunk_of(r->chunk, n - off);
        st = smime_decrypt_feed(d, cms + off, k);
        off += k;
        if (st == SMIME_DECRYPT_NEED_KEY) {
            gnutls_x509_crt_t c = load_crt(r->certuser);
            gnutls_privkey_t key = load_key(r->keyuser ? r->keyuser
                                            : r->certuser);
            st = smime_decrypt_unwrap(d, key, c);
            gnutls_privkey_deinit(key);
            gnutls_x509_crt_deinit(c);
        }
    }
    if (st == SMIME_DECRYPT_OK)
        st = smime_decrypt_finish(d);
    snprintf(r->why, sizeof(r->why), "%s", smime_decrypt_error(d));
    snprintf(r->cipher, sizeof(r->cipher), "%s", smime_decrypt_cipher(d));
    r->aead = smime_decrypt_is_aead(d);
    smime_decrypt_free(d);
    return st;
}

static smime_decrypt_status_t decrypt_file(drun_t *r, const char *file)
{
    size_t n;
    unsigned char *cms = enc_file(file, &n);
    smime_decrypt_status_t st = decrypt(r, cms, n);
    free(cms);
    return st;
}

static void expect_plain(const drun_t *r, const char *plainfile)
{
    size_t n;
    unsigned char *want = enc_file(plainfile, &n);

    ck_assert_msg(r->out.n == n && memcmp(r->out.p, want, n) == 0,
                  "plaintext differs (%zu bytes, want %zu)", r->out.n, n);
    free(want);
}

static void setup(void)
{
    static int done;

    if (done)
        return;
    done = 1;
    setup_once();
    snprintf(enc, sizeof(enc), "%s/../enc", work);
    if (run("sh '%s/tests/fixtures/mkenc.sh' '%s' '%s' >/dev/null",
            getenv("top_srcdir") ? getenv("top_srcdir") : ABS_TOP_SRCDIR,
            pki, enc) != 0) {
        fprintf(stderr, "mkenc.sh failed\n");
        exit(1);
    }
}

/* ---- interoperability: every tool x algorithm ---- */

static const struct {
    const char *file, *user, *plain, *cipher;
    int aead;
} good[] = {
    { "ossl-rsa-aes128.der", "encrsa", "plain.txt", "aes-128-cbc", 0 },
    { "ossl-rsa-aes192.der", "encrsa", "plain.txt", "aes-192-cbc", 0 },
    { "ossl-rsa-aes256.der", "encrsa", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-rsa-des3.der", "encrsa", "plain.txt", "des-ede3-cbc", 0 },
    { "ossl-rsa-aes256-keyid.der", "encrsa", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-rsa-aes256-stream.der", "encrsa", "big.bin", "aes-256-cbc", 0 },
    { "ossl-rsa-aes256-big.der", "encrsa", "big.bin", "aes-256-cbc", 0 },
    { "ossl-rsa-aes128-indef.der", "encrsa", "plain.txt", "aes-128-cbc", 0 },
    { "ossl-multi-aes256.der", "encrsa", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-multi-aes256.der", "alice", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-multi-aes256.der", "ecdh256", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-rsa-gcm256.der", "encrsa", "plain.txt", "aes-256-gcm", 1 },
    { "ossl-rsa-gcm128.der", "encrsa", "plain.txt", "aes-128-gcm", 1 },
    { "ossl-rsa-gcm256-stream.der", "encrsa", "big.bin", "aes-256-gcm", 1 },
    { "ossl-ec256-aes256.der", "ecdh256", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-ec256-aes256-sha256.der", "ecdh256", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-ec256-aes128-keyid.der", "ecdh256", "plain.txt", "aes-128-cbc", 0 },
    { "ossl-ec384-aes256.der", "ecdh384", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-ec384-aes256-sha384.der", "ecdh384", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-ec384-aes192-sha224.der", "ecdh384", "plain.txt", "aes-192-cbc", 0 },
    { "ossl-ec521-aes256-sha512.der", "ecdh521", "plain.txt", "aes-256-cbc", 0 },
    { "ossl-ec256-gcm256.der", "ecdh256", "plain.txt", "aes-256-gcm", 1 },
    { "ossl-ec256-gcm128-indef.der", "ecdh256", "plain.txt", "aes-128-gcm", 1 },
    { "ossl-ec384-gcm256-stream.der", "ecdh384", "big.bin", "aes-256-gcm", 1 },
    { "nss-rsa-aes128.der", "encrsa", "plain.txt", "aes-128-cbc", 0 },
    { "nss-rsa-aes128-big.der", "encrsa", "big.bin", "aes-128-cbc", 0 },
    { "gpgsm-rsa-aes128.der", "encrsa", "plain.txt", "aes-128-cbc", 0 },
    { "gpgsm-rsa-aes256.der", "encrsa", "plain.txt", "aes-256-cbc", 0 },
};

START_TEST(test_interop)
{
    drun_t r = { .certuser = good[_i].user };
    smime_decrypt_status_t st = decrypt_file(&r, good[_i].file);

    ck_assert_msg(st == SMIME_DECRYPT_OK, "%s with %s: %s (%s)",
                  good[_i].file, good[_i].user,
                  smime_decrypt_status_name(st), r.why);
    expect_plain(&r, good[_i].plain);
    ck_assert_str_eq(r.cipher, good[_i].cipher);
    ck_assert_int_eq(r.aead, good[_i].aead);
    free(r.out.p);
}
END_TEST

/* The same, fed in random chunks of 1..97 bytes. */
START_TEST(test_interop_chunks)
{
    drun_t r = { .certuser = good[_i].user, .chunk = -1 };

    srand(1000 + (unsigned)_i);
    ck_assert_int_eq(decrypt_file(&r, good[_i].file), SMIME_DECRYPT_OK);
    expect_plain(&r, good[_i].plain);
    free(r.out.p);
}
END_TEST

/* ---- BER forms of the encryptedContent ----
 * The encryptedContent of an all-indefinite message (openssl -stream) is
 * re-encoded in the BER forms other writers use: segments of constructed
 * OCTET STRINGs nested in each other, definite and indefinite, empty
 * segments.  The frame around stays as openssl wrote it. */

struct collect { unsigned char *p; size_t n; };

static int collect_seg(void *arg, const uint8_t *p, size_t n)
{
    struct collect *c = arg;
    memcpy(c->p + c->n, p, n);
    c->n += n;
    return 0;
}

/* Finds encryptedContent in cms: its TLV, and the ciphertext (malloc'd). */
static void find_econtent(const unsigned char *cms, size_t n, der_tlv_t *ec,
                          struct collect *ct)
{
    der_cur_t c0, c1, c2, c3, c4;
    der_tlv_t t;

    der_cur_init(&c0, cms, n);
    ck_assert_int_eq(der_next(&c0, &t), 1);                 /* ContentInfo */
    ck_assert_int_eq(der_cur_enter(&c0, &t, &c1), 0);
    ck_assert_int_eq(der_next(&c1, &t), 1);                 /* OID */
    ck_assert_int_eq(der_next(&c1, &t), 1);                 /* [0] */
    ck_assert_int_eq(der_cur_enter(&c1, &t, &c2), 0);
    ck_assert_int_eq(der_next(&c2, &t), 1);                 /* SEQUENCE */
    ck_assert_int_eq(der_cur_enter(&c2, &t, &c3), 0);
    ck_assert_int_eq(der_next(&c3, &t), 1);                 /* version */
    ck_assert_int_eq(der_next(&c3, &t), 1);                 /* RIs */
    ck_assert_int_eq(der_next(&c3, &t), 1);                 /* ECI */
    ck_assert_int_eq(der_cur_enter(&c3, &t, &c4), 0);
    ck_assert_int_eq(der_next(&c4, &t), 1);                 /* type */
    ck_assert_int_eq(der_next(&c4, &t), 1);                 /* algorithm */
    ck_assert_int_eq(der_next(&c4, ec), 1);                 /* [0] */
    ck_assert_int_eq(ec->cls, DER_CONTEXT);
    ck_assert_int_eq(ec->tag, 0);
    ct->p = malloc(ec->total);
    ct->n = 0;
    t = *ec;                    /* walk it as an OCTET STRING */
    t.cls = DER_UNIVERSAL;
    t.tag = DER_TAG_OCTETS;
    ck_assert_int_eq(der_octets_foreach(&c4, &t, collect_seg, ct), 0);
}

static size_t put(unsigned char *o, const char *hex)
{
    size_t n = 0;
    unsigned v;
    while (sscanf(hex + 2 * n, "%2x", &v) == 1)
        o[n++] = (unsigned char)v;
    return n;
}

/* An OCTET STRING segment with a one-octet length (n < 128). */
static size_t seg(unsigned char *o, const unsigned char *p, size_t n)
{
    o[0] = 0x04;
    o[1] = (unsigned char)n;
    memcpy(o + 2, p, n);
    return n + 2;
}

START_TEST(test_ber_segments)
{
    const char *files[] = { "ossl-rsa-aes128-indef.der",
                            "ossl-ec256-gcm128-indef.der" };
    const char *users[] = { "encrsa", "ecdh256" };
    size_t n;
    unsigned char *cms = enc_file(files[_i / 2], &n);
    der_tlv_t ec;
    struct collect ct;

    find_econtent(cms, n, &ec, &ct);
    ck_assert_uint_ge(ct.n, 32);
    ck_assert_uint_lt(ct.n, 120);
    size_t pre = (size_t)(ec.start - cms), post = n - pre - ec.total;
    unsigned char *o = malloc(n + 64), *q = o;
    memcpy(q, cms, pre);
    q += pre;
    if (_i % 2 == 0) {
        /* [0] indef { OCTET STRING indef { 5 octets, {definite: 0, 11
         * octets}, EOC }, the rest, EOC } */
        q += put(q, "a080" "2480");
        q += seg(q, ct.p, 5);
        q += put(q, "240f" "0400");
        q += seg(q, ct.p + 5, 11);
        q += put(q, "0000");
        q += seg(q, ct.p + 16, ct.n - 16);
        q += put(q, "0000");
    } else {
        /* [0] definite { 1 octet, empty, the rest } */
        size_t body = 3 + 2 + 2 + (ct.n - 1);
        *q++ = 0xa0;
        *q++ = (unsigned char)body;
        q += seg(q, ct.p, 1);
        q += seg(q, ct.p, 0);
        q += seg(q, ct.p + 1, ct.n - 1);
    }
    memcpy(q, ec.start + ec.total, post);
    q += post;
    for (long chunk = 0; chunk <= 3; chunk++) {
        drun_t r = { .certuser = users[_i / 2], .chunk = chunk - 1 };
        smime_decrypt_status_t st = decrypt(&r, o, (size_t)(q - o));
        ck_assert_msg(st == SMIME_DECRYPT_OK, "%s layout %d: %s (%s)",
                      files[_i / 2], _i % 2, smime_decrypt_status_name(st),
                      r.why);
        expect_plain(&r, "plain.txt");
        free(r.out.p);
    }
    free(o);
    free(ct.p);
    free(cms);
}
END_TEST

/* A token's ECDH knows the curve only by the originator point's size. */
START_TEST(test_curve_of_len)
{
    static const struct { size_t flen; gnutls_ecc_curve_t curve; } t[] = {
        {32, GNUTLS_ECC_CURVE_SECP256R1}, {48, GNUTLS_ECC_CURVE_SECP384R1},
        {66, GNUTLS_ECC_CURVE_SECP521R1}, {0, GNUTLS_ECC_CURVE_INVALID},
        {33, GNUTLS_ECC_CURVE_INVALID}, {65, GNUTLS_ECC_CURVE_INVALID},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        ck_assert_int_eq(ecdh_curve_of_len(t[i].flen), t[i].curve);
}
END_TEST

/* The X9.63 KDF over ECC-CMS-SharedInfo (RFC 5753 §7.2), against the
 * definition written out here byte by byte: H(Z || 00000001 ||
 * SharedInfo) for SHA-256 (one block), SHA-512 (one block, cut), and
 * SHA-256 for 40 octets (two blocks); without ukm (the stack-buffer
 * form) and with one (the DER writer's). */
START_TEST(test_x963_kdf)
{
    /* id-aes256-wrap 2.16.840.1.101.3.4.1.45, contents octets */
    static const uint8_t wrap[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                                    0x04, 0x01, 0x2d };
    static const uint8_t ukm[] = { 0xde, 0xad, 0xbe, 0xef };
    static const struct { gnutls_digest_algorithm_t h; size_t keklen;
                          int with_ukm; } t[] = {
        { GNUTLS_DIG_SHA256, 32, 0 }, { GNUTLS_DIG_SHA512, 32, 0 },
        { GNUTLS_DIG_SHA256, 40, 0 }, { GNUTLS_DIG_SHA256, 32, 1 },
    };
    uint8_t z[32];

    for (size_t i = 0; i < sizeof z; i++)
        z[i] = (uint8_t)(i + 1);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t si[64], in[128], d[64], want[128], got[128];
        size_t n = 0, sl = 0, bits = t[i].keklen * 8, hl;

        /* SharedInfo ::= SEQUENCE { keyInfo AlgorithmIdentifier,
         *   entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
         *   suppPubInfo [2] EXPLICIT OCTET STRING (keylen in bits) } */
        si[sl++] = 0x30;
        si[sl++] = (uint8_t)(2 + 2 + sizeof wrap + 8 +
                             (t[i].with_ukm ? 4 + sizeof ukm : 0));
        si[sl++] = 0x30;
        si[sl++] = (uint8_t)(2 + sizeof wrap);
        si[sl++] = 0x06;
        si[sl++] = sizeof wrap;
        memcpy(si + sl, wrap, sizeof wrap);
        sl += sizeof wrap;
        if (t[i].with_ukm) {
            si[sl++] = 0xa0;
            si[sl++] = 2 + sizeof ukm;
            si[sl++] = 0x04;
            si[sl++] = sizeof ukm;
            memcpy(si + sl, ukm, sizeof ukm);
            sl += sizeof ukm;
        }
        uint8_t supp[] = { 0xa2, 6, 0x04, 4, (uint8_t)(bits >> 24),
                           (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                           (uint8_t)bits };
        memcpy(si + sl, supp, sizeof supp);
        sl += sizeof supp;
        hl = gnutls_hash_get_len(t[i].h);
        for (uint32_t ctr = 1; n < t[i].keklen; ctr++) {
            memcpy(in, z, sizeof z);
            in[32] = 0;
            in[33] = 0;
            in[34] = 0;
            in[35] = (uint8_t)ctr;
            memcpy(in + 36, si, sl);
            ck_assert_int_eq(gnutls_hash_fast(t[i].h, in, 36 + sl, d), 0);
            memcpy(want + n, d, hl);
            n += hl;
        }
        ck_assert_int_eq(ecdh_kek(t[i].h, z, sizeof z, wrap, sizeof wrap,
                                  t[i].with_ukm ? ukm : NULL, sizeof ukm,
                                  got, t[i].keklen), 0);
        ck_assert_mem_eq(got, want, t[i].keklen);
    }
}
END_TEST

START_TEST(test_oaep_unsupported)
{
    drun_t r = { .certuser = "encrsa" };

    ck_assert_int_eq(decrypt_file(&r, "ossl-rsa-oaep.der"),
                     SMIME_DECRYPT_UNSUPPORTED);
    ck_assert_str_eq(r.why, "unsupported key transport");
    ck_assert_uint_eq(r.out.n, 0);
    free(r.out.p);
}
END_TEST

/* ---- recipients ---- */

/* Four recipients (DER sorts the SET: order not asserted): each one's
 * kind and issuerAndSerialNumber as the milter will see them. */
START_TEST(test_recipients_listed)
{
    size_t n;
    unsigned char *cms = enc_file("ossl-multi-aes256.der", &n);
    smime_decrypt_t *d = smime_decrypt_new(NULL, sink, NULL);
    smime_decrypt_rid_t rid;
    const char *users[] = { "alice", "ecdh256", "encrsa", "bob" };
    const smime_decrypt_kind_t kinds[] = {
        SMIME_RI_KEY_TRANSPORT, SMIME_RI_KEY_AGREEMENT,
        SMIME_RI_KEY_TRANSPORT, SMIME_RI_KEY_TRANSPORT
    };
    gnutls_datum_t dn;

    ck_assert_int_eq(smime_decrypt_feed(d, cms, n), SMIME_DECRYPT_NEED_KEY);
    ck_assert_uint_eq(smime_decrypt_recipient_count(d), 4);
    for (size_t u = 0; u < 4; u++) {
        gnutls_x509_crt_t c = load_crt(users[u]);
        char want[64];
        int found = 0;
        serial_of(users[u], want, sizeof(want));
        ck_assert_int_eq(gnutls_x509_crt_get_raw_issuer_dn(c, &dn), 0);
        for (size_t i = 0; i < 4; i++) {
            char got[64] = "";
            ck_assert_int_eq(smime_decrypt_recipient(d, i, &rid), 0);
            ck_assert_int_eq(rid.is_ski, 0);
            for (size_t j = 0; j < rid.serial_len && j < 31; j++)
                snprintf(got + 2 * j, 3, "%02x", rid.serial[j]);
            if (strcmp(got, want) != 0)
                continue;
            found++;
            ck_assert_int_eq(rid.kind, kinds[u]);
            ck_assert_uint_eq(rid.issuer_len, dn.size);
            ck_assert_mem_eq(rid.issuer, dn.data, dn.size);
        }
        ck_assert_int_eq(found, 1);
        ck_assert_int_eq(smime_decrypt_names(d, c), 1);
        gnutls_free(dn.data);
        gnutls_x509_crt_deinit(c);
    }
    ck_assert_int_eq(smime_decrypt_recipient(d, 4, &rid), -1);
    gnutls_x509_crt_t other = load_crt("ecdh384");
    ck_assert_int_eq(smime_decrypt_names(d, other), 0);
    gnutls_x509_crt_deinit(other);
    smime_decrypt_free(d);
    free(cms);
}
END_TEST

START_TEST(test_recipient_keyid)
{
    const char *files[] = { "ossl-rsa-aes256-keyid.der",
                            "ossl-ec256-aes128-keyid.der" };
    const char *users[] = { "encrsa", "ecdh256" };
    size_t n, skilen = 64;
    unsigned char ski[64];
    unsigned char *cms = enc_file(files[_i], &n);
    smime_decrypt_t *d = smime_decrypt_new(NULL, sink, NULL);
    smime_decrypt_rid_t rid;
    gnutls_x509_crt_t c = load_crt(users[_i]);

    ck_assert_int_eq(smime_decrypt_feed(d, cms, n), SMIME_DECRYPT_NEED_KEY);
    ck_assert_uint_eq(smime_decrypt_recipient_count(d), 1);
    ck_assert_int_eq(smime_decrypt_recipient(d, 0, &rid), 0);
    ck_assert_int_eq(rid.is_ski, 1);
    ck_assert_int_ge(gnutls_x509_crt_get_subject_key_id(c, ski, &skilen,
                                                        NULL), 0);
    ck_assert_uint_eq(rid.ski_len, skilen);
    ck_assert_mem_eq(rid.ski, ski, skilen);
    gnutls_x509_crt_deinit(c);
    smime_decrypt_free(d);
    free(cms);
}
END_TEST

/* A key that no RecipientInfo names: NO_RECIPIENT, not sticky. */
START_TEST(test_no_recipient)
{
    size_t n;
    unsigned char *cms = enc_file("ossl-rsa-aes256.der", &n);
    outbuf_t out = { 0 };
    smime_decrypt_t *d = smime_decrypt_new(NULL, sink, &out);
    gnutls_x509_crt_t bob = load_crt("bob"), c = load_crt("encrsa");
    gnutls_privkey_t bobkey = load_key("bob"), key = load_key("encrsa");

    ck_assert_int_eq(smime_decrypt_feed(d, cms, n), SMIME_DECRYPT_NEED_KEY);
    ck_assert_int_eq(smime_decrypt_unwrap(d, bobkey, bob),
                     SMIME_DECRYPT_NO_RECIPIENT);
    ck_assert_str_eq(smime_decrypt_error(d), "no RecipientInfo for the key");
    ck_assert_int_eq(smime_decrypt_unwrap(d, key, c), SMIME_DECRYPT_OK);
    ck_assert_int_eq(smime_decrypt_finish(d), SMIME_DECRYPT_OK);
    ck_assert_uint_gt(out.n, 0);
    smime_decrypt_free(d);
    gnutls_x509_crt_deinit(bob);
    gnutls_x509_crt_deinit(c);
    gnutls_privkey_deinit(bobkey);
    gnutls_privkey_deinit(key);
    free(out.p);
    free(cms);
}
END_TEST

/* ---- wrong keys, damage ---- */

/* RSA key transport with the wrong private key (the certificate matches):
 * the RFC 3218 random key makes it fail at the content, with the same
 * status and reason as damaged content; never the plaintext.  A random
 * CBC key gives valid padding about once in 256 runs, so: 8 runs, none
 * gives the plaintext, at least one fails (all 8 passing the padding:
 * 2^-64). */
START_TEST(test_wrong_rsa_key_cbc)
{
    size_t n, pn, failed = 0;
    unsigned char *plain = enc_file("plain.txt", &pn);

    for (int i = 0; i < 8; i++) {
        drun_t r = { .certuser = "encrsa", .keyuser = "alice" };
        smime_decrypt_status_t st = decrypt_file(&r, "ossl-rsa-aes256.der");
        ck_assert(st == SMIME_DECRYPT_OK || st == SMIME_DECRYPT_FAILED);
        ck_assert(!(r.out.n == pn && memcmp(r.out.p, plain, pn) == 0));
        if (st == SMIME_DECRYPT_FAILED) {
            ck_assert_str_eq(r.why, "decryption failed");
            failed++;
        }
        free(r.out.p);
    }
    ck_assert_uint_gt(failed, 0);
    (void)n;
    free(plain);
}
END_TEST

START_TEST(test_wrong_key_gcm)
{
    drun_t r = { .certuser = "encrsa", .keyuser = "alice" };

    ck_assert_int_eq(decrypt_file(&r, "ossl-rsa-gcm256.der"),
                     SMIME_DECRYPT_FAILED);
    ck_assert_str_eq(r.why, "decryption failed");
    free(r.out.p);
}
END_TEST

/* ECDH with the wrong EC key: the key unwrap's integrity check fails. */
START_TEST(test_wrong_ec_key)
{
    drun_t r = { .certuser = "ecdh256", .keyuser = "ecdsa" };

    ck_assert_int_eq(decrypt_file(&r, "ossl-ec256-aes256.der"),
                     SMIME_DECRYPT_FAILED);
    ck_assert_str_eq(r.why, "key unwrap failed");
    ck_assert_uint_eq(r.out.n, 0);
    free(r.out.p);
}
END_TEST

/* The originator's ephemeral point moved off the curve (invalid-curve
 * attacks): refused before any multiplication. */
START_TEST(test_ec_point_off_curve)
{
    static const unsigned char bits[] = { 0x03, 0x42, 0x00, 0x04 };
    size_t n, i;
    unsigned char *cms = enc_file("ossl-ec256-aes256.der", &n);
    drun_t r = { .certuser = "ecdh256" };

    for (i = 0; i + sizeof(bits) + 64 <= n; i++)
        if (memcmp(cms + i, bits, sizeof(bits)) == 0)
            break;
    ck_assert_uint_lt(i + sizeof(bits) + 64, n);
    cms[i + sizeof(bits) + 63] ^= 0x01;          /* last octet of Y */
    ck_assert_int_eq(decrypt(&r, cms, n), SMIME_DECRYPT_MALFORMED);
    ck_assert_str_eq(r.why, "originator key not on the curve");
    free(r.out.p);
    free(cms);
}
END_TEST

/* An EC key for an RSA recipient and the other way round. */
START_TEST(test_key_type_mismatch)
{
    drun_t r = { .certuser = "encrsa", .keyuser = "ecdh256" };
    drun_t e = { .certuser = "ecdh256", .keyuser = "encrsa" };

    ck_assert_int_eq(decrypt_file(&r, "ossl-rsa-aes256.der"),
                     SMIME_DECRYPT_KEY);
    ck_assert_int_eq(decrypt_file(&e, "ossl-ec256-aes256.der"),
                     SMIME_DECRYPT_KEY);
    free(r.out.p);
    free(e.out.p);
}
END_TEST

/* The last octet of the next-to-last ciphertext block XORed with 0x80:
 * the padding length octet becomes > 16, always invalid; same status and
 * reason as the wrong key. */
START_TEST(test_damaged_padding)
{
    const char *files[] = { "ossl-rsa-aes256.der", "ossl-ec256-aes256.der",
                            "ossl-rsa-aes128.der" };
    const char *users[] = { "encrsa", "ecdh256", "encrsa" };
    size_t n;
    unsigned char *cms = enc_file(files[_i], &n);
    drun_t r = { .certuser = users[_i] };

    /* DER with definite lengths: the content is the last element. */
    ck_assert_uint_gt(n, 40);
    cms[n - 17] ^= 0x80;
    ck_assert_int_eq(decrypt(&r, cms, n), SMIME_DECRYPT_FAILED);
    ck_assert_str_eq(r.why, "decryption failed");
    free(r.out.p);
    free(cms);
}
END_TEST

/* The padding octets disagree: plain.txt (78 octets) ends in the padding
 * 02 02; XORing the octet before the last of the next-to-last block
 * makes it 03 02.  AES and DES-EDE3 (78 mod 8 is 6: the same padding). */
START_TEST(test_inconsistent_padding)
{
    const char *files[] = { "ossl-rsa-aes128.der", "ossl-rsa-des3.der" };
    size_t n, pn, bs = _i == 0 ? 16 : 8;
    unsigned char *cms = enc_file(files[_i], &n);
    unsigned char *plain = enc_file("plain.txt", &pn);
    drun_t r = { .certuser = "encrsa" };

    ck_assert_uint_eq(pn, 78);
    cms[n - bs - 2] ^= 0x01;
    ck_assert_int_eq(decrypt(&r, cms, n), SMIME_DECRYPT_FAILED);
    ck_assert_str_eq(r.why, "decryption failed");
    cms[n - bs - 2] ^= 0x01;
    ck_assert_int_eq(decrypt(&r, cms, n), SMIME_DECRYPT_OK);
    free(r.out.p);
    free(plain);
    free(cms);
}
END_TEST

/* GCM: any single flipped octet anywhere gives either a failure or
 * exactly the plaintext (octets outside the authenticated content, such
 * as the inner content type, may change); never altered plaintext. */
START_TEST(test_gcm_every_flip)
{
    const char *files[] = { "ossl-rsa-gcm256.der", "ossl-ec256-gcm128-indef.der" };
    const char *users[] = { "encrsa", "ecdh256" };
    size_t n, pn, fails = 0;
    unsigned char *cms = enc_file(files[_i], &n);
    unsigned char *plain = enc_file("plain.txt", &pn);

    for (size_t i = 0; i < n; i++) {
        drun_t r = { .certuser = users[_i] };
        cms[i] ^= 0x01;
        smime_decrypt_status_t st = decrypt(&r, cms, n);
        cms[i] ^= 0x01;
        if (st != SMIME_DECRYPT_OK)
            fails++;
        else
            ck_assert_msg(r.out.n == pn && memcmp(r.out.p, plain, pn) == 0,
                          "flip at %zu: altered plaintext accepted", i);
        free(r.out.p);
    }
    ck_assert_uint_gt(fails, n / 2);
    free(plain);
    free(cms);
}
END_TEST

/* The tag alone flipped: FAILED at finish (the caller releases nothing:
 * see envelope.h). */
START_TEST(test_gcm_tag_flipped)
{
    size_t n;
    unsigned char *cms = enc_file("ossl-rsa-gcm256.der", &n);
    drun_t r = { .certuser = "encrsa" };

    cms[n - 1] ^= 0x40;           /* DER: the MAC is the last element */
    ck_assert_int_eq(decrypt(&r, cms, n), SMIME_DECRYPT_FAILED);
    ck_assert_str_eq(r.why, "decryption failed");
    free(r.out.p);
    free(cms);
}
END_TEST

/* Every proper prefix is malformed (and never passes). */
START_TEST(test_truncated)
{
    const char *files[] = { "ossl-rsa-aes128.der", "ossl-rsa-aes128-indef.der",
                            "ossl-ec256-gcm128-indef.der",
                            "gpgsm-rsa-aes128.der" };
    const char *users[] = { "encrsa", "encrsa", "ecdh256", "encrsa" };
    size_t n;
    unsigned char *cms = enc_file(files[_i], &n);

    for (size_t len = 0; len < n; len++) {
        drun_t r = { .certuser = users[_i], .chunk = len % 2 ? 7 : 0 };
        smime_decrypt_status_t st = decrypt(&r, cms, len);
        ck_assert_msg(st == SMIME_DECRYPT_MALFORMED,
                      "prefix of %zu: %s (%s)", len,
                      smime_decrypt_status_name(st), r.why);
        free(r.out.p);
    }
    free(cms);
}
END_TEST

/* Trailing bytes after the ContentInfo. */
START_TEST(test_trailing_garbage)
{
    size_t n;
    unsigned char *cms = enc_file("ossl-rsa-aes128-indef.der", &n);
    drun_t r = { .certuser = "encrsa" };

    cms = realloc(cms, n + 3);
    memcpy(cms + n, "abc", 3);
    ck_assert_int_eq(decrypt(&r, cms, n + 3), SMIME_DECRYPT_MALFORMED);
    free(r.out.p);
    free(cms);
}
END_TEST

START_TEST(test_garbage)
{
    static const unsigned char data_ci[] = {     /* ContentInfo, id-data */
        0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x07, 0x01, 0xa0, 0x02, 0x04, 0x00
    };
    unsigned char buf[4096];
    drun_t r = { .certuser = "encrsa" };

    ck_assert_int_eq(decrypt(&r, data_ci, sizeof(data_ci)),
                     SMIME_DECRYPT_NOT_ENVELOPED);
    ck_assert_str_eq(r.why, "not CMS EnvelopedData");
    memset(buf, 0, sizeof(buf));
    ck_assert_int_eq(decrypt(&r, buf, sizeof(buf)), SMIME_DECRYPT_MALFORMED);
    memset(buf, 0xff, sizeof(buf));
    ck_assert_int_eq(decrypt(&r, buf, sizeof(buf)), SMIME_DECRYPT_MALFORMED);
    srand(7);
    for (int i = 0; i < 200; i++) {
        for (size_t j = 0; j < sizeof(buf); j++)
            buf[j] = (unsigned char)rand();
        buf[0] = 0x30;                          /* get past the first byte */
        ck_assert_int_ne(decrypt(&r, buf, 64 + (size_t)i * 16),
                         SMIME_DECRYPT_OK);
    }
    /* A header that never ends: indefinite SEQUENCEs up to the limit. */
    smime_decrypt_limits_t lim = { .max_header = 1000 };
    r.lim = &lim;
    memset(buf, 0, sizeof(buf));
    for (size_t j = 0; j + 1 < sizeof(buf); j += 2) {
        buf[j] = 0x30;
        buf[j + 1] = 0x80;
    }
    ck_assert_int_ne(decrypt(&r, buf, sizeof(buf)), SMIME_DECRYPT_OK);
    free(r.out.p);
}
END_TEST

/* Every single-octet flip of small CBC messages, fed in odd chunks: no
 * crash, never a status outside the documented set. */
START_TEST(test_every_flip_no_crash)
{
    const char *files[] = { "ossl-rsa-aes128-indef.der", "ossl-multi-aes256.der",
                            "ossl-ec384-aes256.der" };
    const char *users[] = { "encrsa", "ecdh256", "ecdh384" };
    size_t n;
    unsigned char *cms = enc_file(files[_i], &n);

    for (size_t i = 0; i < n; i++) {
        drun_t r = { .certuser = users[_i], .chunk = 13 };
        cms[i] ^= 0x5a;
        smime_decrypt_status_t st = decrypt(&r, cms, n);
        cms[i] ^= 0x5a;
        ck_assert(st <= SMIME_DECRYPT_FAILED);
        free(r.out.p);
    }
    free(cms);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_too_many_recipients)
{
    smime_decrypt_limits_t lim = { .max_recipients = 3 };
    drun_t r = { .certuser = "encrsa", .lim = &lim };

    ck_assert_int_eq(decrypt_file(&r, "ossl-multi-aes256.der"),
                     SMIME_DECRYPT_LIMIT);
    ck_assert_str_eq(r.why, "too many RecipientInfos");
    lim.max_recipients = 4;
    ck_assert_int_eq(decrypt_file(&r, "ossl-multi-aes256.der"),
                     SMIME_DECRYPT_OK);
    free(r.out.p);
}
END_TEST

START_TEST(test_header_limit)
{
    smime_decrypt_limits_t lim = { .max_header = 300 };
    drun_t r = { .certuser = "encrsa", .lim = &lim, .chunk = 50 };

    ck_assert_int_eq(decrypt_file(&r, "ossl-rsa-aes256.der"),
                     SMIME_DECRYPT_LIMIT);
    ck_assert_str_eq(r.why, "CMS header too large");
    lim.max_header = 600;           /* RSA-2048 header: ~ 420 bytes */
    ck_assert_int_eq(decrypt_file(&r, "ossl-rsa-aes256.der"),
                     SMIME_DECRYPT_OK);
    free(r.out.p);
}
END_TEST

/* ---- der.h streaming readers ---- */

/* The content cipher wipes the plaintext it wrote (out[], the held
 * last block, a partial block) when cleared, for CBC and GCM, whatever
 * the size of the last update. */
static int sink_ignore(void *arg, const void *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return 0;
}

START_TEST(test_cipher_wipe)
{
    static const enum smime_alg_id ids[] = { SMIME_ALG_AES256_CBC,
                                             SMIME_ALG_AES256_GCM };
    static const size_t sizes[] = { 16, 48, 4096, ENV_CHUNK + 35 };
    uint8_t key[32], iv[16], *in = malloc(ENV_CHUNK + 64);
    env_cipher_t *c = malloc(sizeof(*c));
    env_calg_t alg;

    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(c);
    memset(key, 7, sizeof(key));
    memset(iv, 9, sizeof(iv));
    memset(in, 0x5a, ENV_CHUNK + 64);
    for (size_t a = 0; a < 2; a++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            memset(c, 0xee, sizeof(*c));        /* as malloc may leave it */
            ck_assert_int_eq(env_calg_from(smime_alg(ids[a]), &alg), 0);
            ck_assert_int_eq(env_cipher_init(c, &alg, key, iv,
                                             a ? 12 : 16, sink_ignore, NULL),
                             SMIME_DECRYPT_OK);
            ck_assert_int_eq(env_cipher_update(c, in, sizes[s]),
                             SMIME_DECRYPT_OK);
            if (a == 1)      /* GCM: the short last block goes through out */
                env_cipher_final(c, in, 16);
            size_t used = c->used;
            ck_assert_uint_gt(used, 0);
            env_cipher_clear(c);
            for (size_t i = 0; i < used; i++)
                ck_assert_msg(c->out[i] == 0, "out[%zu] not wiped", i);
            for (size_t i = 0; i < sizeof(c->last); i++)
                ck_assert_uint_eq(c->last[i], 0);
            for (size_t i = 0; i < sizeof(c->pend); i++)
                ck_assert_uint_eq(c->pend[i], 0);
            ck_assert_ptr_null(c->h);
        }
    free(c);
    free(in);
}
END_TEST

START_TEST(test_der_partial)
{
    /* SEQUENCE (indefinite) { INTEGER 5, OCTET STRING (2) } EOC */
    static const unsigned char ber[] = {
        0x30, 0x80, 0x02, 0x01, 0x05, 0x04, 0x02, 0xaa, 0xbb, 0x00, 0x00
    };
    static const unsigned char bad_len[] = { 0x04, 0x89, 1, 2, 3, 4, 5, 6,
                                             7, 8, 9 };
    static const unsigned char prim_indef[] = { 0x04, 0x80, 0x00, 0x00 };
    static const unsigned char long_tag[] = { 0x1f, 0x81, 0x81, 0x81, 0x81,
                                              0x01, 0x00 };
    der_tlv_t t;

    /* every proper prefix: "more bytes needed", never malformed */
    for (size_t n = 0; n < sizeof(ber); n++)
        ck_assert_int_eq(der_partial(ber, n, 0, &t), 0);
    ck_assert_int_eq(der_partial(ber, sizeof(ber), 0, &t), 1);
    ck_assert_uint_eq(t.total, sizeof(ber));
    ck_assert_int_eq(der_partial_header(ber, 1, &t), 0);
    ck_assert_int_eq(der_partial_header(ber, 2, &t), 1);
    ck_assert_int_eq(t.indefinite, 1);
    ck_assert_int_eq(der_partial_header(ber + 5, 2, &t), 1);
    ck_assert_uint_eq(t.total, 4);
    ck_assert_uint_eq(t.vlen, 2);
    /* malformed at once, however many bytes follow */
    ck_assert_int_eq(der_partial_header(bad_len, sizeof(bad_len), &t), -1);
    ck_assert_int_eq(der_partial_header(prim_indef, 2, &t), -1);
    ck_assert_int_eq(der_partial(prim_indef, sizeof(prim_indef), 0, &t), -1);
    ck_assert_int_eq(der_partial_header(long_tag, sizeof(long_tag), &t), -1);
    ck_assert_int_eq(der_partial(ber + 9, 2, 0, &t), -1);   /* lone EOC */
    /* the old entry points still say -1 for a truncated element */
    der_cur_t c;
    der_cur_init(&c, ber, sizeof(ber) - 1);
    ck_assert_int_eq(der_next(&c, &t), -1);
}
END_TEST

/* ---- API order ---- */

START_TEST(test_api_order)
{
    size_t n;
    unsigned char *cms = enc_file("ossl-rsa-aes256.der", &n);
    smime_decrypt_t *d = smime_decrypt_new(NULL, sink, NULL);
    gnutls_x509_crt_t c = load_crt("encrsa");
    gnutls_privkey_t key = load_key("encrsa");

    ck_assert_int_eq(smime_decrypt_unwrap(d, key, c), SMIME_DECRYPT_STATE);
    smime_decrypt_free(d);
    d = smime_decrypt_new(NULL, sink, NULL);
    ck_assert_int_eq(smime_decrypt_feed(d, cms, n), SMIME_DECRYPT_NEED_KEY);
    ck_assert_int_eq(smime_decrypt_feed(d, cms, 1), SMIME_DECRYPT_STATE);
    smime_decrypt_free(d);
    d = smime_decrypt_new(NULL, sink, NULL);
    ck_assert_int_eq(smime_decrypt_feed(d, cms, n), SMIME_DECRYPT_NEED_KEY);
    ck_assert_int_eq(smime_decrypt_finish(d), SMIME_DECRYPT_STATE);
    smime_decrypt_free(d);
    smime_decrypt_free(NULL);
    gnutls_x509_crt_deinit(c);
    gnutls_privkey_deinit(key);
    free(cms);
}
END_TEST

/* ---- the writer (envelope_write.c), read back by the reader ---- */

static int enc_sink(void *arg, const void *p, size_t n)
{
    return sink(arg, p, n);
}

static int failing_sink(void *arg, const void *p, size_t n)
{
    (void)arg; (void)p; (void)n;
    return -1;
}

/* Encrypts len pseudo-random bytes to users, fed chunk at a time. */
static outbuf_t writer_run(const char *const *users, size_t nusers, int gcm,
                           const unsigned char *plain, size_t len,
                           size_t chunk)
{
    outbuf_t o = { NULL, 0, 0 };
    smime_encrypt_t *e = smime_encrypt_new(gcm ? SMIME_ENCRYPT_AES256_GCM
                                               : SMIME_ENCRYPT_AES256_CBC,
                                           enc_sink, &o);

    ck_assert_ptr_nonnull(e);
    for (size_t i = 0; i < nusers; i++) {
        gnutls_x509_crt_t c = load_crt(users[i]);
        ck_assert_int_eq(smime_encrypt_add_recipient(e, c), SMIME_ENCRYPT_OK);
        gnutls_x509_crt_deinit(c);
    }
    for (size_t off = 0; off < len; off += chunk)
        ck_assert_int_eq(smime_encrypt_update(e, plain + off,
                         len - off < chunk ? len - off : chunk),
                         SMIME_ENCRYPT_OK);
    ck_assert_int_eq(smime_encrypt_finish(e), SMIME_ENCRYPT_OK);
    ck_assert_str_eq(smime_encrypt_error(e), "");
    smime_encrypt_free(e);
    return o;
}

/* Every key type and curve, both ciphers, sizes around the block and
 * chunk boundaries (0: an empty entity still pads / tags). */
START_TEST(test_writer_roundtrip)
{
    static const char *const users[] = { "encrsa", "ecdh256", "ecdh384",
                                         "ecdh521" };
    static const size_t sizes[] = { 0, 1, 15, 16, 17, 16383, 16384, 16385,
                                    50000 };
    const char *u = users[_i / 2];
    int gcm = _i % 2;
    unsigned char *plain = malloc(50000);

    ck_assert_ptr_nonnull(plain);
    for (size_t i = 0; i < 50000; i++)
        plain[i] = (unsigned char)(i * 7 + (i >> 8));
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        outbuf_t o = writer_run(&u, 1, gcm, plain, sizes[k], 1000);
        drun_t r = { .certuser = u, .chunk = -1 };
        ck_assert_msg(decrypt(&r, o.p, o.n) == SMIME_DECRYPT_OK,
                      "%s %s %zu: %s", u, gcm ? "gcm" : "cbc", sizes[k],
                      r.why);
        ck_assert_str_eq(r.cipher, gcm ? "aes-256-gcm" : "aes-256-cbc");
        ck_assert_int_eq(r.aead, gcm);
        ck_assert_uint_eq(r.out.n, sizes[k]);
        ck_assert(sizes[k] == 0 || memcmp(r.out.p, plain, sizes[k]) == 0);
        free(r.out.p);
        free(o.p);
    }
    free(plain);
}
END_TEST

/* Several recipients: each one's key opens it; a key of none does not. */
START_TEST(test_writer_multi)
{
    static const char *const users[] = { "bob", "ecdh384", "encrsa",
                                         "ecdh256" };
    static const unsigned char plain[] = "Content-Type: text/plain\r\n\r\nhi\r\n";
    outbuf_t o = writer_run(users, 4, 0, plain, sizeof(plain) - 1, 5);

    for (size_t i = 0; i < 4; i++) {
        drun_t r = { .certuser = users[i], .chunk = 0 };
        ck_assert_int_eq(decrypt(&r, o.p, o.n), SMIME_DECRYPT_OK);
        ck_assert_uint_eq(r.out.n, sizeof(plain) - 1);
        free(r.out.p);
    }
    drun_t r = { .certuser = "ecdh521", .chunk = 0 };
    ck_assert_int_eq(decrypt(&r, o.p, o.n), SMIME_DECRYPT_NO_RECIPIENT);
    free(r.out.p);
    free(o.p);
}
END_TEST

/* Prepared recipient keys (what the recipient cache keeps): made once,
 * used for two messages; each recipient's key opens both, and the
 * RecipientInfos name the same certificates as the unprepared path's
 * (a key of none does not open them).  A key that cannot encrypt gives
 * no prepared key. */
START_TEST(test_writer_rkey)
{
    static const char *const users[] = { "bob", "ecdh384", "encrsa",
                                         "ecdh521" };
    static const unsigned char plain[] = "Content-Type: text/plain\r\n\r\nhi\r\n";
    smime_encrypt_rkey_t *k[4];
    gnutls_x509_crt_t c[4], ed = load_crt("ed25519");
    smime_encrypt_status_t st;
    const char *why;

    for (size_t i = 0; i < 4; i++) {
        c[i] = load_crt(users[i]);
        k[i] = smime_encrypt_rkey_new(c[i], NULL, &st, &why);
        ck_assert_ptr_nonnull(k[i]);
        ck_assert_int_eq(st, SMIME_ENCRYPT_OK);
    }
    for (int round = 0; round < 2; round++) {
        outbuf_t o = { NULL, 0, 0 };
        smime_encrypt_t *e = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC,
                                               enc_sink, &o);
        ck_assert_ptr_nonnull(e);
        for (size_t i = 0; i < 3; i++)
            ck_assert_int_eq(smime_encrypt_add_rkey(e, k[i]),
                             SMIME_ENCRYPT_OK);
        ck_assert_int_eq(smime_encrypt_update(e, plain, sizeof(plain) - 1),
                         SMIME_ENCRYPT_OK);
        ck_assert_int_eq(smime_encrypt_finish(e), SMIME_ENCRYPT_OK);
        smime_encrypt_free(e);
        for (size_t i = 0; i < 4; i++) {
            drun_t r = { .certuser = users[i], .chunk = 0 };
            ck_assert_int_eq(decrypt(&r, o.p, o.n),
                             i < 3 ? SMIME_DECRYPT_OK
                                   : SMIME_DECRYPT_NO_RECIPIENT);
            if (i < 3)
                ck_assert_mem_eq(r.out.p, plain, sizeof(plain) - 1);
            free(r.out.p);
        }
        free(o.p);
    }
    ck_assert_ptr_null(smime_encrypt_rkey_new(ed, NULL, &st, &why));
    ck_assert_int_eq(st, SMIME_ENCRYPT_KEY);
    ck_assert_str_eq(why, "key type cannot encrypt");
    for (size_t i = 0; i < 4; i++) {
        smime_encrypt_rkey_free(k[i]);
        gnutls_x509_crt_deinit(c[i]);
    }
    smime_encrypt_rkey_free(NULL);
    gnutls_x509_crt_deinit(ed);
}
END_TEST

/* Misuse and failures: clear statuses, sticky, nothing half-written
 * claimed as success. */
START_TEST(test_writer_errors)
{
    outbuf_t o = { NULL, 0, 0 };
    smime_encrypt_t *e;
    gnutls_x509_crt_t rsa = load_crt("encrsa"), ed = load_crt("ed25519");

    /* no recipient */
    e = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC, enc_sink, &o);
    ck_assert_int_eq(smime_encrypt_update(e, "x", 1), SMIME_ENCRYPT_STATE);
    ck_assert_int_eq(smime_encrypt_finish(e), SMIME_ENCRYPT_STATE);
    ck_assert_str_eq(smime_encrypt_error(e), "no recipient");
    smime_encrypt_free(e);
    /* a key that cannot encrypt */
    e = smime_encrypt_new(SMIME_ENCRYPT_AES256_GCM, enc_sink, &o);
    ck_assert_int_eq(smime_encrypt_add_recipient(e, ed), SMIME_ENCRYPT_KEY);
    ck_assert_int_eq(smime_encrypt_add_recipient(e, rsa), SMIME_ENCRYPT_KEY);
    smime_encrypt_free(e);
    /* a recipient after content */
    e = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC, enc_sink, &o);
    ck_assert_int_eq(smime_encrypt_add_recipient(e, rsa), SMIME_ENCRYPT_OK);
    ck_assert_int_eq(smime_encrypt_update(e, "x", 1), SMIME_ENCRYPT_OK);
    ck_assert_int_eq(smime_encrypt_add_recipient(e, rsa), SMIME_ENCRYPT_STATE);
    smime_encrypt_free(e);
    /* finished twice */
    e = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC, enc_sink, &o);
    ck_assert_int_eq(smime_encrypt_add_recipient(e, rsa), SMIME_ENCRYPT_OK);
    ck_assert_int_eq(smime_encrypt_finish(e), SMIME_ENCRYPT_OK);
    ck_assert_int_eq(smime_encrypt_finish(e), SMIME_ENCRYPT_STATE);
    ck_assert_int_eq(smime_encrypt_update(e, "x", 1), SMIME_ENCRYPT_STATE);
    smime_encrypt_free(e);
    /* the output fails */
    e = smime_encrypt_new(SMIME_ENCRYPT_AES256_CBC, failing_sink, NULL);
    ck_assert_int_eq(smime_encrypt_add_recipient(e, rsa), SMIME_ENCRYPT_OK);
    ck_assert_int_eq(smime_encrypt_update(e, "x", 1), SMIME_ENCRYPT_SINK);
    ck_assert_int_eq(smime_encrypt_finish(e), SMIME_ENCRYPT_SINK);
    smime_encrypt_free(e);
    smime_encrypt_free(NULL);
    ck_assert_str_eq(smime_encrypt_smime_type(SMIME_ENCRYPT_AES256_GCM),
                     "authEnveloped-data");
    gnutls_x509_crt_deinit(rsa);
    gnutls_x509_crt_deinit(ed);
    free(o.p);
}
END_TEST

/* A short message split in two at every offset: the reader used to wait
 * for 64 more bytes before looking at a header element again, so a
 * message whose header ended less than 64 bytes before the end (GCM
 * content of a few bytes) was "truncated CMS" when the first piece
 * ended at the encryptedContent. */
START_TEST(test_every_split_short)
{
    static const char *const users[] = { "encrsa", "ecdh521" };
    const char *u = users[_i / 2];
    outbuf_t o = writer_run(&u, 1, _i % 2, (const unsigned char *)"x", 1, 1);
    gnutls_x509_crt_t c = load_crt(u);
    gnutls_privkey_t key = load_key(u);

    for (size_t split = 1; split < o.n; split++) {
        outbuf_t out = { NULL, 0, 0 };
        smime_decrypt_t *d = smime_decrypt_new(NULL, sink, &out);
        smime_decrypt_status_t st = smime_decrypt_feed(d, o.p, split);
        if (st == SMIME_DECRYPT_NEED_KEY)
            st = smime_decrypt_unwrap(d, key, c);
        if (st == SMIME_DECRYPT_OK)
            st = smime_decrypt_feed(d, o.p + split, o.n - split);
        if (st == SMIME_DECRYPT_NEED_KEY)
            st = smime_decrypt_unwrap(d, key, c);
        if (st == SMIME_DECRYPT_OK)
            st = smime_decrypt_finish(d);
        ck_assert_msg(st == SMIME_DECRYPT_OK && out.n == 1 && out.p[0] == 'x',
                      "%s split %zu/%zu: %s", u, split, o.n,
                      smime_decrypt_error(d));
        smime_decrypt_free(d);
        free(out.p);
    }
    gnutls_privkey_deinit(key);
    gnutls_x509_crt_deinit(c);
    free(o.p);
}
END_TEST

static Suite *decrypt_suite(void)
{
    Suite *s = suite_create("decrypt");
    TCase *tc = tcase_create("decrypt");

    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_interop, 0, sizeof(good) / sizeof(good[0]));
    tcase_add_loop_test(tc, test_interop_chunks, 0,
                        sizeof(good) / sizeof(good[0]));
    tcase_add_loop_test(tc, test_ber_segments, 0, 4);
    tcase_add_test(tc, test_oaep_unsupported);
    tcase_add_test(tc, test_curve_of_len);
    tcase_add_test(tc, test_x963_kdf);
    tcase_add_loop_test(tc, test_writer_roundtrip, 0, 8);
    tcase_add_test(tc, test_writer_multi);
    tcase_add_test(tc, test_writer_rkey);
    tcase_add_loop_test(tc, test_every_split_short, 0, 4);
    tcase_add_test(tc, test_writer_errors);
    tcase_add_test(tc, test_recipients_listed);
    tcase_add_loop_test(tc, test_recipient_keyid, 0, 2);
    tcase_add_test(tc, test_no_recipient);
    tcase_add_test(tc, test_wrong_rsa_key_cbc);
    tcase_add_test(tc, test_wrong_key_gcm);
    tcase_add_test(tc, test_wrong_ec_key);
    tcase_add_test(tc, test_key_type_mismatch);
    tcase_add_test(tc, test_ec_point_off_curve);
    tcase_add_loop_test(tc, test_damaged_padding, 0, 3);
    tcase_add_loop_test(tc, test_inconsistent_padding, 0, 2);
    tcase_add_loop_test(tc, test_gcm_every_flip, 0, 2);
    tcase_add_test(tc, test_gcm_tag_flipped);
    tcase_add_loop_test(tc, test_truncated, 0, 4);
    tcase_add_test(tc, test_trailing_garbage);
    tcase_add_test(tc, test_garbage);
    tcase_add_loop_test(tc, test_every_flip_no_crash, 0, 3);
    tcase_add_test(tc, test_too_many_recipients);
    tcase_add_test(tc, test_header_limit);
    tcase_add_test(tc, test_api_order);
    tcase_add_test(tc, test_der_partial);
    tcase_add_test(tc, test_cipher_wipe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(decrypt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
