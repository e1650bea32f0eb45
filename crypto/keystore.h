/*
 * keystore.h - the keystore: a CDB file (tinycdb) that maps an address to
 * its credentials (signing, decryption, or both; old keys kept to decrypt
 * mail sent to a renewed certificate) and the SASL logins allowed to sign
 * as it.  Written by `smime-keystore build` (keystore_writer_*), read by
 * the daemon (keystore_open/lookup) from any number of threads.
 *
 * File format (version 2).  Keys are addresses lower-cased (ASCII); one
 * record per address holds all its credentials (one lookup, one cache
 * entry, one reference for a message).
 *   key "\0smime-keystore"  value "2"   (marks the file; format version)
 *   key ADDRESS             value: one version byte (0x02), then fields
 *                           TYPE (1 byte) LENGTH (4 bytes, big-endian) DATA:
 *     'L' a login allowed to sign as ADDRESS (repeatable; none listed means
 *         only the login equal to ADDRESS); "+internal" lets mail without
 *         a SASL login sign as ADDRESS
 *     'P' one byte, KEYSTORE_SIGN and/or KEYSTORE_DECRYPT: starts a
 *         credential, what `build' found it good for (1 to KEYSTORE_MAX_CREDS
 *         per address); the fields after it up to the next 'P' are its:
 *     'K' the private key, PKCS#8 DER, unencrypted, or
 *     'U' instead: the RFC 7512 pkcs11: URI of a private key on a token
 *         (crypto/token.h), never with a PIN (exactly one 'K' or 'U');
 *         a reader older than this field finds the record damaged
 *     'C' a certificate, DER: the credential's first, then intermediates
 * Version 1 (still read): marker "1", records with version byte 0x01 and
 * no 'P': one credential, KEYSTORE_SIGN.  A reader refuses other versions
 * ("rebuild with smime-keystore build"), an unknown TYPE or purpose bit.
 * The stored purpose is re-checked when a record is read: a credential
 * signs only while its certificate passes keystore_check(), decrypts only
 * while the certificate allows decryption and names the address.
 *
 * The file must be a regular file owned by the user that opens it (root
 * may open any) with no group/other permission bits: it holds private
 * keys.
 *
 * A file is loaded whole into private memory (a sealed memfd) and every
 * record is checked then; a damaged file is refused as a whole.
 *
 * Parsed entries are cached per open file and reference-counted: an entry
 * returned by keystore_lookup() stays valid until keystore_entry_free(),
 * even when the keystore is reloaded or freed meanwhile; so do the
 * credentials (smime_signer_t: key and certificates) it hands out.
 */
#ifndef SMIME_KEYSTORE_H
#define SMIME_KEYSTORE_H

#include <stddef.h>
#include <time.h>
#include "sign.h"

#define KEYSTORE_VERSION 2          /* written; 1 is still read */

/* What a credential is for (the 'P' byte). */
#define KEYSTORE_SIGN    1u
#define KEYSTORE_DECRYPT 2u
#define KEYSTORE_MAX_CREDS 64       /* credentials per address */

typedef struct keystore keystore_t;
typedef struct keystore_entry keystore_entry_t;

/* NULL with a message that says what to fix ("/x.cdb is readable by
 * group or others (mode 0644): chmod 600 /x.cdb", ...). */
keystore_t *keystore_open(const char *path, char *err, size_t errlen);
/* The same, with the private copy of each loaded file made as an
 * unlinked file in copy_dir (page cache, which the kernel may reclaim)
 * rather than in memory (a memfd): what the daemon does, for keystores
 * of a million addresses.  copy_dir NULL: keystore_open. */
keystore_t *keystore_open_in(const char *path, const char *copy_dir,
                             char *err, size_t errlen);
void keystore_free(keystore_t *ks);                  /* accepts NULL */
const char *keystore_path(const keystore_t *ks);

/* 1 when the file at the path is not the one in use (other inode, size,
 * mtime or ctime: `smime-keystore build` renamed a new file into place,
 * or a refused file was chmod'ed), else 0.
 * A file state that already failed to load does not count again
 * (unless it failed for a passing reason, see below). */
int keystore_changed(keystore_t *ks);
/* Reopen when changed: 1 switched to the new file, 0 nothing to do (no
 * change, the same unusable file as before, or another thread is
 * reloading), -1 the file changed and is unusable (deleted, unreadable,
 * truncated, garbage, a damaged record, wrong owner or mode; message in
 * err).  Lookups never fail for the file's sake: they keep answering
 * from the last good file (a private copy, safe from changes made in
 * place) until a usable one is at the path again.  So 1 and -1 each
 * come once per change of the file: the caller can log them as they
 * come.  A failure for a passing reason (out of memory or file
 * descriptors) is tried again at every call, and reported again only
 * when it fails another way.  Lookups in other threads may run
 * meanwhile; entries they hold stay valid. */
int keystore_reload(keystore_t *ks, char *err, size_t errlen);

/* Case-insensitive address lookup.  1 found (*out: a reference, release
 * with keystore_entry_free), 0 no entry, -1 an entry whose key or
 * certificates cannot be parsed, or out of memory (message in err).
 * Thread-safe. */
int keystore_lookup(keystore_t *ks, const char *address,
                    keystore_entry_t **out, char *err, size_t errlen);
void keystore_entry_free(keystore_entry_t *e);       /* accepts NULL */
const char *keystore_entry_address(const keystore_entry_t *e);  /* lower */
/* The signing credential at now: the newest (latest notBefore) of the
 * credentials for signing that pass keystore_check() for the address at
 * now; NULL if none.  keystore_entry_signer() is that at time(NULL):
 * take it once per message (a later call may pick another). */
const smime_signer_t *keystore_entry_signer_at(const keystore_entry_t *e,
                                               time_t now);
const smime_signer_t *keystore_entry_signer(const keystore_entry_t *e);

/* Decryption credentials, expired ones included, newest first: the
 * certificate allows decryption (smime_cert_can_decrypt) and names the
 * address.  The key is smime_signer_privkey(), the certificate
 * smime_signer_cert(c, 0).  NULL past the end. */
size_t keystore_entry_ndecrypt(const keystore_entry_t *e);
const smime_signer_t *keystore_entry_decrypt_cred(const keystore_entry_t *e,
                                                  size_t i);
/* The decryption credential a RecipientInfo names: by ski (the contents
 * of a subjectKeyIdentifier, when ski is non-NULL and not empty), else by
 * issuer (a DER Name) and serial (INTEGER contents, leading zero bytes
 * ignored).  NULL when none of the entry's matches. */
const smime_signer_t *keystore_entry_find_decrypt(const keystore_entry_t *e,
                                                  const gnutls_datum_t *issuer,
                                                  const gnutls_datum_t *serial,
                                                  const gnutls_datum_t *ski);

/* Every credential as stored, newest first, with its stored purpose
 * (smime-keystore list and check). */
size_t keystore_entry_ncreds(const keystore_entry_t *e);
const smime_signer_t *keystore_entry_cred(const keystore_entry_t *e,
                                          size_t i);
unsigned keystore_entry_cred_purpose(const keystore_entry_t *e, size_t i);
size_t keystore_entry_nlogins(const keystore_entry_t *e);
const char *keystore_entry_login(const keystore_entry_t *e, size_t i);

/* The login word that lets mail without a SASL login sign (a client in
 * InternalHosts, a local submission).  It is not a login itself. */
#define KEYSTORE_INTERNAL "+internal"

/* May SASL login `login' sign as the entry's address?  1 if login is one
 * of the listed logins (exact match), or none are listed (KEYSTORE_INTERNAL
 * does not count) and login equals the address (case-insensitive).  NULL
 * or "" (no SASL login) gives 1 only when KEYSTORE_INTERNAL is listed. */
int keystore_may_sign(const keystore_entry_t *e, const char *login);

/* The certificate checks `build' and `check' apply (and the daemon may
 * apply before signing): valid at now, keyUsage/EKU allow S/MIME
 * signing, RSA at least 2048 bits, address in the certificate.  0, or
 * the number of problems with them in err, joined by "; ". */
int keystore_check(const smime_signer_t *signer, const char *address,
                   time_t now, char *err, size_t errlen);
/* The checks for a decryption credential: the certificate allows
 * decryption (smime_cert_check_encrypt_usage) and names address.
 * Validity is not checked: old keys decrypt old mail.  0, or the number
 * of problems in err, joined by "; ". */
int keystore_check_decrypt(const smime_signer_t *cred, const char *address,
                           char *err, size_t errlen);
/* 0 when the entry has a signing credential at now for address (the
 * address it was looked up by, in any case), answered from what was
 * checked when the entry was parsed: for each message before signing.
 * Else the problems keystore_check() finds with the newest credential
 * for signing, or "no signing credential". */
int keystore_entry_check(const keystore_entry_t *e, const char *address,
                         time_t now, char *err, size_t errlen);

/* Every entry in file order: fn gets the address and the parsed entry,
 * or NULL and a message when the record is broken.  Stops when fn
 * returns non-zero and returns that; else 0 (-1 on a read error). */
typedef int (*keystore_each_fn)(void *arg, const char *address,
                                const keystore_entry_t *e, const char *err);
int keystore_foreach(keystore_t *ks, keystore_each_fn fn, void *arg);

/* A credential as keystore_foreach_cert() gives it. */
typedef struct {
    unsigned purpose;          /* KEYSTORE_SIGN | KEYSTORE_DECRYPT */
    int on_token;              /* the key is a PKCS#11 URI */
    gnutls_x509_crt_t leaf;    /* NULL when it does not parse */
} keystore_cert_t;
/* Every entry in file order with the leaf certificates of its
 * credentials, as stored (not sorted), without parsing the private keys:
 * for checks that need only the certificates (the expiry warnings), at
 * a fraction of keystore_foreach()'s cost per entry.  A certificate
 * that does not parse is given as NULL (keystore_foreach and a lookup
 * report it).  fn's
 * certificates are freed when it returns.  Stops when fn returns
 * non-zero and returns that; else 0 (-1 on a read error or when out of
 * memory). */
typedef int (*keystore_cert_fn)(void *arg, const char *address,
                                const keystore_cert_t *creds, size_t n);
int keystore_foreach_cert(keystore_t *ks, keystore_cert_fn fn, void *arg);

/*
 * Writing: a temporary file (mode 0600) next to path; commit makes it
 * complete on disk (fsync), renames it over path and fsyncs the
 * directory.  When run as root over an existing file, the new file gets
 * the old file's owner, so the daemon's user can still read it.
 * keystore_writer_free() without commit removes the temporary file.
 */
typedef struct keystore_writer keystore_writer_t;
keystore_writer_t *keystore_writer_new(const char *path, char *err,
                                       size_t errlen);
/* One credential of an address and what it is for (KEYSTORE_SIGN,
 * KEYSTORE_DECRYPT or both: the caller has checked it may be). */
struct keystore_cred {
    const smime_signer_t *signer;
    unsigned purpose;
};
/* All credentials of an address (1 to 64) with its logins.  0, or -1
 * (duplicate address, bad purpose, I/O error) with a message. */
int keystore_writer_add_creds(keystore_writer_t *w, const char *address,
                              const struct keystore_cred *creds,
                              size_t ncreds, const char *const *logins,
                              size_t nlogins, char *err, size_t errlen);
/* The same with one credential for signing. */
int keystore_writer_add(keystore_writer_t *w, const char *address,
                        const smime_signer_t *signer,
                        const char *const *logins, size_t nlogins,
                        char *err, size_t errlen);
int keystore_writer_commit(keystore_writer_t *w, char *err, size_t errlen);
void keystore_writer_free(keystore_writer_t *w);     /* accepts NULL */

#endif
