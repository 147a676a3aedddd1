/*
 * mem.h - the core's own allocator. Every byte of bookkeeping the core keeps
 * goes through here, so tests can make it fail (HL_FAIL_ALLOC builds) and
 * figures can count it. It uses the RAW domain: no GIL needed, and safe to
 * call from inside an allocator hook once the hook saved the raw allocator.
 */
#ifndef HL_MEM_H
#define HL_MEM_H
#include <stddef.h>

void *hl_mem__malloc(size_t n);
void *hl_mem__calloc(size_t count, size_t size);
void *hl_mem__realloc(void *p, size_t n);
void hl_mem__free(void *p);

/* The same from the C library's allocator, bypassing every PyMem hook: for
 * tables filled from inside allocator hooks. Safe without the GIL and from
 * inside a hook. Why not the RAW allocator saved at hook time: when that
 * is another tool's hook (tracemalloc's), it stops being safe to call once
 * that tool stops; the C allocator is what RAW ends in for release builds
 * anyway. Failure injection applies to these too. */
void *hl_mem__sys_malloc(size_t n);
void *hl_mem__sys_calloc(size_t count, size_t size);
void hl_mem__sys_free(void *p);

/* Tests only: make every `n`th call fail (0 = never). */
void hl_mem__fail_every(unsigned long n);
#endif
