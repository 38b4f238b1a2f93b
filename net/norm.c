/* Normalisation, in place on [N, C, H, W]. Each reduces to x = x·scale + shift per plane. The
 * statistics and the affine are evaluated in double: with float scale/shift, a plane whose mean
 * is large against its spread (shift ≈ -mean·scale) would lose digits to cancellation.
 * Planes run in parallel on the pool; the per-plane loops are the CPU-dispatched kernels
 * (kern_template.h). Before a conv the networks use the *_pre forms instead: statistics only, the
 * affine and activation applied by the conv as it reads its input (sg_preact). */
#include "net_internal.h"

#include <math.h>

typedef enum { NORM_INSTANCE, NORM_ADAIN, NORM_BATCH } norm_kind;

typedef struct {
    sg_tensor *x;
    const float *gamma, *beta; /* IN: [C] each or NULL; AdaIN: gamma = gb [N, 2C], beta NULL */
    const float *mean, *var;   /* batch norm */
    float eps;
    norm_kind kind;
    float *co; /* not NULL: write sg_preact coefficients [4, N·C] instead of normalising */
} norm_job;

/* One (sample, channel) plane: statistics, then the affine (or its coefficients). */
static void norm_task(void *ctx, int task, int thread) {
    const norm_job *j = ctx;
    (void)thread;
    const int C = j->x->c, n = task / C, c = task % C;
    const size_t hw = (size_t)j->x->h * j->x->w;
    float *p = j->x->data + (size_t)task * hw;
    const sg_kernels *k = sg__kernels();
    double g, b, mean, var;
    if (j->kind == NORM_BATCH) {
        g = j->gamma ? j->gamma[c] : 1.0, b = j->beta ? j->beta[c] : 0.0;
        mean = j->mean[c], var = j->var[c];
    } else {
        k->plane_stats(p, hw, &mean, &var);
        if (j->kind == NORM_ADAIN) {
            const float *gb = j->gamma + (size_t)n * 2 * C;
            g = 1.0 + (double)gb[c], b = gb[C + c];
        } else {
            g = j->gamma ? j->gamma[c] : 1.0, b = j->beta ? j->beta[c] : 0.0;
        }
    }
    const double scale = g / sqrt(var + (double)j->eps);
    if (j->co) {
        const size_t nc = (size_t)j->x->n * C;
        const float hi = (float)mean;
        j->co[task] = hi, j->co[nc + task] = (float)(mean - (double)hi);
        j->co[2 * nc + task] = (float)scale, j->co[3 * nc + task] = (float)b;
        return;
    }
    k->affine(p, hw, scale, b - mean * scale);
}

/* planes in parallel (tiny planes: serial, the pool's hand-off would cost more) */
static void norm_run(norm_job *j) {
    SG_ASSERT(j->x->data && j->x->h > 0 && j->x->w > 0);
    SG_ASSERT(j->kind != NORM_ADAIN || j->gamma); /* AdaIN: gb [N, 2C] */
    SG_ASSERT(j->kind != NORM_BATCH || (j->mean && j->var));
    const double t0 = sg__prof_now();
    const int planes = j->x->n * j->x->c;
    if ((size_t)j->x->h * j->x->w * planes >= 65536) sg__parallel(planes, norm_task, j);
    else
        for (int t = 0; t < planes; t++) norm_task(j, t, 0);
    sg__prof_add(SG_PROF_NORM, t0, 0);
}

void sg_instance_norm(sg_tensor *x, const float *gamma, const float *beta, float eps) {
    norm_job j = {.x = x, .gamma = gamma, .beta = beta, .eps = eps, .kind = NORM_INSTANCE};
    norm_run(&j);
}

void sg_adain(sg_tensor *x, const float *gb, float eps) {
    norm_job j = {.x = x, .gamma = gb, .eps = eps, .kind = NORM_ADAIN};
    norm_run(&j);
}

static sg_preact pre_of(const sg_tensor *x, const float *co, float slope) {
    const size_t nc = (size_t)x->n * x->c;
    return (sg_preact){co, co + nc, co + 2 * nc, co + 3 * nc, slope};
}

sg_preact sg_instance_norm_pre(const sg_tensor *x, const float *gamma, const float *beta, float eps,
                               float slope, float *co) {
    norm_job j = {.x = (sg_tensor *)x, /* only read: co is written instead */
                  .gamma = gamma,
                  .beta = beta,
                  .eps = eps,
                  .kind = NORM_INSTANCE,
                  .co = co};
    norm_run(&j);
    return pre_of(x, co, slope);
}

sg_preact sg_adain_pre(const sg_tensor *x, const float *gb, float eps, float slope, float *co) {
    norm_job j = {.x = (sg_tensor *)x, .gamma = gb, .eps = eps, .kind = NORM_ADAIN, .co = co};
    norm_run(&j);
    return pre_of(x, co, slope);
}

void sg_batch_norm(sg_tensor *x, const float *mean, const float *var, const float *weight,
                   const float *bias, float eps) {
    norm_job j = {.x = x,
                  .gamma = weight,
                  .beta = bias,
                  .mean = mean,
                  .var = var,
                  .eps = eps,
                  .kind = NORM_BATCH};
    norm_run(&j);
}
