/*
 * fuzz_cms.c - libFuzzer harness for CMS SignedData verification
 * (crypto/verify.c, cms.c, der.c, cert.c, trust.c).
 *
 * Input: 3 header bytes, the content, then the CMS.
 *   bytes 0-1  content length L (big-endian; cut to what is there)
 *   byte 2     bits 0-6: the CMS is fed in chunks of this many bytes
 *              (0: at once); bit 7: a strict policy with small limits
 *   L bytes    the detached content (already canonical)
 *   the rest   the CMS (DER or BER)
 * The CMS is verified twice: detached over the content, and as opaque
 * signed-data.  seedcms (tests/fuzz/seedcms.c) writes seeds in this
 * form from signed messages.
 *
 * The trust store is loaded once from the test PKI when the environment
 * variable SMIME_FUZZ_PKI names its directory (roots.pem, crl.pem), so
 * that valid signatures reach the chain and policy checks; without it
 * everything is untrusted.
 *
 * Invariants besides memory safety: at most max results; each result is
 * a real outcome (not none) with a NUL-terminated, non-empty reason;
 * pass needs a loaded trust store.
 */
#include "config.h"

#include <string.h>

#include <gnutls/gnutls.h>

#include "harness.h"
#include "verify.h"

#define MAX_OUT 4

static smime_trust_t *trust;
static int have_anchors;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *pki = getenv("SMIME_FUZZ_PKI");
    char path[4096], err[512];

    (void)argc;
    (void)argv;
    FUZZ_CHECK(gnutls_global_init() >= 0);
    trust = smime_trust_new();
    FUZZ_CHECK(trust != NULL);
    if (pki == NULL || *pki == '\0')
        return 0;
    snprintf(path, sizeof path, "%s/roots.pem", pki);
    if (smime_trust_add_anchors(trust, path, err, sizeof err) > 0)
        have_anchors = 1;
    else
        fprintf(stderr, "fuzz_cms: %s (running without anchors)\n", err);
    snprintf(path, sizeof path, "%s/crl.pem", pki);
    if (smime_trust_add_crl(trust, path, err, sizeof err) < 0)
        fprintf(stderr, "fuzz_cms: %s\n", err);
    return 0;
}

static int str_ok(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_results(const smime_signer_result_t *out, size_t n,
                          size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        const smime_signer_result_t *r = &out[i];
        FUZZ_CHECK(r->result > SMIME_RESULT_NONE &&
                   r->result <= SMIME_RESULT_PERMERROR);
        FUZZ_CHECK(r->result != SMIME_RESULT_NEUTRAL);
        FUZZ_CHECK(str_ok(r->reason, sizeof r->reason));
        FUZZ_CHECK(r->reason[0] != '\0');
        FUZZ_CHECK(str_ok(r->identifier, sizeof r->identifier));
        FUZZ_CHECK(str_ok(r->serial, sizeof r->serial));
        FUZZ_CHECK(str_ok(r->issuer, sizeof r->issuer));
        FUZZ_CHECK(str_ok(r->digest, sizeof r->digest));
        FUZZ_CHECK(str_ok(r->sigalg, sizeof r->sigalg));
        if (r->result == SMIME_RESULT_PASS)
            FUZZ_CHECK(have_anchors);
        FUZZ_CHECK(smime_result_name(r->result) != NULL);
    }
}

static void run(const smime_policy_t *pol, int detached,
                const uint8_t *content, size_t clen,
                const uint8_t *cms, size_t cmslen, size_t chunk)
{
    static const char *const addrs[] = { "alice@example.org",
                                         "Bob@Example.ORG" };
    smime_signer_result_t out[MAX_OUT];
    smime_verify_t *v = smime_verify_new(trust, pol, detached);

    FUZZ_CHECK(v != NULL);
    if (detached) {
        /* The content in two pieces: hashing must not care. */
        FUZZ_CHECK(smime_verify_content(v, content, clen / 2) == 0);
        FUZZ_CHECK(smime_verify_content(v, content + clen / 2,
                                        clen - clen / 2) == 0);
    }
    for (size_t off = 0; off < cmslen;) {
        size_t k = chunk == 0 || chunk > cmslen - off ? cmslen - off : chunk;
        FUZZ_CHECK(smime_verify_cms(v, cms + off, k) == 0);
        off += k;
    }
    memset(out, 0xa5, sizeof out);
    size_t n = smime_verify_finish(v, addrs, 2, out, MAX_OUT);
    check_results(out, n, MAX_OUT);
    smime_verify_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smime_policy_t pol;

    if (size < 3)
        return 0;
    size_t clen = (size_t)data[0] << 8 | data[1];
    unsigned ctl = data[2];
    data += 3;
    size -= 3;
    if (clen > size)
        clen = size;

    smime_policy_default(&pol);
    if (ctl & 0x80u) {
        pol.require_from_match = 0;
        pol.allow_sha1 = 1;
        pol.min_rsa_bits = 3072;
        pol.max_signers = 1;
        pol.max_certs = 2;
        pol.max_chain = 2;
        pol.max_cms_size = 1500;
    }
    run(&pol, 1, data, clen, data + clen, size - clen, ctl & 0x7fu);
    run(&pol, 0, NULL, 0, data + clen, size - clen, ctl & 0x7fu);
    return 0;
}
