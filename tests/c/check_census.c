/* check_census.c - counts and bytes per type. */
#include "heaplens/heaplens.h"
#include "suites.h"

static const hl_census_row *
row_of(const hl_census_row *rows, size_t n, PyTypeObject *tp)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].type == tp)
            return &rows[i];
    return NULL;
}

START_TEST(add_and_rows)
{
    PyTypeObject *tp = (PyTypeObject *)hl_test_eval("class CensusT: pass", "CensusT");
    Py_ssize_t before = Py_REFCNT(tp);
    hl_census *c = NULL;
    ck_assert_int_eq(hl_census_new(&c), 0);
    ck_assert_int_eq(hl_census_add(c, tp, 40), 0);
    ck_assert_int_eq(hl_census_add(c, tp, 2), 0);
    ck_assert_int_eq(hl_census_add_many(c, &PyFloat_Type, 5, 120), 0);
    ck_assert_int_gt(Py_REFCNT(tp), before); /* the census holds the type */
    hl_census_row *rows = NULL;
    size_t n = 0;
    ck_assert_int_eq(hl_census_rows(&rows, &n, c), 0);
    ck_assert_uint_eq(n, 2);
    const hl_census_row *r = row_of(rows, n, tp);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 2);
    ck_assert_int_eq(r->size, 42);
    r = row_of(rows, n, &PyFloat_Type);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 5);
    ck_assert_int_eq(r->size, 120);
    hl_census_rows_free(rows);
    hl_census_free(c);
    ck_assert_int_eq(Py_REFCNT(tp), before); /* and gives it back */
    hl_census_free(NULL);
    Py_DECREF(tp);
}
END_TEST

/* A walk's census (the option) and an on_object census agree, and both
 * count what the walk counted. */
START_TEST(walk_census_both_ways)
{
    PyObject *obj = hl_test_eval(NULL, "[1.5, 2.5, 3.5, 'a text', (None, 1.25)]");
    hl_census *by_opt = NULL, *by_cb = NULL;
    ck_assert_int_eq(hl_census_new(&by_opt), 0);
    ck_assert_int_eq(hl_census_new(&by_cb), 0);
    hl_walk_options opts;
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.census = by_opt;
    hl_walk_stats st;
    Py_ssize_t total = 0;
    ck_assert_int_eq(hl_walk_sizes(&total, &st, &obj, 1, &opts), 0);
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.on_object = hl_census_on_object;
    opts.payload = by_cb;
    ck_assert_int_eq(hl_walk_sizes(NULL, NULL, &obj, 1, &opts), 0);
    hl_census_row *ra, *rb;
    size_t na, nb, count = 0;
    Py_ssize_t bytes = 0;
    ck_assert_int_eq(hl_census_rows(&ra, &na, by_opt), 0);
    ck_assert_int_eq(hl_census_rows(&rb, &nb, by_cb), 0);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        const hl_census_row *o = row_of(rb, nb, ra[i].type);
        ck_assert_ptr_nonnull(o);
        ck_assert_uint_eq(o->count, ra[i].count);
        ck_assert_int_eq(o->size, ra[i].size);
        count += ra[i].count;
        bytes += ra[i].size;
    }
    ck_assert_uint_eq(row_of(ra, na, &PyFloat_Type)->count, 4);
    ck_assert_uint_eq(count, st.counted);
    ck_assert_int_eq(bytes, total);
    hl_census_rows_free(ra);
    hl_census_rows_free(rb);
    hl_census_free(by_opt);
    hl_census_free(by_cb);
    Py_DECREF(obj);
}
END_TEST

Suite *
census_suite(void)
{
    Suite *s = suite_create("census");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, add_and_rows);
    tcase_add_test(tc, walk_census_both_ways);
    suite_add_tcase(s, tc);
    return s;
}
