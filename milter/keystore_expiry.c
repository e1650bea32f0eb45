/*
 * keystore_expiry.c - daily warnings about expiring keystore credentials.
 *
 * The keystore file is opened for the occasion (read-only, in the main
 * thread) rather than borrowed from the outbound state: the milter
 * threads keep using theirs, and the check sees the file as it is now.
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
};

static int entry_soon(void *arg, const char *address,
                      const keystore_cert_t *creds, size_t n)
{
    struct soon_walk *w = arg;

    w->n += keystore_vet_soon(address, creds, n, w->now, log_soon, NULL);
    return 0;
}

unsigned keystore_expiry_log(const config_t *c, time_t now)
{
    struct soon_walk w = {now, 0};
    char err[512];
    keystore_t *ks;

    if (c == NULL || c->keystore == NULL)
        return 0;
    if ((ks = outbound_keystore(c)) != NULL) {  /* the daemon's: no copy */
        keystore_foreach_cert(ks, entry_soon, &w);
        return w.n;
    }
    if ((ks = keystore_open_in(c->keystore, config_spool_dir(c), err,
                               sizeof err)) == NULL)
        return 0;
    keystore_foreach_cert(ks, entry_soon, &w);
    keystore_free(ks);
    return w.n;
}
