/* Images to and from the networks' [-1, 1] NCHW float tensors. */
#include "image_internal.h"

#include <math.h>

static sg_status check_sample(const sg_tensor *t, int index, const char *what, sg_error *err) {
    if (!t || !t->data || t->n < 1 || t->c != 3 || t->h < 1 || t->w < 1)
        return sg_error_set(err, SG_ERR_SHAPE, "%s: tensor must be [N>=1, 3, H, W]", what);
    if (index < 0 || index >= t->n)
        return sg_error_set(err, SG_ERR_ARG, "%s: sample %d outside 0..%d", what, index, t->n - 1);
    return SG_OK;
}

/* The reference's preprocessing: ToTensor (v/255) then Normalize(0.5, 0.5), both in float32. */
static void write_planes(const sg_image *img, sg_tensor *t, int index) {
    size_t plane = (size_t)img->w * (size_t)img->h;
    float *dst = t->data + (size_t)index * 3 * plane;
    for (size_t i = 0; i < plane; i++) {
        for (int ch = 0; ch < 3; ch++) {
            float v = (float)img->pixels[i * 3 + ch] / 255.0f;
            dst[(size_t)ch * plane + i] = (v - 0.5f) / 0.5f;
        }
    }
}

sg_status sg_image_to_tensor(const sg_image *img, sg_fit fit, int size, sg_tensor *t, int index,
                             sg_error *err) {
    if (!img || !img->pixels || img->w < 1 || img->h < 1)
        return sg_error_set(err, SG_ERR_ARG, "image to tensor: invalid image");
    if (fit != SG_FIT_CROP && fit != SG_FIT_STRETCH)
        return sg_error_set(err, SG_ERR_ARG, "image to tensor: unknown fit %d", (int)fit);
    sg_status s = check_sample(t, index, "image to tensor", err);
    if (s != SG_OK) return s;
    if (size < 1 || t->h != size || t->w != size)
        return sg_error_set(err, SG_ERR_SHAPE, "image to tensor: tensor is %dx%d, size is %d", t->h,
                            t->w, size);
    sg_image r;
    s = sg_image_fit(img, fit, size, &r, err);
    if (s != SG_OK) return s;
    write_planes(&r, t, index);
    sg_image_free(&r);
    return SG_OK;
}

static uint8_t to_byte(float x) {
    double v = ((double)x + 1.0) / 2.0;
    if (isnan(v)) return 0;
    v = v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
    return (uint8_t)floor(v * 255.0 + 0.5);
}

sg_status sg_image_from_tensor(const sg_tensor *t, int index, sg_image *out, sg_error *err) {
    if (!out) return sg_error_set(err, SG_ERR_ARG, "tensor to image: no output image");
    out->pixels = NULL;
    out->w = out->h = 0;
    sg_status s = check_sample(t, index, "tensor to image", err);
    if (s != SG_OK) return s;
    if (t->w > SG_IMAGE_MAX_SIDE || t->h > SG_IMAGE_MAX_SIDE)
        return sg_error_set(err, SG_ERR_LIMIT, "tensor to image: %dx%d is too large", t->w, t->h);
    s = sg_image_alloc(out, t->w, t->h, err);
    if (s != SG_OK) return s;
    size_t plane = (size_t)t->w * (size_t)t->h;
    const float *src = t->data + (size_t)index * 3 * plane;
    for (size_t i = 0; i < plane; i++)
        for (int ch = 0; ch < 3; ch++)
            out->pixels[i * 3 + ch] = to_byte(src[(size_t)ch * plane + i]);
    return SG_OK;
}
