/*
 * heaplens/common.h - how every public header includes Python.h (once,
 * with PY_SSIZE_T_CLEAN, before any system header as CPython asks).
 */
#ifndef HEAPLENS_COMMON_H
#define HEAPLENS_COMMON_H
#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#endif /* HEAPLENS_COMMON_H */
