/*
 * check_mime.h - helpers shared by the mime unit tests (check_mime.c,
 * check_canon.c): an event recorder for the MIME parser and small
 * buffer utilities.
 */
#ifndef CHECK_MIME_H
#define CHECK_MIME_H

#include <stddef.h>

#include <check.h>

#include "mime.h"

struct buf {
    char *p;
    size_t n, cap;
};

#define REC_MAX 16

/* Everything a parse reported: an event log with coalesced data events
 * (so it can be compared across chunk sizes), and the bytes per
 * S/MIME id and per leaf section. */
struct rec {
    struct buf log;
    char last;                 /* kind of the open data event, or 0 */
    char last_key[64];
    struct buf sig[REC_MAX], cms[REC_MAX];
    int smime_kind[REC_MAX];
    char smime_section[REC_MAX][64];
    unsigned nsmime, nended;
    char leaf_sec[REC_MAX][64];
    struct buf leaf[REC_MAX];
    unsigned nleaf;
    struct buf lines;          /* every line callback, concatenated */
    unsigned errors;
};

void buf_add(struct buf *b, const void *p, size_t n);
void buf_free(struct buf *b);
char *to_crlf(const char *lf, size_t *len);     /* malloc'd */

void rec_free(struct rec *r);
/* Parse msg in chunks of size chunk (0: all at once). */
void rec_parse(struct rec *r, const char *msg, size_t len, size_t chunk,
               const struct mime_limits *lim);
/* Parse in every chunk size (1, 2, 3, 7, 64, 4096, whole) and assert
 * identical events; r gets the whole-message result. */
void rec_parse_all(struct rec *r, const char *msg, size_t len,
                   const struct mime_limits *lim);
/* Leaf data recorded for a section, or NULL. */
const struct buf *rec_leaf(const struct rec *r, const char *section);
int rec_has(const struct rec *r, const char *needle);

/* A path under $top_builddir/tests/work/mime (created). */
const char *work_path(const char *name);
/* Make the test PKI (tests/pki/mkpki.sh); its directory. */
const char *pki_dir(void);
int write_file(const char *path, const void *p, size_t n);

Suite *canon_suite(void);

#endif
