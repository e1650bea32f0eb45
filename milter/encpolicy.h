/*
 * encpolicy.h - the encryption policy of outbound recipients (SPEC
 * "Encryption"): the EncryptPolicyFile table, and the RCPT decision that
 * keeps a transaction encryptable.
 *
 * Pure: no I/O but encpolicy_load() reading its file, no logging, no
 * certificate store.  The caller (session.c at RCPT) looks the level up,
 * finds out whether the recipient has a usable certificate, and asks
 * encpolicy_rcpt() what to answer; the transaction state lives in the
 * caller's struct encpolicy_txn.
 */
#ifndef SMIME_ENCPOLICY_H
#define SMIME_ENCPOLICY_H

#include <stddef.h>

enum encpolicy_level {
    ENCPOLICY_NEVER,
    ENCPOLICY_OPPORTUNISTIC,
    ENCPOLICY_REQUIRED
};
/* "never", "opportunistic", "required"; parse: 0, or -1 if unknown. */
const char *encpolicy_level_name(enum encpolicy_level l);
int encpolicy_level_parse(const char *s, enum encpolicy_level *out);

typedef struct encpolicy encpolicy_t;

/* Problems as "FILE:LINE: message" (or "FILE: message"). */
typedef void (*encpolicy_report_fn)(void *arg, const char *msg);

/* Reads path: one "KEY LEVEL" per line, '#' comments; KEY is ADDRESS,
 * DOMAIN or .DOMAIN (subdomains of DOMAIN).  NULL when the file is
 * unusable, after reporting every problem in it (report may be NULL);
 * NULL with errno set and nothing reported when it cannot be opened. */
encpolicy_t *encpolicy_load(const char *path, encpolicy_report_fn report,
                            void *arg);
/* The same from text (tests); name is used in messages. */
encpolicy_t *encpolicy_load_string(const char *name, const char *text,
                                   encpolicy_report_fn report, void *arg);
void encpolicy_free(encpolicy_t *p);                     /* NULL ok */
size_t encpolicy_count(const encpolicy_t *p);
/* 1 when encpolicy_rcpt() can answer anything but accept with these
 * settings: EncryptSplit, or required as the default or in an entry
 * (never and opportunistic alone only decide what is encrypted). */
int encpolicy_may_refuse(const encpolicy_t *p, enum encpolicy_level dflt,
                         int split);

/* The level of address (case-insensitive): the entry for the address,
 * else for its domain, else for the nearest .PARENT, else dflt.  p may
 * be NULL (no file).  *match (may be NULL) gets the matching key or
 * "default". */
enum encpolicy_level encpolicy_lookup(const encpolicy_t *p,
                                      const char *address,
                                      enum encpolicy_level dflt,
                                      const char **match);

/* What the lookup of a recipient's certificate found. */
enum encpolicy_cert {
    ENCPOLICY_CERT_USABLE,    /* a usable certificate */
    ENCPOLICY_CERT_NONE,      /* none, or none usable */
    ENCPOLICY_CERT_TEMPFAIL   /* the lookup failed for a transient reason */
};

/* The recipients accepted so far in one transaction (zero it at MAIL). */
struct encpolicy_txn {
    unsigned required;        /* required, with a certificate */
    unsigned encryptable;     /* opportunistic, with a certificate */
    unsigned plain;           /* never, or opportunistic without one */
    unsigned never;           /* of those, never */
};

enum encpolicy_verdict {
    ENCPOLICY_ACCEPT,
    ENCPOLICY_REJECT,         /* 550 5.7.1 */
    ENCPOLICY_TEMPFAIL,       /* 451 4.7.1 */
    ENCPOLICY_DEFER           /* 452 4.5.3: send it in another transaction */
};

struct encpolicy_reply {
    enum encpolicy_verdict verdict;
    const char *rcode;        /* "550", ...; NULL for ACCEPT */
    const char *xcode;        /* "5.7.1", ... */
    const char *text;         /* the SMTP reply text */
    const char *reason;       /* for the log: "required, no certificate" */
};

/* The answer to one recipient; an accepted one is counted in t.  split:
 * EncryptSplit. */
void encpolicy_rcpt(struct encpolicy_txn *t, enum encpolicy_level level,
                    enum encpolicy_cert cert, int split,
                    struct encpolicy_reply *out);

#endif
