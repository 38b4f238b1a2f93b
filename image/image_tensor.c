/* Images to and from the networks' [-1, 1] NCHW float tensors. */
#include "image_internal.h"

#include <math.h>
#include <stdlib.h>

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

/* One axis of TF's legacy bilinear over the padded square of side m (pixels past n are zeros):
 * the two source indices (-1 for a padding pixel) and the weight of the second. */
typedef struct {
    int i0, i1;
    float f;
} tf_tap;

static void tf_taps(int n, int m, int out, tf_tap *taps) {
    const float scale = (float)m / (float)out;
    for (int i = 0; i < out; i++) {
        float src = (float)i * scale;
        int lo = (int)floorf(src), hi = lo + 1 < m ? lo + 1 : m - 1;
        taps[i] = (tf_tap){lo < n ? lo : -1, hi < n ? hi : -1, src - (float)lo};
    }
}

static float tf_px(const sg_image *img, int y, int x, int ch) {
    return y < 0 || x < 0 ? 0.0f : (float)img->pixels[((size_t)y * img->w + x) * 3 + ch];
}

sg_status sg_image_to_tensor_tf(const sg_image *img, sg_tensor *t, sg_error *err) {
    if (!img || !img->pixels || img->w < 1 || img->h < 1)
        return sg_error_set(err, SG_ERR_ARG, "image to tensor: invalid image");
    if (!t || !t->data || t->n != 1 || t->c != 3 || t->h != t->w || t->h < 1)
        return sg_error_set(err, SG_ERR_SHAPE, "image to tensor: tensor must be [1, 3, S, S]");
    const int side = t->h, m = img->w > img->h ? img->w : img->h;
    tf_tap *ty = malloc(2 * (size_t)side * sizeof *ty), *tx = ty + side;
    if (!ty) return sg_error_set(err, SG_ERR_NOMEM, "image to tensor: out of memory");
    tf_taps(img->h, m, side, ty);
    tf_taps(img->w, m, side, tx);
    const size_t plane = (size_t)side * side;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            for (int ch = 0; ch < 3; ch++) {
                const tf_tap a = ty[y], b = tx[x];
                float tl = tf_px(img, a.i0, b.i0, ch), tr = tf_px(img, a.i0, b.i1, ch);
                float bl = tf_px(img, a.i1, b.i0, ch), br = tf_px(img, a.i1, b.i1, ch);
                float top = tl + (tr - tl) * b.f, bottom = bl + (br - bl) * b.f;
                float v = top + (bottom - top) * a.f;
                t->data[ch * plane + (size_t)y * side + x] = v / 127.5f - 1.0f;
            }
    free(ty);
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
