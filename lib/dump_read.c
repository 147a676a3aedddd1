/*
 * dump_read.c - reading a heap dump back: every byte is checked before it
 * is used, so a truncated, corrupt or hostile file is an HL_EFORMAT error
 * with a message, never a crash, an overflow or a loop that does not end.
 *
 * The file is read whole, its CRC checked, then parsed in two passes: the
 * first reads types and objects (and the offsets of every object's
 * references, which the format keeps in parent order), the second, with an
 * address -> index table built from the first, turns the references into
 * object indices (compressed-sparse-row arrays, what hl_dominators takes).
 * Every loop advances a cursor that is bounded by the end of the data.
 */
#include <errno.h>
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

/* Bytes of the text payload at c->p for text code tl (validated). */
static size_t
text_skip(const cursor *c, uint64_t tl)
{
    if (tl == HL_TEXT_INT) {
        size_t k = 0;
        while (c->p[k] & 0x80)
            k++;
        return k + 1;
    }
    if (tl == HL_TEXT_FLOAT)
        return 8;
    return tl > 1 ? (size_t)(tl - 1) : 0;
}

static uint64_t
rd_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int
read_file(hl_dump *d, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return hl_error__set(HL_EINVAL, "cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return hl_error__set(HL_EINVAL, "cannot seek in %s: %s", path, strerror(errno));
    }
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return hl_error__set(HL_EINVAL, "cannot size %s: %s", path, strerror(errno));
    }
    d->data = hl_mem__malloc(size ? (size_t)size : 1);
    if (d->data == NULL) {
        fclose(f);
        return hl_error__set(HL_ENOMEM, "out of memory for a %ld-byte dump", size);
    }
    d->size = (size_t)size;
    if (fread(d->data, 1, d->size, f) != d->size) {
        int e = ferror(f) ? errno : 0;
        fclose(f);
        return e ? hl_error__set(HL_EINVAL, "cannot read %s: %s", path, strerror(e))
                 : FAIL("the file changed size while being read");
    }
    fclose(f);
    return 0;
}

static int
alloc_arrays(hl_dump *d, uint64_t nframes)
{
    size_t n = d->n ? d->n : 1;
    d->addr = hl_mem__malloc(n * sizeof(uint64_t));
    d->type = hl_mem__malloc(n * sizeof(uint32_t));
    d->labels = hl_mem__malloc(n);
    d->osize = hl_mem__malloc(n * sizeof(uint64_t));
    d->asize = hl_mem__malloc(n * sizeof(uint64_t));
    d->refcnt = hl_mem__malloc(n * sizeof(uint64_t));
    d->text_pos = hl_mem__malloc(n * sizeof(uint64_t));
    d->text_len = hl_mem__malloc(n);
    d->first = hl_mem__malloc((n + 1) * sizeof(uint64_t));
    d->to = hl_mem__malloc((d->nrefs ? d->nrefs : 1) * sizeof(uint32_t));
    d->type_pos = hl_mem__malloc((d->ntypes ? d->ntypes : 1) * sizeof(uint64_t));
    d->type_len = hl_mem__malloc((d->ntypes ? d->ntypes : 1) * sizeof(uint32_t));
    d->type_addr = hl_mem__malloc((d->ntypes ? d->ntypes : 1) * sizeof(uint64_t));
    d->frames = hl_mem__malloc((nframes ? nframes : 1) * sizeof(uint64_t));
    if (!d->addr || !d->type || !d->labels || !d->osize || !d->asize || !d->refcnt ||
        !d->text_pos || !d->text_len || !d->first || !d->to || !d->type_pos || !d->type_len ||
        !d->type_addr || !d->frames)
        return hl_error__set(HL_ENOMEM, "out of memory for a dump of %u objects", d->n);
    return 0;
}

/* Pass 1: types, objects, reference offsets, frames. */
static int
pass_objects(hl_dump *d, size_t start, size_t end, uint64_t nframes)
{
    cursor c = {d->data + start, d->data + end};
    uint64_t prev = 0, off = 0, nf = 0;
    uint32_t nobj = 0, nt = 0, filled = 0;
    int64_t last_parent = -1;
    while (c.p < c.end) {
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
            d->type_addr[nt] = a;
            d->type_pos[nt] = (uint64_t)(c.p - d->data);
            d->type_len[nt] = (uint32_t)b;
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
                const unsigned char *at = c.p;
                if (rd_varint(&c, &v) < 0)
                    return FAIL("object %u has a truncated int value", nobj);
                c.p = at; /* skipped below with the others */
            }
            else if (tl == HL_TEXT_FLOAT) {
                if ((uint64_t)(c.end - c.p) < 8)
                    return FAIL("object %u has a truncated float value", nobj);
            }
            else if (tl > HL_DUMP_NAME_MAX + 1 || (tl > 1 && tl - 1 > (uint64_t)(c.end - c.p)))
                return FAIL("object %u has a text of %llu bytes", nobj, (unsigned long long)tl);
            d->addr[nobj] = prev;
            d->type[nobj] = (uint32_t)t;
            d->labels[nobj] = HL_LABEL_NONE;
            d->osize[nobj] = gs;
            d->asize[nobj] = (uint64_t)((int64_t)gs + ad);
            d->refcnt[nobj] = rc;
            d->text_len[nobj] = (uint8_t)tl;
            d->text_pos[nobj] = (uint64_t)(c.p - d->data);
            c.p += text_skip(&c, tl);
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
            while (filled <= (uint32_t)parent)
                d->first[filled++] = off;
            d->labels[parent] = lab;
            off += b;
            last_parent = parent;
            break;
        }
        case HL_REC_FRAME:
            if (nf >= nframes)
                return FAIL("more frame records than the trailer's %llu",
                            (unsigned long long)nframes);
            if (rd_varint(&c, &a) < 0 || a > (UINT64_MAX >> 3))
                return FAIL("a truncated frame record");
            d->frames[nf++] = a << 3;
            break;
        default:
            return FAIL("an unknown record tag %u at offset %zu", tag,
                        (size_t)(c.p - 1 - d->data));
        }
    }
    if (nobj != d->n || nt != d->ntypes || off != d->nrefs || nf != nframes)
        return FAIL("the records (%u objects, %u types, %llu references, %llu frames) do not "
                    "match the trailer's counts", nobj, nt, (unsigned long long)off,
                    (unsigned long long)nf);
    while (filled <= d->n)
        d->first[filled++] = off;
    d->nframes = nf;
    return 0;
}

/* ---- address -> index ---------------------------------------------------- */

static inline size_t
addr_hash(uint64_t a, size_t mask)
{
    return (size_t)(((a >> 3) * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static int
build_index(hl_dump *d)
{
    size_t cap = 16;
    while (cap < (size_t)d->n * 2)
        cap <<= 1;
    d->slots = hl_mem__calloc(cap, sizeof(uint32_t));
    if (d->slots == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for the address index");
    d->mask = cap - 1;
    for (uint32_t i = 0; i < d->n; i++) {
        size_t h = addr_hash(d->addr[i], d->mask);
        while (d->slots[h] != 0) {
            if (d->addr[d->slots[h] - 1] == d->addr[i])
                return FAIL("two objects at the same address %#llx",
                            (unsigned long long)d->addr[i]);
            h = (h + 1) & d->mask;
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
    size_t h = addr_hash(addr, d->mask);
    while (d->slots[h] != 0) {
        uint32_t i = d->slots[h] - 1;
        if (d->addr[i] == addr)
            return i;
        h = (h + 1) & d->mask;
    }
    return -1;
}

/* Pass 2: references as indices. Pass 1 validated the record structure. */
static int
pass_refs(hl_dump *d, size_t start, size_t end)
{
    cursor c = {d->data + start, d->data + end};
    uint32_t nobj = 0;
    uint64_t off = 0;
    while (c.p < c.end) {
        unsigned char tag = *c.p++;
        uint64_t a = 0, b = 0, v = 0;
        switch (tag) {
        case HL_REC_TYPE:
            rd_varint(&c, &a);
            rd_varint(&c, &b);
            c.p += b;
            break;
        case HL_REC_OBJECT:
            for (int k = 0; k < 5; k++)
                rd_varint(&c, &a);
            rd_varint(&c, &b);
            c.p += text_skip(&c, b);
            nobj++;
            break;
        case HL_REC_REFS: {
            rd_varint(&c, &a);
            rd_varint(&c, &b);
            c.p++;
            uint32_t parent = nobj - 1 - (uint32_t)a;
            uint64_t prev = d->addr[parent];
            for (uint64_t i = 0; i < b; i++) {
                rd_varint(&c, &v);
                prev += (uint64_t)hl_dump__unzigzag(v) << 3;
                int64_t j = hl_dump_find(d, prev);
                if (j < 0)
                    return FAIL("object %u refers to %#llx, which is not in the dump", parent,
                                (unsigned long long)prev);
                d->to[off++] = (uint32_t)j;
            }
            break;
        }
        case HL_REC_FRAME:
            rd_varint(&c, &a);
            break;
        default:
            return FAIL("an unknown record tag %u", tag); /* not reached */
        }
    }
    return 0;
}

static int
compute_roots(hl_dump *d)
{
    uint32_t *indeg = hl_mem__calloc(d->n ? d->n : 1, sizeof(uint32_t));
    uint8_t *is_root = hl_mem__calloc(d->n ? d->n : 1, 1);
    int rc = 0;
    if (indeg == NULL || is_root == NULL) {
        rc = hl_error__set(HL_ENOMEM, "out of memory for the roots");
        goto done;
    }
    for (uint64_t e = 0; e < d->nrefs; e++)
        if (indeg[d->to[e]] != UINT32_MAX)
            indeg[d->to[e]]++;
    int64_t module_type = -1;
    for (uint32_t t = 0; t < d->ntypes; t++)
        if (d->type_len[t] == 6 && memcmp(d->data + d->type_pos[t], "module", 6) == 0)
            module_type = t;
    for (uint64_t k = 0; k < d->nframes; k++) {
        int64_t j = hl_dump_find(d, d->frames[k]);
        if (j < 0) {
            rc = FAIL("a thread's frame %#llx is not in the dump",
                      (unsigned long long)d->frames[k]);
            goto done;
        }
        is_root[j] = 1;
    }
    uint32_t nroots = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        if (d->refcnt[i] > indeg[i] || (int64_t)d->type[i] == module_type)
            is_root[i] = 1;
        nroots += is_root[i];
    }
    d->roots = hl_mem__malloc((nroots ? nroots : 1) * sizeof(uint32_t));
    if (d->roots == NULL) {
        rc = hl_error__set(HL_ENOMEM, "out of memory for %u roots", nroots);
        goto done;
    }
    d->nroots = 0;
    for (uint32_t i = 0; i < d->n; i++)
        if (is_root[i])
            d->roots[d->nroots++] = i;
done:
    hl_mem__free(indeg);
    hl_mem__free(is_root);
    return rc;
}

int
hl_dump_open(hl_dump **out, const char *path)
{
    hl_dump *d;
    int rc;
    hl_error_clear();
    *out = NULL;
    d = hl_mem__calloc(1, sizeof(*d));
    if (d == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for a dump");
    if ((rc = read_file(d, path)) < 0)
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
        uint32_t want = 0, got;
        const unsigned char *t = p + d->size - 4;
        for (int i = 3; i >= 0; i--)
            want = (want << 8) | t[i];
        got = hl_dump__crc32(0, p, d->size - 4);
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
        nframes > end / 2) {
        rc = FAIL("implausible counts in the trailer");
        goto fail;
    }
    d->n = (uint32_t)nobj;
    d->nrefs = nrefs;
    d->ntypes = (uint32_t)ntypes;
    if ((rc = alloc_arrays(d, nframes)) < 0 || (rc = pass_objects(d, start, end, nframes)) < 0 ||
        (rc = build_index(d)) < 0 || (rc = pass_refs(d, start, end)) < 0 ||
        (rc = compute_roots(d)) < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    hl_dump_close(d);
    return rc;
}

void
hl_dump_close(hl_dump *d)
{
    if (d == NULL)
        return;
    void *arrays[] = {d->data, d->addr, d->type, d->labels, d->osize, d->asize, d->refcnt,
                      d->text_pos, d->text_len, d->first, d->to, d->type_pos, d->type_len,
                      d->type_addr, d->frames, d->slots, d->roots, d->idom, d->retained};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        hl_mem__free(arrays[i]);
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

void
hl_dump_get(hl_dump_object *out, const hl_dump *d, uint32_t i)
{
    out->addr = d->addr[i];
    out->type = d->type[i];
    out->labels = d->labels[i];
    out->size = d->osize[i];
    out->alloc_size = d->asize[i];
    out->refcount = d->refcnt[i];
    uint8_t tl = d->text_len[i];
    const unsigned char *p = d->data + d->text_pos[i];
    out->text = NULL;
    out->text_len = 0;
    out->text_kind = HL_TEXT_NONE;
    if (tl == HL_TEXT_INT) {
        cursor c = {p, d->data + d->size};
        uint64_t v = 0;
        rd_varint(&c, &v);
        out->text_kind = HL_TEXT_KIND_INT;
        out->ival = hl_dump__unzigzag(v);
    }
    else if (tl == HL_TEXT_FLOAT) {
        out->text_kind = HL_TEXT_KIND_FLOAT;
        memcpy(&out->fval, p, 8);
    }
    else if (tl > 0) {
        out->text_kind = HL_TEXT_UTF8;
        out->text = (const char *)p;
        out->text_len = tl - 1u;
    }
}

const char *
hl_dump_type_name(const hl_dump *d, uint32_t t, size_t *len, uint64_t *addr)
{
    *len = d->type_len[t];
    if (addr != NULL)
        *addr = d->type_addr[t];
    return (const char *)d->data + d->type_pos[t];
}

const uint32_t *
hl_dump_referents(const hl_dump *d, uint32_t i, size_t *n)
{
    *n = (size_t)(d->first[i + 1] - d->first[i]);
    return d->to + d->first[i];
}

hl_digraph
hl_dump_graph(const hl_dump *d)
{
    hl_digraph g = {d->n, d->first, d->to};
    return g;
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
