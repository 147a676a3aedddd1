/*
 * heaplens.h - the public C API of the heaplens core: one header per module
 * (errors, sizes, visited, addrset, walk, census, registry, graph, track,
 * dominators), all included here.
 *
 * Everything here needs the GIL (an attached thread state) unless a function
 * says otherwise. Nothing here may be called from inside an allocator hook.
 *
 * Conventions (as in libgit2): functions return 0 on success or a negative
 * HL_E* code; the output parameter comes first; options are passed as a
 * struct initialised with hl_<module>_options_init(&opts, VERSION) or its
 * HL_*_OPTIONS_INIT macro; callbacks take their
 * `void *payload` last. References follow CPython's vocabulary: "borrowed"
 * means the caller keeps ownership, "new" means the caller must release it.
 */
#ifndef HEAPLENS_H
#define HEAPLENS_H

#include "common.h"
#include "errors.h"
#include "sizes.h"
#include "visited.h"
#include "addrset.h"
#include "walk.h"
#include "census.h"
#include "registry.h"
#include "graph.h"
#include "track.h"
#include "dominators.h"
#include "dump.h"

#endif /* HEAPLENS_H */
