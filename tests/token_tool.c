/*
 * token_tool.c - test driver for keys on a PKCS#11 token (crypto/token.h)
 * reached through a keystore, for tests/token.sh:
 *
 *   token_tool sign KEYSTORE ADDRESS CONTENT OUT.der
 *	detached CMS SignedData over CONTENT with ADDRESS's signing
 *	credential (for openssl, gpgsm and NSS to judge)
 *   token_tool decrypt KEYSTORE ADDRESS IN.der OUT
 *	the CEK through the credential the RecipientInfo names, plaintext
 *	to OUT only once smime_decrypt_finish() passed
 *   token_tool serve KEYSTORE ADDRESS CONTENT
 *	one process, commands on stdin, one answer line each: "sign" ->
 *	"ok" or "fail REASON"; "pin FILE" -> the PIN from FILE
 *	(smime_token_setup, a reload) -> "ok"; before an answer, a line
 *	"event usable" or "event unusable REASON" for each token state
 *	change (what the daemon logs)
 *   token_tool threads KEYSTORE ADDRESS CONTENT N COUNT
 *	N threads sign COUNT times each with the one credential (one token
 *	key shared by all): "ok N*COUNT" when every signature was made
 *   token_tool allow-derive URI
 *	set CKA_DERIVE on a private key (SoftHSM imports EC keys without
 *	it; a real HSM is set up so by its own tools)
 *   token_tool no-sign URI
 *	clear CKA_SIGN (a key only for decryption, as HSMs often hold)
 *
 * The provider: SMIME_PKCS11_MODULE (a module path; else p11-kit's) and
 * SMIME_PKCS11_PIN_FILE (else no PIN).  Exit 0 done, 1 failed, 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <p11-kit/pkcs11.h>

#include "envelope.h"
#include "keystore.h"
#include "sign.h"
#include "token.h"
#include "tool_lib.h"

static int
setup(const char *pinfile)
{
    char pin[256] = "", err[512];
    const char *mod = getenv("SMIME_PKCS11_MODULE");

    if (pinfile && smime_token_read_pin(pinfile, pin, sizeof(pin), err,
                                        sizeof(err)) < 0) {
        fprintf(stderr, "token_tool: %s\n", err);
        return -1;
    }
    int r = smime_token_setup(mod, pinfile ? pin : NULL, err, sizeof(err));
    gnutls_memset(pin, 0, sizeof(pin));
    if (r < 0)
        fprintf(stderr, "token_tool: %s\n", err);
    return r;
}

static keystore_entry_t *
entry(const char *ks_path, const char *address, keystore_t **ks)
{
    char err[512];
    keystore_entry_t *e = NULL;

    if ((*ks = keystore_open(ks_path, err, sizeof(err))) == NULL ||
        keystore_lookup(*ks, address, &e, err, sizeof(err)) != 1) {
        fprintf(stderr, "token_tool: %s: %s\n", address, err);
        return NULL;
    }
    return e;
}

static int
cmd_sign(const keystore_entry_t *e, const char *content, const char *out)
{
    size_t mlen = 0, dlen;
    unsigned char *msg = tool_slurp(content, &mlen), *der;
    const smime_signer_t *signer = keystore_entry_signer(e);
    char why[512];

    if (msg == NULL || signer == NULL) {
        fprintf(stderr, "token_tool: %s\n", msg ? "no signing credential"
                : strerror(errno));
        return 1;
    }
    if (tool_sign(signer, msg, mlen, 0, -1, &der, &dlen, why,
                  sizeof(why)) < 0) {
        fprintf(stderr, "token_tool: %s\n", why);
        return 1;
    }
    if (tool_write(out, der, dlen) < 0) {
        fprintf(stderr, "token_tool: %s: %s\n", out, strerror(errno));
        return 1;
    }
    free(der);
    free(msg);
    return 0;
}

struct outbuf {
    unsigned char *p;
    size_t n, cap;
};

static int
sink(void *arg, const void *p, size_t n)
{
    struct outbuf *o = arg;

    if (o->n + n > o->cap) {
        size_t cap = (o->n + n) * 2;
        unsigned char *q = realloc(o->p, cap);
        if (q == NULL)
            return -1;
        o->p = q;
        o->cap = cap;
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
    return 0;
}

/* The credential of e a recipient of d names. */
static const smime_signer_t *
named_cred(const keystore_entry_t *e, smime_decrypt_t *d)
{
    for (size_t i = 0; i < keystore_entry_ndecrypt(e); i++) {
        const smime_signer_t *c = keystore_entry_decrypt_cred(e, i);
        if (smime_decrypt_names(d, smime_signer_cert(c, 0)))
            return c;
    }
    return NULL;
}

static int
cmd_decrypt(const keystore_entry_t *e, const char *in, const char *out)
{
    size_t n = 0;
    unsigned char *cms = tool_slurp(in, &n);
    struct outbuf o = { NULL, 0, 0 };
    smime_decrypt_t *d = smime_decrypt_new(NULL, sink, &o);
    smime_decrypt_status_t st = SMIME_DECRYPT_OK;

    if (cms == NULL || d == NULL) {
        fprintf(stderr, "token_tool: %s: %s\n", in, strerror(errno));
        return 1;
    }
    for (size_t off = 0; off < n && st == SMIME_DECRYPT_OK; ) {
        size_t k = n - off < 4096 ? n - off : 4096;
        st = smime_decrypt_feed(d, cms + off, k);
        off += k;
        if (st == SMIME_DECRYPT_NEED_KEY) {
            const smime_signer_t *c = named_cred(e, d);
            st = c ? smime_decrypt_unwrap(d, smime_signer_privkey(c),
                                          smime_signer_cert(c, 0))
                   : SMIME_DECRYPT_NO_RECIPIENT;
        }
    }
    if (st == SMIME_DECRYPT_OK)
        st = smime_decrypt_finish(d);
    if (st != SMIME_DECRYPT_OK) {
        fprintf(stderr, "token_tool: %s: %s\n", in, smime_decrypt_error(d));
        return 1;
    }
    if (tool_write(out, o.p, o.n) < 0) {
        fprintf(stderr, "token_tool: %s: %s\n", out, strerror(errno));
        return 1;
    }
    smime_decrypt_free(d);
    free(o.p);
    free(cms);
    return 0;
}

static void
events(void)
{
    char msg[300];
    int usable;

    while (smime_token_event(&usable, msg, sizeof(msg)))
        printf("event %s%s%s\n", usable ? "usable" : "unusable",
               usable ? "" : " ", usable ? "" : msg);
}

static int
cmd_serve(const keystore_entry_t *e, const char *content)
{
    size_t mlen = 0, dlen;
    unsigned char *msg = tool_slurp(content, &mlen), *der;
    char line[1024], why[512];

    if (msg == NULL)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "sign") == 0) {
            const smime_signer_t *signer = keystore_entry_signer(e);
            int r = -1;
            snprintf(why, sizeof(why), "no signing credential");
            if (signer)
                r = tool_sign(signer, msg, mlen, 0, -1, &der, &dlen, why,
                              sizeof(why));
            events();
            if (r == 0) {
                free(der);
                printf("ok\n");
            } else {
                printf("fail %s\n", why);
            }
        } else if (strncmp(line, "pin ", 4) == 0) {
            int r = setup(line + 4);
            events();
            printf("%s\n", r == 0 ? "ok" : "fail setup");
        } else {
            printf("fail unknown command\n");
        }
    }
    free(msg);
    return 0;
}

struct thr {
    const smime_signer_t *signer;
    const unsigned char *msg;
    size_t mlen;
    int count, ok;
    gnutls_pubkey_t pub;
};

/* Sign count times; count the signatures that verify. */
static void *
thr_main(void *arg)
{
    struct thr *t = arg;

    for (int i = 0; i < t->count; i++) {
        unsigned char *der;
        size_t dlen;
        char why[256];
        if (tool_sign(t->signer, t->msg, t->mlen, 0, -1, &der, &dlen, why,
                      sizeof(why)) == 0) {
            t->ok++;
            free(der);
        }
    }
    return NULL;
}

/* N threads sign with the same credential at once: prints "ok TOTAL"
 * when every signature was made. */
static int
cmd_threads(const keystore_entry_t *e, const char *content, int n, int count)
{
    size_t mlen = 0;
    unsigned char *msg = tool_slurp(content, &mlen);
    const smime_signer_t *signer = keystore_entry_signer(e);
    pthread_t tid[16];
    struct thr t[16];
    int total = 0;

    if (msg == NULL || signer == NULL || n < 1 || n > 16)
        return 1;
    for (int i = 0; i < n; i++) {
        t[i] = (struct thr){ signer, msg, mlen, count, 0, NULL };
        if (pthread_create(&tid[i], NULL, thr_main, &t[i]) != 0)
            return 1;
    }
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        total += t[i].ok;
    }
    events();
    printf("%s %d\n", total == n * count ? "ok" : "fail", total);
    free(msg);
    return total == n * count ? 0 : 1;
}

/* allow-derive: CKA_DERIVE true; no-sign: CKA_SIGN false. */
static int
cmd_set_attr(const char *url, CK_ATTRIBUTE_TYPE type, CK_BBOOL value)
{
    gnutls_pkcs11_obj_t obj;
    void *mod, *sess, *oh;
    unsigned long slot;
    CK_SESSION_HANDLE rw;
    CK_ATTRIBUTE a = { type, &value, sizeof(value) };

    if (gnutls_pkcs11_obj_init(&obj) < 0 ||
        gnutls_pkcs11_obj_import_url(obj, url,
                                     GNUTLS_PKCS11_OBJ_FLAG_LOGIN) < 0 ||
        gnutls_pkcs11_obj_get_ptr(obj, &mod, &sess, &oh, &slot,
                                  GNUTLS_PKCS11_OBJ_FLAG_LOGIN) < 0) {
        fprintf(stderr, "token_tool: %s: not found\n", url);
        return 1;
    }
    CK_FUNCTION_LIST *f = mod;
    if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                         NULL, &rw) != CKR_OK ||
        f->C_SetAttributeValue(rw, (CK_OBJECT_HANDLE)(uintptr_t)oh, &a, 1)
        != CKR_OK) {
        fprintf(stderr, "token_tool: %s: cannot set the attribute\n", url);
        return 1;
    }
    f->C_CloseSession(rw);
    f->C_CloseSession((CK_SESSION_HANDLE)(uintptr_t)sess);
    gnutls_pkcs11_obj_deinit(obj);
    return 0;
}

int
main(int argc, char **argv)
{
    keystore_t *ks = NULL;
    keystore_entry_t *e;
    int r;

    if (argc < 3)
        goto usage;
    if (setup(getenv("SMIME_PKCS11_PIN_FILE")) < 0)
        return 1;
    if (strcmp(argv[1], "allow-derive") == 0 && argc == 3)
        return cmd_set_attr(argv[2], CKA_DERIVE, CK_TRUE);
    if (strcmp(argv[1], "no-sign") == 0 && argc == 3)
        return cmd_set_attr(argv[2], CKA_SIGN, CK_FALSE);
    if (argc < 5 || (e = entry(argv[2], argv[3], &ks)) == NULL)
        goto usage_or_fail;
    if (strcmp(argv[1], "sign") == 0 && argc == 6)
        r = cmd_sign(e, argv[4], argv[5]);
    else if (strcmp(argv[1], "decrypt") == 0 && argc == 6)
        r = cmd_decrypt(e, argv[4], argv[5]);
    else if (strcmp(argv[1], "serve") == 0 && argc == 5)
        r = cmd_serve(e, argv[4]);
    else if (strcmp(argv[1], "threads") == 0 && argc == 7)
        r = cmd_threads(e, argv[4], atoi(argv[5]), atoi(argv[6]));
    else
        goto usage;
    keystore_entry_free(e);
    keystore_free(ks);
    return r;
usage_or_fail:
    if (argc >= 5)
        return 1;
usage:
    fprintf(stderr, "usage: token_tool sign|decrypt KEYSTORE ADDRESS IN OUT\n"
            "       token_tool serve KEYSTORE ADDRESS CONTENT\n"
            "       token_tool threads KEYSTORE ADDRESS CONTENT N COUNT\n"
            "       token_tool allow-derive|no-sign URI\n");
    return 2;
}
