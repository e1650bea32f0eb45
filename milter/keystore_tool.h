/*
 * keystore_tool.h - what the files of smime-keystore share: the
 * commands (keystore_tool.c), SOURCE's lines (keystore_source.c), one
 * credential loaded and checked by the same code whatever named it
 * (keystore_cred.c), and import-dir (keystore_import.c).
 */
#ifndef SMIME_KEYSTORE_TOOL_H
#define SMIME_KEYSTORE_TOOL_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>
#include "sign.h"
#include "trust.h"

#define MAX_LOGINS 64

struct source_entry {               /* one credential */
    unsigned line;                  /* build: its SOURCE line; import-dir: 0 */
    char *address;
    char *file;                     /* build: CREDENTIAL-FILE or pkcs11:URI
                                       as written; import-dir: its path */
    char *certfile;                 /* a token key's CERTIFICATE-FILE */
    char **logins;
    size_t nlogins;
    smime_signer_t *signer;         /* loaded while its address is built */
    unsigned purpose;               /* KEYSTORE_SIGN | KEYSTORE_DECRYPT */
};

/* Some credentials of one address: v[idx[0..n)]. */
struct source_group {
    const size_t *idx;
    size_t n;
};

/* The file build parsed last, kept for the next line that names it
 * (the addresses of one certificate come together in SOURCE): one parse
 * of the key instead of one per address.  Same path, device, inode,
 * size and mtime, or it is read again. */
struct cred_cache {
    char *path;
    struct stat st;
    smime_signer_t *signer;         /* a reference */
};
void cred_cache_clear(struct cred_cache *c);

/* What build checks credentials against (-c CONF), and the clock. */
struct vet_ctx {
    const char *conf;               /* NULL: no -c */
    const smime_trust_t *trust;
    unsigned max_chain;
    time_t now;
    struct cred_cache *cache;       /* NULL: none (import-dir) */
};

/* Load the credential at path (PEM or PKCS#12, password
 * SMIME_KEYSTORE_PASSWORD) into e->signer and decide what it is for
 * (e->purpose): the checks of build.  Prints each problem and warning
 * as "WHERE: [warning: ]message"; returns the number of problems, at
 * most 1. */
int load_entry(const char *where, struct source_entry *e, const char *path,
               const struct vet_ctx *vc);
/* The same certificate twice for one address is a mistake (a line or a
 * file copied, not changed): 1 and a message at WHERE when e's
 * certificate is one of group g's (the address's earlier credentials),
 * else 0. */
int duplicate_cred(const char *where, const struct source_entry *v,
                   const struct source_group *g, const struct source_entry *e);
void entries_free(struct source_entry *v, size_t n);
int valid_address(const char *a);

/* A credential whose key is on a token (url): certificates from
 * certfile (relative to source's directory) or from the token when it
 * is the word "token"; the key must be usable with the PIN.  Then what
 * it is for, as load_entry.  Problem count, at most 1. */
int load_token_entry(const char *where, const char *source,
                     struct source_entry *e, const char *url,
                     const char *certfile, const struct vet_ctx *vc);
/* file relative to the directory of source (as is when absolute);
 * malloc'd, NULL out of memory. */
char *source_resolve(const char *source, const char *file);

/* Read SOURCE's lines into *out (syntax only: the credentials are
 * loaded address by address).  Problem count (each printed as
 * SOURCE:LINE: message), -1 on a read error or out of memory. */
int read_source(const char *source, struct source_entry **out,
                size_t *nout);
/* The lines of v grouped by address, the groups in the order their
 * addresses first appear (O(n log n)).  *idx holds the line indexes the
 * groups point into.  Number of groups, or (size_t)-1 out of memory. */
size_t group_lines(const struct source_entry *v, size_t n, size_t **idx,
                   struct source_group **groups);

/* smime-keystore import-dir DIR [-o SOURCE]: exit status. */
int cmd_import_dir(const char *dir, const char *output);

#endif
