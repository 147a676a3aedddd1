/*
 * walk.h - what walk.c shares with the other lib/ files.
 */
#ifndef HL_WALK_H
#define HL_WALK_H
#include "heaplens/walk.h"

/* Check a walk's options (version, model, limit, conflicting fields).
 * Returns 0 or HL_EINVAL with the message set. */
int hl_walk__check_options(const hl_walk_options *opts);
#endif
