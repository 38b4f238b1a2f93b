/* Resampling and layout: 2×2 average pool, nearest 2× upsample (and the upsampled residual merge),
 * bilinear resize, channel concat, zero padding.
 * All loop over [N·C] planes independently. */
#include "net_internal.h"

#include <math.h>
#include <string.h>

/* One plane of the 2×2 average pool. */
static void pool_plane(void *ctx, int plane, int thread) {
    const sg_tensor *const *xy = ctx;
    (void)thread;
    const sg_tensor *x = xy[0], *y = xy[1];
    const int W = x->w, Ho = x->h / 2, Wo = x->w / 2;
    const float *xp = x->data + (size_t)plane * x->h * W;
    float *yp = y->data + (size_t)plane * Ho * Wo;
    for (int oy = 0; oy < Ho; oy++) {
        const float *r0 = xp + (size_t)2 * oy * W, *r1 = r0 + W;
        for (int ox = 0; ox < Wo; ox++)
            yp[(size_t)oy * Wo + ox] =
                0.25f * (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]);
    }
}

/* planes on the pool when there is enough to split (memory-bound) */
void sg_avg_pool2(const sg_tensor *x, sg_tensor *y) {
    SG_ASSERT(x->h % 2 == 0 && x->w % 2 == 0 && x->data != y->data);
    SG_ASSERT(y->n == x->n && y->c == x->c && y->h == x->h / 2 && y->w == x->w / 2);
    const double t0_ = sg__prof_now();
    const sg_tensor *xy[2] = {x, y};
    const int planes = x->n * x->c;
    if (sg_tensor_numel(x) >= 65536) sg__parallel(planes, pool_plane, (void *)xy);
    else
        for (int p = 0; p < planes; p++) pool_plane((void *)xy, p, 0);
    sg__prof_add(SG_PROF_RESAMPLE, t0_, 0);
}

/* Each input row becomes two identical output rows of doubled pixels. */
void sg_upsample_nearest2(const sg_tensor *x, sg_tensor *y) {
    SG_ASSERT(y->n == x->n && y->c == x->c && y->h == 2 * x->h && y->w == 2 * x->w);
    SG_ASSERT(x->data != y->data);
    const double t0_ = sg__prof_now();
    const int H = x->h, W = x->w, Wo = 2 * W;
    const size_t planes = (size_t)x->n * x->c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x->data + p * H * W;
        float *yp = y->data + p * 4 * H * W;
        for (int iy = 0; iy < H; iy++) {
            float *r = yp + (size_t)2 * iy * Wo;
            for (int ix = 0; ix < W; ix++) r[2 * ix] = r[2 * ix + 1] = xp[(size_t)iy * W + ix];
            memcpy(r + Wo, r, (size_t)Wo * sizeof(float));
        }
    }
    sg__prof_add(SG_PROF_RESAMPLE, t0_, 0);
}

/* y = (y + up2(x)) · s, one plane per task: sg_add_scale of the nearest upsample without
 * writing the upsampled tensor (the same values in the same expression: the same bytes). */
typedef struct {
    float *y;
    const float *x;
    int h, w; /* x's */
    float s;
} add_up2_job;

static void add_up2_plane(void *ctx, int plane, int thread) {
    const add_up2_job *j = ctx;
    (void)thread;
    const int W = j->w;
    const float *xp = j->x + (size_t)plane * j->h * W;
    float *yp = j->y + (size_t)plane * 4 * j->h * W;
    for (int iy = 0; iy < 2 * j->h; iy++) {
        const float *xr = xp + (size_t)(iy / 2) * W;
        float *yr = yp + (size_t)iy * 2 * W;
        for (int ix = 0; ix < W; ix++) {
            const float a = xr[ix];
            yr[2 * ix] = (yr[2 * ix] + a) * j->s;
            yr[2 * ix + 1] = (yr[2 * ix + 1] + a) * j->s;
        }
    }
}

void sg_add_scale_up2(sg_tensor *y, const sg_tensor *x, float s) {
    SG_ASSERT(y->n == x->n && y->c == x->c && y->h == 2 * x->h && y->w == 2 * x->w);
    SG_ASSERT(x->data != y->data);
    const double t0_ = sg__prof_now();
    add_up2_job j = {y->data, x->data, x->h, x->w, s};
    const int planes = x->n * x->c;
    if (sg_tensor_numel(y) >= 65536) sg__parallel(planes, add_up2_plane, &j);
    else
        for (int p = 0; p < planes; p++) add_up2_plane(&j, p, 0);
    sg__prof_add(SG_PROF_ELEMENTWISE, t0_, 0);
}

/* Source taps of output index i: i0, i1 and the weight lambda of i1 (PyTorch's conventions). */
static void bilinear_src(int i, int in, int out, int align_corners, int *i0, int *i1,
                         float *lambda) {
    double src;
    if (align_corners) src = out > 1 ? (double)i * (in - 1) / (out - 1) : 0.0;
    else {
        src = ((double)i + 0.5) * in / out - 0.5;
        if (src < 0.0) src = 0.0;
    }
    int f = (int)floor(src);
    if (f > in - 1) f = in - 1;
    *i0 = f;
    *i1 = f + 1 < in ? f + 1 : in - 1;
    *lambda = (float)(src - f);
}

/* Separable: per output row, blend the two source rows' horizontal interpolations. */
void sg_resize_bilinear(const sg_tensor *x, sg_tensor *y, int align_corners) {
    SG_ASSERT(y->n == x->n && y->c == x->c && x->h > 0 && x->w > 0 && x->data != y->data);
    const double t0_ = sg__prof_now();
    const int H = x->h, W = x->w, Ho = y->h, Wo = y->w;
    const size_t planes = (size_t)x->n * x->c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x->data + p * H * W;
        float *yp = y->data + p * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++) {
            int y0, y1;
            float ly;
            bilinear_src(oy, H, Ho, align_corners, &y0, &y1, &ly);
            const float *r0 = xp + (size_t)y0 * W, *r1 = xp + (size_t)y1 * W;
            for (int ox = 0; ox < Wo; ox++) {
                int x0, x1;
                float lx;
                bilinear_src(ox, W, Wo, align_corners, &x0, &x1, &lx);
                /* PyTorch's weighting form, so rounding matches it closely */
                float top = (1.0f - lx) * r0[x0] + lx * r0[x1];
                float bot = (1.0f - lx) * r1[x0] + lx * r1[x1];
                yp[(size_t)oy * Wo + ox] = (1.0f - ly) * top + ly * bot;
            }
        }
    }
    sg__prof_add(SG_PROF_RESAMPLE, t0_, 0);
}

/* Per sample the channel blocks are contiguous, so two memcpys. */
void sg_concat_channels(const sg_tensor *a, const sg_tensor *b, sg_tensor *y) {
    SG_ASSERT(b->n == a->n && b->h == a->h && b->w == a->w);
    SG_ASSERT(y->n == a->n && y->c == a->c + b->c && y->h == a->h && y->w == a->w);
    const double t0_ = sg__prof_now();
    const size_t hw = (size_t)a->h * a->w, sa = (size_t)a->c * hw, sb = (size_t)b->c * hw;
    for (int n = 0; n < a->n; n++) {
        float *dst = y->data + (size_t)n * (sa + sb);
        memcpy(dst, a->data + (size_t)n * sa, sa * sizeof(float));
        memcpy(dst + sa, b->data + (size_t)n * sb, sb * sizeof(float));
    }
    sg__prof_add(SG_PROF_RESAMPLE, t0_, 0);
}

/* One plane of sg_pad_zero: every y row written once (zeros, or zeros around an x row). */
typedef struct {
    const sg_tensor *x;
    sg_tensor *y;
    int top, left;
} pad_job;

static void pad_plane(void *ctx, int plane, int thread) {
    const pad_job *j = ctx;
    (void)thread;
    const int H = j->x->h, W = j->x->w, Hy = j->y->h, Wy = j->y->w, r = Wy - j->left - W;
    const float *xp = j->x->data + (size_t)plane * H * W;
    float *yp = j->y->data + (size_t)plane * Hy * Wy;
    for (int i = 0; i < Hy; i++) {
        float *yr = yp + (size_t)i * Wy;
        const int iy = i - j->top;
        if (iy < 0 || iy >= H) {
            memset(yr, 0, (size_t)Wy * sizeof(float));
            continue;
        }
        memset(yr, 0, (size_t)j->left * sizeof(float));
        memcpy(yr + j->left, xp + (size_t)iy * W, (size_t)W * sizeof(float));
        memset(yr + j->left + W, 0, (size_t)r * sizeof(float));
    }
}

void sg_pad_zero(const sg_tensor *x, int top, int left, sg_tensor *y) {
    SG_ASSERT(x->data && y->data && x->data != y->data && top >= 0 && left >= 0);
    SG_ASSERT(y->n == x->n && y->c == x->c && y->h >= top + x->h && y->w >= left + x->w);
    const double t0_ = sg__prof_now();
    pad_job j = {x, y, top, left};
    const int planes = x->n * x->c;
    if (sg_tensor_numel(y) >= 65536) sg__parallel(planes, pad_plane, &j);
    else
        for (int p = 0; p < planes; p++) pad_plane(&j, p, 0);
    sg__prof_add(SG_PROF_RESAMPLE, t0_, 0);
}
