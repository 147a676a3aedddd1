/* error.h - the core's per-thread last-error message. */
#ifndef HL_ERROR_H
#define HL_ERROR_H
#include "heaplens/heaplens.h"

/* Record a message for `code` and return `code`. printf-style. */
int hl_error__set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
