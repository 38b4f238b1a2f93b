/* Shared by the model-file fuzz targets: everything a caller may do with a weights source that
 * opened: iterate, shape, get every tensor (values read), metadata, config derivation; then free.
 * A source-specific `other` reads what `get` refuses (e.g. I64 labels); it may be NULL. */
#ifndef SG_FUZZ_WEIGHTS_H
#define SG_FUZZ_WEIGHTS_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../model/model_internal.h"

typedef struct {
    sg_weights *w;
    double sum; /* consumes the values so reads are not optimised away */
    double (*other)(sg_weights *w, const char *name, uint64_t n);
} fz_ctx;

static int fz_visit(void *p, const char *name, const sg_shape *shape) {
    fz_ctx *c = p;
    sg_shape s;
    sg_error err;
    const float *data;
    if (c->w->shape(c->w, name, &s, &err) != SG_OK || !sg_shape_equal(&s, shape)) return 1;
    uint64_t n = 0;
    sg_shape_numel(shape, &n);
    if (c->w->get(c->w, name, shape, &data, &err) == SG_OK) {
        for (uint64_t i = 0; i < n; i++) c->sum += data[i];
    } else if (c->other) {
        c->sum += c->other(c->w, name, n);
    }
    return 0;
}

static void fz_exercise(sg_weights *w, double (*other)(sg_weights *, const char *, uint64_t)) {
    fz_ctx c = {w, 0, other};
    sg_error err;
    w->each(w, fz_visit, &c);
    const char *d = w->meta(w, "domains");
    if (d) c.sum += (double)strlen(d);
    sg_config cfg;
    if (sg_config_derive(w, &cfg, &err) == SG_OK) c.sum += cfg.img_size;
    volatile double sink = c.sum;
    (void)sink;
    sg_weights_free(w);
}
#endif
