/* Arena (bump allocator for activations) and the im2col workspace. Both are one aligned block
 * allocated once; nothing here mallocs after init. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

/* aligned_alloc needs a size that is a multiple of the alignment; sg_arena_floats (net.h: 16
 * floats = 64 bytes) guarantees it. */
static float *alloc_aligned(size_t floats) {
    size_t n = sg_arena_floats(floats ? floats : 1);
    if (n > SIZE_MAX / sizeof(float)) return NULL;
    return aligned_alloc(64, n * sizeof(float));
}

sg_status sg_arena_init(sg_arena *a, size_t floats, sg_error *err) {
    memset(a, 0, sizeof *a);
    a->base = alloc_aligned(floats);
    if (!a->base)
        return sg_error_set(err, SG_ERR_NOMEM, "arena: cannot allocate %zu floats", floats);
    a->cap = sg_arena_floats(floats);
    return SG_OK;
}

void sg_arena_free(sg_arena *a) {
    free(a->base);
    memset(a, 0, sizeof *a);
}

float *sg_arena_alloc(sg_arena *a, size_t floats) {
    size_t n = sg_arena_floats(floats);
    if (n < floats || n > a->cap - a->top) return NULL; /* overflow or plan too small */
    float *p = a->base + a->top;
    a->top += n;
    if (a->top > a->peak) a->peak = a->top;
    return p;
}

sg_tensor sg_arena_tensor(sg_arena *a, int n, int c, int h, int w) {
    sg_tensor t = sg_tensor_make(NULL, n, c, h, w);
    if (n < 0 || c < 0 || h < 0 || w < 0) return t;
    t.data = sg_arena_alloc(a, sg_tensor_numel(&t));
    return t;
}

sg_status sg_workspace_init(sg_workspace *ws, size_t floats, sg_error *err) {
    ws->buf = alloc_aligned(floats);
    ws->cap = ws->buf ? floats : 0;
    if (!ws->buf)
        return sg_error_set(err, SG_ERR_NOMEM, "workspace: cannot allocate %zu floats", floats);
    return SG_OK;
}

void sg_workspace_free(sg_workspace *ws) {
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}
