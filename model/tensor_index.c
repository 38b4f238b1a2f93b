/* The name → index map (FNV-1a, open addressing) and the tensor lookup the file sources share
 * (model_internal.h). */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- name map ------------------------------------------------------------------------------- */
uint64_t sg_fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

static size_t namemap_probe(const sg_namemap_slot *slots, size_t cap, const char *key) {
    size_t i = (size_t)sg_fnv1a64(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0) i = (i + 1) & (cap - 1);
    return i;
}

bool sg_namemap_get(const sg_namemap *m, const char *key, size_t *value) {
    if (!m->cap) return false;
    size_t i = namemap_probe(m->slots, m->cap, key);
    if (!m->slots[i].key) return false;
    *value = m->slots[i].value;
    return true;
}

static int namemap_grow(sg_namemap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    sg_namemap_slot *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        s[namemap_probe(s, cap, m->slots[i].key)] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

int sg_namemap_put(sg_namemap *m, const char *key, size_t value) {
    /* keep the load at most 1/2 so probes stay short */
    if ((m->n + 1) * 2 > m->cap && namemap_grow(m) != 0) return -1;
    size_t i = namemap_probe(m->slots, m->cap, key);
    if (m->slots[i].key) return 1;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->n++;
    return 0;
}

void sg_namemap_free(sg_namemap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ---- tensor lookup -------------------------------------------------------------------------- */
sg_status sg_tensor_index(const sg_weights *w, sg_namemap *m, char *const *first, size_t n,
                          size_t stride, sg_error *err) {
    for (size_t i = 0; i < n; i++) {
        const char *name = *(char *const *)(const void *)((const char *)first + i * stride);
        int r = sg_namemap_put(m, name, i);
        if (r < 0) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", w->source);
        if (r > 0) {
            char nm[SG_MSG_NAME_CAP];
            return sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s appears twice", w->source,
                                sg_msg_name(name, nm, sizeof nm));
        }
    }
    return SG_OK;
}

sg_status sg_tensor_find(const sg_weights *w, const sg_namemap *m, const char *name, size_t *index,
                         sg_error *err) {
    if (name && sg_namemap_get(m, name, index)) return SG_OK;
    char nm[SG_MSG_NAME_CAP];
    return sg_error_set(err, SG_ERR_MISSING, "%s: tensor %s missing", w->source,
                        sg_msg_name(name ? name : "(null)", nm, sizeof nm));
}

sg_status sg_tensor_check(const sg_weights *w, const char *name, const char *dtype,
                          const sg_shape *shape, const sg_shape *want, const float **data,
                          sg_error *err) {
    char nm[SG_MSG_NAME_CAP], a[SG_SHAPE_STR_CAP], b[SG_SHAPE_STR_CAP];
    sg_msg_name(name, nm, sizeof nm);
    if (!want || !data)
        return sg_error_set(err, SG_ERR_ARG, "%s: tensor %s: NULL shape or data", w->source, nm);
    if (strcmp(dtype, "F32") != 0)
        return sg_error_set(err, SG_ERR_SHAPE, "%s: tensor %s: dtype %s, expected F32", w->source,
                            nm, dtype);
    if (!sg_shape_equal(shape, want))
        return sg_error_set(err, SG_ERR_SHAPE, "%s: tensor %s: shape %s, expected %s", w->source,
                            nm, sg_shape_str(shape, a, sizeof a), sg_shape_str(want, b, sizeof b));
    return SG_OK;
}
