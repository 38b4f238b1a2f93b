/* Pillow's BILINEAR Image.resize, ported from its libImaging/Resample.c so that our tensors match
 * the reference preprocessing bit for bit: a separable triangle filter whose support widens by
 * the scale when shrinking, coefficients normalised per output pixel and quantised to 22-bit
 * fixed point, a horizontal pass (over only the rows the vertical pass will read) then a
 * vertical pass, each rounding and clipping to 8 bits. Either pass is skipped when its axis is
 * unchanged, as Pillow does: skipping changes the result (no intermediate rounding). */
#include "image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 32-bit accumulators: 8 bits of value, 2 bits of headroom for filters with negative lobes. */
#define SG_PRECISION_BITS (32 - 8 - 2)

typedef struct {
    int ksize;   /* coefficients per output pixel */
    int *bounds; /* per output pixel: first input index, number of inputs */
    int32_t *kk; /* out_size · ksize fixed-point weights */
} coeffs;

static void coeffs_free(coeffs *c) {
    free(c->bounds);
    free(c->kk);
    c->bounds = NULL;
    c->kk = NULL;
}

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's normalize_coeffs_8bpc: round half away from zero. */
static int32_t to_fixed(double k) {
    double s = k * (1 << SG_PRECISION_BITS);
    return (int32_t)(k < 0 ? s - 0.5 : s + 0.5);
}

/* Pillow's precompute_coeffs for the input span [in0, in1) of an in_size axis mapped onto
 * out_size samples. in0/in1 are floats because Pillow's box is float. */
static sg_status precompute(int in_size, float in0, float in1, int out_size, coeffs *c,
                            sg_error *err) {
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle's support is 1 */
    c->ksize = (int)ceil(support) * 2 + 1;
    size_t n = (size_t)out_size * (size_t)c->ksize;
    double *k = malloc(sizeof *k * (size_t)c->ksize);
    c->kk = calloc(n, sizeof *c->kk);
    c->bounds = malloc(sizeof *c->bounds * 2 * (size_t)out_size);
    if (!k || !c->kk || !c->bounds) {
        free(k);
        coeffs_free(c);
        return sg_error_set(err, SG_ERR_NOMEM, "resize: cannot allocate coefficients");
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5); /* truncation, as Pillow's "round" */
        int xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; x++) {
            if (ww != 0.0) k[x] /= ww;
            c->kk[(size_t)xx * c->ksize + x] = to_fixed(k[x]);
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(k);
    return SG_OK;
}

/* Pillow's clip8: drop the fraction bits (the sums start at one half, so this rounds), clamp. */
static inline uint8_t clip8(int32_t ss) {
    int32_t v = ss >> SG_PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over `rows` rows of src (3 channels, row stride in bytes) into dst (ow wide). */
static void pass_horizontal(const uint8_t *src, size_t sstride, int rows, uint8_t *dst, int ow,
                            const coeffs *c) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)y * sstride;
        uint8_t *out = dst + (size_t)y * (size_t)ow * 3;
        for (int xx = 0; xx < ow; xx++) {
            int xmin = c->bounds[2 * xx], xmax = c->bounds[2 * xx + 1];
            const int32_t *k = c->kk + (size_t)xx * c->ksize;
            int32_t s0 = 1 << (SG_PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xmax; x++) {
                const uint8_t *p = in + (size_t)(x + xmin) * 3;
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            out[3 * xx] = clip8(s0);
            out[3 * xx + 1] = clip8(s1);
            out[3 * xx + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: src rows (w pixels, row stride in bytes) into dst (w × oh, packed). */
static void pass_vertical(const uint8_t *src, size_t sstride, int w, uint8_t *dst, int oh,
                          const coeffs *c) {
    for (int yy = 0; yy < oh; yy++) {
        int ymin = c->bounds[2 * yy], ymax = c->bounds[2 * yy + 1];
        const int32_t *k = c->kk + (size_t)yy * c->ksize;
        uint8_t *out = dst + (size_t)yy * (size_t)w * 3;
        for (int i = 0; i < w * 3; i++) {
            int32_t s = 1 << (SG_PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) s += src[(size_t)(y + ymin) * sstride + i] * k[y];
            out[i] = clip8(s);
        }
    }
}

static void copy_rows(const uint8_t *src, size_t sstride, int w, int h, uint8_t *dst) {
    for (int y = 0; y < h; y++)
        memcpy(dst + (size_t)y * (size_t)w * 3, src + (size_t)y * sstride, (size_t)w * 3);
}

/* Pillow's ImagingResampleInner on an iw×ih view (row stride in bytes) with box b, into dst
 * (ow × oh, packed). */
static sg_status resample(const uint8_t *src, size_t stride, int iw, int ih, const float b[4],
                          int ow, int oh, uint8_t *dst, sg_error *err) {
    /* Pillow compares box[2]/box[3] with the output size here, not the input size */
    int need_h = ow != iw || b[0] != 0 || b[2] != ow;
    int need_v = oh != ih || b[1] != 0 || b[3] != oh;
    coeffs cv = {0}, ch = {0};
    uint8_t *tmp = NULL;
    sg_status s = precompute(ih, b[1], b[3], oh, &cv, err);
    if (s != SG_OK) return s;
    int yfirst = cv.bounds[0], ylast = cv.bounds[2 * oh - 2] + cv.bounds[2 * oh - 1];
    if (need_h) {
        s = precompute(iw, b[0], b[2], ow, &ch, err);
        tmp = s == SG_OK ? malloc((size_t)ow * (size_t)(ylast - yfirst) * 3 + 1) : NULL;
        if (s == SG_OK && !tmp) s = sg_error_set(err, SG_ERR_NOMEM, "resize: out of memory");
        if (s != SG_OK) goto done;
        /* only the rows the vertical pass reads are resampled horizontally */
        pass_horizontal(src + (size_t)yfirst * stride, stride, ylast - yfirst, tmp, ow, &ch);
        for (int i = 0; i < oh; i++) cv.bounds[2 * i] -= yfirst;
        src = tmp;
        stride = (size_t)ow * 3;
        iw = ow;
        ih = ylast - yfirst;
    }
    if (need_v) pass_vertical(src, stride, iw, dst, oh, &cv);
    else copy_rows(src, stride, iw, ih, dst);
done:
    free(tmp);
    coeffs_free(&ch);
    coeffs_free(&cv);
    return s;
}

static sg_status check_out_size(int ow, int oh, sg_error *err) {
    if (ow < 1 || oh < 1 || ow > SG_IMAGE_MAX_SIDE || oh > SG_IMAGE_MAX_SIDE)
        return sg_error_set(err, SG_ERR_ARG, "resize: output size %dx%d outside 1..%d", ow, oh,
                            SG_IMAGE_MAX_SIDE);
    return SG_OK;
}

static int image_ok(const sg_image *img) { return img && img->pixels && img->w > 0 && img->h > 0; }

/* Same as Pillow's im.crop((x0, y0, x0 + cw, y0 + ch)).resize((ow, oh), Image.BILINEAR): the
 * region is a view into img (no copy), and the filter never reads outside it. */
sg_status sg_image_resize(const sg_image *img, int x0, int y0, int cw, int ch, int ow, int oh,
                          sg_image *out, sg_error *err) {
    if (!out) return sg_error_set(err, SG_ERR_ARG, "resize: no output image");
    out->pixels = NULL;
    out->w = out->h = 0;
    if (!image_ok(img)) return sg_error_set(err, SG_ERR_ARG, "resize: invalid input image");
    if (x0 < 0 || y0 < 0 || cw < 1 || ch < 1 || cw > img->w - x0 || ch > img->h - y0)
        return sg_error_set(err, SG_ERR_ARG, "resize: region %d,%d %dx%d outside a %dx%d image", x0,
                            y0, cw, ch, img->w, img->h);
    sg_status s = check_out_size(ow, oh, err);
    if (s == SG_OK) s = sg_image_alloc(out, ow, oh, err);
    if (s != SG_OK) return s;
    size_t stride = (size_t)img->w * 3;
    const uint8_t *src = img->pixels + (size_t)y0 * stride + (size_t)x0 * 3;
    float box[4] = {0, 0, (float)cw, (float)ch};
    s = resample(src, stride, cw, ch, box, ow, oh, out->pixels, err);
    if (s != SG_OK) sg_image_free(out);
    return s;
}

sg_status sg_image_resize_box(const sg_image *img, const float box[4], int ow, int oh,
                              sg_image *out, sg_error *err) {
    if (!out) return sg_error_set(err, SG_ERR_ARG, "resize: no output image");
    out->pixels = NULL;
    out->w = out->h = 0;
    if (!image_ok(img) || !box) return sg_error_set(err, SG_ERR_ARG, "resize: invalid input");
    /* Pillow's checks; the negated comparisons also reject NaN */
    if (!(box[0] >= 0 && box[1] >= 0 && box[2] <= img->w && box[3] <= img->h && box[2] >= box[0] &&
          box[3] >= box[1]))
        return sg_error_set(err, SG_ERR_ARG, "resize: box outside the %dx%d image or empty", img->w,
                            img->h);
    sg_status s = check_out_size(ow, oh, err);
    if (s == SG_OK) s = sg_image_alloc(out, ow, oh, err);
    if (s != SG_OK) return s;
    s = resample(img->pixels, (size_t)img->w * 3, img->w, img->h, box, ow, oh, out->pixels, err);
    if (s != SG_OK) sg_image_free(out);
    return s;
}
