/*
 * dump_read.c - reading a heap dump back: every byte is checked before it
 * is used, so a truncated, corrupt or hostile file is an HL_EFORMAT error
 * with a message, never a crash, an overflow or a loop that does not end.
 *
 * The file is mapped read-only (never copied), its CRC checked over the
 * mapping, then parsed in two passes: the first reads types and objects
 * (and the offsets of every object's references, which the format keeps in
 * parent order), the second, with an address -> index table built from the
 * first, turns the references into object indices (compressed-sparse-row
 * arrays, what hl_dominators takes). Every loop advances a cursor that is
 * bounded by the end of the data, and every pass - the later ones that
 * rebuild dropped arrays and the on-demand decoding of one record too -
 * checks every field again: the mapping shows the file as it is now, so a
 * file rewritten in place after the checksum was verified is an HL_EFORMAT
 * error, not an out-of-bounds read. Pages a pass has read are given back
 * (MADV_DONTNEED) as it goes, so the file costs no resident memory beyond a
 * few MiB. The one thing a mapping cannot guard against is the file being
 * truncated by another process while it is open: reading a page past the
 * new end raises SIGBUS (docs/dumps.md, "Memory").
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1 /* madvise, MADV_DONTNEED under -std=c11 too */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "dump_format.h"
#include "dump_read.h"
#include "error.h"
#include "mem.h"

#define FAIL(...) hl_error__set(HL_EFORMAT, __VA_ARGS__)

typedef struct {
    const unsigned char *p, *end;
} cursor;

/* A LEB128 varint of at most 10 bytes that fits 64 bits. */
static inline int
rd_varint(cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p >= c->end)
            return -1;
        unsigned char b = *c->p++;
        if (shift == 63 && (b & 0x7E))
            return -1; /* past 64 bits */
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static uint64_t
rd_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- the mapping ----------------------------------------------------------- */

#define DROP_CHUNK ((size_t)1 << 20)

/* Give back the pages of the mapping below p (whole pages, in chunks of 1
 * MiB) that a pass has finished reading: they are re-read from the page
 * cache if needed again. */
static void
drop_behind(const hl_dump *d, const unsigned char *p, size_t *done)
{
#ifdef MADV_DONTNEED
    size_t off = (size_t)(p - d->data);
    if (off - *done < DROP_CHUNK)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t upto = off & ~(page - 1);
    if (upto > *done) {
        madvise((void *)(d->data + *done), upto - *done, MADV_DONTNEED);
        *done = upto;
    }
#else
    (void)d, (void)p, (void)done;
#endif
}

static void
drop_all(const hl_dump *d)
{
#ifdef MADV_DONTNEED
    if (d->size)
        madvise((void *)d->data, d->size, MADV_DONTNEED);
#else
    (void)d;
#endif
}

static int
map_file(hl_dump *d, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hl_error__set(HL_EINVAL, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hl_error__set(HL_EINVAL, "cannot open %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hl_error__set(HL_EINVAL, "cannot open %s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2) {
        close(fd);
        return hl_error__set(HL_EINVAL, "cannot open %s: too large", path);
    }
    d->size = (size_t)st.st_size;
    if (d->size == 0) {
        close(fd);
        return 0; /* nothing to map: the magic check refuses it */
    }
    void *m = mmap(NULL, d->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    if (m == MAP_FAILED) {
        close(fd);
        d->size = 0;
        return hl_error__set(e == ENOMEM ? HL_ENOMEM : HL_EINVAL, "cannot map %s: %s", path,
                             strerror(e));
    }
    d->data = m;
    d->fd = fd;
    d->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

int
hl_dump_check(const hl_dump *d)
{
    struct stat st;
    if (d->fd < 0)
        return 0;
    if (fstat(d->fd, &st) != 0)
        return hl_error__set(HL_EFORMAT, "cannot check the file: %s", strerror(errno));
    if ((uint64_t)st.st_size != (uint64_t)d->size ||
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != d->mtime_ns)
        return hl_error__set(HL_EFORMAT, "the file changed while open (written over in "
                                         "place or truncated): open it again");
    return 0;
}

static size_t
rec_of(const hl_dump *d, uint32_t i)
{
    return d->rec32 ? d->rec32[i] : (size_t)d->rec64[i];
}

/* ---- pass 1: types, objects, reference offsets, frames --------------------- */

enum {
    FILL_META = 1,    /* type records, frames (at open) */
    FILL_OBJECTS = 2, /* addr, type, rec */
    FILL_FIRST = 4,   /* first (reference offsets) */
    FILL_SIZES = 8,   /* sizes[] */
    FILL_REFCNT = 16, /* refcnt[] (saturated to 32 bits) */
};

static int
pass_objects(hl_dump *d, int what, uint64_t *sizes, uint32_t *refcnt, uint8_t *is_module)
{
    cursor c = {d->data + d->start, d->data + d->end};
    uint64_t prev = 0, off = 0, nf = 0;
    uint32_t nobj = 0, nt = 0, filled = 0;
    int64_t last_parent = -1;
    size_t done = 0;
    while (c.p < c.end) {
        drop_behind(d, c.p, &done);
        const unsigned char *at = c.p;
        unsigned char tag = *c.p++;
        uint64_t a = 0, b = 0, v = 0;
        switch (tag) {
        case HL_REC_TYPE:
            if (nt >= d->ntypes)
                return FAIL("more type records than the trailer's %u", d->ntypes);
            if (rd_varint(&c, &a) < 0 || rd_varint(&c, &b) < 0)
                return FAIL("a truncated type record");
            if (b > HL_DUMP_NAME_MAX || b > (uint64_t)(c.end - c.p))
                return FAIL("a type name of %llu bytes", (unsigned long long)b);
            if (what & FILL_META) {
                is_module[nt] = b == 6 && memcmp(c.p, "module", 6) == 0;
                d->type_addr[nt] = a;
                d->type_pos[nt] = (uint64_t)(c.p - d->data);
                d->type_len[nt] = (uint32_t)b;
            }
            else if (d->type_pos[nt] != (uint64_t)(c.p - d->data) || d->type_len[nt] != b)
                return FAIL("the file changed while open");
            c.p += b;
            nt++;
            break;
        case HL_REC_OBJECT: {
            uint64_t t, gs, as, rc, tl;
            if (nobj >= d->n)
                return FAIL("more object records than the trailer's %u", d->n);
            if (rd_varint(&c, &a) < 0 || rd_varint(&c, &t) < 0 || rd_varint(&c, &gs) < 0 ||
                rd_varint(&c, &as) < 0 || rd_varint(&c, &rc) < 0 || rd_varint(&c, &tl) < 0)
                return FAIL("a truncated object record");
            prev += (uint64_t)hl_dump__unzigzag(a) << 3;
            if (t >= nt)
                return FAIL("object %u has type %llu, not defined before it", nobj,
                            (unsigned long long)t);
            if (gs > ((uint64_t)1 << 56))
                return FAIL("object %u has an implausible size", nobj);
            int64_t ad = hl_dump__unzigzag(as);
            if ((ad < 0 && (uint64_t)(-(ad + 1)) + 1 > gs) ||
                (ad > 0 && (uint64_t)ad > ((uint64_t)1 << 56)))
                return FAIL("object %u has an implausible allocator size", nobj);
            if (tl == HL_TEXT_INT) {
                if (rd_varint(&c, &v) < 0)
                    return FAIL("object %u has a truncated int value", nobj);
            }
            else if (tl == HL_TEXT_FLOAT) {
                if ((uint64_t)(c.end - c.p) < 8)
                    return FAIL("object %u has a truncated float value", nobj);
                c.p += 8;
            }
            else if (tl > HL_DUMP_NAME_MAX + 1 || (tl > 1 && tl - 1 > (uint64_t)(c.end - c.p)))
                return FAIL("object %u has a text of %llu bytes", nobj, (unsigned long long)tl);
            else if (tl > 1)
                c.p += tl - 1;
            if (what & FILL_OBJECTS) {
                d->addr[nobj] = prev;
                if (d->type != NULL) {
                    d->type[nobj] = (uint32_t)t; /* labels: or-ed in by the REFS record */
                    if (d->rec32)
                        d->rec32[nobj] = (uint32_t)(at - d->data);
                    else
                        d->rec64[nobj] = (uint64_t)(at - d->data);
                }
            }
            if (what & FILL_SIZES)
                sizes[nobj] = gs;
            if (what & FILL_REFCNT)
                refcnt[nobj] = rc >= UINT32_MAX || is_module[t] ? UINT32_MAX : (uint32_t)rc;
            nobj++;
            break;
        }
        case HL_REC_REFS: {
            if (rd_varint(&c, &a) < 0 || rd_varint(&c, &b) < 0 || c.p >= c.end)
                return FAIL("a truncated reference record");
            unsigned char lab = *c.p++;
            if (a >= nobj)
                return FAIL("a reference record for an object not yet defined");
            int64_t parent = (int64_t)nobj - 1 - (int64_t)a;
            if (parent <= last_parent)
                return FAIL("reference records out of order (object %lld after %lld)",
                            (long long)parent, (long long)last_parent);
            if (b > d->nrefs - off)
                return FAIL("more references than the trailer's %llu",
                            (unsigned long long)d->nrefs);
            if (b > (uint64_t)(c.end - c.p))
                return FAIL("a reference record longer than the file");
            if (lab > HL_LABEL_INDEX)
                return FAIL("an unknown label kind %u", lab);
            for (uint64_t i = 0; i < b; i++)
                if (rd_varint(&c, &v) < 0)
                    return FAIL("a truncated reference");
            if (what & FILL_FIRST)
                while (filled <= (uint32_t)parent)
                    d->first[filled++] = off;
            if ((what & FILL_OBJECTS) && d->type != NULL)
                d->type[parent] |= (uint32_t)lab << HL_DUMP_TYPE_BITS;
            off += b;
            last_parent = parent;
            break;
        }
        case HL_REC_FRAME:
            if (nf >= d->nframes)
                return FAIL("more frame records than the trailer's %llu",
                            (unsigned long long)d->nframes);
            if (rd_varint(&c, &a) < 0 || a > (UINT64_MAX >> 3))
                return FAIL("a truncated frame record");
            if (what & FILL_META)
                d->frames[nf] = a << 3;
            nf++;
            break;
        default:
            return FAIL("an unknown record tag %u at offset %zu", tag,
                        (size_t)(c.p - 1 - d->data));
        }
    }
    drop_all(d);
    if (nobj != d->n || nt != d->ntypes || off != d->nrefs || nf != d->nframes)
        return FAIL("the records (%u objects, %u types, %llu references, %llu frames) do not "
                    "match the trailer's counts", nobj, nt, (unsigned long long)off,
                    (unsigned long long)nf);
    if (what & FILL_FIRST)
        while (filled <= d->n)
            d->first[filled++] = off;
    return 0;
}

/* ---- address -> index ---------------------------------------------------- */

/* A table of 1.5 slots per object (4 B each, linear probing), its size not
 * a power of two: the hash is mapped onto it by a multiply-shift. */
static inline size_t
addr_hash(uint64_t a, size_t cap)
{
    uint64_t h = ((a >> 3) * 0x9E3779B97F4A7C15ull) >> 32;
    return (size_t)((h * (uint64_t)cap) >> 32);
}

static int
build_index(hl_dump *d)
{
    size_t cap = (size_t)d->n + d->n / 2 + 16;
    d->slots = hl_mem__calloc(cap, sizeof(uint32_t));
    if (d->slots == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for the address index");
    d->cap = cap;
    for (uint32_t i = 0; i < d->n; i++) {
        size_t h = addr_hash(d->addr[i], cap);
        while (d->slots[h] != 0) {
            if (d->addr[d->slots[h] - 1] == d->addr[i])
                return FAIL("two objects at the same address %#llx",
                            (unsigned long long)d->addr[i]);
            if (++h == cap)
                h = 0;
        }
        d->slots[h] = i + 1;
    }
    return 0;
}

int64_t
hl_dump_find(const hl_dump *d, uint64_t addr)
{
    if (d->slots == NULL)
        return -1;
    size_t h = addr_hash(addr, d->cap);
    while (d->slots[h] != 0) {
        uint32_t i = d->slots[h] - 1;
        if (d->addr[i] == addr)
            return i;
        if (++h == d->cap)
            h = 0;
    }
    return -1;
}

void
hl_dump__free_objects(hl_dump *d)
{
    hl_mem__free(d->addr);
    hl_mem__free(d->type);
    hl_mem__free(d->rec32);
    hl_mem__free(d->rec64);
    hl_mem__free(d->slots);
    d->addr = NULL;
    d->type = NULL;
    d->rec32 = NULL;
    d->rec64 = NULL;
    d->slots = NULL;
}

/* addr, and unless addr_only type and rec. */
static int
alloc_objects(hl_dump *d, int addr_only)
{
    size_t n = d->n ? d->n : 1;
    if (d->addr == NULL)
        d->addr = hl_mem__malloc(n * sizeof(uint64_t));
    if (d->addr != NULL && addr_only)
        return 0;
    d->type = hl_mem__malloc(n * sizeof(uint32_t));
    if (d->size <= UINT32_MAX)
        d->rec32 = hl_mem__malloc(n * sizeof(uint32_t));
    else
        d->rec64 = hl_mem__malloc(n * sizeof(uint64_t));
    if (!d->addr || !d->type || (!d->rec32 && !d->rec64)) {
        hl_dump__free_objects(d);
        return hl_error__set(HL_ENOMEM, "out of memory for a dump of %u objects", d->n);
    }
    return 0;
}

int
hl_dump__load_objects(hl_dump *d)
{
    int rc;
    if (d->slots != NULL)
        return 0;
    hl_dump__free_objects(d);
    if ((rc = alloc_objects(d, 0)) < 0 ||
        (rc = pass_objects(d, FILL_OBJECTS, NULL, NULL, NULL)) < 0 ||
        (rc = build_index(d)) < 0) {
        hl_dump__free_objects(d);
        return rc;
    }
    return 0;
}

int
hl_dump__load_sizes(hl_dump *d, uint64_t *out)
{
    return pass_objects(d, FILL_SIZES, out, NULL, NULL);
}

/* ---- pass 2: references as indices ----------------------------------------- */

static int
pass_refs(hl_dump *d)
{
    cursor c = {d->data + d->start, d->data + d->end};
    uint32_t nobj = 0;
    uint64_t off = 0;
    size_t done = 0;
    while (c.p < c.end) {
        drop_behind(d, c.p, &done);
        unsigned char tag = *c.p++;
        uint64_t a = 0, b = 0, v = 0;
        switch (tag) {
        case HL_REC_TYPE:
            if (rd_varint(&c, &a) < 0 || rd_varint(&c, &b) < 0 ||
                b > (uint64_t)(c.end - c.p))
                return FAIL("the file changed while open");
            c.p += b;
            break;
        case HL_REC_OBJECT:
            for (int k = 0; k < 5; k++)
                if (rd_varint(&c, &a) < 0)
                    return FAIL("the file changed while open");
            if (rd_varint(&c, &b) < 0)
                return FAIL("the file changed while open");
            if (b == HL_TEXT_INT) {
                if (rd_varint(&c, &v) < 0)
                    return FAIL("the file changed while open");
            }
            else {
                uint64_t skip = b == HL_TEXT_FLOAT ? 8 : b > 1 ? b - 1 : 0;
                if (skip > (uint64_t)(c.end - c.p))
                    return FAIL("the file changed while open");
                c.p += skip;
            }
            nobj++;
            break;
        case HL_REC_REFS: {
            if (rd_varint(&c, &a) < 0 || rd_varint(&c, &b) < 0 || c.p >= c.end || a >= nobj ||
                nobj > d->n || b > d->nrefs - off)
                return FAIL("the file changed while open");
            c.p++;
            uint32_t parent = nobj - 1 - (uint32_t)a;
            uint64_t prev = d->addr[parent];
            for (uint64_t i = 0; i < b; i++) {
                if (rd_varint(&c, &v) < 0)
                    return FAIL("the file changed while open");
                prev += (uint64_t)hl_dump__unzigzag(v) << 3;
                int64_t j = hl_dump_find(d, prev);
                if (j < 0)
                    return FAIL("object %u refers to %#llx, which is not in the dump", parent,
                                (unsigned long long)prev);
                d->to[off++] = (uint32_t)j;
            }
            if (d->first[parent] + b != off)
                return FAIL("the file changed while open");
            break;
        }
        case HL_REC_FRAME:
            if (rd_varint(&c, &a) < 0)
                return FAIL("the file changed while open");
            break;
        default:
            return FAIL("an unknown record tag %u", tag);
        }
    }
    drop_all(d);
    if (off != d->nrefs)
        return FAIL("the file changed while open");
    return 0;
}

void
hl_dump__free_graph(hl_dump *d)
{
    hl_mem__free(d->first);
    hl_mem__free(d->to);
    d->first = NULL;
    d->to = NULL;
}

static int
alloc_graph(hl_dump *d)
{
    d->first = hl_mem__malloc(((size_t)d->n + 1) * sizeof(uint64_t));
    d->to = hl_mem__malloc((d->nrefs ? d->nrefs : 1) * sizeof(uint32_t));
    if (!d->first || !d->to) {
        hl_dump__free_graph(d);
        return hl_error__set(HL_ENOMEM, "out of memory for the reference graph");
    }
    return 0;
}

int
hl_dump__load_graph(hl_dump *d)
{
    int rc;
    if (d->to != NULL)
        return 0;
    if ((rc = hl_dump__load_objects(d)) < 0)
        return rc;
    if ((rc = alloc_graph(d)) < 0 || (rc = pass_objects(d, FILL_FIRST, NULL, NULL, NULL)) < 0 ||
        (rc = pass_refs(d)) < 0) {
        hl_dump__free_graph(d);
        return rc;
    }
    return 0;
}

/* Roots: an object with more references than the dump holds to it (its
 * refcount minus one per reference in the graph stays above 0), a module
 * (an object of a type named "module": pass 1 set its count to
 * UINT32_MAX), or a thread's frame. refcnt is consumed. */
static int
compute_roots(hl_dump *d, uint32_t *refcnt)
{
    for (uint64_t e = 0; e < d->nrefs; e++) {
        uint32_t *r = &refcnt[d->to[e]];
        if (*r != 0 && *r != UINT32_MAX)
            --*r;
    }
    for (uint64_t k = 0; k < d->nframes; k++) {
        int64_t j = hl_dump_find(d, d->frames[k]);
        if (j < 0)
            return FAIL("a thread's frame %#llx is not in the dump",
                        (unsigned long long)d->frames[k]);
        refcnt[j] = 1;
    }
    drop_all(d);
    uint32_t nroots = 0;
    for (uint32_t i = 0; i < d->n; i++)
        nroots += refcnt[i] != 0;
    d->roots = hl_mem__malloc((nroots ? nroots : 1) * sizeof(uint32_t));
    if (d->roots == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for %u roots", nroots);
    d->nroots = 0;
    for (uint32_t i = 0; i < d->n; i++)
        if (refcnt[i] != 0)
            d->roots[d->nroots++] = i;
    return 0;
}

int
hl_dump_open(hl_dump **out, const char *path)
{
    hl_dump *d;
    uint32_t *refcnt = NULL;
    uint8_t *is_module = NULL;
    int rc;
    hl_error_clear();
    *out = NULL;
    d = hl_mem__calloc(1, sizeof(*d));
    if (d == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for a dump");
    d->fd = -1;
    if ((rc = map_file(d, path)) < 0)
        goto fail;
    const unsigned char *p = d->data;
    if (d->size < 8 || memcmp(p, HL_DUMP_MAGIC, 8) != 0) {
        rc = FAIL("not a heaplens heap dump (no magic bytes)");
        goto fail;
    }
    if (d->size < HL_DUMP_HEADER_MIN + 1 + HL_DUMP_TRAILER_SIZE) {
        rc = FAIL("truncated: %zu bytes is shorter than a header and a trailer", d->size);
        goto fail;
    }
    unsigned version = p[8] | (unsigned)p[9] << 8;
    if (version != HL_DUMP_VERSION) {
        rc = FAIL("format version %u; this heaplens reads version %u", version,
                  HL_DUMP_VERSION);
        goto fail;
    }
    {
        uint32_t want = 0, got = 0;
        const unsigned char *t = p + d->size - 4;
        for (int i = 3; i >= 0; i--)
            want = (want << 8) | t[i];
        /* in chunks, each given back once summed */
        size_t done = 0, dropped = 0, len = d->size - 4;
        while (done < len) {
            size_t k = len - done < DROP_CHUNK ? len - done : DROP_CHUNK;
            got = hl_dump__crc32(got, p + done, k);
            done += k;
            drop_behind(d, p + done, &dropped);
        }
        drop_all(d);
        if (got != want) {
            rc = FAIL("checksum mismatch (truncated or corrupted)");
            goto fail;
        }
    }
    if ((p[10] | p[11] | p[12] | p[13] | p[14] | p[15]) != 0) {
        rc = FAIL("unknown flags");
        goto fail;
    }
    memcpy(&d->timestamp, p + 16, 8);
    size_t vlen = p[24];
    size_t start = HL_DUMP_HEADER_MIN + vlen;
    const unsigned char *tr = p + d->size - HL_DUMP_TRAILER_SIZE;
    if (vlen > 64 || start + 1 > d->size - HL_DUMP_TRAILER_SIZE) {
        rc = FAIL("a version string of %zu bytes", vlen);
        goto fail;
    }
    memcpy(d->python, p + HL_DUMP_HEADER_MIN, vlen);
    d->python[vlen] = '\0';
    if (memcmp(tr, HL_DUMP_TRAILER_MAGIC, 8) != 0) {
        rc = FAIL("no trailer (truncated?)");
        goto fail;
    }
    uint64_t nobj = rd_u64(tr + 8), nrefs = rd_u64(tr + 16), ntypes = rd_u64(tr + 24),
             nframes = rd_u64(tr + 32), end = rd_u64(tr + 40);
    if (end != d->size - HL_DUMP_TRAILER_SIZE - 1 || p[end] != HL_REC_END || end < start) {
        rc = FAIL("the records do not end where the trailer says");
        goto fail;
    }
    /* Every record takes at least two bytes: counts beyond that are lies,
     * and checking them first bounds every allocation by the file size. */
    if (nobj > end / 2 || nobj > HL_DOM_MAX_NODES || nrefs > end || ntypes > end / 2 ||
        ntypes > HL_DUMP_TYPE_MASK || nframes > end / 2) {
        rc = FAIL("implausible counts in the trailer");
        goto fail;
    }
    d->start = start;
    d->end = (size_t)end;
    d->n = (uint32_t)nobj;
    d->nrefs = nrefs;
    d->ntypes = (uint32_t)ntypes;
    d->nframes = nframes;
    {
        size_t nt = ntypes ? ntypes : 1;
        d->type_pos = hl_mem__malloc(nt * sizeof(uint64_t));
        d->type_len = hl_mem__malloc(nt * sizeof(uint32_t));
        d->type_addr = hl_mem__malloc(nt * sizeof(uint64_t));
        d->frames = hl_mem__malloc((nframes ? nframes : 1) * sizeof(uint64_t));
        refcnt = hl_mem__malloc((nobj ? nobj : 1) * sizeof(uint32_t));
        is_module = hl_mem__malloc(nt);
        if (!d->type_pos || !d->type_len || !d->type_addr || !d->frames || !refcnt ||
            !is_module) {
            rc = hl_error__set(HL_ENOMEM, "out of memory for a dump of %u objects", d->n);
            goto fail;
        }
    }
    /* Pass 1 reads addresses, offsets and reference counts; pass 2 the
     * references; the roots need the counts and the graph. Only then are
     * the types and record offsets read (a third pass): the 4 B per object
     * of counts and the 8 of types and offsets are never held together. */
    if ((rc = alloc_objects(d, 1)) < 0 || (rc = alloc_graph(d)) < 0 ||
        (rc = pass_objects(d, FILL_META | FILL_OBJECTS | FILL_FIRST | FILL_REFCNT, NULL, refcnt,
                           is_module)) < 0 ||
        (rc = build_index(d)) < 0 || (rc = pass_refs(d)) < 0 ||
        (rc = compute_roots(d, refcnt)) < 0)
        goto fail;
    hl_mem__free(refcnt);
    refcnt = NULL;
    if ((rc = alloc_objects(d, 0)) < 0 ||
        (rc = pass_objects(d, FILL_OBJECTS, NULL, NULL, NULL)) < 0)
        goto fail;
    hl_mem__free(is_module);
    *out = d;
    return 0;
fail:
    hl_mem__free(refcnt);
    hl_mem__free(is_module);
    hl_dump_close(d);
    return rc;
}

void
hl_dump_close(hl_dump *d)
{
    if (d == NULL)
        return;
    hl_dump__free_objects(d);
    hl_dump__free_graph(d);
    void *arrays[] = {d->type_pos, d->type_len, d->type_addr, d->frames,
                      d->roots,    d->idom,     d->retained};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        hl_mem__free(arrays[i]);
    if (d->data != NULL)
        munmap((void *)d->data, d->size);
    if (d->fd >= 0)
        close(d->fd);
    hl_mem__free(d);
}

uint32_t
hl_dump_count(const hl_dump *d)
{
    return d->n;
}

uint64_t
hl_dump_nreferences(const hl_dump *d)
{
    return d->nrefs;
}

uint32_t
hl_dump_ntypes(const hl_dump *d)
{
    return d->ntypes;
}

double
hl_dump_timestamp(const hl_dump *d)
{
    return d->timestamp;
}

const char *
hl_dump_python(const hl_dump *d)
{
    return d->python;
}

int
hl_dump_get(hl_dump_object *out, const hl_dump *d, uint32_t i)
{
    memset(out, 0, sizeof(*out));
    if (d->type == NULL || i >= d->n)
        return hl_error__set(HL_EINVAL, "the dump's object table is not loaded");
    /* The record was validated when the file was opened; it is checked
     * again here because the mapping shows the file as it is now. */
    cursor c = {d->data + rec_of(d, i), d->data + d->end};
    uint64_t a, t, gs, as, rc, tl, v;
    if (c.p >= c.end || *c.p++ != HL_REC_OBJECT || rd_varint(&c, &a) < 0 ||
        rd_varint(&c, &t) < 0 || rd_varint(&c, &gs) < 0 || rd_varint(&c, &as) < 0 ||
        rd_varint(&c, &rc) < 0 || rd_varint(&c, &tl) < 0 ||
        t != (d->type[i] & HL_DUMP_TYPE_MASK))
        return FAIL("the file changed while open (object %u)", i);
    out->addr = d->addr[i];
    out->type = (uint32_t)t;
    out->labels = (uint8_t)(d->type[i] >> HL_DUMP_TYPE_BITS);
    out->size = gs;
    out->alloc_size = (uint64_t)((int64_t)gs + hl_dump__unzigzag(as));
    out->refcount = rc;
    out->text_kind = HL_TEXT_NONE;
    if (tl == HL_TEXT_INT) {
        if (rd_varint(&c, &v) < 0)
            return FAIL("the file changed while open (object %u)", i);
        out->text_kind = HL_TEXT_KIND_INT;
        out->ival = hl_dump__unzigzag(v);
    }
    else if (tl == HL_TEXT_FLOAT) {
        if (c.end - c.p < 8)
            return FAIL("the file changed while open (object %u)", i);
        out->text_kind = HL_TEXT_KIND_FLOAT;
        memcpy(&out->fval, c.p, 8);
    }
    else if (tl > 0) {
        if (tl > HL_DUMP_NAME_MAX + 1 || tl - 1 > (uint64_t)(c.end - c.p))
            return FAIL("the file changed while open (object %u)", i);
        out->text_kind = HL_TEXT_UTF8;
        out->text = (const char *)c.p;
        out->text_len = tl - 1u;
    }
    return 0;
}

const char *
hl_dump_type_name(const hl_dump *d, uint32_t t, size_t *len, uint64_t *addr)
{
    *len = d->type_len[t];
    if (addr != NULL)
        *addr = d->type_addr[t];
    return (const char *)d->data + d->type_pos[t];
}

int
hl_dump_referents(const uint32_t **out, size_t *n, hl_dump *d, uint32_t i)
{
    int rc = hl_dump__load_graph(d);
    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    *n = (size_t)(d->first[i + 1] - d->first[i]);
    *out = d->to + d->first[i];
    return 0;
}

int
hl_dump_graph(hl_digraph *g, hl_dump *d)
{
    int rc = hl_dump__load_graph(d);
    if (rc < 0)
        return rc;
    g->n = d->n;
    g->first = d->first;
    g->to = d->to;
    return 0;
}

const uint32_t *
hl_dump_roots(const hl_dump *d, size_t *n)
{
    *n = d->nroots;
    return d->roots;
}

void
hl_dump_free(void *p)
{
    hl_mem__free(p);
}
