/* model/ private: a small, safe pickle reader for what torch.save writes when it saves state
 * dicts. It never runs code: the handful of globals a state dict needs (OrderedDict, the tensor
 * rebuild functions, the torch.*Storage types) become inert values, anything else is refused
 * with "unsupported pickle content: ...". Every length, index and count is checked against the
 * bytes left, and every value comes from an opcode, so memory stays proportional to the pickle.
 *
 * Values live in an arena (freed at once, so shared or even cyclic references through the memo
 * are harmless); strings point into the pickle bytes, which must outlive the arena's use. */
#ifndef SG_PICKLE_H
#define SG_PICKLE_H

#include "model_internal.h"

/* Deepest nesting of MARKs and of containers inside containers. State dicts need about 5. */
#define PK_MAX_DEPTH 64

typedef enum {
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_FLOAT,
    PK_STR,   /* text or bytes: u.s, not NUL-terminated */
    PK_TUPLE, /* u.seq */
    PK_LIST,  /* u.seq */
    PK_DICT,  /* u.seq as key, value, key, value ... in insertion order */
    PK_GLOBAL,
    PK_CALL,  /* a tensor rebuild function applied to its argument tuple (not run) */
    PK_PERSID /* a persistent id: torch's reference to a storage */
} pk_kind;

typedef enum {
    PK_FN_ORDERED_DICT,
    PK_FN_REBUILD_TENSOR, /* torch._utils._rebuild_tensor_v2 (or v1: no requires_grad, hooks) */
    PK_FN_REBUILD_PARAMETER,
    PK_FN_STORAGE /* torch.<X>Storage: u.g.storage indexes pk_storage_types */
} pk_fn;

/* torch's typed storages: element type as a safetensors dtype name, and its size */
typedef struct {
    const char *torch_name, *dtype;
    int itemsize;
} pk_storage_type;
extern const pk_storage_type pk_storage_types[];
extern const int pk_n_storage_types;

typedef struct pk_value pk_value;
struct pk_value {
    pk_kind kind;
    int depth; /* containers: 1 + the deepest child */
    union {
        int64_t i; /* INT, BOOL */
        double f;
        struct {
            const char *p;
            size_t n;
        } s;
        struct {
            pk_value **v;
            size_t n, cap;
        } seq;
        struct {
            pk_fn fn;
            int storage;
        } g;
        struct {
            pk_fn fn;
            pk_value *args; /* a TUPLE */
        } call;
        struct {
            pk_value *id;
            /* filled by the checkpoint reader when it resolves the id */
            size_t storage;
            uint64_t view_offset, view_numel; /* elements */
            bool resolved;
        } pid;
    } u;
};

/* The reader's memory (values, containers, stack, memo) when the caller sets no limit. */
#define PK_DEFAULT_LIMIT ((size_t)64 << 20)

typedef struct pk_block pk_block;
typedef struct {
    pk_block *blocks;
    pk_value **pids; /* every PERSID made, in order */
    size_t n_pids, cap_pids;
    /* every byte the reader allocates is counted against limit (0: PK_DEFAULT_LIMIT); past it
     * the load fails with SG_ERR_LIMIT. A pickle of one-byte opcodes makes a 48-byte value per
     * byte, so "proportional to the pickle" alone is not a bound worth having: callers set one
     * from the file's size (pk_file_limit). */
    size_t limit, bytes;
    bool over;
} pk_arena;

/* The memory limit for the pickles of a file of file_size bytes: twice its size and 1 MiB. */
static inline size_t pk_file_limit(size_t file_size) {
    return file_size > (SIZE_MAX - ((size_t)1 << 20)) / 2 ? SIZE_MAX
                                                          : 2 * file_size + ((size_t)1 << 20);
}

/* Runs one pickle of p[0..n) up to its STOP; *out is the result, *used the bytes consumed.
 * label names the source in messages, base is p's offset in it (for byte positions). */
sg_status pk_load(pk_arena *a, const uint8_t *p, size_t n, const char *label, size_t base,
                  pk_value **out, size_t *used, sg_error *err);
void pk_arena_free(pk_arena *a);

bool pk_is_str(const pk_value *v, const char *s);
/* value of a string key in a DICT (the last one when repeated), or NULL */
const pk_value *pk_dict_get(const pk_value *d, const char *key);
/* "a str", "a dict", ... for messages */
const char *pk_kind_name(const pk_value *v);

#endif
