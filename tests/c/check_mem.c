/* check_mem.c - the core's allocator and its fail-every-Nth switch, which
 * proves the error paths (libgit2's DEBUG_STRICT_ALLOC). */
#include "heaplens/heaplens.h"
#include "mem.h"
#include "suites.h"

START_TEST(fail_every_nth)
{
    hl_mem__fail_every(3);
    void *a = hl_mem__malloc(16), *b = hl_mem__calloc(2, 8), *c = hl_mem__malloc(16);
    void *d = hl_mem__sys_malloc(16);
    hl_mem__fail_every(0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c); /* the third call */
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(((unsigned char *)b)[15], 0); /* calloc zeroes */
    hl_mem__free(a);
    hl_mem__free(b);
    hl_mem__sys_free(d);
    hl_mem__free(NULL);
    hl_mem__sys_free(NULL);
}
END_TEST

START_TEST(realloc_keeps_contents)
{
    unsigned char *p = hl_mem__malloc(4);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(i + 1);
    p = hl_mem__realloc(p, 1 << 16);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p[3], 4);
    hl_mem__free(p);
}
END_TEST

/* With every allocation failing, core calls return HL_ENOMEM and leave
 * their outputs empty instead of crashing. */
START_TEST(core_calls_report_out_of_memory)
{
    hl_census *c = (hl_census *)1;
    hl_visited *v = (hl_visited *)1;
    hl_mem__fail_every(1);
    int rc_census = hl_census_new(&c);
    int rc_visited = hl_visited_new(&v);
    hl_mem__fail_every(0);
    ck_assert_int_eq(rc_census, HL_ENOMEM);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(rc_visited, HL_ENOMEM);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(hl_error_last());
}
END_TEST

/* Fail the Nth allocation of a whole walk for each N in turn: every run
 * either succeeds with the right total or fails with HL_ENOMEM. */
START_TEST(walk_under_failing_allocations)
{
    PyObject *obj = hl_test_eval(NULL, "[list(range(i)) for i in range(50)]");
    Py_ssize_t want = 0, got;
    ck_assert_int_eq(hl_walk_sizes(&want, NULL, &obj, 1, NULL), 0);
    int ok = 0, nomem = 0, other = 0;
    for (unsigned long n = 1; n <= 40; n++) {
        hl_mem__fail_every(n);
        got = -1;
        int rc = hl_walk_sizes(&got, NULL, &obj, 1, NULL);
        hl_mem__fail_every(0);
        if (rc == 0 && got == want)
            ok++;
        else if (rc == HL_ENOMEM)
            nomem++;
        else
            other++;
    }
    ck_assert_int_eq(other, 0);
    ck_assert_int_gt(nomem, 0);
    ck_assert_int_gt(ok, 0);
    Py_DECREF(obj);
}
END_TEST

Suite *
mem_suite(void)
{
    Suite *s = suite_create("mem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fail_every_nth);
    tcase_add_test(tc, realloc_keeps_contents);
    tcase_add_test(tc, core_calls_report_out_of_memory);
    tcase_add_test(tc, walk_under_failing_allocations);
    suite_add_tcase(s, tc);
    return s;
}
