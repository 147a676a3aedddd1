/* check_addrset.c - the address set a walk hands over (seen_out). */
#include "heaplens/heaplens.h"
#include "suites.h"

START_TEST(seen_out_holds_what_was_visited)
{
    PyObject *root = hl_test_eval(NULL, "[[1.5, 'x y z'], (2.5,), {'k': 3.5}]");
    hl_addrset *seen = NULL;
    hl_walk_options opts;
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.seen_out = &seen;
    hl_walk_stats st;
    ck_assert_int_eq(hl_walk_sizes(NULL, &st, &root, 1, &opts), 0);
    ck_assert_ptr_nonnull(seen);
    ck_assert_int_eq(hl_addrset_contains(seen, root), 1);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(root); i++)
        ck_assert_int_eq(hl_addrset_contains(seen, PyList_GET_ITEM(root, i)), 1);
    PyObject *other = PyFloat_FromDouble(9.75);
    ck_assert_int_eq(hl_addrset_contains(seen, other), 0);
    ck_assert_uint_ge(hl_addrset_count(seen), st.counted);
    ck_assert_uint_gt(hl_addrset_bytes(seen), 0);
    hl_addrset_free(seen);
    Py_DECREF(other);
    Py_DECREF(root);
}
END_TEST

START_TEST(null_is_empty)
{
    ck_assert_int_eq(hl_addrset_contains(NULL, (void *)16), 0);
    ck_assert_uint_eq(hl_addrset_count(NULL), 0);
    ck_assert_uint_eq(hl_addrset_bytes(NULL), 0);
    hl_addrset_free(NULL);
}
END_TEST

/* A seed is consumed, and the walk starts with its addresses seen. */
START_TEST(seed_skips_its_addresses)
{
    PyObject *inner = Py_BuildValue("[s]", "seeded inner list");
    PyObject *outer = Py_BuildValue("[O]", inner);
    Py_ssize_t full = 0, seeded = 0, inner_size = 0;
    ck_assert_int_eq(hl_walk_sizes(&full, NULL, &outer, 1, NULL), 0);
    ck_assert_int_eq(hl_walk_sizes(&inner_size, NULL, &inner, 1, NULL), 0);
    hl_addrset *seed = NULL;
    hl_walk_options opts;
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.seen_out = &seed;
    ck_assert_int_eq(hl_walk_sizes(NULL, NULL, &inner, 1, &opts), 0);
    hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION);
    opts.seed = seed; /* consumed */
    ck_assert_int_eq(hl_walk_sizes(&seeded, NULL, &outer, 1, &opts), 0);
    ck_assert_int_eq(seeded, full - inner_size);
    Py_DECREF(outer);
    Py_DECREF(inner);
}
END_TEST

Suite *
addrset_suite(void)
{
    Suite *s = suite_create("addrset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, seen_out_holds_what_was_visited);
    tcase_add_test(tc, null_is_empty);
    tcase_add_test(tc, seed_skips_its_addresses);
    suite_add_tcase(s, tc);
    return s;
}
