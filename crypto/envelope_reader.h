/*
 * envelope_reader.h - the context of the streaming EnvelopedData /
 * AuthEnvelopedData reader, shared by envelope.c (the context, the
 * content and trailer phases, the key, the end) and envelope_header.c
 * (the header phase and the RecipientInfos), and nothing else.
 */
#ifndef SMIME_ENVELOPE_READER_H
#define SMIME_ENVELOPE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "envelope_priv.h"

#define MAX_SEG_DEPTH 8
#define NFRAME 4        /* ContentInfo, [0], (Auth)EnvelopedData, ECI */

enum state { ST_HEADER, ST_NEED_KEY, ST_CONTENT, ST_TRAILER, ST_DONE,
             ST_ERROR };
enum hstep { H_CI, H_TYPE, H_EXPLICIT, H_SEQ, H_VERSION, H_ORIGINATOR,
             H_RIS, H_ECI, H_CTYPE, H_CALG, H_ECONTENT };

struct smime_decrypt {
    smime_decrypt_limits_t lim;
    smime_decrypt_sink_t sink;
    void *arg;
    enum state state;
    smime_decrypt_status_t err;
    const char *why;
    int auth;                       /* AuthEnvelopedData */
    const env_calg_t *calg;         /* &calg_v once known */
    env_calg_t calg_v;
    size_t iv_off, ivlen, icvlen;   /* IV or nonce: hb[iv_off..] */

    /* header: hb[0..hlen) is the stream from offset 0 */
    uint8_t *hb;
    size_t hlen, hcap, hoff, retry_at;
    enum hstep step;
    size_t ris_off, ris_len;        /* recipientInfos contents */
    size_t fend[NFRAME];            /* frame ends (absolute), if definite */
    int findef[NFRAME];
    unsigned nframe;
    uint8_t *lo;                    /* content that came with the header */
    size_t lolen;
    env_ri_t *ri;
    size_t nri;

    /* content: segments of encryptedContent */
    size_t pos;                     /* stream offset consumed */
    size_t climit;                  /* innermost definite frame end */
    size_t seg_rem;
    struct { size_t end; int indef; } lv[MAX_SEG_DEPTH];
    unsigned nlv;
    uint8_t th[12];
    size_t thlen;
    env_cipher_t *cipher;

    /* trailer */
    uint8_t *tb;
    size_t tlen, tcap, tstart;
};

/* Puts d in the error state with st and why (sticky), wipes the cipher;
 * returns st. */
smime_decrypt_status_t env_fail(smime_decrypt_t *d, smime_decrypt_status_t st,
                                const char *why);

/* Makes *buf, *cap octets allocated, hold at least need octets: the
 * capacity doubles from first (when none yet) until it does, but stops
 * at max (need <= max).  0, or -1 out of memory (*buf unchanged). */
int env_grow(uint8_t **buf, size_t *cap, size_t need, size_t first,
             size_t max);

/* Feeds n bytes at p in ST_HEADER: SMIME_DECRYPT_OK (more wanted),
 * SMIME_DECRYPT_NEED_KEY once the header and its RecipientInfos are
 * read (what followed is kept for the content phase in d->lo), or an
 * error (sticky, through env_fail). */
smime_decrypt_status_t env_header_feed(smime_decrypt_t *d,
                                       const uint8_t *p, size_t n);

#endif
