/* model/: named float32 tensors from a model file (or any other source), spec-v1 weights, and
 * the model configuration derived from tensor shapes.
 *
 * The networks never see a file format: they ask an sg_weights for a tensor by full name and
 * expected shape. A source (safetensors mmap, torch checkpoint, spec-v1 generator, recorder)
 * implements the small vtable below. */
#ifndef SG_MODEL_H
#define SG_MODEL_H

#include "../net/net.h"

#define SG_MAX_DIMS    8
#define SG_MAX_DOMAINS 64

typedef struct {
    int ndim;
    int64_t dims[SG_MAX_DIMS];
} sg_shape;

typedef struct sg_weights sg_weights;
struct sg_weights {
    /* Looks a tensor up by full name. Returns SG_OK and fills *shape; SG_ERR_MISSING when absent
     * (no message needed); other errors with a message naming the source and the tensor.
     * A source that cannot know shapes without being asked (spec v1) returns SG_ERR_UNSUPPORTED. */
    sg_status (*shape)(sg_weights *w, const char *name, sg_shape *shape, sg_error *err);
    /* The float32 data of a tensor, which must have exactly `want`'s shape; else an error that
     * names the source file and the tensor. Data stay valid until free. */
    sg_status (*get)(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                     sg_error *err);
    /* Iterates over every tensor name (order of the source); stops when fn returns non-zero. */
    void (*each)(sg_weights *w, int (*fn)(void *ctx, const char *name, const sg_shape *shape),
                 void *ctx);
    /* Metadata value for a key, or NULL. */
    const char *(*meta)(sg_weights *w, const char *key);
    void (*free)(sg_weights *w);
    char source[256]; /* file name (or "spec-v1") for messages */
};

static inline void sg_weights_free(sg_weights *w) {
    if (w) w->free(w);
}
/* Convenience: get with a shape given as dims; ndim ≤ 4. */
sg_status sg_weights_get(sg_weights *w, const char *name, const float **data, sg_error *err,
                         int ndim, ...);
/* One tensor a network binds: "<prefix>.<leaf>", which must have the shape dims[0 .. ndim). */
typedef struct {
    const char *leaf;
    const float **data;
    int ndim, dims[4];
} sg_weight_spec;
/* Binds spec[0 .. n) in order under prefix (the first error stops it); when params is not NULL,
 * *params grows by each bound tensor's element count. The networks' one binding helper. */
sg_status sg_weights_bind(sg_weights *w, const char *prefix, const sg_weight_spec *spec, int n,
                          size_t *params, sg_error *err);
/* The entries of a spec table (an array, not a pointer) */
#define SG_SPEC_COUNT(spec) ((int)(sizeof(spec) / sizeof((spec)[0])))

/* ---- sources -------------------------------------------------------------------------------- */
/* A safetensors model file, memory-mapped (read-only, never copied). F32 tensors only (I64
 * counters are listed but `get` refuses them). Validates the whole header at open: JSON
 * well-formed, offsets inside the file, sizes matching shape×dtype, no overlap. */
sg_status sg_safetensors_open(const char *path, sg_weights **out, sg_error *err);
/* Reads an I64 tensor of a safetensors source (fixtures' y_trg/y_ref) into out[n]; the element
 * count must equal n. */
sg_status sg_safetensors_get_i64(sg_weights *w, const char *name, int64_t *out, size_t n,
                                 sg_error *err);

/* A PyTorch checkpoint as released for StarGAN v2, in either torch.save format (legacy, or zip
 * from PyTorch 1.6 on), memory-mapped. A dict with `generator`, `mapping_network`,
 * `style_encoder` state dicts gives `generator.<key>`, ... (other entries ignored); a
 * {'state_dict': ...} file (wing.ckpt) gives `fan.<key>` (layers of a larger FAN ignored).
 * `module.` prefixes are stripped; storages load on the CPU whatever their device tag. Non-F32
 * tensors (counters) are listed but `get` refuses them. Metadata: `format` ("torch-legacy" or
 * "torch-zip") and, for 2- and 3-domain models, `domains` = sg_release_domains(n). The pickle
 * reader runs no code and refuses anything a state dict does not need. */
sg_status sg_ckpt_open(const char *path, sg_weights **out, sg_error *err);
/* Same over size bytes the caller keeps alive (and unchanged) until the source is freed. */
sg_status sg_ckpt_open_memory(const void *data, size_t size, const char *label, sg_weights **out,
                              sg_error *err);

/* ---- the StarGAN v2 release layout (model/release.c) --------------------------------------- */
/* Domain names of the two published models, in domain order. */
#define SG_RELEASE_DOMAINS_CELEBA_HQ "female,male"
#define SG_RELEASE_DOMAINS_AFHQ      "cat,dog,wild"
/* The published model's names for a domain count (2: CelebA-HQ, 3: AFHQ), else NULL. A release
 * checkpoint's `domains` metadata comes from here. */
const char *sg_release_domains(int num_domains);

/* Spec-v1 deterministic weights (docs/networks.md "Spec-v1 weights"): `get` computes the values
 * for any name and shape on demand and keeps them until free. `generator.hpf.filter` is the fixed
 * kernel. */
sg_status sg_spec_v1_open(sg_weights **out, sg_error *err);
/* n values u_i in [-1, 1) of the stream `name` (splitmix64 seeded by FNV-1a 64 of the name). */
void sg_spec_v1_uniform(const char *name, size_t n, double *u);
/* value of one spec-v1 tensor; returns SG_ERR_UNSUPPORTED for names with no rule. */
sg_status sg_spec_v1_fill(const char *name, const sg_shape *shape, float *out, sg_error *err);

/* Any source that records what was asked of another (name, shape, data pointer), in order, so a
 * model file can be written from exactly the tensors the networks used. */
typedef struct {
    char *name;
    sg_shape shape;
    const float *data;
} sg_recorded;
sg_status sg_recorder_open(sg_weights *inner, sg_weights **out, sg_error *err);
/* the recorded list (valid until the recorder is freed; inner is not freed by it) */
const sg_recorded *sg_recorder_list(sg_weights *rec, size_t *count);

/* ---- writing -------------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    sg_shape shape;
    const float *data;
} sg_named_tensor;
/* Writes a safetensors file: F32 tensors sorted by name, data 64-byte aligned, optional
 * metadata key/value pairs (meta_kv[2i], meta_kv[2i+1], n_meta pairs). Writes to path.tmp and
 * renames, so a failed write never leaves a half file under path. */
sg_status sg_safetensors_write(const char *path, const sg_named_tensor *t, size_t n,
                               const char *const *meta_kv, size_t n_meta, sg_error *err);

/* ---- zip entries (model/zip_entry.c) -------------------------------------------------------
 * For the readers of zip-based formats (torch zip checkpoints here, .npz in faces/), over
 * libzip. label names the file in messages; entries are libzip indices. */
struct zip; /* libzip's zip_t */
typedef struct {
    uint64_t size; /* uncompressed bytes */
    int stored;    /* not compressed */
} sg_zip_entry;
/* Opens size bytes the caller keeps alive (and unchanged) until zip_discard, consistency-checked;
 * "not a readable zip archive" otherwise. */
sg_status sg_zip_open_memory(const void *data, size_t size, const char *label, struct zip **out,
                             sg_error *err);
/* The sizes of entry idx, once they are plausible: known, not encrypted, compressed within the
 * archive's archive_size bytes, a stored entry's two sizes equal, at most deflate's expansion. */
sg_status sg_zip_entry_stat(struct zip *z, int64_t idx, uint64_t archive_size, const char *label,
                            sg_zip_entry *e, sg_error *err);
/* Reads exactly n bytes of entry idx and on to its end, so libzip checks the CRC; an entry of
 * another size is an error. */
sg_status sg_zip_entry_read(struct zip *z, int64_t idx, const char *label, void *buf, uint64_t n,
                            sg_error *err);
/* The whole entry (stat, then read) into a fresh buffer *buf of *n bytes (free() it); an entry
 * larger than limit is SG_ERR_LIMIT. */
sg_status sg_zip_entry_load(struct zip *z, int64_t idx, uint64_t archive_size, const char *label,
                            uint64_t limit, uint8_t **buf, size_t *n, sg_error *err);

/* ---- TensorFlow.js weights (model/tfjs.c) ----------------------------------------------------
 * A weights manifest (a JSON array of groups {"paths": [shard file names], "weights": [{name,
 * shape, dtype, quantization?}]}) and its shards (files beside the manifest, read in order as one
 * byte stream): every float32 tensor dequantized into memory the source owns (uint8/uint16: q ·
 * scale + min; float16), int32 tensors skipped (graph constants, not weights). 4-D kernels come
 * out in our layout: TF's [kh, kw, in, out] as [out, in, kh, kw] (a depthwise [kh, kw, C, 1] as
 * [1, C, kh, kw], the bytes of [C, kh, kw]). Bounded: manifest 1 MiB, shards 256 MiB, 4096
 * tensors; a shard path must be a plain file name. */
sg_status sg_tfjs_open(const char *manifest, sg_weights **out, sg_error *err);
/* The same over a manifest's text and its shards' bytes in memory (label names it in messages). */
sg_status sg_tfjs_open_memory(const char *manifest, size_t len, const uint8_t *bin, size_t size,
                              const char *label, sg_weights **out, sg_error *err);

/* ---- configuration -------------------------------------------------------------------------- */
typedef struct {
    int img_size, style_dim, latent_dim, num_domains, max_conv_dim, w_hpf;
    int has_fan; /* fan.* tensors present */
    char domains[SG_MAX_DOMAINS][32];
} sg_config;

/* Derives the configuration from tensor shapes (the spec's rules) and the domain names from the
 * `domains` metadata (default domain0, domain1, ...). Errors name the source and the tensor. */
sg_status sg_config_derive(sg_weights *w, sg_config *cfg, sg_error *err);
/* Checks a configuration the spec allows (img_size a power of two in [64, 1024], ...). */
sg_status sg_config_check(const sg_config *cfg, sg_error *err);
/* Default domain names domain0.. for cfg->num_domains; or parse "a,b,c" (must match count). */
sg_status sg_config_set_domains(sg_config *cfg, const char *csv, sg_error *err);
/* Domain index from a name or a decimal index; -1 when unknown. */
int sg_config_domain(const sg_config *cfg, const char *name_or_index);

/* Opens a model by path, choosing the source by content: safetensors, a torch checkpoint, or a
 * TensorFlow.js weights manifest (sg_tfjs_open).
 * The file is memory-mapped: it must not change while the source is in use (the CLI's case). */
sg_status sg_model_open(const char *path, sg_weights **out, sg_error *err);
/* Same over a private copy of the file read at once (sg_file_read_private; info receives the
 * file's size and mtime as read, may be NULL): replacing or truncating the file afterwards
 * changes nothing for this source. For a long-running process (the server). */
sg_status sg_model_load(const char *path, sg_weights **out, sg_file_info *info, sg_error *err);

#endif
