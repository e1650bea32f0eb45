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

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            unsigned char *p = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (p == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

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
    unsigned char *cred = slurp(argv[optind], &clen);
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
    unsigned char *msg = slurp(argv[optind + 1], &mlen);
    if (msg == NULL) {
        fprintf(stderr, "sign_tool: %s: %s\n", argv[optind + 1],
                strerror(errno));
        return 1;
    }
    smime_sign_t *s = smime_sign_new(signer);
    if (s == NULL)
        return 1;
    if (when >= 0)
        smime_sign_set_time(s, (time_t)when);
    for (size_t off = 0; off < mlen; off += chunk)
        if (smime_sign_update(s, msg + off,
                              mlen - off < chunk ? mlen - off : chunk) < 0)
            return 1;
    unsigned char *der;
    size_t dlen;
    if (smime_sign_finish(s, &der, &dlen) < 0) {
        fprintf(stderr, "sign_tool: %s\n", smime_sign_error(s));
        return 1;
    }
    FILE *out = fopen(argv[optind + 2], "wb");
    if (out == NULL || fwrite(der, 1, dlen, out) != dlen || fclose(out) != 0) {
        fprintf(stderr, "sign_tool: %s: %s\n", argv[optind + 2],
                strerror(errno));
        return 1;
    }
    printf("%s\n", smime_sign_micalg(signer));
    free(der);
    free(msg);
    smime_sign_free(s);
    smime_signer_free(signer);
    return 0;
usage:
    fprintf(stderr, "usage: sign_tool [-t UNIXTIME] [-c CHUNK] CREDENTIAL "
            "CONTENT OUT.der\n");
    return 2;
}
