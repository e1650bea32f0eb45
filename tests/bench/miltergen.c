/*
 * miltergen.c - load generator for `make bench': plays the MTA side of the
 * milter protocol (version 6) against a running smime-milter.
 *
 * SYNOPSIS
 *	miltergen -p SOCKET -m MESSAGE [-n COUNT] [-d SECONDS] [-c CONNS]
 *	          [-k PER-CONN] [-a CLIENT-IP] [-A LOGIN] [-r RCPT]...
 *	          [-H DECRYPT-HEADER] [-o OUTFILE] [-N]
 *
 * DESCRIPTION
 *	CONNS threads each open a connection (SOCKET as smime-milter's -p:
 *	unix:PATH, local:PATH or inet:PORT@HOST), negotiate options and send
 *	connect, helo, then up to PER-CONN messages (macros, MAIL, one RCPT
 *	per -r RCPT in order (default bench@example.net), one
 *	header command per header, EOH, the body in 65535-byte chunks with
 *	CRLF line ends, end of body) before QUIT and a new connection.  Every
 *	command the filter asked not to get is left out, and replies are
 *	read only where the filter did not negotiate them away, as an MTA
 *	does.  The run stops after COUNT messages or SECONDS, whichever comes
 *	first.  MESSAGE is an RFC 5322 file (LF or CRLF) read once into
 *	memory.  With -A the MAIL macros carry {auth_authen}=LOGIN (outbound).
 *	A recipient the filter refuses ends the message there (counted by
 *	its reply), as it would with one recipient.
 *
 *	At the end one line of key=value pairs goes to stdout: msgs, secs,
 *	rate (messages per second), the final replies (accept, tempfail,
 *	reject, other), the Authentication-Results results inserted (ar_pass,
 *	ar_none, ar_fail, ar_other), replbody (messages whose body was
 *	replaced), replbytes (the replacement bodies' bytes), decrypted (body replaced and the DECRYPT-HEADER header,
 *	default X-SMIME-Decrypted, added), encrypted (body replaced and
 *	Content-Type made application/pkcs7-mime with smime-type
 *	enveloped-data or authEnveloped-data), hdrmods (header changes) and
 *	errors (protocol or I/O failures).  Exit 0 when errors is 0.  -o writes the first message as
 *	the filter left it (header changes and new body applied, CRLF) so the
 *	caller can check it, e.g. with `openssl cms -verify'.  For inet
 *	sockets TCP_NODELAY is set unless -N is given (-N behaves like
 *	Postfix, which leaves Nagle's algorithm on for milter connections).
 *
 *	The protocol facts come from libmilter's mfdef.h: a packet is a
 *	32-bit big-endian length (command byte included), the command byte
 *	and its data; strings are NUL-terminated.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

/* Everything an MTA of protocol version 6 may offer, less the options
 * that change what we send (leading spaces, bigger packets). */
#define OFFER_ACTS SMFI_CURR_ACTS
#define OFFER_PROT (SMFI_CURR_PROT & ~SMFIP_HDR_LEADSPC)

struct header {
    char *name, *value;         /* value: folded lines joined by "\n" */
};

struct message {
    struct header *h;
    size_t nh;
    char *body;                 /* CRLF line ends */
    size_t bodylen;
};

/* Options and the shared counters. */
static const char *opt_socket, *opt_login, *opt_out;
static const char *opt_client = "192.0.2.25";
static const char *opt_from;
static const char *opt_dechdr = "X-SMIME-Decrypted";
static char **opt_rcpt;         /* "<addr>", opt_nrcpt of them */
static size_t opt_nrcpt;
static long opt_count = 1000, opt_per_conn = 100;
static double opt_secs = 0;
static int opt_conns = 1;
static int opt_nagle;           /* -N: leave Nagle on, as Postfix does */
static struct message msg;
static struct timespec t_end;

static atomic_long next_msg, n_done, n_accept, n_tempfail, n_reject,
    n_other, n_ar_pass, n_ar_none, n_ar_fail, n_ar_other, n_replbody,
    n_decrypted, n_encrypted, n_hdrmods, n_errors, n_replbytes;

/* One connection's state. */
struct conn {
    int fd;
    unsigned long prot;         /* SMFIP_* the filter chose */
    unsigned char *rbuf;        /* last packet read */
    size_t rcap, rlen;
    int rcmd;
    int tid;
    long seq;
};

/* What the filter did to one message. */
struct result {
    int final;                  /* the final reply command */
    int ar;                     /* 0 none seen, else 'p','n','f','o' */
    int replbody, hdrmods;
    long replbytes;             /* bytes of the replacement body */
    int dechdr, p7ctype;        /* DECRYPT-HEADER added; pkcs7-mime
                                 * enveloped Content-Type set */
    FILE *out;                  /* -o: the changes, in order, as */
    char *mods;                 /*   "OP IDX NAME\0VALUE\0" records */
    size_t modlen;
    char *newbody;              /* -o: replacement body */
    size_t newlen;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "miltergen: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- the message file ---- */

static void msg_add_header(const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    struct header *h;

    if (colon == NULL)
        return;                 /* not a header: ignore */
    msg.h = realloc(msg.h, (msg.nh + 1) * sizeof *msg.h);
    if (msg.h == NULL)
        die("realloc");
    h = &msg.h[msg.nh++];
    h->name = strndup(line, (size_t)(colon - line));
    colon++;
    while (colon < line + len && (*colon == ' ' || *colon == '\t'))
        colon++;                /* as Postfix: no leading white space */
    h->value = strndup(colon, (size_t)(line + len - colon));
}

/* Read FILE: header lines (unfolded into name/value, "\n" between folded
 * lines) and the body with every line end made CRLF. */
static void msg_load(const char *file)
{
    FILE *fp = fopen(file, "rb");
    char *line = NULL, *cur = NULL;
    size_t cap = 0, curlen = 0, bodycap = 0;
    ssize_t n;
    int in_body = 0;

    if (fp == NULL)
        die(file);
    while ((n = getline(&line, &cap, fp)) >= 0) {
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (in_body) {
            if (msg.bodylen + len + 2 > bodycap) {
                bodycap = (msg.bodylen + len + 2) * 2;
                if ((msg.body = realloc(msg.body, bodycap)) == NULL)
                    die("realloc");
            }
            memcpy(msg.body + msg.bodylen, line, len);
            memcpy(msg.body + msg.bodylen + len, "\r\n", 2);
            msg.bodylen += len + 2;
            continue;
        }
        if (len > 0 && (line[0] == ' ' || line[0] == '\t') && cur) {
            cur = realloc(cur, curlen + len + 2);
            cur[curlen++] = '\n';
            memcpy(cur + curlen, line, len);
            curlen += len;
            continue;
        }
        if (cur)
            msg_add_header(cur, curlen);
        free(cur);
        cur = NULL;
        if (len == 0) {
            in_body = 1;
            continue;
        }
        cur = strndup(line, len);
        curlen = len;
    }
    if (cur)
        msg_add_header(cur, curlen);
    free(cur);
    free(line);
    fclose(fp);
    for (size_t i = 0; i < msg.nh && opt_from == NULL; i++)
        if (strcasecmp(msg.h[i].name, "From") == 0) {
            const char *lt = strchr(msg.h[i].value, '<');
            static char from[330];
            if (lt)
                snprintf(from, sizeof from, "%s", lt);
            else
                snprintf(from, sizeof from, "<%s>", msg.h[i].value);
            opt_from = from;
        }
    if (opt_from == NULL)
        opt_from = "<>";
}

/* ---- packets ---- */

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

/* Send command CMD with LEN bytes of data, in one system call as an MTA
 * with a buffered stream does (two writes would wake the filter twice). */
static int send_cmd(struct conn *c, int cmd, const void *data, size_t len)
{
    unsigned char head[5];
    struct iovec iov[2] = {{head, sizeof head}, {(void *)data, len}};
    ssize_t n;

    put32(head, (uint32_t)len + 1);
    head[4] = (unsigned char)cmd;
    do
        n = writev(c->fd, iov, len ? 2 : 1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof head)
        return write_all(c->fd, head + n, sizeof head - (size_t)n) < 0 ||
               write_all(c->fd, data, len) < 0 ? -1 : 0;
    n -= (ssize_t)sizeof head;
    return write_all(c->fd, (const char *)data + n, len - (size_t)n);
}

/* Build NUL-terminated strings one after the other into buf. */
static size_t strs(char *buf, size_t cap, const char *const *s, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(s[i]) + 1;
        if (len + l > cap)
            return len;
        memcpy(buf + len, s[i], l);
        len += l;
    }
    return len;
}

/* Macros for stage STAGE (the command they go with): the stage byte, then
 * name and value strings. */
static int send_macros(struct conn *c, int stage, const char *const *s,
                       size_t n)
{
    char buf[4096];

    buf[0] = (char)stage;
    return send_cmd(c, SMFIC_MACRO, buf, 1 + strs(buf + 1, sizeof buf - 1,
                                                   s, n));
}

static int read_packet(struct conn *c)
{
    unsigned char head[5];
    uint32_t len;

    if (read_all(c->fd, head, sizeof head) < 0)
        return -1;
    len = get32(head);
    if (len == 0 || len > 16 * 1024 * 1024)
        return -1;
    c->rcmd = head[4];
    c->rlen = len - 1;
    if (c->rlen + 1 > c->rcap) {
        c->rcap = c->rlen + 1;
        if ((c->rbuf = realloc(c->rbuf, c->rcap)) == NULL)
            return -1;
    }
    if (read_all(c->fd, c->rbuf, c->rlen) < 0)
        return -1;
    c->rbuf[c->rlen] = '\0';
    return c->rcmd;
}

/* A reply to a command other than end of body: progress is skipped;
 * returns the reply command or -1. */
static int read_reply(struct conn *c)
{
    int cmd;

    while ((cmd = read_packet(c)) == SMFIR_PROGRESS)
        ;
    return cmd;
}

/* Send CMD (with data) unless the filter said NOFLAG; wait for the reply
 * unless it said NRFLAG.  Returns the reply, 'c' when none is due, -1. */
static int step(struct conn *c, int cmd, const void *data, size_t len,
                unsigned long noflag, unsigned long nrflag)
{
    if (noflag && (c->prot & noflag))
        return SMFIR_CONTINUE;
    if (send_cmd(c, cmd, data, len) < 0)
        return -1;
    if (nrflag && (c->prot & nrflag))
        return SMFIR_CONTINUE;
    return read_reply(c);
}

/* ---- one connection ---- */

static int conn_open(struct conn *c)
{
    const char *s = opt_socket;

    if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", strchr(s, ':') + 1);
        if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            return -1;
        return connect(c->fd, (struct sockaddr *)&sun, sizeof sun);
    }
    if (strncmp(s, "inet:", 5) == 0) {
        char port[16];
        const char *at = strchr(s, '@');
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        int one = 1, rc;
        snprintf(port, sizeof port, "%.*s", at ? (int)(at - s - 5) : 15,
                 s + 5);
        if (getaddrinfo(at ? at + 1 : "127.0.0.1", port, &hints, &ai) != 0)
            return -1;
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rc = c->fd < 0 ? -1 : connect(c->fd, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (rc == 0 && !opt_nagle)
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return rc;
    }
    errno = EINVAL;
    return -1;
}

/* Option negotiation, macros for connect, connect, helo. */
static int conn_start(struct conn *c)
{
    unsigned char opt[12];
    char buf[512];
    size_t len;
    int v6 = strchr(opt_client, ':') != NULL;

    put32(opt, SMFI_PROT_VERSION);
    put32(opt + 4, OFFER_ACTS);
    put32(opt + 8, OFFER_PROT);
    if (send_cmd(c, SMFIC_OPTNEG, opt, sizeof opt) < 0 ||
        read_packet(c) != SMFIC_OPTNEG || c->rlen < 12)
        return -1;
    c->prot = get32(c->rbuf + 8) & OFFER_PROT;
    const char *mac[] = {"j", "mx.bench.example", "{daemon_name}",
                         "bench", "{client_addr}", opt_client};
    if (send_macros(c, SMFIC_CONNECT, mac, 6) < 0)
        return -1;
    /* hostname, family, port (16 bits), address */
    len = strs(buf, sizeof buf, (const char *[]){"client.bench.example"}, 1);
    buf[len++] = v6 ? SMFIA_INET6 : SMFIA_INET;
    buf[len++] = (char)(40000 >> 8);
    buf[len++] = (char)(40000 & 0xff);
    len += strs(buf + len, sizeof buf - len, &opt_client, 1);
    if (step(c, SMFIC_CONNECT, buf, len, SMFIP_NOCONNECT, SMFIP_NR_CONN) !=
        SMFIR_CONTINUE)
        return -1;
    len = strs(buf, sizeof buf, (const char *[]){"client.bench.example"}, 1);
    if (step(c, SMFIC_HELO, buf, len, SMFIP_NOHELO, SMFIP_NR_HELO) !=
        SMFIR_CONTINUE)
        return -1;
    return 0;
}

/* ---- end of message replies ---- */

static void note_header(struct result *r, const char *name, const char *val)
{
    const char *p;

    r->hdrmods++;
    if (*val != '\0' && strcasecmp(name, opt_dechdr) == 0)
        r->dechdr = 1;
    if (strcasecmp(name, "Content-Type") == 0 &&
        strncasecmp(val, "application/pkcs7-mime", 22) == 0 &&
        strcasestr(val, "enveloped-data") != NULL)
        r->p7ctype = 1;        /* authEnveloped-data too */
    if (strcasecmp(name, "Authentication-Results") != 0 || r->ar)
        return;
    if ((p = strstr(val, "smime=")) == NULL)
        return;
    p += 6;
    r->ar = strncmp(p, "pass", 4) == 0   ? 'p'
            : strncmp(p, "none", 4) == 0 ? 'n'
            : strncmp(p, "fail", 4) == 0 ? 'f'
                                         : 'o';
}

/* One modification reply; -o records it as "OP IDX NAME\0VALUE\0". */
static int take_mod(struct conn *c, struct result *r)
{
    const char *p = (const char *)c->rbuf, *name, *val;
    uint32_t idx = 0;

    switch (c->rcmd) {
    case SMFIR_REPLBODY:
        r->replbody = 1;
        r->replbytes += (long)c->rlen;
        if (r->out) {
            r->newbody = realloc(r->newbody, r->newlen + c->rlen);
            memcpy(r->newbody + r->newlen, p, c->rlen);
            r->newlen += c->rlen;
        }
        return 0;
    case SMFIR_INSHEADER:
    case SMFIR_CHGHEADER:
        if (c->rlen < 6)
            return -1;
        idx = get32(c->rbuf);
        p += 4;
        /* fall through */
    case SMFIR_ADDHEADER:
        name = p;
        val = name + strlen(name) + 1;
        if (val >= (const char *)c->rbuf + c->rlen)
            return -1;
        note_header(r, name, val);
        if (r->out) {
            fprintf(r->out, "%c %u %s", c->rcmd, idx, name);
            fputc(0, r->out);
            fputs(val, r->out);
            fputc(0, r->out);
        }
        return 0;
    case SMFIR_ADDRCPT: case SMFIR_DELRCPT: case SMFIR_ADDRCPT_PAR:
    case SMFIR_CHGFROM: case SMFIR_QUARANTINE:
        r->hdrmods++;
        return 0;
    default:
        return -1;
    }
}

static int is_final(int cmd)
{
    return cmd == SMFIR_ACCEPT || cmd == SMFIR_CONTINUE ||
           cmd == SMFIR_REJECT || cmd == SMFIR_TEMPFAIL ||
           cmd == SMFIR_DISCARD || cmd == SMFIR_REPLYCODE ||
           cmd == SMFIR_SHUTDOWN || cmd == SMFIR_CONN_FAIL;
}

/* End of body: modifications until the final reply. */
static int eom(struct conn *c, struct result *r)
{
    int cmd;

    if (send_cmd(c, SMFIC_BODYEOB, NULL, 0) < 0)
        return -1;
    while ((cmd = read_packet(c)) >= 0) {
        if (cmd == SMFIR_PROGRESS)
            continue;
        if (is_final(cmd))
            return r->final = cmd;
        if (take_mod(c, r) < 0)
            return -1;
    }
    return -1;
}

/* ---- one message ---- */

static int send_headers(struct conn *c)
{
    char *buf = NULL;
    size_t cap = 0;
    int rc = SMFIR_CONTINUE;

    for (size_t i = 0; i < msg.nh && rc == SMFIR_CONTINUE; i++) {
        size_t ln = strlen(msg.h[i].name) + 1, lv = strlen(msg.h[i].value) + 1;
        if (ln + lv > cap && (buf = realloc(buf, cap = ln + lv)) == NULL)
            return -1;
        memcpy(buf, msg.h[i].name, ln);
        memcpy(buf + ln, msg.h[i].value, lv);
        rc = step(c, SMFIC_HEADER, buf, ln + lv, SMFIP_NOHDRS, SMFIP_NR_HDR);
    }
    free(buf);
    return rc;
}

static int send_body(struct conn *c)
{
    int rc = SMFIR_CONTINUE;

    for (size_t off = 0; off < msg.bodylen && rc == SMFIR_CONTINUE;) {
        size_t n = msg.bodylen - off;
        if (n > MILTER_CHUNK_SIZE)
            n = MILTER_CHUNK_SIZE;
        rc = step(c, SMFIC_BODY, msg.body + off, n, SMFIP_NOBODY,
                  SMFIP_NR_BODY);
        off += n;
    }
    return rc == SMFIR_SKIP ? SMFIR_CONTINUE : rc;
}

/* The envelope and content of one message up to end of body.  Returns
 * the reply that ended it early, or 'c' to go on to end of body. */
static int send_message(struct conn *c, const char *qid)
{
    const char *mm[] = {"i", qid, "{mail_addr}", opt_from,
                        "{auth_authen}", opt_login};
    const char *qm[] = {"i", qid};
    int rc;

    if (send_macros(c, SMFIC_MAIL, mm, opt_login ? 6 : 4) < 0)
        return -1;
    if ((rc = step(c, SMFIC_MAIL, opt_from, strlen(opt_from) + 1,
                   SMFIP_NOMAIL, SMFIP_NR_MAIL)) != SMFIR_CONTINUE)
        return rc;
    for (size_t i = 0; i < opt_nrcpt; i++)
        if ((rc = step(c, SMFIC_RCPT, opt_rcpt[i], strlen(opt_rcpt[i]) + 1,
                       SMFIP_NORCPT, SMFIP_NR_RCPT)) != SMFIR_CONTINUE)
            return rc;
    if ((rc = step(c, SMFIC_DATA, NULL, 0, SMFIP_NODATA, SMFIP_NR_DATA)) !=
        SMFIR_CONTINUE)
        return rc;
    if ((rc = send_headers(c)) != SMFIR_CONTINUE)
        return rc;
    if (send_macros(c, SMFIC_EOH, qm, 2) < 0)
        return -1;
    if ((rc = step(c, SMFIC_EOH, NULL, 0, SMFIP_NOEOH, SMFIP_NR_EOH)) !=
        SMFIR_CONTINUE)
        return rc;
    if ((rc = send_body(c)) != SMFIR_CONTINUE)
        return rc;
    if (send_macros(c, SMFIC_BODYEOB, qm, 2) < 0)
        return -1;
    return SMFIR_CONTINUE;
}

static void count(const struct result *r)
{
    atomic_fetch_add(&n_done, 1);
    atomic_fetch_add(r->final == SMFIR_ACCEPT || r->final == SMFIR_CONTINUE
                         ? &n_accept
                     : r->final == SMFIR_TEMPFAIL ? &n_tempfail
                     : r->final == SMFIR_REJECT   ? &n_reject
                                                  : &n_other, 1);
    if (r->ar)
        atomic_fetch_add(r->ar == 'p'   ? &n_ar_pass
                         : r->ar == 'n' ? &n_ar_none
                         : r->ar == 'f' ? &n_ar_fail
                                        : &n_ar_other, 1);
    atomic_fetch_add(&n_replbody, r->replbody);
    atomic_fetch_add(&n_decrypted, r->replbody && r->dechdr);
    atomic_fetch_add(&n_encrypted, r->replbody && r->p7ctype);
    atomic_fetch_add(&n_hdrmods, r->hdrmods);
    atomic_fetch_add(&n_replbytes, r->replbytes);
}

static void write_result(struct result *r);

/* One message on an open connection: 0, or -1 when the connection is
 * unusable afterwards. */
static int do_message(struct conn *c, long no)
{
    struct result r = {0};
    char qid[32];
    int rc;

    snprintf(qid, sizeof qid, "B%02dQ%06ld", c->tid, c->seq++);
    if (no == 0 && opt_out)
        r.out = open_memstream(&r.mods, &r.modlen);
    rc = send_message(c, qid);
    if (rc == SMFIR_CONTINUE)
        rc = eom(c, &r);
    else if (rc >= 0) {
        r.final = rc;           /* ended early: an MTA would abort */
        if (send_cmd(c, SMFIC_ABORT, NULL, 0) < 0)
            rc = -1;
    }
    if (r.out) {
        fclose(r.out);
        if (rc >= 0)
            write_result(&r);
        free(r.mods);
        free(r.newbody);
    }
    if (rc < 0) {
        atomic_fetch_add(&n_errors, 1);
        return -1;
    }
    count(&r);
    return 0;
}

/* ---- -o: the message as the filter left it ---- */

static void write_value(FILE *fp, const char *name, const char *v)
{
    fprintf(fp, "%s: ", name);
    for (; *v; v++)
        if (*v == '\n')
            fputs("\r\n", fp);
        else if (*v != '\r')
            fputc(*v, fp);
    fputs("\r\n", fp);
}

/* Apply the recorded changes ("OP IDX NAME\0VALUE\0" ...) to a copy of
 * the header list as the MTA would: insert at IDX, change/delete the
 * IDX-th (from 1) header called NAME, add at the end. */
static void write_result(struct result *r)
{
    const char *rec = r->mods, *end = r->mods + r->modlen;
    size_t n = msg.nh, cap = msg.nh + 64;
    struct header *h = calloc(cap, sizeof *h);
    FILE *fp;

    memcpy(h, msg.h, msg.nh * sizeof *h);
    while (rec < end && n < cap) {
        char op = rec[0];
        unsigned idx = (unsigned)strtoul(rec + 2, NULL, 10);
        const char *name = strchr(rec + 2, ' ') + 1;
        const char *val = rec + strlen(rec) + 1;
        rec = val + strlen(val) + 1;
        if (op == SMFIR_CHGHEADER) {
            size_t i, seen = 0;
            for (i = 0; i < n; i++)
                if (h[i].name && strcasecmp(h[i].name, name) == 0 &&
                    ++seen == (idx ? idx : 1))
                    break;
            if (i < n) {
                if (*val)
                    h[i].value = (char *)val;
                else
                    memmove(&h[i], &h[i + 1], (--n - i) * sizeof *h);
                continue;
            }
            if (*val == '\0')
                continue;
            idx = (unsigned)n;  /* change of a missing one adds it */
        } else if (op == SMFIR_ADDHEADER || idx > n)
            idx = (unsigned)n;
        memmove(&h[idx + 1], &h[idx], (n++ - idx) * sizeof *h);
        h[idx].name = (char *)name;
        h[idx].value = (char *)val;
    }
    if ((fp = fopen(opt_out, "wb")) == NULL)
        die(opt_out);
    for (size_t i = 0; i < n; i++)
        write_value(fp, h[i].name, h[i].value);
    fputs("\r\n", fp);
    if (r->replbody)
        fwrite(r->newbody, 1, r->newlen, fp);
    else
        fwrite(msg.body, 1, msg.bodylen, fp);
    fclose(fp);
    free(h);
}

/* ---- threads ---- */

/* -r ADDR: one more envelope recipient, in angle brackets. */
static void add_rcpt(const char *addr)
{
    char *r;

    if ((opt_rcpt = realloc(opt_rcpt, (opt_nrcpt + 1) * sizeof *opt_rcpt))
        == NULL)
        die("realloc");
    if (asprintf(&r, addr[0] == '<' ? "%s" : "<%s>", addr) < 0)
        die("asprintf");
    opt_rcpt[opt_nrcpt++] = r;
}

static int time_is_up(void)
{
    struct timespec ts;

    if (opt_secs <= 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec > t_end.tv_sec ||
           (ts.tv_sec == t_end.tv_sec && ts.tv_nsec >= t_end.tv_nsec);
}

/* Take the number of the next message to send, or -1 when done. */
static long take_next(void)
{
    long no;

    if (time_is_up())
        return -1;
    no = atomic_fetch_add(&next_msg, 1);
    return no < opt_count ? no : -1;
}

static void *worker(void *arg)
{
    struct conn c = {.fd = -1, .tid = (int)(intptr_t)arg};
    long no = take_next();

    while (no >= 0) {
        if (conn_open(&c) < 0 || conn_start(&c) < 0) {
            atomic_fetch_add(&n_errors, 1);
            break;
        }
        for (long k = 0; no >= 0 && k < opt_per_conn; k++) {
            if (do_message(&c, no) < 0) {
                no = -1;
                break;
            }
            no = take_next();
        }
        send_cmd(&c, SMFIC_QUIT, NULL, 0);
        close(c.fd);
        c.fd = -1;
    }
    if (c.fd >= 0)
        close(c.fd);
    free(c.rbuf);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: miltergen -p SOCKET -m MESSAGE [-n COUNT] "
            "[-d SECONDS] [-c CONNS] [-k PER-CONN]\n"
            "                 [-a CLIENT-IP] [-A LOGIN] [-r RCPT]... "
            "[-H DECRYPT-HEADER]\n"
            "                 [-o OUTFILE] [-N]\n");
    exit(64);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    pthread_t *th;
    double t0, secs;
    int ch;

    while ((ch = getopt(argc, argv, "p:m:n:d:c:k:a:A:r:H:o:N")) != -1) {
        switch (ch) {
        case 'p': opt_socket = optarg; break;
        case 'm': file = optarg; break;
        case 'n': opt_count = atol(optarg); break;
        case 'd': opt_secs = atof(optarg); break;
        case 'c': opt_conns = atoi(optarg); break;
        case 'k': opt_per_conn = atol(optarg); break;
        case 'a': opt_client = optarg; break;
        case 'A': opt_login = optarg; break;
        case 'r': add_rcpt(optarg); break;
        case 'H': opt_dechdr = optarg; break;
        case 'o': opt_out = optarg; break;
        case 'N': opt_nagle = 1; break;
        default: usage();
        }
    }
    if (opt_socket == NULL || file == NULL || opt_conns < 1 ||
        opt_count < 1 || opt_per_conn < 1)
        usage();
    if (opt_nrcpt == 0)
        add_rcpt("bench@example.net");
    signal(SIGPIPE, SIG_IGN);   /* a closed connection is an error count */
    msg_load(file);
    if ((th = calloc((size_t)opt_conns, sizeof *th)) == NULL)
        die("calloc");
    t0 = now();
    clock_gettime(CLOCK_MONOTONIC, &t_end);
    t_end.tv_sec += (time_t)opt_secs;
    t_end.tv_nsec += (long)((opt_secs - (double)(time_t)opt_secs) * 1e9);
    if (t_end.tv_nsec >= 1000000000L) {
        t_end.tv_sec++;
        t_end.tv_nsec -= 1000000000L;
    }
    for (int i = 0; i < opt_conns; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0)
            die("pthread_create");
    for (int i = 0; i < opt_conns; i++)
        pthread_join(th[i], NULL);
    secs = now() - t0;
    printf("msgs=%ld secs=%.3f rate=%.1f accept=%ld tempfail=%ld reject=%ld "
           "other=%ld ar_pass=%ld ar_none=%ld ar_fail=%ld ar_other=%ld "
           "replbody=%ld replbytes=%ld decrypted=%ld encrypted=%ld "
           "hdrmods=%ld errors=%ld\n",
           (long)n_done, secs, secs > 0 ? (double)n_done / secs : 0.0,
           (long)n_accept, (long)n_tempfail, (long)n_reject, (long)n_other,
           (long)n_ar_pass, (long)n_ar_none, (long)n_ar_fail,
           (long)n_ar_other, (long)n_replbody, (long)n_replbytes,
           (long)n_decrypted,
           (long)n_encrypted, (long)n_hdrmods,
           (long)n_errors);
    return n_errors ? 1 : 0;
}
