/*
 * nullfilter.c - the floor for `make bench': the cheapest libmilter filter
 * that still does what any content filter must, so smime-milter's costs
 * can be stated against what libmilter itself costs.
 *
 * SYNOPSIS
 *	nullfilter -p SOCKET [-R BYTES] [-H HEADERS] [-r]
 *
 * DESCRIPTION
 *	Listens on SOCKET (libmilter syntax: unix:PATH, inet:PORT@HOST),
 *	negotiates the same protocol shortcuts and macro lists as smime-milter
 *	(no replies to connect, MAIL, header and EOH; no HELO, RCPT, DATA or
 *	unknown commands; only the macros smime-milter asks for), receives every header and every body chunk, and accepts
 *	each message at end of body without changing it.  It keeps no state
 *	but the negotiated flags and never answers SKIP, so it reads whole bodies even where
 *	smime-milter would skip them: a true lower bound for a filter that
 *	looks at content.  Runs in the foreground until SIGTERM/SIGINT
 *	(libmilter's own signal handling).
 *
 *	-R BYTES: the floor of a filter that replaces the body (a large
 *	decryption): at end of body it sends BYTES bytes of new body
 *	(CRLF-ended text lines from one constant buffer, handed to
 *	smfi_replacebody a megabyte at a time, which libmilter cuts into
 *	its 64 KB protocol chunks) before it accepts.  No spool, no copy,
 *	no transformation: only what the milter protocol itself costs to
 *	receive the message and send the new body back.
 *
 *	-H HEADERS: also adds HEADERS header fields of about 100 bytes each
 *	at end of body; -r: also receives RCPT (without replying to it, as
 *	smime-milter negotiates when no recipient can be refused).  With -R
 *	they make the floor of a filter that does the same protocol work as
 *	smime-milter did for a message (make bench's "same-work" ceiling:
 *	the header changes, the new body's size and RCPT taken from
 *	miltergen's report of smime-milter's run).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#define REPLACE_BUF (1024 * 1024)

static unsigned long long replace_bytes;   /* -R: new body size, or 0 */
static unsigned long add_headers;          /* -H: header fields to add */
static int want_rcpt;                      /* -r: receive RCPT */
static unsigned char replace_buf[REPLACE_BUF];

/* The protocol flags negotiated for this connection: libmilter wants
 * SMFIS_NOREPLY from a callback whose reply was negotiated away (it logs
 * every other answer), as smime-milter's reply() does. */
static sfsistat nf_reply(SMFICTX *ctx, unsigned long nr_flag)
{
    unsigned long *pf = smfi_getpriv(ctx);

    return (pf && (*pf & nr_flag)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat nf_negotiate(SMFICTX *ctx, unsigned long f0,
                             unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    /* smime-milter's set (milter/callbacks.c) less SMFIP_SKIP, which a
     * filter that never skips has no use for */
    const unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA |
        SMFIP_NOHELO | SMFIP_NR_CONN | SMFIP_NR_MAIL |
        SMFIP_NR_HDR | SMFIP_NR_EOH |
        (want_rcpt ? SMFIP_NR_RCPT : SMFIP_NORCPT);

    unsigned long *pf = smfi_getpriv(ctx);

    (void)f2;
    (void)f3;
    if (pf == NULL && (pf = malloc(sizeof *pf)) != NULL)
        smfi_setpriv(ctx, pf);
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_SETSYMLIST);
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    if (pf)
        *pf = *pf1;
    /* the same macros as smime-milter: an MTA that honours the list sends
     * (and libmilter parses) no more than these */
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_CONNECT, (char *)"{daemon_name}");
        smfi_setsymlist(ctx, SMFIM_ENVFROM, (char *)"i {auth_authen}");
        smfi_setsymlist(ctx, SMFIM_EOH, (char *)"i");
        smfi_setsymlist(ctx, SMFIM_EOM, (char *)"i");
    }
    return SMFIS_CONTINUE;
}

static sfsistat nf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)host;
    (void)sa;
    return nf_reply(ctx, SMFIP_NR_CONN);
}

static sfsistat nf_envfrom(SMFICTX *ctx, char **argv)
{
    (void)argv;
    return nf_reply(ctx, SMFIP_NR_MAIL);
}

static sfsistat nf_envrcpt(SMFICTX *ctx, char **argv)
{
    (void)argv;
    return nf_reply(ctx, SMFIP_NR_RCPT);
}

static sfsistat nf_header(SMFICTX *ctx, char *name, char *value)
{
    (void)name;
    (void)value;
    return nf_reply(ctx, SMFIP_NR_HDR);
}

static sfsistat nf_eoh(SMFICTX *ctx)
{
    return nf_reply(ctx, SMFIP_NR_EOH);
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
    static char value[] = "mx.null.example; none (a header of about the "
                          "size of an Authentication-Results field)";

    for (unsigned long i = 0; i < add_headers; i++)
        if (smfi_addheader(ctx, (char *)"X-Null-Filter", value) != MI_SUCCESS)
            return SMFIS_TEMPFAIL;
    for (unsigned long long left = replace_bytes; left > 0;) {
        size_t n = left < REPLACE_BUF ? (size_t)left : REPLACE_BUF;
        if (smfi_replacebody(ctx, replace_buf, (int)n) != MI_SUCCESS)
            return SMFIS_TEMPFAIL;
        left -= n;
    }
    return SMFIS_ACCEPT;
}

static sfsistat nf_close(SMFICTX *ctx)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    struct smfiDesc desc;
    const char *sock = NULL;
    char *end = NULL;
    int c, bad = 0;

    while ((c = getopt(argc, argv, "p:R:H:r")) != -1)
        switch (c) {
        case 'p':
            sock = optarg;
            break;
        case 'R':
            replace_bytes = strtoull(optarg, &end, 10);
            bad |= replace_bytes == 0 || *end != '\0';
            break;
        case 'H':
            add_headers = strtoul(optarg, &end, 10);
            bad |= *end != '\0';
            break;
        case 'r':
            want_rcpt = 1;
            break;
        default:
            bad = 1;
        }
    if (bad || sock == NULL || optind != argc) {
        fprintf(stderr, "usage: nullfilter -p SOCKET [-R BYTES] [-H HEADERS] "
                "[-r]\n");
        return 2;
    }
    /* 76 characters and CRLF per line, like a base64 or text body */
    for (size_t i = 0; i < REPLACE_BUF; i++)
        replace_buf[i] = i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' : 'x';
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = (char *)"nullfilter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
    desc.xxfi_connect = nf_connect;
    desc.xxfi_envfrom = nf_envfrom;
    desc.xxfi_envrcpt = nf_envrcpt;
    desc.xxfi_header = nf_header;
    desc.xxfi_eoh = nf_eoh;
    desc.xxfi_body = nf_body;
    desc.xxfi_eom = nf_eom;
    desc.xxfi_negotiate = nf_negotiate;
    desc.xxfi_close = nf_close;
    /* the socket must be reachable by Postfix's smtpd (user postfix) */
    umask(0);
    if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "nullfilter: cannot listen on %s\n", sock);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
