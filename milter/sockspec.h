/*
 * sockspec.h - the one parser of a milter socket address, for the
 * `Socket` key and the -p option alike (SPEC: inet:PORT@HOST,
 * inet6:PORT@HOST, unix:PATH, local:PATH, or an absolute path).
 *
 * Anything else is refused with a message that says what to write
 * instead (Postfix's inet:HOST:PORT gets the libmilter spelling back).
 * No guessing: a port without a host is refused rather than turned into
 * "every interface".
 */
#ifndef SMIME_SOCKSPEC_H
#define SMIME_SOCKSPEC_H

#include <stddef.h>

enum sockspec_family { SOCKSPEC_UNIX, SOCKSPEC_INET, SOCKSPEC_INET6 };

struct sockspec {
    enum sockspec_family family;
    unsigned port;            /* inet, inet6 */
    char host[256];           /* inet, inet6: address or host name */
    char path[108];           /* unix: absolute path (sun_path size) */
    char conn[400];           /* for smfi_setconn: "unix:/p", "inet:P@H" */
};

/* 0 and *out filled, or -1 with a message in err ("expected ..., not
 * ...", "use inet:40001@127.0.0.1 ..."). */
int sockspec_parse(const char *text, struct sockspec *out, char *err,
                   size_t errlen);

#endif
