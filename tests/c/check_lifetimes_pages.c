/* check_lifetimes_pages.c - the page store of the tracker
 * (lib/lifetimes_pages.h) and the functions that keep one record per key
 * across it and the fallback (lib/lifetimes_records.h), driven directly on
 * the tracker's state with made-up addresses (no hook is installed; nothing
 * is read at those addresses). Records are born in the nursery and moved
 * out at once (birth), as those of a structure being built are. */
#include "heaplens/heaplens.h"
#include "lifetimes_records.h"
#include "mem.h"
#include "suites.h"

#define BASE ((uintptr_t)0x7f1234560000u) /* 4 KiB-aligned, never dereferenced */

static tstats *fake; /* the figures of type index 1 */

static void
setup(void)
{
    ck_assert_int_eq(hl_track_active(), 0);
    T.backend = HL_BACKEND_ALLOCATOR;
    T.nursery = hl_mem__sys_calloc(NURSERY_N, sizeof(record));
    ck_assert_ptr_nonnull(T.nursery);
    memset(&T.rt, 0, sizeof(T.rt));
    ck_assert_int_eq(rt_rehash(&T.rt, 1024), 0);
    T.nn = 0;
    T.mv_head = T.nmoving = 0;
    fake = hl_mem__sys_calloc(1, sizeof(tstats));
    T.stats = hl_mem__sys_calloc(2, sizeof(tstats *));
    ck_assert_ptr_nonnull(fake);
    ck_assert_ptr_nonnull(T.stats);
    T.stats[1] = fake;
    T.nstats = 1;
}

static void
teardown(void)
{
    hl_mem__fail_every(0);
    pg_release_all();
    hl_mem__sys_free(T.rt.slots);
    hl_mem__sys_free(T.rt.bk);
    memset(&T.rt, 0, sizeof(T.rt));
    hl_mem__sys_free(T.nursery);
    T.nursery = NULL;
    T.nn = 0;
    T.mv_head = T.nmoving = 0;
    hl_mem__sys_free(T.stats);
    hl_mem__sys_free(fake);
    T.stats = NULL;
    T.nstats = 0;
    T.dropped = 0;
}

/* A birth of a block of type 1, as on_alloc makes it, that outlives its
 * nursery slot: moved to its page record or, through the ring, to the big
 * table. */
static record *
birth(uintptr_t key, size_t size)
{
    record *r = rec_birth(key);
    ck_assert_ptr_nonnull(r);
    ck_assert(r->key == key);
    r->bt = (uint64_t)1 << 48;
    r->size = (uint32_t)size;
    fake->born++;
    evict(r);
    move_in_all();
    ck_assert_uint_eq(T.nn, 0);
    r = rec_find(key);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* A free seen by the hooks: its record found and dropped. */
static void
death(uintptr_t key)
{
    record *r = rec_find(key);
    ck_assert_ptr_nonnull(r);
    ck_assert(r->key == key);
    rec_drop(r);
    fake->died++;
}

static size_t
records(void)
{
    return pg_count() + T.nn + T.nmoving + T.rt.count;
}

/* After a flush: the empty page records kept are within the budget, and
 * `fb` is exact (no fallback record is left, so none says there is). */
static void
check_reclaimed(void)
{
    size_t empty = 0;
    for (size_t i = 0; i < T.pm_cap; i++) {
        pagerec *g = T.pm[i];
        if (g == NULL)
            continue;
        if (T.rt.count == 0)
            ck_assert_int_eq(g->fb, 0);
        if (pg_empty(g))
            empty += pg_bytes(g);
    }
    ck_assert_uint_le(empty, PG_KEEP_EMPTY);
    ck_assert_int_eq(T.pg_fb_all, 0);
}

static int
in_pages(uintptr_t key)
{
    record *r = rec_find(key);
    return r != NULL && !in_fallback(r);
}

START_TEST(test_reciprocal_exact)
{
    for (unsigned cls = 16; cls <= PG_MAX; cls += 16) {
        pagerec g = {0};
        g.cls = (uint16_t)cls;
        g.recip = pg_recip(cls);
        for (unsigned off = 0; off < 4096; off++) {
            unsigned got = pg_slot(&g, BASE + off);
            ck_assert_uint_eq(got, off / cls);
            ck_assert_uint_lt(got, pg_nslots(cls));
        }
        ck_assert_uint_eq(pg_slot(&g, BASE + 4096), 0); /* the next page */
    }
    ck_assert_uint_eq(pg_class(0), 16);
    ck_assert_uint_eq(pg_class(1), 16);
    ck_assert_uint_eq(pg_class(28), 32);
    ck_assert_uint_eq(pg_class(512), 512);
}
END_TEST

START_TEST(test_dense_page_and_collision)
{
    for (uintptr_t off = 0; off < 4096; off += 32)
        birth(BASE + off, 28);
    ck_assert_uint_eq(pg_count(), 128);
    ck_assert_uint_eq(T.nn, 0);
    for (uintptr_t off = 0; off < 4096; off += 32)
        ck_assert(in_pages(BASE + off));
    /* A live block 16 bytes past another of its class: same slot, so it
     * goes to the fallback, and both are found. */
    birth(BASE + 16, 28);
    ck_assert(!in_pages(BASE + 16));
    ck_assert_ptr_nonnull(rec_find(BASE + 16));
    ck_assert(in_pages(BASE));
    ck_assert_uint_eq(records(), 129);
    /* The records are packed: a removal moves the last one into the hole,
     * and the pending record (a pointer) moves with it. */
    T.pending = rec_find(BASE + 4096 - 32);
    T.has_pending = 1;
    record *first = rec_find(BASE + 32);
    death(BASE + 32);
    ck_assert_ptr_eq(T.pending, first);
    ck_assert(T.pending->key == BASE + 4096 - 32);
    ck_assert_ptr_eq(rec_find(BASE + 4096 - 32), T.pending);
    ck_assert_ptr_null(rec_find(BASE + 32));
    birth(BASE + 32, 28);
    T.has_pending = 0;
    T.pending = NULL;
    death(BASE + 16);
    ck_assert_ptr_null(rec_find(BASE + 16));
    ck_assert_ptr_nonnull(rec_find(BASE));
    for (uintptr_t off = 0; off < 4096; off += 32)
        death(BASE + off);
    ck_assert_uint_eq(records(), 0);
    ck_assert_uint_eq(fake->born, fake->died);
}
END_TEST

START_TEST(test_emptied_page_changes_class)
{
    for (uintptr_t off = 0; off < 4096; off += 64)
        birth(BASE + off, 64);
    /* Another class while the page has records: the fallback. */
    birth(BASE + 4000, 100);
    ck_assert(!in_pages(BASE + 4000));
    death(BASE + 4000);
    for (uintptr_t off = 0; off < 4096; off += 64)
        death(BASE + off);
    ck_assert_uint_eq(records(), 0);
    /* Empty: the next block gives it its class, a bigger one... */
    birth(BASE + 256, 256);
    ck_assert(in_pages(BASE + 256));
    ck_assert_uint_eq(pg_lookup(BASE >> PG_BITS)->cls, 256);
    death(BASE + 256);
    /* ...and a smaller one (more slots: the record is replaced). */
    for (uintptr_t off = 0; off < 4096; off += 16)
        birth(BASE + off, 16);
    pagerec *g = pg_lookup(BASE >> PG_BITS);
    ck_assert_uint_eq(g->cls, 16);
    ck_assert_uint_eq(g->live, PG_LIVE_MAX); /* the 256th went to the fallback */
    for (uintptr_t off = 0; off < 4096 - 16; off += 16)
        ck_assert(in_pages(BASE + off));
    ck_assert(!in_pages(BASE + 4096 - 16));
    ck_assert_ptr_nonnull(rec_find(BASE + 4096 - 16));
    for (uintptr_t off = 0; off < 4096; off += 16)
        death(BASE + off);
    ck_assert_uint_eq(records(), 0);
    ck_assert_uint_eq(T.pm_count, 1);
    nursery_flush();
    check_reclaimed();
    ck_assert_ptr_null(rec_find(BASE));
}
END_TEST

START_TEST(test_libc_spacing)
{
    /* Blocks 32 apart with class 48 (malloc's spacing under
     * PYTHONMALLOC=malloc): every third one collides; all are found. */
    enum { N = 4 * 4096 / 32 };
    for (size_t i = 0; i < N; i++)
        birth(BASE + 32 * i, 40);
    size_t paged = 0;
    for (size_t i = 0; i < N; i++) {
        record *r = rec_find(BASE + 32 * i);
        ck_assert_ptr_nonnull(r);
        ck_assert(r->key == BASE + 32 * i);
        paged += !in_fallback(r);
    }
    ck_assert_uint_eq(records(), N);
    ck_assert_uint_gt(paged, N / 2);
    ck_assert_uint_lt(paged, N);
    nursery_flush(); /* (the fallback's records to the big table, fb recomputed) */
    ck_assert_uint_eq(records(), N);
    for (size_t i = 0; i < N; i += 2)
        death(BASE + 32 * i);
    for (size_t i = 1; i < N; i += 2)
        death(BASE + 32 * i);
    ck_assert_uint_eq(records(), 0);
    ck_assert_uint_eq(fake->died, N);
    nursery_flush();
    check_reclaimed();
}
END_TEST

START_TEST(test_missed_frees)
{
    /* In the page store: born again in place, the old record died. */
    birth(BASE + 64, 32);
    birth(BASE + 64, 32);
    ck_assert_uint_eq(fake->died, 1);
    ck_assert_uint_eq(records(), 1);
    /* Born again with another class while the page has records: to the
     * fallback, and the page's stale record died. */
    birth(BASE + 0, 32);
    birth(BASE + 64, 200);
    ck_assert_uint_eq(fake->died, 2);
    ck_assert_uint_eq(records(), 2);
    ck_assert(!in_pages(BASE + 64));
    /* In the fallback (a collision), freed unseen, then born where its
     * slot is free: the fallback's record died. */
    birth(BASE + 16, 32); /* slot 0, BASE's: fallback */
    ck_assert(!in_pages(BASE + 16));
    nursery_flush();      /* (into the big table as well) */
    death(BASE + 0);
    birth(BASE + 16, 32); /* now slot 0 is free */
    ck_assert(in_pages(BASE + 16));
    ck_assert_uint_eq(fake->died, 4);
    ck_assert_uint_eq(records(), 2);
    /* A big block where a page record sat, freed unseen, then a small one. */
    birth(BASE + 8192, 4000);
    ck_assert(!in_pages(BASE + 8192));
    birth(BASE + 8192, 48);
    ck_assert(in_pages(BASE + 8192));
    ck_assert_uint_eq(fake->died, 5);
    ck_assert_uint_eq(records(), 3);
    death(BASE + 16);
    death(BASE + 64);
    death(BASE + 8192);
    ck_assert_uint_eq(records(), 0);
    ck_assert_uint_eq(fake->born, fake->died);
}
END_TEST

START_TEST(test_young_record_over_a_stale_one)
{
    birth(BASE + 96, 32);
    /* Freed unseen, born again: the young record is the one found... */
    record *young = rec_birth(BASE + 96);
    young->bt = (uint64_t)1 << 48;
    young->size = 32;
    fake->born++;
    ck_assert(in_nursery(rec_find(BASE + 96)));
    ck_assert_uint_eq(records(), 2);
    /* ...and when it moves out, the stale one in the page died. */
    nursery_flush();
    ck_assert_uint_eq(fake->died, 1);
    ck_assert_uint_eq(records(), 1);
    ck_assert(in_pages(BASE + 96));
    death(BASE + 96);
    ck_assert_uint_eq(records(), 0);
    ck_assert_uint_eq(fake->born, fake->died);
}
END_TEST

START_TEST(test_out_of_memory)
{
    /* No page record can be made: the fallback keeps the record. */
    hl_mem__fail_every(1);
    birth(BASE + 32, 32);
    hl_mem__fail_every(0);
    ck_assert(!in_pages(BASE + 32));
    ck_assert_int_eq(T.pg_fb_all, 1);
    /* Freed unseen and born again in a page: still one record. */
    birth(BASE + 32, 32);
    ck_assert(in_pages(BASE + 32));
    ck_assert_uint_eq(fake->died, 1);
    ck_assert_uint_eq(records(), 1);
    death(BASE + 32);
    /* An empty page record that cannot get the slots of a smaller class. */
    hl_mem__fail_every(1);
    birth(BASE + 48, 16);
    hl_mem__fail_every(0);
    ck_assert(!in_pages(BASE + 48));
    ck_assert_uint_eq(pg_lookup(BASE >> PG_BITS)->cls, 32);
    birth(BASE + 4096 + 48, 16);
    death(BASE + 48);
    death(BASE + 4096 + 48);
    ck_assert_uint_eq(records(), 0);
    ck_assert_uint_eq(T.dropped, 0);
    ck_assert_uint_eq(fake->born, fake->died);
    nursery_flush();
    check_reclaimed();
}
END_TEST

START_TEST(test_pending_follows_growth)
{
    /* Records grow by reallocation: a pending record in the page follows. */
    birth(BASE, 28);
    T.pending = rec_find(BASE);
    T.has_pending = 1;
    for (uintptr_t off = 32; off < 4096; off += 32)
        birth(BASE + off, 28);
    ck_assert_ptr_eq(T.pending, rec_find(BASE));
    ck_assert(T.pending->key == BASE);
    /* Trimmed at a flush (records grown by a quarter, then half freed). */
    for (uintptr_t off = 2048; off < 4096; off += 32)
        death(BASE + off);
    pagerec *g = pg_lookup(BASE >> PG_BITS);
    size_t before = g->cap;
    nursery_flush();
    g = pg_lookup(BASE >> PG_BITS);
    ck_assert_uint_lt(g->cap, before);
    ck_assert_uint_eq(g->cap, g->live);
    ck_assert_ptr_eq(T.pending, rec_find(BASE));
    T.has_pending = 0;
    T.pending = NULL;
    for (uintptr_t off = 0; off < 2048; off += 32)
        death(BASE + off);
    ck_assert_uint_eq(records(), 0);
}
END_TEST

START_TEST(test_many_pages)
{
    /* Thousands of pages in and out of the map, every other one kept. */
    enum { PAGES = 5000 };
    for (uintptr_t p = 0; p < PAGES; p++)
        for (uintptr_t off = 0; off < 4096; off += 1024)
            birth(BASE + p * 4096 + off, 500);
    ck_assert_uint_eq(pg_count(), PAGES * 4);
    for (uintptr_t p = 0; p < PAGES; p += 2)
        for (uintptr_t off = 0; off < 4096; off += 1024)
            death(BASE + p * 4096 + off);
    nursery_flush();
    check_reclaimed();
    /* The live half stays; of the empty half, only what fits in the budget. */
    size_t per = sizeof(pagerec) + pg_nslots(512) + 4 * sizeof(record);
    ck_assert_uint_ge(T.pm_count, PAGES / 2);
    ck_assert_uint_le(T.pm_count, PAGES / 2 + PG_KEEP_EMPTY / per);
    ck_assert_uint_ge(T.pm_count, PAGES / 2 + PG_KEEP_EMPTY / per - 1);
    for (uintptr_t p = 1; p < PAGES; p += 2)
        ck_assert(in_pages(BASE + p * 4096 + 3072));
    ck_assert_ptr_null(rec_find(BASE + 2 * 4096));
    for (uintptr_t p = 1; p < PAGES; p += 2)
        for (uintptr_t off = 0; off < 4096; off += 1024)
            death(BASE + p * 4096 + off);
    ck_assert_uint_eq(records(), 0);
}
END_TEST

Suite *
lifetimes_pages_suite(void)
{
    Suite *s = suite_create("lifetimes_pages");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reciprocal_exact);
    tcase_add_test(tc, test_dense_page_and_collision);
    tcase_add_test(tc, test_emptied_page_changes_class);
    tcase_add_test(tc, test_libc_spacing);
    tcase_add_test(tc, test_missed_frees);
    tcase_add_test(tc, test_young_record_over_a_stale_one);
    tcase_add_test(tc, test_out_of_memory);
    tcase_add_test(tc, test_pending_follows_growth);
    tcase_add_test(tc, test_many_pages);
    suite_add_tcase(s, tc);
    return s;
}
