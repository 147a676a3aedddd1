/* check_graph.c - the reverse-edge index and referrer chains. */
#include "heaplens/heaplens.h"
#include "suites.h"

START_TEST(chain_from_a_module)
{
    /* A module whose global holds a list holding a dict holding the target. */
    PyObject *mod = PyImport_AddModule("hl_graph_test"); /* borrowed */
    ck_assert_ptr_nonnull(mod);
    PyObject *target = PyFloat_FromDouble(12345.5);
    PyObject *d = Py_BuildValue("{s:O}", "k", target);
    PyObject *l = Py_BuildValue("[iO]", 1, d);
    ck_assert_int_eq(PyModule_AddObject(mod, "holder", l), 0); /* steals l */
    Py_DECREF(d);
    PyObject *sysmods = PyImport_GetModuleDict();
    ck_assert_int_eq(PyDict_SetItemString(sysmods, "hl_graph_test", mod), 0);

    hl_graph *g = NULL;
    ck_assert_int_eq(hl_graph_build(&g, NULL, 0), 0);
    PyObject **chain = NULL, **refs = NULL;
    size_t n = 0, nrefs = 0;
    hl_root_kind kind;
    ck_assert_int_eq(hl_graph_chain(&chain, &n, &kind, g, target, 16), 0);
    ck_assert_int_eq(hl_graph_referrers(&refs, &nrefs, g, target), 0);
    /* The arrays' own references do not count as outside holders. */
    Py_ssize_t ext = hl_graph_external_refs(g, target);
    hl_graph_free(g);

    ck_assert_int_eq(kind, HL_ROOT_MODULE);
    ck_assert_uint_eq(n, 5); /* module, its dict, list, dict, target */
    ck_assert_ptr_eq(chain[0], mod);
    ck_assert_ptr_eq(chain[2], l);
    ck_assert_ptr_eq(chain[3], d);
    ck_assert_ptr_eq(chain[4], target);
    ck_assert_uint_eq(nrefs, 1);
    ck_assert_ptr_eq(refs[0], d);
    ck_assert_int_eq(ext, 1); /* our own `target` variable is outside the heap */
    hl_graph_free_array(chain, n);
    hl_graph_free_array(refs, nrefs);
    ck_assert_int_eq(PyDict_DelItemString(sysmods, "hl_graph_test"), 0);
    Py_DECREF(target);
}
END_TEST

START_TEST(external_holder)
{
    /* Held only by C (this test): the chain is the object itself. */
    PyObject *lonely = Py_BuildValue("[s]", "only C holds me");
    hl_graph *g = NULL;
    ck_assert_int_eq(hl_graph_build(&g, NULL, 0), 0);
    PyObject **chain = NULL;
    size_t n = 0;
    hl_root_kind kind;
    ck_assert_int_eq(hl_graph_chain(&chain, &n, &kind, g, lonely, 16), 0);
    hl_graph_free(g);
    ck_assert_int_eq(kind, HL_ROOT_EXTERNAL);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_eq(chain[0], lonely);
    hl_graph_free_array(chain, n);
    Py_DECREF(lonely);
}
END_TEST

Suite *
graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chain_from_a_module);
    tcase_add_test(tc, external_holder);
    suite_add_tcase(s, tc);
    return s;
}
