/* Normalisation, in place on [N, C, H, W]. Each reduces to x = x·scale + shift per plane. The
 * statistics and the affine are evaluated in double: with float scale/shift, a plane whose mean
 * is large against its spread (shift ≈ -mean·scale) would lose digits to cancellation. */
#include "net.h"

#include <math.h>

static void affine_plane(float *p, size_t n, double scale, double shift) {
    for (size_t i = 0; i < n; i++) p[i] = (float)((double)p[i] * scale + shift);
}

/* Mean, then biased variance by a second pass (not E[x²] - mean², which cancels badly). */
static void plane_stats(const float *p, size_t n, double *mean, double *var) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += p[i];
    const double m = n ? s / (double)n : 0.0;
    double v = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = p[i] - m;
        v += d * d;
    }
    *mean = m;
    *var = n ? v / (double)n : 0.0;
}

/* Normalise one plane, then ·g + b: scale = g/sqrt(var + eps), shift = b - mean·scale. */
static void norm_plane(float *p, size_t n, double g, double b, float eps) {
    double mean, var;
    plane_stats(p, n, &mean, &var);
    const double scale = g / sqrt(var + (double)eps);
    affine_plane(p, n, scale, b - mean * scale);
}

void sg_instance_norm(sg_tensor *x, const float *gamma, const float *beta, float eps) {
    const size_t hw = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++)
            norm_plane(x->data + ((size_t)n * x->c + c) * hw, hw, gamma ? gamma[c] : 1.0,
                       beta ? beta[c] : 0.0, eps);
}

/* gb [N, 2C]: row n holds gamma[0..C) then beta[0..C); the scale is (1 + gamma). */
void sg_adain(sg_tensor *x, const float *gb, float eps) {
    const size_t hw = (size_t)x->h * x->w;
    const int C = x->c;
    for (int n = 0; n < x->n; n++) {
        const float *g = gb + (size_t)n * 2 * C, *b = g + C;
        for (int c = 0; c < C; c++)
            norm_plane(x->data + ((size_t)n * C + c) * hw, hw, 1.0 + (double)g[c], b[c], eps);
    }
}

/* Running statistics, so no reduction: a fixed per-channel affine. */
void sg_batch_norm(sg_tensor *x, const float *mean, const float *var, const float *weight,
                   const float *bias, float eps) {
    const size_t hw = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++) {
            const double scale = (weight ? weight[c] : 1.0) / sqrt((double)var[c] + eps);
            const double shift = (bias ? bias[c] : 0.0) - (double)mean[c] * scale;
            affine_plane(x->data + ((size_t)n * x->c + c) * hw, hw, scale, shift);
        }
}
