/* TensorFlow.js weights: a manifest (model-weights_manifest.json) and its shard files, as the
 * npm packages of face-api.js publish them. Every float32 tensor is dequantized into memory this
 * source owns, so it serves like any other source (and `stargan convert` writes it out). */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TFJS_MAX_TENSORS 4096

typedef struct {
    char *name;
    sg_shape shape;
    float *data;
} tj_tensor;

typedef struct {
    sg_weights base; /* first, so an sg_weights* is a tj_source* */
    tj_tensor *t;    /* manifest order, float32 tensors only */
    size_t n;
    sg_namemap by_name;
} tj_source;

/* ---- values --------------------------------------------------------------------------------- */
static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0    ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), e - 25);
    return h & 0x8000 ? -v : v;
}

typedef enum { Q_NONE, Q_UINT8, Q_UINT16, Q_FLOAT16 } tj_quant;

typedef struct {
    tj_quant q;
    float scale, min;
} tj_dequant;

static int quant_size(tj_quant q) { return q == Q_NONE ? 4 : q == Q_UINT8 ? 1 : 2; }

/* tfjs's dequantization: q·scale + min (uint8, uint16), or the half value (float16) */
static void dequantize(const uint8_t *p, size_t n, const tj_dequant *d, float *out) {
    for (size_t i = 0; i < n; i++) {
        switch (d->q) {
        case Q_NONE: memcpy(&out[i], p + 4 * i, 4); break;
        case Q_UINT8: out[i] = (float)p[i] * d->scale + d->min; break;
        case Q_UINT16: out[i] = (float)(p[2 * i] | p[2 * i + 1] << 8) * d->scale + d->min; break;
        case Q_FLOAT16: out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        }
    }
}

/* TF's [kh, kw, in, out] kernel → our [out, in, kh, kw] (a depthwise [kh, kw, C, 1] becomes
 * [1, C, kh, kw]: the bytes of [C, kh, kw]). */
static void hwio_to_oihw(const float *src, const sg_shape *s, float *dst) {
    int64_t kh = s->dims[0], kw = s->dims[1], ci = s->dims[2], co = s->dims[3];
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t i = 0; i < ci; i++)
                for (int64_t o = 0; o < co; o++)
                    dst[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
}

/* ---- manifest entries ----------------------------------------------------------------------- */
typedef struct {
    const char *name;
    int is_float;
    sg_shape shape;
    size_t numel;
    tj_dequant dq;
} tj_entry;

static sg_status parse_shape(const char *label, const cJSON *j, tj_entry *e, sg_error *err) {
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    int nd = cJSON_GetArraySize(shape);
    if (!cJSON_IsArray(shape) || nd > SG_MAX_DIMS)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: bad shape", label, e->name);
    e->shape.ndim = nd;
    e->numel = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        double v = cJSON_IsNumber(d) ? d->valuedouble : -1;
        if (v < 0 || v > (1 << 28) || v != floor(v))
            return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: bad shape", label, e->name);
        e->shape.dims[i] = (int64_t)v;
        e->numel *= (size_t)v;
        if (e->numel > ((size_t)1 << 28))
            return sg_error_set(err, SG_ERR_LIMIT, "%s: %s: too large", label, e->name);
    }
    return SG_OK;
}

static sg_status parse_quant(const char *label, const cJSON *j, tj_entry *e, sg_error *err) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "quantization");
    e->dq = (tj_dequant){Q_NONE, 1, 0};
    if (!q) return SG_OK;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(q, "dtype");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(q, "scale");
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(q, "min");
    const char *d = cJSON_IsString(dt) ? dt->valuestring : "";
    e->dq.q = !strcmp(d, "uint8")     ? Q_UINT8
              : !strcmp(d, "uint16")  ? Q_UINT16
              : !strcmp(d, "float16") ? Q_FLOAT16
                                      : Q_NONE;
    if (e->dq.q == Q_NONE)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: %s: quantization dtype '%.16s'", label,
                            e->name, d);
    if (e->dq.q == Q_FLOAT16) return SG_OK;
    if (!cJSON_IsNumber(sc) || !cJSON_IsNumber(mn) || !isfinite(sc->valuedouble) ||
        !isfinite(mn->valuedouble))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: quantization without scale and min", label,
                            e->name);
    e->dq.scale = (float)sc->valuedouble, e->dq.min = (float)mn->valuedouble;
    return SG_OK;
}

static sg_status parse_entry(const char *label, const cJSON *j, tj_entry *e, sg_error *err) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 200 ||
        !cJSON_IsString(dtype))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: a weight without a name or dtype", label);
    e->name = name->valuestring;
    e->is_float = !strcmp(dtype->valuestring, "float32");
    if (!e->is_float && strcmp(dtype->valuestring, "int32"))
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: %s: dtype '%.16s'", label, e->name,
                            dtype->valuestring);
    sg_status st = parse_shape(label, j, e, err);
    return st ? st : parse_quant(label, j, e, err);
}

/* ---- the source ----------------------------------------------------------------------------- */
static sg_status tj_shape(sg_weights *w, const char *name, sg_shape *shape, sg_error *err) {
    tj_source *s = (tj_source *)w;
    size_t i;
    if (!sg_namemap_get(&s->by_name, name, &i)) return SG_ERR_MISSING;
    (void)err;
    *shape = s->t[i].shape;
    return SG_OK;
}

static sg_status tj_get(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                        sg_error *err) {
    tj_source *s = (tj_source *)w;
    size_t i;
    sg_status st = sg_tensor_find(w, &s->by_name, name, &i, err);
    if (st == SG_OK) *data = s->t[i].data;
    return st ? st : sg_tensor_check(w, name, "F32", &s->t[i].shape, want, data, err);
}

static void tj_each(sg_weights *w, int (*fn)(void *, const char *, const sg_shape *), void *ctx) {
    tj_source *s = (tj_source *)w;
    for (size_t i = 0; i < s->n; i++)
        if (fn(ctx, s->t[i].name, &s->t[i].shape)) return;
}

static const char *tj_meta(sg_weights *w, const char *key) {
    (void)w;
    return !strcmp(key, "weights") ? "a TensorFlow.js weights manifest" : NULL;
}

static void tj_free(sg_weights *w) {
    tj_source *s = (tj_source *)w;
    for (size_t i = 0; i < s->n; i++) {
        free(s->t[i].name);
        free(s->t[i].data);
    }
    free(s->t);
    sg_namemap_free(&s->by_name);
    free(s);
}

/* One float32 entry's values at p: dequantized, 4-D kernels transposed. */
static sg_status add_tensor(tj_source *s, const tj_entry *e, const uint8_t *p, sg_error *err) {
    tj_tensor *t = &s->t[s->n];
    float *raw = malloc((e->numel ? e->numel : 1) * sizeof *raw);
    t->data = e->shape.ndim == 4 ? malloc((e->numel ? e->numel : 1) * sizeof *raw) : raw;
    t->name = strdup(e->name);
    if (!raw || !t->data || !t->name) {
        free(raw);
        if (t->data != raw) free(t->data);
        free(t->name);
        return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    }
    dequantize(p, e->numel, &e->dq, raw);
    t->shape = e->shape;
    if (e->shape.ndim == 4) {
        hwio_to_oihw(raw, &e->shape, t->data);
        free(raw);
        int64_t kh = e->shape.dims[0], kw = e->shape.dims[1];
        t->shape.dims[0] = e->shape.dims[3], t->shape.dims[1] = e->shape.dims[2];
        t->shape.dims[2] = kh, t->shape.dims[3] = kw;
    }
    s->n++;
    return SG_OK;
}

/* Walks every group's weights over the shards' bytes (all groups' shards concatenated). */
static sg_status tj_load(tj_source *s, const cJSON *groups, const uint8_t *bin, size_t size,
                         sg_error *err) {
    const char *label = s->base.source;
    size_t off = 0, count = 0;
    for (const cJSON *g = groups->child; g; g = g->next) {
        const cJSON *ws = cJSON_GetObjectItemCaseSensitive(g, "weights");
        if (!cJSON_IsArray(ws))
            return sg_error_set(err, SG_ERR_FORMAT, "%s: a group without weights", label);
        for (const cJSON *j = ws->child; j; j = j->next) {
            tj_entry e = {0};
            sg_status st = parse_entry(label, j, &e, err);
            if (st) return st;
            size_t bytes = e.numel * (size_t)quant_size(e.dq.q);
            if (bytes > size - off)
                return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: past the end of the shards", label,
                                    e.name);
            if (e.is_float && ++count > TFJS_MAX_TENSORS)
                return sg_error_set(err, SG_ERR_LIMIT, "%s: more than %d tensors", label,
                                    TFJS_MAX_TENSORS);
            if (e.is_float && (st = add_tensor(s, &e, bin + off, err))) return st;
            off += bytes;
        }
    }
    if (off != size)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: the shards hold %zu bytes, the manifest describes %zu", label,
                            size, off);
    char **first = s->n ? &s->t[0].name : NULL;
    return sg_tensor_index(&s->base, &s->by_name, first, s->n, sizeof s->t[0], err);
}

sg_status sg_tfjs_open_memory(const char *manifest, size_t len, const uint8_t *bin, size_t size,
                              const char *label, sg_weights **out, sg_error *err) {
    *out = NULL;
    cJSON *groups = cJSON_ParseWithLength(manifest, len);
    if (!cJSON_IsArray(groups)) {
        cJSON_Delete(groups);
        return sg_error_set(err, SG_ERR_FORMAT, "%s: not a weights manifest (a JSON array)", label);
    }
    tj_source *s = calloc(1, sizeof *s);
    s->t = s ? calloc(TFJS_MAX_TENSORS, sizeof *s->t) : NULL;
    if (!s || !s->t) {
        free(s);
        cJSON_Delete(groups);
        return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", label);
    }
    s->base = (sg_weights){tj_shape, tj_get, tj_each, tj_meta, tj_free, {0}};
    snprintf(s->base.source, sizeof s->base.source, "%s", label);
    sg_status st = tj_load(s, groups, bin, size, err);
    cJSON_Delete(groups);
    if (st) {
        tj_free(&s->base);
        return st;
    }
    *out = &s->base;
    return SG_OK;
}

/* ---- files ---------------------------------------------------------------------------------- */
#define TFJS_MAX_MANIFEST ((uint64_t)1 << 20)
#define TFJS_MAX_SHARDS   ((uint64_t)256 << 20)

/* Appends the shard `name` (a file name in dir, nothing else) to *bin. */
static sg_status read_shard(const char *dir, const char *name, uint8_t **bin, size_t *size,
                            sg_error *err) {
    if (!name[0] || strchr(name, '/') || !strcmp(name, "..") || strlen(name) > 255)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: shard path '%.64s' is not a file name", dir,
                            name);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return sg_error_set(err, SG_ERR_ARG, "%s: path too long", dir);
    uint8_t *d;
    size_t n;
    sg_status st = sg_file_read_private(path, TFJS_MAX_SHARDS, &d, &n, NULL, err);
    if (st) return st;
    uint8_t *grown = *size + n <= TFJS_MAX_SHARDS ? realloc(*bin, *size + n + 1) : NULL;
    if (grown) memcpy(grown + *size, d, n), *bin = grown, *size += n;
    sg_file_private_free(d, n);
    return grown ? SG_OK
                 : sg_error_set(err, SG_ERR_LIMIT, "%s: shards over %llu bytes or out of memory",
                                dir, (unsigned long long)TFJS_MAX_SHARDS);
}

static sg_status read_shards(const char *dir, const char *text, size_t len, uint8_t **bin,
                             size_t *size, sg_error *err) {
    cJSON *groups = cJSON_ParseWithLength(text, len);
    sg_status st = cJSON_IsArray(groups)
                       ? SG_OK
                       : sg_error_set(err, SG_ERR_FORMAT, "%s: not a weights manifest", dir);
    for (const cJSON *g = groups ? groups->child : NULL; g && !st; g = g->next) {
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g, "paths");
        if (!cJSON_IsArray(paths)) st = sg_error_set(err, SG_ERR_FORMAT, "%s: no paths", dir);
        for (const cJSON *p = paths ? paths->child : NULL; p && !st; p = p->next)
            st = cJSON_IsString(p)
                     ? read_shard(dir, p->valuestring, bin, size, err)
                     : sg_error_set(err, SG_ERR_FORMAT, "%s: a path is no string", dir);
    }
    cJSON_Delete(groups);
    return st;
}

sg_status sg_tfjs_open(const char *manifest, sg_weights **out, sg_error *err) {
    *out = NULL;
    uint8_t *text, *bin = NULL;
    size_t len, size = 0;
    sg_status st = sg_file_read_private(manifest, TFJS_MAX_MANIFEST, &text, &len, NULL, err);
    if (st) return st;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", manifest);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    st = read_shards(dir, (const char *)text, len, &bin, &size, err);
    if (!st) st = sg_tfjs_open_memory((const char *)text, len, bin, size, manifest, out, err);
    sg_file_private_free(text, len);
    free(bin);
    return st;
}
