/* check_heap.c - whole-heap walks. */
#include "heap.h"
#include "heaplens/heaplens.h"
#include "suites.h"

START_TEST(roots_hold_every_gc_object)
{
    PyObject *mine = Py_BuildValue("[s]", "a gc-tracked list");
    hl_heap__rootlist r;
    ck_assert_int_eq(hl_heap__roots(&r), 0);
    int found = 0;
    for (size_t i = 0; i < r.n; i++)
        found += r.items[i] == mine;
    ck_assert_int_eq(found, 1);
    Py_ssize_t held = Py_REFCNT(mine);
    hl_heap__roots_free(&r);
    ck_assert_int_eq(Py_REFCNT(mine), held - 1); /* a strong reference each */
    ck_assert_ptr_null(r.items);
    Py_DECREF(mine);
}
END_TEST

static size_t
count_of(hl_census *c, PyTypeObject *tp)
{
    hl_census_row *rows;
    size_t n, count = 0;
    ck_assert_int_eq(hl_census_rows(&rows, &n, c), 0);
    for (size_t i = 0; i < n; i++)
        if (rows[i].type == tp)
            count = rows[i].count;
    hl_census_rows_free(rows);
    return count;
}

/* The census of a heap walk counts every instance of a class, and none of
 * those reachable from an excluded object. */
START_TEST(heap_walk_counts_and_excludes)
{
    PyObject *held = hl_test_eval("class HeapT:\n    pass\nheld = [HeapT() for _ in range(7)]",
                                  "held");
    PyTypeObject *tp = Py_TYPE(PyList_GET_ITEM(held, 0));
    hl_census *c = NULL;
    hl_walk_options opts;
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.flags = HL_WALK_ALL;
    ck_assert_int_eq(hl_census_new(&c), 0);
    opts.census = c;
    hl_walk_stats st;
    ck_assert_int_eq(hl_heap_walk(&st, &opts, NULL, 0), 0);
    ck_assert_uint_eq(count_of(c, tp), 7);
    ck_assert_uint_gt(st.counted, 1000);
    hl_census_free(c);

    ck_assert_int_eq(hl_census_new(&c), 0);
    opts.census = c;
    ck_assert_int_eq(hl_heap_walk(&st, &opts, &held, 1), 0);
    ck_assert_uint_eq(count_of(c, tp), 0);
    hl_census_free(c);

    /* Bad options are refused. */
    hl_visited *v;
    ck_assert_int_eq(hl_visited_new(&v), 0);
    opts.census = NULL;
    opts.visited = v;
    ck_assert_int_eq(hl_heap_walk(NULL, &opts, NULL, 0), HL_EINVAL);
    ck_assert_int_eq(hl_heap_walk(NULL, NULL, NULL, 0), HL_EINVAL);
    hl_visited_free(v);
    Py_DECREF(held);
}
END_TEST

Suite *
heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, roots_hold_every_gc_object);
    tcase_add_test(tc, heap_walk_counts_and_excludes);
    suite_add_tcase(s, tc);
    return s;
}
