/*
 * certstore.h - the recipient certificate store: per email address, the
 * certificates usable to encrypt to it, each with its source (imported
 * by the operator or harvested from signed mail), the sender's
 * SMIMECapabilities and the signingTime it was last seen with.
 *
 * An LMDB environment in one file (MDB_NOSUBDIR): STORE and STORE-lock.
 * Readers never block and are never blocked; one writer at a time across
 * all processes (the daemon's harvesting and smime-certstore may write
 * at once); a crash leaves the last committed state.  The map grows on
 * demand.  The record format is in certstore.c and HACKING.md.
 *
 * One store is opened at most once per process: a second
 * certstore_open() of the same file shares the first one's environment
 * (LMDB forbids two), so any number of snapshots and threads may hold
 * handles.  Every function is thread-safe.  No logging: a status and a
 * short reason in err.
 */
#ifndef SMIME_CERTSTORE_H
#define SMIME_CERTSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct certstore certstore_t;
typedef struct certstore_list certstore_list_t;

enum certstore_status {
    CERTSTORE_OK = 0,
    CERTSTORE_NOTFOUND,     /* no such address (or serial) */
    CERTSTORE_KEPT,         /* harvest: the stored entry stays (why in err) */
    CERTSTORE_BAD_INPUT,    /* not a certificate, not an address */
    CERTSTORE_CORRUPT,      /* a record this code cannot read */
    CERTSTORE_ERROR         /* I/O, LMDB, memory, read-only handle */
};

enum certstore_source { CERTSTORE_IMPORT = 1, CERTSTORE_HARVEST = 2 };
const char *certstore_source_name(enum certstore_source s); /* "import" */
const char *certstore_lmdb_version(void);           /* "LMDB 0.9.24: ..." */

#define CERTSTORE_RDONLY 0x0u   /* lookups (the daemon without Harvest) */
#define CERTSTORE_RDWR   0x1u   /* also writes */
#define CERTSTORE_CREATE 0x2u   /* with RDWR: make a new store (0600) */

/* mapsize: the initial map in bytes for a new or smaller store, 0 for
 * the default (CERTSTORE_MAP_DEFAULT); it doubles whenever full. */
#define CERTSTORE_MAP_DEFAULT ((size_t)64 << 20)
certstore_t *certstore_open(const char *path, unsigned flags, size_t mapsize,
                            char *err, size_t errlen);
void certstore_free(certstore_t *cs);                     /* NULL ok */
const char *certstore_path(const certstore_t *cs);
size_t certstore_mapsize(const certstore_t *cs);          /* bytes now */

/* One stored certificate of an address.  Pointers stay valid until the
 * list they came from is freed. */
struct certstore_entry {
    const unsigned char *cert;     /* DER */
    size_t cert_len;
    const unsigned char *const *chain; /* intermediates (DER) it came with */
    const size_t *chain_len;
    size_t nchain;
    enum certstore_source source;
    const unsigned char *caps;     /* SMIMECapabilities DER; may be empty */
    size_t caps_len;
    int64_t signing_time;          /* seconds since the epoch; 0: none */
    int64_t updated;               /* when this entry was last written */
};

/* Case-insensitive lookup: OK with *out, NOTFOUND, CORRUPT or ERROR. */
enum certstore_status certstore_lookup(certstore_t *cs, const char *address,
                                       certstore_list_t **out,
                                       char *err, size_t errlen);

/* The same, with a stamp of what was read (*stamp, owned by the caller;
 * NULL unless OK), to tell later whether the address changed. */
typedef struct certstore_stamp certstore_stamp_t;
enum certstore_status certstore_lookup_stamp(certstore_t *cs,
                                             const char *address,
                                             certstore_list_t **out,
                                             certstore_stamp_t **stamp,
                                             char *err, size_t errlen);
/* 1 when the address's record and the certificate records it names
 * (their intermediates included) read as they did for stamp; 0 when
 * anything of them changed or went; -1 when the store cannot be read
 * (err).  One read transaction, no parsing, no allocation. */
int certstore_stamp_check(certstore_t *cs, const char *address,
                          const certstore_stamp_t *stamp,
                          char *err, size_t errlen);
void certstore_stamp_free(certstore_stamp_t *s);          /* NULL ok */

size_t certstore_list_count(const certstore_list_t *l);
const struct certstore_entry *certstore_list_get(const certstore_list_t *l,
                                                 size_t i);
void certstore_list_free(certstore_list_t *l);            /* NULL ok */

/* Import: the operator's certificate for address.  It replaces every
 * harvested entry of the address and an imported one with the same
 * issuer and serial; other imported certificates stay.  The caller has
 * checked that the certificate can encrypt to address
 * (smime_cert_can_encrypt); chain: intermediates kept with it. */
enum certstore_status certstore_import(certstore_t *cs, const char *address,
        const unsigned char *cert, size_t cert_len,
        const unsigned char *const *chain, const size_t *chain_len,
        size_t nchain, char *err, size_t errlen);

/* The same for many addresses (those of one certificate) in one
 * transaction: each[i] gets address i's status.  OK when at least one
 * was stored, else the last failure. */
enum certstore_status certstore_import_all(certstore_t *cs,
        const char *const *addresses, size_t naddresses,
        enum certstore_status *each, const unsigned char *cert,
        size_t cert_len, const unsigned char *const *chain,
        const size_t *chain_len, size_t nchain, char *err, size_t errlen);

/* Harvest (SPEC): store cert for address unless the address has an
 * imported certificate (KEPT) or a harvested one last seen with the same
 * or a later signingTime (KEPT); else it replaces the harvested entry. */
enum certstore_status certstore_harvest(certstore_t *cs, const char *address,
        const unsigned char *cert, size_t cert_len,
        const unsigned char *const *chain, const size_t *chain_len,
        size_t nchain, const unsigned char *caps, size_t caps_len,
        int64_t signing_time, char *err, size_t errlen);

/* Delete the address, or only its certificates with this serial
 * (hex, any case, leading zeros ignored): OK or NOTFOUND. */
enum certstore_status certstore_delete(certstore_t *cs, const char *address,
                                       const char *serial_hex,
                                       char *err, size_t errlen);

/* Every address in order: fn gets it with its entries, or NULL and a
 * reason when the record cannot be read.  Stops when fn returns non-zero.
 * OK, or ERROR (err) when the store cannot be read.  The read
 * transaction stays open during the walk: writers are not blocked. */
typedef int (*certstore_each_fn)(void *arg, const char *address,
                                 const certstore_list_t *l, const char *why);
enum certstore_status certstore_foreach(certstore_t *cs, certstore_each_fn fn,
                                        void *arg, char *err, size_t errlen);

/* For tests of the format: store raw bytes as address's record. */
enum certstore_status certstore_put_raw(certstore_t *cs, const char *address,
                                        const void *rec, size_t len,
                                        char *err, size_t errlen);

#endif
