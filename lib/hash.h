/*
 * hash.h - the only place that includes uthash. uthash's default on
 * out-of-memory is exit(-1); we make it non-fatal and route its allocations
 * to the core allocator. After HASH_ADD, check hl_hash__oom: when set, the
 * element was not added and the caller still owns it.
 */
#ifndef HL_HASH_H
#define HL_HASH_H
#include "mem.h"

extern _Thread_local int hl_hash__oom;

#define HASH_NONFATAL_OOM 1
/* A file may route its tables elsewhere by defining these first
 * (lifetimes.c: its tables are filled from inside allocator hooks). */
#ifndef uthash_malloc
#define uthash_malloc(sz) hl_mem__malloc(sz)
#define uthash_free(ptr, sz) hl_mem__free(ptr)
#endif
#define uthash_nonfatal_oom(elt) (hl_hash__oom = 1)

#include <uthash.h>
#endif
