/*
 * addrset.c - hl_addrset: the set of addresses a walk visited, handed over
 * through hl_walk_options.seen_out. It is the walk's own ptrset, so handing
 * it over copies nothing.
 */
#include "heaplens/addrset.h"
#include "mem.h"
#include "ptrset.h"

int
hl_addrset_contains(const hl_addrset *s, const void *addr)
{
    return s != NULL && hl_ptrset__contains((const hl_ptrset *)s, addr);
}

size_t
hl_addrset_count(const hl_addrset *s)
{
    return s ? ((const hl_ptrset *)s)->count : 0;
}

size_t
hl_addrset_bytes(const hl_addrset *s)
{
    return s ? hl_ptrset__bytes((const hl_ptrset *)s) : 0;
}

void
hl_addrset_free(hl_addrset *s)
{
    if (s == NULL)
        return;
    hl_ptrset__free((hl_ptrset *)s);
    hl_mem__free(s);
}
