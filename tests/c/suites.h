/* suites.h - the Check suites of tests/c, one per lib module. */
#ifndef HL_CHECK_SUITES_H
#define HL_CHECK_SUITES_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <check.h>

/* <name>_suite() for every name of HL_CHECK_SUITES (tests/c/CMakeLists.txt,
 * the one list), through the generated suites.inc. */
#define HL_SUITE(name) Suite *name##_suite(void);
#include "suites.inc"
#undef HL_SUITE

/* Evaluate a Python expression in a fresh namespace after running `setup`
 * (may be NULL). New reference; aborts the test on failure. */
PyObject *hl_test_eval(const char *setup, const char *expr);
#endif
