/*
 * keystore_source.c - the lines of smime-keystore build's SOURCE file,
 * read for their syntax only: ADDRESS CREDENTIAL-FILE [LOGIN ...] or
 * ADDRESS pkcs11:URI CERTIFICATE-FILE [LOGIN ...], logins separated by
 * blanks or commas, '#' comments, a UTF-8 byte order mark skipped.  The
 * lines are then grouped by address with a sort (an address on several
 * lines has several credentials), so that build loads one address at a
 * time: memory and time stay in proportion to the lines, for a million
 * of them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errbuf.h"
#include "keystore.h"
#include "keystore_tool.h"

#define UTF8_BOM "\xef\xbb\xbf"

/* Split one line into fields (in place); '#' at a field start begins a
 * comment.  ADDRESS and CREDENTIAL-FILE are separated by blanks, the
 * logins after them by blanks or commas.  Returns the number of fields
 * (at most max). */
static size_t
split(char *line, char **f, size_t max, int *toomany)
{
    size_t n = 0;
    char *save = NULL;

    *toomany = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t;
         t = strtok_r(NULL, n < 2 ? " \t\r\n" : " \t\r\n,", &save)) {
        if (t[0] == '#')
            break;
        if (n == max) {
            *toomany = 1;
            break;
        }
        f[n++] = t;
    }
    return n;
}

void
entries_free(struct source_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].address);
        free(v[i].file);
        free(v[i].certfile);
        for (size_t j = 0; j < v[i].nlogins; j++)
            free(v[i].logins[j]);
        free(v[i].logins);
        smime_signer_free(v[i].signer);
    }
    free(v);
}

/* A LOGIN starting with '+' is a word: only +internal exists. */
static int
valid_logins(char **fields, size_t first, size_t nf, const char **bad)
{
    for (size_t i = first; i < nf; i++)
        if (fields[i][0] == '+' && strcmp(fields[i], KEYSTORE_INTERNAL)) {
            *bad = fields[i];
            return 0;
        }
    return 1;
}

/* Read SOURCE's lines into *out (syntax only: the credentials are
 * loaded address by address, see build_groups).  Problem count, -1 on
 * a read error or out of memory. */
int
read_source(const char *source, struct source_entry **out, size_t *nout)
{
    FILE *f = fopen(source, "r");
    char *line = NULL, *fields[3 + MAX_LOGINS];
    size_t cap = 0, n = 0, vcap = 0;
    struct source_entry *v = NULL;
    unsigned lineno = 0;
    int problems = 0, toomany;
    const char *bad;
    char eb[128];               /* smime_strerror() text */

    if (f == NULL) {
        fprintf(stderr, "smime-keystore: cannot open %s: %s\n", source,
                smime_strerror(errno, eb, sizeof eb));
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *start = line;
        if (lineno == 1 && strncmp(line, UTF8_BOM, 3) == 0)
            start += 3;             /* editors on some systems write one */
        size_t nf = split(start, fields, 3 + MAX_LOGINS, &toomany);
        if (nf == 0)
            continue;
        /* ADDRESS pkcs11:URI CERTIFICATE-FILE [LOGIN ...] */
        int tok = nf >= 2 && strncmp(fields[1], "pkcs11:", 7) == 0;
        size_t first = tok ? 3 : 2;
        toomany |= nf > first + MAX_LOGINS;
        if (tok && nf < 3 && !toomany) {
            fprintf(stderr, "%s:%u: bad syntax: expected ADDRESS pkcs11:URI "
                    "CERTIFICATE-FILE [LOGIN ...]\n", source, lineno);
            problems++;
            continue;
        }
        if (nf < 2 || toomany || !valid_address(fields[0])) {
            fprintf(stderr, "%s:%u: %s\n", source, lineno, toomany ?
                    "too many logins (at most 64)" : nf < 2 ?
                    "bad syntax: expected ADDRESS CREDENTIAL-FILE [LOGIN ...]"
                    : "bad syntax: not an email address");
            problems++;
            continue;
        }
        if (!valid_logins(fields, first, nf, &bad)) {
            fprintf(stderr, "%s:%u: unknown word %s among the logins (a "
                    "login cannot start with +; only " KEYSTORE_INTERNAL
                    " is known)\n", source, lineno, bad);
            problems++;
            continue;
        }
        if (n == vcap) {
            size_t nc = vcap ? 2 * vcap : 64;
            struct source_entry *nv = realloc(v, nc * sizeof(*v));
            if (nv == NULL)
                goto oom;
            v = nv;
            vcap = nc;
        }
        struct source_entry *e = &v[n++];
        memset(e, 0, sizeof(*e));
        e->line = lineno;
        e->address = strdup(fields[0]);
        e->file = strdup(fields[1]);
        if (tok && (e->certfile = strdup(fields[2])) == NULL)
            goto oom;
        if (nf > first &&
            (e->logins = calloc(nf - first, sizeof(char *))) == NULL)
            goto oom;
        for (size_t i = first; i < nf; i++)
            if ((e->logins[e->nlogins++] = strdup(fields[i])) == NULL)
                goto oom;
        if (e->address == NULL || e->file == NULL)
            goto oom;
    }
    if (ferror(f)) {
        fprintf(stderr, "smime-keystore: cannot read %s: %s\n", source,
                smime_strerror(errno, eb, sizeof eb));
        problems = -1;
    }
    goto done;
oom:
    fprintf(stderr, "smime-keystore: out of memory\n");
    problems = -1;
done:
    free(line);
    fclose(f);
    *out = v;
    *nout = n;
    return problems;
}

/* Sort order of line indexes: by address (any case), then by line. */
static const struct source_entry *sort_v;

static int
by_address(const void *a, const void *b)
{
    const struct source_entry *x = &sort_v[*(const size_t *)a],
                              *y = &sort_v[*(const size_t *)b];
    int c = strcasecmp(x->address, y->address);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int
by_first_line(const void *a, const void *b)
{
    const struct source_group *x = a, *y = b;
    unsigned lx = sort_v[x->idx[0]].line, ly = sort_v[y->idx[0]].line;
    return (lx > ly) - (lx < ly);
}

/* The lines of v grouped by address, the groups in the order their
 * addresses first appear (O(n log n): a million lines must not compare
 * each line with every other).  *idx holds the line indexes the groups
 * point into.  Number of groups, or (size_t)-1 out of memory. */
size_t
group_lines(const struct source_entry *v, size_t n, size_t **idx,
            struct source_group **groups)
{
    size_t ng = 0;

    *idx = malloc((n ? n : 1) * sizeof(**idx));
    *groups = malloc((n ? n : 1) * sizeof(**groups));
    if (*idx == NULL || *groups == NULL)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        (*idx)[i] = i;
    sort_v = v;
    qsort(*idx, n, sizeof(**idx), by_address);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcasecmp(v[(*idx)[i]].address,
                                 v[(*idx)[i - 1]].address) != 0)
            (*groups)[ng++] = (struct source_group){ *idx + i, 0 };
        (*groups)[ng - 1].n++;
    }
    qsort(*groups, ng, sizeof(**groups), by_first_line);
    return ng;
}
