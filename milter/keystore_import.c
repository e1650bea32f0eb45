/*
 * keystore_import.c - smime-keystore import-dir DIR [-o SOURCE]: a
 * source file for `build' from a directory of credentials named after
 * their addresses.
 *
 * Each file DIR/ADDRESS.EXT or DIR/ADDRESS.N.EXT (EXT pem, p12 or pfx,
 * N decimal digits: several credentials of one address) is loaded and
 * checked by build's own code (load_entry: key matches certificate,
 * address in the certificate, what it is for); problems are printed as
 * FILE: message.  Other files get a warning, hidden ones are ignored.
 * When every credential is usable, one line "ADDRESS FILE" per file, in
 * name order, with FILE absolute, goes to standard output or replaces
 * SOURCE (a temporary file renamed into place); else nothing is
 * written.  No logins are written: the address itself may sign.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "keystore.h"
#include "keystore_tool.h"

/* The address a file name stands for, into addr; 0 when the name does
 * not follow ADDRESS[.N].{pem,p12,pfx}. */
static int
name_address(const char *name, char *addr, size_t len)
{
    static const char *const exts[] = { ".pem", ".p12", ".pfx" };
    size_t n = strlen(name), e;

    for (e = 0; e < sizeof(exts) / sizeof(exts[0]); e++)
        if (n > 4 && strcasecmp(name + n - 4, exts[e]) == 0)
            break;
    if (e == sizeof(exts) / sizeof(exts[0]))
        return 0;
    n -= 4;
    size_t d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
        d--;
    if (d < n && d > 0 && name[d - 1] == '.')
        n = d - 1;                  /* ADDRESS.N: a top-level domain is
                                       never all digits */
    if (n == 0 || n >= len)
        return 0;
    memcpy(addr, name, n);
    addr[n] = '\0';
    return valid_address(addr);
}

static int
skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Write the lines to output (NULL: stdout); 0 or 1. */
static int
write_source(const char *output, const struct source_entry *v, size_t n)
{
    char *tmp = NULL;
    FILE *f = stdout;
    char eb[128];               /* smime_strerror() text */

    if (output) {
        if (asprintf(&tmp, "%s.tmp.%ld", output, (long)getpid()) < 0 ||
            (f = fopen(tmp, "wx")) == NULL) {
            fprintf(stderr, "smime-keystore: cannot write %s: %s\n",
                    tmp ? tmp : output, smime_strerror(errno, eb, sizeof eb));
            free(tmp);
            return 1;
        }
        fprintf(f, "# smime-keystore import-dir: ADDRESS CREDENTIAL-FILE "
                "[LOGIN ...]\n");
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s %s\n", v[i].address, v[i].file);
    if (fflush(f) != 0 || ferror(f) ||
        (output && (fsync(fileno(f)) != 0 || fclose(f) != 0 ||
                    rename(tmp, output) != 0))) {
        fprintf(stderr, "smime-keystore: cannot write %s: %s\n",
                output ? output : "standard output", smime_strerror(errno, eb, sizeof eb));
        if (tmp)
            unlink(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}

int
cmd_import_dir(const char *dir, const char *output)
{
    struct vet_ctx vc = { NULL, NULL, 0, time(NULL), NULL };
    struct dirent **names = NULL;
    struct source_entry *v = NULL;
    char real[PATH_MAX], addr[321];
    char eb[128];               /* smime_strerror() text */
    size_t same_idx[KEYSTORE_MAX_CREDS];
    size_t n = 0;
    int problems = 0, nn;

    if (realpath(dir, real) == NULL ||
        (nn = scandir(real, &names, skip_hidden, alphasort)) < 0) {
        fprintf(stderr, "smime-keystore: cannot read the directory %s: %s\n",
                dir, smime_strerror(errno, eb, sizeof eb));
        return 1;
    }
    for (int i = 0; i < nn; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", real, names[i]->d_name) < 0) {
            problems++;
            break;
        }
        if (!name_address(names[i]->d_name, addr, sizeof(addr))) {
            fprintf(stderr, "%s: warning: not imported: not named "
                    "ADDRESS.pem, ADDRESS.p12, ADDRESS.pfx or "
                    "ADDRESS.N.EXT\n", path);
            free(path);
            continue;
        }
        size_t same = 0;            /* the address's earlier files */
        for (size_t j = 0; j < n && same < KEYSTORE_MAX_CREDS; j++)
            if (strcasecmp(v[j].address, addr) == 0)
                same_idx[same++] = j;
        struct source_entry *nv = realloc(v, (n + 1) * sizeof(*v));
        if (nv == NULL) {
            free(path);
            problems++;
            break;
        }
        v = nv;
        struct source_entry *e = &v[n++];
        memset(e, 0, sizeof(*e));
        e->file = path;
        e->address = strdup(addr);
        if (e->address == NULL)
            problems++;
        else if (same == KEYSTORE_MAX_CREDS) {
            fprintf(stderr, "%s: too many credentials for %s (at most %d)\n",
                    path, addr, KEYSTORE_MAX_CREDS);
            problems++;
        } else if (load_entry(path, e, path, &vc) > 0)
            problems++;
        else
            problems += duplicate_cred(path, v,
                &(struct source_group){ same_idx, same }, e);
    }
    for (int i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (problems == 0 && n == 0) {
        fprintf(stderr, "smime-keystore: %s: no credential files\n", dir);
        problems++;
    }
    int rc = 1;
    if (problems)
        fprintf(stderr, "smime-keystore: %d problem%s, %s\n", problems,
                problems == 1 ? "" : "s",
                output ? "nothing written" : "no source printed");
    else
        rc = write_source(output, v, n);
    if (rc == 0 && output)
        fprintf(stderr, "smime-keystore: wrote %zu credential%s to %s\n", n,
                n == 1 ? "" : "s", output);
    entries_free(v, n);
    return rc;
}
