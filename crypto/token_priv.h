/*
 * token_priv.h - what token.c (provider, key registry, running an
 * operation on a token key) shares with token_use.c (the operations:
 * probe, RSA decryption, ECDH) and token_setup.c (PIN file,
 * certificates on the token).  Not for other modules: see token.h.
 */
#ifndef SMIME_TOKEN_PRIV_H
#define SMIME_TOKEN_PRIV_H

#include <pthread.h>
#include <gnutls/abstract.h>
#include <gnutls/pkcs11.h>
#include <p11-kit/pkcs11.h>

struct tok_key {
    pthread_mutex_t mu;
    char *url;
    gnutls_privkey_t outer;           /* what callers hold */
    int pk;                           /* from the certificate */
    unsigned bits;
    gnutls_privkey_t inner;           /* the PKCS#11 key, NULL: not yet */
    gnutls_pkcs11_obj_t obj;          /* our own session on the key: */
    CK_FUNCTION_LIST *mod;            /* liveness check and C_DeriveKey */
    CK_SESSION_HANDLE sess;
    CK_OBJECT_HANDLE oh;
    int has_sess;
    unsigned gen;                     /* provider generation of inner */
    struct tok_key *next;
};


/* An operation on the imported key (its mu and the provider held): its
 * result; *lost when it failed because of the token. */
typedef int (*tok_op)(struct tok_key *k, void *arg, int *lost);

/* Run op on k: import the key first if needed, check the token still
 * has it, and after a token failure reload the provider and try once
 * more.  The op's result, or a GnuTLS error when the key could not be
 * reached (the state change is recorded for smime_token_event()). */
int tok_key_run(struct tok_key *k, tok_op op, void *arg);
/* The token key behind an outer key, NULL for any other key. */
struct tok_key *tok_key_find(gnutls_privkey_t outer);
/* Load the provider at its first use (and again in a forked child). */
void tok_prov_ensure(void);
/* Hold the provider loaded (read lock) around direct PKCS#11 calls. */
void tok_prov_rdlock(void);
void tok_prov_unlock(void);
/* 1 while a refused PIN blocks logins (until the next setup). */
int tok_pin_refused(void);

#endif
