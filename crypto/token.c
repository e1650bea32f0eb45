/*
 * token.c - PKCS#11 token keys (see token.h): one provider for the
 * process, a registry of token keys, each a GnuTLS "external" private
 * key whose callbacks reach the real PKCS#11 key, imported on first use
 * and again after the token came back.
 *
 * Locks: `prov' (read: any operation on a token key; write: loading or
 * reloading the module, which invalidates every PKCS#11 handle) and per
 * key `mu' (its imported key and its own session).  `reg' guards the
 * registry list and the reported state.  The operations themselves are
 * in token_use.c, the PIN file and certificates in token_setup.c.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs11.h>
#include <p11-kit/pkcs11.h>

#include "errbuf.h"
#include "token.h"
#include "token_priv.h"


static pthread_rwlock_t prov = PTHREAD_RWLOCK_INITIALIZER;
static unsigned gen;                  /* changes under the write lock */
static int initialised;
static pid_t prov_pid;                /* after a fork: load again */
static char *module;                  /* NULL: p11-kit's modules */
static char *pin;                     /* NULL: none */
static atomic_int pin_bad;            /* the PIN was refused: don't send */

static pthread_mutex_t reg = PTHREAD_MUTEX_INITIALIZER;
static struct tok_key *keys;
static int state = 1, reported = 1;   /* 1 usable */
static char why[256];

/* ---- state ---- */

static void
state_set(int usable, const char *msg)
{
    pthread_mutex_lock(&reg);
    state = usable;
    if (!usable)
        snprintf(why, sizeof(why), "%s", msg);
    pthread_mutex_unlock(&reg);
}

int
smime_token_event(int *usable, char *msg, size_t len)
{
    int changed;

    pthread_mutex_lock(&reg);
    changed = state != reported;
    if (changed) {
        reported = state;
        *usable = state;
        snprintf(msg, len, "%s", state ? "token usable again" : why);
    }
    pthread_mutex_unlock(&reg);
    return changed;
}

/* ---- provider ---- */

static int
pin_cb(void *arg, int attempt, const char *url, const char *label,
       unsigned flags, char *out, size_t max)
{
    (void)arg;
    (void)url;
    (void)label;
    if (attempt > 0 || pin == NULL || (flags & GNUTLS_PIN_SO) ||
        atomic_load(&pin_bad) || strlen(pin) >= max)
        return -1;
    memcpy(out, pin, strlen(pin) + 1);
    return 0;
}

/* Close what a key holds (its mu held, or no other user). */
static void
key_drop(struct tok_key *k)
{
    if (k->has_sess)
        k->mod->C_CloseSession(k->sess);
    k->has_sess = 0;
    if (k->obj)
        gnutls_pkcs11_obj_deinit(k->obj);
    k->obj = NULL;
    if (k->inner)
        gnutls_privkey_deinit(k->inner);
    k->inner = NULL;
}

/* Under the write lock: drop every key's handles, unload, load again. */
static int
prov_reload_locked(char *err, size_t errlen)
{
    int r;

    pthread_mutex_lock(&reg);
    for (struct tok_key *k = keys; k; k = k->next)
        key_drop(k);
    pthread_mutex_unlock(&reg);
    if (initialised)
        gnutls_pkcs11_deinit();
    initialised = 0;
    gen++;
    r = gnutls_pkcs11_init(module ? GNUTLS_PKCS11_FLAG_MANUAL
                                  : GNUTLS_PKCS11_FLAG_AUTO, NULL);
    if (r >= 0 && module && (r = gnutls_pkcs11_add_provider(module, NULL)) < 0)
        gnutls_pkcs11_deinit();
    if (r < 0) {
        smime_seterr(err, errlen, "cannot load the PKCS#11 module %s: %s",
                     module ? module : "(p11-kit)", gnutls_strerror(r));
        return -1;
    }
    gnutls_pkcs11_set_pin_function(pin_cb, NULL);
    initialised = 1;
    prov_pid = getpid();
    return 0;
}

int
smime_token_setup(const char *mod, const char *newpin, char *err,
                  size_t errlen)
{
    int r = 0;

    pthread_rwlock_wrlock(&prov);
    int same_mod = (mod == NULL && module == NULL) ||
                   (mod && module && strcmp(mod, module) == 0);
    int same_pin = (newpin == NULL && pin == NULL) ||
                   (newpin && pin && strcmp(newpin, pin) == 0);
    if (!same_pin) {
        if (pin)
            gnutls_memset(pin, 0, strlen(pin));
        free(pin);
        pin = newpin ? strdup(newpin) : NULL;
    }
    atomic_store(&pin_bad, 0);      /* a reload: the operator fixed it */
    if (!same_mod) {
        free(module);
        module = mod ? strdup(mod) : NULL;
    }
    /* loaded: again if anything changed; not yet: now if a module is
     * named (a missing one is reported at start), else at first use */
    if (initialised ? !same_mod || !same_pin : mod != NULL)
        r = prov_reload_locked(err, errlen);
    pthread_rwlock_unlock(&prov);
    return r;
}

/* ---- one key ---- */

/* Import the key (k->mu and prov read-locked).  0, or a GnuTLS error. */
static int
key_ready(struct tok_key *k)
{
    void *mod = NULL, *sess = NULL, *oh = NULL;
    unsigned long slot;
    int r;

    if (k->inner && k->gen == gen)
        return 0;
    key_drop(k);
    if (!initialised)
        return GNUTLS_E_PKCS11_LOAD_ERROR;
    if (atomic_load(&pin_bad))      /* not even a URI's pin-source again */
        return GNUTLS_E_PKCS11_PIN_ERROR;
    if ((r = gnutls_privkey_init(&k->inner)) < 0)
        return r;
    r = gnutls_privkey_import_url(k->inner, k->url, 0);
    if (r == GNUTLS_E_PKCS11_PIN_ERROR)
        atomic_store(&pin_bad, 1);
    if (r >= 0)
        r = gnutls_pkcs11_obj_init(&k->obj);
    if (r >= 0)
        r = gnutls_pkcs11_obj_import_url(k->obj, k->url,
                                         GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
    if (r >= 0)
        r = gnutls_pkcs11_obj_get_ptr(k->obj, &mod, &sess, &oh, &slot,
                                      GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
    if (r < 0) {
        key_drop(k);
        return r;
    }
    k->mod = mod;
    k->sess = (CK_SESSION_HANDLE)(uintptr_t)sess;
    k->oh = (CK_OBJECT_HANDLE)(uintptr_t)oh;
    k->has_sess = 1;
    k->gen = gen;
    return 0;
}

/* The key is still there: the same question whatever the operation and
 * its input, so its cost tells nothing about the input. */
static int
key_alive(struct tok_key *k)
{
    CK_KEY_TYPE kt;
    CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };

    return k->mod->C_GetAttributeValue(k->sess, k->oh, &a, 1) == CKR_OK;
}


/* Load the provider at its first use, and again in a forked child. */
void
tok_prov_ensure(void)
{
    char msg[200];

    pthread_rwlock_rdlock(&prov);
    int load = (!initialised && gen == 0) ||
               (initialised && prov_pid != getpid());
    pthread_rwlock_unlock(&prov);
    if (load) {
        pthread_rwlock_wrlock(&prov);
        if ((!initialised && gen == 0) ||
            (initialised && prov_pid != getpid()))
            prov_reload_locked(msg, sizeof(msg));
        pthread_rwlock_unlock(&prov);
    }
}

int
tok_key_run(struct tok_key *k, tok_op op, void *arg)
{
    char msg[200], e2[200];
    int r = GNUTLS_E_PKCS11_ERROR;

    tok_prov_ensure();
    for (int attempt = 0; attempt < 2; attempt++) {
        int lost = 0;
        pthread_rwlock_rdlock(&prov);
        unsigned g0 = gen;
        pthread_mutex_lock(&k->mu);
        if ((r = key_ready(k)) < 0) {
            lost = 1;
            snprintf(msg, sizeof(msg), "%s: %s", k->url,
                     r == GNUTLS_E_PKCS11_PIN_ERROR ||
                     (r == GNUTLS_E_PKCS11_ERROR && atomic_load(&pin_bad)) ?
                     "PIN refused (fix the PIN and reload)" :
                     r == GNUTLS_E_PKCS11_LOAD_ERROR ?
                     "the PKCS#11 module is not loaded" :
                     gnutls_strerror(r));
        } else if (!key_alive(k)) {
            lost = 1;
            r = GNUTLS_E_PKCS11_DEVICE_ERROR;
            snprintf(msg, sizeof(msg), "%s: the key is gone (token removed "
                     "or session lost)", k->url);
        } else {
            r = op(k, arg, &lost);
            snprintf(msg, sizeof(msg), "%s: %s", k->url,
                     lost ? gnutls_strerror(r) : "");
        }
        if (lost)
            key_drop(k);
        pthread_mutex_unlock(&k->mu);
        pthread_rwlock_unlock(&prov);
        if (!lost) {
            state_set(1, NULL);
            return r;
        }
        state_set(0, msg);
        if (attempt > 0 || atomic_load(&pin_bad))
            break;
        /* the token may be back behind a module that lost it; when
         * another thread reloaded meanwhile, try with its load */
        pthread_rwlock_wrlock(&prov);
        int other = gen != g0;
        int loaded = other ? initialised
                           : prov_reload_locked(e2, sizeof(e2)) == 0;
        if (!loaded && other)
            snprintf(e2, sizeof(e2), "the PKCS#11 module is not loaded");
        pthread_rwlock_unlock(&prov);
        if (!loaded) {
            snprintf(msg, sizeof(msg), "%.120s (%.70s)", e2, k->url);
            state_set(0, msg);
            break;
        }
    }
    return r < 0 ? r : GNUTLS_E_PKCS11_ERROR;
}

struct tok_key *
tok_key_find(gnutls_privkey_t outer)
{
    struct tok_key *k;

    pthread_mutex_lock(&reg);
    for (k = keys; k && k->outer != outer; k = k->next)
        ;
    pthread_mutex_unlock(&reg);
    return k;
}

/* ---- GnuTLS external key callbacks ---- */

struct sign_arg {
    gnutls_sign_algorithm_t algo;
    unsigned flags;
    int hashed;
    const gnutls_datum_t *in;
    gnutls_datum_t *sig;
};

static int
op_sign(struct tok_key *k, void *arg, int *lost)
{
    struct sign_arg *a = arg;
    int r = a->hashed ?
        gnutls_privkey_sign_hash2(k->inner, a->algo, a->flags, a->in, a->sig) :
        gnutls_privkey_sign_data2(k->inner, a->algo, a->flags, a->in, a->sig);

    *lost = r < 0;      /* the key was there a moment ago */
    return r;
}

static int
ext_sign_data(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
              void *ud, unsigned flags, const gnutls_datum_t *data,
              gnutls_datum_t *sig)
{
    struct sign_arg a = { algo, flags, 0, data, sig };
    (void)key;
    return tok_key_run(ud, op_sign, &a);
}

static int
ext_sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
              void *ud, unsigned flags, const gnutls_datum_t *hash,
              gnutls_datum_t *sig)
{
    struct sign_arg a = { algo, flags, 1, hash, sig };
    (void)key;
    return tok_key_run(ud, op_sign, &a);
}

static int
ext_info(gnutls_privkey_t key, unsigned flags, void *ud)
{
    struct tok_key *k = ud;
    (void)key;

    if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
        return k->pk;
    if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
        return (int)k->bits;
    if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
        gnutls_sign_algorithm_t s = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);
        gnutls_pk_algorithm_t p = gnutls_sign_get_pk_algorithm(s);
        return p == (gnutls_pk_algorithm_t)k->pk ||
               (k->pk == GNUTLS_PK_RSA && p == GNUTLS_PK_RSA_PSS);
    }
    return GNUTLS_E_UNIMPLEMENTED_FEATURE;
}

static void
ext_deinit(gnutls_privkey_t key, void *ud)
{
    struct tok_key *k = ud, **pp;
    (void)key;

    pthread_rwlock_rdlock(&prov);
    pthread_mutex_lock(&reg);
    for (pp = &keys; *pp && *pp != k; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = k->next;
    pthread_mutex_unlock(&reg);
    key_drop(k);
    pthread_rwlock_unlock(&prov);
    pthread_mutex_destroy(&k->mu);
    free(k->url);
    free(k);
}

/* ---- public ---- */

int
smime_token_url_ok(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "pkcs11:", 7) != 0) {
        smime_seterr(err, errlen, "not a PKCS#11 URI (pkcs11:...)");
        return 0;
    }
    if (strstr(url, "pin-value=") != NULL) {
        smime_seterr(err, errlen, "the URI holds a PIN (pin-value): the "
                     "keystore never stores one; use PKCS11PinFile or "
                     "pin-source");
        return 0;
    }
    if (strpbrk(url, " \t\r\n") != NULL || strlen(url) > 2048) {
        smime_seterr(err, errlen, "bad PKCS#11 URI");
        return 0;
    }
    return 1;
}

gnutls_privkey_t
smime_token_key_new(const char *url, gnutls_x509_crt_t crt, char *err,
                    size_t errlen)
{
    struct tok_key *k = calloc(1, sizeof(*k));
    gnutls_privkey_t key = NULL;
    int pk;

    if (k == NULL || (k->url = strdup(url)) == NULL ||
        pthread_mutex_init(&k->mu, NULL) != 0) {
        if (k)
            free(k->url);
        free(k);
        smime_seterr(err, errlen, "out of memory");
        return NULL;
    }
    pk = gnutls_x509_crt_get_pk_algorithm(crt, &k->bits);
    k->pk = pk == GNUTLS_PK_RSA_PSS ? GNUTLS_PK_RSA : pk;
    if (k->pk != GNUTLS_PK_RSA && k->pk != GNUTLS_PK_ECDSA) {
        smime_seterr(err, errlen, "token keys must be RSA or EC, not %s",
                     gnutls_pk_get_name((gnutls_pk_algorithm_t)pk));
        goto fail;
    }
    if (gnutls_privkey_init(&key) < 0 ||
        gnutls_privkey_import_ext4(key, k, ext_sign_data, ext_sign_hash,
                                   NULL, ext_deinit, ext_info,
                                   GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
        smime_seterr(err, errlen, "out of memory");
        gnutls_privkey_deinit(key);
        goto fail;
    }
    k->outer = key;
    pthread_mutex_lock(&reg);
    k->next = keys;
    keys = k;
    pthread_mutex_unlock(&reg);
    return key;
fail:
    pthread_mutex_destroy(&k->mu);
    free(k->url);
    free(k);
    return NULL;
}

const char *
smime_token_key_url(gnutls_privkey_t key)
{
    struct tok_key *k = key ? tok_key_find(key) : NULL;

    return k ? k->url : NULL;
}


void
tok_prov_rdlock(void)
{
    pthread_rwlock_rdlock(&prov);
}

void
tok_prov_unlock(void)
{
    pthread_rwlock_unlock(&prov);
}

int
tok_pin_refused(void)
{
    return atomic_load(&pin_bad);
}
