/* model/ private: the PyTorch checkpoint source (ckpt.c) and its two container formats,
 * legacy (ckpt_legacy.c) and zip (ckpt_zip.c). Both end the same way: a pickled root value
 * whose persistent ids name storages, and the bytes of each storage located in the file (or
 * readable through libzip). ckpt.c turns that into named tensors behind sg_weights. */
#ifndef SG_CKPT_INTERNAL_H
#define SG_CKPT_INTERNAL_H

#include <zip.h>

#include "pickle.h"

typedef struct {
    char *key;      /* NUL-terminated copy of the storage key */
    int type;       /* index in pk_storage_types */
    uint64_t numel; /* elements */
    /* the bytes: in the file (mapping or caller memory), or `owned` once read; NULL until then */
    const uint8_t *data;
    uint8_t *owned;
    int64_t zip_index; /* zip: the entry to read when data is NULL; -1 otherwise */
    bool stored;       /* legacy: placed by the storage list (each key once) */
    /* legacy: offset of the 8-byte element count before the data (checked at open), else -1 */
    int64_t count_off;
    /* set by ck_plan: a tensor uses it; its data are copied into the arena at `slot` */
    bool used, copy;
    size_t slot, file_off;
} ck_storage;

typedef struct {
    char *name; /* full name: generator.from_rgb.weight, fan.conv1.conv.weight ... */
    sg_shape shape;
    int64_t stride[SG_MAX_DIMS]; /* elements */
    uint64_t offset;             /* elements from the storage's first byte */
    size_t storage;
    bool contiguous; /* row-major strides: handed out in place when aligned */
    float *copy;     /* made at the first get when the data cannot be handed out in place */
} ck_tensor;

typedef struct {
    sg_weights base; /* first, so an sg_weights* is a ck_source* */
    const uint8_t *file;
    size_t size;
    bool mapped;        /* munmap at free (else the caller owns the bytes) */
    const char *format; /* "torch-legacy" or "torch-zip" (metadata "format") */
    ck_storage *st;
    size_t n_st, cap_st;
    sg_namemap st_by_key;
    ck_tensor *t; /* source order */
    size_t n_t, cap_t;
    sg_namemap by_name;
    zip_t *zip; /* zip format: kept open for entries read lazily */
    bool legacy;
    int fd; /* the file, for reading copies with pread; -1 for a memory source */
    /* one anonymous mapping (huge pages when the kernel allows) holding every storage copy */
    uint8_t *arena;
    size_t arena_size, arena_map_size;
    void *arena_map;
    size_t *order; /* used storages with a copy or a count to read, by file offset */
    size_t n_order;
    uint64_t lazy_bytes; /* copies made at get so far (ck_budget) */
    const char *domains; /* metadata "domains": the release's names, or NULL */
} ck_source;

/* ---- ckpt.c, for the format readers --------------------------------------------------------- */
/* Creates the storage table from every persistent id the pickles made, resolving each id
 * (storage index, view offset and size) for the tensors that reference it. */
sg_status ck_storages_from_pids(ck_source *s, const pk_arena *a, sg_error *err);
/* The storage of a key given as a span, or NULL. */
ck_storage *ck_storage_find(ck_source *s, const char *key, size_t len);

/* ---- the formats ---------------------------------------------------------------------------- */
/* Legacy torch.save: magic, protocol and sys_info pickles, the main pickle (*root), the list of
 * storage keys, then each storage as an 8-byte element count and raw data. Locates every
 * storage's bytes in s->file. */
sg_status ck_legacy_load(ck_source *s, pk_arena *a, pk_value **root, sg_error *err);
/* Zip torch.save: <prefix>/data.pkl and <prefix>/data/<key>. *pkl receives the pickle bytes
 * (the root's strings point into them; free after use). Stored, aligned entries point into
 * s->file; others get a zip_index and are read by ck_zip_read on first use. */
sg_status ck_zip_load(ck_source *s, pk_arena *a, pk_value **root, uint8_t **pkl, sg_error *err);
sg_status ck_zip_read(ck_source *s, ck_storage *st, sg_error *err);

/* ---- ckpt_copy.c: storages copied into an aligned arena at open ------------------------------
 * Plans which storages the exposed tensors use and which of those are copied (legacy: every
 * F32 one; zip: F32 entries not 4-byte aligned), each with a slot in the arena (the total is
 * bounded by the file's size), then reads them in one pass in file order, checking the legacy
 * element counts; afterwards the copied storages' data point into the arena. */
sg_status ck_load_storages(ck_source *s, sg_error *err);
void ck_arena_free(ck_source *s);

/* Accounts bytes about to be copied at get; SG_ERR_LIMIT past a multiple of the file's size. */
sg_status ck_budget(ck_source *s, uint64_t bytes, sg_error *err);

/* 64-byte aligned allocation for copies of tensor data (NULL on failure or n == 0 overflow) */
void *ck_alloc(size_t n);

#endif
