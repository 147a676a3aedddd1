/* mem.c - see mem.h. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "mem.h"

_Thread_local int hl_hash__oom;

/* Failure injection is always compiled in: it costs one predictable branch
 * per bookkeeping allocation, which are rare (tables grow by doubling). */
static unsigned long fail_every;
static unsigned long calls;

void
hl_mem__fail_every(unsigned long n)
{
    fail_every = n;
    calls = 0;
}

static int
should_fail(void)
{
    return fail_every != 0 && (++calls % fail_every) == 0;
}

void *
hl_mem__malloc(size_t n)
{
    return should_fail() ? NULL : PyMem_RawMalloc(n);
}

void *
hl_mem__calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : PyMem_RawCalloc(count, size);
}

void *
hl_mem__realloc(void *p, size_t n)
{
    return should_fail() ? NULL : PyMem_RawRealloc(p, n);
}

void
hl_mem__free(void *p)
{
    PyMem_RawFree(p);
}

void *
hl_mem__sys_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *
hl_mem__sys_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void
hl_mem__sys_free(void *p)
{
    free(p);
}
