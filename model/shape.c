/* Shapes (count, compare, print) and tensor names made printable for messages
 * (model_internal.h). */
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

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
