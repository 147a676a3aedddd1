/* check_ptrset.c - the visited set. */
#include <stdint.h>

#include "heaplens/heaplens.h"
#include "mem.h"
#include "ptrset.h"
#include "suites.h"

START_TEST(add_and_contains)
{
    hl_ptrset s;
    ck_assert_int_eq(hl_ptrset__init(&s, 0), 0);
    void *a = (void *)(uintptr_t)0x7f0000001000, *b = (void *)(uintptr_t)0x7f0000001010;
    ck_assert_int_eq(hl_ptrset__contains(&s, a), 0);
    ck_assert_int_eq(hl_ptrset__add(&s, a), 1);
    ck_assert_int_eq(hl_ptrset__add(&s, a), 0);
    ck_assert_int_eq(hl_ptrset__contains(&s, a), 1);
    ck_assert_int_eq(hl_ptrset__contains(&s, b), 0);
    ck_assert_int_eq(hl_ptrset__add(&s, b), 1);
    ck_assert_uint_eq(s.count, 2);
    ck_assert_uint_eq(s.regions, 1);
    hl_ptrset__free(&s);
}
END_TEST

/* Two million addresses, dense (every 32 bytes) and sparse (one per 64 KiB):
 * every one is found, none is added twice, and dense ones cost ~1 byte. */
START_TEST(many_addresses)
{
    hl_ptrset s;
    ck_assert_int_eq(hl_ptrset__init(&s, 0), 0);
    const size_t n = 1000000;
    uintptr_t dense = 0x7f1000000000, sparse = 0x550000000000;
    /* Check records every assertion: count mismatches, assert once. */
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += hl_ptrset__add(&s, (void *)(dense + 32 * i)) != 1;
        bad += hl_ptrset__add(&s, (void *)(sparse + 65536 * i)) != 1;
    }
    for (size_t i = 0; i < n; i++) {
        bad += hl_ptrset__add(&s, (void *)(dense + 32 * i)) != 0;
        bad += !hl_ptrset__contains(&s, (void *)(sparse + 65536 * i));
        bad += hl_ptrset__contains(&s, (void *)(dense + 32 * i + 16));
    }
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_eq(s.count, 2 * n);
    /* 31,250 dense regions + 1M sparse ones, at <= 1/2 load, 16 B a slot. */
    ck_assert_uint_le(hl_ptrset__bytes(&s), 4 * 16 * (n + n / 32));
    hl_ptrset__free(&s);
}
END_TEST

START_TEST(allocation_failure)
{
    hl_ptrset s;
    hl_mem__fail_every(1);
    ck_assert_int_eq(hl_ptrset__init(&s, 0), HL_ENOMEM);
    hl_mem__fail_every(0);
    ck_assert_ptr_nonnull(hl_error_last());
    /* Growth failing leaves the set usable. */
    ck_assert_int_eq(hl_ptrset__init(&s, 0), 0);
    hl_mem__fail_every(1);
    int rc = 0;
    size_t i;
    for (i = 0; i < 100000 && rc >= 0; i++)
        rc = hl_ptrset__add(&s, (void *)(uintptr_t)(0x10000 + 1024 * i));
    hl_mem__fail_every(0);
    ck_assert_int_eq(rc, HL_ENOMEM);
    ck_assert(hl_ptrset__contains(&s, (void *)(uintptr_t)0x10000));
    hl_ptrset__free(&s);
}
END_TEST

Suite *
ptrset_suite(void)
{
    Suite *s = suite_create("ptrset");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, add_and_contains);
    tcase_add_test(tc, many_addresses);
    tcase_add_test(tc, allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}
