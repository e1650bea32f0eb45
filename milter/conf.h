/*
 * conf.h - smime-milter.conf(5): parsing, defaults, checking, and the
 * immutable, reference-counted configuration snapshot the daemon works
 * with.
 *
 * One table (conf.c) lists every key with its type, default and a
 * one-line description; it drives the parser, the defaults, the -n check
 * and the man page test.  A loaded snapshot carries everything derived
 * from the file too (trust store, verification policy, outbound state),
 * so a SIGHUP reload builds a new snapshot and swaps it in while messages
 * in flight keep the one they started with.
 */
#ifndef SMIME_CONF_H
#define SMIME_CONF_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "trust.h"
#include "verify.h"

#define CONFIG_MODE_VERIFY 0x1u
#define CONFIG_MODE_SIGN   0x2u
#define CONFIG_MODE_DECRYPT 0x4u
#define CONFIG_MODE_ENCRYPT 0x8u
/* Modes that need the envelope recipients (RCPT). */
#define CONFIG_MODE_NEED_RCPT (CONFIG_MODE_DECRYPT | CONFIG_MODE_ENCRYPT)

/* One InternalHosts entry: an address with a prefix length. IPv4 is kept
 * as an IPv4-mapped IPv6 address (prefix + 96), so one matcher serves. */
struct config_net {
    unsigned char addr[16];
    unsigned prefix;
};

/* Everything is read-only once config_load() returned the snapshot. */
typedef struct config {
    const char *path;                /* the file it was read from */
    char *socket;                    /* NULL when not given */
    unsigned mode;                   /* CONFIG_MODE_* bits */
    char *authserv_id;
    char **trust_anchor_files;       /* n_trust_anchor_files entries */
    size_t n_trust_anchor_files;
    int trust_system_store;
    char **crl_files;
    size_t n_crl_files;
    char *keystore;                  /* NULL: none */
    char *pkcs11_module;             /* NULL: p11-kit's modules */
    char *pkcs11_pin_file;           /* NULL: none (URI pin-source) */
    char *certificate_store;         /* NULL: none (smime-certstore) */
    int harvest;                     /* Harvest */
    char *encrypt_policy_file;       /* NULL: none */
    int encrypt_default;             /* enum encpolicy_level */
    int encrypt_split;               /* EncryptSplit */
    struct config_net *internal_hosts;
    size_t n_internal_hosts;
    int require_from_match;
    int allow_sha1;
    int add_none_result;
    int sign_skip_dkim;
    char *tag_header;                /* NULL: none */
    char *decrypt_header;            /* DecryptHeader, never NULL */
    int on_error_accept;             /* OnError accept */
    uint64_t spool_threshold;
    char *spool_directory;
    uint64_t max_message_size;       /* 0: no limit */
    char *user_id;                   /* NULL: none */
    char *pid_file;                  /* NULL: none */
    char *stats_file;                /* NULL: none (SIGUSR1 logs only) */
    uint64_t stats_interval;         /* seconds; 0: only on SIGUSR1 */
    int log_level;                   /* LOG_ERR .. LOG_DEBUG */
    int syslog_facility;             /* LOG_MAIL, ... */

    /* Derived state, built by config_load. */
    smime_trust_t *trust;
    smime_policy_t policy;
    void *outbound;                  /* outbound_init() state, or NULL */
    struct encpolicy *encpolicy;     /* EncryptPolicyFile, or NULL */

    /* CertificateStore, opened on first use (config_certstore) and kept
     * open for the snapshot's life; the recipients looked up in it,
     * judged against this snapshot's trust store (recipient.h) */
    pthread_mutex_t certstore_lock;
    struct certstore *certstore_handle;
    struct smime_rcpt_cache *rcpt_cache;

    /* Private. */
    unsigned refs;
    char *path_buf;
    struct config_setting *settings; /* config_setting() */
    size_t n_settings;
} config_t;

/* Problems are reported one by one as "FILE:LINE: message" (or
 * "FILE: message" when no line applies) through report. */
typedef void (*config_report_fn)(void *arg, const char *msg);

#define CONFIG_NEED_SOCKET 0x1u   /* Socket is required (daemon mode) */
#define CONFIG_NO_DERIVED  0x2u   /* parse only: no trust store, no
                                     keystore (unit tests) */
#define CONFIG_CHECK       0x8u   /* -n and the daemon's start: also the
                                     checks of conf_check_files(), and
                                     warnings ("FILE:LINE: warning: ...") */
#define CONFIG_START       0x10u  /* with CONFIG_CHECK: the daemon's start,
                                     which serves before the walk over
                                     every keystore entry (left to
                                     keystore_expiry_log) */
#define CONFIG_NO_KEYSTORE 0x4u   /* trust store, but the keystore is not
                                     opened (smime-keystore build -c: it
                                     may not exist yet) */

/* Load path. Returns a snapshot holding one reference, or NULL when the
 * file is unusable; every problem has been reported (report may be NULL).
 * Out of memory is reported too. */
config_t *config_load(const char *path, unsigned flags,
                      config_report_fn report, void *arg);
/* Same, from a string (unit tests); name is used in messages. */
config_t *config_load_string(const char *name, const char *text,
                             unsigned flags, config_report_fn report,
                             void *arg);

config_t *config_ref(config_t *c);             /* returns c; thread-safe */
void config_unref(config_t *c);                /* NULL ok; thread-safe */

/* The daemon's current snapshot. get returns a new reference (NULL when
 * none is set); set takes over the caller's reference. */
config_t *config_current_get(void);
void config_current_set(config_t *c);

/* The snapshot's CertificateStore (read-write with Harvest yes), opened
 * on first use and shared by every thread using the snapshot: opened
 * lazily so that it belongs to the process that uses it (the daemon
 * loads its configuration before it forks and drops privileges).  NULL
 * with err when it cannot be opened (tried again next time) or when no
 * CertificateStore is configured. */
struct certstore *config_certstore(config_t *c, char *err, size_t errlen);

/* SpoolDirectory, or the spool's own default when none is set. */
const char *config_spool_dir(const config_t *c);

/* 1 when the textual address (IPv4 or IPv6) is in InternalHosts. */
int config_is_internal(const config_t *c, const char *addr);

/* The key table, for documentation checks. */
struct config_key_info {
    const char *name;        /* "Socket" */
    const char *default_doc; /* as in the man page: "sv", "(required)" */
    const char *doc;         /* one line */
};
size_t config_key_count(void);
const struct config_key_info *config_key(size_t i);

/* Where each value of a loaded snapshot came from (-n -v, conf_dump.h):
 * key (an index for config_key), the text as written and its line, 0
 * for a default.  In key-table order, a repeatable key's values in file
 * order; a key without a value (no default, not in the file) has none. */
struct config_setting {
    size_t key;
    unsigned line;
    char *value;
};
size_t config_setting_count(const config_t *c);
const struct config_setting *config_setting(const config_t *c, size_t j);

#endif
