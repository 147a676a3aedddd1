/*
 * lifetimes_types.c - types for the allocator backend: the table of known
 * types, new classes learned while tracking, and the blocks that wait for
 * them. The hot path (resolving a block) is in lifetimes_types.h.
 *
 * THE INVARIANT. The hooks read the first words of every block, and a
 * block may be anything: a bytearray's payload, a pickle, a dict's keys.
 * So a word read from a block is never followed. A word is taken as a type
 * only when it is the address of a type in the `tinfos` table, and a type
 * enters that table only through a route that does not read blocks:
 *
 * - at start, every type alive (the Python side finds them through
 *   type.__subclasses__ from object);
 * - later, at a safe point (learn: an API call, or our gc.callbacks entry,
 *   never inside a hook), a candidate is verified by asking its base class,
 *   itself a known type, for its subclasses through type.__subclasses__ (C
 *   code that reads the interpreter's own subclass registry).
 *
 * A candidate is a block that reads as an instance of a known metatype
 * (`type`, or a metaclass): a class made while tracking, or bytes laid out
 * like one. Nothing dereferences a candidate before it is verified: blocks
 * whose type word is a candidate wait (TYPE_WAIT) and are resolved at the
 * next safe point, or dropped and counted. A type that dies leaves the
 * table before its address can be reused (type_died).
 *
 * Even a verified type word can sit in a payload that only looks like an
 * object of that type; such a record is counted born and dead like any
 * other, but nothing is ever read through it: figures about live objects,
 * and objects handed to Python, come from a heap walk that reaches real
 * objects only (confirm). */


#include "lifetimes.h"
#include "lifetimes_records.h"
#include "lifetimes_types.h"

#define NEWTYPE_TRIES 64 /* safe points a candidate may stay unverified */
#define WAITING_MAX (1u << 20)
static int learn_pending(void *arg);

/* The hash-table lookup behind tinfo_find. */
tinfo *
tinfo_find_slow(PyTypeObject *tp, size_t c)
{
    tinfo *ti;
    HASH_FIND_PTR(T.tinfos, &tp, ti);
    if (ti != NULL)
        T.tcache[c] = ti;
    return ti;
}

tinfo *
tinfo_add(PyTypeObject *tp, int hold)
{
    tinfo *ti = hl_mem__sys_calloc(1, sizeof(tinfo));
    if (ti == NULL)
        return NULL;
    ti->type = tp;
    ti->preheader = -1;
    ti->wanted = -1;
    hl_hash__oom = 0;
    HASH_ADD_PTR(T.tinfos, type, ti);
    if (hl_hash__oom) {
        hl_mem__sys_free(ti);
        return NULL;
    }
    if (hold) {
        Py_INCREF(tp);
        ti->held = 1;
    }
    size_t b = tfilter_bit(tp);
    T.tfilter[b / 64] |= UINT64_C(1) << (b % 64); /* never cleared until release_all */
    T.ntinfos++;
    return ti;
}

void
tinfo_forget(tinfo *ti)
{
    HASH_DEL(T.tinfos, ti);
    memset(T.tcache, 0, sizeof(T.tcache)); /* its filter bit stays: a false hit at worst */
    T.last_ti = NULL;
    T.ntinfos--;
    hl_mem__sys_free(ti);
}

/* The smallest block an instance of a type may have. Compact strs are
 * shorter than str's tp_basicsize (that of a non-compact str): an ASCII
 * str of n characters takes sizeof(PyASCIIObject) + n + 1 bytes, so 3.11's
 * "12" is a 51-byte block where tp_basicsize says 80. */
static size_t
tinfo_min_size_of(PyTypeObject *tp)
{
    if (tp == &PyUnicode_Type)
        return sizeof(PyASCIIObject) + 1;
    return (size_t)tp->tp_basicsize;
}

/* Reads the type (alive: we know it). */
void
tinfo_settle_slow(tinfo *ti)
{
    PyTypeObject *tp = ti->type;
    if (ti->preheader < 0)
        ti->preheader = (int16_t)hl_compat__preheader(tp);
    ti->min_size = (uint32_t)tinfo_min_size_of(tp);
    if (ti->wanted < 0) {
        int w = T.types == NULL;
        for (Py_ssize_t i = 0; !w && i < PyTuple_GET_SIZE(T.types); i++)
            w = PyType_IsSubtype(tp, (PyTypeObject *)PyTuple_GET_ITEM(T.types, i));
        ti->wanted = (int8_t)w;
        ti->is_meta = PyType_IsSubtype(tp, &PyType_Type) != 0;
    }
}

/* Figures for the type, taking a reference to it. NULL on OOM. */
tstats *
stats_for(tinfo *ti)
{
    if (ti->idx != 0)
        return T.stats[ti->idx];
    if (T.nstats >= TYPE_MAX)
        return NULL;
    if (T.nstats + 1 >= T.capstats) {
        size_t cap = T.capstats ? T.capstats * 2 : 64;
        tstats **a = hl_mem__sys_calloc(cap, sizeof(tstats *));
        if (a == NULL)
            return NULL;
        if (T.stats != NULL)
            memcpy(a, T.stats, T.capstats * sizeof(tstats *));
        hl_mem__sys_free(T.stats);
        T.stats = a;
        T.capstats = cap;
    }
    tstats *s = hl_mem__sys_calloc(1, sizeof(tstats));
    if (s == NULL)
        return NULL;
    s->ti = ti;
    s->is_meta = ti->is_meta;
    if (!ti->held) {
        Py_INCREF(ti->type);
        ti->held = 1;
    }
    T.stats[++T.nstats] = s;
    ti->idx = (uint16_t)T.nstats;
    return s;
}

/* A block at `block` reads as a type object at `type`: remember it as a
 * candidate (nothing is read through it here). */
void
newtype_note(uintptr_t type, uintptr_t block)
{
    if (tinfo_find((PyTypeObject *)type) != NULL || newtype_index(type) >= 0)
        return;
    if (T.nnewtypes == (int)(sizeof(T.newtypes) / sizeof(T.newtypes[0]))) {
        T.types_unverified++;
        return;
    }
    T.newtypes[T.nnewtypes].type = type;
    T.newtypes[T.nnewtypes].block = block;
    T.newtypes[T.nnewtypes++].tries = 0;
    size_t b = nfilter_bit(type);
    T.nfilter[b / 64] |= UINT64_C(1) << (b % 64);
    /* Ask the eval loop for a safe point soon (a few bytecodes on, in the
     * main thread): Py_AddPendingCall takes a lock and fills a slot of a
     * fixed array, allocating nothing. When its queue is full, the next
     * collection or API call is the safe point instead. */
    if (!T.learn_scheduled && Py_AddPendingCall(learn_pending, NULL) == 0)
        T.learn_scheduled = 1;
}

static void
newtype_remove(int i)
{
    T.newtypes[i] = T.newtypes[--T.nnewtypes];
    if (T.nnewtypes == 0)
        memset(T.nfilter, 0, sizeof(T.nfilter));
}

/* A block is freed: a candidate made of it is gone. */
void
newtype_forget_block(uintptr_t block)
{
    for (int i = 0; i < T.nnewtypes; i++)
        if (T.newtypes[i].block == block) {
            newtype_remove(i);
            return;
        }
}

int
waiting_push(uintptr_t key)
{
    if (T.nwaiting == T.capwaiting) {
        if (T.capwaiting >= WAITING_MAX)
            return -1;
        size_t cap = T.capwaiting ? T.capwaiting * 2 : 1024;
        uintptr_t *a = hl_mem__sys_calloc(cap, sizeof(uintptr_t));
        if (a == NULL)
            return -1;
        if (T.waiting != NULL)
            memcpy(a, T.waiting, T.nwaiting * sizeof(uintptr_t));
        hl_mem__sys_free(T.waiting);
        T.waiting = a;
        T.capwaiting = cap;
    }
    T.waiting[T.nwaiting++] = key;
    return 0;
}

void
settle_parked(uintptr_t freeing)
{
    uintptr_t key = T.parked;
    T.parked = 0;
    record *r = rec_find(key);
    if (r == NULL || BT_TYPE(r->bt) != 0 || (T.has_pending && r == T.pending))
        return; /* freed, or the address holds a newer record */
    resolve_block(r, key == freeing);
}

/* Try the deferred blocks again (at a malloc, never inside a free). */
void
retry_deferred(void)
{
    int k = 0;
    for (int j = 0; j < T.ndeferred; j++) {
        record *r = rec_find(T.deferred[j]);
        if (r == NULL || BT_TYPE(r->bt) != 0 || (T.has_pending && r == T.pending))
            continue; /* freed, or the address now holds a newer record */
        int res = try_resolve(r, 0);
        if (res == RESOLVE_DONE)
            continue;
        if (res == RESOLVE_WAIT) {
            wait_for_type(r);
            continue;
        }
        /* While a collection runs, a half-made object may wait for as long
         * as the collection takes (finalizers allocate): no try counts. */
        if (!T.collecting)
            T.deferred_tries[j]++;
        if (T.deferred_tries[j] >= DEFER_TRIES || !may_become_object(r)) {
            T.unresolved++;
            rec_drop(r);
            continue;
        }
        T.deferred[k] = T.deferred[j];
        T.deferred_tries[k++] = T.deferred_tries[j];
    }
    T.ndeferred = k;
}

/* A type object dies (its record is at block `key`): forget it before its
 * address is reused. Its pre-header is that of its metatype, a gc type: 16
 * bytes, plus 16 on 3.11+ if the metatype manages dicts (none does). */
void
type_died(uintptr_t key)
{
    if (T.nnewtypes != 0)
        newtype_forget_block(key);
    for (size_t off = 16; off <= 32; off += 16) {
        tinfo *ti = tinfo_find((PyTypeObject *)(key + off));
        if (ti != NULL && !ti->held) {
            tinfo_forget(ti);
            break;
        }
    }
}

/* ---- the safe point: verify new types, resolve what waits for them --------
 * Called outside the hooks, with the GIL, in a consistent interpreter: from
 * the API below and from our gc.callbacks entry (a collection is running
 * then, so the list __subclasses__ allocates cannot start another). */

/* Whether the candidate `c` is a real type: its base (read from the
 * candidate's block, which is alive: a word read, not followed) must be a
 * known type that lists it among its subclasses. 1 yes, 0 not (yet), -1 the
 * candidate is gone. Runs C code of the interpreter, which allocates. */
static int
newtype_verify(int i)
{
    uintptr_t type = T.newtypes[i].type, block = T.newtypes[i].block;
    record *r = rec_find(block);
    if (r == NULL || r->size < (type - block) + sizeof(PyTypeObject))
        return -1; /* freed (or now a smaller block) */
    tinfo *meta = tinfo_find(Py_TYPE((PyObject *)type));
    if (meta == NULL || !meta->is_meta)
        return -1; /* the block no longer reads as a type */
    PyTypeObject *base = ((PyTypeObject *)type)->tp_base;
    if (base == NULL || tinfo_find(base) == NULL || T.subclasses == NULL)
        return 0; /* not readied yet, or its base is new too */
    PyObject *subs = PyObject_CallOneArg(T.subclasses, (PyObject *)base);
    if (subs == NULL) {
        PyErr_Clear();
        return 0;
    }
    int found = 0;
    if (PyList_Check(subs))
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(subs) && !found; k++)
            found = (uintptr_t)PyList_GET_ITEM(subs, k) == type;
    Py_DECREF(subs);
    return found;
}

/* A record that waited for a candidate died: keep what is needed to count
 * its birth and death once the candidate is verified. `off`: where its
 * header is (the block is being freed; its words are still there). */
void
waiting_died(const record *r, uint64_t now_ticks)
{
    uint32_t off = (BT_TYPE(r->bt) - TYPE_WAIT) * 16;
    if (T.ndeadwait == T.capdeadwait) {
        size_t cap = T.capdeadwait ? T.capdeadwait * 2 : 256;
        if (cap > 65536) {
            T.unresolved++;
            return;
        }
        dead_waiting *a = hl_mem__sys_calloc(cap, sizeof(dead_waiting));
        if (a == NULL) {
            T.unresolved++;
            return;
        }
        if (T.deadwait != NULL)
            memcpy(a, T.deadwait, T.ndeadwait * sizeof(dead_waiting));
        hl_mem__sys_free(T.deadwait);
        T.deadwait = a;
        T.capdeadwait = cap;
    }
    dead_waiting *d = &T.deadwait[T.ndeadwait++];
    d->type = (uintptr_t)Py_TYPE((PyObject *)(r->key + off));
    d->bt = r->bt;
    d->death = now_ticks;
    d->size = r->size;
}

/* Count the births and deaths of records that died waiting, whose type is
 * now known; forget those whose candidate is gone. */
static void
settle_dead_waiting(void)
{
    size_t k = 0;
    for (size_t i = 0; i < T.ndeadwait; i++) {
        dead_waiting *d = &T.deadwait[i];
        tinfo *ti = tinfo_find((PyTypeObject *)d->type);
        if (ti == NULL) {
            if (newtype_index(d->type) >= 0)
                T.deadwait[k++] = *d; /* its candidate is still pending */
            else
                T.unresolved++;
            continue;
        }
        tinfo_settle(ti);
        if (!ti->wanted)
            continue;
        tstats *s = stats_for(ti);
        if (s == NULL) {
            T.dropped++;
            continue;
        }
        record tmp = {0, d->bt, 0, d->size};
        s->born++;
        s->alive_bytes += d->size;
        count_death(s, &tmp, d->death);
    }
    T.ndeadwait = k;
}

static int
learn_pending(void *arg)
{
    (void)arg;
    T.learn_scheduled = 0;
    if (T.active && !reent)
        learn();
    return 0;
}

void
learn(void)
{
    if (!T.active || T.backend != HL_BACKEND_ALLOCATOR ||
        (T.nnewtypes == 0 && T.nwaiting == 0 && T.ndeadwait == 0))
        return;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyThreadState *was_quiet = T.quiet_self;
    T.quiet_self = hl_compat__tstate();
    /* A base may itself be a candidate: go on while something is learned.
     * Downwards, as a removal moves the last candidate into the gap. */
    for (int progress = 1; progress && T.nnewtypes > 0;) {
        progress = 0;
        for (int i = T.nnewtypes - 1; i >= 0; i--) {
            if (i >= T.nnewtypes)
                continue;
            uintptr_t type = T.newtypes[i].type;
            int v = newtype_verify(i);
            int j = newtype_index(type); /* verify may have run frees */
            if (j < 0)
                continue;
            if (v == 0 && ++T.newtypes[j].tries < NEWTYPE_TRIES)
                continue;
            newtype_remove(j);
            if (v == 1) {
                tinfo *ti = tinfo_find((PyTypeObject *)type);
                if (ti == NULL)
                    ti = tinfo_add((PyTypeObject *)type, 0);
                if (ti == NULL)
                    T.dropped++;
                else
                    tinfo_settle(ti);
                progress = 1;
            } else if (v == 0) {
                T.types_unverified++;
            }
        }
    }
    /* The records waiting for a candidate: resolve them now, or go on
     * waiting for a candidate still pending, or give up. */
    reent = 1;
    size_t k = 0;
    for (size_t i = 0; i < T.nwaiting; i++) {
        uintptr_t key = T.waiting[i];
        record *r = rec_find(key);
        if (r == NULL || !type_waiting(BT_TYPE(r->bt)))
            continue; /* died meanwhile, or an older entry of a reused address */
        r->bt = BT_TICKS(r->bt);
        int res = try_resolve(r, 0);
        if (res == RESOLVE_WAIT) {
            T.waiting[k++] = key;
        } else if (res == RESOLVE_NOT) {
            T.unresolved++;
            rec_drop(r);
        }
    }
    T.nwaiting = k;
    settle_dead_waiting();
    reent = 0;
    T.quiet_self = was_quiet;
    PyErr_Restore(et, ev, tb);
}

/* Outside any allocation (the API calls below): every object is whole, and
 * every record goes to the big table, where the API reads them. */
void
settle_all(void)
{
    if (!T.active)
        return;
    reent = 1;
    settle_pending(0);
    if (T.backend == HL_BACKEND_ALLOCATOR && T.ndeferred)
        retry_deferred();
    reent = 0;
    learn();
    reent = 1;
    nursery_flush();
    reent = 0;
}
