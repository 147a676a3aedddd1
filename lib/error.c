/* error.c - a per-thread message for the last error, like git_error_last. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static _Thread_local char last_msg[256];
static _Thread_local int have_msg;

int
hl_error__set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
    va_end(ap);
    have_msg = 1;
    return code;
}

const char *
hl_error_last(void)
{
    return have_msg ? last_msg : NULL;
}

void
hl_error_clear(void)
{
    have_msg = 0;
    last_msg[0] = '\0';
}
