/*
 * seedcms.c - cut the S/MIME objects out of messages into seeds for
 * fuzz_cms (its input form: 2-byte content length, a control byte, the
 * signed content, the CMS).
 *
 *   seedcms OUTDIR MESSAGE...
 *
 * Uses the MIME parser: for each multipart/signed the canonical signed
 * content and the decoded signature, for each pkcs7-mime the decoded
 * CMS with no content.  Writes OUTDIR/NAME-ID.cms per object (signed
 * content over 65535 bytes is skipped).  Not a fuzzer; exit 1 on I/O
 * errors.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

#define MAX_IDS 16

struct buf {
    unsigned char *p;
    size_t n, cap;
};

struct seeds {
    struct buf content[MAX_IDS], cms[MAX_IDS];
    int used[MAX_IDS];
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        if ((b->p = realloc(b->p, cap)) == NULL) {
            perror("seedcms");
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void on_begin(void *arg, unsigned id, enum mime_smime_kind kind,
                     const mime_entity_t *e)
{
    struct seeds *s = arg;

    (void)kind;
    (void)e;
    if (id < MAX_IDS)
        s->used[id] = 1;
}

static void on_signed(void *arg, unsigned id, const char *p, size_t n)
{
    struct seeds *s = arg;

    if (id < MAX_IDS)
        buf_add(&s->content[id], p, n);
}

static void on_cms(void *arg, unsigned id, const unsigned char *p, size_t n)
{
    struct seeds *s = arg;

    if (id < MAX_IDS)
        buf_add(&s->cms[id], p, n);
}

static int write_seed(const char *dir, const char *msg, unsigned id,
                      const struct buf *content, const struct buf *cms)
{
    const char *base = strrchr(msg, '/') ? strrchr(msg, '/') + 1 : msg;
    char path[4096];
    unsigned char hdr[3] = {
        (unsigned char)(content->n >> 8), (unsigned char)content->n, 0
    };

    if (content->n > 0xffff || cms->n == 0)
        return 0;
    snprintf(path, sizeof path, "%s/%.*s-%u.cms", dir,
             (int)strcspn(base, "."), base, id);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL ||
        fwrite(hdr, 1, 3, fp) != 3 ||
        (content->n && fwrite(content->p, 1, content->n, fp) != content->n) ||
        fwrite(cms->p, 1, cms->n, fp) != cms->n ||
        fclose(fp) != 0) {
        fprintf(stderr, "seedcms: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int one(const char *dir, const char *msg)
{
    struct seeds s;
    struct mime_callbacks cb = {0};
    char chunk[8192];
    size_t n;
    int rc = 0;
    FILE *fp = fopen(msg, "rb");

    if (fp == NULL) {
        fprintf(stderr, "seedcms: %s: %s\n", msg, strerror(errno));
        return -1;
    }
    memset(&s, 0, sizeof s);
    cb.smime_begin = on_begin;
    cb.signed_data = on_signed;
    cb.cms_data = on_cms;
    mime_parser_t *p = mime_parser_new(NULL, &cb, &s);
    if (p == NULL) {
        fclose(fp);
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        mime_parser_feed(p, chunk, n);
    mime_parser_finish(p);
    mime_parser_free(p);
    fclose(fp);
    for (unsigned id = 0; id < MAX_IDS; id++) {
        if (s.used[id] && write_seed(dir, msg, id, &s.content[id],
                                     &s.cms[id]) != 0)
            rc = -1;
        free(s.content[id].p);
        free(s.cms[id].p);
    }
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: seedcms OUTDIR MESSAGE...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (one(argv[1], argv[i]) != 0)
            rc = 1;
    return rc;
}
