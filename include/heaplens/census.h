/*
 * heaplens/census.h - counts and bytes per type. Needs the GIL.
 */
#ifndef HEAPLENS_CENSUS_H
#define HEAPLENS_CENSUS_H
#include "common.h"
#include "errors.h"
#include "walk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_census hl_census;

typedef struct {
    PyTypeObject *type; /* borrowed from the census */
    size_t count;
    Py_ssize_t size;
} hl_census_row;

/* Create an empty census. Returns 0 or HL_ENOMEM. */
int hl_census_new(hl_census **out);

/* Count one object of type `tp` with `size` bytes. The census keeps a
 * reference to each type it has seen. Returns 0 or HL_ENOMEM. */
int hl_census_add(hl_census *c, PyTypeObject *tp, Py_ssize_t size);

/* Count `count` objects of type `tp` with `size` bytes in all. */
int hl_census_add_many(hl_census *c, PyTypeObject *tp, size_t count, Py_ssize_t size);

/* A walk callback that adds each counted object to the census given as
 * payload (hl_walk_options.on_object = hl_census_on_object). */
int hl_census_on_object(const hl_walk_event *ev, void *payload);

/* The rows of the census, in no particular order. *rows is allocated by the
 * core and released with hl_census_rows_free. Returns 0 or HL_ENOMEM. */
int hl_census_rows(hl_census_row **rows, size_t *nrows, const hl_census *c);
void hl_census_rows_free(hl_census_row *rows);

/* Release the census and its type references. NULL is accepted. */
void hl_census_free(hl_census *c);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_CENSUS_H */
