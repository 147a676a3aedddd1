/*
 * dump.c - the heap dump writer: one whole-heap walk (the snapshot's:
 * hl_heap_walk), whose object and edge callbacks stream records into a
 * 1 MiB buffer that is written out as it fills. docs/format.md describes
 * the records.
 *
 * Bounded memory: besides the walk's own bookkeeping (its visited set, its
 * stack) the writer keeps the buffer, one row per type and the references
 * of the object being gathered (its largest container's length, at most).
 *
 * Why the walk's callbacks give a complete picture: in an unordered walk
 * an object that has referents is counted (on_object) when popped, and its
 * referents are gathered (on_edge, one call per reference, repeats
 * included) right after, before the next object is popped; leaf objects
 * (ints, strs...) are counted inside that gathering, right after the edge
 * that found them. So the edges of one parent arrive together, after its
 * own record, and the writer only has to hold them until the parent
 * changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "dump_format.h"
#include "error.h"
#include "hash.h"
#include "heaplens/dump.h"
#include "mem.h"
#include "sizes.h"

#define BUF_SIZE (1u << 20)

typedef struct {
    PyTypeObject *type; /* borrowed: the walk's type cache holds it */
    uint32_t index;
    UT_hash_handle hh;
} type_row;

typedef struct {
    FILE *f;
    unsigned char *buf;
    size_t len;
    uint64_t written;
    uint32_t crc;
    int io_err;
    hl_sizes__types alloc_types; /* the allocator model's flat sizes */
    type_row *types;
    type_row *last_type;
    uint32_t ntypes;
    uint64_t nobjects, nrefs, nframes, size;
    uintptr_t prev_addr;
    /* the parent whose references are being gathered */
    PyObject *parent;
    uint64_t parent_ordinal;
    PyObject *cur_obj; /* last object counted with referents to follow */
    uint64_t cur_ordinal;
    PyObject **refs;
    size_t nref, capref;
    size_t peak;
    hl_addrset *excluded; /* what hl_heap_walk leaves out, or NULL */
    int err; /* the error a callback stopped the walk with */
    char msg[256];
} writer;

/* Remember why a callback stops the walk (the walk then sets its own
 * "walk stopped" message). Returns 1, the callbacks' stop value. */
static int
stop(writer *w, int rc)
{
    const char *m = hl_error_last();
    w->err = rc;
    snprintf(w->msg, sizeof(w->msg), "%s", m ? m : "dump failed");
    return 1;
}

/* ---- CRC-32 ------------------------------------------------------------- */

/* Slicing by 4 (four table lookups per 4 bytes): a byte-at-a-time CRC took
 * about a tenth of a dump's time. */
static uint32_t crc_table[4][256];
static int crc_ready;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
    crc_ready = 1;
}

uint32_t
hl_dump__crc32(uint32_t crc, const unsigned char *p, size_t n)
{
    if (!crc_ready)
        crc_init();
    crc = ~crc;
    while (n >= 4) {
        crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        crc = crc_table[3][crc & 0xFF] ^ crc_table[2][(crc >> 8) & 0xFF] ^
              crc_table[1][(crc >> 16) & 0xFF] ^ crc_table[0][crc >> 24];
        p += 4;
        n -= 4;
    }
    while (n-- > 0)
        crc = crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- buffered output ---------------------------------------------------- */

static int
flush(writer *w)
{
    if (w->len == 0 || w->io_err)
        return w->io_err ? HL_EINVAL : 0;
    w->crc = hl_dump__crc32(w->crc, w->buf, w->len);
    if (fwrite(w->buf, 1, w->len, w->f) != w->len) {
        w->io_err = errno ? errno : EIO;
        return hl_error__set(HL_EINVAL, "cannot write the dump: %s", strerror(w->io_err));
    }
    w->written += w->len;
    w->len = 0;
    return 0;
}

/* Make room for `n` more bytes (n <= BUF_SIZE). */
static inline int
reserve(writer *w, size_t n)
{
    if (w->len + n > BUF_SIZE)
        return flush(w);
    return 0;
}

static inline void
put_varint(writer *w, uint64_t v)
{
    while (v >= 0x80) {
        w->buf[w->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    w->buf[w->len++] = (unsigned char)v;
}

static inline void
put_bytes(writer *w, const void *p, size_t n)
{
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void
put_u64(writer *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w->buf[w->len++] = (unsigned char)(v >> (8 * i));
}

/* ---- texts -------------------------------------------------------------- */

/* Append code point c as UTF-8 (a lone surrogate becomes U+FFFD). */
static size_t
utf8(char *out, Py_UCS4 c)
{
    if (c >= 0xD800 && c <= 0xDFFF)
        c = 0xFFFD;
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The first characters of a str, as UTF-8, at most `max` bytes. Reads the
 * characters in place: PyUnicode_AsUTF8 would cache an encoded copy on a
 * non-ASCII string and so grow the heap being dumped. */
static size_t
str_text(char *out, PyObject *s, size_t max)
{
    if (PyUnicode_READY(s) < 0) { /* never on 3.12+; a legacy str elsewhere */
        PyErr_Clear();
        return 0;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    size_t len = 0;
    if (PyUnicode_IS_ASCII(s)) { /* ASCII is its own UTF-8 */
        len = (size_t)n < max ? (size_t)n : max;
        memcpy(out, data, len);
        return len;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        char tmp[4];
        size_t k = utf8(tmp, PyUnicode_READ(kind, data, i));
        if (len + k > max)
            break;
        memcpy(out + len, tmp, k);
        len += k;
    }
    return len;
}

/* bytes: printable ASCII as is, anything else as \xNN. */
static size_t
bytes_text(char *out, const unsigned char *p, Py_ssize_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            if (len + 1 > max)
                break;
            out[len++] = (char)c;
        }
        else {
            if (len + 4 > max)
                break;
            out[len++] = '\\';
            out[len++] = 'x';
            out[len++] = hex[c >> 4];
            out[len++] = hex[c & 15];
        }
    }
    return len;
}

/* "module.qualname" of a type (the bare qualname for builtins), as the
 * snapshot names its rows; tp_name when the attributes cannot be read.
 * Returns the length written to `out` (at most `max`). */
static size_t
type_text(char *out, PyTypeObject *tp, size_t max)
{
    PyObject *et, *ev, *tb;
    size_t len = 0;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    PyObject *qual = mod ? PyObject_GetAttrString((PyObject *)tp, "__qualname__") : NULL;
    if (mod != NULL && qual != NULL && PyUnicode_Check(mod) && PyUnicode_Check(qual)) {
        if (PyUnicode_CompareWithASCIIString(mod, "builtins") != 0) {
            len = str_text(out, mod, max > 1 ? max - 1 : 0);
            out[len++] = '.';
        }
        len += str_text(out + len, qual, max - len);
    }
    else {
        PyErr_Clear();
        len = strlen(tp->tp_name);
        if (len > max)
            len = max;
        memcpy(out, tp->tp_name, len);
    }
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    PyErr_Clear();
    PyErr_Restore(et, ev, tb);
    return len;
}

/* A short text for values and names; 0 when the object has none, else the
 * length + 1 (an empty str has text ""). */
static size_t
object_text(char *out, PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (PyUnicode_Check(o))
        return str_text(out, o, HL_DUMP_TEXT_MAX) + 1;
    if (PyBytes_Check(o))
        return bytes_text(out, (const unsigned char *)PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o),
                          HL_DUMP_TEXT_MAX) + 1;
    if (PyBool_Check(o))
        return (size_t)snprintf(out, 8, "%s", o == Py_True ? "True" : "False") + 1;
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (overflow)
            return 0;
        memcpy(out, &v, 8);
        return HL_TEXT_INT;
    }
    if (PyFloat_Check(o)) {
        double v = PyFloat_AS_DOUBLE(o);
        memcpy(out, &v, 8);
        return HL_TEXT_FLOAT;
    }
    if (PyType_Check(o))
        return type_text(out, (PyTypeObject *)o, HL_DUMP_NAME_MAX) + 1;
    if (PyFunction_Check(o)) {
        PyObject *q = ((PyFunctionObject *)o)->func_qualname;
        return q && PyUnicode_Check(q) ? str_text(out, q, HL_DUMP_NAME_MAX) + 1 : 0;
    }
    if (PyModule_Check(o)) {
        PyObject *d = PyModule_GetDict(o); /* borrowed */
        PyObject *name = d ? PyDict_GetItemString(d, "__name__") : NULL; /* borrowed */
        return name && PyUnicode_Check(name) ? str_text(out, name, HL_DUMP_NAME_MAX) + 1 : 0;
    }
    if (PyCFunction_Check(o)) {
        PyMethodDef *ml = ((PyCFunctionObject *)o)->m_ml;
        if (ml == NULL || ml->ml_name == NULL)
            return 0;
        size_t n = strlen(ml->ml_name);
        if (n > HL_DUMP_NAME_MAX)
            n = HL_DUMP_NAME_MAX;
        memcpy(out, ml->ml_name, n);
        return n + 1;
    }
    if (PyCode_Check(o)) {
        PyObject *name = ((PyCodeObject *)o)->co_name;
        return name && PyUnicode_Check(name) ? str_text(out, name, HL_DUMP_NAME_MAX) + 1 : 0;
    }
    (void)tp;
    return 0;
}

/* ---- records ------------------------------------------------------------ */

static int
type_index(writer *w, PyTypeObject *tp, uint32_t *out)
{
    type_row *r = w->last_type;
    if (r == NULL || r->type != tp) {
        HASH_FIND_PTR(w->types, &tp, r);
        if (r == NULL) {
            char name[HL_DUMP_NAME_MAX + 8];
            size_t n = type_text(name, tp, HL_DUMP_NAME_MAX);
            int rc;
            r = hl_mem__calloc(1, sizeof(*r));
            if (r == NULL)
                return hl_error__set(HL_ENOMEM, "out of memory for a dump type row");
            r->type = tp;
            r->index = w->ntypes;
            hl_hash__oom = 0;
            HASH_ADD_PTR(w->types, type, r);
            if (hl_hash__oom) {
                hl_mem__free(r);
                return hl_error__set(HL_ENOMEM, "out of memory for the dump type table");
            }
            w->ntypes++;
            if ((rc = reserve(w, 1 + 10 + 10 + n)) < 0)
                return rc;
            w->buf[w->len++] = HL_REC_TYPE;
            put_varint(w, (uint64_t)(uintptr_t)tp);
            put_varint(w, n);
            put_bytes(w, name, n);
        }
        w->last_type = r;
    }
    *out = r->index;
    return 0;
}

/* Write the buffered references of the current parent. */
static int
flush_refs(writer *w)
{
    if (w->parent == NULL)
        return 0;
    PyObject *p = w->parent;
    uint8_t labels = PyDict_CheckExact(p) ? HL_LABEL_PAIRS
                     : (PyList_CheckExact(p) || PyTuple_CheckExact(p)) ? HL_LABEL_INDEX
                                                                       : HL_LABEL_NONE;
    if (labels == HL_LABEL_PAIRS && (size_t)PyDict_GET_SIZE(p) * 2 != w->nref)
        labels = HL_LABEL_NONE; /* a registry entry added referents: no pairs */
    if (labels == HL_LABEL_INDEX && (size_t)Py_SIZE(p) != w->nref)
        labels = HL_LABEL_NONE;
    int rc = reserve(w, 1 + 10 + 10 + 1);
    if (rc < 0)
        return rc;
    w->buf[w->len++] = HL_REC_REFS;
    put_varint(w, w->nobjects - 1 - w->parent_ordinal);
    put_varint(w, w->nref);
    w->buf[w->len++] = labels;
    uintptr_t prev = (uintptr_t)p;
    for (size_t i = 0; i < w->nref; i++) {
        uintptr_t a = (uintptr_t)w->refs[i];
        if ((rc = reserve(w, 10)) < 0)
            return rc;
        put_varint(w, hl_dump__zigzag(((int64_t)a - (int64_t)prev) >> 3));
        prev = a;
    }
    w->nrefs += w->nref;
    w->nref = 0;
    w->parent = NULL;
    return 0;
}

static int
on_edge(PyObject *parent, PyObject *child, void *payload)
{
    writer *w = payload;
    if (parent != w->parent) {
        int rc = flush_refs(w);
        if (rc < 0)
            return stop(w, rc);
        if (parent != w->cur_obj)
            return stop(w, hl_error__set(HL_ESTATE, "dump: references of an object not just "
                                                    "counted"));
        w->parent = parent;
        w->parent_ordinal = w->cur_ordinal;
    }
    if (((uintptr_t)child & 7) != 0)
        return stop(w, hl_error__set(HL_ESTATE, "dump: an object at an unaligned address %p",
                                     (void *)child));
    /* A reference into what the caller excluded points at no record. */
    if (w->excluded != NULL && hl_addrset_contains(w->excluded, child))
        return 0;
    if (w->nref == w->capref) {
        size_t ncap = w->capref ? w->capref * 2 : 1024;
        PyObject **p = hl_mem__realloc(w->refs, ncap * sizeof(PyObject *));
        if (p == NULL)
            return stop(w, hl_error__set(HL_ENOMEM, "out of memory for %zu references of one "
                                                    "object", ncap));
        w->refs = p;
        w->capref = ncap;
        if (ncap * sizeof(PyObject *) > w->peak)
            w->peak = ncap * sizeof(PyObject *);
    }
    w->refs[w->nref++] = child;
    return 0;
}

static int
on_object(const hl_walk_event *ev, void *payload)
{
    writer *w = payload;
    PyObject *o = ev->obj;
    hl_sizes__typeinfo *ti = hl_sizes__get(&w->alloc_types, Py_TYPE(o));
    Py_ssize_t asize = 0;
    uint32_t t = 0;
    char text[HL_DUMP_NAME_MAX + 8];
    int rc;
    if (ti == NULL) {
        return stop(w, PyErr_Occurred() ? HL_EPYTHON : HL_ENOMEM);
    }
    if (((uintptr_t)o & 7) != 0) {
        return stop(w, hl_error__set(HL_ESTATE, "dump: an object at an unaligned address %p",
                                     (void *)o));
    }
    /* A non-leaf object is counted when popped: the references of the
     * previous parent are complete. A leaf is counted in the middle of its
     * parent's references, which go on after it. */
    if ((!ti->leaf && (rc = flush_refs(w)) < 0) ||
        (rc = hl_sizes__flat(&asize, &w->alloc_types, ti, o)) < 0 ||
        (rc = type_index(w, Py_TYPE(o), &t)) < 0) {
        return stop(w, rc);
    }
    /* The walk's own references: one from its stack while an object with
     * referents is processed, one from the array of gc roots when the
     * object is tracked. */
    Py_ssize_t refcnt = Py_REFCNT(o);
    if (!ti->leaf)
        refcnt--;
    if (PyObject_IS_GC(o) && PyObject_GC_IsTracked(o))
        refcnt--;
    if (refcnt < 0)
        refcnt = 0;
    size_t tlen = object_text(text, o);
    if ((rc = reserve(w, 1 + 10 * 5 + 10 + tlen)) < 0) {
        return stop(w, rc);
    }
    w->buf[w->len++] = HL_REC_OBJECT;
    put_varint(w, hl_dump__zigzag(((int64_t)(uintptr_t)o - (int64_t)w->prev_addr) >> 3));
    w->prev_addr = (uintptr_t)o;
    put_varint(w, t);
    put_varint(w, (uint64_t)ev->flat);
    put_varint(w, hl_dump__zigzag((int64_t)asize - (int64_t)ev->flat));
    put_varint(w, (uint64_t)refcnt);
    put_varint(w, tlen);
    if (tlen == HL_TEXT_INT) {
        int64_t v;
        memcpy(&v, text, 8);
        put_varint(w, hl_dump__zigzag(v));
    }
    else if (tlen == HL_TEXT_FLOAT) {
        put_bytes(w, text, 8); /* little-endian hosts only (x86-64, arm64) */
    }
    else if (tlen > 1) {
        put_bytes(w, text, tlen - 1);
    }
    if (!ti->leaf) {
        w->cur_obj = o;
        w->cur_ordinal = w->nobjects;
    }
    w->nobjects++;
    w->size = (uint64_t)ev->flat > UINT64_MAX - w->size ? UINT64_MAX : w->size + (uint64_t)ev->flat;
    return 0;
}

/* The frames each thread runs, among the objects the walk saw. On 3.11+
 * (HL_FRAME_HIDES_LOCALS, the same change) a running function has no frame
 * object until someone asks for one, and asking (PyThreadState_GetFrame)
 * would make one per running function: the dump would change the heap. There
 * the frame objects that exist are held by the interpreter's frames (their
 * reference count exceeds the heap's references, so the reader makes them
 * roots anyway), as are the locals of frames with no object. */
static int
write_frames(writer *w, hl_addrset *seen)
{
#if HL_FRAME_HIDES_LOCALS
    (void)w;
    (void)seen;
    return 0;
#else
    PyThreadState *ts = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
    for (; ts != NULL; ts = PyThreadState_Next(ts)) {
        PyFrameObject *f = PyThreadState_GetFrame(ts); /* new or NULL */
        while (f != NULL) {
            if (hl_addrset_contains(seen, f)) {
                int rc = reserve(w, 11);
                if (rc < 0) {
                    Py_DECREF(f);
                    return rc;
                }
                w->buf[w->len++] = HL_REC_FRAME;
                put_varint(w, (uint64_t)(uintptr_t)f >> 3);
                w->nframes++;
            }
            PyFrameObject *back = PyFrame_GetBack(f); /* new or NULL */
            Py_DECREF(f);
            f = back;
        }
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    return 0;
#endif
}

/* The file a dump is written to. A new file beside `path` (*tmp names
 * it), renamed over `path` once complete: a dump of that file open in this
 * or another process keeps its own, unchanged (rewriting it in place would
 * make that reader's mapping fault), and a failed write leaves the old file
 * as it was. The new file is made readable by its owner only and then
 * takes the old one's permission bits. `path` is written in place, *tmp
 * NULL, when replacing it would change more than its contents: it is not
 * a regular file (a device, a FIFO, a symbolic link), it has other hard
 * links, another owner, or no write permission for us (fopen then fails as
 * before); and when no file can be made beside it (a name too long, a
 * directory we cannot write). NULL with errno set on failure. */
static FILE *
open_target(const char *path, char **tmp)
{
    struct stat st;
    int have = lstat(path, &st) == 0;
    *tmp = NULL;
    if (have && (!S_ISREG(st.st_mode) || st.st_nlink > 1 || st.st_uid != geteuid() ||
                 access(path, W_OK) != 0))
        return fopen(path, "wb");
    size_t n = strlen(path) + 48;
    char *name = hl_mem__malloc(n);
    if (name == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    static unsigned counter;
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(name, n, "%s.%ld.%u.tmp", path, (long)getpid(), counter++);
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, have ? 0600 : 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        hl_mem__free(name);
        if (e == ENAMETOOLONG || e == EACCES || e == EPERM || e == EROFS || e == EEXIST)
            return fopen(path, "wb"); /* (nothing can be made beside it) */
        errno = e;
        return NULL;
    }
    if (have)
        (void)fchmod(fd, st.st_mode & 07777);
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        int e = errno;
        close(fd);
        unlink(name);
        hl_mem__free(name);
        errno = e;
        return NULL;
    }
    *tmp = name;
    return f;
}

int
hl_dump_write(hl_dump_stats *stats, const char *path, PyObject *const *exclude, size_t nexclude)
{
    writer w;
    char *tmp = NULL; /* open_target: the new file, renamed over path at the end */
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    hl_walk_stats ws;
    hl_addrset *seen = NULL;
    int rc;

    hl_error_clear();
    memset(&w, 0, sizeof(w));
    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    /* The snapshot's walk (pybind/census.c heap_options). */
    opts.flags = HL_WALK_ALL | HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
    opts.on_object = on_object;
    opts.on_edge = on_edge;
    opts.payload = &w;
    opts.seen_out = &seen;
    {
        hl_walk_options ao = opts;
        ao.model = HL_MODEL_ALLOCATOR;
        if ((rc = hl_sizes__types_init(&w.alloc_types, &ao)) < 0)
            return rc;
    }
    w.buf = hl_mem__malloc(BUF_SIZE);
    if (w.buf == NULL) {
        hl_sizes__types_free(&w.alloc_types);
        return hl_error__set(HL_ENOMEM, "out of memory for the dump buffer");
    }
    w.f = open_target(path, &tmp);
    if (w.f == NULL) {
        rc = hl_error__set(HL_EINVAL, "cannot open %s for writing: %s", path, strerror(errno));
        goto done;
    }
    {
        const char *ver = Py_GetVersion();
        size_t vlen = strcspn(ver, " ");
        double now = (double)time(NULL);
        uint64_t bits;
        if (vlen > 64)
            vlen = 64;
        memcpy(&bits, &now, 8);
        put_bytes(&w, HL_DUMP_MAGIC, 8);
        w.buf[w.len++] = HL_DUMP_VERSION & 0xFF;
        w.buf[w.len++] = HL_DUMP_VERSION >> 8;
        w.buf[w.len++] = 0; /* flags */
        w.buf[w.len++] = 0;
        put_bytes(&w, "\0\0\0\0", 4); /* reserved */
        put_u64(&w, bits);
        w.buf[w.len++] = (unsigned char)vlen;
        put_bytes(&w, ver, vlen);
    }
    if (nexclude > 0) {
        /* The excluded objects themselves, to know which references lead
         * out of the dump: what they hold is either reached from another
         * object, and dumped, or not reached at all (hl_heap_walk). */
        hl_walk_options ex = HL_WALK_OPTIONS_INIT;
        ex.flags = HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
        ex.limit = 0;
        ex.seen_out = &w.excluded;
        if ((rc = hl_walk_sizes(NULL, NULL, exclude, nexclude, &ex)) < 0)
            goto done;
    }
    rc = hl_heap_walk(&ws, &opts, exclude, nexclude);
    if (rc < 0 && w.err < 0)
        rc = w.err == HL_EPYTHON ? rc : hl_error__set(w.err, "%s", w.msg);
    if (rc == 0)
        rc = flush_refs(&w);
    if (rc == 0)
        rc = write_frames(&w, seen);
    if (rc < 0)
        goto done;
    if ((rc = reserve(&w, 1)) < 0)
        goto done;
    w.buf[w.len++] = HL_REC_END;
    {
        uint64_t end = w.written + w.len - 1;
        if ((rc = reserve(&w, HL_DUMP_TRAILER_SIZE)) < 0)
            goto done;
        put_bytes(&w, HL_DUMP_TRAILER_MAGIC, 8);
        put_u64(&w, w.nobjects);
        put_u64(&w, w.nrefs);
        put_u64(&w, w.ntypes);
        put_u64(&w, w.nframes);
        put_u64(&w, end);
        put_bytes(&w, "\0\0\0\0", 4);
        uint32_t crc = hl_dump__crc32(w.crc, w.buf, w.len);
        for (int i = 0; i < 4; i++)
            w.buf[w.len++] = (unsigned char)(crc >> (8 * i));
        w.crc = 0; /* the trailer's own CRC is not part of the sum */
    }
    if ((rc = flush(&w)) < 0)
        goto done;
    if (fflush(w.f) != 0 || (tmp != NULL && fsync(fileno(w.f)) != 0)) {
        /* (fsync: a crash after the rename must not leave an empty file
         * where the old dump was) */
        rc = hl_error__set(HL_EINVAL, "cannot write the dump: %s", strerror(errno));
        goto done;
    }
    if (stats != NULL) {
        stats->objects = w.nobjects;
        stats->references = w.nrefs;
        stats->types = w.ntypes;
        stats->bytes = w.written;
        stats->size = w.size;
        stats->peak_bytes = ws.peak_bytes + BUF_SIZE + w.peak + hl_addrset_bytes(seen) +
                            w.ntypes * sizeof(type_row);
    }
done:
    if (w.f != NULL && fclose(w.f) != 0 && rc == 0)
        rc = hl_error__set(HL_EINVAL, "cannot close the dump: %s", strerror(errno));
    if (tmp != NULL) {
        if (rc == 0 && rename(tmp, path) != 0)
            rc = hl_error__set(HL_EINVAL, "cannot write %s: %s", path, strerror(errno));
        if (rc < 0)
            unlink(tmp);
        hl_mem__free(tmp);
    }
    hl_addrset_free(seen);
    hl_addrset_free(w.excluded);
    hl_mem__free(w.buf);
    hl_mem__free(w.refs);
    {
        type_row *r, *tmp;
        HASH_ITER(hh, w.types, r, tmp)
        {
            HASH_DEL(w.types, r);
            hl_mem__free(r);
        }
    }
    {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        hl_sizes__types_free(&w.alloc_types);
        if (et != NULL)
            PyErr_Restore(et, ev, tb);
    }
    return rc;
}
