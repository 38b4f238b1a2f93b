/* Fuzz target: the torch checkpoint reader (pickle VM, legacy layout, zip through libzip) over
 * arbitrary bytes, opened from memory; then everything a caller may do with a source that
 * opened: iterate, shape, get every tensor (values read, copies and strided gathers made),
 * metadata, and config derivation. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../model/model_internal.h"

typedef struct {
    sg_weights *w;
    double sum; /* consumes the values so reads are not optimised away */
} fz_ctx;

static int fz_visit(void *p, const char *name, const sg_shape *shape) {
    fz_ctx *c = p;
    sg_shape s;
    sg_error err;
    const float *data;
    if (c->w->shape(c->w, name, &s, &err) != SG_OK || !sg_shape_equal(&s, shape)) return 1;
    uint64_t n = 0;
    sg_shape_numel(shape, &n);
    if (c->w->get(c->w, name, shape, &data, &err) == SG_OK)
        for (uint64_t i = 0; i < n; i++) c->sum += data[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sg_weights *w = NULL;
    sg_error err;
    if (sg_ckpt_open_memory(data, size, "fuzz", &w, &err) != SG_OK) return 0;
    fz_ctx c = {w, 0};
    w->each(w, fz_visit, &c);
    const char *m = w->meta(w, "domains");
    if (m) c.sum += (double)strlen(m);
    sg_config cfg;
    if (sg_config_derive(w, &cfg, &err) == SG_OK) c.sum += cfg.img_size;
    volatile double sink = c.sum;
    (void)sink;
    sg_weights_free(w);
    return 0;
}
