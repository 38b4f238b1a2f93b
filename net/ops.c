/* Activations and elementwise ops on flat float arrays (simple loops the compiler vectorises).
 * Large arrays are split over the pool's threads (memory-bound: two cores' bandwidth). */
#include "net_internal.h"

#define CHUNK 65536 /* floats per parallel task */

/* y[i] = ... for the public op of the same name (x: the second operand, s: slope or scale) */
typedef enum { EW_RELU, EW_LRELU, EW_SCALE, EW_ADD, EW_ADD_SCALE, EW_CLAMP } ew_op;

typedef struct {
    float *y;
    const float *x;
    size_t n;
    float s, hi; /* hi: the clamp's upper bound (s its lower) */
    ew_op op;
} ew_job;

static void ew_range(const ew_job *j, size_t a, size_t b) {
    float *y = j->y;
    const float *x = j->x, s = j->s;
    switch (j->op) {
    case EW_RELU:
        for (size_t i = a; i < b; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case EW_LRELU: /* branch-free max(y, 0) + s·min(y, 0), so it vectorises (signs are random) */
        for (size_t i = a; i < b; i++)
            y[i] = (y[i] > 0.0f ? y[i] : 0.0f) + s * (y[i] < 0.0f ? y[i] : 0.0f);
        break;
    case EW_SCALE:
        for (size_t i = a; i < b; i++) y[i] *= s;
        break;
    case EW_ADD:
        for (size_t i = a; i < b; i++) y[i] += x[i];
        break;
    case EW_ADD_SCALE:
        for (size_t i = a; i < b; i++) y[i] = (y[i] + x[i]) * s;
        break;
    case EW_CLAMP: /* two selects: max and min instructions, NaN kept */
        for (size_t i = a; i < b; i++) {
            const float v = y[i] < s ? s : y[i];
            y[i] = v > j->hi ? j->hi : v;
        }
        break;
    }
}

static void ew_task(void *ctx, int task, int thread) {
    const ew_job *j = ctx;
    (void)thread;
    const size_t a = (size_t)task * CHUNK, b = a + CHUNK < j->n ? a + CHUNK : j->n;
    ew_range(j, a, b);
}

static void ew_run(float *y, const float *x, size_t n, float s, float hi, ew_op op) {
    const double t0 = sg__prof_now();
    ew_job j = {y, x, n, s, hi, op};
    if (n >= 4 * CHUNK) sg__parallel((int)((n + CHUNK - 1) / CHUNK), ew_task, &j);
    else ew_range(&j, 0, n);
    sg__prof_add(SG_PROF_ELEMENTWISE, t0, 0);
}

void sg_relu(float *x, size_t n) { ew_run(x, NULL, n, 0.0f, 0.0f, EW_RELU); }
void sg_leaky_relu(float *x, size_t n, float slope) { ew_run(x, NULL, n, slope, 0.0f, EW_LRELU); }
void sg_scale(float *x, size_t n, float s) { ew_run(x, NULL, n, s, 0.0f, EW_SCALE); }
void sg_add(float *y, const float *x, size_t n) { ew_run(y, x, n, 0.0f, 0.0f, EW_ADD); }
void sg_add_scale(float *y, const float *x, size_t n, float s) {
    ew_run(y, x, n, s, 0.0f, EW_ADD_SCALE);
}
void sg_clamp(float *x, size_t n, float lo, float hi) {
    SG_ASSERT(!(lo > hi));
    ew_run(x, NULL, n, lo, hi, EW_CLAMP);
}

/* y[n, c, p] = a[n, c, p] · b[n, 0, p]: a per-pixel mask applied to every channel. y may be a. */
void sg_mul_channel_broadcast(const sg_tensor *a, const sg_tensor *b, sg_tensor *y) {
    SG_ASSERT(b->n == a->n && b->c == 1 && b->h == a->h && b->w == a->w);
    SG_ASSERT(y->n == a->n && y->c == a->c && y->h == a->h && y->w == a->w);
    const double t0_ = sg__prof_now();
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
    sg__prof_add(SG_PROF_ELEMENTWISE, t0_, 0);
}

/* out = pre(x) (sg_preact), one (sample, channel) plane per task on the pool; out may be x. */
typedef struct {
    const float *x;
    const sg_preact *pre;
    float *out;
    size_t hw;
} pre_job;

static void pre_plane(void *ctx, int k, int thread) {
    const pre_job *j = ctx;
    (void)thread;
    sg__pre_row(j->pre, (size_t)k, j->x + (size_t)k * j->hw, j->hw, j->out + (size_t)k * j->hw);
}

void sg_preact_apply(const sg_tensor *x, const sg_preact *pre, float *out) {
    SG_ASSERT(x->data && pre && out);
    const double t0 = sg__prof_now();
    const int planes = x->n * x->c;
    pre_job j = {x->data, pre, out, (size_t)x->h * x->w};
    if ((size_t)planes * j.hw >= 65536) sg__parallel(planes, pre_plane, &j);
    else
        for (int k = 0; k < planes; k++) pre_plane(&j, k, 0);
    sg__prof_add(SG_PROF_ELEMENTWISE, t0, 0);
}
