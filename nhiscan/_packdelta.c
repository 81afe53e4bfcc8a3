/*
 * git pack deltas, applied in C.
 *
 * A history sweep reads blobs straight from git's pack files (nhiscan/sources/pack.py). Most
 * blobs there are deltas against another version of the same file: a list of "copy these bytes
 * of the base" and "insert these new bytes" instructions. Python can read the pack and inflate
 * the data (zlib is C), but walking millions of instructions one by one in Python costs more
 * than git's own `cat-file` does. This module does only that walk:
 *
 *   apply(base, delta, limit) -> (target, copies)
 *       the object the delta describes, and where its bytes came from: ``copies`` is a bytes
 *       object of native int64 triples (target_start, target_end, base_start), one per run of
 *       bytes copied from the base (adjacent copy instructions that continue each other in
 *       both objects are merged). Every byte outside those runs was inserted by the delta.
 *       A target larger than ``limit`` bytes is refused before anything is allocated.
 *
 *   partial(base, delta, limit, before, after, head) -> (size, copies, windows, ranges, joined, first, nul)
 *       what a scan must look at again in the target, without building it: its ``size`` and
 *       ``copies`` (as apply() gives them); ``ranges``, native int64 pairs (lo, hi), the
 *       stretches of match ends not deep inside a copied run (a match ending at p in [lo, hi]
 *       may differ from the base's); ``windows``, int64 pairs (start, end) of the bytes to scan
 *       to find those matches with their ``before`` bytes of lead and ``after`` bytes of trail
 *       (lo - before to hi + after, clipped, merged where they overlap or touch); ``joined``,
 *       the windows' bytes one after the other; ``first``, the target's first byte (-1 when
 *       it is empty); ``nul``, whether a NUL byte is among its first ``head`` bytes (binary).
 *       The delta is checked as apply() checks it.
 *
 *   extract(base, delta, limit, spans) -> bytes
 *       the target's bytes in ``spans`` (native int64 pairs (start, end), sorted, disjoint,
 *       inside the target), one span after the other, without building the rest of it.
 *       The delta is checked as apply() checks it.
 *
 *   carry(hits, copies, before, after, scale) -> bytes
 *       the base's match ends (native int64 ``end * scale + id``, sorted) that lie deep enough
 *       inside a copied run to be the target's too, moved to the target's offsets, in order.
 *
 *   find(names, off32, off64, hash_len, lo, hi, oid) -> offset or -1
 *       binary search of ``oid`` among the sorted object names of a pack index, entries
 *       lo..hi-1 (the index's fan-out table gives the range), and its offset in the pack
 *       from the index's tables of 32-bit and 64-bit offsets.
 *
 *   header(raw, offset, hash_len) -> (type, size, base, start)
 *       the header of the pack object whose first bytes ``raw`` were read at ``offset``: its
 *       type, its size, its delta base (an offset for an offset delta, an object name for a
 *       reference delta, else None), and where its compressed data starts in ``raw``.
 *
 * A malformed delta, or arguments these functions were not meant to get, raise ValueError;
 * nothing is read or written outside the buffers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static int read_size(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    int shift = 0;
    unsigned char c;
    do {
        if (*p >= end || shift > 63)
            return -1;
        c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
    } while (c & 0x80);
    *out = v;
    return 0;
}

/* A growable array of int64, handed back to Python as bytes. */
typedef struct {
    int64_t *items;
    Py_ssize_t len; /* in int64s */
    Py_ssize_t cap;
} buf_t;

static inline int buf_push(buf_t *b, const int64_t *values, Py_ssize_t n)
{
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n)
            cap *= 2;
        int64_t *items = PyMem_Realloc(b->items, (size_t)cap * sizeof(int64_t));
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        b->items = items;
        b->cap = cap;
    }
    for (Py_ssize_t i = 0; i < n; i++) /* (a few values at a time: no call to memcpy) */
        b->items[b->len + i] = values[i];
    b->len += n;
    return 0;
}

/* The buffer's contents as bytes (NULL on failure); the buffer is freed either way. */
static PyObject *buf_take(buf_t *b)
{
    PyObject *out = PyBytes_FromStringAndSize((const char *)b->items,
                                              b->len * (Py_ssize_t)sizeof(int64_t));
    PyMem_Free(b->items);
    b->items = NULL;
    b->len = b->cap = 0;
    return out;
}

/* A copied run (target_start, target_end, base_start), merged into the previous one when it
 * continues it in both objects. */
static int runs_add(buf_t *r, int64_t tstart, int64_t tend, int64_t bstart)
{
    if (r->len >= 3) {
        int64_t *last = r->items + r->len - 3;
        if (last[1] == tstart && last[2] + (last[1] - last[0]) == bstart) {
            last[1] = tend;
            return 0;
        }
    }
    const int64_t run[3] = {tstart, tend, bstart};
    return buf_push(r, run, 3);
}

static PyObject *bad(const char *what)
{
    PyErr_Format(PyExc_ValueError, "malformed git delta: %s", what);
    return NULL;
}

/* The delta's header: the base's size (must be base_len) and the target's (at most limit). */
static const char *delta_header(const unsigned char **p, const unsigned char *end, Py_ssize_t base_len,
                                Py_ssize_t limit, uint64_t *target_len)
{
    uint64_t want_base;
    if (read_size(p, end, &want_base) < 0 || read_size(p, end, target_len) < 0)
        return "truncated header";
    if (want_base != (uint64_t)base_len)
        return "base size differs";
    if (limit < 0 || *target_len > (uint64_t)limit)
        return "target larger than the limit";
    return NULL;
}

/* The delta instruction at *p (advanced past it): the bytes it puts in the target are ``size``
 * bytes at ``*src``, copied from the base at ``*base_off`` (or inserted from the delta, -1).
 * Returns NULL, or what is wrong with it. */
static const char *next_op(const unsigned char **pp, const unsigned char *end, const unsigned char *base,
                           Py_ssize_t base_len, const unsigned char **src, uint64_t *size, int64_t *base_off)
{
    const unsigned char *p = *pp;
    unsigned char op = *p++;
    if (op & 0x80) {
        uint64_t off = 0, n = 0;
        for (int i = 0; i < 4; i++) {
            if (op & (1 << i)) {
                if (p >= end)
                    return "truncated copy";
                off |= (uint64_t)(*p++) << (8 * i);
            }
        }
        for (int i = 0; i < 3; i++) {
            if (op & (0x10 << i)) {
                if (p >= end)
                    return "truncated copy";
                n |= (uint64_t)(*p++) << (8 * i);
            }
        }
        if (n == 0)
            n = 0x10000;
        if (off + n > (uint64_t)base_len)
            return "copy outside the base";
        *src = base + off;
        *size = n;
        *base_off = (int64_t)off;
    } else if (op) {
        if ((uint64_t)(end - p) < op)
            return "truncated insert";
        *src = p;
        *size = op;
        *base_off = -1;
        p += op;
    } else {
        return "reserved instruction 0";
    }
    *pp = p;
    return NULL;
}

/* Walks a delta's instructions (after its header), checking each. With ``runs``, records the
 * runs copied from the base; with ``ops``, every instruction as int64 triples (target start,
 * size, address of its bytes), for partial() to read windows from without a second walk.
 * With ``out``, writes the target bytes that fall in ``wins`` (nwins sorted, disjoint int64
 * pairs [start, end) inside the target) to ``out``, one window after the other: the whole
 * target when wins is the one window [0, target_len).
 * Returns NULL, or what is wrong with the delta; *raised is set when a Python error is set. */
static const char *delta_walk_ops(const unsigned char *base, Py_ssize_t base_len, const unsigned char *p,
                                  const unsigned char *end, uint64_t target_len, buf_t *runs, buf_t *ops,
                                  const int64_t *wins, Py_ssize_t nwins, unsigned char *out, int *raised)
{
    uint64_t t = 0;
    Py_ssize_t wi = 0; /* first window not wholly before t */
    int64_t cum = 0;   /* where window wi starts in out */
    *raised = 0;
    while (p < end) {
        const unsigned char *src;
        uint64_t size;
        int64_t off;
        const char *err = next_op(&p, end, base, base_len, &src, &size, &off);
        if (err)
            return err;
        if (t + size > target_len)
            return off >= 0 ? "copy past the target's size" : "insert past the target's size";
        if (off >= 0 && runs && runs_add(runs, (int64_t)t, (int64_t)(t + size), off) < 0) {
            *raised = 1;
            return "out of memory";
        }
        if (ops) {
            const int64_t op[3] = {(int64_t)t, (int64_t)size, (int64_t)(intptr_t)src};
            if (buf_push(ops, op, 3) < 0) {
                *raised = 1;
                return "out of memory";
            }
        }
        if (out) {
            const int64_t lo = (int64_t)t, hi = (int64_t)(t + size);
            while (wi < nwins && wins[2 * wi + 1] <= lo) {
                cum += wins[2 * wi + 1] - wins[2 * wi];
                wi++;
            }
            int64_t at = cum;
            for (Py_ssize_t j = wi; j < nwins && wins[2 * j] < hi; j++) {
                const int64_t a = lo > wins[2 * j] ? lo : wins[2 * j];
                const int64_t b = hi < wins[2 * j + 1] ? hi : wins[2 * j + 1];
                if (a < b)
                    memcpy(out + at + (a - wins[2 * j]), src + (a - lo), (size_t)(b - a));
                at += wins[2 * j + 1] - wins[2 * j];
            }
        }
        t += size;
    }
    if (t != target_len)
        return "target shorter than its header says";
    return NULL;
}

/* delta_walk() without recording each instruction. */
static const char *delta_walk(const unsigned char *base, Py_ssize_t base_len, const unsigned char *p,
                              const unsigned char *end, uint64_t target_len, buf_t *runs,
                              const int64_t *wins, Py_ssize_t nwins, unsigned char *out, int *raised)
{
    return delta_walk_ops(base, base_len, p, end, target_len, runs, NULL, wins, nwins, out, raised);
}

static PyObject *apply_delta(const unsigned char *base, Py_ssize_t base_len,
                             const unsigned char *p, const unsigned char *end, Py_ssize_t limit)
{
    uint64_t target_len;
    const char *err = delta_header(&p, end, base_len, limit, &target_len);
    if (err)
        return bad(err);
    PyObject *target = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)target_len);
    if (!target)
        return NULL;
    const int64_t whole[2] = {0, (int64_t)target_len};
    buf_t runs = {NULL, 0, 0};
    int raised;
    err = delta_walk(base, base_len, p, end, target_len, &runs, whole, 1,
                     (unsigned char *)PyBytes_AS_STRING(target), &raised);
    if (err) {
        if (!raised)
            bad(err);
        PyMem_Free(runs.items);
        Py_DECREF(target);
        return NULL;
    }
    PyObject *copies = buf_take(&runs);
    if (!copies) {
        Py_DECREF(target);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, target, copies);
    Py_DECREF(target);
    Py_DECREF(copies);
    return result;
}

static PyObject *apply(PyObject *self, PyObject *args)
{
    Py_buffer base, delta;
    Py_ssize_t limit;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*n:apply", &base, &delta, &limit))
        return NULL;
    const unsigned char *p = (const unsigned char *)delta.buf;
    PyObject *result = apply_delta((const unsigned char *)base.buf, base.len, p, p + delta.len, limit);
    PyBuffer_Release(&base);
    PyBuffer_Release(&delta);
    return result;
}

/* Offsets up to 2^40 and scales up to 2^20 keep every product below 2^62. */
#define MAX_OFFSET ((int64_t)1 << 40)
#define MAX_SCALE ((Py_ssize_t)1 << 20)

/* Runs as apply() makes them: int64 triples, in order, inside [0, size] and [0, MAX_OFFSET). */
static int check_runs(const Py_buffer *copies, int64_t size)
{
    if (copies->len % (Py_ssize_t)(3 * sizeof(int64_t)) != 0 ||
        ((uintptr_t)copies->buf % sizeof(int64_t)) != 0)
        return -1;
    const int64_t *r = (const int64_t *)copies->buf;
    Py_ssize_t n = copies->len / (Py_ssize_t)(3 * sizeof(int64_t));
    int64_t last = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t t0 = r[3 * i], t1 = r[3 * i + 1], b0 = r[3 * i + 2];
        if (t0 < last || t1 < t0 || t1 > size || b0 < 0 || b0 >= MAX_OFFSET)
            return -1;
        last = t1;
    }
    return 0;
}

static PyObject *bad_args(const char *what)
{
    PyErr_Format(PyExc_ValueError, "%s: arguments out of range", what);
    return NULL;
}

static int push2(buf_t *out, int64_t a, int64_t b)
{
    const int64_t pair[2] = {a, b};
    return buf_push(out, pair, 2);
}

/* Safe match ends of a run: [t0 + before, t1 - after] (empty when the run is short); every
 * other end in [0, size] is fresh. Each fresh stretch [lo, hi] needs target[lo - before :
 * hi + after] scanned; those windows are merged when they overlap or touch.
 * -1 (MemoryError set) on failure; the buffers are the caller's to free. */
static int fresh_windows(const int64_t *r, Py_ssize_t nruns, int64_t size, int64_t before,
                         int64_t after, buf_t *windows, buf_t *ranges)
{
    int64_t next = 0; /* first match end not yet known safe or fresh */
    int64_t win_start = -1, win_end = -1;
    for (Py_ssize_t i = 0; i <= nruns; i++) {
        int64_t safe_lo, safe_hi;
        if (i < nruns) {
            safe_lo = r[3 * i] + before;
            safe_hi = r[3 * i + 1] - after;
            if (safe_hi < safe_lo)
                continue;
        } else {
            safe_lo = size + 1; /* past the last possible end */
            safe_hi = safe_lo;
        }
        if (safe_lo > next) {
            int64_t lo = next, hi = safe_lo - 1;
            if (hi > size)
                hi = size;
            if (lo <= hi) {
                int64_t start = lo - before < 0 ? 0 : lo - before;
                int64_t end = hi + after > size ? size : hi + after;
                if (push2(ranges, lo, hi) < 0)
                    return -1;
                if (win_start >= 0 && start <= win_end) {
                    if (end > win_end)
                        win_end = end;
                } else {
                    if (win_start >= 0 && push2(windows, win_start, win_end) < 0)
                        return -1;
                    win_start = start;
                    win_end = end;
                }
            }
        }
        if (safe_hi + 1 > next)
            next = safe_hi + 1;
    }
    if (win_start >= 0 && push2(windows, win_start, win_end) < 0)
        return -1;
    return 0;
}

/* Tuple of buf_take()s of the buffers (all freed); NULL if any failed. */
static PyObject *take_all(buf_t *bufs, int n)
{
    PyObject *result = PyTuple_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *item = result ? buf_take(&bufs[i]) : NULL;
        if (!item) {
            for (int j = i; j < n; j++) {
                PyMem_Free(bufs[j].items);
                bufs[j].items = NULL;
            }
            Py_XDECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, i, item);
    }
    return result;
}

/* A bytes object, not filled in, as long as the windows ``wins`` (int64 pairs) together. */
static PyObject *windows_buffer(const int64_t *wins, Py_ssize_t nwins)
{
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < nwins; i++)
        total += wins[2 * i + 1] - wins[2 * i];
    return PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
}

/* The target's bytes in ``wins`` (int64 pairs), one after the other, as bytes. */
static PyObject *gather(const unsigned char *base, Py_ssize_t base_len, const unsigned char *p,
                        const unsigned char *end, uint64_t target_len, const int64_t *wins, Py_ssize_t nwins)
{
    PyObject *out = windows_buffer(wins, nwins);
    if (!out)
        return NULL;
    int raised;
    const char *err = delta_walk(base, base_len, p, end, target_len, NULL, wins, nwins,
                                 (unsigned char *)PyBytes_AS_STRING(out), &raised);
    if (err) { /* (partial() checked the delta by a walk before; extract() did not) */
        Py_DECREF(out);
        return bad(err);
    }
    return out;
}

/* The target's bytes in ``wins`` (sorted, disjoint, inside the target), one window after the
 * other, from a walk's ``ops`` (which cover the target in order). */
static PyObject *gather_ops(const int64_t *ops, Py_ssize_t nops, const int64_t *wins, Py_ssize_t nwins)
{
    PyObject *result = windows_buffer(wins, nwins);
    if (!result)
        return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < nwins; i++) {
        int64_t at = wins[2 * i];
        const int64_t stop = wins[2 * i + 1];
        if (at >= stop)
            continue;
        /* the last instruction starting at or before ``at`` (windows come in order) */
        Py_ssize_t lo = k, hi = nops;
        while (hi - lo > 1) {
            const Py_ssize_t mid = lo + (hi - lo) / 2;
            if (ops[3 * mid] <= at)
                lo = mid;
            else
                hi = mid;
        }
        for (k = lo; at < stop; k++) {
            const int64_t t = ops[3 * k], n = ops[3 * k + 1];
            const unsigned char *src = (const unsigned char *)(intptr_t)ops[3 * k + 2];
            const int64_t piece_end = t + n < stop ? t + n : stop;
            memcpy(out, src + (at - t), (size_t)(piece_end - at));
            out += piece_end - at;
            at = piece_end;
        }
        k = k > 0 ? k - 1 : 0;
    }
    return result;
}

static PyObject *partial(PyObject *self, PyObject *args)
{
    Py_buffer base, delta;
    Py_ssize_t limit, before, after, head;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*nnnn:partial", &base, &delta, &limit, &before, &after, &head))
        return NULL;
    PyObject *result = NULL, *parts = NULL, *joined = NULL;
    buf_t runs = {NULL, 0, 0}, ops = {NULL, 0, 0};
    buf_t bufs[3] = {{NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}}; /* copies, windows, ranges */
    const unsigned char *bp = (const unsigned char *)base.buf;
    const unsigned char *p = (const unsigned char *)delta.buf, *end = p + delta.len;
    uint64_t target_len;
    int raised = 0, first, nul;
    if (before < 0 || after < 0 || before >= MAX_OFFSET || after >= MAX_OFFSET || head < 0) {
        bad_args("partial");
        goto done;
    }
    const char *err = delta_header(&p, end, base.len, limit, &target_len);
    if (!err)
        err = delta_walk_ops(bp, base.len, p, end, target_len, &runs, &ops, NULL, 0, NULL, &raised);
    if (err) {
        if (!raised)
            bad(err);
        goto done;
    }
    if (fresh_windows(runs.items, runs.len / 3, (int64_t)target_len, before, after, &bufs[1], &bufs[2]) < 0)
        goto done;
    joined = gather_ops(ops.items, ops.len / 3, bufs[1].items, bufs[1].len / 2);
    if (!joined)
        goto done;
    /* The target's first byte (BOM check), and whether a NUL is among its first ``head``
     * bytes (binary check): an instruction is never empty. */
    first = ops.len ? *(const unsigned char *)(intptr_t)ops.items[2] : -1;
    nul = 0;
    for (Py_ssize_t i = 0; i < ops.len / 3 && ops.items[3 * i] < head && !nul; i++) {
        const int64_t t = ops.items[3 * i], n = ops.items[3 * i + 1];
        nul = memchr((const void *)(intptr_t)ops.items[3 * i + 2], 0, (size_t)(head - t < n ? head - t : n)) != NULL;
    }
    bufs[0] = runs;
    runs.items = NULL;
    parts = take_all(bufs, 3);
    bufs[0].items = bufs[1].items = bufs[2].items = NULL;
    if (parts)
        result = Py_BuildValue("(KOOOOiO)", (unsigned long long)target_len, PyTuple_GET_ITEM(parts, 0),
                               PyTuple_GET_ITEM(parts, 1), PyTuple_GET_ITEM(parts, 2), joined, first,
                               nul ? Py_True : Py_False);
done:
    Py_XDECREF(parts);
    Py_XDECREF(joined);
    PyMem_Free(runs.items);
    PyMem_Free(ops.items);
    for (int i = 0; i < 3; i++)
        PyMem_Free(bufs[i].items);
    PyBuffer_Release(&base);
    PyBuffer_Release(&delta);
    return result;
}

static PyObject *extract(PyObject *self, PyObject *args)
{
    Py_buffer base, delta, spans;
    Py_ssize_t limit;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*ny*:extract", &base, &delta, &limit, &spans))
        return NULL;
    PyObject *result = NULL;
    const unsigned char *p = (const unsigned char *)delta.buf, *end = p + delta.len;
    uint64_t target_len;
    const char *err = delta_header(&p, end, base.len, limit, &target_len);
    if (err) {
        bad(err);
        goto done;
    }
    if (spans.len % (Py_ssize_t)(2 * sizeof(int64_t)) != 0 ||
        (spans.len && ((uintptr_t)spans.buf % sizeof(int64_t)) != 0)) {
        bad_args("extract");
        goto done;
    }
    const int64_t *w = (const int64_t *)spans.buf;
    const Py_ssize_t nw = spans.len / (Py_ssize_t)(2 * sizeof(int64_t));
    int64_t last = 0;
    for (Py_ssize_t i = 0; i < nw; i++) {
        if (w[2 * i] < last || w[2 * i + 1] < w[2 * i] || (uint64_t)w[2 * i + 1] > target_len) {
            bad_args("extract");
            goto done;
        }
        last = w[2 * i + 1];
    }
    /* (gather's walk checks every instruction of the delta) */
    result = gather((const unsigned char *)base.buf, base.len, p, end, target_len, w, nw);
done:
    PyBuffer_Release(&base);
    PyBuffer_Release(&delta);
    PyBuffer_Release(&spans);
    return result;
}

static Py_ssize_t lower_bound(const int64_t *a, Py_ssize_t n, int64_t v)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static PyObject *carry(PyObject *self, PyObject *args)
{
    Py_buffer hits, copies;
    Py_ssize_t before, after, scale;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*nnn:carry", &hits, &copies, &before, &after, &scale))
        return NULL;
    const int64_t *h = (const int64_t *)hits.buf;
    Py_ssize_t nh = hits.len / (Py_ssize_t)sizeof(int64_t);
    const int64_t *r = (const int64_t *)copies.buf;
    Py_ssize_t nruns = copies.len / (Py_ssize_t)(3 * sizeof(int64_t));
    PyObject *result = NULL;
    buf_t out = {NULL, 0, 0};
    if (scale <= 0 || scale > MAX_SCALE || before < 0 || after < 0 || before >= MAX_OFFSET ||
        after >= MAX_OFFSET || hits.len % (Py_ssize_t)sizeof(int64_t) != 0 ||
        ((uintptr_t)hits.buf % sizeof(int64_t)) != 0 || check_runs(&copies, MAX_OFFSET) < 0) {
        bad_args("carry");
        goto done;
    }
    for (Py_ssize_t i = 0; i < nh; i++) {
        if (h[i] < 0 || h[i] >= MAX_OFFSET * (int64_t)scale || (i && h[i] < h[i - 1])) {
            bad_args("carry");
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < nruns && nh; i++) {
        int64_t t0 = r[3 * i], t1 = r[3 * i + 1], b0 = r[3 * i + 2];
        int64_t lo = b0 + before, hi = b0 + (t1 - t0) - after; /* base ends kept: [lo, hi] */
        if (hi < lo)
            continue;
        Py_ssize_t k = lower_bound(h, nh, lo * scale);
        int64_t shift = (t0 - b0) * scale;
        for (; k < nh && h[k] < (hi + 1) * scale; k++) {
            const int64_t moved = h[k] + shift;
            if (buf_push(&out, &moved, 1) < 0)
                goto done;
        }
    }
    result = buf_take(&out);
done:
    PyMem_Free(out.items);
    PyBuffer_Release(&hits);
    PyBuffer_Release(&copies);
    return result;
}

static PyObject *find(PyObject *self, PyObject *args)
{
    Py_buffer names, off32, off64, oid;
    Py_ssize_t hash_len, lo, hi;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*nnny*:find", &names, &off32, &off64, &hash_len, &lo, &hi, &oid))
        return NULL;
    PyObject *result = NULL;
    if (hash_len <= 0 || oid.len != hash_len || lo < 0 || hi < lo || hi > names.len / hash_len ||
        off32.len / 4 < names.len / hash_len) {
        PyErr_SetString(PyExc_ValueError, "find: bad range or object name length");
        goto done;
    }
    const unsigned char *base = (const unsigned char *)names.buf;
    Py_ssize_t found = -1;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        int c = memcmp(base + mid * hash_len, oid.buf, (size_t)hash_len);
        if (c == 0) {
            found = mid;
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found < 0) {
        result = PyLong_FromLong(-1);
        goto done;
    }
    /* Offsets are big-endian; one with the top bit set indexes the table of 64-bit ones. */
    const unsigned char *o = (const unsigned char *)off32.buf + 4 * found;
    uint64_t off = ((uint64_t)o[0] << 24) | ((uint64_t)o[1] << 16) | ((uint64_t)o[2] << 8) | o[3];
    if (off & 0x80000000u) {
        uint64_t k = off & 0x7fffffffu;
        if ((Py_ssize_t)(8 * k + 8) > off64.len) {
            PyErr_SetString(PyExc_ValueError, "find: 64-bit offset outside the index");
            goto done;
        }
        const unsigned char *q = (const unsigned char *)off64.buf + 8 * k;
        off = 0;
        for (int i = 0; i < 8; i++)
            off = (off << 8) | q[i];
    }
    result = PyLong_FromUnsignedLongLong(off);
done:
    PyBuffer_Release(&names);
    PyBuffer_Release(&off32);
    PyBuffer_Release(&off64);
    PyBuffer_Release(&oid);
    return result;
}

/* header(raw, offset, hash_len) -> (type, size, base, start): a pack object's header read from
 * ``raw`` (bytes read at ``offset``); base is the delta base's offset (type 6), its object
 * name (type 7) or None; start is where the compressed data begins in raw. */
static PyObject *header(PyObject *self, PyObject *args)
{
    Py_buffer raw;
    Py_ssize_t offset, hash_len;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nn:header", &raw, &offset, &hash_len))
        return NULL;
    const unsigned char *p = (const unsigned char *)raw.buf, *end = p + raw.len;
    PyObject *result = NULL;
    const char *err = "short read";
    if (p >= end)
        goto fail;
    unsigned char c = *p++;
    const int type = (c >> 4) & 7;
    uint64_t size = c & 15;
    int shift = 4;
    while (c & 0x80) {
        if (p >= end)
            goto fail;
        if (shift > 57) {
            err = "object size too large";
            goto fail;
        }
        c = *p++;
        size |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
    }
    if (type == 0 || type == 5) {
        err = "unknown object type";
        goto fail;
    }
    if (type == 6) {
        if (p >= end)
            goto fail;
        c = *p++;
        uint64_t rel = c & 0x7f;
        while (c & 0x80) {
            if (p >= end)
                goto fail;
            if (rel >> 56) {
                err = "delta base outside the pack";
                goto fail;
            }
            c = *p++;
            rel = ((rel + 1) << 7) | (c & 0x7f);
        }
        if (rel == 0 || rel > (uint64_t)offset) {
            err = "delta base outside the pack";
            goto fail;
        }
        result = Py_BuildValue("(iKKn)", type, (unsigned long long)size,
                               (unsigned long long)((uint64_t)offset - rel), (Py_ssize_t)(p - (const unsigned char *)raw.buf));
    } else if (type == 7) {
        if (hash_len <= 0 || end - p < hash_len)
            goto fail;
        result = Py_BuildValue("(iKy#n)", type, (unsigned long long)size, (const char *)p, hash_len,
                               (Py_ssize_t)(p + hash_len - (const unsigned char *)raw.buf));
    } else {
        result = Py_BuildValue("(iKOn)", type, (unsigned long long)size, Py_None,
                               (Py_ssize_t)(p - (const unsigned char *)raw.buf));
    }
    PyBuffer_Release(&raw);
    return result;
fail:
    PyBuffer_Release(&raw);
    PyErr_Format(PyExc_ValueError, "malformed pack object: %s", err);
    return NULL;
}

static PyMethodDef methods[] = {
    {"apply", apply, METH_VARARGS,
     "apply(base, delta, limit) -> (target, copies): apply a git delta (its target at most "
     "limit bytes); copies are int64 triples (target_start, target_end, base_start)."},
    {"partial", partial, METH_VARARGS,
     "partial(base, delta, limit, before, after, head) -> (size, copies, windows, ranges, "
     "joined, first, nul): what a scan must look at again, without building the target."},
    {"extract", extract, METH_VARARGS,
     "extract(base, delta, limit, spans) -> the target's bytes in spans (int64 pairs), joined, "
     "without building the rest of it."},
    {"carry", carry, METH_VARARGS,
     "carry(hits, copies, before, after, scale) -> the base's hits safely inside copied runs, "
     "moved to the target."},
    {"find", find, METH_VARARGS,
     "find(names, off32, off64, hash_len, lo, hi, oid) -> offset in the pack of oid (among "
     "names lo..hi-1), or -1."},
    {"header", header, METH_VARARGS,
     "header(raw, offset, hash_len) -> (type, size, base, start) of the pack object read at "
     "offset."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_packdelta", "git pack deltas, applied in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__packdelta(void)
{
    PyObject *m = PyModule_Create(&module);
    /* Bumped whenever a function's arguments or results change (nhiscan/engine/native.py). */
    if (m && PyModule_AddIntConstant(m, "API_VERSION", 5) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
