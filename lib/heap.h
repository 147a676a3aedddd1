/* heap.h - the whole heap's roots, shared by heap.c and graph.c. */
#ifndef HL_HEAP_H
#define HL_HEAP_H
#include "compat.h"

typedef struct {
    PyObject **items; /* strong references */
    size_t n, cap;
    int err;
} hl_heap__rootlist;

/* Every gc-tracked object, each with a strong reference taken. Returns 0,
 * HL_ENOMEM or HL_EPYTHON. */
int hl_heap__roots(hl_heap__rootlist *r);

/* Release the references and the array (may run finalizers). */
void hl_heap__roots_free(hl_heap__rootlist *r);
#endif
