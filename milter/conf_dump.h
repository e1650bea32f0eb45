/*
 * conf_dump.h - `smime-milter -n -v`: the effective configuration, one
 * line per key (per value of a repeatable key), with where each value
 * came from, in a form that can be read, diffed and loaded again.
 */
#ifndef SMIME_CONF_DUMP_H
#define SMIME_CONF_DUMP_H

#include <stdio.h>
#include "conf.h"

/* A value given on the command line instead of the file's (-p for
 * Socket): key as in the table, the value, and what to name as its
 * source ("-p"). */
struct conf_dump_override {
    const char *key;
    const char *value;
    const char *source;
};

/* Every key of the table, in table order:
 *     KEY VALUE  # default
 *     KEY VALUE  # FILE:LINE
 *     KEY VALUE  # -p
 *     #KEY  # default: none          (no value: the man page's default)
 * The overrides (n of them, may be 0) replace the key's values.
 * 0, or -1 on a write error. */
int conf_dump(const config_t *c, const struct conf_dump_override *ov,
              size_t n, FILE *out);

#endif
