/*
 * check_crypto.c - unit tests of crypto/ verification: CMS made by
 * independent tools (openssl cms, certtool) with the test PKI of
 * tests/pki/mkpki.sh, verified through smime_verify_*, and each outcome
 * and reason asserted.  Also the BER/DER reader's limits and the trust
 * store's error messages.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algs.h"
#include "cert.h"
#include "cms.h"
#include "der.h"
#include "derw.h"
#include "errbuf.h"
#include "verify.h"
#include "crypto_testlib.h"
#include "check_certcache.h"
#include "check_trust.h"

/* ---- pass, one per algorithm ---- */

/* user, openssl options besides -certfile inter.crt, expected names */
static const struct {
    const char *user, *extra, *digest, *sigalg;
} algs[] = {
    { "alice", "", "sha-256", "rsa" },
    { "alice", "-md sha384", "sha-384", "rsa" },
    { "alice", "-md sha512", "sha-512", "rsa" },
    { "alice", "-keyopt rsa_padding_mode:pss",
      "sha-256", "rsa-pss" },
    { "alice", "-keyopt rsa_padding_mode:pss "
      "-keyopt rsa_pss_saltlen:20", "sha-256", "rsa-pss" },
    { "pss", "-keyopt rsa_padding_mode:pss",
      "sha-256", "rsa-pss" },
    { "pss", "-keyopt rsa_padding_mode:pss "
      "-keyopt rsa_pss_saltlen:64 -md sha512", "sha-512", "rsa-pss" },
    { "ecdsa", "", "sha-256", "ecdsa" },
    { "ec384", "-md sha384", "sha-384", "ecdsa" },
    { "ec521", "-md sha512", "sha-512", "ecdsa" },
    { "alice", "-keyid", "sha-256", "rsa" },
};

START_TEST(test_pass_algorithms)
{
    char extra[1200], from[128], serial[64];
    size_t n;
    vrun_t r;

    snprintf(extra, sizeof(extra), "-certfile %s/inter.crt %s", pki,
             algs[_i].extra);
    unsigned char *cms = ossl_sign("alg.der", algs[_i].user, extra, &n);
    snprintf(from, sizeof(from), "%s@example.org", algs[_i].user);
    vrun_init(&r, from);
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    ck_assert_str_eq(r.out[0].identifier, from);
    serial_of(algs[_i].user, serial, sizeof(serial));
    ck_assert_str_eq(r.out[0].serial, serial);
    ck_assert_str_eq(r.out[0].issuer,
                     "CN=Test Intermediate CA,O=smime-milter test");
    ck_assert_str_eq(r.out[0].digest, algs[_i].digest);
    ck_assert_str_eq(r.out[0].sigalg, algs[_i].sigalg);
    free(cms);
}
END_TEST

/* OpenSSL 3.0 cannot make Ed25519 CMS: certtool (RFC 8419, SHA-512). */
START_TEST(test_pass_ed25519)
{
    char pem[1100], der[1100];
    size_t n;
    vrun_t r;

    snprintf(pem, sizeof(pem), "%s/ed.pem", work);
    snprintf(der, sizeof(der), "%s/ed.der", work);
    ck_assert_int_eq(run("%s --p7-detached-sign --p7-time "
        "--load-privkey '%s/ed25519.key' --load-certificate "
        "'%s/ed25519.chain.pem' --infile '%s/msg.txt' --outfile '%s' "
        ">/dev/null 2>&1 && %s cms -cmsout -inform PEM -in '%s' "
        "-outform DER -out '%s'", certtool_bin, pki, pki, work, pem,
        openssl_bin, pem, der), 0);
    unsigned char *cms = slurp(der, &n);
    vrun_init(&r, "ed25519@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    ck_assert_str_eq(r.out[0].sigalg, "ed25519");
    ck_assert_str_eq(r.out[0].digest, "sha-512");
    /* and the same signature over other content is caught */
    vrun_init(&r, "ed25519@example.org");
    ck_assert_uint_eq(verify_with(&r, "x\r\n", 3, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "content altered");
    free(cms);
}
END_TEST

/* ---- tampering ---- */

static unsigned char *alice_sig(const char *extra, size_t *n)
{
    char e[1200];
    snprintf(e, sizeof(e), "-certfile %s/inter.crt %s", pki, extra);
    return ossl_sign("alice.der", "alice", e, n);
}

START_TEST(test_tampered_content)
{
    char body[256];
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    ck_assert_uint_lt(content_len, sizeof(body));
    memcpy(body, content, content_len);
    body[content_len - 4] ^= 0x20;            /* "signed" -> "signeD" */
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify_with(&r, body, content_len, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "content altered");
    ck_assert_str_eq(r.out[0].identifier, "alice@example.org");
    free(cms);
}
END_TEST

START_TEST(test_tampered_signature)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    /* No unsignedAttrs: the CMS ends with the signature value. */
    cms[n - 10] ^= 0x01;
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "bad signature");
    free(cms);
}
END_TEST

START_TEST(test_tampered_signed_attribute)
{
    static const unsigned char signing_time[] = {
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05
    };
    size_t n, i;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    for (i = 0; i + sizeof(signing_time) < n; i++)
        if (memcmp(cms + i, signing_time, sizeof(signing_time)) == 0)
            break;
    ck_assert_uint_lt(i + sizeof(signing_time) + 8, n);
    /* SET { UTCTime "YYMMDD..." }: change a digit of the year. */
    i += sizeof(signing_time);
    ck_assert_uint_eq(cms[i], 0x31);
    ck_assert_uint_eq(cms[i + 2], 0x17);
    cms[i + 5] ^= 0x01;
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "bad signature");
    free(cms);
}
END_TEST

/* ---- certificates and trust ---- */

START_TEST(test_expired)
{
    char e[1200];
    snprintf(e, sizeof(e), "-certfile %s/inter.crt", pki);
    expect_user("expired", e, SMIME_RESULT_FAIL, "expired certificate");
}
END_TEST

START_TEST(test_untrusted)
{
    char e[1200];
    snprintf(e, sizeof(e), "-certfile %s/other-root.crt", pki);
    expect_user("untrusted", e, SMIME_RESULT_FAIL,
                "untrusted root CN=Other Root,O=smime-milter test");
}
END_TEST

START_TEST(test_selfsigned)
{
    expect_user("selfsigned", "", SMIME_RESULT_FAIL,
                "untrusted root CN=Test User selfsigned,O=smime-milter test");
}
END_TEST

/* Without its intermediate, alice's issuer is unknown: named, and not
 * called a missing intermediate (it could as well be an unknown root). */
START_TEST(test_missing_intermediate)
{
    expect_user("alice", "", SMIME_RESULT_FAIL, "untrusted issuer "
                "CN=Test Intermediate CA,O=smime-milter test");
}
END_TEST

/* The intermediate is in the CMS, its root is not trusted: the root is
 * the unknown issuer, nothing is missing. */
START_TEST(test_unknown_root)
{
    char e[1200];
    snprintf(e, sizeof(e), "-certfile %s/other-inter.crt", pki);
    expect_user("stranger", e, SMIME_RESULT_FAIL,
                "untrusted issuer CN=Other Root,O=smime-milter test");
}
END_TEST

START_TEST(test_noeku)
{
    char e[1200];
    snprintf(e, sizeof(e), "-certfile %s/inter.crt", pki);
    expect_user("noeku", e, SMIME_RESULT_FAIL, "no emailProtection");
}
END_TEST

START_TEST(test_nokeyusage)
{
    char e[1200];
    snprintf(e, sizeof(e), "-certfile %s/inter.crt", pki);
    expect_user("nokeyusage", e, SMIME_RESULT_FAIL, "wrong key usage");
}
END_TEST

START_TEST(test_revoked)
{
    char e[1200], crl[1100];
    size_t n;
    vrun_t r;

    snprintf(e, sizeof(e), "-certfile %s/inter.crt", pki);
    snprintf(crl, sizeof(crl), "%s/crl.pem", pki);
    unsigned char *cms = ossl_sign("revoked.der", "revoked", e, &n);
    vrun_init(&r, "revoked@example.org");
    r.crl = crl;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "revoked certificate");
    /* Without the CRL nothing says it is revoked. */
    vrun_init(&r, "revoked@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    free(cms);

    /* The CRL does not touch others. */
    cms = alice_sig("", &n);
    vrun_init(&r, "alice@example.org");
    r.crl = crl;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    free(cms);
}
END_TEST

START_TEST(test_crl_unreadable)
{
    char crl[1100];
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    snprintf(crl, sizeof(crl), "%s/no-such-crl.pem", work);
    vrun_init(&r, "alice@example.org");
    r.crl = crl;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_TEMPERROR, "CRL unavailable");
    /* A failure found before stays what it is. */
    vrun_init(&r, "bob@example.org");
    r.crl = crl;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_POLICY, "From mismatch");
    free(cms);
}
END_TEST

/* ---- policy ---- */

START_TEST(test_from_mismatch)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    vrun_init(&r, "bob@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_POLICY, "From mismatch");
    ck_assert_str_eq(r.out[0].identifier, "alice@example.org");

    vrun_init(&r, "ALICE@Example.ORG");           /* case-insensitive */
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");

    vrun_init(&r, "bob@example.org");
    r.pol.require_from_match = 0;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    ck_assert_str_eq(r.out[0].identifier, "alice@example.org");
    free(cms);
}
END_TEST

START_TEST(test_sha1)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("-md sha1", &n);

    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_POLICY, "SHA-1 signature");
    ck_assert_str_eq(r.out[0].digest, "sha-1");
    vrun_init(&r, "alice@example.org");
    r.pol.allow_sha1 = 1;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    /* a SHA-1 signature that does not verify is a bad signature */
    cms[n - 10] ^= 0x01;
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "bad signature");
    free(cms);
}
END_TEST

START_TEST(test_weak_key)
{
    char e[1200];
    size_t n;
    vrun_t r;

    snprintf(e, sizeof(e), "-certfile %s/inter.crt", pki);
    expect_user("weak", e, SMIME_RESULT_POLICY, "weak key");
    unsigned char *cms = ossl_sign("weak.der", "weak", e, &n);
    vrun_init(&r, "weak@example.org");
    r.pol.min_rsa_bits = 1024;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    free(cms);
}
END_TEST

/* ---- malformed input ---- */

START_TEST(test_garbage_and_truncated)
{
    unsigned char junk[300];
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, junk, sizeof(junk)), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "malformed CMS");

    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, junk, 0), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "malformed CMS");

    /* Every truncation is malformed, never a crash or a pass. */
    for (size_t len = 0; len < n; len += (len < 64 ? 1 : 97)) {
        vrun_init(&r, "alice@example.org");
        ck_assert_uint_eq(verify(&r, cms, len), 1);
        ck_assert_int_eq(r.out[0].result, SMIME_RESULT_PERMERROR);
    }
    free(cms);
}
END_TEST

START_TEST(test_no_signer_certificate)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("-nocerts", &n);

    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "no signer certificate");
    free(cms);
}
END_TEST

START_TEST(test_enveloped_is_none)
{
    char path[1100];
    size_t n;
    vrun_t r;

    snprintf(path, sizeof(path), "%s/env.der", work);
    ck_assert_int_eq(run("%s cms -encrypt -binary -in '%s/msg.txt' "
                         "-outform DER -out '%s' '%s/bob.crt'",
                         openssl_bin, work, path, pki), 0);
    unsigned char *cms = slurp(path, &n);
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 0);
    /* also when it is over the size limit */
    vrun_init(&r, "alice@example.org");
    r.pol.max_cms_size = 100;
    ck_assert_uint_eq(verify(&r, cms, n), 0);
    free(cms);
}
END_TEST

START_TEST(test_cms_too_large)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);

    vrun_init(&r, "alice@example.org");
    r.pol.max_cms_size = n - 1;
    r.chunk = 100;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "CMS too large");
    vrun_init(&r, "alice@example.org");
    r.pol.max_cms_size = n;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    free(cms);
}
END_TEST

START_TEST(test_limits_and_unsupported)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("", &n);        /* alice + inter */

    vrun_init(&r, "alice@example.org");
    r.pol.max_certs = 1;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "too many certificates");
    vrun_init(&r, "alice@example.org");
    r.pol.max_chain = 1;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_FAIL, "certificate chain too long");
    vrun_init(&r, "alice@example.org");
    r.pol.max_chain = 2;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    free(cms);

    /* SHA3 is not among the digests we stream */
    cms = alice_sig("-md sha3-256", &n);
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "unsupported algorithm");
    free(cms);
}
END_TEST

/* ---- BER, opaque, several signers, chunking ---- */

START_TEST(test_ber_indefinite)
{
    size_t n;
    vrun_t r;
    unsigned char *cms = alice_sig("-stream", &n);

    ck_assert_uint_eq(cms[0], 0x30);
    ck_assert_uint_eq(cms[1], 0x80);               /* indefinite length */
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
    free(cms);
}
END_TEST

START_TEST(test_opaque)
{
    static const char *const opts[] = { "-nodetach", "-nodetach -stream" };
    size_t n;
    vrun_t r;

    for (int i = 0; i < 2; i++) {
        unsigned char *cms = alice_sig(opts[i], &n);
        vrun_init(&r, "alice@example.org");
        r.opaque = 1;
        ck_assert_uint_eq(verify(&r, cms, n), 1);
        expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
        /* change a byte of the encapsulated content */
        unsigned char *p = memmem(cms, n, "this is signed", 14);
        ck_assert_ptr_nonnull(p);
        p[0] = 'T';
        vrun_init(&r, "alice@example.org");
        r.opaque = 1;
        r.chunk = 7;
        ck_assert_uint_eq(verify(&r, cms, n), 1);
        expect(&r.out[0], SMIME_RESULT_FAIL, "content altered");
        free(cms);
    }
    /* a detached signature handed over as opaque has no content */
    unsigned char *cms = alice_sig("", &n);
    vrun_init(&r, "alice@example.org");
    r.opaque = 1;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "malformed CMS");
    free(cms);
}
END_TEST

static const smime_signer_result_t *by_id(const vrun_t *r, size_t n,
                                          const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r->out[i].identifier, id) == 0)
            return &r->out[i];
    ck_abort_msg("no result for %s", id);
    return NULL;
}

START_TEST(test_several_signers)
{
    char e[6000];
    size_t n;
    vrun_t r;

    snprintf(e, sizeof(e), "-certfile %s/inter.crt -signer %s/ecdsa.crt "
             "-inkey %s/ecdsa.key -signer %s/expired.crt -inkey %s/expired.key",
             pki, pki, pki, pki, pki);
    unsigned char *cms = ossl_sign("multi.der", "alice", e, &n);
    vrun_init(&r, "alice@example.org");
    ck_assert_uint_eq(verify(&r, cms, n), 3);
    expect(by_id(&r, 3, "alice@example.org"), SMIME_RESULT_PASS,
           "signature verified");
    expect(by_id(&r, 3, "ecdsa@example.org"), SMIME_RESULT_POLICY,
           "From mismatch");
    expect(by_id(&r, 3, "expired@example.org"), SMIME_RESULT_FAIL,
           "expired certificate");

    vrun_init(&r, "alice@example.org");
    r.pol.max_signers = 2;
    ck_assert_uint_eq(verify(&r, cms, n), 1);
    expect(&r.out[0], SMIME_RESULT_PERMERROR, "too many signers");
    free(cms);
}
END_TEST

START_TEST(test_one_byte_chunks)
{
    char e[4000];
    size_t n;
    vrun_t whole, bytes;
    /* several signers and BER, so that every path sees split input */
    snprintf(e, sizeof(e), "-stream -certfile %s/inter.crt "
             "-signer %s/ec384.crt -inkey %s/ec384.key", pki, pki, pki);
    unsigned char *cms = ossl_sign("chunks.der", "alice", e, &n);

    vrun_init(&whole, "alice@example.org");
    vrun_init(&bytes, "alice@example.org");
    bytes.chunk = 1;
    ck_assert_uint_eq(verify(&whole, cms, n), 2);
    ck_assert_uint_eq(verify(&bytes, cms, n), 2);
    ck_assert_mem_eq(whole.out, bytes.out, 2 * sizeof(whole.out[0]));
    expect(by_id(&bytes, 2, "alice@example.org"), SMIME_RESULT_PASS,
           "signature verified");
    free(cms);
}
END_TEST

/* Content held until the CMS names its digest (up to the policy's
 * hold_max, by default SMIME_VERIFY_HOLD_MAX) and content hashed as it
 * streams with every digest (one byte more, or a hold_max of 1000): all
 * pass, in any chunking, and a changed first or last byte is "content
 * altered" in all. */
static const struct {
    size_t size;
    const char *md, *digest;
} holds[] = {
    { SMIME_VERIFY_HOLD_MAX, "", "sha-256" },
    { SMIME_VERIFY_HOLD_MAX, "-md sha512", "sha-512" },
    { SMIME_VERIFY_HOLD_MAX + 1, "", "sha-256" },
    { SMIME_VERIFY_HOLD_MAX + 1, "-md sha384", "sha-384" },
};

START_TEST(test_held_or_streamed)
{
    static const size_t chunks[] = { 0, 1000, 65536 };
    size_t size = holds[_i].size, n;
    char path[1100], out[1100];
    char *body = malloc(size);
    FILE *f;
    vrun_t r;

    ck_assert_ptr_nonnull(body);
    for (size_t k = 0; k < size; k++)      /* 78-octet lines with CRLF */
        body[k] = k % 80 == 78 ? '\r' : k % 80 == 79 ? '\n' :
                  (char)('a' + k % 26);
    snprintf(path, sizeof(path), "%s/held.txt", work);
    snprintf(out, sizeof(out), "%s/held.der", work);
    ck_assert_ptr_nonnull(f = fopen(path, "wb"));
    ck_assert_uint_eq(fwrite(body, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(run("%s cms -sign -binary -in '%s' -signer '%s/alice.crt' "
                         "-inkey '%s/alice.key' -certfile '%s/inter.crt' %s "
                         "-outform DER -out '%s' 2>/dev/null", openssl_bin,
                         path, pki, pki, pki, holds[_i].md, out), 0);
    unsigned char *cms = slurp(out, &n);
    for (size_t c = 0; c < 2 * sizeof(chunks) / sizeof(chunks[0]); c++) {
        size_t k = c % (sizeof(chunks) / sizeof(chunks[0]));
        /* the second round: a policy that holds at most 1000 bytes */
        size_t hold = c == k ? SMIME_VERIFY_HOLD_MAX : 1000;
        vrun_init(&r, "alice@example.org");
        ck_assert_uint_eq(r.pol.hold_max, SMIME_VERIFY_HOLD_MAX);
        r.pol.hold_max = hold;
        r.chunk = chunks[k];
        ck_assert_uint_eq(verify_with(&r, body, size, cms, n), 1);
        expect(&r.out[0], SMIME_RESULT_PASS, "signature verified");
        ck_assert_str_eq(r.out[0].digest, holds[_i].digest);
        for (int end = 0; end < 2; end++) {
            size_t at = end ? size - 3 : 0;
            body[at] ^= 0x20;
            vrun_init(&r, "alice@example.org");
            r.pol.hold_max = hold;
            r.chunk = chunks[k];
            ck_assert_uint_eq(verify_with(&r, body, size, cms, n), 1);
            expect(&r.out[0], SMIME_RESULT_FAIL, "content altered");
            body[at] ^= 0x20;
        }
    }
    free(cms);
    free(body);
}
END_TEST

/* One trust store (with a CRL) shared by threads, each with its own
 * verify contexts: every run gives the same two results. */
struct thread_arg {
    const smime_trust_t *trust;
    const unsigned char *cms;
    size_t n;
    int good;
};

static void *thread_verify(void *p)
{
    struct thread_arg *a = p;
    const char *from = "alice@example.org";
    smime_policy_t pol;

    smime_policy_default(&pol);
    for (int i = 0; i < 25; i++) {
        smime_signer_result_t r[2];
        smime_verify_t *v = smime_verify_new(a->trust, &pol, 1);
        if (v == NULL)
            return NULL;
        smime_verify_content(v, content, content_len);
        smime_verify_cms(v, a->cms, a->n);
        size_t k = smime_verify_finish(v, &from, 1, r, 2);
        smime_verify_free(v);
        int pass = 0, revoked = 0;
        for (size_t j = 0; j < k; j++) {
            pass += r[j].result == SMIME_RESULT_PASS;
            revoked += strcmp(r[j].reason, "revoked certificate") == 0;
        }
        a->good += k == 2 && pass == 1 && revoked == 1;
    }
    return NULL;
}

START_TEST(test_threads_share_trust)
{
    char e[4000], path[1100], err[512];
    struct thread_arg args[4];
    pthread_t th[4];
    size_t n;

    snprintf(e, sizeof(e), "-certfile %s/inter.crt -signer %s/revoked.crt "
             "-inkey %s/revoked.key", pki, pki, pki);
    unsigned char *cms = ossl_sign("threads.der", "alice", e, &n);
    smime_trust_t *t = smime_trust_new();
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);
    snprintf(path, sizeof(path), "%s/crl.pem", pki);
    ck_assert_int_eq(smime_trust_add_crl(t, path, err, sizeof(err)), 1);
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){ t, cms, n, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_verify,
                                        &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].good, 25);
    }
    smime_trust_free(t);
    free(cms);
}
END_TEST

/* ---- the algorithm table ---- */

/* Each row's two OID encodings agree (the dotted form through our DER
 * writer), rows are in id order, (kind, OID) is unique, and the
 * lookups find what verify and sign ask for. */
START_TEST(test_alg_table)
{
    for (int i = 0; i < SMIME_ALG_COUNT; i++) {
        const struct smime_alg *a = smime_alg((enum smime_alg_id)i);
        derw_t w;

        ck_assert_int_eq(a->id, i);
        ck_assert_ptr_nonnull(a->name);
        ck_assert_ptr_nonnull(a->asn1);
        derw_init(&w);
        derw_oid(&w, a->dotted);
        ck_assert(!derw_failed(&w));
        ck_assert_msg(w.len == a->derlen + 2 && w.buf[0] == DER_OID &&
                      w.buf[1] == a->derlen &&
                      memcmp(w.buf + 2, a->der, a->derlen) == 0,
                      "%s: OID bytes do not match %s", a->asn1, a->dotted);
        derw_free(&w);
        ck_assert_ptr_eq(smime_alg_by_oid(a->kind, a->der, a->derlen), a);
        if (a->kind == SMIME_ALG_KIND_CIPHER ||
            a->kind == SMIME_ALG_KIND_KEY_WRAP)
            ck_assert_uint_gt(a->keylen, 0);
    }
    /* one OID, two kinds */
    ck_assert_ptr_ne(smime_alg_by_oid(SMIME_ALG_KIND_SIGNATURE,
                                      smime_alg(SMIME_ALG_KT_RSA)->der,
                                      smime_alg(SMIME_ALG_KT_RSA)->derlen),
                     smime_alg(SMIME_ALG_KT_RSA));
    ck_assert_ptr_null(smime_alg_by_oid(SMIME_ALG_KIND_DIGEST,
                                        smime_alg(SMIME_ALG_RSA)->der,
                                        smime_alg(SMIME_ALG_RSA)->derlen));
}
END_TEST

/* GnuTLS is the judge of the ids and OIDs it knows. */
START_TEST(test_alg_table_gnutls)
{
    for (int d = 0; d < CMS_DIG_COUNT; d++) {
        const struct smime_alg *a = smime_alg_digest((cms_digest_t)d);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->digest, d);
        ck_assert_str_eq(gnutls_digest_get_oid(a->gnutls), a->dotted);
        ck_assert_ptr_eq(smime_alg_by_gnutls(SMIME_ALG_KIND_DIGEST,
                                             a->gnutls), a);
        ck_assert_ptr_eq(smime_alg_by_name(SMIME_ALG_KIND_DIGEST, a->name),
                         a);
    }
    ck_assert_ptr_null(smime_alg_digest(CMS_DIG_NONE));
    ck_assert_ptr_eq(smime_alg_by_name(SMIME_ALG_KIND_DIGEST, "SHA-384"),
                     smime_alg(SMIME_ALG_SHA384));
    ck_assert_str_eq(cms_digest_name(CMS_DIG_SHA512), "sha-512");
    /* signatures that fix their hash: GnuTLS names the same OID */
    for (int i = 0; i < SMIME_ALG_COUNT; i++) {
        const struct smime_alg *a = smime_alg((enum smime_alg_id)i);
        if (a->kind != SMIME_ALG_KIND_SIGNATURE)
            continue;
        ck_assert_ptr_nonnull(smime_alg_signature(a->sigkind, CMS_DIG_NONE));
        if (a->digest == CMS_DIG_NONE)
            continue;
        int sign = smime_alg_gnutls_sign(a,
                                         smime_alg_digest(a->digest)->gnutls);
        ck_assert_msg(sign != GNUTLS_SIGN_UNKNOWN, "%s", a->asn1);
        ck_assert_str_eq(gnutls_sign_get_oid(sign), a->dotted);
        ck_assert_ptr_eq(smime_alg_signature(a->sigkind, a->digest), a);
    }
    ck_assert_str_eq(cms_sigkind_name(CMS_SIG_RSA_PSS), "rsa-pss");
    ck_assert_str_eq(cms_sigkind_name(CMS_SIG_UNKNOWN), "");
    ck_assert(smime_alg_key_ok(smime_alg(SMIME_ALG_RSA_PSS), GNUTLS_PK_RSA));
    ck_assert(!smime_alg_key_ok(smime_alg(SMIME_ALG_RSA), GNUTLS_PK_ECDSA));
    ck_assert_int_eq(smime_alg_gnutls_sign(smime_alg(SMIME_ALG_ED25519),
                                           GNUTLS_DIG_SHA512),
                     GNUTLS_SIGN_EDDSA_ED25519);
    for (int i = 0; i < SMIME_ALG_COUNT; i++) {
        const struct smime_alg *a = smime_alg((enum smime_alg_id)i);
        if (a->kind == SMIME_ALG_KIND_CIPHER)
            ck_assert_msg(gnutls_cipher_get_key_size(
                              (gnutls_cipher_algorithm_t)a->gnutls) ==
                          a->keylen, "%s", a->asn1);
    }
}
END_TEST

/* The strerror of worker threads: the C library's text, from its
 * thread-safe form; never NULL, also for an unknown value. */
START_TEST(test_strerror)
{
    char buf[128];

    ck_assert_str_eq(smime_strerror(ENOENT, buf, sizeof buf),
                     "No such file or directory");
    ck_assert_str_eq(smime_strerror(ENOMEM, buf, sizeof buf),
                     "Cannot allocate memory");
    ck_assert_ptr_nonnull(strstr(smime_strerror(98765, buf, sizeof buf),
                                 "98765"));
}
END_TEST

/* ---- reader limits, trust store, certificate helpers ---- */

START_TEST(test_der_limits)
{
    unsigned char deep[2 * 100 + 2];
    der_cur_t c;
    der_tlv_t t;

    /* 100 nested indefinite SEQUENCEs: rejected, not a stack overflow */
    for (int i = 0; i < 100; i++) {
        deep[2 * i] = 0x30;
        deep[2 * i + 1] = 0x80;
    }
    deep[200] = deep[201] = 0;
    der_cur_init(&c, deep, sizeof(deep));
    ck_assert_int_eq(der_next(&c, &t), -1);

    /* a length beyond the buffer, and one that overflows size_t */
    static const unsigned char big[] = { 0x04, 0x84, 0x7f, 0xff, 0xff, 0xff, 0 };
    static const unsigned char huge[] = { 0x04, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    der_cur_init(&c, big, sizeof(big));
    ck_assert_int_eq(der_next(&c, &t), -1);
    der_cur_init(&c, huge, sizeof(huge));
    ck_assert_int_eq(der_next(&c, &t), -1);

    /* constructed OCTET STRING segments come out in order */
    static const unsigned char seg[] = { 0x24, 0x80, 0x04, 0x02, 'a', 'b',
        0x24, 0x80, 0x04, 0x01, 'c', 0, 0, 0x04, 0x00, 0, 0 };
    der_cur_init(&c, seg, sizeof(seg));
    ck_assert_int_eq(der_next(&c, &t), 1);
    ck_assert_uint_eq(t.total, sizeof(seg));
    ck_assert_uint_eq(cms_peek_type(seg, sizeof(seg)), CMS_MALFORMED);
}
END_TEST

START_TEST(test_trust_errors)
{
    char err[512], path[1100];
    smime_trust_t *t = smime_trust_new();

    ck_assert_int_eq(smime_trust_add_anchors(t, "/nonexistent/roots.pem",
                                             err, sizeof(err)), -1);
    ck_assert_str_eq(err, "cannot read /nonexistent/roots.pem: "
                          "No such file or directory");
    snprintf(path, sizeof(path), "%s/msg.txt", work);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no PEM certificate found"));
    ck_assert_int_eq(smime_trust_degraded(t), 0);
    snprintf(path, sizeof(path), "%s/crl.pem", pki);
    ck_assert_int_eq(smime_trust_add_crl(t, path, err, sizeof(err)), 1);
    ck_assert_int_eq(smime_trust_degraded(t), 0);
    snprintf(path, sizeof(path), "%s/msg.txt", work);
    ck_assert_int_eq(smime_trust_add_crl(t, path, err, sizeof(err)), -1);
    ck_assert_int_eq(smime_trust_degraded(t), 1);
    smime_trust_free(t);
    smime_trust_free(NULL);
    smime_verify_free(NULL);
}
END_TEST

START_TEST(test_cert_helpers)
{
    char path[1100], buf[512], serial[64];
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    size_t n;
    char *addrs[4];

    snprintf(path, sizeof(path), "%s/bob.crt", pki);
    d.data = slurp(path, &n);
    d.size = (unsigned)n;
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
    free(d.data);
    smime_cert_serial_hex(crt, buf, sizeof(buf));
    serial_of("bob", serial, sizeof(serial));
    ck_assert_str_eq(buf, serial);
    smime_cert_issuer_dn(crt, buf, sizeof(buf));
    ck_assert_str_eq(buf, "CN=Test Intermediate CA,O=smime-milter test");
    ck_assert_uint_eq(smime_cert_addresses(crt, addrs, 4), 1);
    ck_assert_str_eq(addrs[0], "bob@example.org");
    smime_cert_addresses_free(addrs, 1);
    ck_assert_int_eq(smime_cert_has_address(crt, "Bob@Example.org"), 1);
    ck_assert_int_eq(smime_cert_has_address(crt, "alice@example.org"), 0);
    ck_assert_int_eq(smime_cert_check_usage(crt), SMIME_CERT_OK);
    ck_assert_int_eq(smime_cert_check_key(crt, 2048), SMIME_CERT_OK);
    ck_assert_int_eq(smime_cert_check_key(crt, 3072), SMIME_CERT_WEAK_KEY);
    /* 2020-01-01 .. 2099-12-31 */
    ck_assert_int_eq(smime_cert_check_time(crt, 1577836800 + 86400),
                     SMIME_CERT_OK);
    ck_assert_int_eq(smime_cert_check_time(crt, 1577836800 - 86400),
                     SMIME_CERT_NOT_YET_VALID);
    ck_assert_int_eq(smime_cert_check_time(crt, (time_t)4102444800LL + 86400),
                     SMIME_CERT_EXPIRED);
    gnutls_x509_crt_deinit(crt);
}
END_TEST

/* One pass by alice, with or without asking for the harvest first. */
static int harvest_of_pass(int want, smime_harvest_t *h)
{
    char path[1100], err[512];
    const char *from = "alice@example.org";
    smime_signer_result_t r[2];
    smime_policy_t pol;
    size_t n;
    unsigned char *cms = alice_sig("", &n);
    smime_trust_t *t = smime_trust_new();

    ck_assert_ptr_nonnull(t);
    snprintf(path, sizeof(path), "%s/roots.pem", pki);
    ck_assert_int_eq(smime_trust_add_anchors(t, path, err, sizeof(err)), 1);
    smime_policy_default(&pol);
    smime_verify_t *v = smime_verify_new(t, &pol, 1);
    ck_assert_ptr_nonnull(v);
    if (want)
        smime_verify_want_harvest(v);
    ck_assert_int_eq(smime_verify_content(v, content, content_len), 0);
    ck_assert_int_eq(smime_verify_cms(v, cms, n), 0);
    ck_assert_uint_eq(smime_verify_finish(v, &from, 1, r, 2), 1);
    ck_assert_msg(r[0].result == SMIME_RESULT_PASS, "%s", r[0].reason);
    int got = smime_verify_harvest(v, 0, h);
    if (got == 1)
        ck_assert_uint_gt(h->cert_len, 0);
    smime_verify_free(v);
    smime_trust_free(t);
    free(cms);
    return got;
}

/* The harvest pick is made only when asked for before finish(). */
START_TEST(test_harvest_only_when_asked)
{
    smime_harvest_t h;

    ck_assert_int_eq(harvest_of_pass(1, &h), 1);
    ck_assert_int_eq(harvest_of_pass(0, &h), 0);
    ck_assert_str_eq(h.why, "not asked");
}
END_TEST

/* signingTime (RFC 5652 11.3) and SMIMEEncryptionKeyPreference (RFC 8551
 * 2.5.3) as harvesting reads them: DER forms only, all three CHOICEs. */
START_TEST(test_harvest_attrs)
{
    static const uint8_t utc[] = "\x17\x0d" "200601120000Z";
    static const uint8_t utc19[] = "\x17\x0d" "991231235959Z";
    static const uint8_t gen[] = "\x18\x0f" "20500101000001Z";
    static const uint8_t frac[] = "\x18\x11" "20500101000001.5Z";
    static const uint8_t feb30[] = "\x17\x0d" "200230120000Z";
    static const uint8_t local[] = "\x17\x0d" "2006011200000";
    int64_t t = -1;

    ck_assert_int_eq(cms_time_parse((cms_blob_t){ utc, 15 }, &t), 0);
    ck_assert_int_eq(t, 1591012800);           /* 2020-06-01T12:00:00Z */
    ck_assert_int_eq(cms_time_parse((cms_blob_t){ utc19, 15 }, &t), 0);
    ck_assert_int_eq(t, 946684799);            /* 1999-12-31T23:59:59Z */
    ck_assert_int_eq(cms_time_parse((cms_blob_t){ gen, 17 }, &t), 0);
    ck_assert_int_eq(t, 2524608001LL);         /* 2050-01-01T00:00:01Z */
    ck_assert_int_eq(cms_time_parse((cms_blob_t){ frac, 19 }, &t), -1);
    ck_assert_int_eq(cms_time_parse((cms_blob_t){ feb30, 15 }, &t), -1);
    ck_assert_int_eq(cms_time_parse((cms_blob_t){ local, 15 }, &t), -1);
    ck_assert_int_eq(cms_time_parse((cms_blob_t){ utc, 14 }, &t), -1);

    /* [0] issuerAndSerialNumber: Name (empty SEQUENCE here), serial 0x1103 */
    static const uint8_t ias[] = { 0xa0, 0x06, 0x30, 0x00, 0x02, 0x02,
                                   0x11, 0x03 };
    /* [1] recipientKeyId: SKI, then a date */
    static const uint8_t rkid[] = { 0xa1, 0x15, 0x04, 0x02, 0xab, 0xcd,
        0x18, 0x0f, '2', '0', '2', '0', '0', '1', '0', '1', '0', '0', '0',
        '0', '0', '0', 'Z' };
    /* [2] subjectAltKeyIdentifier */
    static const uint8_t saki[] = { 0x82, 0x03, 0x01, 0x02, 0x03 };
    static const uint8_t bad_tag[] = { 0x83, 0x01, 0x00 };
    static const uint8_t empty_ski[] = { 0x82, 0x00 };
    static const uint8_t trailing[] = { 0x82, 0x01, 0x01, 0x00 };
    cms_keypref_t kp;

    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ ias, sizeof ias }, &kp),
                     0);
    ck_assert_int_eq(kp.is_ski, 0);
    ck_assert_uint_eq(kp.issuer.n, 2);
    ck_assert_uint_eq(kp.serial.n, 2);
    ck_assert_int_eq(kp.serial.p[0], 0x11);
    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ rkid, sizeof rkid },
                                       &kp), 0);
    ck_assert_int_eq(kp.is_ski, 1);
    ck_assert_uint_eq(kp.ski.n, 2);
    ck_assert_int_eq(kp.ski.p[1], 0xcd);
    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ saki, sizeof saki },
                                       &kp), 0);
    ck_assert_int_eq(kp.is_ski, 1);
    ck_assert_uint_eq(kp.ski.n, 3);
    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ bad_tag,
                                       sizeof bad_tag }, &kp), -1);
    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ empty_ski,
                                       sizeof empty_ski }, &kp), -1);
    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ trailing,
                                       sizeof trailing }, &kp), -1);
    ck_assert_int_eq(cms_keypref_parse((cms_blob_t){ ias, 5 }, &kp), -1);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("verify");

    tcase_add_unchecked_fixture(tc, setup_once, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_pass_algorithms, 0,
                        (int)(sizeof(algs) / sizeof(algs[0])));
    tcase_add_test(tc, test_pass_ed25519);
    tcase_add_test(tc, test_tampered_content);
    tcase_add_test(tc, test_tampered_signature);
    tcase_add_test(tc, test_tampered_signed_attribute);
    tcase_add_test(tc, test_expired);
    tcase_add_test(tc, test_untrusted);
    tcase_add_test(tc, test_selfsigned);
    tcase_add_test(tc, test_missing_intermediate);
    tcase_add_test(tc, test_unknown_root);
    tcase_add_test(tc, test_noeku);
    tcase_add_test(tc, test_nokeyusage);
    tcase_add_test(tc, test_revoked);
    tcase_add_test(tc, test_crl_unreadable);
    tcase_add_test(tc, test_from_mismatch);
    tcase_add_test(tc, test_sha1);
    tcase_add_test(tc, test_weak_key);
    tcase_add_test(tc, test_garbage_and_truncated);
    tcase_add_test(tc, test_no_signer_certificate);
    tcase_add_test(tc, test_enveloped_is_none);
    tcase_add_test(tc, test_cms_too_large);
    tcase_add_test(tc, test_limits_and_unsupported);
    tcase_add_test(tc, test_ber_indefinite);
    tcase_add_test(tc, test_opaque);
    tcase_add_test(tc, test_several_signers);
    tcase_add_test(tc, test_one_byte_chunks);
    tcase_add_loop_test(tc, test_held_or_streamed, 0,
                        (int)(sizeof(holds) / sizeof(holds[0])));
    tcase_add_test(tc, test_threads_share_trust);
    tcase_add_test(tc, test_der_limits);
    tcase_add_test(tc, test_alg_table);
    tcase_add_test(tc, test_alg_table_gnutls);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_trust_errors);
    tcase_add_test(tc, test_cert_helpers);
    tcase_add_test(tc, test_harvest_attrs);
    tcase_add_test(tc, test_harvest_only_when_asked);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, trust_tcase());
    suite_add_tcase(s, certcache_tcase());
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
