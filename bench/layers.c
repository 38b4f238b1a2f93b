/* bench/layers: per-layer timing of the conv shapes of the 256² StarGAN v2 networks (AFHQ and
 * CelebA-HQ share them), every applicable algorithm interleaved in the same run (median of N),
 * against raw cblas_sgemm at the layer's direct-conv shape [Cout, 9·Cin] · [9·Cin, H·W], the
 * machine's reachable rate for that work. GFLOP/s are nominal: the direct conv's 2·Cout·Cin·9·H·W
 * (for up2 layers, that of the conv on the upsampled input), whatever the algorithm does.
 *
 * With --model M it instead runs the generator, the style encoder (and the FAN when the model has
 * one) of that model file through
 * the engine (as `stargan bench` does) and prints, per network, the median time and the time per
 * op family (sg_profile), with GFLOP/s and the share of the sgemm rate measured in the same run.
 *
 * usage: bench_layers [--runs N] [--ws FLOATS] [--only NAME]     (SG_CPU=… forces a kernel path)
 *        bench_layers --model M.safetensors [--runs N] [--only generator|style|fan] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/engine.h"
#include "bench_util.h"

typedef struct {
    const char *name;
    int cin, cout, side; /* side: output side */
    int up;              /* 1: conv3×3 on a nearest-upsampled input of side/2 */
    int count;           /* how often the generator (G) / style encoder (E) has it */
} layer;

static const layer layers[] = {
    {"G enc0.conv1 / dec5.conv2", 64, 64, 256, 0, 2},
    {"G enc0.conv2", 64, 128, 128, 0, 1},
    {"G enc1.conv1 / dec4.conv2", 128, 128, 128, 0, 2},
    {"G enc1.conv2", 128, 256, 64, 0, 1},
    {"G enc2.conv1 / dec3.conv2", 256, 256, 64, 0, 2},
    {"G enc2.conv2", 256, 512, 32, 0, 1},
    {"G enc3.conv1 / dec2.conv2", 512, 512, 32, 0, 2},
    {"G 512@16 (enc3.c2, enc4-5, dec0-1)", 512, 512, 16, 0, 9},
    {"G dec1.conv1 (up, CelebA-HQ)", 512, 512, 16, 1, 1},
    {"G dec2.conv1 (up)", 512, 512, 32, 1, 1},
    {"G dec3.conv1 (up)", 512, 256, 64, 1, 1},
    {"G dec4.conv1 (up)", 256, 128, 128, 1, 1},
    {"G dec5.conv1 (up)", 128, 64, 256, 1, 1},
    {"E 512@8", 512, 512, 8, 0, 3},
    /* the FAN's ConvBlock convs (256→128, 128→64, 64→64 in the hourglass) */
    {"F 256→128 @64 (b1_4, top_m)", 256, 128, 64, 0, 2},
    {"F 128→64 @64", 128, 64, 64, 0, 3},
    {"F 64→64 @64", 64, 64, 64, 0, 3},
    {"F 256→128 @32 (b2_4, b1_3, b3_4)", 256, 128, 32, 0, 3},
    {"F 128→64 @32", 128, 64, 32, 0, 3},
    {"F 64→64 @32", 64, 64, 32, 0, 3},
    {"F 256→128 @16", 256, 128, 16, 0, 3},
    {"F 128→64 @16", 128, 64, 16, 0, 3},
    {"F 64→64 @16", 64, 64, 16, 0, 3},
    {"F 256→128 @8", 256, 128, 8, 0, 3},
    {"F 128→64 @8", 128, 64, 8, 0, 3},
    {"F 64→64 @8", 64, 64, 8, 0, 3},
    {"F 256→128 @4", 256, 128, 4, 0, 4},
    {"F 128→64 @4", 128, 64, 4, 0, 4},
    {"F 64→64 @4", 64, 64, 4, 0, 4},
};

/* CPU time of the whole process (all threads): unlike wall time it does not grow when other
 * load on the box preempts us, so it compares runs taken at different moments (the pool never
 * spins, so idle waiting costs none). */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

enum { A_SGEMM, A_IM2COL, A_SHIFT, A_WINO, A_UPNAIVE, A_UP2, A_N };
static const char *anames[A_N] = {"sgemm", "im2col", "shift", "winograd", "up+conv", "up2"};

/* one timed run of algorithm a on layer l; returns ms or -1 when it does not apply */
static double run(int a, const layer *l, float *x, float *xu, float *w, float *b, float *y,
                  float *A, float *B, sg_workspace *ws) {
    const int s = l->side, si = l->up ? s / 2 : s;
    sg_tensor tx = sg_tensor_make(x, 1, l->cin, si, si), ty = sg_tensor_make(y, 1, l->cout, s, s);
    sg_tensor tu = sg_tensor_make(xu, 1, l->cin, s, s);
    double t0 = bench_now_ms();
    switch (a) {
    case A_SGEMM: sg_gemm(l->cout, s * s, 9 * l->cin, A, 9 * l->cin, B, s * s, y, s * s, 0); break;
    case A_IM2COL:
        if (l->up) return -1;
        sg_conv2d_algo(&tx, w, b, 3, 3, 1, 1, &ty, ws, SG_CONV_IM2COL);
        break;
    case A_SHIFT:
        if (l->up) return -1;
        if (sg_conv2d_algo(&tx, w, b, 3, 3, 1, 1, &ty, ws, SG_CONV_SHIFT) != SG_CONV_SHIFT)
            return -1;
        break;
    case A_WINO:
        if (l->up || sg_conv2d_winograd(&tx, w, b, &ty, ws)) return -1;
        break;
    case A_UPNAIVE:
        if (!l->up) return -1;
        sg_upsample_nearest2(&tx, &tu);
        sg_conv2d(&tu, w, b, 3, 3, 1, 1, &ty, ws);
        break;
    case A_UP2:
        if (!l->up) return -1;
        sg_conv2d_up2(&tx, w, b, &ty, ws);
        break;
    }
    return bench_now_ms() - t0;
}

/* the sgemm rate of a big conv-like product: the "peak" the profile compares against */
static double sgemm_gflops(int runs) {
    const int M = 256, N = 4096, K = 2304;
    float *A = bench_rnd((size_t)M * K, 1), *B = bench_rnd((size_t)K * N, 2),
          *C = malloc((size_t)M * N * 4);
    double t[100];
    sg_gemm(M, N, K, A, K, B, N, C, N, 0);
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ms();
        sg_gemm(M, N, K, A, K, B, N, C, N, 0);
        t[r] = bench_now_ms() - t0;
    }
    qsort(t, (size_t)runs, sizeof(double), bench_cmp_double);
    free(A), free(B), free(C);
    return 2.0 * M * N * K / (t[runs / 2] * 1e6);
}

static float hm_buf[SG_FAN_OUT * SG_FAN_HM * SG_FAN_HM]; /* FAN heatmaps [1, 99, 64, 64] */

/* which: 0 generator, 1 style encoder, 2 FAN */
static int run_net(sg_engine *e, sg_run *r, int which, const sg_tensor *x, sg_tensor *y,
                   sg_tensor *masks, float *s, sg_error *err) {
    int dom = 0;
    if (which == 0)
        return sg_generator_forward(&e->gen, x, s, e->cfg.w_hpf > 0 ? masks : NULL, y, &r->arena,
                                    &r->ws, err);
    if (which == 2) {
        sg_tensor hm = sg_tensor_make(hm_buf, 1, SG_FAN_OUT, SG_FAN_HM, SG_FAN_HM);
        return sg_fan_forward(&e->fan, x, &hm, &r->arena, &r->ws, err);
    }
    return sg_style_encoder_forward(&e->enc, x, &dom, s, &r->arena, &r->ws, err);
}

static int profile_model(const char *path, int runs, const char *only, sg_precision prec) {
    sg_engine e;
    sg_run r;
    sg_error err = {0};
    if (sg_engine_open(&e, path, NULL, &err) || sg_engine_set_precision(&e, prec, &err) ||
        sg_run_init(&r, &e, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const int S = e.cfg.img_size;
    float *xd = bench_rnd(3 * (size_t)S * S, 7), *yd = malloc(3 * (size_t)S * S * 4);
    float *md = malloc((size_t)S * S * 4), s[512] = {0};
    for (size_t i = 0; i < (size_t)S * S; i++) md[i] = 0.5f;
    sg_tensor x = sg_tensor_make(xd, 1, 3, S, S), y = sg_tensor_make(yd, 1, 3, S, S);
    sg_tensor masks[2] = {sg_tensor_make(md, 1, 1, S, S), sg_tensor_make(md, 1, 1, S, S)};
    for (int i = 0; i < e.cfg.style_dim; i++) s[i] = 0.1f * (float)(i % 7) - 0.3f;
    const double peak = sgemm_gflops(runs);
    const char *names[3] = {"generator", "style_encoder", "fan"};
    const double flops[3] = {sg_generator_flops(&e.gen), sg_style_encoder_flops(&e.enc),
                             e.has_fan ? sg_fan_flops(&e.fan) : 0};
    printf("cpu path %s, precision %s, sgemm %.1f GFLOP/s (M=256 N=4096 K=2304, same run)\n",
           sg_cpu_path(), sg_precision_name(prec), peak);
    sg_packed_use(e.packed); /* the networks run directly below */
    for (int k = 0; k < (e.has_fan ? 3 : 2); k++) {
        double t[100];
        if (only && !strstr(names[k], only)) continue;
        if (run_net(&e, &r, k, &x, &y, masks, s, &err)) break; /* warm-up */
        sg_profile_reset();
        sg_profile_enable(1);
        const double c0 = cpu_ms();
        for (int i = 0; i < runs; i++) {
            double t0 = bench_now_ms();
            run_net(&e, &r, k, &x, &y, masks, s, &err);
            t[i] = bench_now_ms() - t0;
        }
        sg_profile_enable(0);
        qsort(t, (size_t)runs, sizeof(double), bench_cmp_double);
        const double cpu = (cpu_ms() - c0) / runs;
        printf("\n%s median_ms=%.2f gflops=%.1f cpu_ms=%.1f (nominal %.1f GFLOP), profile summed "
               "over %d runs:\n",
               names[k], t[runs / 2], flops[k] / (t[runs / 2] * 1e6), cpu, flops[k] / 1e9, runs);
        sg_profile_print(stdout, peak);
    }
    printf("arena %zu floats, workspace %zu floats\n", r.arena.cap, r.ws.cap);
    sg_packed_use(NULL);
    free(xd), free(yd), free(md);
    sg_run_free(&r);
    sg_engine_free(&e);
    return 0;
}

int main(int argc, char **argv) {
    int runs = 5;
    const char *model = NULL;
    size_t wsf = (size_t)24 << 20; /* floats: generous, to see each algorithm unconstrained */
    const char *only = NULL;
    sg_precision prec = SG_PRECISION_FP32;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ws")) wsf = (size_t)atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--precision") && sg_precision_parse(argv[i + 1], &prec)) {
            fprintf(stderr, "--precision must be fp32 or bf16\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 100) runs = 5;
    if (model) return profile_model(model, runs, only, prec);
    sg_workspace ws;
    if (sg_workspace_init(&ws, wsf, NULL)) return 1;
    printf("cpu path: %s, workspace %zu floats, median of %d\n", sg_cpu_path(), wsf, runs);
    if (only) sg_profile_enable(1);
    printf("%-36s %8s %9s %8s %6s\n", "layer", "algo", "ms", "GFLOP/s", "%sgemm");
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++) {
        const layer *l = &layers[k];
        if (only && !strstr(l->name, only)) continue;
        const int s = l->side;
        const size_t K = 9 * (size_t)l->cin, npix = (size_t)s * s;
        float *x = bench_rnd((size_t)l->cin * npix, 1), *xu = malloc((size_t)l->cin * npix * 4);
        float *w = bench_rnd((size_t)l->cout * K, 2), *b = bench_rnd(l->cout, 3);
        float *y = malloc((size_t)l->cout * npix * sizeof(float));
        float *A = bench_rnd((size_t)l->cout * K, 4), *B = bench_rnd(K * npix, 5);
        double t[A_N][100];
        int ok[A_N];
        for (int a = 0; a < A_N; a++) ok[a] = run(a, l, x, xu, w, b, y, A, B, &ws) >= 0; /* warm */
        for (int r = 0; r < runs; r++)
            for (int a = 0; a < A_N; a++)
                if (ok[a]) t[a][r] = run(a, l, x, xu, w, b, y, A, B, &ws);
        const double flops = 2.0 * l->cout * K * npix, peak_ms = 0;
        (void)peak_ms;
        double sg = 0;
        for (int a = 0; a < A_N; a++) {
            if (!ok[a]) continue;
            qsort(t[a], (size_t)runs, sizeof(double), bench_cmp_double);
            double med = t[a][runs / 2];
            if (a == A_SGEMM) sg = med;
            printf("%-36s %8s %9.2f %8.1f %5.0f%%\n", a == 0 ? l->name : "", anames[a], med,
                   flops / (med * 1e6), 100.0 * sg / med);
        }
        printf("%-36s %8s %9zu\n", "", "wino ws", sg_conv_winograd_floats(l->cin, s, s, l->cout));
        free(x), free(xu), free(w), free(b), free(y), free(A), free(B);
    }
    if (only) { /* the op-family split of the layers above (all algorithms, all runs) */
        printf("\nprofile of the runs above:\n");
        sg_profile_print(stdout, 0);
    }
    sg_workspace_free(&ws);
    return 0;
}
