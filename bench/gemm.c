/* bench/gemm: the Winograd products' kernel alone, in cache, on one thread: the CPU path's
 * gemm_packed (net/kern_template.h) run over 36 positions as one tile task runs them
 * (M[p][Cout, N] = U[p][Cout, K] · V[p][K, N], p < 36), for shapes given on the command line.
 * It includes net/'s internal header: gemm_packed has no public entry (net.h's sg_gemm packs
 * its B first and runs on the pool). Prints the best time of R repetitions and its GFLOP/s.
 * usage: bench_gemm [--reps R] M,N,K ...     (SG_CPU=… forces a kernel path)
 * e.g.   bench_gemm 64,128,64 256,64,256 32,128,512   (the tile-row layers' shapes at 256² and
 *        64², the channel-block layers' at 32²) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../net/net_internal.h"
#include "bench_util.h"

static int run(const sg_kernels *k, int m, int n, int kk, int reps) {
    if (m <= 0 || n <= 0 || kk <= 0 || m % k->mr || n % k->vl) {
        fprintf(stderr, "bench_gemm: %d,%d,%d: M must be a multiple of %d, N of %d\n", m, n, kk,
                k->mr, k->vl);
        return 1;
    }
    /* U [36][M/mr][K][mr], V [36][K, N], M [36][M, N]: one position after another */
    const size_t lu = (size_t)m * kk, lv = (size_t)kk * n, lm = (size_t)m * n;
    float *u = bench_rnd(36 * lu, 1), *v = bench_rnd(36 * lv, 2), *c = bench_rnd(36 * lm, 3);
    if (!u || !v || !c) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        return 1;
    }
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* the first run warms the caches */
        const double t0 = bench_now_ms();
        for (int p = 0; p < 36; p++)
            k->gemm_packed(m, n, kk, u + p * lu, v + p * lv, n, c + p * lm, n, 0);
        const double t = bench_now_ms() - t0;
        if (r && t < best) best = t;
    }
    printf("%-6s M=%-4d N=%-4d K=%-4d  %8.3f ms  %6.1f GFLOP/s\n", k->name, m, n, kk, best,
           2.0 * 36 * m * n * kk / (best * 1e6));
    free(u), free(v), free(c);
    return 0;
}

int main(int argc, char **argv) {
    int reps = 30, bad = 0, shapes = 0;
    const sg_kernels *k = sg__kernels();
    for (int i = 1; i < argc; i++) {
        int m, n, kk;
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else if (sscanf(argv[i], "%d,%d,%d", &m, &n, &kk) == 3) {
            bad |= run(k, m, n, kk, reps), shapes++;
        } else {
            shapes = 0;
            break;
        }
    }
    if (!shapes) fprintf(stderr, "usage: bench_gemm [--reps R] M,N,K ...\n");
    return bad || !shapes ? 2 : 0;
}
