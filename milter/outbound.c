/*
 * outbound.c - placeholder signer: implements the outbound.h contract
 * without ever signing, so the daemon links and outbound mail passes
 * unchanged.  The signing work replaces this file.
 */
#include "config.h"

#include <stdio.h>
#include "outbound.h"

int outbound_init(const config_t *cfg, void **state, char *err,
                  size_t errlen)
{
    (void)cfg;
    (void)err;
    (void)errlen;
    *state = NULL;
    return 0;
}

void outbound_state_free(void *state)
{
    (void)state;
}

int outbound_begin(const config_t *cfg, const char *login, const char *from,
                   const struct msg_headers *hdrs, outbound_t **o,
                   char *why, size_t whylen)
{
    (void)cfg;
    (void)login;
    (void)from;
    (void)hdrs;
    *o = NULL;
    snprintf(why, whylen, "signing not available");
    return 0;
}

int outbound_body(outbound_t *o, const char *buf, size_t len)
{
    (void)o;
    (void)buf;
    (void)len;
    return 0;
}

int outbound_finish(outbound_t *o, const struct actions *act, void *actarg,
                    char *why, size_t whylen)
{
    (void)o;
    (void)act;
    (void)actarg;
    snprintf(why, whylen, "signing not available");
    return 0;
}

void outbound_free(outbound_t *o)
{
    (void)o;
}
