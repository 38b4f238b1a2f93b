/* Depthwise 3×3 conv with TF padding, a per-channel affine and a clamp (sg_conv2d_dw3x3): the
 * MobileNet blocks' depthwise layers. 9 multiply-adds per output against 4 to 8 bytes moved, so
 * it is planned as memory-bound: one pass over x and y. The input rows of a band of output rows
 * are copied into a small buffer of zero-padded rows (L1; at stride 2 split into even and odd
 * columns on the way), and the kernel's dw3_rows makes the band's output rows from it with
 * vector loads only (the padding is in the copies: no edge cases; the taps broadcast once per
 * band), the affine and the clamp applied before the one store. Planes (sample, channel) are
 * split over the pool in contiguous runs.
 * (sg_conv2d_depthwise, the high-pass filter's general k×k conv in conv.c, keeps its own loops:
 * its bytes are fixed by the fixtures, and FMA contraction here would change them.) */
#include "net_internal.h"

#include <string.h>

#define DW_SW   512  /* output columns per strip: wider rows go in strips */
#define DW_BAND 8192 /* floats of the band of input rows (32 KiB on the stack): 3 rows of a strip */

typedef struct {
    const sg_tensor *x;
    const float *w;
    const sg_dw3x3 *p;
    sg_tensor *y;
    int per_task; /* planes per task */
} dw3_job;

/* One (sample, channel) plane: strips of up to DW_SW output columns, each in bands of output rows
 * whose input rows (zero rows above and below the image) fit the band buffer: copied, then one
 * kernel call for the band's rows. Rows shared by two bands (2 at stride 1, 1 at stride 2) are
 * copied twice, from cache. The padding columns are zeroed once per task (per strip when
 * there are several). */
static void dw3_plane(const dw3_job *j, int plane, float *band, int *zeroed) {
    const sg_kernels *k = sg__kernels();
    const sg_dw3x3 *p = j->p;
    const int s = p->stride, H = j->x->h, W = j->x->w, Ho = j->y->h, Wo = j->y->w;
    const int c = plane % j->x->c;
    const float *xp = j->x->data + (size_t)plane * H * W, *w = j->w + 9 * (size_t)c;
    float *yp = j->y->data + (size_t)plane * Ho * Wo;
    const float ep[4] = {p->scale ? p->scale[c] : 1.0f, p->bias ? p->bias[c] : 0.0f, p->lo, p->hi};
    for (int j0 = 0; j0 < Wo; j0 += DW_SW) {
        const int n = Wo - j0 < DW_SW ? Wo - j0 : DW_SW, c0 = s * j0 - p->pad_left;
        const int lp = (int)sg__round16((size_t)n + k->vl + 2),
                  ld = s * lp;                       /* rows 64-byte aligned */
        const int rmax = (DW_BAND / ld - 3) / s + 1; /* (rows - 1)·s + 3 input rows fit */
        /* the padding columns of every band row, once per task where the layout stays that of
         * the last plane (one strip): rows of the image write only their columns, rows outside
         * it zero the whole row */
        if (!*zeroed || Wo > DW_SW) {
            const int nin0 = ((Ho < rmax ? Ho : rmax) - 1) * s + 3;
            memset(band, 0, (size_t)nin0 * ld * sizeof(float));
            *zeroed = 1;
        }
        for (int i0 = 0; i0 < Ho; i0 += rmax) {
            const int rows = Ho - i0 < rmax ? Ho - i0 : rmax, nin = (rows - 1) * s + 3;
            for (int r = 0; r < nin; r++) {
                const int iy = i0 * s - p->pad_top + r;
                float *row = band + (size_t)r * ld;
                if (iy >= 0 && iy < H) k->dw3_load(xp + (size_t)iy * W, W, c0, s, lp, row);
                else memset(row, 0, (size_t)ld * sizeof(float));
            }
            k->dw3_rows(band, ld, lp, rows, s, n, w, ep, yp + (size_t)i0 * Wo + j0, Wo);
        }
    }
}

static void dw3_task(void *ctx, int task, int thread) {
    const dw3_job *j = ctx;
    (void)thread;
    float band[DW_BAND] __attribute__((aligned(64)));
    const int planes = j->x->n * j->x->c, p0 = task * j->per_task;
    const int p1 = p0 + j->per_task < planes ? p0 + j->per_task : planes;
    int zeroed = 0;
    for (int plane = p0; plane < p1; plane++) dw3_plane(j, plane, band, &zeroed);
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
