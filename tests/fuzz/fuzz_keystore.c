/*
 * fuzz_keystore.c - libFuzzer harness for the CDB keystore reader
 * (crypto/keystore.c, the signer import of signer.c, tinycdb).
 *
 * The input is the keystore file.  It is written to a memfd (mode 0600,
 * as keystore_open() insists) and opened through /proc/self/fd; then
 * every record is walked with keystore_foreach(), and each address found
 * (and a few fixed ones) is looked up twice (the second time from the
 * cache), with every entry accessor, keystore_may_sign() and
 * keystore_check() called on what comes back.
 *
 * Invariants besides memory safety: lookup returns -1, 0 or 1 and an
 * entry exactly when it returns 1; the entry's address is the looked-up
 * address lower-cased; the cached entry is the same object.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "harness.h"
#include "keystore.h"

#define MAX_ADDRS 8

static int fd = -1;
static char path[64];

struct walk {
    char addrs[MAX_ADDRS][330];
    size_t n;
    size_t sink;
};

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(gnutls_global_init() >= 0);
    return 0;
}

/* looked_up: e came from keystore_lookup(), so its address is the
 * lower-cased key. */
static void use_entry(struct walk *w, const keystore_entry_t *e,
                      const char *address, int looked_up)
{
    char err[512];

    FUZZ_CHECK(strcasecmp(keystore_entry_address(e), address) == 0);
    for (const char *s = keystore_entry_address(e); looked_up && *s; s++)
        FUZZ_CHECK(!isupper((unsigned char)*s));
    size_t n = keystore_entry_nlogins(e);
    int internal = 0;
    for (size_t i = 0; i < n; i++) {
        const char *l = keystore_entry_login(e, i);
        FUZZ_CHECK(l != NULL && *l != '\0');
        if (strcmp(l, KEYSTORE_INTERNAL) == 0)
            internal = 1;           /* a word, not a login */
        else
            FUZZ_CHECK(keystore_may_sign(e, l) == 1);
    }
    FUZZ_CHECK(keystore_may_sign(e, NULL) == internal);
    FUZZ_CHECK(keystore_may_sign(e, "") == internal);
    w->sink += (size_t)keystore_may_sign(e, address);
    w->sink += (size_t)keystore_may_sign(e, "someone-else");
    /* 2030-01-01: inside the test PKI's validity, no clock involved.
     * Every credential is there; an entry may have no signer (only
     * decryption credentials, or none valid then). */
    const time_t t = (time_t)1893456000;
    size_t nc = keystore_entry_ncreds(e);
    FUZZ_CHECK(nc > 0);
    for (size_t i = 0; i < nc; i++) {
        const smime_signer_t *c = keystore_entry_cred(e, i);
        FUZZ_CHECK(c != NULL);
        FUZZ_CHECK(keystore_check(c, address, t, err, sizeof err) >= 0);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    }
    const smime_signer_t *s = keystore_entry_signer_at(e, t);
    int problems = keystore_entry_check(e, address, t, err, sizeof err);
    FUZZ_CHECK(problems >= 0);
    FUZZ_CHECK(s == NULL || problems == 0 ||
               strcasecmp(address, keystore_entry_address(e)) != 0);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
}

static int each(void *arg, const char *address, const keystore_entry_t *e,
                const char *err)
{
    struct walk *w = arg;

    FUZZ_CHECK(address != NULL);
    FUZZ_CHECK((e == NULL) == (err != NULL));
    if (e != NULL)
        use_entry(w, e, address, 0);
    if (w->n < MAX_ADDRS) {
        snprintf(w->addrs[w->n], sizeof w->addrs[0], "%s", address);
        w->n++;
    }
    return 0;
}

static void lookup(keystore_t *ks, struct walk *w, const char *address)
{
    keystore_entry_t *e1, *e2;
    char err[512];

    int r = keystore_lookup(ks, address, &e1, err, sizeof err);
    FUZZ_CHECK(r >= -1 && r <= 1);
    FUZZ_CHECK((r == 1) == (e1 != NULL));
    if (e1 != NULL)
        use_entry(w, e1, address, 1);
    int r2 = keystore_lookup(ks, address, &e2, err, sizeof err);
    FUZZ_CHECK(r2 == r);
    FUZZ_CHECK(e2 == e1);
    keystore_entry_free(e2);
    keystore_entry_free(e1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {
        "alice@example.org", "ALICE@EXAMPLE.ORG", "", "x", "@"
    };
    struct walk w;
    char err[512];

    if (fd < 0) {
        fd = memfd_create("fuzz-keystore", 0);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(fchmod(fd, 0600) == 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

    keystore_t *ks = keystore_open(path, err, sizeof err);
    if (ks == NULL) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        return 0;
    }
    memset(&w, 0, sizeof w);
    int r = keystore_foreach(ks, each, &w);
    FUZZ_CHECK(r == 0 || r == -1);
    for (size_t i = 0; i < w.n; i++)
        lookup(ks, &w, w.addrs[i]);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        lookup(ks, &w, fixed[i]);
    FUZZ_CHECK(keystore_changed(ks) == 0);
    keystore_free(ks);
    return 0;
}
