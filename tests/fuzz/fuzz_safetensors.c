/* Fuzz target: the safetensors reader over arbitrary bytes (opened from memory, no temp file),
 * then everything a caller may do with a source that opened: iterate, shape, get every tensor
 * (F32 values read, I64 through the label accessor), metadata, and config derivation. */
#include "fuzz_weights.h"

/* I64 tensors (labels) through their own accessor, small ones only */
static double read_i64(sg_weights *w, const char *name, uint64_t n) {
    int64_t v[4096];
    sg_error err;
    double sum = 0;
    if (n <= 4096 && sg_safetensors_get_i64(w, name, v, (size_t)n, &err) == SG_OK)
        for (uint64_t i = 0; i < n; i++) sum += (double)v[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sg_weights *w = NULL;
    sg_error err;
    if (sg_safetensors_open_memory(data, size, "fuzz", &w, &err) == SG_OK) fz_exercise(w, read_i64);
    return 0;
}
