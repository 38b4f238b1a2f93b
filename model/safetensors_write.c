/* safetensors writer. Layout: u64 header length, the JSON header padded with spaces so the data
 * section starts at a multiple of 64 bytes, then the tensors back to back in name order with no
 * gaps (strict readers require contiguous data). Every F32 tensor therefore starts at a multiple
 * of 4 bytes, so our reader hands it out in place from the mapping. */
#include "model_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SG_ST_DATA_ALIGN 64

static int cmp_tensor_name(const void *a, const void *b) {
    const sg_named_tensor *x = *(const sg_named_tensor *const *)a;
    const sg_named_tensor *y = *(const sg_named_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* JSON numbers are doubles to most parsers: dims must stay below 2^53 to be read back exactly
 * (only possible to exceed when another dim is 0). */
static bool wr_dims_exact(const sg_shape *s) {
    for (int i = 0; i < s->ndim; i++)
        if (s->dims[i] >= ((int64_t)1 << 53)) return false;
    return true;
}

/* Rejects what would make an unreadable file: names, shapes, data, duplicates. */
static sg_status wr_check(const char *path, const sg_named_tensor *const *ord, size_t n,
                          sg_error *err) {
    char nm[SG_MSG_NAME_CAP], sh[SG_SHAPE_STR_CAP];
    for (size_t i = 0; i < n; i++) {
        const sg_named_tensor *t = ord[i];
        uint64_t numel;
        sg_msg_name(t->name, nm, sizeof nm);
        if (!t->name[0] || strcmp(t->name, "__metadata__") == 0)
            return sg_error_set(err, SG_ERR_ARG, "%s: invalid tensor name \"%s\"", path, nm);
        if (!sg_shape_numel(&t->shape, &numel) || !wr_dims_exact(&t->shape))
            return sg_error_set(err, SG_ERR_ARG, "%s: tensor %s: invalid shape %s", path, nm,
                                sg_shape_str(&t->shape, sh, sizeof sh));
        if (numel && !t->data)
            return sg_error_set(err, SG_ERR_ARG, "%s: tensor %s: NULL data", path, nm);
        if (i && strcmp(ord[i - 1]->name, t->name) == 0)
            return sg_error_set(err, SG_ERR_ARG, "%s: tensor %s given twice", path, nm);
    }
    return SG_OK;
}

static cJSON *wr_tensor_json(const sg_named_tensor *t, uint64_t begin, uint64_t end) {
    cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
    bool ok = o && shape && offs && cJSON_AddStringToObject(o, "dtype", "F32");
    for (int i = 0; ok && i < t->shape.ndim; i++)
        ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape.dims[i]));
    ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)begin)) &&
         cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
    /* once added, the arrays belong to o */
    if (ok && cJSON_AddItemToObject(o, "shape", shape)) {
        shape = NULL;
        if (cJSON_AddItemToObject(o, "data_offsets", offs)) return o;
    }
    cJSON_Delete(shape);
    cJSON_Delete(offs);
    cJSON_Delete(o);
    return NULL;
}

static bool wr_meta_json(cJSON *root, const char *const *kv, size_t n_meta) {
    if (!n_meta) return true;
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    for (size_t i = 0; m && i < n_meta; i++) {
        if (!kv[2 * i] || !kv[2 * i + 1] || cJSON_GetObjectItemCaseSensitive(m, kv[2 * i]))
            return false; /* NULL or duplicated key */
        if (!cJSON_AddStringToObject(m, kv[2 * i], kv[2 * i + 1])) return false;
    }
    return m != NULL;
}

/* The header text (unpadded); NULL on a bad metadata list or out of memory. */
static char *wr_header(const sg_named_tensor *const *ord, size_t n, const char *const *meta_kv,
                       size_t n_meta) {
    cJSON *root = cJSON_CreateObject();
    bool ok = root && wr_meta_json(root, meta_kv, n_meta);
    uint64_t off = 0;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t numel;
        sg_shape_numel(&ord[i]->shape, &numel); /* checked by wr_check */
        cJSON *t = wr_tensor_json(ord[i], off, off + 4 * numel);
        ok = t && cJSON_AddItemToObject(root, ord[i]->name, t);
        if (!ok) cJSON_Delete(t);
        off += 4 * numel;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static bool wr_bytes(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

/* Writes the whole file to an open stream. */
static bool wr_stream(FILE *f, const char *header, const sg_named_tensor *const *ord, size_t n) {
    size_t hlen = strlen(header);
    size_t pad = (SG_ST_DATA_ALIGN - (8 + hlen) % SG_ST_DATA_ALIGN) % SG_ST_DATA_ALIGN;
    uint64_t len = (uint64_t)(hlen + pad);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(len >> (8 * i));
    char spaces[SG_ST_DATA_ALIGN];
    memset(spaces, ' ', sizeof spaces);
    bool ok = wr_bytes(f, le, 8) && wr_bytes(f, header, hlen) && wr_bytes(f, spaces, pad);
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t numel;
        sg_shape_numel(&ord[i]->shape, &numel);
        ok = wr_bytes(f, ord[i]->data, (size_t)numel * sizeof(float)); /* little-endian host */
    }
    return ok;
}

/* Writes tmp then renames it over path, so path is either the old file or the whole new one.
 * No fsync: the goal is that a failed write never leaves a half file, not crash durability. */
static sg_status wr_file(const char *path, const char *header, const sg_named_tensor *const *ord,
                         size_t n, sg_error *err) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    sg_status st = SG_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = sg_error_set(err, SG_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        bool ok = wr_stream(f, header, ord, n);
        int e = errno;
        if (fclose(f) != 0 && ok) ok = false, e = errno;
        if (!ok) st = sg_error_set(err, SG_ERR_IO, "%s: write failed: %s", tmp, strerror(e));
        else if (rename(tmp, path) != 0)
            st = sg_error_set(err, SG_ERR_IO, "%s: cannot rename to %s: %s", tmp, path,
                              strerror(errno));
        if (st != SG_OK) unlink(tmp);
    }
    free(tmp);
    return st;
}

sg_status sg_safetensors_write(const char *path, const sg_named_tensor *t, size_t n,
                               const char *const *meta_kv, size_t n_meta, sg_error *err) {
    if (!path || (!t && n) || (!meta_kv && n_meta))
        return sg_error_set(err, SG_ERR_ARG, "sg_safetensors_write: NULL argument");
    const sg_named_tensor **ord = malloc((n + 1) * sizeof *ord);
    if (!ord) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", path);
    sg_status st = SG_OK;
    for (size_t i = 0; i < n && st == SG_OK; i++)
        if (!t[i].name) st = sg_error_set(err, SG_ERR_ARG, "%s: tensor %zu has no name", path, i);
        else ord[i] = &t[i];
    if (st == SG_OK) {
        qsort(ord, n, sizeof *ord, cmp_tensor_name);
        st = wr_check(path, ord, n, err);
    }
    if (st == SG_OK) {
        char *header = wr_header(ord, n, meta_kv, n_meta);
        st = header ? wr_file(path, header, ord, n, err)
                    : sg_error_set(err, SG_ERR_ARG,
                                   "%s: cannot build the header (NULL or duplicated metadata "
                                   "key, or out of memory)",
                                   path);
        cJSON_free(header);
    }
    free(ord);
    return st;
}
