/*
 * conf_check.c - checks after parsing (conf_check.h).
 *
 * Readability by UserID is asked of the kernel, not guessed from mode
 * bits: a child process takes the user's uid and groups (as the daemon
 * will) and tries each file, so ACLs, directory permissions and
 * supplementary groups all count.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "conf_check.h"
#include "errbuf.h"
#include "keystore.h"
#include "keystore_vet.h"

static void say(conf_check_fn fn, void *arg, const char *key, size_t i,
                int warning, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void say(conf_check_fn fn, void *arg, const char *key, size_t i,
                int warning, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(arg, key, i, warning, msg);
}

/* ---- after the file is read ---- */

static void parent_dir(const char *key, const char *file, conf_check_fn fn,
                       void *arg)
{
    char buf[4096];
    char eb[128];               /* smime_strerror() text */
    struct stat st;

    snprintf(buf, sizeof buf, "%s", file);
    const char *dir = dirname(buf);
    if (stat(dir, &st) != 0)
        say(fn, arg, key, 0, 0, "%s: directory %s: %s", key, dir,
            smime_strerror(errno, eb, sizeof eb));
    else if (!S_ISDIR(st.st_mode))
        say(fn, arg, key, 0, 0, "%s: %s is not a directory", key, dir);
}

void conf_check_settings(const config_t *c, conf_check_fn fn, void *arg)
{
    struct stat st;

    if (c->spool_directory && (stat(c->spool_directory, &st) != 0 ||
                               !S_ISDIR(st.st_mode)))
        say(fn, arg, "SpoolDirectory", 0, 0, "SpoolDirectory: %s%s is not "
            "a directory", c->spool_directory,
            strcmp(c->spool_directory, "/var/tmp") ? "" : " (the default)");
    if (c->pid_file)
        parent_dir("PidFile", c->pid_file, fn, arg);
    if (c->stats_file)
        parent_dir("StatsFile", c->stats_file, fn, arg);
}

/* ---- as UserID ---- */

struct probe {
    const char *key;
    size_t i;
    const char *path;
    int dir;                     /* 1: a directory written to */
};

static size_t probes(const config_t *c, struct probe *p, size_t max,
                     char *statsdir, size_t len)
{
    size_t n = 0;

#define ADD(k, idx, pth, d) \
    do { if (n < max) p[n++] = (struct probe){k, idx, pth, d}; } while (0)
    if (access(c->path, F_OK) == 0)      /* not a config_load_string */
        ADD("", 0, c->path, 0);
    for (size_t i = 0; i < c->n_trust_anchor_files; i++)
        ADD("TrustAnchorFile", i, c->trust_anchor_files[i], 0);
    for (size_t i = 0; i < c->n_crl_files; i++)
        ADD("CRLFile", i, c->crl_files[i], 0);
    if (c->keystore)
        ADD("Keystore", 0, c->keystore, 0);
    if (c->spool_directory)
        ADD("SpoolDirectory", 0, c->spool_directory, 1);
    if (c->stats_file) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", c->stats_file);
        snprintf(statsdir, len, "%s", dirname(buf));
        ADD("StatsFile", 0, statsdir, 1);
    }
#undef ADD
    return n;
}

/* In a child with the user's ids: one errno per probe into fd. */
static void probe_child(const struct passwd *pw, gid_t gid,
                        const struct probe *p, size_t n, int fd)
{
    int e = 0;

    if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 ||
        setuid(pw->pw_uid) != 0)
        e = errno ? errno : EPERM;
    for (size_t i = 0; i < n; i++) {
        int r = e;
        if (!r && p[i].dir) {
            r = access(p[i].path, W_OK | X_OK) == 0 ? 0 : errno;
        } else if (!r) {
            int f = open(p[i].path, O_RDONLY | O_CLOEXEC);
            r = f >= 0 ? 0 : errno;
            if (f >= 0)
                close(f);
        }
        if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
    }
    _exit(0);
}

static void check_user_access(const config_t *c, conf_check_fn fn,
                              void *arg)
{
    struct probe p[64];
    char user[256], statsdir[4096];
    char eb[128];               /* smime_strerror() text */
    const char *colon, *why;
    struct passwd *pw;
    gid_t gid;
    int fds[2];
    pid_t pid;
    size_t n;

    if (c->user_id == NULL || geteuid() != 0)
        return;          /* not root: the daemon cannot switch either */
    colon = strchr(c->user_id, ':');
    snprintf(user, sizeof user, "%.*s",
             (int)(colon ? (size_t)(colon - c->user_id)
                         : strlen(c->user_id)), c->user_id);
    if ((pw = getpwnam(user)) == NULL)
        return;          /* reported by the parser */
    gid = pw->pw_gid;
    if (colon) {
        struct group *gr = getgrnam(colon + 1);
        if (gr == NULL)
            return;
        gid = gr->gr_gid;
    }
    if (pw->pw_uid == 0)
        return;
    n = probes(c, p, sizeof p / sizeof p[0], statsdir, sizeof statsdir);
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        say(fn, arg, "UserID", 0, 1, "UserID: cannot check the files as "
            "%s: %s", user, smime_strerror(errno, eb, sizeof eb));
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(pw, gid, p, n, fds[1]);
    }
    close(fds[1]);
    for (size_t i = 0; i < n; i++) {
        int r;
        if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r) {
            say(fn, arg, "UserID", 0, 1, "UserID: the check of the files "
                "as %s did not finish", user);
            break;
        }
        if (r == 0)
            continue;
        why = smime_strerror(r, eb, sizeof eb);
        if (p[i].dir)
            say(fn, arg, p[i].key, p[i].i, 0, "%s: %s is not writable by "
                "UserID %s: %s", p[i].key, p[i].path, user, why);
        else if (*p[i].key)
            say(fn, arg, p[i].key, p[i].i, 0, "%s: %s is not readable by "
                "UserID %s (it is read again on SIGHUP): %s", p[i].key,
                p[i].path, user, why);
        else
            say(fn, arg, "", 0, 0, "not readable by UserID %s (it is read "
                "again on SIGHUP): %s", user, why);
    }
    close(fds[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* ---- warnings about time ---- */

struct expiry {
    time_t now;
    conf_check_fn fn;
    void *arg;
    keystore_t *ks;
};

/* A key on a token unusable now: an absent token, a wrong PIN or a
 * missing module is a warning, not an error, since the daemon tries
 * again with each message. */
static void token_unusable(void *arg, const char *address, const char *url,
                           const char *why)
{
    const struct expiry *x = arg;

    say(x->fn, x->arg, "Keystore", 0, 1, "Keystore: %s: key on a token "
        "unusable now (%s): %s", address, url, why);
}

static void cred_soon(void *arg, const char *address, gnutls_x509_crt_t leaf,
                      unsigned purpose, const char *when)
{
    const struct expiry *x = arg;

    (void)leaf;
    say(x->fn, x->arg, "Keystore", 0, 1, "Keystore: %s: certificate %s%s",
        address, when, purpose == KEYSTORE_DECRYPT ? " (decryption)" : "");
}

static int entry_expiry(void *arg, const char *address,
                        const keystore_cert_t *creds, size_t n)
{
    struct expiry *x = arg;

    keystore_vet_tokens(x->ks, address, creds, n, token_unusable, x);
    keystore_vet_soon(address, creds, n, x->now, cred_soon, x);
    return 0;
}

/* -n's walk: certificates only (keystore_foreach_cert), so that a
 * keystore of a million addresses is checked without importing a million
 * private keys. */
static void check_keystore_expiry(const config_t *c, time_t now,
                                  conf_check_fn fn, void *arg)
{
    struct expiry x = {now, fn, arg, NULL};
    char err[512];

    if (c->keystore == NULL ||
        (x.ks = keystore_open_in(c->keystore, config_spool_dir(c), err,
                                 sizeof err)) == NULL)
        return;          /* an unusable keystore is reported elsewhere */
    keystore_foreach_cert(x.ks, entry_expiry, &x);
    keystore_free(x.ks);
}

static void check_crl_dates(const config_t *c, time_t now, conf_check_fn fn,
                            void *arg)
{
    for (size_t i = 0; i < c->n_crl_files; i++) {
        gnutls_datum_t data = {NULL, 0};
        gnutls_x509_crl_t *crls = NULL;
        unsigned n = 0;

        if (gnutls_load_file(c->crl_files[i], &data) < 0)
            continue;    /* unreadable CRLs are errors elsewhere */
        if (gnutls_x509_crl_list_import2(&crls, &n, &data,
                                         GNUTLS_X509_FMT_PEM, 0) < 0 &&
            gnutls_x509_crl_list_import2(&crls, &n, &data,
                                         GNUTLS_X509_FMT_DER, 0) < 0)
            n = 0;
        for (unsigned j = 0; j < n; j++) {
            time_t next = gnutls_x509_crl_get_next_update(crls[j]);
            gnutls_datum_t dn = {NULL, 0};
            char when[64];
            struct tm tm;

            if (next != (time_t)-1 && next < now &&
                gmtime_r(&next, &tm) != NULL) {
                strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
                if (gnutls_x509_crl_get_issuer_dn3(crls[j], &dn, 0) < 0)
                    dn.data = NULL;
                say(fn, arg, "CRLFile", i, 1, "CRLFile: %s: the CRL of %s "
                    "is past its nextUpdate (%s): fetch a new one",
                    c->crl_files[i], dn.data ? (char *)dn.data : "?", when);
                gnutls_free(dn.data);
            }
            gnutls_x509_crl_deinit(crls[j]);
        }
        gnutls_free(crls);
        gnutls_free(data.data);
    }
}

void conf_check_files(const config_t *c, int mode_set, int walk_keystore,
                      time_t now, conf_check_fn fn, void *arg)
{
    if ((c->mode & CONFIG_MODE_SIGN) && c->keystore == NULL)
        say(fn, arg, "Mode", 0, !mode_set, "Mode%s has s (sign) but no "
            "Keystore is given: nothing will be signed; add Keystore FILE "
            "or set Mode v", mode_set ? "" : " (the default sv)");
    if ((c->mode & CONFIG_MODE_DECRYPT) && c->keystore == NULL)
        say(fn, arg, "Mode", 0, 0, "Mode has d (decrypt) but no Keystore "
            "is given: nothing could be decrypted; add Keystore FILE or "
            "remove d");
    if ((c->mode & CONFIG_MODE_ENCRYPT) && c->certificate_store == NULL)
        say(fn, arg, "Mode", 0, 0, "Mode has e (encrypt) but no "
            "CertificateStore is given: nothing could be encrypted; add "
            "CertificateStore FILE or remove e");
    check_user_access(c, fn, arg);
    if (walk_keystore)
        check_keystore_expiry(c, now, fn, arg);
    check_crl_dates(c, now, fn, arg);
}
