/* check_walk.c - the traversal engine through the public C API. */
#include "heaplens/heaplens.h"
#include "mem.h"
#include "suites.h"

static Py_ssize_t
getsizeof8(PyObject *o)
{
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *r = PyObject_CallMethod(sys, "getsizeof", "O", o);
    Py_DECREF(sys);
    ck_assert_ptr_nonnull(r);
    Py_ssize_t s = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    return (s + 7) & ~7;
}

START_TEST(million_deep_chain)
{
    PyObject *chain = hl_test_eval("x = []\nfor _ in range(1000000): x = [x]\n", "x");
    Py_ssize_t size = 0;
    hl_walk_stats st;
    ck_assert_int_eq(hl_walk_sizes(&size, &st, &chain, 1, NULL), 0);
    /* 1,000,000 one-item lists and the empty one at the bottom. */
    PyObject *one = hl_test_eval(NULL, "[None]"), *empty = hl_test_eval(NULL, "[]");
    ck_assert_int_eq(size, 1000000 * getsizeof8(one) + getsizeof8(empty));
    ck_assert_uint_eq(st.counted, 1000001);
    ck_assert_uint_eq(st.max_depth, 1000000);
    Py_DECREF(one);
    Py_DECREF(empty);
    Py_DECREF(chain);
}
END_TEST

START_TEST(count_once_and_roots)
{
    PyObject *outer = hl_test_eval("inner = [1.5, 2.5]\nouter = [inner, inner, inner]\n",
                                   "(outer, outer[0])");
    PyObject *roots[2] = {PyTuple_GET_ITEM(outer, 0), PyTuple_GET_ITEM(outer, 1)};
    Py_ssize_t sizes[2], one;
    ck_assert_int_eq(hl_walk_sizes(sizes, NULL, roots, 2, NULL), 0);
    ck_assert_int_eq(sizes[0], getsizeof8(roots[0]));
    ck_assert_int_eq(sizes[1], getsizeof8(roots[1]) + 2 * 24);
    ck_assert_int_eq(hl_walk_sizes(&one, NULL, roots, 1, NULL), 0);
    ck_assert_int_eq(one, sizes[0] + sizes[1]);
    /* The same root twice counts 0 the second time. */
    PyObject *twice[2] = {roots[1], roots[1]};
    ck_assert_int_eq(hl_walk_sizes(sizes, NULL, twice, 2, NULL), 0);
    ck_assert_int_eq(sizes[1], 0);
    Py_DECREF(outer);
}
END_TEST

START_TEST(str_keys_counted)
{
    PyObject *d = hl_test_eval(NULL, "{'key%d' % i: None for i in range(100)}");
    Py_ssize_t size;
    ck_assert_int_eq(hl_walk_sizes(&size, NULL, &d, 1, NULL), 0);
    PyObject *key = hl_test_eval(NULL, "'key10'");
    ck_assert_int_ge(size, getsizeof8(d) + 100 * getsizeof8(key) - 10 * 8);
    Py_DECREF(key);
    Py_DECREF(d);
}
END_TEST

START_TEST(bad_options)
{
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    Py_ssize_t size;
    PyObject *o = Py_None;
    opts.version = 99;
    ck_assert_int_eq(hl_walk_sizes(&size, NULL, &o, 1, &opts), HL_EINVAL);
    opts.version = HL_WALK_OPTIONS_VERSION;
    opts.align = 12;
    ck_assert_int_eq(hl_walk_sizes(&size, NULL, &o, 1, &opts), HL_EINVAL);
    opts.align = 8;
    opts.limit = -5;
    ck_assert_int_eq(hl_walk_sizes(&size, NULL, &o, 1, &opts), HL_EINVAL);
    opts.limit = -1;
    opts.on_leave = (hl_walk_cb)1;
    ck_assert_int_eq(hl_walk_sizes(&size, NULL, &o, 1, &opts), HL_EINVAL);
    ck_assert_ptr_nonnull(hl_error_last());
    ck_assert(!PyErr_Occurred());
}
END_TEST

static int
stop_at_three(const hl_walk_event *ev, void *payload)
{
    (void)ev;
    return ++*(int *)payload >= 3;
}

START_TEST(callback_stops)
{
    PyObject *l = hl_test_eval(NULL, "[[1], [2], [3], [4]]");
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    int seen = 0;
    opts.on_object = stop_at_three;
    opts.payload = &seen;
    ck_assert_int_eq(hl_walk_sizes(NULL, NULL, &l, 1, &opts), HL_ESTOP);
    ck_assert_int_eq(seen, 3);
    Py_DECREF(l);
}
END_TEST

START_TEST(python_error_propagates)
{
    PyObject *l = hl_test_eval("class R:\n    def __sizeof__(self): raise KeyError(7)\n",
                               "[1, [R()], 'x']");
    Py_ssize_t before = Py_REFCNT(l);
    ck_assert_int_eq(hl_walk_sizes(NULL, NULL, &l, 1, NULL), HL_EPYTHON);
    ck_assert(PyErr_ExceptionMatches(PyExc_KeyError));
    PyErr_Clear();
    ck_assert_int_eq(Py_REFCNT(l), before);
    Py_DECREF(l);
}
END_TEST

/* Make the core allocator fail at every position in turn: each walk either
 * succeeds with the right figure or reports HL_ENOMEM, and no reference is
 * leaked either way. */
START_TEST(allocation_failures)
{
    PyObject *g = hl_test_eval(NULL, "[[i, str(i), [i] * 3] for i in range(3000)]");
    Py_ssize_t want, got, before = Py_REFCNT(g);
    ck_assert_int_eq(hl_walk_sizes(&want, NULL, &g, 1, NULL), 0);
    int failures = 0;
    for (unsigned long n = 1; n < 40; n++) {
        hl_mem__fail_every(n);
        int rc = hl_walk_sizes(&got, NULL, &g, 1, NULL);
        hl_mem__fail_every(0);
        ck_assert(rc == 0 || rc == HL_ENOMEM);
        if (rc == 0)
            ck_assert_int_eq(got, want);
        else
            failures++;
        ck_assert(!PyErr_Occurred());
        ck_assert_int_eq(Py_REFCNT(g), before);
    }
    ck_assert_int_gt(failures, 0);
    Py_DECREF(g);
}
END_TEST

START_TEST(referents_include_str_keys)
{
    PyObject *d = hl_test_eval(NULL, "{'alpha': 1}");
    PyObject *refs = NULL;
    ck_assert_int_eq(hl_walk_referents(&refs, d, NULL), 0);
    ck_assert_int_eq(PyList_GET_SIZE(refs), 2);
    ck_assert(PyUnicode_Check(PyList_GET_ITEM(refs, 0)));
    Py_DECREF(refs);
    Py_DECREF(d);
}
END_TEST

/* A census of the whole heap sees untracked objects (a list of ints is one
 * gc object holding 100,000 untracked ones), and what an excluded object
 * holds is left out. */
START_TEST(heap_census_and_exclude)
{
    PyObject *ints = hl_test_eval(NULL, "list(range(10**7, 10**7 + 100000))");
    hl_census *with = NULL, *without = NULL;
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    hl_addrset *seen = NULL;
    ck_assert_int_eq(hl_census_new(&with), 0);
    ck_assert_int_eq(hl_census_new(&without), 0);
    opts.flags = HL_WALK_ALL | HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
    opts.census = with;
    opts.seen_out = &seen;
    ck_assert_int_eq(hl_heap_walk(NULL, &opts, NULL, 0), 0);
    ck_assert(hl_addrset_contains(seen, PyList_GET_ITEM(ints, 500)));
    ck_assert_uint_ge(hl_addrset_count(seen), 100000);
    opts.census = without;
    opts.seen_out = NULL;
    ck_assert_int_eq(hl_heap_walk(NULL, &opts, &ints, 1), 0);

    size_t n_with = 0, n_without = 0;
    hl_census_row *rows;
    size_t nrows;
    ck_assert_int_eq(hl_census_rows(&rows, &nrows, with), 0);
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].type == &PyLong_Type)
            n_with = rows[i].count;
    hl_census_rows_free(rows);
    ck_assert_int_eq(hl_census_rows(&rows, &nrows, without), 0);
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].type == &PyLong_Type)
            n_without = rows[i].count;
    hl_census_rows_free(rows);
    ck_assert_uint_ge(n_with, 100000);
    ck_assert_uint_ge(n_with - n_without, 100000);
    hl_addrset_free(seen);
    hl_census_free(with);
    hl_census_free(without);
    Py_DECREF(ints);
}
END_TEST

START_TEST(shared_visited_set)
{
    PyObject *pair = hl_test_eval("a = [1.5, 2.5]\nb = [a, 3.5]\n", "(a, b)");
    PyObject *a = PyTuple_GET_ITEM(pair, 0), *b = PyTuple_GET_ITEM(pair, 1);
    hl_visited *v = NULL;
    ck_assert_int_eq(hl_visited_new(&v), 0);
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    opts.visited = v;
    Py_ssize_t sa, sb, again;
    ck_assert_int_eq(hl_walk_sizes(&sa, NULL, &a, 1, &opts), 0);
    ck_assert_int_eq(hl_walk_sizes(&sb, NULL, &b, 1, &opts), 0);
    ck_assert_int_eq(sb, getsizeof8(b) + 24); /* a was counted already */
    ck_assert_int_eq(hl_walk_sizes(&again, NULL, &a, 1, &opts), 0);
    ck_assert_int_eq(again, 0);
    ck_assert_uint_eq(hl_visited_count(v), 5);
    Py_ssize_t before = Py_REFCNT(a);
    hl_visited_free(v);
    ck_assert_int_eq(Py_REFCNT(a), before - 1); /* the set let go of a */
    ck_assert_int_eq(sa, getsizeof8(a) + 48);
    Py_DECREF(pair);
}
END_TEST

START_TEST(registry_referents_and_inherited_sizeof)
{
    /* A class hiding a payload from tp_traverse, and a list subclass whose
     * __sizeof__ is deep. */
    PyObject *ns = hl_test_eval(
        "class Hide:\n"
        "    __slots__ = ('k',)\n"
        "store = {}\n"
        "h = Hide(); h.k = 1; store[1] = [2.5] * 100\n"
        "def refs(o): return [store[o.k]]\n"
        "class Deep(list):\n"
        "    def __sizeof__(self): return 10**6\n"
        "d = Deep([1.5])\n",
        "(Hide, h, refs, store[1], Deep, d)");
    PyObject *Hide = PyTuple_GET_ITEM(ns, 0), *h = PyTuple_GET_ITEM(ns, 1);
    PyObject *refs = PyTuple_GET_ITEM(ns, 2), *payload = PyTuple_GET_ITEM(ns, 3);
    PyObject *Deep = PyTuple_GET_ITEM(ns, 4), *d = PyTuple_GET_ITEM(ns, 5);
    Py_ssize_t alone, with, pay, deep, flat;
    ck_assert_int_eq(hl_walk_sizes(&alone, NULL, &h, 1, NULL), 0);
    ck_assert_int_eq(hl_walk_sizes(&pay, NULL, &payload, 1, NULL), 0);
    ck_assert_int_eq(hl_register_type((PyTypeObject *)Hide, refs, NULL, 0), 0);
    ck_assert_int_eq(hl_walk_sizes(&with, NULL, &h, 1, NULL), 0);
    ck_assert_int_eq(with, alone + pay);
    ck_assert_int_eq(hl_unregister_type((PyTypeObject *)Hide), 1);
    ck_assert_int_eq(hl_unregister_type((PyTypeObject *)Hide), 0);

    ck_assert_int_eq(hl_size_flat(&flat, d, HL_MODEL_GETSIZEOF, 1), 0);
    ck_assert_int_ge(flat, 1000000);
    ck_assert_int_eq(hl_register_type((PyTypeObject *)Deep, NULL, NULL,
                                      HL_TYPE_INHERITED_SIZEOF), 0);
    ck_assert_int_eq(hl_size_flat(&flat, d, HL_MODEL_GETSIZEOF, 1), 0);
    ck_assert_int_lt(flat, 200); /* list.__sizeof__ + the headers */
    ck_assert_int_eq(hl_walk_sizes(&deep, NULL, &d, 1, NULL), 0);
    ck_assert_int_eq(deep, ((flat + 7) & ~7) + 24);
    /* Bad arguments. */
    ck_assert_int_eq(hl_register_type((PyTypeObject *)Deep, refs, refs,
                                      HL_TYPE_INHERITED_SIZEOF), HL_EINVAL);
    ck_assert_int_eq(hl_register_type((PyTypeObject *)Deep, NULL, NULL, 0x80), HL_EINVAL);
    ck_assert_int_eq(hl_register_type((PyTypeObject *)h, NULL, NULL, 0), HL_EINVAL);
    ck_assert_int_eq(hl_unregister_type((PyTypeObject *)Deep), 1);
    Py_DECREF(ns);
}
END_TEST

Suite *
walk_suite(void)
{
    Suite *s = suite_create("walk");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, million_deep_chain);
    tcase_add_test(tc, count_once_and_roots);
    tcase_add_test(tc, str_keys_counted);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, callback_stops);
    tcase_add_test(tc, python_error_propagates);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, referents_include_str_keys);
    tcase_add_test(tc, heap_census_and_exclude);
    tcase_add_test(tc, shared_visited_set);
    tcase_add_test(tc, registry_referents_and_inherited_sizeof);
    suite_add_tcase(s, tc);
    return s;
}
