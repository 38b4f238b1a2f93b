/* Optional per-block dump for debugging against the Python reference (refimpl `compare`). */
#include <stdio.h>

#include "net.h"

static char trace_dir[512];

void sg_trace_set_dir(const char *dir) {
    snprintf(trace_dir, sizeof trace_dir, "%s", dir ? dir : "");
}

void sg_trace(const char *name, const sg_tensor *t) {
    if (!trace_dir[0]) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.f32", trace_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    size_t per = sg_tensor_numel(t) / (size_t)(t->n > 0 ? t->n : 1); /* sample 0 only */
    fwrite(t->data, sizeof(float), per, f);
    fclose(f);
}
