/* Getting a tensor by name and shape, and binding a network's tensors (model.h
 * sg_weights_get, sg_weights_bind). */
#include "model_internal.h"

#include <stdarg.h>
#include <stdio.h>

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
