/* Depthwise 3×3 conv with TF padding, a per-channel affine and a clamp (sg_conv2d_dw3x3): the
 * MobileNet blocks' depthwise layers. 9 multiply-adds per output against 4 to 8 bytes moved, so
 * it is planned as memory-bound: one pass over x and y. Each input row is copied once into a ring
 * of three zero-padded rows (in L1; at stride 2 split into its even and odd columns on the way),
 * and the kernel's dw3_row makes an output row from the ring's rows with vector loads only (the
 * padding is in the copies: no edge cases), the affine and the clamp applied before its one
 * store. Planes (sample, channel) are split over the pool in contiguous runs.
 * (sg_conv2d_depthwise, the high-pass filter's general k×k conv in conv.c, keeps its own loops:
 * its bytes are fixed by the fixtures, and FMA contraction here would change them.) */
#include "net_internal.h"

#include <string.h>

#define DW_SW 1024             /* output columns per strip: wider rows go in strips */
#define DW_LP (DW_SW + 16 + 8) /* floats per ring phase: a strip's n + vl + 2, with vl ≤ 16 */

typedef struct {
    const sg_tensor *x;
    const float *w;
    const sg_dw3x3 *p;
    sg_tensor *y;
    int per_task; /* planes per task */
} dw3_job;

/* [lo, hi): the t in [0, len) with 0 ≤ c + s·t < W */
static void valid_t(int c, int s, int W, int len, int *lo, int *hi) {
    *lo = c >= 0 ? 0 : (-c + s - 1) / s;
    *hi = W - c <= 0 ? 0 : (W - c - 1) / s + 1;
    if (*lo > len) *lo = len;
    if (*hi > len) *hi = len;
    if (*hi < *lo) *hi = *lo;
}

/* a[p][t] = x[c0 + s·t + p] for t < len, p < s, zero outside [0, W): an input row (x, W floats)
 * as the s column phases of a strip */
static void load_row(const sg_kernels *k, const float *x, int W, int c0, int s, int len,
                     float *a[2]) {
    int lo[2], hi[2];
    for (int p = 0; p < s; p++) {
        valid_t(c0 + p, s, W, len, &lo[p], &hi[p]);
        memset(a[p], 0, (size_t)lo[p] * sizeof(float));
        memset(a[p] + hi[p], 0, (size_t)(len - hi[p]) * sizeof(float));
    }
    if (s == 1) {
        memcpy(a[0] + lo[0], x + c0 + lo[0], (size_t)(hi[0] - lo[0]) * sizeof(float));
        return;
    }
    /* both phases valid on [L, H): split there by deint2, the (at most one) odd ends by hand */
    const int L = lo[0] > lo[1] ? lo[0] : lo[1], H = hi[0] < hi[1] ? hi[0] : hi[1];
    if (H > L) k->deint2(x + c0 + 2 * L, H - L, a[0] + L, a[1] + L);
    for (int p = 0; p < 2; p++)
        for (int t = lo[p]; t < hi[p]; t++)
            if (t < L || t >= H || H <= L) a[p][t] = x[c0 + 2 * t + p];
}

/* One (sample, channel) plane: strips of up to DW_SW output columns, each one pass down the rows
 * with the ring holding input row iy in slot iy % 3 (a window's three rows never collide). */
static void dw3_plane(const dw3_job *j, int plane, float ring[3][2][DW_LP]) {
    const sg_kernels *k = sg__kernels();
    const sg_dw3x3 *p = j->p;
    const int s = p->stride, H = j->x->h, W = j->x->w, Ho = j->y->h, Wo = j->y->w;
    const int c = plane % j->x->c;
    const float *xp = j->x->data + (size_t)plane * H * W, *w = j->w + 9 * (size_t)c;
    float *yp = j->y->data + (size_t)plane * Ho * Wo;
    const float ep[4] = {p->scale ? p->scale[c] : 1.0f, p->bias ? p->bias[c] : 0.0f, p->lo, p->hi};
    for (int j0 = 0; j0 < Wo; j0 += DW_SW) {
        const int n = Wo - j0 < DW_SW ? Wo - j0 : DW_SW, len = n + k->vl + 2;
        const int c0 = s * j0 - p->pad_left;
        int held[3] = {-1, -1, -1}; /* the input row in each slot */
        for (int i = 0; i < Ho; i++) {
            const float *a[6];
            float kr[9];
            int nr = 0;
            for (int r = 0; r < 3; r++) {
                const int iy = i * s - p->pad_top + r, slot = iy % 3;
                if (iy < 0 || iy >= H) continue; /* a zero row: left out of the sum */
                float *ph[2] = {ring[slot][0], ring[slot][1]};
                if (held[slot] != iy) load_row(k, xp + (size_t)iy * W, W, c0, s, len, ph);
                held[slot] = iy;
                a[s * nr] = ph[0], a[s * nr + s - 1] = ph[s - 1];
                memcpy(kr + 3 * nr, w + 3 * r, 3 * sizeof(float));
                nr++;
            }
            k->dw3_row(a, kr, nr, s, n, ep, yp + (size_t)i * Wo + j0);
        }
    }
}

static void dw3_task(void *ctx, int task, int thread) {
    const dw3_job *j = ctx;
    (void)thread;
    float ring[3][2][DW_LP] __attribute__((aligned(64)));
    const int planes = j->x->n * j->x->c, p0 = task * j->per_task;
    const int p1 = p0 + j->per_task < planes ? p0 + j->per_task : planes;
    for (int plane = p0; plane < p1; plane++) dw3_plane(j, plane, ring);
}

void sg_conv2d_dw3x3(const sg_tensor *x, const float *w, const sg_dw3x3 *p, sg_tensor *y) {
    SG_ASSERT(x->data && y->data && w && p && x->data != y->data);
    SG_ASSERT(p->stride == 1 || p->stride == 2);
    SG_ASSERT(p->pad_top >= 0 && p->pad_top <= 2 && p->pad_left >= 0 && p->pad_left <= 2);
    SG_ASSERT(y->n == x->n && y->c == x->c && y->h >= 1 && y->w >= 1);
    SG_ASSERT((y->h - 1) * p->stride - p->pad_top <= x->h - 1 &&
              (y->w - 1) * p->stride - p->pad_left <= x->w - 1);
    SG_ASSERT(!(p->lo > p->hi));
    const double t0 = sg__prof_now();
    const int planes = x->n * x->c;
    int tasks = 4 * sg__threads();
    if (sg_tensor_numel(x) + sg_tensor_numel(y) < 65536) tasks = 1; /* not worth a hand-off */
    if (tasks > planes) tasks = planes;
    dw3_job j = {x, w, p, y, (planes + tasks - 1) / tasks};
    tasks = (planes + j.per_task - 1) / j.per_task;
    if (tasks > 1) sg__parallel(tasks, dw3_task, &j);
    else if (tasks == 1) dw3_task(&j, 0, 0);
    sg__prof_add(SG_PROF_DEPTHWISE, t0, 18.0 * planes * y->h * y->w);
}
