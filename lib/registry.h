/*
 * registry.h - the type registry's internals (see registry.c); the public
 * functions are declared in heaplens/heaplens.h.
 */
#ifndef HL_REGISTRY_H
#define HL_REGISTRY_H
#include "heaplens/heaplens.h"

typedef struct {
    PyTypeObject *type;  /* strong reference */
    PyObject *referents; /* strong reference or NULL */
    PyObject *sizeof_fn; /* strong reference or NULL */
    unsigned int flags;  /* HL_TYPE_* */
} hl_registry__entry;

/* Entries registered. */
size_t hl_registry__count(void);

/* The entry for the nearest class in tp's MRO that has one, or NULL. The
 * pointer is borrowed and valid until the registry next changes. Runs no
 * Python code. */
const hl_registry__entry *hl_registry__find(PyTypeObject *tp);
#endif
