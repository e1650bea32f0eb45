/*
 * keystore_expiry.c - the daemon's walk over every keystore entry: a
 * warning per credential that expires soon, and a test signature with
 * each key on a PKCS#11 token (its state logged once per change, as
 * for mail).  At start (the daemon serves meanwhile: a keystore of a
 * million addresses takes a while), after each reload and once a day.
 *
 * The walk reads certificates only (keystore_foreach_cert); an entry
 * with a token key is looked up in full for the probe.  It uses the
 * daemon's keystore (no second copy of the file) when there is one.
 * Which credentials count is keystore_vet.c's rule, shared with
 * smime-keystore check and -n.
 */
#include "config.h"

#include "cert.h"
#include "keystore.h"
#include "keystore_expiry.h"
#include "keystore_vet.h"
#include "log.h"
#include "outbound.h"

static void log_soon(void *arg, const char *address, gnutls_x509_crt_t leaf,
                     unsigned purpose, const char *when)
{
    char serial[130], q[512];

    (void)arg;
    smime_cert_serial_hex(leaf, serial, sizeof serial);
    log_info(LOG_WARNING, "event=keystore status=expiring address=%s "
             "serial=%s purpose=%s note=\"certificate %s\"",
             log_quote(q, sizeof q, address), serial,
             purpose == (KEYSTORE_SIGN | KEYSTORE_DECRYPT) ? "sign,decrypt" :
             purpose == KEYSTORE_SIGN ? "sign" : "decrypt", when);
}

struct soon_walk {
    time_t now;
    unsigned n;
    keystore_t *ks;
    int (*between)(void *arg);
    void *arg;
};

static int entry_soon(void *arg, const char *address,
                      const keystore_cert_t *creds, size_t n)
{
    struct soon_walk *w = arg;

    keystore_vet_tokens(w->ks, address, creds, n, NULL, NULL);
    w->n += keystore_vet_soon(address, creds, n, w->now, log_soon, NULL);
    return w->between != NULL && w->between(w->arg);
}

unsigned keystore_expiry_log(const config_t *c, time_t now,
                             int (*between)(void *arg), void *arg)
{
    struct soon_walk w = {now, 0, NULL, between, arg};
    char err[512];
    keystore_t *own = NULL;

    if (c == NULL || c->keystore == NULL)
        return 0;
    if ((w.ks = outbound_keystore(c)) == NULL &&   /* the daemon's: no copy */
        (w.ks = own = keystore_open_in(c->keystore, config_spool_dir(c), err,
                                       sizeof err)) == NULL)
        return 0;
    keystore_foreach_cert(w.ks, entry_soon, &w);
    log_token_state();
    keystore_free(own);
    return w.n;
}
