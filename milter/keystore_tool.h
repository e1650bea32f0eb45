/*
 * keystore_tool.h - what smime-keystore's build (keystore_tool.c) and
 * import-dir (keystore_import.c) share: one credential loaded and
 * checked by the same code, whatever named it.
 */
#ifndef SMIME_KEYSTORE_TOOL_H
#define SMIME_KEYSTORE_TOOL_H

#include <stddef.h>
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

/* What build checks credentials against (-c CONF), and the clock. */
struct vet_ctx {
    const char *conf;               /* NULL: no -c */
    const smime_trust_t *trust;
    unsigned max_chain;
    time_t now;
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

/* smime-keystore import-dir DIR [-o SOURCE]: exit status. */
int cmd_import_dir(const char *dir, const char *output);

#endif
