/* dump_read.h - the loaded dump, shared by dump_read.c and
 * dump_dominators.c. Every array has one entry per object unless said.
 *
 * Memory (docs/dumps.md, "Memory"): the file is mapped read-only, never
 * copied; what is kept in arrays is what analysis needs. The object arrays
 * (addr, type, rec, slots) and the CSR graph (first, to) are each dropped
 * while the dominator tree is computed and rebuilt from the mapping after
 * it (dump_read.c: hl_dump__load_objects, hl_dump__load_graph). */
#ifndef HL_DUMP_READ_H
#define HL_DUMP_READ_H
#include "heaplens/dump.h"

/* type[] holds the type index in its low 30 bits and the HL_LABEL_* kind
 * of the object's references in its top 2. */
#define HL_DUMP_TYPE_BITS 30
#define HL_DUMP_TYPE_MASK ((1u << HL_DUMP_TYPE_BITS) - 1)

struct hl_dump {
    const unsigned char *data; /* the file, mapped read-only */
    size_t size;
    int fd;            /* the file, kept open to see it change (hl_dump_check); -1 */
    int64_t mtime_ns;  /* its modification time when opened */
    size_t start, end; /* the records: data[start] .. data[end] (HL_REC_END) */
    double timestamp;
    char python[65];
    uint32_t n, ntypes;
    uint64_t nrefs, nframes;
    /* object arrays (NULL while the dominator tree is computed) */
    uint64_t *addr;
    uint32_t *type;   /* type index | labels << HL_DUMP_TYPE_BITS */
    uint32_t *rec32;  /* offset of object i's record, when size <= 4 GiB */
    uint64_t *rec64;  /* ... otherwise */
    uint32_t *slots;  /* address index: object index + 1, 0 = empty */
    size_t cap;       /* slots */
    /* the reference graph in CSR form (NULL once the dominators are known,
     * rebuilt on demand) */
    uint64_t *first;  /* n + 1 */
    uint32_t *to;     /* nrefs */
    uint64_t *type_pos; /* ntypes */
    uint32_t *type_len;
    uint64_t *type_addr;
    uint64_t *frames; /* nframes addresses */
    uint32_t *roots;
    uint32_t nroots;
    uint32_t *idom;     /* lazily, hl_dump_dominators */
    uint64_t *retained;
};

/* Refill the object arrays (addr, type, rec, slots) from the mapping, every
 * field validated again. 0 or HL_EFORMAT / HL_ENOMEM. */
int hl_dump__load_objects(hl_dump *d);
void hl_dump__free_objects(hl_dump *d);
/* Rebuild the CSR graph (needs the object arrays). */
int hl_dump__load_graph(hl_dump *d);
void hl_dump__free_graph(hl_dump *d);
/* Every object's getsizeof-model size, into out (n entries). */
int hl_dump__load_sizes(hl_dump *d, uint64_t *out);
#endif
