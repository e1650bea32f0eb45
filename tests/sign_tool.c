/*
 * sign_tool.c - test driver for crypto/sign.h: sign a file with a
 * credential and write the detached CMS (DER), so that independent
 * verifiers (openssl cms, gpgsm, NSS cmsutil) can judge our signatures.
 *
 *   sign_tool [-t UNIXTIME] [-c CHUNK] CREDENTIAL CONTENT OUT.der
 *
 * CREDENTIAL is PEM (key + certificates) or PKCS#12 (password from
 * SMIME_KEYSTORE_PASSWORD).  -t pins signingTime, -c feeds the content in
 * chunks of that size (default 4096).  Prints the micalg on stdout.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "sign.h"
#include "tool_lib.h"

int
main(int argc, char **argv)
{
    char err[256] = "";
    long when = -1;
    size_t chunk = 4096;
    int c;

    while ((c = getopt(argc, argv, "t:c:")) != -1) {
        switch (c) {
        case 't': when = strtol(optarg, NULL, 10); break;
        case 'c': chunk = strtoul(optarg, NULL, 10); break;
        default: goto usage;
        }
    }
    if (argc - optind != 3 || chunk == 0)
        goto usage;

    size_t clen = 0, mlen = 0;
    unsigned char *cred = tool_slurp(argv[optind], &clen);
    if (cred == NULL) {
        fprintf(stderr, "sign_tool: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    smime_signer_t *signer = smime_signer_from_blob(cred, clen,
        getenv("SMIME_KEYSTORE_PASSWORD"), err, sizeof(err));
    gnutls_memset(cred, 0, clen);
    free(cred);
    if (signer == NULL) {
        fprintf(stderr, "sign_tool: %s: %s\n", argv[optind], err);
        return 1;
    }
    unsigned char *msg = tool_slurp(argv[optind + 1], &mlen);
    if (msg == NULL) {
        fprintf(stderr, "sign_tool: %s: %s\n", argv[optind + 1],
                strerror(errno));
        return 1;
    }
    unsigned char *der;
    size_t dlen;
    if (tool_sign(signer, msg, mlen, chunk, when >= 0 ? (time_t)when : -1,
                  &der, &dlen, err, sizeof(err)) < 0) {
        fprintf(stderr, "sign_tool: %s\n", err);
        return 1;
    }
    if (tool_write(argv[optind + 2], der, dlen) < 0) {
        fprintf(stderr, "sign_tool: %s: %s\n", argv[optind + 2],
                strerror(errno));
        return 1;
    }
    printf("%s\n", smime_sign_micalg(signer));
    free(der);
    free(msg);
    smime_signer_free(signer);
    return 0;
usage:
    fprintf(stderr, "usage: sign_tool [-t UNIXTIME] [-c CHUNK] CREDENTIAL "
            "CONTENT OUT.der\n");
    return 2;
}
