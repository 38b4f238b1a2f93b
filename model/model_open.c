/* sg_model_open: picks the source by content, not by extension, so a renamed file still opens:
 * safetensors, a torch checkpoint (the StarGAN v2 release files), or a TensorFlow.js weights
 * manifest (the face detector's published weights). */
#include "model_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* safetensors: a little-endian u64 header length of sane size, then the JSON object's '{'. */
static bool looks_safetensors(const unsigned char *h, size_t n) {
    if (n < 9 || h[8] != '{') return false;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | h[i];
    return len >= 2 && len <= SG_ST_MAX_HEADER;
}

/* torch.save output: a zip archive (PyTorch ≥ 1.6) or a pickle (PROTO 2..5; the legacy format
 * starts with a protocol-2 pickle of its magic number). */
static bool looks_torch(const unsigned char *h, size_t n) {
    return (n >= 4 && memcmp(h, "PK\x03\x04", 4) == 0) ||
           (n >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5);
}

/* A TensorFlow.js weights manifest: a JSON array (its shards are read beside it). */
static bool looks_tfjs(const unsigned char *h, size_t n) {
    size_t i = 0;
    while (i < n && (h[i] == ' ' || h[i] == '\n' || h[i] == '\r' || h[i] == '\t')) i++;
    return i < n && h[i] == '[';
}

/* The reader for these first bytes (and the name's extension), or NULL. */
typedef enum { MODEL_UNKNOWN, MODEL_SAFETENSORS, MODEL_TORCH, MODEL_TFJS } model_kind;

static model_kind model_kind_of(const char *path, const unsigned char *head, size_t n) {
    /* a .safetensors name gets the reader's precise diagnosis even when the content is broken */
    if (looks_safetensors(head, n) || ends_with(path, ".safetensors")) return MODEL_SAFETENSORS;
    /* likewise a checkpoint's name gets the checkpoint reader's diagnosis */
    if (looks_torch(head, n) || ends_with(path, ".ckpt") || ends_with(path, ".pth") ||
        ends_with(path, ".pt"))
        return MODEL_TORCH;
    if (looks_tfjs(head, n) || ends_with(path, ".json")) return MODEL_TFJS;
    return MODEL_UNKNOWN;
}

static sg_status not_a_model(const char *path, sg_error *err) {
    return sg_error_set(err, SG_ERR_FORMAT,
                        "%s: not a safetensors model file, a torch checkpoint nor a TensorFlow.js "
                        "weights manifest",
                        path);
}

sg_status sg_model_open(const char *path, sg_weights **out, sg_error *err) {
    if (!path || !out) return sg_error_set(err, SG_ERR_ARG, "sg_model_open: NULL argument");
    *out = NULL;
    unsigned char head[16];
    int fd = sg_file_open_regular(path, NULL, err);
    if (fd < 0) return err ? err->status : SG_ERR_IO;
    ssize_t k = read(fd, head, sizeof head);
    close(fd);
    switch (model_kind_of(path, head, k > 0 ? (size_t)k : 0)) {
    case MODEL_SAFETENSORS: return sg_safetensors_open(path, out, err);
    case MODEL_TORCH: return sg_ckpt_open(path, out, err);
    case MODEL_TFJS: return sg_tfjs_open(path, out, err);
    default: return not_a_model(path, err);
    }
}

/* ---- private copies: a source over a file read into memory, which it owns ------------------- */
typedef struct {
    sg_weights base;
    sg_weights *inner;
    uint8_t *data;
    size_t size;
} owned_source;

static sg_status own_shape(sg_weights *w, const char *name, sg_shape *shape, sg_error *err) {
    sg_weights *in = ((owned_source *)w)->inner;
    return in->shape(in, name, shape, err);
}
static sg_status own_get(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                         sg_error *err) {
    sg_weights *in = ((owned_source *)w)->inner;
    return in->get(in, name, want, data, err);
}
static void own_each(sg_weights *w, int (*fn)(void *, const char *, const sg_shape *), void *ctx) {
    sg_weights *in = ((owned_source *)w)->inner;
    in->each(in, fn, ctx);
}
static const char *own_meta(sg_weights *w, const char *key) {
    sg_weights *in = ((owned_source *)w)->inner;
    return in->meta(in, key);
}
static void own_free(sg_weights *w) {
    owned_source *o = (owned_source *)w;
    sg_weights_free(o->inner);
    sg_file_private_free(o->data, o->size);
    free(o);
}

sg_status sg_model_load(const char *path, sg_weights **out, sg_file_info *info, sg_error *err) {
    if (!path || !out) return sg_error_set(err, SG_ERR_ARG, "sg_model_load: NULL argument");
    *out = NULL;
    uint8_t *data;
    size_t size;
    sg_status st = sg_file_read_private(path, 0, &data, &size, info, err);
    if (st) return st;
    owned_source *o = calloc(1, sizeof *o);
    if (!o) {
        sg_file_private_free(data, size);
        return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", path);
    }
    o->data = data;
    o->size = size;
    if (model_kind_of(path, data ? data : (const uint8_t *)"", size < 16 ? size : 16) ==
        MODEL_TFJS) { /* its source copies what it reads: no private copy to keep */
        free(o);
        sg_file_private_free(data, size);
        return sg_tfjs_open(path, out, err);
    }
    switch (model_kind_of(path, data ? data : (const uint8_t *)"", size < 16 ? size : 16)) {
    case MODEL_SAFETENSORS:
        st = sg_safetensors_open_memory(data, size, path, &o->inner, err);
        break;
    case MODEL_TORCH: st = sg_ckpt_open_memory(data, size, path, &o->inner, err); break;
    default: st = not_a_model(path, err);
    }
    if (st) {
        sg_file_private_free(data, size);
        free(o);
        return st;
    }
    o->base = (sg_weights){
        .shape = own_shape, .get = own_get, .each = own_each, .meta = own_meta, .free = own_free};
    snprintf(o->base.source, sizeof o->base.source, "%s", o->inner->source);
    *out = &o->base;
    return SG_OK;
}
