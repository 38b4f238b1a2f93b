/* Shape helpers, the name map, the tensor lookup shared by the file sources, file mapping, and
 * the sg_weights_get convenience. */
#include "model_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- shapes --------------------------------------------------------------------------------- */
bool sg_shape_numel(const sg_shape *s, uint64_t *numel) {
    /* 2^60 leaves room for ×8 (the widest item size) without overflowing a uint64 */
    const uint64_t limit = (uint64_t)1 << 60;
    if (s->ndim < 0 || s->ndim > SG_MAX_DIMS) return false;
    uint64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dims[i] < 0) return false;
        uint64_t d = (uint64_t)s->dims[i];
        if (d != 0 && n > limit / d) return false;
        n *= d;
    }
    *numel = n;
    return true;
}

bool sg_shape_equal(const sg_shape *a, const sg_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim && i < SG_MAX_DIMS; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

const char *sg_shape_str(const sg_shape *s, char *buf, size_t cap) {
    size_t used = 0;
    int n = s->ndim < 0 ? 0 : s->ndim > SG_MAX_DIMS ? SG_MAX_DIMS : s->ndim;
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && used < cap; i++)
        used +=
            (size_t)snprintf(buf + used, cap - used, i ? ",%lld" : "%lld", (long long)s->dims[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

const char *sg_msg_name(const char *name, char *buf, size_t cap) {
    size_t len = strlen(name), keep = len;
    if (cap < 8) {
        if (cap) buf[0] = '\0';
        return buf;
    }
    if (keep > cap - 1) keep = cap - 4; /* room for "..." */
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)name[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (keep < len) {
        memcpy(buf + keep, "...", 4);
    } else {
        buf[keep] = '\0';
    }
    return buf;
}

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

/* ---- convenience ---------------------------------------------------------------------------- */
sg_status sg_weights_get(sg_weights *w, const char *name, const float **data, sg_error *err,
                         int ndim, ...) {
    if (!w || !name || !data) return sg_error_set(err, SG_ERR_ARG, "sg_weights_get: NULL argument");
    if (ndim < 0 || ndim > SG_MAX_DIMS)
        return sg_error_set(err, SG_ERR_ARG, "%s: tensor %s: %d dims asked, at most %d", w->source,
                            name, ndim, SG_MAX_DIMS);
    sg_shape want = {.ndim = ndim};
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) want.dims[i] = va_arg(ap, int);
    va_end(ap);
    return w->get(w, name, &want, data, err);
}

sg_status sg_weights_bind(sg_weights *w, const char *prefix, const sg_weight_spec *spec, int n,
                          size_t *params, sg_error *err) {
    for (int i = 0; i < n; i++) {
        const sg_weight_spec *t = &spec[i];
        char name[256];
        snprintf(name, sizeof name, "%s.%s", prefix, t->leaf);
        const int *d = t->dims;
        const sg_status st = sg_weights_get(w, name, t->data, err, t->ndim, d[0], d[1], d[2], d[3]);
        if (st != SG_OK) return st;
        size_t numel = 1;
        for (int k = 0; k < t->ndim && k < 4; k++) numel *= (size_t)d[k];
        if (params) *params += numel;
    }
    return SG_OK;
}

sg_status sg_file_map(const char *path, const uint8_t **data, size_t *size, int *fd_out,
                      sg_error *err) {
    *data = NULL;
    *size = 0;
    sg_file_info sb;
    int fd = sg_file_open_regular(path, &sb, err); /* a FIFO is refused, not waited on */
    if (fd < 0) return err ? err->status : SG_ERR_IO;
    sg_status st = SG_OK;
    if (sb.size > 0) { /* mmap of 0 bytes fails; the parsers report the truncation */
        void *p = mmap(NULL, (size_t)sb.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            st = sg_error_set(err, SG_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        } else {
            *data = p;
            *size = (size_t)sb.size;
        }
    }
    if (st == SG_OK && fd_out) *fd_out = fd;
    else close(fd);
    return st;
}
