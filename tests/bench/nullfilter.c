/*
 * nullfilter.c - the floor for `make bench': the cheapest libmilter filter
 * that still does what any content filter must, so smime-milter's costs
 * can be stated against what libmilter itself costs.
 *
 * SYNOPSIS
 *	nullfilter -p SOCKET
 *
 * DESCRIPTION
 *	Listens on SOCKET (libmilter syntax: unix:PATH, inet:PORT@HOST),
 *	negotiates the same protocol shortcuts as smime-milter (no replies to
 *	connect, MAIL, header and EOH; no HELO, RCPT, DATA or unknown
 *	commands), receives every header and every body chunk, and accepts
 *	each message at end of body without changing it.  It keeps no state
 *	and never answers SKIP, so it reads whole bodies even where
 *	smime-milter would skip them: a true lower bound for a filter that
 *	looks at content.  Runs in the foreground until SIGTERM/SIGINT
 *	(libmilter's own signal handling).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static sfsistat nf_negotiate(SMFICTX *ctx, unsigned long f0,
                             unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    /* smime-milter's set (milter/callbacks.c) less SMFIP_SKIP, which a
     * filter that never skips has no use for */
    const unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA |
        SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NR_CONN | SMFIP_NR_MAIL |
        SMFIP_NR_HDR | SMFIP_NR_EOH;

    (void)ctx;
    (void)f2;
    (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY);
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat nf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)ctx;
    (void)host;
    (void)sa;
    return SMFIS_CONTINUE;
}

static sfsistat nf_envfrom(SMFICTX *ctx, char **argv)
{
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat nf_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx;
    (void)name;
    (void)value;
    return SMFIS_CONTINUE;
}

static sfsistat nf_eoh(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat nf_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx;
    (void)chunk;
    (void)len;
    return SMFIS_CONTINUE;
}

static sfsistat nf_eom(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_ACCEPT;
}

int main(int argc, char **argv)
{
    struct smfiDesc desc;

    if (argc != 3 || strcmp(argv[1], "-p") != 0) {
        fprintf(stderr, "usage: nullfilter -p SOCKET\n");
        return 2;
    }
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = (char *)"nullfilter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
    desc.xxfi_connect = nf_connect;
    desc.xxfi_envfrom = nf_envfrom;
    desc.xxfi_header = nf_header;
    desc.xxfi_eoh = nf_eoh;
    desc.xxfi_body = nf_body;
    desc.xxfi_eom = nf_eom;
    desc.xxfi_negotiate = nf_negotiate;
    /* the socket must be reachable by Postfix's smtpd (user postfix) */
    umask(0);
    if (smfi_setconn(argv[2]) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "nullfilter: cannot listen on %s\n", argv[2]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
