/* check_compat.c - the version layer: what compat.h says this interpreter
 * is, and its wrappers against what the interpreter itself reports. */
#include "compat.h"
#include "heaplens/heaplens.h"
#include "suites.h"

/* sys.getsizeof(o) - o.__sizeof__(), computed by Python. */
static Py_ssize_t
python_extra(const char *expr)
{
    PyObject *v = hl_test_eval("import sys", expr);
    Py_ssize_t n = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return n;
}

START_TEST(getsizeof_extra_matches_python)
{
    const char *exprs[] = {"[1, 2]", "12345678901234567890", "'text'", "{}", "(1, [])",
                           "type('C', (), {})()"};
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        char buf[200];
        PyObject *o = hl_test_eval(NULL, exprs[i]);
        snprintf(buf, sizeof(buf), "(lambda o: sys.getsizeof(o) - o.__sizeof__())(%s)",
                 exprs[i]);
        ck_assert_int_eq(hl_compat__getsizeof_extra(o), python_extra(buf));
        Py_ssize_t gs = 0;
        ck_assert_int_eq(hl_compat__getsizeof(&gs, o), 0);
        snprintf(buf, sizeof(buf), "sys.getsizeof(%s)", exprs[i]);
        ck_assert_int_eq(gs, python_extra(buf));
        Py_DECREF(o);
    }
}
END_TEST

/* The check suites build only in known-layout mode (CMakeLists.txt). */
START_TEST(mode_macros)
{
    ck_assert_int_eq(HL_KNOWN_LAYOUT, 1);
    ck_assert_int_eq(HL_FREE_THREADED, 0);
    ck_assert_int_eq(HL_HAVE_TRACKER, 1);
    ck_assert_str_eq(HL_LAYOUT_MODE, "known");
    PyObject *v = hl_test_eval("import sys", "sys.version_info[:2] >= (3, 11)");
    ck_assert_int_eq(HL_FRAME_HIDES_LOCALS, v == Py_True);
    Py_DECREF(v);
    v = hl_test_eval("import sys", "sys.version_info[:2] >= (3, 13)");
    ck_assert_int_eq(HL_HAVE_REFTRACER, v == Py_True);
    Py_DECREF(v);
}
END_TEST

START_TEST(cached_singletons)
{
    PyObject *small = PyLong_FromLong(5), *big = PyLong_FromLong(1 << 20);
    PyObject *empty = PyTuple_New(0);
    ck_assert_int_eq(hl_compat__is_cached_singleton(small), 1);
    ck_assert_int_eq(hl_compat__is_cached_singleton(big), 0);
    ck_assert_int_eq(hl_compat__is_cached_singleton(Py_None), 1);
    ck_assert_int_eq(hl_compat__is_cached_singleton(empty), 1);
    Py_DECREF(small);
    Py_DECREF(big);
    Py_DECREF(empty);
}
END_TEST

static int
count_visit(PyObject *obj, void *arg)
{
    size_t *n = arg;
    (void)obj;
    (*n)++;
    return 1;
}

/* Visiting every gc object sees about as many as gc.get_objects(). */
START_TEST(gc_visit_objects_sees_the_heap)
{
    size_t n = 0;
    ck_assert_int_eq(hl_compat__gc_visit_objects(count_visit, &n), 0);
    PyObject *v = hl_test_eval("import gc", "len(gc.get_objects())");
    size_t want = (size_t)PyLong_AsSsize_t(v);
    Py_DECREF(v);
    ck_assert_uint_gt(n, want - want / 10);
    ck_assert_uint_lt(n, want + want / 10);
}
END_TEST

Suite *
compat_suite(void)
{
    Suite *s = suite_create("compat");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, getsizeof_extra_matches_python);
    tcase_add_test(tc, mode_macros);
    tcase_add_test(tc, cached_singletons);
    tcase_add_test(tc, gc_visit_objects_sees_the_heap);
    suite_add_tcase(s, tc);
    return s;
}
