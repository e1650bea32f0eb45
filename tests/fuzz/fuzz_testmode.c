/*
 * fuzz_testmode.c - libFuzzer harness for the whole inbound path:
 * smime-milter -t (milter/testmode.c) over the input as the message, so
 * header splitting, the session, inbound verification (MIME parser and
 * CMS verify together), the Authentication-Results header and the
 * output writer all run as in production.
 *
 * The configuration is made once: Mode vd (no Keystore: an enveloped
 * message is read up to its RecipientInfos, then left as it is),
 * AuthservID mx.test.example, the test PKI's roots.pem and crl.pem when
 * SMIME_FUZZ_PKI names it.
 * The message goes through a memfd; stdout (the resulting message) is
 * another memfd, read back after each run.
 *
 * Invariants besides memory safety: the exit code is 0, 69 or 75 (1
 * would mean the input could not be read or the output not written);
 * an accepted message's output starts with our Authentication-Results
 * header (AddNoneResult is on, so every message gets one), after the
 * mbox "From " line if the input has one.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "conf.h"
#include "harness.h"
#include "log.h"
#include "testmode.h"

#define AR "Authentication-Results: mx.test.example;"

static config_t *cfg;
static int in_fd = -1, out_fd = -1;
static char in_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *pki = getenv("SMIME_FUZZ_PKI");
    char conf[8192];
    int n;

    (void)argc;
    (void)argv;
    FUZZ_CHECK(gnutls_global_init() >= 0);
    log_open("fuzz_testmode", LOG_MAIL, LOG_ERR, 0, 0);
    n = snprintf(conf, sizeof conf,
                 "Socket inet:10025@127.0.0.1\nMode vd\n"
                 "AuthservID mx.test.example\nInternalHosts none\n");
    if (pki != NULL && *pki != '\0')
        n += snprintf(conf + n, sizeof conf - (size_t)n,
                      "TrustAnchorFile %s/roots.pem\nCRLFile %s/crl.pem\n",
                      pki, pki);
    else
        n += snprintf(conf + n, sizeof conf - (size_t)n,
                      "TrustSystemStore yes\n");
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof conf);
    cfg = config_load_string("fuzz.conf", conf, 0, NULL, NULL);
    FUZZ_CHECK(cfg != NULL);

    in_fd = memfd_create("fuzz-msg", 0);
    out_fd = memfd_create("fuzz-out", 0);
    FUZZ_CHECK(in_fd >= 0 && out_fd >= 0);
    snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
    fflush(stdout);
    FUZZ_CHECK(dup2(out_fd, STDOUT_FILENO) == STDOUT_FILENO);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char head[sizeof AR];

    FUZZ_CHECK(ftruncate(in_fd, 0) == 0);
    FUZZ_CHECK(pwrite(in_fd, data, size, 0) == (ssize_t)size);
    fflush(stdout);
    FUZZ_CHECK(ftruncate(out_fd, 0) == 0);
    FUZZ_CHECK(lseek(out_fd, 0, SEEK_SET) == 0);

    int rc = testmode_run(cfg, in_path, NULL, NULL, NULL, 0);
    fflush(stdout);
    FUZZ_CHECK(rc == 0 || rc == 69 || rc == 75);
    if (rc == 0) {
        /* after an mbox "From " line, which -t keeps where it was */
        ssize_t n = pread(out_fd, head, sizeof head - 1, 0);
        off_t at = 0;
        FUZZ_CHECK(n == (ssize_t)sizeof head - 1);
        if (memcmp(head, "From ", 5) == 0) {
            const uint8_t *nl = memchr(data, '\n', size);
            FUZZ_CHECK(nl != NULL);
            at = nl - data + 1;
            n = pread(out_fd, head, sizeof head - 1, at);
            FUZZ_CHECK(n == (ssize_t)sizeof head - 1);
        }
        FUZZ_CHECK(memcmp(head, AR, sizeof head - 1) == 0);
    }
    return 0;
}
