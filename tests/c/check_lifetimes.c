/* check_lifetimes.c - the tracker's tables and hooks (lib/lifetimes.c),
 * driven through the public C API, with allocation failures injected. */
#include "heaplens/heaplens.h"
#include "lifetimes_records.h" /* the big record table, tested alone below */
#include "mem.h"
#include "suites.h"

static const char *SETUP =
    "class Foo:\n"
    "    def __init__(self, i):\n"
    "        self.i = i\n"
    "def all_types():\n"
    "    seen, todo = {id(object): object}, [object]\n"
    "    while todo:\n"
    "        for s in type.__subclasses__(todo.pop()):\n"
    "            if id(s) not in seen:\n"
    "                seen[id(s)] = s\n"
    "                todo.append(s)\n"
    "    return list(seen.values())\n";

static PyObject *ns;

static void
setup(void)
{
    ns = PyDict_New();
    ck_assert_int_eq(PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()), 0);
    PyObject *r = PyRun_String(SETUP, Py_file_input, ns, ns);
    ck_assert_ptr_nonnull(r);
    Py_DECREF(r);
}

static void
teardown(void)
{
    if (hl_track_active())
        hl_track_stop(NULL);
    hl_track_clear();
    hl_mem__fail_every(0);
    Py_CLEAR(ns);
}

static void
run(const char *code)
{
    PyObject *r = PyRun_String(code, Py_file_input, ns, ns);
    if (r == NULL)
        PyErr_Print();
    ck_assert_ptr_nonnull(r);
    Py_DECREF(r);
}

static int
start(int frames)
{
    PyObject *known = PyRun_String("all_types()", Py_eval_input, ns, ns);
    ck_assert_ptr_nonnull(known);
    hl_track_options opts = HL_TRACK_OPTIONS_INIT;
    opts.frames = frames;
    opts.known_types = known;
    int rc = hl_track_start(&opts);
    Py_DECREF(known);
    return rc;
}

static const hl_track_type_stats *
row_of(const hl_track_type_stats *rows, size_t n, PyObject *tp)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].type == tp)
            return &rows[i];
    return NULL;
}

START_TEST(test_counts_and_sites)
{
    ck_assert_int_eq(start(2), 0);
    run("objs = [Foo(i) for i in range(1000)]\n"
        "del objs[:400]\n");
    int lost = -1;
    ck_assert_int_eq(hl_track_stop(&lost), 0);
    ck_assert_int_eq(lost, 0);
    PyObject *foo = PyDict_GetItemString(ns, "Foo"); /* borrowed */
    hl_track_type_stats *rows;
    size_t n;
    ck_assert_int_eq(hl_track_stats(&rows, &n), 0);
    const hl_track_type_stats *r = row_of(rows, n, foo);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->born, 1000);
    ck_assert_uint_eq(r->died, 400);
    ck_assert_uint_le(r->life_p50, r->life_p90);
    ck_assert_uint_le(r->life_p90, r->life_max);
    hl_track_free(rows);

    hl_track_record *recs;
    ck_assert_int_eq(hl_track_survivors(&recs, &n, (PyTypeObject *)foo), 0);
    ck_assert_uint_eq(n, 600);
    PyCodeObject **codes;
    int *lastis;
    size_t depth;
    ck_assert_int_eq(hl_track_site(&codes, &lastis, &depth, recs[0].site), 0);
    ck_assert_uint_ge(depth, 1);
    ck_assert_int_eq(PyCode_Addr2Line(codes[0], lastis[0]), 1);
    hl_track_free(codes);
    hl_track_free(lastis);
    /* Oldest first. */
    for (size_t i = 1; i < n; i++)
        ck_assert_uint_le(recs[i - 1].birth, recs[i].birth);
    hl_track_free(recs);
    ck_assert_int_eq(hl_track_site(&codes, &lastis, &depth, 0xFFFFFFF), HL_EINVAL);
}
END_TEST

START_TEST(test_states)
{
    hl_track_options opts = HL_TRACK_OPTIONS_INIT;
    opts.version = 99;
    ck_assert_int_eq(hl_track_start(&opts), HL_EINVAL);
    opts.version = HL_TRACK_OPTIONS_VERSION;
    opts.frames = HL_TRACK_MAX_FRAMES + 1;
    ck_assert_int_eq(hl_track_start(&opts), HL_EINVAL);
    opts.frames = 1;
    ck_assert_int_eq(hl_track_stop(NULL), HL_ESTATE);
    ck_assert_int_eq(hl_track_start(&opts), 0);
    ck_assert_int_eq(hl_track_start(&opts), HL_ESTATE);
    ck_assert_int_eq(hl_track_clear(), HL_ESTATE);
    ck_assert_int_eq(hl_track_stop(NULL), 0);
    ck_assert_int_eq(hl_track_active(), 0);
    ck_assert_int_eq(hl_track_clear(), 0);
#if PY_VERSION_HEX < 0x030D0000
    opts.backend = HL_BACKEND_REFTRACER;
    ck_assert_int_eq(hl_track_start(&opts), HL_EINVAL);
#endif
}
END_TEST

void hl_track__allow_early_tracer(int allow);

/* The reftracer backend's mechanics. Python code cannot select it before
 * 3.13.3 (its PyRefTracer misses the eval loop's deaths); deaths from C
 * code, as a list dropping items, are reported there, so the core is
 * tested here with the internal switch. */
START_TEST(test_tracer_backend)
{
#if PY_VERSION_HEX >= 0x030D0000
    hl_track_options opts = HL_TRACK_OPTIONS_INIT;
    opts.backend = HL_BACKEND_REFTRACER;
    opts.frames = 1;
    if (Py_Version < 0x030D0300)
        ck_assert_int_eq(hl_track_start(&opts), HL_EINVAL);
    hl_track__allow_early_tracer(1);
    int rc = hl_track_start(&opts);
    hl_track__allow_early_tracer(0);
    if (rc == HL_ESTATE)
        return; /* the slot is taken (a PYTHONTRACEMALLOC run) */
    ck_assert_int_eq(rc, 0);
    run("objs = [Foo(i) for i in range(1000)]\n"
        "del objs[:400]\n");
    ck_assert_int_eq(hl_track_stop(NULL), 0);
    PyObject *foo = PyDict_GetItemString(ns, "Foo"); /* borrowed */
    hl_track_type_stats *rows;
    size_t n;
    ck_assert_int_eq(hl_track_stats(&rows, &n), 0);
    const hl_track_type_stats *r = row_of(rows, n, foo);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->born, 1000);
    ck_assert_uint_eq(r->died, 400);
    ck_assert_uint_eq(r->alive, 600);
    ck_assert_uint_gt(r->alive_bytes, 600 * 16);
    hl_track_free(rows);
    hl_track_record *recs;
    ck_assert_int_eq(hl_track_survivors(&recs, &n, (PyTypeObject *)foo), 0);
    ck_assert_uint_eq(n, 600);
    hl_track_free(recs);
#endif
}
END_TEST

START_TEST(test_table_grows_and_shrinks)
{
    ck_assert_int_eq(start(1), 0);
    run("big = [Foo(i) for i in range(200000)]\n");
    hl_track_status st;
    ck_assert_int_eq(hl_track_get_status(&st), 0);
    ck_assert_uint_ge(st.records, 200000);
    size_t peak = st.memory;
    run("del big\n");
    ck_assert_int_eq(hl_track_get_status(&st), 0);
    ck_assert_uint_lt(st.records, 1000);
    ck_assert_uint_lt(st.memory, peak / 4);
    ck_assert_int_eq(hl_track_stop(NULL), 0);
}
END_TEST

/* Every Nth bookkeeping allocation fails: the tracker drops records and
 * counts them, never fails the program's allocations, and what it kept
 * stays consistent: per type, born - died == survivors. */
START_TEST(test_allocation_failures)
{
    static const unsigned long every[] = {1, 2, 3, 5, 17, 101};
    for (size_t k = 0; k < sizeof(every) / sizeof(every[0]); k++) {
        hl_mem__fail_every(every[k]);
        int rc = start(3);
        if (rc != 0) {
            ck_assert_int_eq(rc, HL_ENOMEM);
            ck_assert_int_eq(hl_track_active(), 0);
            continue;
        }
        run("def churn(n):\n"
            "    keep = []\n"
            "    for i in range(n):\n"
            "        x = Foo(i)\n"
            "        if i % 3 == 0:\n"
            "            keep.append(x)\n"
            "    return keep\n"
            "kept = churn(20000)\n"
            "type('Made', (), {})\n");
        hl_mem__fail_every(0);
        ck_assert_int_eq(hl_track_stop(NULL), 0);
        hl_track_status st;
        ck_assert_int_eq(hl_track_get_status(&st), 0);
        hl_track_type_stats *rows;
        size_t n;
        ck_assert_int_eq(hl_track_stats(&rows, &n), 0);
        for (size_t i = 0; i < n; i++) {
            hl_track_record *recs;
            size_t nrec;
            ck_assert_int_eq(hl_track_survivors(&recs, &nrec, (PyTypeObject *)rows[i].type), 0);
            size_t exact = 0;
            for (size_t j = 0; j < nrec; j++)
                exact += recs[j].type == rows[i].type;
            /* Freelists keep dead objects out of the survivors: <=. */
            ck_assert_uint_le(exact, rows[i].born - rows[i].died);
            hl_track_free(recs);
        }
        hl_track_free(rows);
        run("del kept\n");
        ck_assert_int_eq(hl_track_clear(), 0);
    }
}
END_TEST

/* ---- the big record table alone, against a model --------------------- */

/* Check's ck_assert reports its place on every call (a write): millions of
 * checks below use these, which only report a failure. */
#define REQUIRE(c) do { if (!(c)) ck_abort_msg("failed: %s", #c); } while (0)
#define REQUIRE_EQ(a, b) REQUIRE((a) == (b))
#define REQUIRE_NE(a, b) REQUIRE((a) != (b))
#define REQUIRE_LE(a, b) REQUIRE((a) <= (b))
#define REQUIRE_GT(a, b) REQUIRE((a) > (b))
#define REQUIRE_NONNULL(a) REQUIRE((a) != NULL)

/* Every filled slot is findable, every bucket's records fill its first
 * `fill` slots, and each unsaturated overflow count is the number of
 * records that sit past that bucket from a home at or before it. */
static void
check_table(const rtable *t, size_t expect_count)
{
    size_t nb = t->cap / RT_B, n = 0;
    size_t *over = calloc(nb, sizeof(size_t));
    ck_assert_ptr_nonnull(over);
    for (size_t b = 0; b < nb; b++) {
        REQUIRE_LE(t->bk[b].fill, RT_B);
        for (size_t j = 0; j < RT_B; j++) {
            const record *r = &t->slots[b * RT_B + j];
            if (j >= t->bk[b].fill) {
                REQUIRE_EQ(r->key, 0);
                continue;
            }
            REQUIRE_NE(r->key, 0);
            REQUIRE_EQ(rt_find(t, r->key), b * RT_B + j);
            n++;
            for (size_t h = home_of(r->key, t->cap) / RT_B; h != b; h = (h + 1) % nb)
                over[h]++;
        }
    }
    REQUIRE_EQ(n, expect_count);
    REQUIRE_EQ(t->count, expect_count);
    for (size_t b = 0; b < nb; b++)
        if (t->bk[b].over != UINT8_MAX)
            REQUIRE_EQ(t->bk[b].over, over[b]);
    free(over);
}

static uint64_t
xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random insertions, lookups of present and absent keys and removals, with
 * keys dense in address order (as pymalloc hands blocks out: full buckets,
 * overflow chains), in 64-byte strides and scattered; growth and shrinking
 * happen on the way. The table must agree with the model at every step. */
START_TEST(test_record_table_model)
{
    enum { NKEYS = 60000 };
    uintptr_t *keys = malloc(NKEYS * sizeof(uintptr_t));
    unsigned char *present = calloc(NKEYS, 1);
    ck_assert_ptr_nonnull(keys);
    ck_assert_ptr_nonnull(present);
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < NKEYS; i++) {
        if (i < NKEYS / 2)
            keys[i] = 0x7f0000100000u + 16 * i;                        /* dense */
        else if (i < NKEYS * 3 / 4)
            keys[i] = 0x7f0010000000u + 64 * i;                        /* strided */
        else
            keys[i] = (uintptr_t)((xorshift(&seed) & 0xFFFFFFFFFF0u) | 16); /* scattered */
    }
    for (size_t i = NKEYS * 3 / 4; i < NKEYS; i++) /* no duplicates among the scattered */
        for (size_t j = NKEYS * 3 / 4; j < i; j++)
            if (keys[j] == keys[i]) {
                keys[i] += 16 * (uintptr_t)NKEYS * 64;
                break;
            }
    rtable t = {0};
    REQUIRE_EQ(rt_rehash(&t, 1024), 0);
    size_t count = 0, grew = 0, shrank = 0, cap_before;
    for (int phase = 0; phase < 8; phase++) {
        /* Even phases mostly insert (in address order at times), odd ones
         * mostly remove. */
        int filling = phase % 2 == 0;
        for (size_t op = 0; op < 120000; op++) {
            size_t i = filling && (op & 1) ? (op / 2 + phase * 7919) % NKEYS
                                           : (size_t)(xorshift(&seed) % NKEYS);
            size_t at = rt_find(&t, keys[i]);
            if (present[i]) {
                REQUIRE_NE(at, SIZE_MAX);
                REQUIRE_EQ(t.slots[at].key, keys[i]);
                if (!filling || xorshift(&seed) % 8 == 0) {
                    cap_before = t.cap;
                    rt_remove(&t, at);
                    rt_maybe_shrink(&t);
                    shrank += t.cap < cap_before;
                    present[i] = 0;
                    count--;
                }
            } else {
                REQUIRE_EQ(at, SIZE_MAX);
                if (filling || xorshift(&seed) % 8 == 0) {
                    int existed;
                    cap_before = t.cap;
                    /* With its home computed before (as move_in does): a
                     * growth in rt_insert makes that home stale for the
                     * new capacity, which rt_insert must notice. */
                    size_t hint = t.cap != 0 ? home_of(keys[i], t.cap) : SIZE_MAX;
                    size_t slot = rt_insert(&t, keys[i], hint, t.cap, &existed);
                    REQUIRE_NE(slot, SIZE_MAX);
                    REQUIRE_EQ(existed, 0);
                    REQUIRE_EQ(t.slots[slot].key, keys[i]);
                    grew += t.cap > cap_before;
                    t.slots[slot].size = (uint32_t)i;
                    present[i] = 1;
                    count++;
                }
            }
            if (op % 20000 == 0)
                check_table(&t, count);
        }
        check_table(&t, count);
        /* A key inserted again is found where it is, with its contents. */
        for (size_t i = 0; i < NKEYS; i++)
            if (present[i]) {
                int existed;
                size_t slot = rt_insert(&t, keys[i], SIZE_MAX, 0, &existed);
                REQUIRE_EQ(existed, 1);
                REQUIRE_EQ(t.slots[slot].size, (uint32_t)i);
                break;
            }
    }
    REQUIRE_GT(grew, 3);
    REQUIRE_GT(shrank, 0);
    /* The API's shrink: a sparse table is made small at once. */
    for (size_t i = 0; i < NKEYS; i++)
        if (present[i] && count > 100) {
            rt_remove(&t, rt_find(&t, keys[i]));
            present[i] = 0;
            count--;
        }
    rt_shrink_sparse(&t);
    REQUIRE_LE(t.cap, 4096);
    check_table(&t, count);
    hl_mem__sys_free(t.slots);
    hl_mem__sys_free(t.bk);
    free(keys);
    free(present);
}
END_TEST

/* Quiet regions (hl_track_quiet): the calling thread's births are left out
 * while it is quiet, regions nest, and a thread past the 8 slots is
 * recorded as before. */
START_TEST(test_quiet_regions)
{
    ck_assert_int_eq(start(1), 0);
    ck_assert_int_eq(hl_track_quiet(1), 1);
    ck_assert_int_eq(hl_track_quiet(1), 1);
    run("a = [Foo(i) for i in range(10)]\n");
    ck_assert_int_eq(hl_track_quiet(0), 1);
    run("b = [Foo(i) for i in range(5)]\n");
    ck_assert_int_eq(hl_track_quiet(0), 1);
    ck_assert_int_eq(hl_track_quiet(0), 0); /* not quiet: nothing to leave */
    run("c = [Foo(i) for i in range(3)]\n");
    /* The other 8 slots taken (by made-up thread states): this thread is
     * not let in, and is recorded. */
    for (uintptr_t i = 1; i <= HL_QUIET_MAX; i++)
        ck_assert_int_eq(hl_lifetimes__quiet_enter((PyThreadState *)(i * 64)), 1);
    ck_assert_int_eq(hl_track_quiet(1), 0);
    run("d = [Foo(i) for i in range(4)]\n");
    ck_assert_int_eq(hl_track_quiet(0), 0);
    for (uintptr_t i = 1; i <= HL_QUIET_MAX; i++)
        hl_lifetimes__quiet_leave((PyThreadState *)(i * 64));
    /* Frees are recorded inside a region. */
    ck_assert_int_eq(hl_track_quiet(1), 1);
    run("del c[:2]\n");
    ck_assert_int_eq(hl_track_quiet(0), 1);
    ck_assert_int_eq(hl_track_stop(NULL), 0);
    PyObject *foo = PyDict_GetItemString(ns, "Foo"); /* borrowed */
    hl_track_type_stats *rows;
    size_t n;
    ck_assert_int_eq(hl_track_stats(&rows, &n), 0);
    const hl_track_type_stats *r = row_of(rows, n, foo);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->born, 3 + 4);
    ck_assert_uint_eq(r->died, 2);
    hl_track_free(rows);
}
END_TEST

Suite *
lifetimes_suite(void)
{
    Suite *s = suite_create("lifetimes");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_counts_and_sites);
    tcase_add_test(tc, test_states);
    tcase_add_test(tc, test_tracer_backend);
    tcase_add_test(tc, test_table_grows_and_shrinks);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_record_table_model);
    tcase_add_test(tc, test_quiet_regions);
    suite_add_tcase(s, tc);
    return s;
}
