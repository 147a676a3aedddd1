/*
 * dump.h - heap dumps: every live object and every reference between them,
 * written to a file in one streaming pass, and read back for offline
 * analysis (docs/format.md, "The heap dump format").
 *
 * Writing needs the GIL; reading needs neither the GIL nor the interpreter.
 * Functions return 0 or a negative HL_E* code of heaplens.h, or
 * HL_EFORMAT (a file that is not a valid dump), with the message in
 * hl_error_last().
 */
#ifndef HEAPLENS_DUMP_H
#define HEAPLENS_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "heaplens/dominators.h"
#include "heaplens/heaplens.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A file that is not a dump this version reads: truncated, corrupt, of
 * another version, or not a dump at all. */
#define HL_EFORMAT (-16)

/* The format version written and read. */
#define HL_DUMP_VERSION 1

/* Figures about one dump written. */
typedef struct {
    uint64_t objects;    /* object records */
    uint64_t references; /* references recorded */
    uint64_t types;      /* type records */
    uint64_t bytes;      /* file size */
    uint64_t size;       /* getsizeof-model bytes of every object */
    size_t peak_bytes;   /* peak bookkeeping of the writer and its walk */
} hl_dump_stats;

/* Write every live object to `path` (created or truncated): the objects a
 * whole-heap walk (hl_heap_walk with HL_WALK_ALL | HL_WALK_NO_WEAKREFS)
 * reaches, with their type, both flat sizes, reference count and a short
 * text, every reference the walk follows, and the frames each thread is
 * running. What only the `nexclude` objects in `exclude` (borrowed) hold is
 * left out, as for hl_heap_walk. stats: out, may be NULL. Returns 0,
 * HL_EINVAL (the file cannot be written; errno is in the message),
 * HL_ENOMEM, HL_EPYTHON (a __sizeof__ raised). On error the file is left
 * incomplete (its missing trailer makes it invalid). Needs the GIL. */
int hl_dump_write(hl_dump_stats *stats, const char *path, PyObject *const *exclude,
                  size_t nexclude);

/* ---- reading ------------------------------------------------------------ */

typedef struct hl_dump hl_dump;

/* Label kinds of an object's references (hl_dump_object.labels). */
enum {
    HL_LABEL_NONE = 0,  /* no labels */
    HL_LABEL_PAIRS = 1, /* an exact dict: key, value, key, value... */
    HL_LABEL_INDEX = 2, /* an exact list or tuple: item i is reference i */
};

/* What an object's short text is (hl_dump_object.text_kind). */
enum {
    HL_TEXT_NONE = 0,
    HL_TEXT_UTF8 = 1,       /* text, text_len */
    HL_TEXT_KIND_INT = 2,   /* ival: an int's value */
    HL_TEXT_KIND_FLOAT = 3, /* fval: a float's value */
};

typedef struct {
    uint64_t addr;       /* the object's address in the dumped process */
    uint32_t type;       /* type index (hl_dump_type_name) */
    uint8_t labels;      /* HL_LABEL_* of its references */
    uint64_t size;       /* flat size, getsizeof model (aligned to 8) */
    uint64_t alloc_size; /* flat size, allocator model */
    uint64_t refcount;   /* references to it, the dump's own removed */
    int text_kind;       /* HL_TEXT_* */
    const char *text;    /* HL_TEXT_UTF8: not NUL-terminated; else NULL */
    size_t text_len;
    int64_t ival;        /* HL_TEXT_KIND_INT */
    double fval;         /* HL_TEXT_KIND_FLOAT */
} hl_dump_object;

/* Map (read-only) and validate the dump at `path`: magic, version,
 * checksum, every length, count and reference in range. Computes the roots
 * (see hl_dump_roots). Returns 0, HL_EFORMAT, HL_EINVAL (cannot read the
 * file) or HL_ENOMEM. Needs no GIL. The file stays mapped until
 * hl_dump_close; every later read of it is checked again. A file that is
 * written over in place or truncated while open would make the mapping
 * fault (SIGBUS): call hl_dump_check before each use (hl_dump_write itself
 * replaces a file by renaming a new one over it, which an open dump does
 * not see; docs/dumps.md). */
int hl_dump_open(hl_dump **out, const char *path);

/* 0 while the file is the one opened, unchanged (same size and
 * modification time, by the descriptor kept open); HL_EFORMAT with a
 * message once it was truncated or written in place since. */
int hl_dump_check(const hl_dump *d);

/* Release it. NULL is accepted. */
void hl_dump_close(hl_dump *d);

uint32_t hl_dump_count(const hl_dump *d);
uint64_t hl_dump_nreferences(const hl_dump *d);
uint32_t hl_dump_ntypes(const hl_dump *d);
double hl_dump_timestamp(const hl_dump *d);
/* The Python version string of the dumped process (NUL-terminated). */
const char *hl_dump_python(const hl_dump *d);

/* Object i (< hl_dump_count), decoded from the mapped file (text points
 * into the mapping, valid until hl_dump_close). Returns 0, or HL_EFORMAT
 * when the file was changed in place since it was opened, HL_EINVAL when
 * the object table could not be rebuilt after an earlier error. */
int hl_dump_get(hl_dump_object *out, const hl_dump *d, uint32_t i);

/* The name of type t (< hl_dump_ntypes), UTF-8, and the address of the
 * type object. */
const char *hl_dump_type_name(const hl_dump *d, uint32_t t, size_t *len, uint64_t *addr);

/* The index of the object at address `addr`, or -1. */
int64_t hl_dump_find(const hl_dump *d, uint64_t addr);

/* The references of object i, as object indices (*out borrowed, *n
 * entries, valid until the next call that may drop the graph:
 * hl_dump_dominators). The graph is rebuilt from the file if the dominator
 * computation dropped it. Returns 0, HL_EFORMAT or HL_ENOMEM. */
int hl_dump_referents(const uint32_t **out, size_t *n, hl_dump *d, uint32_t i);

/* The reference graph in CSR form (borrowed arrays, valid as above),
 * rebuilt if dropped. Returns 0, HL_EFORMAT or HL_ENOMEM. */
int hl_dump_graph(hl_digraph *g, hl_dump *d);

/* Root objects, each once (borrowed, *n entries): objects with more
 * references than the dump accounts for (held from C, a C stack, an
 * extension's statics, or an excluded object), modules, and the frames the
 * threads were running. */
const uint32_t *hl_dump_roots(const hl_dump *d, size_t *n);

/* (The shortest chain from a root to an object: hl_dominators_path_to_root
 * on hl_dump_graph and hl_dump_roots.) */

/* The immediate dominators and retained sizes (getsizeof model) of every
 * object, computed on first use and kept (hl_dominators). Drops the graph
 * (later rebuilt on demand) and invalidates pointers from
 * hl_dump_referents/hl_dump_graph. *idom and
 * *retained are borrowed, hl_dump_count entries. Returns 0, HL_ENOMEM or
 * HL_EINVAL. */
int hl_dump_dominators(const uint32_t **idom, const uint64_t **retained, hl_dump *d);

/* Per type index (ntypes entries, the caller's array): the bytes the
 * objects of that type retain together - the retained sizes of the objects
 * of the type that no other object of the type dominates. Computes the
 * dominator tree if needed. Returns 0, HL_ENOMEM or HL_EINVAL. */
int hl_dump_type_retained(uint64_t *out, hl_dump *d);

/* Release an array the functions above allocated. */
void hl_dump_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* HEAPLENS_DUMP_H */
