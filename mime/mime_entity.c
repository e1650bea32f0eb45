/*
 * mime_entity.c - what the streaming parser (mime.c) tells its callers
 * about an entity: section, depth, type and parameters, transfer
 * encoding, parent; and the text of its error bits.  Read-only views of
 * struct mime_entity (mime_int.h); the parser's state stays in mime.c.
 */
#include "config.h"

#include "mime_int.h"

const char *mime_error_string(unsigned errors)
{
    static const char *const msg[] = {
        "MIME nesting too deep", "header too long",
        "too many headers", "bad multipart boundary",
        "too many MIME parts", "truncated MIME structure",
        "bad transfer encoding", "line too long",
        "too many S/MIME objects", "CMS too large",
        "multipart/signed without two parts", "header syntax error",
        "MIME boundary too long",
    };
    for (unsigned i = 0; i < sizeof(msg) / sizeof(msg[0]); i++)
        if (errors & (1u << i))
            return msg[i];
    return "";
}

const char *mime_entity_section(const mime_entity_t *e)
{
    return e->section;
}

unsigned mime_entity_depth(const mime_entity_t *e)
{
    return e->depth;
}

const char *mime_entity_type(const mime_entity_t *e)
{
    return e->type[0] ? e->type : "text/plain";
}

const char *mime_entity_param(const mime_entity_t *e, const char *name)
{
    return mimehdr_plist_get(&e->params, name);
}

const char *mime_entity_disposition_param(const mime_entity_t *e,
                                          const char *name)
{
    return mimehdr_plist_get(&e->dparams, name);
}

enum mime_cte mime_entity_cte(const mime_entity_t *e)
{
    return e->cte;
}

int mime_entity_is_multipart(const mime_entity_t *e)
{
    return e->multipart;
}

const mime_entity_t *mime_entity_parent(const mime_entity_t *e)
{
    return e->parent;
}
