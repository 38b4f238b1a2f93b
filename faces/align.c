/* Face alignment (docs/networks.md "Face alignment"): the photo is mirror-padded to 2S, its
 * border blended into a blurred copy, and warped by the similarity map that takes its landmarks
 * onto the mean CelebA-HQ landmarks, with OpenCV's INTER_LANCZOS4 (warpPerspective) semantics:
 * source positions quantised to 1/32 pixel, 8×8 float weights from a 32-entry table, zero outside.
 * Images are planar float [3, H, W] in 0..255 while being worked on. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "faces.h"

#define TAB  32 /* OpenCV INTER_TAB_SIZE: 1/32-pixel source positions */
#define TAPS 8  /* Lanczos-4 taps per axis */

/* ---- the transform -------------------------------------------------------------------------- */
static void mean_of(const double *L, const int *idx, int n, double out[2]) {
    out[0] = out[1] = 0;
    for (int i = 0; i < n; i++) out[0] += L[2 * idx[i]], out[1] += L[2 * idx[i] + 1];
    out[0] /= n, out[1] /= n;
}

/* The unit "x axis" of a landmark set: eye-to-eye vector minus the eyes-to-mouth vector turned
 * by 90°. Returns 0 when it has no direction. */
static int x_axis(const double *L, double ax[2]) {
    static const int left[9] = {60, 61, 62, 63, 64, 65, 66, 67, 96};
    static const int right[9] = {68, 69, 70, 71, 72, 73, 74, 75, 97};
    double el[2], er[2];
    mean_of(L, left, 9, el);
    mean_of(L, right, 9, er);
    double xp[2] = {er[0] - el[0], er[1] - el[1]};
    double yp[2] = {(el[0] + er[0]) * 0.5 - (L[2 * 76] + L[2 * 82]) * 0.5,
                    (el[1] + er[1]) * 0.5 - (L[2 * 76 + 1] + L[2 * 82 + 1]) * 0.5};
    ax[0] = xp[0] - yp[1], ax[1] = xp[1] + yp[0]; /* xp - rotate90(yp), rotate90(v) = (v.y, -v.x) */
    double n = hypot(ax[0], ax[1]);
    if (!(n > 0) || !isfinite(n)) return 0;
    ax[0] /= n, ax[1] /= n;
    return 1;
}

static void centroid(const double *L, double c[2]) {
    c[0] = c[1] = 0;
    for (int i = 0; i < SG_LANDMARKS; i++) c[0] += L[2 * i], c[1] += L[2 * i + 1];
    c[0] /= SG_LANDMARKS, c[1] /= SG_LANDMARKS;
}

/* k = mean over the eye centres and mouth ends of |M_i - mean M| / |L_i - mean L|; 0 if undefined */
static double spread_ratio(const double *L, const double *M, const double cl[2],
                           const double cm[2]) {
    static const int idx[4] = {96, 97, 76, 82};
    double k = 0;
    for (int i = 0; i < 4; i++) {
        int j = idx[i];
        double dl = hypot(L[2 * j] - cl[0], L[2 * j + 1] - cl[1]);
        double dm = hypot(M[2 * j] - cm[0], M[2 * j + 1] - cm[1]);
        if (!(dl > 0)) return 0;
        k += dm / dl;
    }
    return k / 4;
}

static void matmul3(const double a[9], const double b[9], double out[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

sg_status sg_align_matrix(const double *L, const double *M, double mat[9], sg_error *err) {
    double a[2], b[2], cl[2], cm[2];
    for (int i = 0; i < 2 * SG_LANDMARKS; i++)
        if (!isfinite(L[i]) || !isfinite(M[i]))
            return sg_error_set(err, SG_ERR_ARG, "align: landmarks must be finite numbers");
    if (!x_axis(L, a) || !x_axis(M, b))
        return sg_error_set(err, SG_ERR_ARG,
                            "align: degenerate landmarks (eyes and mouth coincide)");
    centroid(L, cl), centroid(M, cm);
    double k = spread_ratio(L, M, cl, cm);
    if (!(k > 0) || !isfinite(k))
        return sg_error_set(err, SG_ERR_ARG,
                            "align: degenerate landmarks (no spread around their mean)");
    double c = a[0] * b[0] + a[1] * b[1], cross = a[0] * b[1] - a[1] * b[0];
    double s = sqrt(c * c < 1 ? 1 - c * c : 0) * (cross > 0 ? 1 : cross < 0 ? -1 : 0);
    /* T_ref · S · R · T_origin, multiplied in the reference's order */
    double t0[9] = {1, 0, -cl[0], 0, 1, -cl[1], 0, 0, 1}, r[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
    double sc[9] = {k, 0, 0, 0, k, 0, 0, 0, 1}, t1[9] = {1, 0, cm[0], 0, 1, cm[1], 0, 0, 1};
    double rt[9], srt[9];
    matmul3(r, t0, rt);
    matmul3(sc, rt, srt);
    matmul3(t1, srt, mat);
    return SG_OK;
}

/* OpenCV's invert() of a 3×3 (DECOMP_LU goes through this closed form). 0 when singular. */
static int invert3(const double m[9], double t[9]) {
    double d = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
               m[2] * (m[3] * m[7] - m[4] * m[6]);
    if (d == 0 || !isfinite(d)) return 0;
    d = 1. / d;
    t[0] = (m[4] * m[8] - m[5] * m[7]) * d, t[1] = (m[2] * m[7] - m[1] * m[8]) * d;
    t[2] = (m[1] * m[5] - m[2] * m[4]) * d, t[3] = (m[5] * m[6] - m[3] * m[8]) * d;
    t[4] = (m[0] * m[8] - m[2] * m[6]) * d, t[5] = (m[2] * m[3] - m[0] * m[5]) * d;
    t[6] = (m[3] * m[7] - m[4] * m[6]) * d, t[7] = (m[1] * m[6] - m[0] * m[7]) * d;
    t[8] = (m[0] * m[4] - m[1] * m[3]) * d;
    return 1;
}

/* ---- padding, blurred background, blend ----------------------------------------------------- */
/* numpy 'reflect': mirror without repeating the edge pixel (pad < n) */
static int reflect(int i, int n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

/* The reference aligner receives the photo as a float32 tensor in [-1, 1] (v/255, then
 * (x - 0.5)/0.5) and turns it back into bytes with ((t·0.5 + 0.5)·255).astype(uint8): the
 * truncation lowers 1..63 by one. fixtures/align/expected.png shows it, so it is reproduced
 * (volatile: each step rounded to float32 as numpy does, whatever the compiler flags). */
static void reference_bytes(uint8_t lut[256]) {
    for (int v = 0; v < 256; v++) {
        volatile float x = (float)v / 255.0f;
        volatile float t = (x - 0.5f) / 0.5f;
        volatile float u = t * 0.5f + 0.5f;
        volatile float b = u * 255.0f;
        lut[v] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : (int)b);
    }
}

/* P [3, 2S, 2S] = the S × S photo (as the reference sees its bytes) mirror-padded by S/2 */
static void mirror_pad(const sg_image *img, float *P) {
    const int S = img->w, pad = S / 2, side = 2 * S;
    uint8_t lut[256];
    reference_bytes(lut);
    for (int y = 0; y < side; y++) {
        const uint8_t *row = img->pixels + (size_t)reflect(y - pad, S) * S * 3;
        for (int x = 0; x < side; x++) {
            const uint8_t *px = row + (size_t)reflect(x - pad, S) * 3;
            for (int c = 0; c < 3; c++) P[((size_t)c * side + y) * side + x] = lut[px[c]];
        }
    }
}

/* small [3, S, S] = P shrunk by 2 in [0, 1]. OpenCV's INTER_LINEAR at exactly half size is its
 * 2×2 area average, which on the 8-bit padded photo rounds half up: (a + b + c + d + 2) >> 2. */
static void shrink_half(const float *P, int S, float *small) {
    const int side = 2 * S;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                const float *p = P + ((size_t)c * side + 2 * y) * side + 2 * x;
                int sum = (int)p[0] + (int)p[1] + (int)p[side] + (int)p[side + 1];
                small[((size_t)c * S + y) * S + x] = (float)((sum + 2) >> 2) / 255.0f;
            }
}

/* scipy.ndimage.gaussian_filter1d (truncate 4, mode 'nearest') along rows (axis 0, step = W) or
 * columns (step = 1) of each [H, W] plane: in → out. */
static void gauss_1d(const float *in, float *out, int H, int W, int vertical, const double *k,
                     int r) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double s = 0;
            for (int j = -r; j <= r; j++) {
                int yy = vertical ? y + j : y, xx = vertical ? x : x + j;
                yy = yy < 0 ? 0 : yy >= H ? H - 1 : yy;
                xx = xx < 0 ? 0 : xx >= W ? W - 1 : xx;
                s += k[j + r] * in[(size_t)yy * W + xx];
            }
            out[(size_t)y * W + x] = (float)s;
        }
}

/* Gaussian blur of each channel of small [3, S, S], sigma = floor(S / 100) (none when 0). */
static void blur(float *small, float *tmp, int S) {
    const int sigma = S / 100, r = (int)(4.0 * sigma + 0.5);
    if (sigma <= 0) return;
    double k[2 * 4 * 100 + 1], sum = 0; /* r ≤ 4·sigma ≤ 4·(SG_ALIGN_MAX/100) */
    for (int j = -r; j <= r; j++) sum += k[j + r] = exp(-0.5 / ((double)sigma * sigma) * j * j);
    for (int j = 0; j <= 2 * r; j++) k[j] /= sum;
    const size_t plane = (size_t)S * S;
    for (int c = 0; c < 3; c++) {
        gauss_1d(small + c * plane, tmp, S, S, 1, k, r);
        gauss_1d(tmp, small + c * plane, S, S, 0, k, r);
    }
}

/* weight of padded pixel i (0..2S-1): min(clip(i/(S/2)), clip((2S-1-i)/(S/2))) */
static double edge_weight(int i, int S) {
    double h = S / 2, a = i / h, b = (2 * S - 1 - i) / h;
    a = a > 1 ? 1 : a;
    b = b > 1 ? 1 : b;
    return a < b ? a : b;
}

/* P = P·w + B·(1 - w), w = min(wy, wx)^4, B = the blurred small image enlarged ×2, ·255 */
static void blend(float *P, const float *B, int S) {
    const int side = 2 * S;
    for (int y = 0; y < side; y++) {
        double wy = edge_weight(y, S);
        for (int x = 0; x < side; x++) {
            double wx = edge_weight(x, S), w = wy < wx ? wy : wx;
            w = w * w * w * w;
            for (int c = 0; c < 3; c++) {
                size_t i = ((size_t)c * side + y) * side + x;
                P[i] = (float)(P[i] * w + (double)B[i] * 255.0 * (1 - w));
            }
        }
    }
}

/* ---- Lanczos-4 warp ------------------------------------------------------------------------- */
/* OpenCV interpolateLanczos4: the 8 weights for a fractional position x in [0, 1). */
static void lanczos4(float x, float *coeffs) {
    static const double s45 = 0.70710678118654752440084436210485;
    static const double cs[8][2] = {{1, 0},  {-s45, -s45}, {0, 1},  {s45, -s45},
                                    {-1, 0}, {s45, s45},   {0, -1}, {-s45, s45}};
    const double pi = 3.14159265358979323846;
    if (x < 1.1920929e-07f) { /* FLT_EPSILON: the sample itself */
        for (int i = 0; i < 8; i++) coeffs[i] = 0;
        coeffs[3] = 1;
        return;
    }
    float sum = 0;
    double y0 = -(x + 3) * pi * 0.25, s0 = sin(y0), c0 = cos(y0);
    for (int i = 0; i < 8; i++) {
        double y = -(x + 3 - i) * pi * 0.25;
        coeffs[i] = (float)((cs[i][0] * s0 + cs[i][1] * c0) / (y * y));
        sum += coeffs[i];
    }
    sum = 1.f / sum;
    for (int i = 0; i < 8; i++) coeffs[i] *= sum;
}

/* One output pixel: the 8×8 taps around (sx, sy) (top-left tap), weights w[8][8], zero outside. */
static double lanczos_sample(const float *plane, int side, int sx, int sy, const float *w) {
    double sum = 0;
    for (int r = 0; r < TAPS; r++) {
        int yy = sy + r;
        if (yy < 0 || yy >= side) continue;
        const float *row = plane + (size_t)yy * side;
        for (int k = 0; k < TAPS; k++) {
            int xx = sx + k;
            if (xx >= 0 && xx < side) sum += (double)row[xx] * w[r * TAPS + k];
        }
    }
    return sum;
}

static uint8_t to_byte(double v) {
    v = floor(v + 0.5);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Source position of output (x, y) in 1/32 pixels, as warpPerspective computes it: per block of
 * 64 columns X0 = M0·xb + M1·y + M2, then (X0 + M0·x1)·(32 / W), rounded to nearest even. */
static void source_pos(const double *m, int x, int y, int *X, int *Y) {
    const int xb = x / 64 * 64, x1 = x - xb;
    double X0 = m[0] * xb + m[1] * y + m[2], Y0 = m[3] * xb + m[4] * y + m[5];
    double W = m[6] * xb + m[7] * y + m[8] + m[6] * x1;
    W = W != 0 ? TAB / W : 0;
    double fx = (X0 + m[0] * x1) * W, fy = (Y0 + m[3] * x1) * W;
    fx = fx < INT_MIN ? INT_MIN : fx > INT_MAX ? INT_MAX : fx;
    fy = fy < INT_MIN ? INT_MIN : fy > INT_MAX ? INT_MAX : fy;
    *X = (int)lrint(fx), *Y = (int)lrint(fy);
}

/* out (S × S RGB) = the top-left S × S of P [3, 2S, 2S] warped by the inverse map minv */
static void warp(const float *P, int S, const double *minv, uint8_t *out) {
    float tab1[TAB][TAPS], w[TAPS * TAPS];
    for (int i = 0; i < TAB; i++) lanczos4(i * (1.f / TAB), tab1[i]);
    const int side = 2 * S;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int X, Y;
            source_pos(minv, x, y, &X, &Y);
            int fx = X & (TAB - 1), fy = Y & (TAB - 1), sx = (X >> 5) - 3, sy = (Y >> 5) - 3;
            for (int r = 0; r < TAPS; r++)
                for (int k = 0; k < TAPS; k++) w[r * TAPS + k] = tab1[fy][r] * tab1[fx][k];
            for (int c = 0; c < 3; c++) {
                double v = lanczos_sample(P + (size_t)c * side * side, side, sx, sy, w);
                out[((size_t)y * S + x) * 3 + c] = to_byte(v);
            }
        }
}

/* ---- the whole step ------------------------------------------------------------------------- */
size_t sg_align_plan(int side) {
    const size_t s2 = (size_t)side * side;
    /* P, B [3, 2S, 2S]; small [3, S, S]; tmp [S, S] (one plane at a time) */
    return 2 * sg_arena_floats(3 * 4 * s2) + sg_arena_floats(3 * s2) + sg_arena_floats(s2);
}

/* P = padded photo with its border blended into the blurred background */
static sg_status padded_background(const sg_image *img, float *P, sg_arena *a, sg_error *err) {
    const int S = img->w;
    const size_t mark = sg_arena_mark(a), s2 = (size_t)S * S;
    float *B = sg_arena_alloc(a, 12 * s2), *small = sg_arena_alloc(a, 3 * s2);
    float *tmp = sg_arena_alloc(a, s2);
    if (!B || !small || !tmp) {
        sg_arena_reset(a, mark);
        return sg_error_set(err, SG_ERR_NOMEM, "align: scratch plan too small");
    }
    mirror_pad(img, P);
    shrink_half(P, S, small);
    blur(small, tmp, S);
    sg_tensor st = sg_tensor_make(small, 1, 3, S, S), bt = sg_tensor_make(B, 1, 3, 2 * S, 2 * S);
    sg_resize_bilinear(&st, &bt, 0);
    blend(P, B, S);
    sg_arena_reset(a, mark);
    return SG_OK;
}

sg_status sg_face_align(const sg_image *img, const double *lm, const double *mean256, sg_image *out,
                        double mat[9], sg_arena *a, sg_error *err) {
    const int S = img->w;
    if (img->w != img->h || S < 4 || S % 2 || S > 4096)
        return sg_error_set(err, SG_ERR_ARG,
                            "align: the photo must be square with an even side "
                            "in 4..4096 (got %dx%d)",
                            img->w, img->h);
    double L[2 * SG_LANDMARKS], M[2 * SG_LANDMARKS], m[9], minv[9];
    for (int i = 0; i < 2 * SG_LANDMARKS; i++) L[i] = lm[i] + S / 2, M[i] = mean256[i] * S / 256.0;
    sg_status st = sg_align_matrix(L, M, m, err);
    if (st) return st;
    if (!invert3(m, minv)) return sg_error_set(err, SG_ERR_ARG, "align: singular transform");
    if (mat) memcpy(mat, m, sizeof m);
    const size_t mark = sg_arena_mark(a);
    float *P = sg_arena_alloc(a, 12 * (size_t)S * S); /* [3, 2S, 2S] */
    if (!P) return sg_error_set(err, SG_ERR_NOMEM, "align: scratch plan too small");
    if ((st = padded_background(img, P, a, err))) {
        sg_arena_reset(a, mark);
        return st;
    }
    out->pixels = malloc((size_t)S * S * 3);
    out->w = out->h = S;
    if (!out->pixels) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    else warp(P, S, minv, out->pixels);
    sg_arena_reset(a, mark);
    return st;
}
