/*
 * callbacks.h - the libmilter glue: registers the xxfi_* callbacks that
 * drive session.c.  The configuration comes from config_current_get()
 * at the start of every message.
 */
#ifndef SMIME_CALLBACKS_H
#define SMIME_CALLBACKS_H

/* smfi_register() with our callbacks and flags. 0, or -1. */
int callbacks_register(void);

#endif
