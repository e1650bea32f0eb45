/*
 * actions.h - what the message core (session.c, outbound.c) may ask the
 * MTA to do at end of message, as a small vtable, plus the read-only view
 * of the message's header list.  callbacks.c implements the vtable with
 * smfi_* calls, testmode.c applies it to the message it prints, and the
 * unit tests record it.  No libmilter dependency.
 */
#ifndef SMIME_ACTIONS_H
#define SMIME_ACTIONS_H

#include <stddef.h>
#include <sys/types.h>

/* One header as the MTA handed it to the milter: the name without the
 * colon, the value without the one leading space Postfix/Sendmail strip,
 * folded lines joined by "\n" followed by the original white space. */
struct msg_header {
    const char *name;
    const char *value;
};

/* The whole header block, in message order. Borrowed: valid until the
 * end-of-message call returns. */
struct msg_headers {
    const struct msg_header *v;
    size_t n;
};

/* Pulls the next bytes of a replacement body: returns the number of bytes
 * stored in buf (0 at the end) or -1 with errno. */
typedef ssize_t (*actions_read_fn)(void *rarg, void *buf, size_t len);

/*
 * Every function returns 0, or -1 when the MTA refused / on I/O error.
 * Header values follow struct msg_header's convention: the caller writes
 * folding as "\n\t" and the implementation turns it into the MTA's line
 * ends.  Header indexes count, as libmilter does, only the headers with
 * the same name (case-insensitive), from 1, in the message as it was
 * received; apply several deletions of one name from the highest index
 * down so every index stays valid under both Postfix and Sendmail.
 */
struct actions {
    /* Insert a header before the idx-th header of the message (0: at the
     * top), as smfi_insheader. */
    int (*insert_header)(void *arg, unsigned idx, const char *name,
                         const char *value);
    /* Replace the idx-th header called name (1-based among headers of
     * that name) by value, or delete it when value is NULL, as
     * smfi_chgheader. */
    int (*change_header)(void *arg, const char *name, unsigned idx,
                         const char *value);
    /* Replace the whole body by the bytes read from rd until it returns
     * 0; consumed completely before this returns.  Line ends in the
     * new body are CRLF. */
    int (*replace_body)(void *arg, actions_read_fn rd, void *rarg);
};

#endif
