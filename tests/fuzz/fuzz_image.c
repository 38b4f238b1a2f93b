/* Fuzz target: the PNG/JPEG decoders (with and without EXIF orientation) over arbitrary bytes,
 * under a modest pixel limit so that a header claiming a huge image is refused rather than
 * allocated; a decoded image is also pushed through the resize used by preprocessing. */
#include <stddef.h>
#include <stdint.h>

#include "../../image/image.h"

#define FZ_MAX_PIXELS ((int64_t)4 * 1000 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int exif = 0; exif <= 1; exif++) {
        sg_image img;
        sg_error err;
        if (sg_image_decode(data, size, FZ_MAX_PIXELS, exif, &img, &err) != SG_OK) continue;
        /* small outputs only: the fuzzer should spend its time in the decoders */
        if (exif && (int64_t)img.w * img.h <= 256 * 256) {
            sg_image r;
            if (sg_image_resize(&img, 0, 0, img.w, img.h, 7, 5, &r, &err) == SG_OK)
                sg_image_free(&r);
        }
        sg_image_free(&img);
    }
    return 0;
}
