/* Fuzz target: the torch checkpoint reader (pickle VM, legacy layout, zip through libzip) over
 * arbitrary bytes, opened from memory; then everything a caller may do with a source that
 * opened: iterate, shape, get every tensor (values read, copies and strided gathers made),
 * metadata, and config derivation. */
#include "fuzz_weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sg_weights *w = NULL;
    sg_error err;
    if (sg_ckpt_open_memory(data, size, "fuzz", &w, &err) == SG_OK) fz_exercise(w, NULL);
    return 0;
}
