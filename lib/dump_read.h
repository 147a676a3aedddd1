/* dump_read.h - the loaded dump, shared by dump_read.c and
 * dump_dominators.c. Every array has one entry per object unless said. */
#ifndef HL_DUMP_READ_H
#define HL_DUMP_READ_H
#include "heaplens/dump.h"

struct hl_dump {
    unsigned char *data; /* the whole file */
    size_t size;
    double timestamp;
    char python[65];
    uint32_t n, ntypes;
    uint64_t nrefs, nframes;
    uint64_t *addr;
    uint32_t *type;
    uint8_t *labels;
    uint64_t *osize, *asize, *refcnt;
    uint64_t *text_pos; /* offset of the text in data */
    uint8_t *text_len;  /* text length + 1, 0 for none */
    uint64_t *first;    /* n + 1 */
    uint32_t *to;       /* nrefs */
    uint64_t *type_pos; /* ntypes */
    uint32_t *type_len;
    uint64_t *type_addr;
    uint64_t *frames; /* nframes addresses */
    uint32_t *slots;  /* address index: object index + 1, 0 = empty */
    size_t mask;
    uint32_t *roots;
    uint32_t nroots;
    uint32_t *idom;     /* lazily, hl_dump_dominators */
    uint64_t *retained;
};
#endif
