/*
 * heaplens/addrset.h - a set of object addresses that holds no references:
 * what a walk visited (hl_walk_options.seen_out), kept to ask later whether
 * an object existed then.
 */
#ifndef HEAPLENS_ADDRSET_H
#define HEAPLENS_ADDRSET_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_addrset hl_addrset;

/* 1 when `addr` is in the set, else 0. Safe without the GIL. */
int hl_addrset_contains(const hl_addrset *s, const void *addr);

/* Addresses in the set, and bytes the set holds. */
size_t hl_addrset_count(const hl_addrset *s);
size_t hl_addrset_bytes(const hl_addrset *s);

/* Release the set. NULL is accepted. Safe without the GIL. */
void hl_addrset_free(hl_addrset *s);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_ADDRSET_H */
