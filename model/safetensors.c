/* safetensors reader: the file is memory-mapped read-only and tensors are handed out as pointers
 * into the mapping, so opening a 300 MB model costs a header parse, not a copy. The whole header
 * is validated at open (JSON, dtypes, shapes, offsets, overlaps) so `get` can only fail on what
 * the caller asks (a missing name, a dtype or shape it did not expect). */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error                                                                                             \
    "safetensors data are little-endian and handed out in place: a little-endian host is required"
#endif

typedef struct {
    char *name;
    char dtype[12];
    int itemsize;
    sg_shape shape;
    uint64_t begin, end; /* within the data section */
    float *copy;         /* aligned copy, only when the mapped data is not 4-byte aligned */
} st_tensor;

typedef struct {
    sg_weights base; /* first, so an sg_weights* is an st_source* */
    const uint8_t *file;
    size_t file_size;
    int mapped; /* munmap at free (else the caller owns the bytes) */
    const uint8_t *data;
    uint64_t data_size;
    st_tensor *t; /* file order */
    size_t n;
    sg_namemap by_name;
    char **meta; /* key, value, key, value ... */
    size_t n_meta;
} st_source;

static const struct {
    const char *name;
    int size;
} st_dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
                 {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
                 {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

static int st_itemsize(const char *dtype) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, dtype) == 0) return st_dtypes[i].size;
    return 0;
}

/* ---- header parsing ------------------------------------------------------------------------- */
/* A JSON number that is an exact non-negative integer below 2^53 (beyond that a double no longer
 * holds every integer, so the value could silently differ from the text). */
static bool json_uint(const cJSON *j, uint64_t *v) {
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d < 9007199254740992.0)) return false; /* also rejects NaN */
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return false;
    *v = u;
    return true;
}

static sg_status st_parse_shape(st_source *s, const char *nm, const cJSON *shape, st_tensor *t,
                                sg_error *err) {
    if (!cJSON_IsArray(shape))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s: shape missing or not a list",
                            s->base.source, nm);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > SG_MAX_DIMS)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: tensor %s: %d dims, at most %d supported",
                            s->base.source, nm, ndim, SG_MAX_DIMS);
    t->shape.ndim = ndim;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        uint64_t v;
        if (!json_uint(d, &v))
            return sg_error_set(err, SG_ERR_FORMAT,
                                "%s: tensor %s: shape has a dimension that is not a "
                                "non-negative integer below 2^53",
                                s->base.source, nm);
        t->shape.dims[i++] = (int64_t)v;
    }
    return SG_OK;
}

static sg_status st_parse_offsets(st_source *s, const char *nm, const cJSON *offs, st_tensor *t,
                                  sg_error *err) {
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &t->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &t->end))
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: tensor %s: data_offsets missing or not [begin, end]",
                            s->base.source, nm);
    if (t->begin > t->end)
        return sg_error_set(
            err, SG_ERR_FORMAT, "%s: tensor %s: data_offsets [%llu,%llu] end before they begin",
            s->base.source, nm, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > s->data_size)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%llu,%llu] outside the data section "
                            "(%llu bytes)",
                            s->base.source, nm, (unsigned long long)t->begin,
                            (unsigned long long)t->end, (unsigned long long)s->data_size);
    return SG_OK;
}

/* Checks that the byte range matches shape × item size. */
static sg_status st_check_size(st_source *s, const char *nm, const st_tensor *t, sg_error *err) {
    char sh[SG_SHAPE_STR_CAP];
    uint64_t numel;
    if (!sg_shape_numel(&t->shape, &numel))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s: shape %s is too large",
                            s->base.source, nm, sg_shape_str(&t->shape, sh, sizeof sh));
    uint64_t need = numel * (uint64_t)t->itemsize; /* numel ≤ 2^60, itemsize ≤ 8: fits */
    if (t->end - t->begin != need)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%llu,%llu] hold %llu bytes, but %s %s "
                            "needs %llu",
                            s->base.source, nm, (unsigned long long)t->begin,
                            (unsigned long long)t->end, (unsigned long long)(t->end - t->begin),
                            t->dtype, sg_shape_str(&t->shape, sh, sizeof sh),
                            (unsigned long long)need);
    return SG_OK;
}

static sg_status st_parse_tensor(st_source *s, const cJSON *item, st_tensor *t, sg_error *err) {
    char nm[SG_MSG_NAME_CAP];
    sg_msg_name(item->string, nm, sizeof nm);
    if (!item->string[0])
        return sg_error_set(err, SG_ERR_FORMAT, "%s: a tensor has an empty name", s->base.source);
    if (!cJSON_IsObject(item))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s: entry is not an object",
                            s->base.source, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dt))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s: dtype missing or not a string",
                            s->base.source, nm);
    t->itemsize = st_itemsize(dt->valuestring);
    if (!t->itemsize) {
        char d[24];
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: tensor %s: unknown dtype %s",
                            s->base.source, nm, sg_msg_name(dt->valuestring, d, sizeof d));
    }
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    sg_status st = st_parse_shape(s, nm, cJSON_GetObjectItemCaseSensitive(item, "shape"), t, err);
    if (st == SG_OK)
        st =
            st_parse_offsets(s, nm, cJSON_GetObjectItemCaseSensitive(item, "data_offsets"), t, err);
    if (st == SG_OK) st = st_check_size(s, nm, t, err);
    if (st != SG_OK) return st;
    t->name = strdup(item->string);
    if (!t->name) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    return SG_OK;
}

static sg_status st_parse_meta(st_source *s, const cJSON *m, sg_error *err) {
    if (s->meta)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: __metadata__ appears twice", s->base.source);
    if (!cJSON_IsObject(m))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: __metadata__ is not an object",
                            s->base.source);
    size_t n = (size_t)cJSON_GetArraySize(m);
    s->meta = calloc(2 * n + 1, sizeof *s->meta); /* +1: non-NULL even when empty */
    if (!s->meta) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, m) {
        char k[SG_MSG_NAME_CAP];
        if (!cJSON_IsString(kv))
            return sg_error_set(err, SG_ERR_FORMAT, "%s: __metadata__ value of %s is not a string",
                                s->base.source, sg_msg_name(kv->string, k, sizeof k));
        s->meta[2 * s->n_meta] = strdup(kv->string);
        s->meta[2 * s->n_meta + 1] = strdup(kv->valuestring);
        s->n_meta++; /* counted before the check so free() releases a half pair */
        if (!s->meta[2 * s->n_meta - 2] || !s->meta[2 * s->n_meta - 1])
            return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    }
    return SG_OK;
}

static _Thread_local const st_tensor *st_sort_base;
static int st_cmp_begin(const void *a, const void *b) {
    const st_tensor *x = &st_sort_base[*(const size_t *)a], *y = &st_sort_base[*(const size_t *)b];
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Two tensors sharing bytes would let a write through one alias the other (and is never what a
 * writer meant), so overlapping ranges are rejected. Empty tensors overlap nothing. */
static sg_status st_check_overlap(st_source *s, sg_error *err) {
    size_t *ord = malloc((s->n + 1) * sizeof *ord), m = 0;
    if (!ord) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].end > s->t[i].begin) ord[m++] = i;
    /* qsort has no context argument: the base goes through a thread-local, so two threads may
     * open models at once */
    st_sort_base = s->t;
    qsort(ord, m, sizeof *ord, st_cmp_begin);
    sg_status st = SG_OK;
    for (size_t k = 1; k < m && st == SG_OK; k++) {
        const st_tensor *a = &s->t[ord[k - 1]], *b = &s->t[ord[k]];
        if (b->begin < a->end) {
            char na[SG_MSG_NAME_CAP], nb[SG_MSG_NAME_CAP];
            st = sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s overlaps tensor %s",
                              s->base.source, sg_msg_name(b->name, nb, sizeof nb),
                              sg_msg_name(a->name, na, sizeof na));
        }
    }
    free(ord);
    return st;
}

static sg_status st_parse_entries(st_source *s, const cJSON *root, sg_error *err) {
    s->t = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *s->t);
    if (!s->t) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        sg_status st = strcmp(item->string, "__metadata__") == 0
                           ? st_parse_meta(s, item, err)
                           : st_parse_tensor(s, item, &s->t[s->n], err);
        if (st != SG_OK) return st;
        if (s->t[s->n].name) s->n++;
    }
    /* a key given twice in the JSON is an error: which one would be meant? */
    sg_status st = sg_tensor_index(&s->base, &s->by_name, &s->t[0].name, s->n, sizeof s->t[0], err);
    return st == SG_OK ? st_check_overlap(s, err) : st;
}

/* The JSON header: copied to a NUL-terminated buffer (cJSON then never reads past it). */
static sg_status st_parse_header(st_source *s, uint64_t hlen, sg_error *err) {
    char *text = malloc((size_t)hlen + 1);
    if (!text) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    memcpy(text, s->file + 8, (size_t)hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    sg_status st = SG_OK;
    if (!root) {
        st = sg_error_set(err, SG_ERR_FORMAT, "%s: header is not valid JSON", s->base.source);
    } else {
        /* writers pad the header with spaces (some with NULs) to align the data; nothing else
         * may follow the JSON, or a damaged header could pass unnoticed */
        const char *stop = text + hlen;
        while (end && end < stop && (*end == '\0' || strchr(" \t\r\n", *end))) end++;
        if (!end || end < stop)
            st = sg_error_set(err, SG_ERR_FORMAT, "%s: header has bytes after the JSON",
                              s->base.source);
        else if (!cJSON_IsObject(root))
            st =
                sg_error_set(err, SG_ERR_FORMAT, "%s: header is not a JSON object", s->base.source);
        else st = st_parse_entries(s, root, err);
    }
    cJSON_Delete(root);
    free(text);
    return st;
}

static sg_status st_parse(st_source *s, sg_error *err) {
    if (s->file_size < 8)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: truncated (file is %zu bytes)", s->base.source,
                            s->file_size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | s->file[i];
    if (hlen > (uint64_t)s->file_size - 8)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: header claims %llu bytes but the file has %zu",
                            s->base.source, (unsigned long long)hlen, s->file_size);
    if (hlen > SG_ST_MAX_HEADER)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: header of %llu bytes exceeds the limit of %llu",
                            s->base.source, (unsigned long long)hlen,
                            (unsigned long long)SG_ST_MAX_HEADER);
    s->data = s->file + 8 + hlen;
    s->data_size = (uint64_t)s->file_size - 8 - hlen;
    return st_parse_header(s, hlen, err);
}

/* ---- the sg_weights vtable ------------------------------------------------------------------ */
static sg_status st_find(st_source *s, const char *name, st_tensor **t, sg_error *err) {
    size_t i;
    sg_status st = sg_tensor_find(&s->base, &s->by_name, name, &i, err);
    if (st == SG_OK) *t = &s->t[i];
    return st;
}

static sg_status st_shape(sg_weights *w, const char *name, sg_shape *shape, sg_error *err) {
    st_tensor *t;
    sg_status st = st_find((st_source *)w, name, &t, err);
    if (st == SG_OK) *shape = t->shape;
    return st;
}

/* Data of an F32 tensor as float*: in place when aligned, else (a header length that is not a
 * multiple of 4, rare) from a copy made once and kept until free. */
static sg_status st_floats(st_source *s, st_tensor *t, const float **data, sg_error *err) {
    const uint8_t *p = s->data + t->begin;
    if ((uintptr_t)p % sizeof(float) == 0) {
        *data = (const float *)(const void *)p;
        return SG_OK;
    }
    if (!t->copy) {
        t->copy = malloc(t->end - t->begin + sizeof(float));
        if (!t->copy) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
        memcpy(t->copy, p, t->end - t->begin);
    }
    *data = t->copy;
    return SG_OK;
}

static sg_status st_get(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                        sg_error *err) {
    st_source *s = (st_source *)w;
    st_tensor *t;
    sg_status st = st_find(s, name, &t, err);
    if (st == SG_OK) st = sg_tensor_check(w, name, t->dtype, &t->shape, want, data, err);
    return st == SG_OK ? st_floats(s, t, data, err) : st;
}

static void st_each(sg_weights *w, int (*fn)(void *, const char *, const sg_shape *), void *ctx) {
    st_source *s = (st_source *)w;
    for (size_t i = 0; i < s->n; i++)
        if (fn(ctx, s->t[i].name, &s->t[i].shape)) return;
}

static const char *st_meta(sg_weights *w, const char *key) {
    st_source *s = (st_source *)w;
    for (size_t i = 0; key && i < s->n_meta; i++)
        if (strcmp(s->meta[2 * i], key) == 0) return s->meta[2 * i + 1];
    return NULL;
}

static void st_free(sg_weights *w) {
    st_source *s = (st_source *)w;
    for (size_t i = 0; i < s->n; i++) {
        free(s->t[i].name);
        free(s->t[i].copy);
    }
    free(s->t);
    for (size_t i = 0; i < 2 * s->n_meta; i++) free(s->meta[i]);
    free(s->meta);
    sg_namemap_free(&s->by_name);
    if (s->mapped && s->file_size) munmap((void *)s->file, s->file_size);
    free(s);
}

static st_source *st_new(const char *label) {
    st_source *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.shape = st_shape;
    s->base.get = st_get;
    s->base.each = st_each;
    s->base.meta = st_meta;
    s->base.free = st_free;
    snprintf(s->base.source, sizeof s->base.source, "%s", label);
    return s;
}

/* Parses s; on failure frees it. */
static sg_status st_finish(st_source *s, sg_weights **out, sg_error *err) {
    sg_status st = st_parse(s, err);
    if (st != SG_OK) {
        st_free(&s->base);
        return st;
    }
    *out = &s->base;
    return SG_OK;
}

/* ---- public --------------------------------------------------------------------------------- */
sg_status sg_safetensors_open_memory(const void *data, size_t size, const char *label,
                                     sg_weights **out, sg_error *err) {
    if (!out || (!data && size)) return sg_error_set(err, SG_ERR_ARG, "safetensors: NULL argument");
    *out = NULL;
    st_source *s = st_new(label ? label : "(memory)");
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "safetensors: out of memory");
    s->file = data;
    s->file_size = size;
    return st_finish(s, out, err);
}

/* Maps path read-only into s. */
static sg_status st_map(st_source *s, const char *path, sg_error *err) {
    sg_status st = sg_file_map(path, &s->file, &s->file_size, NULL, err);
    s->mapped = st == SG_OK && s->file != NULL;
    return st;
}

sg_status sg_safetensors_open(const char *path, sg_weights **out, sg_error *err) {
    if (!path || !out) return sg_error_set(err, SG_ERR_ARG, "safetensors: NULL argument");
    *out = NULL;
    st_source *s = st_new(path);
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", path);
    sg_status st = st_map(s, path, err);
    if (st != SG_OK) {
        st_free(&s->base);
        return st;
    }
    return st_finish(s, out, err);
}

sg_status sg_safetensors_get_i64(sg_weights *w, const char *name, int64_t *out, size_t n,
                                 sg_error *err) {
    if (!w || !name || (!out && n))
        return sg_error_set(err, SG_ERR_ARG, "sg_safetensors_get_i64: NULL argument");
    if (w->get != st_get)
        return sg_error_set(err, SG_ERR_ARG, "%s: not a safetensors source", w->source);
    st_source *s = (st_source *)w;
    st_tensor *t;
    sg_status st = st_find(s, name, &t, err);
    if (st != SG_OK) return st;
    char nm[SG_MSG_NAME_CAP];
    sg_msg_name(name, nm, sizeof nm);
    if (strcmp(t->dtype, "I64") != 0)
        return sg_error_set(err, SG_ERR_SHAPE, "%s: tensor %s: dtype %s, expected I64",
                            s->base.source, nm, t->dtype);
    uint64_t count = (t->end - t->begin) / 8;
    if (count != n)
        return sg_error_set(err, SG_ERR_SHAPE, "%s: tensor %s: %llu elements, expected %zu",
                            s->base.source, nm, (unsigned long long)count, n);
    if (n) memcpy(out, s->data + t->begin, n * sizeof *out); /* memcpy: may be unaligned */
    return SG_OK;
}
