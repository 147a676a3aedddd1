/* suites.h - the Check suites of tests/c, one per lib module. */
#ifndef HL_CHECK_SUITES_H
#define HL_CHECK_SUITES_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <check.h>

Suite *ptrset_suite(void);
Suite *sizes_suite(void);
Suite *walk_suite(void);
Suite *graph_suite(void);
Suite *lifetimes_suite(void);
Suite *dominators_suite(void);

/* Evaluate a Python expression in a fresh namespace after running `setup`
 * (may be NULL). New reference; aborts the test on failure. */
PyObject *hl_test_eval(const char *setup, const char *expr);
#endif
