/* model/ internals shared by its sources: shape helpers, a small name → index hash map, and an
 * in-memory safetensors open (used by the fuzz target). Not part of the public API. */
#ifndef SG_MODEL_INTERNAL_H
#define SG_MODEL_INTERNAL_H

#include "model.h"

#include <stdbool.h>

/* Largest safetensors header we parse: real model headers are a few hundred KB, so anything
 * bigger is a corrupt or hostile file, and this bounds the JSON parser's memory. */
#define SG_ST_MAX_HEADER ((uint64_t)100 << 20)

/* ---- shapes (shape.c) ------------------------------------------------------------------------ */
/* Element count; false when a dimension is negative, ndim is out of range or the product
 * exceeds 2^60 (room left to multiply by an item size). */
bool sg_shape_numel(const sg_shape *s, uint64_t *numel);
bool sg_shape_equal(const sg_shape *a, const sg_shape *b);
/* "[64,3,3,3]" (or "[]" for a scalar) into buf; returns buf. */
const char *sg_shape_str(const sg_shape *s, char *buf, size_t cap);
/* A tensor name made safe for a one-line message: control bytes become '?', long names are
 * shortened with "...". Returns buf. */
const char *sg_msg_name(const char *name, char *buf, size_t cap);
#define SG_MSG_NAME_CAP  160
#define SG_SHAPE_STR_CAP 200

/* ---- name map (tensor_index.c): open addressing over FNV-1a; keys are borrowed (must outlive the
 * map) */
typedef struct {
    const char *key;
    size_t value;
} sg_namemap_slot;
typedef struct {
    sg_namemap_slot *slots;
    size_t cap, n;
} sg_namemap;

uint64_t sg_fnv1a64(const char *s);

/* true and *value when present */
bool sg_namemap_get(const sg_namemap *m, const char *key, size_t *value);
/* 0 inserted, 1 key already present (value unchanged), -1 out of memory */
int sg_namemap_put(sg_namemap *m, const char *key, size_t value);
void sg_namemap_free(sg_namemap *m);

/* ---- files (file_map.c) ---------------------------------------------------------------------- */
/* Maps a regular file read-only. *data is NULL for an empty file (callers report it as
 * truncated); *fd_out (when not NULL) receives the open descriptor, else it is closed. */
sg_status sg_file_map(const char *path, const uint8_t **data, size_t *size, int *fd_out,
                      sg_error *err);

/* ---- tensor lookup (tensor_index.c), shared by the file sources (safetensors.c, ckpt.c) ------ */
/* Indexes a source's tensors by name: name i is *(char **)((char *)first + i·stride), i.e. the
 * `name` field of each entry of an array (pass &t[0].name, sizeof t[0]). A name given twice is
 * an error (which one would be meant?). The map borrows the names. */
sg_status sg_tensor_index(const sg_weights *w, sg_namemap *m, char *const *first, size_t n,
                          size_t stride, sg_error *err);
/* The index of name in m; SG_ERR_MISSING "<source>: tensor <name> missing" when absent. */
sg_status sg_tensor_find(const sg_weights *w, const sg_namemap *m, const char *name, size_t *index,
                         sg_error *err);
/* What every `get` checks before handing out data: want and data given, dtype "F32", shape equal
 * to want. Messages name the source and the tensor. */
sg_status sg_tensor_check(const sg_weights *w, const char *name, const char *dtype,
                          const sg_shape *shape, const sg_shape *want, const float **data,
                          sg_error *err);

/* ---- the release layout (release.c), for the checkpoint reader ------------------------------ */
/* The i-th entry of a release checkpoint that is a network (generator, mapping_network,
 * style_encoder: also its tensors' prefix), NULL past the last. */
const char *sg_release_net(size_t i);
/* A {'state_dict': ...} checkpoint (wing.ckpt) is the face network; its tensors get this prefix. */
#define SG_RELEASE_FAN_ENTRY  "state_dict"
#define SG_RELEASE_FAN_PREFIX "fan"
/* A face-network state-dict key (without the prefix) of a layer StarGAN v2's FAN does not have. */
bool sg_release_fan_ignored(const char *key);

/* ---- safetensors from memory ---------------------------------------------------------------- */
/* Same as sg_safetensors_open over size bytes the caller keeps alive (and unchanged) until the
 * source is freed; label names the source in messages. */
sg_status sg_safetensors_open_memory(const void *data, size_t size, const char *label,
                                     sg_weights **out, sg_error *err);

#endif
