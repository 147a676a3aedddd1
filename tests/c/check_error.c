/* check_error.c - the per-thread message of the last error. */
#include <string.h>

#include "error.h"
#include "heaplens/heaplens.h"
#include "suites.h"

START_TEST(set_last_clear)
{
    hl_error_clear();
    ck_assert_ptr_null(hl_error_last());
    ck_assert_int_eq(hl_error__set(HL_EINVAL, "bad %s %d", "thing", 7), HL_EINVAL);
    ck_assert_str_eq(hl_error_last(), "bad thing 7");
    ck_assert_int_eq(hl_error__set(HL_ENOMEM, "second"), HL_ENOMEM);
    ck_assert_str_eq(hl_error_last(), "second");
    hl_error_clear();
    ck_assert_ptr_null(hl_error_last());
}
END_TEST

START_TEST(long_message_is_cut_not_overrun)
{
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hl_error__set(HL_EINVAL, "%s", big);
    const char *m = hl_error_last();
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(strlen(m), 255); /* the buffer is 256 bytes */
    ck_assert_int_eq(m[254], 'x');
    hl_error_clear();
}
END_TEST

/* A core call that fails says why; one that succeeds clears the old message. */
START_TEST(core_calls_set_and_clear)
{
    hl_walk_options opts;
    ck_assert_int_eq(hl_walk_options_init(&opts, 99), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "version 99"));
    ck_assert_int_eq(hl_walk_options_init(&opts, HL_WALK_OPTIONS_VERSION), 0);
    opts.limit = -5;
    PyObject *o = PyLong_FromLong(123456);
    ck_assert_int_eq(hl_walk_sizes(NULL, NULL, &o, 1, &opts), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "limit"));
    opts.limit = -1;
    ck_assert_int_eq(hl_walk_sizes(NULL, NULL, &o, 1, &opts), 0);
    ck_assert_ptr_null(hl_error_last());
    Py_DECREF(o);
}
END_TEST

Suite *
error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, set_last_clear);
    tcase_add_test(tc, long_message_is_cut_not_overrun);
    tcase_add_test(tc, core_calls_set_and_clear);
    suite_add_tcase(s, tc);
    return s;
}
