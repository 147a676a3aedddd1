/* check_graph.c - the reverse-edge index, referrer chains, root kinds and
 * the neighbourhood search (graph.c, graph_neighbourhood.c). */
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

START_TEST(class_target_is_not_its_own_root)
{
    /* A heap class held by a module's list: its chain runs from the module
     * through the list, not [class] as a root of its own. */
    PyObject *mod = PyImport_AddModule("hl_graph_cls_test"); /* borrowed */
    ck_assert_ptr_nonnull(mod);
    PyObject *cls = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N", "Held",
                                          PyDict_New());
    ck_assert_ptr_nonnull(cls);
    PyObject *l = Py_BuildValue("[O]", cls);
    ck_assert_int_eq(PyModule_AddObject(mod, "holder", l), 0); /* steals l */
    PyObject *sysmods = PyImport_GetModuleDict();
    ck_assert_int_eq(PyDict_SetItemString(sysmods, "hl_graph_cls_test", mod), 0);

    hl_graph *g = NULL;
    ck_assert_int_eq(hl_graph_build(&g, NULL, 0), 0);
    PyObject **chain = NULL;
    size_t n = 0;
    hl_root_kind kind;
    ck_assert_int_eq(hl_graph_chain(&chain, &n, &kind, g, cls, 16), 0);
    hl_graph_free(g);
    ck_assert_int_eq(kind, HL_ROOT_MODULE);
    ck_assert_uint_eq(n, 4); /* module, its dict, list, class */
    ck_assert_ptr_eq(chain[0], mod);
    ck_assert_ptr_eq(chain[2], l);
    ck_assert_ptr_eq(chain[3], cls);
    hl_graph_free_array(chain, n);
    ck_assert_int_eq(PyDict_DelItemString(sysmods, "hl_graph_cls_test"), 0);
    Py_DECREF(cls);
}
END_TEST

START_TEST(root_kinds)
{
    PyObject *mod = PyImport_AddModule("sys"); /* borrowed */
    PyObject *cls = (PyObject *)&PyFloat_Type;
    PyObject *lonely = Py_BuildValue("[i]", 1);
    hl_graph *g = NULL;
    ck_assert_int_eq(hl_graph_build(&g, NULL, 0), 0);
    PyObject *head = NULL;
    ck_assert_int_eq(hl_graph_root_kind(g, mod, &head), HL_ROOT_MODULE);
    ck_assert_ptr_eq(head, mod);
    ck_assert_int_eq(hl_graph_root_kind(g, PyModule_GetDict(mod), &head), HL_ROOT_MODULE);
    ck_assert_ptr_eq(head, mod); /* a module's dict stands for the module */
    ck_assert_int_eq(hl_graph_root_kind(g, cls, &head), HL_ROOT_CLASS);
    ck_assert_ptr_eq(head, cls);
    ck_assert_int_eq(hl_graph_root_kind(g, lonely, &head), HL_ROOT_EXTERNAL);
    hl_graph_free(g);
    Py_DECREF(lonely);
}
END_TEST

/* Holders of `target`, each excluded: none appears in the neighbourhood,
 * however many there are (the glue once kept only 64 exclusions). */
START_TEST(neighbourhood_excludes_any_number)
{
    enum { N = 200 };
    PyObject *target = PyFloat_FromDouble(4242.5);
    PyObject *holders[N + 1];
    for (int i = 0; i < N + 1; i++)
        holders[i] = Py_BuildValue("[O]", target);
    hl_graph *g = NULL;
    ck_assert_int_eq(hl_graph_build(&g, holders, N), 0); /* all but the last */
    hl_graph_neighbourhood nb;
    ck_assert_int_eq(hl_graph_neighbourhood_find(&nb, g, target, NULL), 0);
    hl_graph_free(g);
    ck_assert_ptr_eq(nb.nodes[0], target);
    size_t excluded_seen = 0, last_seen = 0;
    for (size_t i = 0; i < nb.nnodes; i++) {
        for (int j = 0; j < N; j++)
            excluded_seen += nb.nodes[i] == holders[j];
        last_seen += nb.nodes[i] == holders[N];
    }
    ck_assert_uint_eq(excluded_seen, 0);
    ck_assert_uint_eq(last_seen, 1);
    ck_assert_uint_eq(nb.nedges, 1);
    ck_assert_ptr_eq(nb.nodes[nb.parents[0]], holders[N]);
    ck_assert_ptr_eq(nb.nodes[nb.children[0]], target);
    hl_graph_neighbourhood_free(&nb);
    for (int i = 0; i < N + 1; i++)
        Py_DECREF(holders[i]);
    Py_DECREF(target);
}
END_TEST

/* too_many, max_nodes, depth and group_functions, and bad options. */
START_TEST(neighbourhood_limits)
{
    PyObject *ns = hl_test_eval(
        "t = [0.5]\nholders = [[t] for _ in range(30)]\n"
        "g = {'t': t}\nfns = [eval('lambda: 0', g) for _ in range(5)]",
        "(t, holders, g, fns)");
    PyObject *target = PyTuple_GET_ITEM(ns, 0), *gdict = PyTuple_GET_ITEM(ns, 2);
    hl_graph *g = NULL;
    ck_assert_int_eq(hl_graph_build(&g, &ns, 1), 0);
    hl_graph_neighbourhood_options opts;
    ck_assert_int_eq(hl_graph_neighbourhood_options_init(&opts, 2), HL_EINVAL);
    ck_assert_int_eq(
        hl_graph_neighbourhood_options_init(&opts, HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION), 0);
    ck_assert_uint_eq(opts.depth, 4);
    ck_assert_uint_eq(opts.max_nodes, 60);
    hl_graph_neighbourhood nb;

    opts.depth = 1;
    opts.too_many = 10;
    ck_assert_int_eq(hl_graph_neighbourhood_find(&nb, g, target, &opts), 0);
    ck_assert_uint_eq(nb.nedges, 10);
    ck_assert_uint_eq(nb.nnodes, 11);
    ck_assert_uint_eq(nb.dropped[0], 31 - 10); /* 30 holders and the dict */
    hl_graph_neighbourhood_free(&nb);
    ck_assert_ptr_null(nb.nodes);

    opts.too_many = 0;
    opts.max_nodes = 5;
    ck_assert_int_eq(hl_graph_neighbourhood_find(&nb, g, target, &opts), 0);
    ck_assert_uint_eq(nb.nnodes, 5);
    ck_assert_uint_eq(nb.nedges, 4); /* edges to nodes past the cap dropped */
    hl_graph_neighbourhood_free(&nb);

    opts.depth = 0;
    opts.max_nodes = 60;
    ck_assert_int_eq(hl_graph_neighbourhood_find(&nb, g, target, &opts), 0);
    ck_assert_uint_eq(nb.nnodes, 1);
    ck_assert_uint_eq(nb.nedges, 0);
    hl_graph_neighbourhood_free(&nb);

    /* The functions whose globals the dict is: counted, not followed. */
    opts.depth = 1;
    opts.group_functions = 1;
    ck_assert_int_eq(hl_graph_neighbourhood_find(&nb, g, gdict, &opts), 0);
    ck_assert_uint_eq(nb.grouped[0], 5);
    for (size_t i = 1; i < nb.nnodes; i++)
        ck_assert(!PyFunction_Check(nb.nodes[i]));
    hl_graph_neighbourhood_free(&nb);

    opts.max_nodes = 0;
    ck_assert_int_eq(hl_graph_neighbourhood_find(&nb, g, target, &opts), HL_EINVAL);
    ck_assert_uint_eq(nb.nnodes, 0);
    hl_graph_free(g);
    Py_DECREF(ns);
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
    tcase_add_test(tc, class_target_is_not_its_own_root);
    tcase_add_test(tc, root_kinds);
    tcase_add_test(tc, neighbourhood_excludes_any_number);
    tcase_add_test(tc, neighbourhood_limits);
    suite_add_tcase(s, tc);
    return s;
}
