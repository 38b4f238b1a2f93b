/* Activations and elementwise ops on flat float arrays (simple loops the compiler vectorises). */
#include "net.h"

void sg_relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void sg_leaky_relu(float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

void sg_scale(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

void sg_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void sg_add_scale(float *y, const float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) y[i] = (y[i] + x[i]) * s;
}

/* y[n, c, p] = a[n, c, p] · b[n, 0, p]: a per-pixel mask applied to every channel. y may be a. */
void sg_mul_channel_broadcast(const sg_tensor *a, const sg_tensor *b, sg_tensor *y) {
    const size_t hw = (size_t)a->h * a->w;
    for (int n = 0; n < a->n; n++) {
        const float *m = b->data + (size_t)n * hw;
        for (int c = 0; c < a->c; c++) {
            const size_t o = ((size_t)n * a->c + c) * hw;
            const float *src = a->data + o;
            float *dst = y->data + o;
            for (size_t i = 0; i < hw; i++) dst[i] = src[i] * m[i];
        }
    }
}
