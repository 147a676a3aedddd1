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
    suite_add_tcase(s, tc);
    return s;
}
