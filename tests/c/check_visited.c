/* check_visited.c - a visited set shared by several walks. */
#include "heaplens/heaplens.h"
#include "suites.h"

static Py_ssize_t
size_with(hl_visited *v, PyObject *root)
{
    hl_walk_options opts;
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.visited = v;
    Py_ssize_t size = -1;
    ck_assert_int_eq(hl_walk_sizes(&size, NULL, &root, 1, &opts), 0);
    return size;
}

START_TEST(marks)
{
    PyObject *inner = Py_BuildValue("[s]", "inner text here");
    PyObject *outer = Py_BuildValue("[O]", inner);
    Py_ssize_t full = size_with(NULL, outer), inner_size = size_with(NULL, inner);
    ck_assert_int_gt(inner_size, 0);

    hl_visited *v;
    /* SEEN: 0 when reached, and 0 when given again. */
    ck_assert_int_eq(hl_visited_new(&v), 0);
    ck_assert_int_eq(hl_visited_mark(v, inner, HL_MARK_SEEN), 0);
    ck_assert_int_eq(size_with(v, outer), full - inner_size);
    ck_assert_int_eq(size_with(v, inner), 0);
    hl_visited_free(v);

    /* SKIP_REF: 0 as a referent, sized when given. */
    ck_assert_int_eq(hl_visited_new(&v), 0);
    ck_assert_int_eq(hl_visited_mark(v, inner, HL_MARK_SKIP_REF), 0);
    ck_assert_int_eq(size_with(v, outer), full - inner_size);
    hl_visited_free(v);
    ck_assert_int_eq(hl_visited_new(&v), 0);
    ck_assert_int_eq(hl_visited_mark(v, inner, HL_MARK_SKIP_REF), 0);
    ck_assert_int_gt(size_with(v, inner), 0);
    hl_visited_free(v);

    /* EXCLUDE: always 0. */
    ck_assert_int_eq(hl_visited_new(&v), 0);
    ck_assert_int_eq(hl_visited_mark(v, inner, HL_MARK_EXCLUDE), 0);
    ck_assert_int_eq(size_with(v, inner), 0);
    ck_assert_int_eq(hl_visited_mark(v, inner, (hl_mark)7), HL_EINVAL);
    ck_assert_int_eq(hl_visited_mark(NULL, inner, HL_MARK_SEEN), HL_EINVAL);
    hl_visited_free(v);
    Py_DECREF(outer);
    Py_DECREF(inner);
}
END_TEST

/* Counted once over several walks; the set holds a reference to each
 * object, and clear gives them back. */
START_TEST(shared_count_and_references)
{
    PyObject *shared = Py_BuildValue("[s]", "shared between two roots");
    PyObject *a = Py_BuildValue("[O]", shared), *b = Py_BuildValue("[O]", shared);
    Py_ssize_t rc0 = Py_REFCNT(shared);
    hl_visited *v;
    ck_assert_int_eq(hl_visited_new(&v), 0);
    Py_ssize_t sa = size_with(v, a), sb = size_with(v, b);
    ck_assert_int_eq(sa + sb, size_with(NULL, a) + size_with(NULL, b) - size_with(NULL, shared));
    ck_assert_uint_ge(hl_visited_count(v), 4); /* a, b, shared, the str */
    ck_assert_int_eq(Py_REFCNT(shared), rc0 + 1);
    hl_visited_clear(v);
    ck_assert_uint_eq(hl_visited_count(v), 0);
    ck_assert_int_eq(Py_REFCNT(shared), rc0);
    hl_visited_free(v);
    hl_visited_free(NULL);
    Py_DECREF(a);
    Py_DECREF(b);
    Py_DECREF(shared);
}
END_TEST

Suite *
visited_suite(void)
{
    Suite *s = suite_create("visited");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, marks);
    tcase_add_test(tc, shared_count_and_references);
    suite_add_tcase(s, tc);
    return s;
}
