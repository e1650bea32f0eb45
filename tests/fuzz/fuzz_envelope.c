/*
 * fuzz_envelope.c - libFuzzer harness for CMS EnvelopedData and
 * AuthEnvelopedData decryption (crypto/envelope*.c, der.c).
 *
 * Input: 1 control byte, then the CMS (DER or BER).
 *   byte 0     bits 0-6: the CMS is fed in chunks of this many bytes
 *              (0: at once); bit 7: small limits (header 512 bytes,
 *              4 RecipientInfos)
 *   the rest   the CMS
 * When the environment variable SMIME_FUZZ_PKI names the test PKI, the
 * decryption keys of encrsa (RSA) and ecdh256 (EC P-256) are loaded and
 * tried on every recipient they match, so that fuzzed input reaches the
 * key unwrap and the content ciphers; run.sh seeds with the messages of
 * tests/fixtures/mkenc.sh.
 *
 * Invariants besides memory safety: statuses from the documented set;
 * every failure has a reason; the plaintext is never longer than the
 * input; after an error every call returns that error again.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "harness.h"
#include "envelope.h"

static struct {
    gnutls_x509_crt_t crt;
    gnutls_privkey_t key;
} keys[2];
static size_t nkeys;

int LLVMFuzzerInitialize(int *argc, char ***argv);

static gnutls_datum_t load(const char *path)
{
    gnutls_datum_t d = { NULL, 0 };
    if (gnutls_load_file(path, &d) < 0)
        d.data = NULL;
    return d;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *pki = getenv("SMIME_FUZZ_PKI");
    const char *users[] = { "encrsa", "ecdh256" };
    char path[4096];

    (void)argc;
    (void)argv;
    FUZZ_CHECK(gnutls_global_init() >= 0);
    if (pki == NULL || *pki == '\0')
        return 0;
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.crt", pki, users[i]);
        gnutls_datum_t c = load(path);
        snprintf(path, sizeof path, "%s/%s.key", pki, users[i]);
        gnutls_datum_t k = load(path);
        if (c.data != NULL && k.data != NULL &&
            gnutls_x509_crt_init(&keys[nkeys].crt) >= 0 &&
            gnutls_x509_crt_import(keys[nkeys].crt, &c,
                                   GNUTLS_X509_FMT_PEM) >= 0 &&
            gnutls_privkey_init(&keys[nkeys].key) >= 0 &&
            gnutls_privkey_import_x509_raw(keys[nkeys].key, &k,
                                           GNUTLS_X509_FMT_PEM, NULL, 0) >= 0)
            nkeys++;
        else
            fprintf(stderr, "fuzz_envelope: no key %s\n", users[i]);
        gnutls_free(c.data);
        gnutls_free(k.data);
    }
    return 0;
}

static int sink(void *arg, const void *p, size_t n)
{
    fuzz_buf_append(arg, p, n);
    return 0;
}

static void check_status(const smime_decrypt_t *d, smime_decrypt_status_t st)
{
    FUZZ_CHECK(st >= SMIME_DECRYPT_OK && st <= SMIME_DECRYPT_STATE);
    FUZZ_CHECK(st != SMIME_DECRYPT_SINK);       /* this sink never fails */
    if (st != SMIME_DECRYPT_OK && st != SMIME_DECRYPT_NEED_KEY)
        FUZZ_CHECK(smime_decrypt_error(d)[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smime_decrypt_limits_t small = { 512, 4 };
    struct fuzz_buf out = { NULL, 0, 0 };
    smime_decrypt_status_t st = SMIME_DECRYPT_OK;
    smime_decrypt_t *d;
    size_t chunk, off = 0;

    if (size < 1)
        return 0;
    chunk = data[0] & 0x7f;
    d = smime_decrypt_new(data[0] & 0x80 ? &small : NULL, sink, &out);
    FUZZ_CHECK(d != NULL);
    data++;
    size--;
    while (off < size && st == SMIME_DECRYPT_OK) {
        size_t k = chunk == 0 || chunk > size - off ? size - off : chunk;
        st = smime_decrypt_feed(d, data + off, k);
        off += k;
        check_status(d, st);
        if (st != SMIME_DECRYPT_NEED_KEY)
            continue;
        /* the first key named, else the first key (NO_RECIPIENT) */
        size_t i = 0;
        while (i + 1 < nkeys && !smime_decrypt_names(d, keys[i].crt))
            i++;
        if (nkeys == 0)
            break;                      /* no PKI: the header only */
        st = smime_decrypt_unwrap(d, keys[i].key, keys[i].crt);
        check_status(d, st);
        for (size_t j = 0; j < smime_decrypt_recipient_count(d); j++) {
            smime_decrypt_rid_t rid;
            FUZZ_CHECK(smime_decrypt_recipient(d, j, &rid) == 0);
            FUZZ_CHECK(rid.is_ski ? rid.ski != NULL || rid.ski_len == 0
                                  : rid.kind == SMIME_RI_OTHER ||
                                    (rid.issuer != NULL && rid.serial != NULL));
        }
    }
    if (st == SMIME_DECRYPT_OK) {
        st = smime_decrypt_finish(d);
        check_status(d, st);
    }
    if (st != SMIME_DECRYPT_OK && st != SMIME_DECRYPT_NEED_KEY &&
        st != SMIME_DECRYPT_NO_RECIPIENT) {
        /* errors are sticky */
        FUZZ_CHECK(smime_decrypt_feed(d, data, size) == st);
        FUZZ_CHECK(smime_decrypt_finish(d) == st);
    }
    FUZZ_CHECK(out.n <= size);
    smime_decrypt_free(d);
    free(out.p);
    return 0;
}
