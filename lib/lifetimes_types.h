/*
 * lifetimes_types.h - the hot path of type resolution (internal): which
 * known type a block's header names, if any. The rules, and THE
 * INVARIANT (no word read from a block is ever followed unless it is the
 * address of a type learned through a route that reads no block), are in
 * lifetimes_types.c.
 */
#ifndef HL_LIFETIMES_TYPES_H
#define HL_LIFETIMES_TYPES_H
#include "lifetimes.h"
#include "lifetimes_records.h"

/* -- types -- */

static inline size_t
tfilter_bit(PyTypeObject *tp)
{
    return (size_t)(((uint64_t)(uintptr_t)tp * UINT64_C(0x9E3779B97F4A7C15)) >>
                    (64 - TYPE_FILTER_BITS));
}

/* The known type at `tp`, or NULL. Most misses are words that are no type
 * pointer at all (a gc header read as an object, a buffer): the filter
 * turns those away before the hash table walks a bucket chain. */
static inline tinfo *
tinfo_find(PyTypeObject *tp)
{
    size_t c = ((uintptr_t)tp >> 4) & (TYPE_CACHE - 1);
    tinfo *ti = T.tcache[c];
    if (ti != NULL && ti->type == tp)
        return ti;
    size_t b = tfilter_bit(tp);
    if (!(T.tfilter[b / 64] & (UINT64_C(1) << (b % 64))))
        return NULL;
    return tinfo_find_slow(tp, c);
}

static inline void
tinfo_settle(tinfo *ti)
{
    if (ti->preheader < 0 || ti->wanted < 0)
        tinfo_settle_slow(ti);
}

static inline size_t
nfilter_bit(uintptr_t a)
{
    return (size_t)(((uint64_t)a * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - 12));
}

static inline int
newtype_index(uintptr_t a)
{
    size_t b = nfilter_bit(a);
    if (!(T.nfilter[b / 64] & (UINT64_C(1) << (b % 64))))
        return -1;
    for (int i = 0; i < T.nnewtypes; i++)
        if (T.newtypes[i].type == a)
            return i;
    return -1;
}

/* Give a type to the allocation of record r (allocator backend).
 * RESOLVE_DONE when it is an object (the record now has its type, or was
 * dropped as unwanted); RESOLVE_WAIT when its type word is a candidate
 * type not verified yet (the record is marked TYPE_WAIT; the caller keeps
 * its key); RESOLVE_NOT when it is no object of a type we know, leaving the
 * record alone. `freeing`: the block is being freed now, its object
 * already finalised (refcount 0). Only words of the block are read, and
 * only known types are dereferenced (see THE INVARIANT). */
static HOT int
try_resolve(record *r, int freeing)
{
    char *block = (char *)r->key;
    size_t size = r->size;
    /* The type of the last block resolved here, when it has no pre-header
     * (a build makes many objects of one type in a row): the same test as
     * the loop's first round below, without the type cache. Its word is
     * compared with a known type's address, never followed. */
    tinfo *lt = T.last_ti;
    if (lt != NULL && size >= sizeof(PyObject) && size >= lt->min_size &&
        Py_TYPE((PyObject *)block) == lt->type) {
        Py_ssize_t rc = ((PyObject *)block)->ob_refcnt;
        if (rc >= (freeing ? 0 : 1) && rc <= ((Py_ssize_t)1 << 60)) {
            tstats *s = T.stats[lt->idx];
            r->bt = BT_TICKS(r->bt) | ((uint64_t)lt->idx << 48);
            s->born++;
            s->alive_bytes += size;
            return RESOLVE_DONE;
        }
    }
    /* Pre-headers are 0, 16 or 32 bytes. The smallest that fits wins: an
     * object's own fields can look like an object further in (a tuple whose
     * item 0 is a class reads, 16 bytes on, as an instance of it). */
    for (size_t off = 0; off <= 32; off += 16) {
        if (off + sizeof(PyObject) > size)
            break;
        PyObject *op = (PyObject *)(block + off);
        Py_ssize_t rc = op->ob_refcnt;
        if (rc < (freeing ? 0 : 1) || rc > ((Py_ssize_t)1 << 60))
            continue;
        tinfo *ti = tinfo_find(Py_TYPE(op));
        if (ti == NULL) {
            if (T.nnewtypes != 0 && !freeing && newtype_index((uintptr_t)Py_TYPE(op)) >= 0) {
                r->bt = BT_TICKS(r->bt) | ((uint64_t)(TYPE_WAIT + off / 16) << 48);
                return RESOLVE_WAIT;
            }
            continue;
        }
        tinfo_settle(ti);
        if ((size_t)ti->preheader != off || ti->min_size > size - off)
            continue;
        if (ti->is_meta && !freeing && size - off >= sizeof(PyTypeObject))
            newtype_note((uintptr_t)op, (uintptr_t)block);
        if (!ti->wanted) {
            if (ti->is_meta) {
                r->bt = BT_TICKS(r->bt) | ((uint64_t)TYPE_HIDDEN << 48);
                return RESOLVE_DONE;
            }
            rec_drop(r);
            return RESOLVE_DONE;
        }
        tstats *s = ti->idx != 0 ? T.stats[ti->idx] : stats_for(ti);
        if (s == NULL) {
            T.dropped++;
            rec_drop(r);
            return RESOLVE_DONE;
        }
        r->bt = BT_TICKS(r->bt) | ((uint64_t)ti->idx << 48);
        s->born++;
        s->alive_bytes += r->size;
        if (off == 0 && !ti->is_meta) /* (wanted, settled, with figures) */
            T.last_ti = ti;
        return RESOLVE_DONE;
    }
    return RESOLVE_NOT;
}

/* Whether a block that is no object yet may still become one: its first
 * two words (where a gc header goes) are zero. On 3.9-3.11 a gc object's
 * header is zeroed and then, before its refcount and type are written,
 * the allocation may run a whole collection whose events would find it
 * half made. Only the header is zero then: the words after it still hold
 * whatever the block held before (pointers, when it was a buffer), so
 * they prove nothing. Zero-headed buffers look the same; they wait a
 * bounded number of events and are then dropped. */
static inline int
may_become_object(const record *r)
{
    const uintptr_t *w = (const uintptr_t *)r->key;
    if (r->size < sizeof(PyObject) + 2 * sizeof(uintptr_t))
        return 0;
    return w[0] == 0 && (w[1] & ~(uintptr_t)3) == 0;
}

/* r: the pending record, in the nursery. */
/* A record that try_resolve marked TYPE_WAIT: keep its key for the next
 * safe point, or give it up when the list is full. */
static inline void
wait_for_type(record *r)
{
    if (waiting_push(r->key) < 0) {
        T.unresolved++;
        rec_drop(r);
    }
}

static HOT void
resolve_block(record *r, int freeing)
{
    int res = try_resolve(r, freeing);
    if (res == RESOLVE_DONE)
        return;
    if (res == RESOLVE_WAIT) {
        wait_for_type(r);
        return;
    }
    if (!freeing && may_become_object(r)) {
        if (T.ndeferred == DEFER_N && T.collecting) {
            /* The oldest may be the object whose allocation runs this
             * collection: the newcomer gives up instead. */
            T.unresolved++;
            rec_drop(r);
            return;
        }
        uintptr_t key = r->key; /* (r may move below: a parked record is
                                   not always in the nursery) */
        if (T.ndeferred == DEFER_N) { /* full: the oldest gives up */
            record *o = rec_find(T.deferred[0]);
            if (o != NULL && o != r && BT_TYPE(o->bt) == 0) {
                T.unresolved++;
                rec_drop(o);
            }
            memmove(&T.deferred[0], &T.deferred[1], (DEFER_N - 1) * sizeof(uintptr_t));
            memmove(&T.deferred_tries[0], &T.deferred_tries[1], (DEFER_N - 1) * sizeof(uint16_t));
            T.ndeferred--;
        }
        T.deferred[T.ndeferred] = key;
        T.deferred_tries[T.ndeferred++] = 0;
        return;
    }
    T.unresolved++;
    rec_drop(r);
}

/* The type of a tracer record is known at birth; its size is read now,
 * when a var-sized object has its length. */
static inline void
resolve_object(record *r)
{
    PyObject *op = (PyObject *)r->key;
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t))
        return;
    PyTypeObject *tp = Py_TYPE(op);
    uint64_t size = (uint64_t)tp->tp_basicsize;
    if (PyLong_CheckExact(op))
        size = (uint64_t)hl_compat__int_sizeof(op);
    else if (tp->tp_itemsize != 0 && Py_REFCNT(op) > 0)
        size += (uint64_t)tp->tp_itemsize * (uint64_t)Py_ABS(Py_SIZE(op));
    size += (uint64_t)hl_compat__preheader(tp);
    if (size > UINT32_MAX)
        size = UINT32_MAX;
    T.stats[t]->alive_bytes += size - r->size;
    r->size = (uint32_t)size;
}

/* The parked block (see `parked`), resolved now that its allocation has
 * returned: it is whole, or being freed (`freeing`: its key). */
void settle_parked(uintptr_t freeing);

/* Whether the collector runs now (3.9-3.11; 0 when the flag is unknown). */
static inline int
gc_running(void)
{
    return T.gc_flag != NULL && *T.gc_flag != 0;
}

static inline void
settle_pending(uintptr_t freeing)
{
    if (T.parked != 0 && (T.parked == freeing || !gc_running()))
        settle_parked(freeing);
    if (!T.has_pending)
        return;
    T.has_pending = 0;
    if (T.backend == HL_BACKEND_ALLOCATOR) {
        int freeing_it = T.pending->key == freeing;
        /* Made before the running collection began: perhaps the object
         * whose allocation runs it, its type not written yet. (Collections
         * do not nest, so a block parked before belongs to one that ended,
         * and its allocation has returned.) */
        if (!freeing_it && !T.pending_gc && gc_running()) {
            if (T.parked != 0)
                settle_parked(0);
            T.parked = T.pending->key;
            return;
        }
        resolve_block(T.pending, freeing_it);
    } else {
        resolve_object(T.pending);
    }
}
#endif
