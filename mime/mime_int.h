/*
 * mime_int.h - internals shared by mime.c (the line state machine) and
 * mime_hdr.c (Content-* header value parsing).  Not for other modules.
 */
#ifndef SMIME_MIME_INT_H
#define SMIME_MIME_INT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "mime.h"

#define MIME_TYPE_MAX 256      /* "type/subtype" longer than this: invalid */

struct mime_param {
    char *name;                /* lower case */
    char *value;               /* decoded */
};

struct mime_plist {
    struct mime_param *v;
    unsigned n;
};

enum mime_state {
    ST_HEADERS,                /* in the entity's header block */
    ST_BODY,                   /* leaf body */
    ST_PREAMBLE,               /* multipart, before the first delimiter */
    ST_PARTS,                  /* multipart, inside a body part */
    ST_EPILOGUE                /* multipart, after the close delimiter */
};

struct mime_entity {
    struct mime_entity *parent;
    char *section;
    unsigned depth;
    enum mime_state state;
    char type[MIME_TYPE_MAX];
    struct mime_plist params;  /* Content-Type parameters */
    struct mime_plist dparams; /* Content-Disposition parameters */
    enum mime_cte cte;
    unsigned char have_ct, have_cte, have_cd;
    unsigned char multipart;   /* parsed as a multipart (boundary valid) */
    unsigned char is_signed;   /* an S/MIME multipart/signed with an id */
    unsigned char leaf_pending;/* a body CRLF held back */
    unsigned char cap_pending; /* signed content: a CRLF held back */
    const char *boundary;      /* points into params */
    size_t blen;
    unsigned nchildren;
    unsigned nheaders;
    int smime_id;              /* id of this S/MIME object, or -1 */
    int cms_id;                /* id whose cms_data this leaf feeds, or -1 */
    uint64_t cms_len;          /* decoded bytes given to cms_data */
    struct b64_dec b64;
};

/* mime_hdr.c: parse a header value (NUL-terminated, may be folded). */
int mimehdr_content_type(const char *v, char *type, struct mime_plist *pl);
int mimehdr_disposition(const char *v, struct mime_plist *pl);
enum mime_cte mimehdr_cte(const char *v);
const char *mimehdr_plist_get(const struct mime_plist *pl, const char *name);
void mimehdr_plist_free(struct mime_plist *pl);

#endif
