/* check_main.c - starts the interpreter once and runs one suite (argv[1])
 * or all of them. */
#include <string.h>

#include "suites.h"

PyObject *
hl_test_eval(const char *setup, const char *expr)
{
    PyObject *ns = PyDict_New();
    ck_assert_ptr_nonnull(ns);
    ck_assert_int_eq(PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()), 0);
    if (setup != NULL) {
        PyObject *r = PyRun_String(setup, Py_file_input, ns, ns);
        if (r == NULL)
            PyErr_Print();
        ck_assert_ptr_nonnull(r);
        Py_DECREF(r);
    }
    PyObject *v = PyRun_String(expr, Py_eval_input, ns, ns);
    if (v == NULL)
        PyErr_Print();
    ck_assert_ptr_nonnull(v);
    Py_DECREF(ns);
    return v;
}

int
main(int argc, char **argv)
{
    struct {
        const char *name;
        Suite *(*make)(void);
    } all[] = {
#define HL_SUITE(name) {#name, name##_suite},
#include "suites.inc" /* generated from HL_CHECK_SUITES in CMakeLists.txt */
#undef HL_SUITE
    };
    /* No site: the suites need the standard library only, and whatever a
     * machine's .pth files import at start-up would otherwise be in every
     * heap the suites walk (and in what valgrind sees). */
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.site_import = 0;
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        fprintf(stderr, "cannot start Python: %s\n", status.err_msg ? status.err_msg : "?");
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        /* The suites, one a line: scripts/valgrind.sh runs each. */
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
            printf("%s\n", all[i].name);
        return 0;
    }
    SRunner *sr = NULL;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (argc > 1 && strcmp(argv[1], all[i].name) != 0)
            continue;
        if (sr == NULL)
            sr = srunner_create(all[i].make());
        else
            srunner_add_suite(sr, all[i].make());
    }
    if (sr == NULL) {
        fprintf(stderr, "no suite named %s\n", argc > 1 ? argv[1] : "?");
        return 2;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    Py_Finalize();
    return failed == 0 ? 0 : 1;
}
