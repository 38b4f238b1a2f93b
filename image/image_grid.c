/* Composing images: canvases, pasting, grids, and the network's view of a photo as bytes. */
#include "image_internal.h"

#include <string.h>

sg_status sg_image_create(sg_image *out, int w, int h, const uint8_t rgb[3], sg_error *err) {
    out->pixels = NULL;
    out->w = out->h = 0;
    sg_status st =
        sg_image_check_dims(w, h, (int64_t)SG_IMAGE_MAX_SIDE * SG_IMAGE_MAX_SIDE, "image", err);
    if (st) return st;
    if ((st = sg_image_alloc(out, w, h, err))) return st;
    if (!rgb) {
        memset(out->pixels, 0, (size_t)w * (size_t)h * 3);
    } else {
        sg_image_fill(out, 0, 0, w, h, rgb);
    }
    return SG_OK;
}

/* Clips the span [*a, *a + *n) to [0, limit); returns the amount cut from the front. */
static int clip(int *a, int *n, int limit) {
    int cut = 0;
    if (*a < 0) cut = -*a, *n += *a, *a = 0;
    if (*a + *n > limit) *n = limit - *a;
    return cut;
}

void sg_image_blit(sg_image *dst, const sg_image *src, int x, int y) {
    if (!dst || !dst->pixels || !src || !src->pixels) return;
    int w = src->w, h = src->h;
    int sx = clip(&x, &w, dst->w), sy = clip(&y, &h, dst->h);
    if (w <= 0 || h <= 0) return;
    for (int r = 0; r < h; r++)
        memcpy(dst->pixels + ((size_t)(y + r) * dst->w + x) * 3,
               src->pixels + ((size_t)(sy + r) * src->w + sx) * 3, (size_t)w * 3);
}

sg_status sg_image_extend(const sg_image *img, int w, int h, sg_image *out, sg_error *err) {
    if (!img || !img->pixels || w < img->w || h < img->h || img->w < 1 || img->h < 1)
        return sg_error_set(err, SG_ERR_ARG, "extend: %dx%d is smaller than the image", w, h);
    sg_status st = sg_image_create(out, w, h, NULL, err);
    if (st) return st;
    for (int y = 0; y < h; y++) {
        const uint8_t *src = img->pixels + (size_t)(y < img->h ? y : img->h - 1) * img->w * 3;
        uint8_t *dst = out->pixels + (size_t)y * w * 3;
        memcpy(dst, src, (size_t)img->w * 3);
        for (int x = img->w; x < w; x++)
            memcpy(dst + (size_t)x * 3, src + (size_t)(img->w - 1) * 3, 3);
    }
    return SG_OK;
}

void sg_image_fill(sg_image *dst, int x, int y, int w, int h, const uint8_t rgb[3]) {
    if (!dst || !dst->pixels) return;
    clip(&x, &w, dst->w), clip(&y, &h, dst->h);
    if (w <= 0 || h <= 0) return;
    for (int r = 0; r < h; r++) {
        uint8_t *p = dst->pixels + ((size_t)(y + r) * dst->w + x) * 3;
        for (int c = 0; c < w; c++, p += 3) p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
    }
}

sg_status sg_image_grid(const sg_image *const *cells, int rows, int cols, int cell_w, int cell_h,
                        const uint8_t fill[3], sg_image *out, sg_error *err) {
    out->pixels = NULL;
    out->w = out->h = 0;
    if (!cells || rows < 1 || cols < 1 || cell_w < 1 || cell_h < 1)
        return sg_error_set(err, SG_ERR_ARG, "grid: %d×%d cells of %d×%d", rows, cols, cell_w,
                            cell_h);
    if ((int64_t)cols * cell_w > SG_IMAGE_MAX_SIDE || (int64_t)rows * cell_h > SG_IMAGE_MAX_SIDE)
        return sg_error_set(err, SG_ERR_LIMIT, "grid: %lld×%lld exceeds the %d pixel side limit",
                            (long long)cols * cell_w, (long long)rows * cell_h, SG_IMAGE_MAX_SIDE);
    for (int i = 0; i < rows * cols; i++)
        if (cells[i] && (!cells[i]->pixels || cells[i]->w != cell_w || cells[i]->h != cell_h))
            return sg_error_set(err, SG_ERR_SHAPE, "grid: cell (%d, %d) is %d×%d, not %d×%d",
                                i / cols, i % cols, cells[i]->w, cells[i]->h, cell_w, cell_h);
    static const uint8_t black[3] = {0, 0, 0};
    sg_status st = sg_image_create(out, cols * cell_w, rows * cell_h, fill ? fill : black, err);
    if (st) return st;
    for (int i = 0; i < rows * cols; i++)
        if (cells[i]) sg_image_blit(out, cells[i], (i % cols) * cell_w, (i / cols) * cell_h);
    return SG_OK;
}

sg_status sg_image_fit(const sg_image *img, sg_fit fit, int size, sg_image *out, sg_error *err) {
    out->pixels = NULL;
    out->w = out->h = 0;
    if (!img || !img->pixels || img->w < 1 || img->h < 1)
        return sg_error_set(err, SG_ERR_ARG, "fit: invalid image");
    if (fit != SG_FIT_CROP && fit != SG_FIT_STRETCH)
        return sg_error_set(err, SG_ERR_ARG, "fit: unknown fit %d", (int)fit);
    if (size < 1) return sg_error_set(err, SG_ERR_ARG, "fit: size %d", size);
    int x0 = 0, y0 = 0, cw = img->w, ch = img->h;
    if (fit == SG_FIT_CROP) {
        int side = img->w < img->h ? img->w : img->h;
        x0 = (img->w - side) / 2;
        y0 = (img->h - side) / 2;
        cw = ch = side;
    }
    return sg_image_resize(img, x0, y0, cw, ch, size, size, out, err);
}
