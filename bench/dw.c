/* bench/dw: the depthwise 3×3 layers of a MobileNetV1-SSD face detector (TF SAME, folded batch
 * norm, ReLU6) through sg_conv2d_dw3x3, side by side in one run (median of N, interleaved) with
 *   naive  a scalar loop of the formula (bounds checks per tap), one thread,
 *   1 thr  sg_conv2d_dw3x3 on the caller's thread alone (two sg_net_user_enter: the pool steps
 *          aside as for concurrent requests),
 *   pool   sg_conv2d_dw3x3 on net/'s pool,
 *   copy   memcpy of the input (one thread), the bandwidth reference,
 * each run from cold caches (64 MiB written in between, untimed). GB/s count the bytes the op
 * must move: the input read once and the output written once.
 * usage: bench_dw [--runs N]      (SG_CPU=… forces a kernel path, SG_THREADS=n the pool) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../net/net.h"
#include "bench_util.h"

typedef struct {
    const char *name;
    int side, c, s; /* input side, channels, stride */
} dw_layer;

static const dw_layer layers[] = {
    {"256²×32 s1", 256, 32, 1},      {"256²×64 s2", 256, 64, 2}, {"128²×128 s1", 128, 128, 1},
    {"128²×128 s2", 128, 128, 2},    {"64²×256 s1", 64, 256, 1}, {"64²×256 s2", 64, 256, 2},
    {"32²×512 s1 (×5)", 32, 512, 1}, {"32²×512 s2", 32, 512, 2}, {"16²×1024 s1", 16, 1024, 1},
};

enum { M_NAIVE, M_ONE, M_POOL, M_COPY, M_N };

/* The formula of net.h, one output at a time. */
static void naive(const sg_tensor *x, const float *w, const sg_dw3x3 *p, sg_tensor *y) {
    const int H = x->h, W = x->w, Ho = y->h, Wo = y->w;
    for (int c = 0; c < x->c; c++) {
        const float *xp = x->data + (size_t)c * H * W;
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                float acc = 0;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        const int iy = i * p->stride + ky - p->pad_top;
                        const int ix = j * p->stride + kx - p->pad_left;
                        if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                            acc += w[9 * c + 3 * ky + kx] * xp[(size_t)iy * W + ix];
                    }
                const float v = p->scale[c] * acc + p->bias[c];
                y->data[((size_t)c * Ho + i) * Wo + j] = fminf(fmaxf(v, p->lo), p->hi);
            }
    }
}

#define EVICT ((size_t)64 << 20)
static char *evict_buf;
static void evict(void) {
    static char v;
    memset(evict_buf, ++v, EVICT);
}

/* one timed run of method m from cold caches; ms */
static double run(int m, const sg_tensor *x, const float *w, const sg_dw3x3 *p, sg_tensor *y,
                  float *copy) {
    evict();
    const double t0 = bench_now_ms();
    switch (m) {
    case M_NAIVE: naive(x, w, p, y); break;
    case M_ONE:
        sg_net_user_enter(), sg_net_user_enter(); /* two "requests": ops run on this thread */
        sg_conv2d_dw3x3(x, w, p, y);
        sg_net_user_leave(), sg_net_user_leave();
        break;
    case M_POOL: sg_conv2d_dw3x3(x, w, p, y); break;
    case M_COPY: memcpy(copy, x->data, sg_tensor_numel(x) * sizeof(float)); break;
    }
    return bench_now_ms() - t0;
}

int main(int argc, char **argv) {
    int runs = 7;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
    if (runs < 1 || runs > 100) runs = 7;
    evict_buf = malloc(EVICT);
    if (!evict_buf) return 1;
    printf("cpu path: %s, median of %d, cold caches; GB/s = (input + output bytes) / time\n",
           sg_cpu_path(), runs);
    printf("%-18s %9s %9s %9s %9s   %s\n", "layer", "naive", "1 thr", "pool", "copy",
           "GB/s; pool vs naive, pool vs copy");
    double sum_ms[M_N] = {0};
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++) {
        const dw_layer *l = &layers[k];
        const int ho = (l->side + l->s - 1) / l->s, total = (ho - 1) * l->s + 3 - l->side;
        const int pad = total > 0 ? total / 2 : 0;
        const size_t nx = (size_t)l->c * l->side * l->side, ny = (size_t)l->c * ho * ho;
        float *xd = bench_rnd(nx, 1), *w = bench_rnd((size_t)9 * l->c, 2), *sc = bench_rnd(l->c, 3);
        float *bi = bench_rnd(l->c, 4), *yd = malloc(ny * sizeof(float)), *copy = malloc(nx * 4);
        if (!xd || !w || !sc || !bi || !yd || !copy) return 1;
        sg_tensor x = sg_tensor_make(xd, 1, l->c, l->side, l->side);
        sg_tensor y = sg_tensor_make(yd, 1, l->c, ho, ho);
        const sg_dw3x3 p = {l->s, pad, pad, sc, bi, 0.0f, 6.0f};
        double t[M_N][100];
        for (int m = 0; m < M_N; m++) run(m, &x, w, &p, &y, copy); /* warm-up */
        for (int r = 0; r < runs; r++)
            for (int m = 0; m < M_N; m++) t[m][r] = run(m, &x, w, &p, &y, copy);
        double gbs[M_N];
        for (int m = 0; m < M_N; m++) {
            qsort(t[m], (size_t)runs, sizeof(double), bench_cmp_double);
            const double bytes = m == M_COPY ? 8.0 * nx : 4.0 * (nx + ny);
            gbs[m] = bytes / (t[m][runs / 2] * 1e6);
            sum_ms[m] += t[m][runs / 2] * (strstr(l->name, "×5") ? 5 : 1);
        }
        printf("%-18s %9.2f %9.2f %9.2f %9.2f   %.1fx, %.2f\n", l->name, gbs[M_NAIVE], gbs[M_ONE],
               gbs[M_POOL], gbs[M_COPY], gbs[M_POOL] / gbs[M_NAIVE], gbs[M_POOL] / gbs[M_COPY]);
        free(xd), free(w), free(sc), free(bi), free(yd), free(copy);
    }
    printf("all 13 depthwise layers, ms: naive %.2f, 1 thr %.2f, pool %.2f (%.1fx naive)\n",
           sum_ms[M_NAIVE], sum_ms[M_ONE], sum_ms[M_POOL], sum_ms[M_NAIVE] / sum_ms[M_POOL]);
    free(evict_buf);
    return 0;
}
