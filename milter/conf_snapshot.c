/*
 * conf_snapshot.c - what a configuration snapshot holds beyond the
 * values of its file, and its lifetime.
 *
 * Once conf.c has read the file: the EncryptPolicyFile is read, the
 * trust store built from TrustAnchorFile, TrustSystemStore and CRLFile,
 * the CertificateStore tried, the token provider set up and the
 * outbound state (keystore) opened; each problem names its key's line.
 * The snapshot is then shared by reference count: the daemon's current
 * one, the messages that started with an older one, the
 * CertificateStore opened on first use.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "certstore.h"
#include "conf_priv.h"
#include "encpolicy.h"
#include "errbuf.h"
#include "outbound.h"
#include "recipient.h"
#include "spool.h"
#include "token.h"

/* ---- read with the file ---- */

/* EncryptPolicyFile problems come as "POLICYFILE:LINE: message". */
static void policy_report(void *arg, const char *msg)
{
    struct pstate *ps = arg;

    ps->errors++;
    if (ps->report)
        ps->report(ps->arg, msg);
}

/* The policy file is part of the configuration: read with it, so -n
 * checks it and a SIGHUP reloads it (a broken one keeps the old
 * snapshot). */
void conf_load_policy_file(struct pstate *ps)
{
    config_t *c = ps->c;
    int before = ps->errors;

    if (c->encrypt_policy_file == NULL)
        return;
    errno = 0;
    c->encpolicy = encpolicy_load(c->encrypt_policy_file, policy_report, ps);
    int e = errno;
    char eb[128];
    if (c->encpolicy == NULL && ps->errors == before)
        conf_problem(ps, conf_key_line(ps, "EncryptPolicyFile"),
                     "EncryptPolicyFile %s: %s%s", c->encrypt_policy_file,
                     e ? "cannot open: " : "cannot be used",
                     e ? smime_strerror(e, eb, sizeof eb) : "");
}

/* conf_check.c's findings, with the line of the key (of entry i of a
 * repeatable key); warnings only where they are asked for (-n, start). */
void conf_check_report(void *arg, const char *key, size_t i, int warning,
                       const char *msg)
{
    struct pstate *ps = arg;
    unsigned line = *key ? conf_entry_line(ps, key, i) : 0;
    char out[1400];

    if (!warning) {
        conf_problem(ps, line, "%s", msg);
        return;
    }
    if (!(ps->flags & CONFIG_CHECK) || ps->report == NULL)
        return;
    if (line)
        snprintf(out, sizeof out, "%s:%u: warning: %s", ps->name, line, msg);
    else
        snprintf(out, sizeof out, "%s: warning: %s", ps->name, msg);
    ps->report(ps->arg, out);
}

/* ---- derived state ---- */

/* At -n and at load the certificate store is opened read-only, to
 * report a missing or unreadable one, and closed; the daemon opens it
 * for good on first use (config_certstore). */
static void check_certificate_store(struct pstate *ps)
{
    char err[600];
    certstore_t *cs = certstore_open(ps->c->certificate_store,
                                     CERTSTORE_RDONLY, 0, err, sizeof err);

    if (cs == NULL)
        conf_problem(ps, conf_key_line(ps, "CertificateStore"),
                     "CertificateStore: %s", err);
    certstore_free(cs);
}

const char *config_spool_dir(const config_t *c)
{
    return c->spool_directory ? c->spool_directory : SPOOL_DEFAULT_DIR;
}

certstore_t *config_certstore(config_t *c, char *err, size_t errlen)
{
    certstore_t *cs;

    if (c->certificate_store == NULL) {
        snprintf(err, errlen, "no CertificateStore");
        return NULL;
    }
    pthread_mutex_lock(&c->certstore_lock);
    if ((cs = c->certstore_handle) == NULL)
        cs = c->certstore_handle = certstore_open(c->certificate_store,
                c->harvest ? CERTSTORE_RDWR : CERTSTORE_RDONLY, 0, err,
                errlen);
    pthread_mutex_unlock(&c->certstore_lock);
    return cs;
}

/* PKCS11Module and PKCS11PinFile: the token provider for keystore keys
 * on a token (crypto/token.h; process-wide, a reload may change it). */
static void setup_token(struct pstate *ps)
{
    config_t *c = ps->c;
    char pin[256], err[512];
    int have_pin = 0;

    if (c->pkcs11_pin_file) {
        if (smime_token_read_pin(c->pkcs11_pin_file, pin, sizeof pin, err,
                                 sizeof err) < 0) {
            conf_problem(ps, conf_key_line(ps, "PKCS11PinFile"),
                         "PKCS11PinFile: %s", err);
            return;
        }
        have_pin = 1;
    }
    /* a module that does not load is a token failure like the others:
     * messages needing it get OnError, each use tries it again */
    if (smime_token_setup(c->pkcs11_module, have_pin ? pin : NULL, err,
                          sizeof err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "PKCS11Module: %s (keys on a token "
                 "cannot be used until it loads)", err);
        conf_check_report(ps, "PKCS11Module", 0, 1, msg);
    }
    gnutls_memset(pin, 0, sizeof pin);
}

/* Trust store, policy, outbound state. */
int conf_build_derived(struct pstate *ps)
{
    config_t *c = ps->c;
    char err[512];

    smime_policy_default(&c->policy);
    c->policy.require_from_match = c->require_from_match;
    c->policy.allow_sha1 = c->allow_sha1;
    /* what a message may keep in memory: held signed content too */
    if (c->spool_threshold < c->policy.hold_max)
        c->policy.hold_max = (size_t)c->spool_threshold;
    if ((c->trust = smime_trust_new()) == NULL)
        return -1;
    if (c->certificate_store &&
        (c->rcpt_cache = smime_rcpt_cache_new(c->trust)) == NULL)
        return -1;
    for (size_t i = 0; i < c->n_trust_anchor_files; i++)
        if (smime_trust_add_anchors(c->trust, c->trust_anchor_files[i],
                                    err, sizeof err) < 0)
            conf_problem(ps, conf_entry_line(ps, "TrustAnchorFile", i),
                         "TrustAnchorFile: %s", err);
    if (c->trust_system_store &&
        smime_trust_add_system(c->trust, err, sizeof err) < 0)
        conf_problem(ps, conf_key_line(ps, "TrustSystemStore"),
                     "TrustSystemStore: %s", err);
    for (size_t i = 0; i < c->n_crl_files; i++)
        if (smime_trust_add_crl(c->trust, c->crl_files[i],
                                err, sizeof err) < 0)
            conf_problem(ps, conf_entry_line(ps, "CRLFile", i),
                         "CRLFile: %s", err);
    if ((c->mode & CONFIG_MODE_VERIFY) && c->n_trust_anchor_files == 0 &&
        !c->trust_system_store)
        conf_problem(ps, 0, "Mode has v but no TrustAnchorFile is given and "
                     "TrustSystemStore is no: nothing could pass");
    if (c->certificate_store)
        check_certificate_store(ps);
    setup_token(ps);            /* also when a reload dropped the keys */
    if ((c->mode & (CONFIG_MODE_SIGN | CONFIG_MODE_DECRYPT)) &&
        !(ps->flags & CONFIG_NO_KEYSTORE)) {
        err[0] = '\0';
        if (outbound_init(c, &c->outbound, err, sizeof err) != 0)
            conf_problem(ps, conf_key_line(ps, "Keystore"), "Keystore: %s",
                         err[0] ? err : "cannot be used");
    }
    return 0;
}

/* ---- lifetime ---- */

void conf_destroy(config_t *c)
{
    if (c == NULL)
        return;
    if (c->outbound)
        outbound_state_free(c->outbound);
    certstore_free(c->certstore_handle);
    pthread_mutex_destroy(&c->certstore_lock);
    smime_rcpt_cache_free(c->rcpt_cache);
    smime_trust_free(c->trust);
    free(c->socket);
    free(c->authserv_id);
    for (size_t i = 0; i < c->n_trust_anchor_files; i++)
        free(c->trust_anchor_files[i]);
    free(c->trust_anchor_files);
    for (size_t i = 0; i < c->n_crl_files; i++)
        free(c->crl_files[i]);
    free(c->crl_files);
    free(c->keystore);
    free(c->pkcs11_module);
    free(c->pkcs11_pin_file);
    free(c->certificate_store);
    free(c->encrypt_policy_file);
    encpolicy_free(c->encpolicy);
    free(c->internal_hosts);
    free(c->tag_header);
    free(c->decrypt_header);
    free(c->spool_directory);
    free(c->user_id);
    free(c->pid_file);
    free(c->stats_file);
    free(c->path_buf);
    for (size_t i = 0; i < c->n_settings; i++)
        free(c->settings[i].value);
    free(c->settings);
    free(c);
}

config_t *config_ref(config_t *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void config_unref(config_t *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        conf_destroy(c);
}

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static config_t *current;

config_t *config_current_get(void)
{
    config_t *c;

    pthread_mutex_lock(&current_lock);
    c = config_ref(current);
    pthread_mutex_unlock(&current_lock);
    return c;
}

void config_current_set(config_t *c)
{
    config_t *old;

    pthread_mutex_lock(&current_lock);
    old = current;
    current = c;
    pthread_mutex_unlock(&current_lock);
    config_unref(old);
}
