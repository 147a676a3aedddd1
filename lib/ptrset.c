/* ptrset.c - see ptrset.h. */
#include <string.h>

#include "heaplens/heaplens.h"
#include "error.h"
#include "mem.h"
#include "ptrset.h"

#define REGION_SHIFT 10 /* 1 KiB regions ... */
#define GRANULE_SHIFT 4 /* ... of 64 granules of 16 bytes */

static inline size_t
slot_of(uintptr_t key, size_t mask)
{
    /* Fibonacci hashing spreads consecutive region numbers; the high bits
     * of the product are the well-mixed ones. (A variant that kept runs of
     * 64 neighbouring regions in neighbouring slots, for cache locality,
     * cost 30% more instructions under cachegrind for the same D1 misses:
     * linear probing clusters badly on runs.) */
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & mask;
}

int
hl_ptrset__init(hl_ptrset *set, size_t expected_regions)
{
    size_t cap = 1024;
    while (cap < expected_regions * 2)
        cap <<= 1;
    memset(set, 0, sizeof(*set));
    set->slots = hl_mem__calloc(cap, sizeof(hl_ptrset__slot));
    if (set->slots == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for a visited set of %zu slots", cap);
    set->mask = cap - 1;
    set->peak_bytes = cap * sizeof(hl_ptrset__slot);
    return 0;
}

static int
grow(hl_ptrset *set)
{
    size_t oldcap = set->mask + 1, cap = oldcap * 2;
    hl_ptrset__slot *slots = hl_mem__calloc(cap, sizeof(hl_ptrset__slot));
    if (slots == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory growing a visited set to %zu slots", cap);
    size_t mask = cap - 1;
    for (size_t i = 0; i < oldcap; i++) {
        hl_ptrset__slot *s = &set->slots[i];
        if (s->key == 0)
            continue;
        size_t j = slot_of(s->key, mask);
        while (slots[j].key != 0)
            j = (j + 1) & mask;
        slots[j] = *s;
    }
    size_t during = (oldcap + cap) * sizeof(hl_ptrset__slot);
    if (during > set->peak_bytes)
        set->peak_bytes = during;
    hl_mem__free(set->slots);
    set->slots = slots;
    set->mask = mask;
    return 0;
}

int
hl_ptrset__add(hl_ptrset *set, const void *p)
{
    if (set->slots == NULL) {
        /* Freed (or never set up): start again empty. */
        int rc = hl_ptrset__init(set, 0);
        if (rc < 0)
            return rc;
    }
    uintptr_t a = (uintptr_t)p;
    uintptr_t key = (a >> REGION_SHIFT) + 1;
    uint64_t bit = UINT64_C(1) << ((a >> GRANULE_SHIFT) & 63);
    size_t j = slot_of(key, set->mask);
    for (;;) {
        hl_ptrset__slot *s = &set->slots[j];
        if (s->key == key) {
            if (s->bits & bit)
                return 0;
            s->bits |= bit;
            set->count++;
            return 1;
        }
        if (s->key == 0)
            break;
        j = (j + 1) & set->mask;
    }
    if ((set->regions + 1) * 2 > set->mask + 1) {
        int rc = grow(set);
        if (rc < 0)
            return rc;
        j = slot_of(key, set->mask);
        while (set->slots[j].key != 0)
            j = (j + 1) & set->mask;
    }
    set->slots[j].key = key;
    set->slots[j].bits = bit;
    set->regions++;
    set->count++;
    return 1;
}

/* The slot of `p`'s region, or NULL when the region is not in the set;
 * *bit gets p's bit in the region's bitmap. */
static hl_ptrset__slot *
find(const hl_ptrset *set, const void *p, uint64_t *bit)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t key = (a >> REGION_SHIFT) + 1;
    *bit = UINT64_C(1) << ((a >> GRANULE_SHIFT) & 63);
    if (set->slots == NULL)
        return NULL;
    for (size_t j = slot_of(key, set->mask);; j = (j + 1) & set->mask) {
        hl_ptrset__slot *s = &set->slots[j];
        if (s->key == key)
            return s;
        if (s->key == 0)
            return NULL;
    }
}

int
hl_ptrset__contains(const hl_ptrset *set, const void *p)
{
    uint64_t bit;
    const hl_ptrset__slot *s = find(set, p, &bit);
    return s != NULL && (s->bits & bit) != 0;
}

int
hl_ptrset__remove(hl_ptrset *set, const void *p)
{
    uint64_t bit;
    hl_ptrset__slot *s = find(set, p, &bit);
    if (s == NULL || !(s->bits & bit))
        return 0;
    s->bits &= ~bit; /* an empty bitmap keeps its slot: probes stay intact */
    set->count--;
    return 1;
}

void
hl_ptrset__free(hl_ptrset *set)
{
    hl_mem__free(set->slots);
    memset(set, 0, sizeof(*set));
}

size_t
hl_ptrset__bytes(const hl_ptrset *set)
{
    return set->slots ? (set->mask + 1) * sizeof(hl_ptrset__slot) : 0;
}
