/*
 * ptrset.h - the visited set of a walk: a set of object addresses sized for
 * millions of entries without a malloc per entry.
 *
 * Objects are at least 16 bytes long, so two live objects never share a
 * 16-byte granule. The set keeps one 64-bit bitmap per 1 KiB region of
 * address space in an open-addressing table keyed by region: 16 bytes per
 * region, i.e. well under a byte per object where objects are dense (pymalloc
 * pools), and at most 32 bytes per object (at the 1/2 load limit) where they
 * are sparse.
 */
#ifndef HL_PTRSET_H
#define HL_PTRSET_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uintptr_t key; /* region number + 1; 0 = empty slot */
    uint64_t bits;
} hl_ptrset__slot;

typedef struct {
    hl_ptrset__slot *slots;
    size_t mask;       /* capacity - 1; capacity is a power of two */
    size_t regions;    /* slots in use */
    size_t count;      /* addresses in the set */
    size_t peak_bytes; /* largest footprint so far (both tables while growing) */
} hl_ptrset;

/* Prepare an empty set. Returns 0 or HL_ENOMEM. */
int hl_ptrset__init(hl_ptrset *set, size_t expected_regions);

/* Add `p`. Returns 1 when it was new, 0 when already there, HL_ENOMEM.
 * A freed set is set up again on first use. */
int hl_ptrset__add(hl_ptrset *set, const void *p);

/* Remove `p`: 1 when it was there, else 0. (The region's slot stays.) */
int hl_ptrset__remove(hl_ptrset *set, const void *p);

/* 1 when `p` is in the set, else 0. */
int hl_ptrset__contains(const hl_ptrset *set, const void *p);

/* Release the set's memory; the set may be initialised again. */
void hl_ptrset__free(hl_ptrset *set);

/* Bytes the set holds now. */
size_t hl_ptrset__bytes(const hl_ptrset *set);
#endif
