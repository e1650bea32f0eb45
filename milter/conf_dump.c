/*
 * conf_dump.c - the effective configuration (-n -v).
 *
 * Nothing here knows a key: it walks conf.c's key table and the values
 * the loader noted for each key (config_setting), so a key added to the
 * table is printed without a change here.  Values are printed as they
 * were written (or as the table's default text): the file cannot hold a
 * '#' in a value, so "  # SOURCE" after it is unambiguous and the output
 * is itself a configuration file that gives the same settings.
 */
#include "config.h"

#include <string.h>

#include "conf_dump.h"

static const struct conf_dump_override *
find_override(const char *name, const struct conf_dump_override *ov,
              size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ov[i].key, name) == 0)
            return &ov[i];
    return NULL;
}

int conf_dump(const config_t *c, const struct conf_dump_override *ov,
              size_t n, FILE *out)
{
    size_t j = 0, ns = config_setting_count(c);

    for (size_t k = 0; k < config_key_count(); k++) {
        const struct config_key_info *info = config_key(k);
        const struct conf_dump_override *o = find_override(info->name, ov, n);
        int any = 0;

        for (; j < ns && config_setting(c, j)->key == k; j++) {
            const struct config_setting *s = config_setting(c, j);
            if (o)
                continue;
            any = 1;
            if (s->line)
                fprintf(out, "%s %s  # %s:%u\n", info->name, s->value,
                        c->path, s->line);
            else
                fprintf(out, "%s %s  # default\n", info->name, s->value);
        }
        if (o)
            fprintf(out, "%s %s  # %s\n", info->name, o->value, o->source);
        else if (!any)
            fprintf(out, "#%s  # default: %s\n", info->name,
                    info->default_doc);
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
