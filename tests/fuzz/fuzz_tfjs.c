/* Fuzz target: the TensorFlow.js weights reader (model/tfjs.c) over arbitrary bytes: the first
 * two bytes give the manifest's length (little-endian), the manifest's text follows, the rest is
 * the shards' bytes; then everything a caller may do with a source that opened. */
#include "fuzz_weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t len = (size_t)(data[0] | data[1] << 8);
    if (len > size - 2) len = size - 2;
    sg_weights *w = NULL;
    sg_error err;
    if (sg_tfjs_open_memory((const char *)data + 2, len, data + 2 + len, size - 2 - len, "fuzz", &w,
                            &err) == SG_OK)
        fz_exercise(w, NULL);
    return 0;
}
