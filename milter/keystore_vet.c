/*
 * keystore_vet.c - smime-keystore's checks of a signing credential that
 * keystore_check() (crypto/keystore.c) does not make, because they are
 * about the recipients rather than the certificate itself:
 *
 *   - with the daemon's trust store (build -c CONF): the chain is
 *     verified by crypto/trust.c exactly as a verifier with those trust
 *     anchors and CRLs would; anything but a good chain is an error;
 *   - without it: a self-signed certificate, or one whose issuer is not
 *     in the credential file, gets a warning;
 *   - Ed25519 (OpenSSL 3.0 cannot verify Ed25519 CMS) and a certificate
 *     expiring within KEYSTORE_VET_SOON_DAYS get a warning;
 *   - and, for a stored entry, which credentials expire soon
 *     (keystore_vet_soon, keystore_vet_entry_soon: check, -n, the
 *     daemon's daily line) and whether its token keys sign now
 *     (keystore_vet_tokens: -n and the daemon's walk).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cert.h"
#include "keystore_vet.h"
#include "token.h"

#define DAY 86400

int
keystore_vet_expiry(gnutls_x509_crt_t crt, time_t now, char *buf,
                    size_t len)
{
    time_t na = gnutls_x509_crt_get_expiration_time(crt);
    char day[32] = "?";
    struct tm tm;

    if (len)
        buf[0] = '\0';
    if (na == (time_t)-1 || na < now ||
        na - now > (time_t)KEYSTORE_VET_SOON_DAYS * DAY)
        return 0;
    if (gmtime_r(&na, &tm))
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%SZ", &tm);
    long days = (long)((na - now) / DAY);
    snprintf(buf, len, "expires in %ld day%s (%s)", days,
             days == 1 ? "" : "s", day);
    return 1;
}

unsigned
keystore_vet_soon(const char *address, const keystore_cert_t *creds,
                  size_t n, time_t now, keystore_vet_soon_fn fn, void *arg)
{
    char when[128];
    unsigned soon = 0;

    for (size_t i = 0; i < n; i++)
        if (creds[i].leaf != NULL &&
            keystore_vet_expiry(creds[i].leaf, now, when, sizeof(when))) {
            fn(arg, address, creds[i].leaf, creds[i].purpose, when);
            soon++;
        }
    return soon;
}

unsigned
keystore_vet_entry_soon(const char *address, const keystore_entry_t *e,
                        time_t now, keystore_vet_soon_fn fn, void *arg)
{
    keystore_cert_t creds[KEYSTORE_MAX_CREDS];
    size_t n = keystore_entry_ncreds(e);

    for (size_t c = 0; c < n; c++) {
        const smime_signer_t *cred = keystore_entry_cred(e, c);
        creds[c].purpose = keystore_entry_cred_purpose(e, c);
        creds[c].on_token = smime_signer_token_url(cred) != NULL;
        creds[c].leaf = smime_signer_cert(cred, 0);
    }
    return keystore_vet_soon(address, creds, n, now, fn, arg);
}

void
keystore_vet_tokens(keystore_t *ks, const char *address,
                    const keystore_cert_t *creds, size_t n,
                    keystore_vet_token_fn fn, void *arg)
{
    keystore_entry_t *e = NULL;
    char why[300];
    size_t k = 0;

    while (k < n && !creds[k].on_token)
        k++;
    if (k == n || keystore_lookup(ks, address, &e, why, sizeof(why)) <= 0)
        return;
    for (size_t i = 0; i < keystore_entry_ncreds(e); i++) {
        const smime_signer_t *c = keystore_entry_cred(e, i);
        if (smime_signer_token_url(c) != NULL &&
            smime_token_probe(smime_signer_privkey(c),
                              smime_signer_cert(c, 0), why,
                              sizeof(why)) < 0 && fn)
            fn(arg, address, smime_signer_token_url(c), why);
    }
    keystore_entry_free(e);
}

static int
self_signed(gnutls_x509_crt_t crt)
{
    return gnutls_x509_crt_check_issuer(crt, crt) == 1;
}

/* The chain against the trust store: 0 good, 1 error reported. */
static int
vet_chain(const smime_signer_t *signer, const smime_trust_t *trust,
          unsigned max_chain, const char *conf_name, keystore_vet_fn fn,
          void *arg)
{
    size_t n = smime_signer_ncerts(signer);
    gnutls_x509_crt_t pool[16], crt = smime_signer_cert(signer, 0);
    gnutls_x509_crt_t top = smime_signer_cert(signer, n - 1);
    char msg[1024], issuer[512];
    int sha1 = 0;

    if (n > sizeof(pool) / sizeof(pool[0]))
        n = sizeof(pool) / sizeof(pool[0]);
    for (size_t i = 0; i < n; i++)
        pool[i] = smime_signer_cert(signer, i);
    enum smime_chain_status st = smime_trust_verify_chain(trust, crt, pool, n,
                                                          max_chain, &sha1);
    if (st == SMIME_CHAIN_OK)
        return 0;
    smime_cert_issuer_dn(top, issuer, sizeof(issuer));
    if (self_signed(crt))
        snprintf(msg, sizeof(msg), "self-signed certificate, not a trust "
                 "anchor of %s: recipients cannot verify its signatures",
                 conf_name);
    else if (st == SMIME_CHAIN_UNTRUSTED || st == SMIME_CHAIN_UNTRUSTED_ROOT)
        snprintf(msg, sizeof(msg), "untrusted certificate: its chain ends "
                 "at issuer %s, not at a trust anchor of %s", issuer,
                 conf_name);
    else if (st == SMIME_CHAIN_UNKNOWN_ISSUER)
        snprintf(msg, sizeof(msg), "untrusted issuer: %s is neither in the "
                 "credential file nor a trust anchor of %s (a missing "
                 "intermediate, or a root to trust)", issuer, conf_name);
    else if (st == SMIME_CHAIN_REVOKED)
        snprintf(msg, sizeof(msg), "revoked certificate (a CRLFile of %s "
                 "lists it or its chain)", conf_name);
    else
        snprintf(msg, sizeof(msg), "%s (chain checked against %s)",
                 smime_chain_status_string(st), conf_name);
    fn(arg, 1, msg);
    return 1;
}

/* Without a trust store: what can be told from the file alone. */
static void
warn_chain(const smime_signer_t *signer, keystore_vet_fn fn, void *arg)
{
    gnutls_x509_crt_t crt = smime_signer_cert(signer, 0);
    char msg[1024], issuer[512];

    if (self_signed(crt)) {
        fn(arg, 0, "self-signed certificate: recipients cannot verify its "
           "signatures unless they trust it one by one");
        return;
    }
    if (smime_signer_ncerts(signer) > 1)
        return;                 /* the top one's issuer: presumably a root */
    smime_cert_issuer_dn(crt, issuer, sizeof(issuer));
    snprintf(msg, sizeof(msg), "no intermediate certificate in the file: "
             "recipients cannot verify its signatures unless the issuer %s "
             "is a root they trust (check with -c CONF)", issuer);
    fn(arg, 0, msg);
}

int
keystore_vet(const smime_signer_t *signer, const smime_trust_t *trust,
             unsigned max_chain, const char *conf_name, time_t now,
             keystore_vet_fn fn, void *arg)
{
    char msg[256], when[128];
    int errors = 0;

    if (trust)
        errors += vet_chain(signer, trust, max_chain, conf_name, fn, arg);
    else
        warn_chain(signer, fn, arg);
    if (strcmp(smime_sign_sigalg(signer), "ed25519") == 0)
        fn(arg, 0, "Ed25519: many recipients cannot verify its signatures "
           "(OpenSSL 3.0 cannot verify Ed25519 CMS)");
    if (keystore_vet_expiry(smime_signer_cert(signer, 0), now, when,
                            sizeof(when))) {
        snprintf(msg, sizeof(msg), "certificate %s", when);
        fn(arg, 0, msg);
    }
    return errors;
}
