/* The pickle reader (pickle.h): a stack machine over the opcodes of protocols 2-5 that
 * torch.save emits for dicts of tensors, and nothing else. Python's unpickler semantics are kept
 * where they matter (a MARK opens a fresh stack; memo entries alias containers), but no object
 * is ever constructed from a global: REDUCE only knows OrderedDict() and the tensor rebuild
 * functions, BUILD only the state an OrderedDict carries (torch's _metadata, dropped). */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const pk_storage_type pk_storage_types[] = {
    {"FloatStorage", "F32", 4},     {"DoubleStorage", "F64", 8}, {"HalfStorage", "F16", 2},
    {"BFloat16Storage", "BF16", 2}, {"LongStorage", "I64", 8},   {"IntStorage", "I32", 4},
    {"ShortStorage", "I16", 2},     {"CharStorage", "I8", 1},    {"ByteStorage", "U8", 1},
    {"BoolStorage", "BOOL", 1},
};
const int pk_n_storage_types = (int)(sizeof pk_storage_types / sizeof pk_storage_types[0]);

#define PK_BLOCK 256
struct pk_block {
    pk_block *next;
    size_t used;
    pk_value v[PK_BLOCK];
};

/* Longest module or name of a GLOBAL: real ones are short, so a long line is garbage. */
#define PK_MAX_GLOBAL_LINE 256

typedef struct {
    pk_arena *a;
    const uint8_t *p;
    size_t n, pos, op; /* op: offset of the opcode being run */
    const char *label;
    size_t base;
    pk_value **stack;
    size_t sp, cap;
    size_t marks[PK_MAX_DEPTH];
    int n_marks;
    pk_value **memo;
    size_t n_memo, cap_memo;
    sg_error *err;
} pk_vm;

/* ---- errors --------------------------------------------------------------------------------- */
static sg_status pk_trunc(pk_vm *vm) {
    return sg_error_set(vm->err, SG_ERR_FORMAT, "%s: pickle truncated at byte %zu", vm->label,
                        vm->base + vm->op);
}

static sg_status pk_bad(pk_vm *vm, const char *what) {
    return sg_error_set(vm->err, SG_ERR_FORMAT, "%s: malformed pickle at byte %zu: %s", vm->label,
                        vm->base + vm->op, what);
}

static sg_status pk_unsup(pk_vm *vm, const char *what) {
    return sg_error_set(vm->err, SG_ERR_UNSUPPORTED, "%s: unsupported pickle content: %s",
                        vm->label, what);
}

static sg_status pk_nomem(pk_vm *vm) {
    if (vm->a->over)
        return sg_error_set(vm->err, SG_ERR_LIMIT,
                            "%s: the pickle needs more than %zu bytes of memory (its limit: twice "
                            "the file's size and 1 MiB)",
                            vm->label, vm->a->limit);
    return sg_error_set(vm->err, SG_ERR_NOMEM, "%s: out of memory reading the pickle", vm->label);
}

/* Accounts n more bytes of the reader's memory; false (and a->over) past the limit. */
static bool pk_charge(pk_arena *a, size_t n) {
    size_t limit = a->limit ? a->limit : PK_DEFAULT_LIMIT;
    if (n > limit || a->bytes > limit - n) {
        a->limit = limit;
        a->over = true;
        return false;
    }
    a->bytes += n;
    return true;
}

/* ---- arena and containers ------------------------------------------------------------------- */
static pk_value *pk_new(pk_arena *a, pk_kind kind) {
    if (!a->blocks || a->blocks->used == PK_BLOCK) {
        if (!pk_charge(a, sizeof(pk_block))) return NULL;
        pk_block *b = malloc(sizeof *b);
        if (!b) return NULL;
        b->next = a->blocks;
        b->used = 0;
        a->blocks = b;
    }
    pk_value *v = &a->blocks->v[a->blocks->used++];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    return v;
}

static bool is_seq(pk_kind k) { return k == PK_TUPLE || k == PK_LIST || k == PK_DICT; }

void pk_arena_free(pk_arena *a) {
    while (a->blocks) {
        pk_block *b = a->blocks;
        for (size_t i = 0; i < b->used; i++)
            if (is_seq(b->v[i].kind)) free(b->v[i].u.seq.v);
        a->blocks = b->next;
        free(b);
    }
    free(a->pids);
    memset(a, 0, sizeof *a);
}

/* Grows *arr (of elem-sized items, capacity *cap) to hold need items; false when out of
 * memory. Doubling keeps the total work linear in the pickle's length. */
static bool pk_grow(pk_arena *a, void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    if (!pk_charge(a, (c - *cap) * elem)) return false;
    void *p = realloc(*arr, c * elem);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

/* Appends child to container c, keeping the nesting bound. Depths are not refreshed when a
 * memoised container grows after being nested, so this is a sanity bound on honest-looking
 * input: nothing that reads the values recurses, so it is not what keeps a hostile file safe. */
static sg_status pk_add(pk_vm *vm, pk_value *c, pk_value *child) {
    int d = child->depth + 1;
    if (d > c->depth) c->depth = d;
    if (c->depth > PK_MAX_DEPTH) {
        char m[64];
        snprintf(m, sizeof m, "containers nested deeper than %d", PK_MAX_DEPTH);
        return pk_unsup(vm, m);
    }
    if (!pk_grow(vm->a, (void **)&c->u.seq.v, &c->u.seq.cap, c->u.seq.n + 1, sizeof *c->u.seq.v))
        return pk_nomem(vm);
    c->u.seq.v[c->u.seq.n++] = child;
    return SG_OK;
}

/* ---- the stack: a MARK starts a new frame that pops may not cross (as Python's metastack) --- */
static size_t pk_floor(const pk_vm *vm) { return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0; }

static sg_status pk_push(pk_vm *vm, pk_value *v) {
    if (!v) return pk_nomem(vm);
    if (!pk_grow(vm->a, (void **)&vm->stack, &vm->cap, vm->sp + 1, sizeof *vm->stack))
        return pk_nomem(vm);
    vm->stack[vm->sp++] = v;
    return SG_OK;
}

static sg_status pk_pop(pk_vm *vm, pk_value **v) {
    if (vm->sp <= pk_floor(vm)) return pk_bad(vm, "stack underflow");
    *v = vm->stack[--vm->sp];
    return SG_OK;
}

static sg_status pk_top(pk_vm *vm, pk_value **v) {
    if (vm->sp <= pk_floor(vm)) return pk_bad(vm, "stack underflow");
    *v = vm->stack[vm->sp - 1];
    return SG_OK;
}

/* Closes the innermost MARK: the items above it are stack[*start .. sp). */
static sg_status pk_pop_mark(pk_vm *vm, size_t *start) {
    if (!vm->n_marks) return pk_bad(vm, "no MARK to close");
    *start = vm->marks[--vm->n_marks];
    return SG_OK;
}

/* A container of kind from stack[start .. sp), which it replaces. */
static sg_status pk_collect(pk_vm *vm, pk_kind kind, size_t start) {
    if (kind == PK_DICT && (vm->sp - start) % 2) return pk_bad(vm, "odd number of dict items");
    pk_value *c = pk_new(vm->a, kind);
    if (!c) return pk_nomem(vm);
    for (size_t i = start; i < vm->sp; i++) {
        sg_status st = pk_add(vm, c, vm->stack[i]);
        if (st != SG_OK) return st;
    }
    vm->sp = start;
    return pk_push(vm, c);
}

/* Adds stack[start .. sp) to the list or dict just below start (APPENDS, SETITEMS). */
static sg_status pk_extend(pk_vm *vm, size_t start, pk_kind want) {
    if (start <= pk_floor(vm)) return pk_bad(vm, "stack underflow");
    pk_value *c = vm->stack[start - 1];
    if (c->kind != want)
        return pk_bad(vm, want == PK_LIST ? "APPENDS to a non-list" : "SETITEMS to a non-dict");
    if (want == PK_DICT && (vm->sp - start) % 2) return pk_bad(vm, "odd number of dict items");
    for (size_t i = start; i < vm->sp; i++) {
        sg_status st = pk_add(vm, c, vm->stack[i]);
        if (st != SG_OK) return st;
    }
    vm->sp = start;
    return SG_OK;
}

/* ---- reading the opcode arguments ----------------------------------------------------------- */
static sg_status pk_need(pk_vm *vm, size_t k) {
    return k <= vm->n - vm->pos ? SG_OK : pk_trunc(vm);
}

static uint64_t pk_le(pk_vm *vm, size_t k) {
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++) v |= (uint64_t)vm->p[vm->pos + i] << (8 * i);
    vm->pos += k;
    return v;
}

/* An unsigned little-endian argument of k bytes (caller checks k ≤ 8). */
static sg_status pk_arg(pk_vm *vm, size_t k, uint64_t *v) {
    sg_status st = pk_need(vm, k);
    if (st == SG_OK) *v = pk_le(vm, k);
    return st;
}

static sg_status pk_int(pk_vm *vm, int64_t i) {
    pk_value *v = pk_new(vm->a, PK_INT);
    if (v) v->u.i = i;
    return pk_push(vm, v);
}

/* A string whose length is the next lenbytes bytes (bounded by the bytes left). */
static sg_status pk_string(pk_vm *vm, size_t lenbytes) {
    uint64_t len;
    sg_status st = pk_arg(vm, lenbytes, &len);
    if (st != SG_OK) return st;
    if (len > vm->n - vm->pos) return pk_trunc(vm);
    pk_value *v = pk_new(vm->a, PK_STR);
    if (v) {
        v->u.s.p = (const char *)vm->p + vm->pos;
        v->u.s.n = (size_t)len;
    }
    vm->pos += (size_t)len;
    return pk_push(vm, v);
}

/* LONG1: two's complement little-endian; wider than 64 bits is refused. */
static sg_status pk_long1(pk_vm *vm) {
    uint64_t n, u = 0;
    sg_status st = pk_arg(vm, 1, &n);
    if (st != SG_OK) return st;
    if (n > 8) return pk_unsup(vm, "integer wider than 64 bits");
    if ((st = pk_arg(vm, (size_t)n, &u)) != SG_OK) return st;
    if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~(uint64_t)0 << (8 * n); /* sign */
    return pk_int(vm, (int64_t)u);
}

static sg_status pk_binfloat(pk_vm *vm) {
    sg_status st = pk_need(vm, 8);
    if (st != SG_OK) return st;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | vm->p[vm->pos++]; /* big-endian */
    pk_value *v = pk_new(vm->a, PK_FLOAT);
    if (v) memcpy(&v->u.f, &u, sizeof u);
    return pk_push(vm, v);
}

/* ---- globals -------------------------------------------------------------------------------- */
static bool span_is(const char *p, size_t n, const char *s) {
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* The few globals a state dict needs; anything else is refused, naming it. */
static sg_status pk_global(pk_vm *vm, const char *mod, size_t ml, const char *name, size_t nl) {
    pk_value *v = pk_new(vm->a, PK_GLOBAL);
    if (!v) return pk_nomem(vm);
    if (span_is(mod, ml, "collections") && span_is(name, nl, "OrderedDict")) {
        v->u.g.fn = PK_FN_ORDERED_DICT;
        return pk_push(vm, v);
    }
    if (span_is(mod, ml, "torch._utils") &&
        (span_is(name, nl, "_rebuild_tensor_v2") || span_is(name, nl, "_rebuild_tensor"))) {
        v->u.g.fn = PK_FN_REBUILD_TENSOR;
        return pk_push(vm, v);
    }
    if (span_is(mod, ml, "torch._utils") && span_is(name, nl, "_rebuild_parameter")) {
        v->u.g.fn = PK_FN_REBUILD_PARAMETER;
        return pk_push(vm, v);
    }
    for (int i = 0; span_is(mod, ml, "torch") && i < pk_n_storage_types; i++)
        if (span_is(name, nl, pk_storage_types[i].torch_name)) {
            v->u.g.fn = PK_FN_STORAGE;
            v->u.g.storage = i;
            return pk_push(vm, v);
        }
    char full[2 * PK_MAX_GLOBAL_LINE + 2], safe[SG_MSG_NAME_CAP], m[SG_MSG_NAME_CAP + 8];
    snprintf(full, sizeof full, "%.*s.%.*s", (int)ml, mod, (int)nl, name);
    snprintf(m, sizeof m, "global %s", sg_msg_name(full, safe, sizeof safe));
    return pk_unsup(vm, m);
}

/* GLOBAL's text argument: one line ending in '\n', short and NUL-free. */
static sg_status pk_line(pk_vm *vm, const char **s, size_t *len) {
    size_t left = vm->n - vm->pos, max = left < PK_MAX_GLOBAL_LINE ? left : PK_MAX_GLOBAL_LINE;
    const uint8_t *p = vm->p + vm->pos, *nl = memchr(p, '\n', max);
    if (!nl) return max == left ? pk_trunc(vm) : pk_bad(vm, "GLOBAL name too long");
    if (memchr(p, '\0', (size_t)(nl - p))) return pk_bad(vm, "GLOBAL name holds a NUL byte");
    *s = (const char *)p;
    *len = (size_t)(nl - p);
    vm->pos += *len + 1;
    return SG_OK;
}

static sg_status op_global(pk_vm *vm) {
    const char *mod, *name;
    size_t ml, nl;
    sg_status st = pk_line(vm, &mod, &ml);
    if (st == SG_OK) st = pk_line(vm, &name, &nl);
    return st == SG_OK ? pk_global(vm, mod, ml, name, nl) : st;
}

static sg_status op_stack_global(pk_vm *vm) {
    pk_value *name = NULL, *mod = NULL;
    sg_status st = pk_pop(vm, &name);
    if (st == SG_OK) st = pk_pop(vm, &mod);
    if (st != SG_OK) return st;
    if (mod->kind != PK_STR || name->kind != PK_STR)
        return pk_bad(vm, "STACK_GLOBAL of a non-string");
    if (mod->u.s.n > PK_MAX_GLOBAL_LINE || name->u.s.n > PK_MAX_GLOBAL_LINE)
        return pk_bad(vm, "GLOBAL name too long");
    return pk_global(vm, mod->u.s.p, mod->u.s.n, name->u.s.p, name->u.s.n);
}

/* ---- REDUCE, BUILD, persistent ids ---------------------------------------------------------- */
/* OrderedDict() (Python 3 pickles it empty, then SETITEMS), or OrderedDict([[k, v], ...]) as
 * Python 2 did. */
static sg_status op_ordered_dict(pk_vm *vm, const pk_value *args) {
    pk_value *d = pk_new(vm->a, PK_DICT);
    if (!d) return pk_nomem(vm);
    if (args->u.seq.n > 1) return pk_unsup(vm, "OrderedDict built from several arguments");
    const pk_value *items = args->u.seq.n ? args->u.seq.v[0] : NULL;
    if (items && items->kind != PK_LIST && items->kind != PK_TUPLE)
        return pk_unsup(vm, "OrderedDict built from something other than a list of pairs");
    for (size_t i = 0; items && i < items->u.seq.n; i++) {
        const pk_value *kv = items->u.seq.v[i];
        if ((kv->kind != PK_LIST && kv->kind != PK_TUPLE) || kv->u.seq.n != 2)
            return pk_unsup(vm, "OrderedDict built from something other than a list of pairs");
        sg_status st = pk_add(vm, d, kv->u.seq.v[0]);
        if (st == SG_OK) st = pk_add(vm, d, kv->u.seq.v[1]);
        if (st != SG_OK) return st;
    }
    return pk_push(vm, d);
}

static sg_status op_reduce(pk_vm *vm) {
    pk_value *args = NULL, *fn = NULL;
    sg_status st = pk_pop(vm, &args);
    if (st == SG_OK) st = pk_pop(vm, &fn);
    if (st != SG_OK) return st;
    if (fn->kind != PK_GLOBAL) return pk_unsup(vm, "REDUCE of a value that is not a global");
    if (args->kind != PK_TUPLE) return pk_bad(vm, "REDUCE arguments are not a tuple");
    switch (fn->u.g.fn) {
    case PK_FN_ORDERED_DICT: return op_ordered_dict(vm, args);
    case PK_FN_REBUILD_TENSOR:
    case PK_FN_REBUILD_PARAMETER: {
        pk_value *c = pk_new(vm->a, PK_CALL);
        if (c) {
            c->u.call.fn = fn->u.g.fn;
            c->u.call.args = args;
            c->depth = args->depth + 1;
        }
        return pk_push(vm, c);
    }
    default: return pk_unsup(vm, "a storage type called directly");
    }
}

/* BUILD sets an object's state. The only object a state dict builds is an OrderedDict whose
 * state is torch's _metadata (module versions), which inference does not need. */
static sg_status op_build(pk_vm *vm) {
    pk_value *state = NULL, *obj = NULL;
    sg_status st = pk_pop(vm, &state);
    if (st == SG_OK) st = pk_top(vm, &obj);
    if (st != SG_OK) return st;
    if (obj->kind != PK_DICT) {
        char m[64];
        snprintf(m, sizeof m, "BUILD of %s", pk_kind_name(obj));
        return pk_unsup(vm, m);
    }
    return SG_OK;
}

static sg_status op_persid(pk_vm *vm) {
    pk_value *id = NULL;
    sg_status st = pk_pop(vm, &id);
    if (st != SG_OK) return st;
    pk_arena *a = vm->a;
    pk_value *v = pk_new(a, PK_PERSID);
    if (!v || !pk_grow(a, (void **)&a->pids, &a->cap_pids, a->n_pids + 1, sizeof *a->pids))
        return pk_nomem(vm);
    v->u.pid.id = id;
    v->depth = id->depth + 1;
    a->pids[a->n_pids++] = v;
    return pk_push(vm, v);
}

/* ---- memo: indices must be defined densely, as Python's pickler assigns them ---------------- */
static sg_status op_put(pk_vm *vm, uint64_t idx) {
    pk_value *v = NULL;
    sg_status st = pk_top(vm, &v);
    if (st != SG_OK) return st;
    if (idx > vm->n_memo) {
        char m[80];
        snprintf(m, sizeof m, "memo index %llu skips past %zu", (unsigned long long)idx,
                 vm->n_memo);
        return pk_unsup(vm, m);
    }
    if (idx == vm->n_memo) {
        if (!pk_grow(vm->a, (void **)&vm->memo, &vm->cap_memo, vm->n_memo + 1, sizeof *vm->memo))
            return pk_nomem(vm);
        vm->n_memo++;
    }
    vm->memo[idx] = v;
    return SG_OK;
}

static sg_status op_get(pk_vm *vm, uint64_t idx) {
    if (idx >= vm->n_memo) {
        char m[80];
        snprintf(m, sizeof m, "memo index %llu is not defined", (unsigned long long)idx);
        return pk_bad(vm, m);
    }
    return pk_push(vm, vm->memo[idx]);
}

/* ---- opcodes -------------------------------------------------------------------------------- */
static sg_status op_mark(pk_vm *vm) {
    if (vm->n_marks == PK_MAX_DEPTH) {
        char m[64];
        snprintf(m, sizeof m, "MARKs nested deeper than %d", PK_MAX_DEPTH);
        return pk_unsup(vm, m);
    }
    vm->marks[vm->n_marks++] = vm->sp;
    return SG_OK;
}

static sg_status op_tuple_n(pk_vm *vm, size_t k) {
    if (vm->sp - pk_floor(vm) < k) return pk_bad(vm, "stack underflow");
    return pk_collect(vm, PK_TUPLE, vm->sp - k);
}

static sg_status op_from_mark(pk_vm *vm, pk_kind kind) {
    size_t start = 0;
    sg_status st = pk_pop_mark(vm, &start);
    return st == SG_OK ? pk_collect(vm, kind, start) : st;
}

static sg_status op_extend(pk_vm *vm, pk_kind kind) {
    size_t start = 0;
    sg_status st = pk_pop_mark(vm, &start);
    return st == SG_OK ? pk_extend(vm, start, kind) : st;
}

/* APPEND / SETITEM: the last one (two) items into the container below them. */
static sg_status op_add1(pk_vm *vm, pk_kind kind) {
    size_t k = kind == PK_DICT ? 2 : 1;
    if (vm->sp - pk_floor(vm) < k + 1) return pk_bad(vm, "stack underflow");
    return pk_extend(vm, vm->sp - k, kind);
}

static sg_status op_pop(pk_vm *vm) {
    if (vm->sp > pk_floor(vm)) {
        vm->sp--;
        return SG_OK;
    }
    size_t start = 0; /* Python pops the mark frame when the current one is empty */
    return pk_pop_mark(vm, &start);
}

static sg_status op_simple(pk_vm *vm, pk_kind kind, int64_t i) {
    pk_value *v = pk_new(vm->a, kind);
    if (v) v->u.i = i;
    return pk_push(vm, v);
}

static sg_status op_proto(pk_vm *vm) {
    uint64_t v;
    sg_status st = pk_arg(vm, 1, &v);
    if (st == SG_OK && (v < 2 || v > 5)) {
        char m[48];
        snprintf(m, sizeof m, "pickle protocol %u", (unsigned)v);
        return pk_unsup(vm, m);
    }
    return st;
}

/* FRAME (protocol 4) only announces how many bytes follow; they are read as usual. */
static sg_status op_frame(pk_vm *vm) {
    uint64_t len;
    sg_status st = pk_arg(vm, 8, &len);
    if (st == SG_OK && len > vm->n - vm->pos) return pk_trunc(vm);
    return st;
}

static sg_status op_memo(pk_vm *vm, size_t argbytes, bool put) {
    uint64_t idx;
    sg_status st = argbytes ? pk_arg(vm, argbytes, &idx) : SG_OK;
    if (!argbytes) idx = vm->n_memo; /* MEMOIZE */
    if (st != SG_OK) return st;
    return put ? op_put(vm, idx) : op_get(vm, idx);
}

static sg_status op_binint(pk_vm *vm, size_t k) {
    uint64_t u;
    sg_status st = pk_arg(vm, k, &u);
    if (st != SG_OK) return st;
    return pk_int(vm, k == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u);
}

/* Known opcodes this reader refuses, named for the message. */
static const char *pk_refused_name(uint8_t op) {
    static const struct {
        uint8_t op;
        const char *name;
    } t[] = {{'i', "INST"},         {'o', "OBJ"},
             {0x81, "NEWOBJ"},      {0x92, "NEWOBJ_EX"},
             {'P', "PERSID"},       {'I', "INT"},
             {'L', "LONG"},         {0x8b, "LONG4"},
             {'S', "STRING"},       {'V', "UNICODE"},
             {'F', "FLOAT"},        {'p', "PUT"},
             {'g', "GET"},          {0x82, "EXT1"},
             {0x83, "EXT2"},        {0x84, "EXT4"},
             {0x8f, "EMPTY_SET"},   {0x90, "ADDITEMS"},
             {0x91, "FROZENSET"},   {0x96, "BYTEARRAY8"},
             {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].op == op) return t[i].name;
    return NULL;
}

static sg_status op_unknown(pk_vm *vm, uint8_t op) {
    char m[64];
    const char *name = pk_refused_name(op);
    if (name) snprintf(m, sizeof m, "opcode %s (0x%02x)", name, op);
    else snprintf(m, sizeof m, "unknown opcode 0x%02x", op);
    return pk_unsup(vm, m);
}

/* Runs one opcode (STOP is handled by the caller). */
static sg_status pk_step(pk_vm *vm, uint8_t op) {
    switch (op) {
    case '(': return op_mark(vm);
    case '0': return op_pop(vm);
    case '1': {
        size_t s = 0;
        return pk_pop_mark(vm, &s);
    }
    case '2': {
        pk_value *v = NULL;
        sg_status st = pk_top(vm, &v);
        return st ? st : pk_push(vm, v);
    }
    case 'N': return op_simple(vm, PK_NONE, 0);
    case 0x88: return op_simple(vm, PK_BOOL, 1);
    case 0x89: return op_simple(vm, PK_BOOL, 0);
    case 'K': return op_binint(vm, 1);
    case 'M': return op_binint(vm, 2);
    case 'J': return op_binint(vm, 4);
    case 0x8a: return pk_long1(vm);
    case 'G': return pk_binfloat(vm);
    case 'U':
    case 'C':
    case 0x8c: return pk_string(vm, 1); /* SHORT_BINSTRING/BYTES/UNICODE */
    case 'T':
    case 'B':
    case 'X': return pk_string(vm, 4); /* BINSTRING, BINBYTES, BINUNICODE */
    case 0x8d:
    case 0x8e: return pk_string(vm, 8); /* BINUNICODE8, BINBYTES8 */
    case ')': return op_simple(vm, PK_TUPLE, 0);
    case ']': return op_simple(vm, PK_LIST, 0);
    case '}': return op_simple(vm, PK_DICT, 0);
    case 0x85: return op_tuple_n(vm, 1);
    case 0x86: return op_tuple_n(vm, 2);
    case 0x87: return op_tuple_n(vm, 3);
    case 't': return op_from_mark(vm, PK_TUPLE);
    case 'l': return op_from_mark(vm, PK_LIST);
    case 'd': return op_from_mark(vm, PK_DICT);
    case 'a': return op_add1(vm, PK_LIST);
    case 's': return op_add1(vm, PK_DICT);
    case 'e': return op_extend(vm, PK_LIST);
    case 'u': return op_extend(vm, PK_DICT);
    case 'q': return op_memo(vm, 1, true);
    case 'r': return op_memo(vm, 4, true);
    case 0x94: return op_memo(vm, 0, true);
    case 'h': return op_memo(vm, 1, false);
    case 'j': return op_memo(vm, 4, false);
    case 'c': return op_global(vm);
    case 0x93: return op_stack_global(vm);
    case 'R': return op_reduce(vm);
    case 'b': return op_build(vm);
    case 'Q': return op_persid(vm);
    case 0x80: return op_proto(vm);
    case 0x95: return op_frame(vm);
    default: return op_unknown(vm, op);
    }
}

sg_status pk_load(pk_arena *a, const uint8_t *p, size_t n, const char *label, size_t base,
                  pk_value **out, size_t *used, sg_error *err) {
    pk_vm vm = {
        .a = a, .p = p, .n = n, .label = label ? label : "pickle", .base = base, .err = err};
    sg_status st = SG_OK;
    *out = NULL;
    for (;;) {
        vm.op = vm.pos;
        if (vm.pos >= vm.n) {
            st = pk_trunc(&vm);
            break;
        }
        uint8_t op = vm.p[vm.pos++];
        if (op == '.') {           /* STOP */
            st = pk_pop(&vm, out); /* the top of the current frame, as Python's load_stop */
            break;
        }
        if ((st = pk_step(&vm, op)) != SG_OK) break;
    }
    free(vm.stack);
    free(vm.memo);
    a->bytes -= (vm.cap + vm.cap_memo) * sizeof(pk_value *); /* charged by pk_grow */
    if (st == SG_OK && used) *used = vm.pos;
    return st;
}

/* ---- helpers for readers of the result ------------------------------------------------------ */
bool pk_is_str(const pk_value *v, const char *s) {
    return v && v->kind == PK_STR && span_is(v->u.s.p, v->u.s.n, s);
}

const pk_value *pk_dict_get(const pk_value *d, const char *key) {
    if (!d || d->kind != PK_DICT) return NULL;
    for (size_t i = d->u.seq.n; i >= 2; i -= 2)
        if (pk_is_str(d->u.seq.v[i - 2], key)) return d->u.seq.v[i - 1];
    return NULL;
}

const char *pk_kind_name(const pk_value *v) {
    static const char *const names[] = {"None",     "a bool",  "an int",         "a float",
                                        "a str",    "a tuple", "a list",         "a dict",
                                        "a global", "a call",  "a persistent id"};
    return v && (unsigned)v->kind < sizeof names / sizeof names[0] ? names[v->kind] : "?";
}
