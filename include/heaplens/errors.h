/*
 * heaplens/errors.h - the error codes every core function returns, and the
 * message of the last error (as libgit2's git_error_last).
 */
#ifndef HEAPLENS_ERRORS_H
#define HEAPLENS_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    HL_OK = 0,
    HL_ENOMEM = -1,    /* the core could not allocate its own bookkeeping */
    HL_EINVAL = -2,    /* an argument or option is invalid */
    HL_ESTATE = -3,    /* called in the wrong state */
    HL_EPYTHON = -4,   /* a Python exception is set (e.g. __sizeof__ raised) */
    HL_EOVERFLOW = -5, /* a size does not fit in Py_ssize_t */
    HL_ESTOP = -6,     /* a callback asked the walk to stop */
};

/* The message describing the last error raised by the core in this thread,
 * or NULL when there is none. The string stays valid until the next core
 * call in this thread. Safe without the GIL. */
const char *hl_error_last(void);

/* Forget the last error of this thread. Safe without the GIL. */
void hl_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_ERRORS_H */
