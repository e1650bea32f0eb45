/*
 * fuzz_config.c - libFuzzer harness for the smime-milter.conf(5) parser
 * (milter/conf.c).
 *
 * The input is the configuration file, bytes as they are (NULs, long
 * lines and all).  It is written to a memfd and loaded through its
 * /proc/self/fd path with config_load(), the function the daemon uses,
 * parse-only (CONFIG_NO_DERIVED: the file could name /dev/zero as a
 * trust anchor file); an odd-sized input also requires Socket.
 *
 * Invariants besides memory safety: a snapshot comes back exactly when
 * no problem was reported; every report starts with the file name (or,
 * when the input names an EncryptPolicyFile, with that file's: its
 * lines are reported as its own), then a colon; a
 * snapshot has sane values and survives ref/unref and InternalHosts
 * lookups.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "harness.h"

static int fd = -1;
static char path[64];

struct reports {
    unsigned n;
    int policy_file;            /* the input may name an EncryptPolicyFile */
};

static void report(void *arg, const char *msg)
{
    struct reports *r = arg;

    if (strncmp(msg, path, strlen(path)) == 0)
        FUZZ_CHECK(msg[strlen(path)] == ':');
    else
        FUZZ_CHECK(r->policy_file && strchr(msg, ':') != NULL);
    r->n++;
}

/* "EncryptPolicyFile" in any case anywhere in the input. */
static int names_policy_file(const uint8_t *data, size_t size)
{
    static const char key[] = "encryptpolicyfile";
    size_t k = sizeof key - 1;

    for (size_t i = 0; i + k <= size; i++)
        if (strncasecmp((const char *)data + i, key, k) == 0)
            return 1;
    return 0;
}

static void check_snapshot(config_t *c)
{
    static const char *const hosts[] = {
        "127.0.0.1", "::1", "192.0.2.1", "10.1.2.3", "2001:db8::1",
        "::ffff:127.0.0.1", "not an address", ""
    };

    FUZZ_CHECK(c->mode != 0 &&
               (c->mode & ~(CONFIG_MODE_VERIFY | CONFIG_MODE_SIGN |
                            CONFIG_MODE_DECRYPT | CONFIG_MODE_ENCRYPT)) == 0);
    FUZZ_CHECK(c->authserv_id != NULL);
    FUZZ_CHECK(c->spool_directory != NULL);
    for (size_t i = 0; i < c->n_trust_anchor_files; i++)
        FUZZ_CHECK(c->trust_anchor_files[i] != NULL);
    for (size_t i = 0; i < c->n_crl_files; i++)
        FUZZ_CHECK(c->crl_files[i] != NULL);
    for (size_t i = 0; i < c->n_internal_hosts; i++)
        FUZZ_CHECK(c->internal_hosts[i].prefix <= 128);
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        int r = config_is_internal(c, hosts[i]);
        FUZZ_CHECK(r == 0 || r == 1);
    }
    FUZZ_CHECK(config_ref(c) == c);
    config_unref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reports r = {0, names_policy_file(data, size)};

    if (fd < 0) {
        fd = memfd_create("fuzz-config", 0);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

    unsigned flags = CONFIG_NO_DERIVED | (size & 1 ? CONFIG_NEED_SOCKET : 0);
    config_t *c = config_load(path, flags, report, &r);
    FUZZ_CHECK((c != NULL) == (r.n == 0));
    if (c != NULL) {
        check_snapshot(c);
        config_unref(c);
    }
    return 0;
}
