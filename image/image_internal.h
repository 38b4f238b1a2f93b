/* image/ internals shared between its .c files; not part of the public API. */
#ifndef SG_IMAGE_INTERNAL_H
#define SG_IMAGE_INTERNAL_H

#include "image.h"

/* Largest width or height we accept (also JPEG's own ceiling is 65500). */
#define SG_IMAGE_MAX_SIDE 65535

/* Checks a header's dimensions before any pixel memory is allocated: 0 is malformed, a side
 * over SG_IMAGE_MAX_SIDE or w·h over max_pixels is a limit error. */
sg_status sg_image_check_dims(int64_t w, int64_t h, int64_t max_pixels, const char *what,
                              sg_error *err);
/* Allocates w·h·3 bytes for out (dims already checked). */
sg_status sg_image_alloc(sg_image *out, int w, int h, sg_error *err);

sg_status sg_png_decode(const uint8_t *data, size_t len, int64_t max_pixels, sg_image *out,
                        sg_error *err);
sg_status sg_png_encode(const sg_image *img, uint8_t **out, size_t *out_len, sg_error *err);
sg_status sg_jpeg_decode(const uint8_t *data, size_t len, int64_t max_pixels, int apply_exif,
                         sg_image *out, sg_error *err);
sg_status sg_jpeg_encode(const sg_image *img, int quality, uint8_t **out, size_t *out_len,
                         sg_error *err);

/* EXIF orientation from an APP1 payload starting with "Exif\0\0": the value of IFD0 tag 0x0112
 * (1..8), or 0 when absent, unreadable or out of range. Never reads outside [p, p + len). */
int sg_exif_orientation(const uint8_t *p, size_t len);
/* Replaces img by its transposition for EXIF orientation o (as PIL.ImageOps.exif_transpose). */
sg_status sg_image_orient(sg_image *img, int o, sg_error *err);

#endif
