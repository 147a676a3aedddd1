/* check_dump.c - heap dumps: what the writer records, what the loader
 * accepts, and that a damaged file is HL_EFORMAT (never a crash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaplens/heaplens.h"
#include "suites.h"

/* A temporary path of this process; the caller unlinks it. */
static void
temp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/heaplens-check-dump-%ld-%s.hld", (long)getpid(), tag);
}

static unsigned char *
read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_gt(len, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void
write_all(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* Write a dump of this interpreter, which holds a list of 3,000 distinct
 * strs kept alive by a tuple the test owns. */
static PyObject *
dump_with_probe(const char *path, hl_dump_stats *st)
{
    PyObject *probe = hl_test_eval(NULL, "[('dump-probe-%05d' % i) for i in range(3000)]");
    ck_assert_int_eq(hl_dump_write(st, path, NULL, 0), 0);
    return probe;
}

START_TEST(write_then_read)
{
    char path[256];
    temp_path(path, sizeof path, "rw");
    hl_dump_stats st;
    PyObject *probe = dump_with_probe(path, &st);
    ck_assert_uint_gt(st.objects, 3000);
    ck_assert_uint_ge(st.references, st.objects / 2);

    hl_dump *d = NULL;
    ck_assert_int_eq(hl_dump_open(&d, path), 0);
    ck_assert_uint_eq(hl_dump_count(d), st.objects);
    ck_assert_uint_eq(hl_dump_nreferences(d), st.references);
    ck_assert_uint_eq(hl_dump_ntypes(d), st.types);

    /* The probe list is in the dump, with its 3,000 items as its
     * references, labelled by index, and each item is a str record whose
     * text is the str. */
    int64_t li = hl_dump_find(d, (uint64_t)(uintptr_t)probe);
    ck_assert_int_ge(li, 0);
    hl_dump_object o;
    ck_assert_int_eq(hl_dump_get(&o, d, (uint32_t)li), 0);
    ck_assert_uint_eq(o.labels, HL_LABEL_INDEX);
    size_t len = 0;
    const char *tname = hl_dump_type_name(d, o.type, &len, NULL);
    ck_assert_uint_eq(len, 4); /* not NUL-terminated */
    ck_assert_int_eq(memcmp(tname, "list", 4), 0);
    const uint32_t *refs = NULL;
    size_t nrefs = 0;
    ck_assert_int_eq(hl_dump_referents(&refs, &nrefs, d, (uint32_t)li), 0);
    ck_assert_uint_eq(nrefs, 3000);
    hl_dump_object s;
    ck_assert_int_eq(hl_dump_get(&s, d, refs[7]), 0);
    ck_assert_int_eq(s.text_kind, HL_TEXT_UTF8);
    ck_assert_uint_eq(s.text_len, 16);
    ck_assert_int_eq(memcmp(s.text, "dump-probe-00007", 16), 0);
    ck_assert_uint_eq(s.addr, (uint64_t)(uintptr_t)PyList_GET_ITEM(probe, 7));

    /* The test holds the list from C: it is a root, and it alone keeps its
     * strs, so it retains at least its own size and theirs. */
    size_t nroots = 0;
    const uint32_t *roots = hl_dump_roots(d, &nroots);
    int is_root = 0;
    for (size_t i = 0; i < nroots; i++)
        is_root |= roots[i] == (uint32_t)li;
    ck_assert(is_root);
    const uint32_t *idom = NULL;
    const uint64_t *retained = NULL;
    ck_assert_int_eq(hl_dump_dominators(&idom, &retained, d), 0);
    uint64_t strs = 0;
    for (Py_ssize_t i = 0; i < 3000; i++) {
        Py_ssize_t flat = 0;
        ck_assert_int_eq(hl_size_flat(&flat, PyList_GET_ITEM(probe, i), HL_MODEL_GETSIZEOF, 8), 0);
        strs += (uint64_t)flat;
    }
    ck_assert_uint_ge(retained[li], o.size + strs);
    int64_t si = hl_dump_find(d, s.addr);
    ck_assert_int_ge(si, 0);
    ck_assert_uint_eq(idom[si], (uint32_t)li);

    hl_dump_close(d);
    Py_DECREF(probe);
    unlink(path);
}
END_TEST

START_TEST(damaged_files_are_format_errors)
{
    char path[256], bad[256];
    temp_path(path, sizeof path, "good");
    temp_path(bad, sizeof bad, "bad");
    hl_dump_stats st;
    PyObject *probe = dump_with_probe(path, &st);
    size_t n = 0;
    unsigned char *buf = read_all(path, &n);

    /* Truncated anywhere: 0 bytes, inside the header, and at 64 places
     * spread over the file. */
    for (int k = 0; k <= 65; k++) {
        size_t cut = k == 0 ? 0 : k == 1 ? 7 : (size_t)((double)n * (k - 1) / 65.0);
        if (cut >= n)
            cut = n - 1;
        write_all(bad, buf, cut);
        hl_dump *d = NULL;
        int rc = hl_dump_open(&d, bad);
        ck_assert_msg(rc == HL_EFORMAT, "truncated at %zu of %zu: rc %d", cut, n, rc);
        ck_assert_ptr_null(d);
        ck_assert_ptr_nonnull(hl_error_last());
    }
    /* One flipped byte anywhere: the checksum (or the header check) says
     * so. */
    srand(12345);
    for (int k = 0; k < 64; k++) {
        size_t at = (size_t)rand() % n;
        buf[at] ^= (unsigned char)(1 + rand() % 255);
        write_all(bad, buf, n);
        hl_dump *d = NULL;
        int rc = hl_dump_open(&d, bad);
        ck_assert_msg(rc == HL_EFORMAT, "byte %zu flipped: rc %d", at, rc);
        ck_assert_ptr_null(d);
        buf[at] = 0; /* put back below */
        free(buf);
        buf = read_all(path, &n);
    }
    /* Not a dump at all, and no file. */
    write_all(bad, (const unsigned char *)"HLSNAPSHOT, not a dump", 22);
    hl_dump *d = NULL;
    ck_assert_int_eq(hl_dump_open(&d, bad), HL_EFORMAT);
    ck_assert_int_eq(hl_dump_open(&d, "/nonexistent/heaplens.hld"), HL_EINVAL);
    ck_assert_ptr_null(d);
    hl_dump_close(NULL);

    free(buf);
    Py_DECREF(probe);
    unlink(path);
    unlink(bad);
}
END_TEST

Suite *
dump_suite(void)
{
    Suite *s = suite_create("dump");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, write_then_read);
    tcase_add_test(tc, damaged_files_are_format_errors);
    suite_add_tcase(s, tc);
    return s;
}
