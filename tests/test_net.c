/* net/: every op checked on a hand-computed case and on random data against a naive double
 * reference written here. Conv runs each shape over a range of workspace sizes, which walks it
 * through all its paths: the tap-shifted GEMMs (stride 1, Cin >= 16) in one or many row bands,
 * im2col in whole-image, multi-row, sub-row and ragged tiles, and the direct fallback; plus
 * 256×256 layers with the default workspace (sampled check). */
#include "../net/net.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-5f

static float *fbuf(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static float *frand(size_t n, uint64_t seed) {
    float *p = fbuf(n);
    tu_fill_random(p, n, seed, -1.0f, 1.0f);
    return p;
}

/* |got - want| <= rel·scale + abs_tol for each element; scale[i] (or |want| when NULL) */
static void assert_near(const char *what, const float *got, const double *want, const double *scale,
                        size_t n, double rel) {
    for (size_t i = 0; i < n; i++) {
        double s = scale ? scale[i] : fabs(want[i]);
        double tol = rel * (s > 1.0 ? s : 1.0);
        if (!(fabs((double)got[i] - want[i]) <= tol)) {
            print_error("%s: [%zu] got %.9g want %.9g (tol %g)\n", what, i, got[i], want[i], tol);
            fail();
        }
    }
}

static void assert_floats(const char *what, const float *got, const float *want, size_t n,
                          double tol) {
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol)) {
            print_error("%s: [%zu] got %.9g want %.9g\n", what, i, got[i], want[i]);
            fail();
        }
}

/* ---- errors --------------------------------------------------------------------------------- */

static void test_error(void **state) {
    (void)state;
    sg_error e;
    assert_int_equal(sg_error_set(&e, SG_ERR_SHAPE, "bad %s %d", "dim", 3), SG_ERR_SHAPE);
    assert_int_equal(e.status, SG_ERR_SHAPE);
    assert_string_equal(e.msg, "bad dim 3");
    assert_int_equal(sg_error_set(NULL, SG_ERR_IO, "x"), SG_ERR_IO);
    char big[700];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    sg_error_set(&e, SG_ERR_ARG, "%s", big); /* truncated, still terminated */
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    for (int s = SG_OK; s <= SG_ERR_UNSUPPORTED; s++) {
        assert_non_null(sg_status_name((sg_status)s));
        for (int t = SG_OK; t < s; t++)
            assert_string_not_equal(sg_status_name((sg_status)s), sg_status_name((sg_status)t));
    }
    assert_non_null(sg_status_name((sg_status)99));
}

/* ---- arena and workspace -------------------------------------------------------------------- */

static void test_arena(void **state) {
    (void)state;
    sg_arena a;
    sg_error e;
    assert_int_equal(sg_arena_init(&a, 100, &e), SG_OK);
    assert_true(a.cap >= 100);
    assert_int_equal(a.top, 0);
    float *p1 = sg_arena_alloc(&a, 1);
    assert_non_null(p1);
    assert_int_equal((uintptr_t)p1 % 64, 0);
    float *p2 = sg_arena_alloc(&a, 17);
    assert_non_null(p2);
    assert_int_equal((uintptr_t)p2 % 64, 0);
    assert_true(p2 >= p1 + 1);
    assert_int_equal(a.top, 16 + 32);
    size_t m = sg_arena_mark(&a);
    float *p3 = sg_arena_alloc(&a, 40);
    assert_non_null(p3);
    assert_int_equal((uintptr_t)p3 % 64, 0);
    assert_int_equal(a.peak, 96);
    p3[39] = 1.0f;                        /* writable to the end */
    assert_null(sg_arena_alloc(&a, 100)); /* full: NULL, state unchanged */
    assert_int_equal(a.top, 96);
    sg_arena_reset(&a, m);
    assert_int_equal(a.top, 48);
    assert_int_equal(a.peak, 96); /* the high-water mark survives reset */
    float *p4 = sg_arena_alloc(&a, 8);
    assert_ptr_equal(p4, p3); /* reuse after reset */
    sg_tensor t = sg_arena_tensor(&a, 1, 2, 3, 4);
    assert_non_null(t.data);
    assert_int_equal(t.c, 2);
    assert_int_equal(t.w, 4);
    sg_tensor big = sg_arena_tensor(&a, 1, 1, 100, 100);
    assert_null(big.data);
    sg_arena_free(&a);
    assert_null(a.base);

    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, 1000, &e), SG_OK);
    assert_non_null(ws.buf);
    assert_int_equal((uintptr_t)ws.buf % 64, 0);
    assert_int_equal(ws.cap, 1000);
    ws.buf[999] = 0.0f;
    sg_workspace_free(&ws);
    assert_null(ws.buf);
    assert_int_equal(ws.cap, 0);
}

/* ---- gemm and linear ------------------------------------------------------------------------ */

static void test_gemm(void **state) {
    (void)state;
    const float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    float C[4] = {1, 1, 1, 1};
    sg_gemm(2, 2, 2, A, 2, B, 2, C, 2, 0);
    const float want[4] = {19, 22, 43, 50};
    assert_floats("gemm hand", C, want, 4, 0);
    sg_gemm(2, 2, 2, A, 2, B, 2, C, 2, 1);
    const float want2[4] = {38, 44, 86, 100};
    assert_floats("gemm accumulate", C, want2, 4, 0);
    sg_gemm(2, 2, 0, A, 1, B, 2, C, 2, 0); /* empty sum */
    const float zero[4] = {0};
    assert_floats("gemm K=0", C, zero, 4, 0);

    /* random with padded leading dimensions, accumulating */
    const int M = 13, N = 29, K = 37, lda = 40, ldb = 31, ldc = 33;
    float *a = frand((size_t)M * lda, 1), *b = frand((size_t)K * ldb, 2);
    float *c = frand((size_t)M * ldc, 3);
    double *ref = malloc(sizeof(double) * M * N), *sc = malloc(sizeof(double) * M * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = c[i * ldc + j], as = fabs(s);
            for (int k = 0; k < K; k++) {
                s += (double)a[i * lda + k] * b[k * ldb + j];
                as += fabs((double)a[i * lda + k] * b[k * ldb + j]);
            }
            ref[i * N + j] = s;
            sc[i * N + j] = as;
        }
    float *c0 = fbuf((size_t)M * ldc);
    memcpy(c0, c, sizeof(float) * M * ldc);
    sg_gemm(M, N, K, a, lda, b, ldb, c, ldc, 1);
    float *got = fbuf((size_t)M * N);
    for (int i = 0; i < M; i++) {
        memcpy(got + i * N, c + i * ldc, sizeof(float) * N);
        for (int j = N; j < ldc; j++) assert_true(c[i * ldc + j] == c0[i * ldc + j]);
    }
    assert_near("gemm random", got, ref, sc, (size_t)M * N, 1e-5);
    free(a), free(b), free(c), free(c0), free(got), free(ref), free(sc);
}

static void linear_case(int n, int in, int out, int with_bias, uint64_t seed) {
    float *x = frand((size_t)n * in, seed), *w = frand((size_t)out * in, seed + 1);
    float *b = with_bias ? frand(out, seed + 2) : NULL, *y = fbuf((size_t)n * out);
    double *ref = malloc(sizeof(double) * n * out), *sc = malloc(sizeof(double) * n * out);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0, as = fabs(s);
            for (int k = 0; k < in; k++) {
                s += (double)x[i * in + k] * w[o * in + k];
                as += fabs((double)x[i * in + k] * w[o * in + k]);
            }
            ref[i * out + o] = s;
            sc[i * out + o] = as;
        }
    sg_linear(x, n, in, w, b, out, y);
    assert_near("linear random", y, ref, sc, (size_t)n * out, 1e-5);
    free(x), free(w), free(b), free(y), free(ref), free(sc);
}

/* sg_gemm large enough to be split over the pool (by rows, then by columns), with ragged edges
 * and padded leading dimensions, accumulating, on every CPU path (AVX-512 uses net/'s own
 * kernel, the others single-threaded OpenBLAS). */
static void gemm_split_check(int M, int N, int K, uint64_t seed) {
    const int lda = K + 3, ldb = N + 5, ldc = N + 7;
    float *a = frand((size_t)M * lda, seed), *b = frand((size_t)K * ldb, seed + 1);
    float *c = frand((size_t)M * ldc, seed + 2), *c0 = fbuf((size_t)M * ldc);
    double *ref = malloc(sizeof(double) * M * N), *sc = malloc(sizeof(double) * M * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double v = c[i * ldc + j], as = fabs(v);
            for (int k = 0; k < K; k++) {
                v += (double)a[i * lda + k] * b[k * ldb + j];
                as += fabs((double)a[i * lda + k] * b[k * ldb + j]);
            }
            ref[i * N + j] = v, sc[i * N + j] = as;
        }
    memcpy(c0, c, sizeof(float) * M * ldc);
    float *got = fbuf((size_t)M * N);
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) continue;
        memcpy(c, c0, sizeof(float) * M * ldc);
        sg_gemm(M, N, K, a, lda, b, ldb, c, ldc, 1);
        for (int i = 0; i < M; i++)
            memcpy(got + (size_t)i * N, c + (size_t)i * ldc, sizeof(float) * N);
        assert_near("gemm split", got, ref, sc, (size_t)M * N, 1e-5);
    }
    sg_cpu_force(NULL);
    free(a), free(b), free(c), free(c0), free(ref), free(sc), free(got);
}

static void test_gemm_split(void **state) {
    (void)state;
    gemm_split_check(203, 41, 600, 70); /* weight-heavy: row blocks */
    gemm_split_check(37, 701, 157, 80); /* pixel-heavy: column blocks, ragged last block */
    /* B packed per column block (≥ 2 row blocks) with a power-of-two row stride, as the 1×1
     * convs' pixels; fewer rows than a kernel block (to_rgb's 3 channels: rows zero-padded),
     * and the same with K past the padded path's limit */
    gemm_split_check(64, 1019, 64, 90);
    gemm_split_check(3, 1000, 64, 100);
    gemm_split_check(5, 300, 600, 110);
}

static void test_linear(void **state) {
    (void)state;
    const float x[4] = {1, 2, 3, 4}, w[6] = {1, 0, 0, 1, 1, 1}, b[3] = {0.5f, -1, 0};
    float y[6];
    sg_linear(x, 2, 2, w, b, 3, y); /* x[2,2]·w[3,2]^T + b */
    const float want[6] = {1.5f, 1, 3, 3.5f, 3, 7};
    assert_floats("linear hand", y, want, 6, 0);
    sg_linear(x, 1, 2, w, NULL, 3, y); /* the gemv path */
    const float want1[3] = {1, 2, 3};
    assert_floats("linear hand n=1", y, want1, 3, 0);
    linear_case(1, 64, 512, 1, 10);
    linear_case(1, 17, 5, 0, 11);
    linear_case(3, 33, 70, 1, 12);
    linear_case(8, 512, 64, 0, 13);
}

/* ---- conv ----------------------------------------------------------------------------------- */

typedef struct {
    int n, cin, h, w, cout, kh, kw, stride, pad, bias;
} conv_case;

static int out_dim(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

/* Naive direct conv of output element (n, co, oy, ox) in double; *abs_sum bounds the rounding. */
static double naive_conv_at(const conv_case *c, const float *x, const float *w, const float *b,
                            int n, int co, int oy, int ox, double *abs_sum) {
    double s = b ? b[co] : 0.0, as = fabs(s);
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < c->kh; ky++)
            for (int kx = 0; kx < c->kw; kx++) {
                int iy = oy * c->stride - c->pad + ky, ix = ox * c->stride - c->pad + kx;
                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                double t = (double)w[((co * c->cin + ci) * c->kh + ky) * c->kw + kx] *
                           x[(((size_t)n * c->cin + ci) * c->h + iy) * c->w + ix];
                s += t;
                as += fabs(t);
            }
    *abs_sum = as;
    return s;
}

/* Runs sg_conv2d on c with a workspace of ws_floats (0: none at all) and checks every output
 * against the naive reference, plus a guard region after y that must stay untouched. */
static void conv_check(const conv_case *c, size_t ws_floats, uint64_t seed) {
    const int ho = out_dim(c->h, c->kh, c->stride, c->pad),
              wo = out_dim(c->w, c->kw, c->stride, c->pad);
    const size_t nx = (size_t)c->n * c->cin * c->h * c->w, ny = (size_t)c->n * c->cout * ho * wo;
    float *x = frand(nx, seed), *w = frand((size_t)c->cout * c->cin * c->kh * c->kw, seed + 1);
    float *b = c->bias ? frand(c->cout, seed + 2) : NULL;
    float *y = fbuf(ny + 16);
    for (size_t i = 0; i < ny + 16; i++) y[i] = 12345.0f;
    sg_workspace ws = {NULL, 0};
    if (ws_floats) assert_int_equal(sg_workspace_init(&ws, ws_floats, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, c->n, c->cin, c->h, c->w);
    sg_tensor ty = sg_tensor_make(y, c->n, c->cout, ho, wo);
    sg_conv2d(&tx, w, b, c->kh, c->kw, c->stride, c->pad, &ty, &ws);
    double *ref = malloc(sizeof(double) * ny), *sc = malloc(sizeof(double) * ny);
    size_t i = 0;
    for (int n = 0; n < c->n; n++)
        for (int co = 0; co < c->cout; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++, i++)
                    ref[i] = naive_conv_at(c, x, w, b, n, co, oy, ox, &sc[i]);
    char what[160];
    snprintf(what, sizeof what, "conv n%d cin%d %dx%d cout%d k%dx%d s%d p%d b%d ws%zu", c->n,
             c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->stride, c->pad, c->bias, ws_floats);
    assert_near(what, y, ref, sc, ny, 1e-5);
    for (size_t g = ny; g < ny + 16; g++) assert_true(y[g] == 12345.0f);
    sg_workspace_free(&ws);
    free(x), free(w), free(b), free(y), free(ref), free(sc);
}

static void test_conv_hand(void **state) {
    (void)state;
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9], y[9], b = 1.0f;
    for (int i = 0; i < 9; i++) w[i] = 1.0f;
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, 1024, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, 1, 1, 3, 3), ty = sg_tensor_make(y, 1, 1, 3, 3);
    /* box sum of the 3×3 neighbourhood (zero outside) + 1 */
    sg_conv2d(&tx, w, &b, 3, 3, 1, 1, &ty, &ws);
    const float want[9] = {13, 22, 17, 28, 46, 34, 25, 40, 29};
    assert_floats("conv 3x3 pad1 hand", y, want, 9, 0);
    /* no padding: one output, the total */
    ty = sg_tensor_make(y, 1, 1, 1, 1);
    sg_conv2d(&tx, w, NULL, 3, 3, 1, 0, &ty, &ws);
    assert_true(y[0] == 45.0f);
    /* a tap-selecting kernel: top-left weight only, stride 2, pad 1 → x[2oy-1, 2ox-1] */
    memset(w, 0, sizeof w);
    w[0] = 2.0f;
    ty = sg_tensor_make(y, 1, 1, 2, 2);
    sg_conv2d(&tx, w, NULL, 3, 3, 2, 1, &ty, &ws);
    const float want2[4] = {0, 0, 0, 10};
    assert_floats("conv stride2 hand", y, want2, 4, 0);
    /* 1×1, two in → two out channels: a channel mix + bias */
    float x2[8] = {1, 2, 3, 4, 10, 20, 30, 40}, w2[4] = {1, 1, 1, -1}, b2[2] = {0, 0.5f}, y2[8];
    tx = sg_tensor_make(x2, 1, 2, 2, 2);
    ty = sg_tensor_make(y2, 1, 2, 2, 2);
    sg_conv2d(&tx, w2, b2, 1, 1, 1, 0, &ty, &ws);
    const float want3[8] = {11, 22, 33, 44, -8.5f, -17.5f, -26.5f, -35.5f};
    assert_floats("conv 1x1 hand", y2, want3, 8, 0);
    sg_workspace_free(&ws);
}

static const conv_case conv_cases[] = {
    /* Cin < 16: im2col (or direct) */
    {1, 8, 9, 11, 5, 1, 1, 1, 0, 1},   /* pointwise: direct gemm on the input */
    {2, 8, 9, 11, 5, 1, 1, 1, 0, 0},   /* pointwise, batch, no bias */
    {1, 6, 9, 9, 4, 1, 1, 2, 0, 1},    /* 1×1 stride 2: the im2col path */
    {2, 3, 8, 8, 7, 3, 3, 1, 1, 1},    /* 3×3 pad 1 */
    {1, 5, 13, 7, 6, 3, 3, 1, 1, 0},   /* odd, non-square */
    {1, 7, 10, 10, 3, 4, 4, 1, 0, 1},  /* 4×4 pad 0 */
    {1, 4, 16, 16, 8, 4, 4, 2, 1, 1},  /* 4×4 stride 2 pad 1 (downsampling) */
    {1, 3, 21, 19, 5, 7, 7, 2, 3, 1},  /* 7×7 stride 2 pad 3 */
    {1, 3, 15, 17, 4, 7, 7, 1, 3, 0},  /* 7×7 stride 1 pad 3 */
    {1, 5, 6, 9, 3, 3, 1, 1, 1, 1},    /* non-square kernel */
    {1, 2, 3, 3, 2, 5, 5, 1, 2, 1},    /* kernel wider than input: all-padding taps */
    {1, 11, 1, 1, 9, 3, 3, 1, 1, 1},   /* 1×1 image with padding */
    {2, 13, 12, 5, 17, 3, 3, 3, 2, 1}, /* stride 3, pad 2 */
    /* Cin >= 16: the tap-shifted path when it fits, im2col when it does not */
    {2, 16, 9, 10, 7, 3, 3, 1, 1, 1},  /* 3×3 pad 1, batch */
    {1, 19, 11, 7, 21, 3, 3, 1, 1, 0}, /* odd everything */
    {1, 17, 10, 9, 5, 4, 4, 1, 0, 1},  /* 4×4 pad 0 (no padding columns) */
    {1, 16, 13, 12, 6, 7, 7, 1, 3, 1}, /* 7×7 pad 3 */
    {1, 20, 8, 9, 4, 1, 3, 1, 2, 1},   /* 1×3 kernel, pad larger than needed */
    {1, 16, 3, 2, 3, 5, 5, 1, 2, 1},   /* kernel wider than input */
    {1, 16, 1, 1, 4, 3, 3, 1, 1, 1},   /* 1×1 image with padding */
    {1, 24, 9, 9, 8, 1, 1, 1, 1, 1},   /* 1×1 with padding: not pointwise */
    {2, 32, 12, 12, 8, 4, 4, 2, 1, 1}, /* stride 2: im2col even with many channels */
};

/* Floats the tap-shifted path needs for bands of `rows` output rows (mirrors plan_shift in
 * net/conv.c), so the sweep below hits one-row and two-row bands exactly. */
static size_t shift_need(const conv_case *c, int rows) {
    size_t wp = (size_t)c->w + 2 * c->pad, wr = (size_t)c->kh * c->kw * c->cout * c->cin;
    wr = (wr + 15) & ~(size_t)15;
    return wr + 32 + (size_t)c->cin * ((rows + c->kh - 1) * wp + c->kw - 1) +
           (size_t)rows * c->cout * wp;
}

static void test_conv_random(void **state) {
    (void)state;
    const size_t n = sizeof conv_cases / sizeof conv_cases[0];
    for (size_t i = 0; i < n; i++) {
        const conv_case *c = &conv_cases[i];
        const size_t K = (size_t)c->cin * c->kh * c->kw;
        uint64_t seed = 100 * (i + 1);
        conv_check(c, SG_WORKSPACE_DEFAULT_FLOATS, seed++); /* one tile */
        conv_check(c, K * 3, seed++);  /* 3-pixel im2col tiles: splits output rows */
        conv_check(c, K * 17, seed++); /* tiles that straddle rows, ragged last tile */
        if (c->kh * c->kw > 1 || c->stride > 1 || c->pad > 0) {
            conv_check(c, K - 1, seed++); /* not even one column fits: direct fallback */
            conv_check(c, 0, seed++);     /* no workspace at all */
        }
        if (c->cin >= 16) { /* shifted bands of 1 and 2 rows, then a sweep of sizes */
            conv_check(c, shift_need(c, 1), seed++);
            conv_check(c, shift_need(c, 2), seed++);
            conv_check(c, shift_need(c, 1) - 1, seed++); /* just too small: im2col */
            for (size_t cap = K; cap < shift_need(c, 64); cap = cap * 3 / 2 + 1)
                conv_check(c, cap, seed++);
        }
    }
}

/* A 256×256 layer with an 8 MiB workspace, where tiling is forced, run by algorithm `algo`
 * (checked it ran), checked on sampled outputs: every row of a few columns (so every tile seam),
 * all four borders, and random positions. */
#define LARGE_WS ((size_t)1 << 21)
static void conv_large_check_ws(const conv_case *c, sg_conv_algo algo, size_t ws_floats,
                                uint64_t seed) {
    const int ho = out_dim(c->h, c->kh, c->stride, c->pad),
              wo = out_dim(c->w, c->kw, c->stride, c->pad);
    const size_t nx = (size_t)c->cin * c->h * c->w, ny = (size_t)c->cout * ho * wo;
    const size_t K = (size_t)c->cin * c->kh * c->kw;
    float *x = frand(nx, seed), *w = frand(c->cout * K, seed + 1), *b = frand(c->cout, seed + 2);
    float *y = fbuf(ny + 16);
    for (size_t g = ny; g < ny + 16; g++) y[g] = 12345.0f;
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, ws_floats, NULL), SG_OK);
    float *buf = ws.buf;
    if (ws_floats == LARGE_WS) assert_true(K * ho * wo > ws.cap); /* the column matrix won't fit */
    sg_tensor tx = sg_tensor_make(x, 1, c->cin, c->h, c->w),
              ty = sg_tensor_make(y, 1, c->cout, ho, wo);
    assert_int_equal(sg_conv2d_algo(&tx, w, b, c->kh, c->kw, c->stride, c->pad, &ty, &ws, algo),
                     algo);
    assert_ptr_equal(ws.buf, buf);
    assert_int_equal(ws.cap, ws_floats);
    for (size_t g = ny; g < ny + 16; g++) assert_true(y[g] == 12345.0f);
    uint64_t s = seed * 88172645463325252ull + 1;
    for (int k = 0; k < 4000; k++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int co = (int)(s % c->cout), oy = (int)((s >> 8) % ho), ox = (int)((s >> 20) % wo);
        if (k < 4 * ho) oy = k % ho, ox = (k / ho) * (wo - 1) / 3; /* full columns: all seams */
        else if (k < 4 * ho + 2 * wo) oy = (k & 1) ? ho - 1 : 0, ox = (k - 4 * ho) / 2;
        else if (k < 4 * ho + 4 * wo) ox = (k & 1) ? wo - 1 : 0, oy = (k - 4 * ho - 2 * wo) / 2;
        double as, r = naive_conv_at(c, x, w, b, 0, co, oy, ox, &as);
        double want[1] = {r}, sc[1] = {as};
        assert_near("conv large sampled", &y[((size_t)co * ho + oy) * wo + ox], want, sc, 1, 1e-5);
    }
    sg_workspace_free(&ws);
    free(x), free(w), free(b), free(y);
}

static void conv_large_check(const conv_case *c, sg_conv_algo algo, uint64_t seed) {
    conv_large_check_ws(c, algo, LARGE_WS, seed);
}

static void test_conv_large_tiled(void **state) {
    (void)state;
    const conv_case shifted = {1, 64, 256, 256, 64, 3, 3, 1, 1, 1};     /* 3×3, 64 → 64 */
    const conv_case im2col_thin = {1, 8, 256, 256, 64, 3, 3, 1, 1, 1};  /* few channels */
    const conv_case im2col_down = {1, 64, 256, 256, 32, 4, 4, 2, 1, 1}; /* 4×4 stride 2 */
    conv_large_check(&shifted, SG_CONV_SHIFT, 7);
    conv_large_check(&im2col_thin, SG_CONV_IM2COL, 8);
    conv_large_check(&im2col_down, SG_CONV_IM2COL, 9);
    /* 1×1 with bias, the sums started at it in the kernel: many rows (B packed per column
     * block) and to_rgb's 3 rows (zero-padded to a kernel block) */
    const conv_case pw = {1, 64, 128, 128, 128, 1, 1, 1, 0, 1},
                    pw3 = {1, 64, 256, 256, 3, 1, 1, 1, 0, 1};
    conv_large_check_ws(&pw, SG_CONV_POINTWISE, 1024, 12);
    conv_large_check_ws(&pw3, SG_CONV_POINTWISE, 1024, 13);
    conv_large_check(&shifted, SG_CONV_WINOGRAD, 10); /* many tasks over both threads */
    const conv_case wino_odd = {1, 24, 255, 250, 40, 3, 3, 1, 1, 1}; /* partial edge tiles */
    conv_large_check(&wino_odd, SG_CONV_WINOGRAD, 11);
    /* 512 → 512 at 32² and 16² (split by output-channel blocks: U made and multiplied a step of
     * input channels at a time; 16 tiles at 16², the one-vector product) and 512 → 256 at 64²
     * (by tile rows, its 18 MiB U written with streaming stores), on every CPU path */
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    const conv_case wide = {1, 512, 32, 32, 512, 3, 3, 1, 1, 1};
    const conv_case wide16 = {1, 512, 16, 16, 512, 3, 3, 1, 1, 1};
    const conv_case wide64 = {1, 512, 64, 64, 256, 3, 3, 1, 1, 1};
    for (int pi = 0; pi < 4; pi++)
        if (!sg_cpu_force(paths[pi])) {
            conv_large_check_ws(&wide, SG_CONV_WINOGRAD, (size_t)12 << 20, 12 + pi);
            conv_large_check_ws(&wide16, SG_CONV_WINOGRAD, (size_t)12 << 20, 18 + pi);
            conv_large_check_ws(&wide64, SG_CONV_WINOGRAD, (size_t)12 << 20, 15 + pi);
        }
    sg_cpu_force(NULL);
}

/* sg_conv2d_up2 against the naive conv of the explicitly upsampled input, over workspace sizes
 * that walk it through the direct loop, one-phase-at-a-time weights and all-phase weights in
 * one and many bands. */
static void up2_check(int n, int cin, int h, int w, int cout, int bias, size_t ws_floats,
                      uint64_t seed) {
    const conv_case c = {n, cin, 2 * h, 2 * w, cout, 3, 3, 1, 1, bias};
    const size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * 4 * h * w;
    float *x = frand(nx, seed), *wt = frand((size_t)cout * cin * 9, seed + 1);
    float *b = bias ? frand(cout, seed + 2) : NULL, *up = fbuf(nx * 4), *y = fbuf(ny + 16);
    for (size_t i = 0; i < ny + 16; i++) y[i] = 12345.0f;
    sg_tensor tx = sg_tensor_make(x, n, cin, h, w), tu = sg_tensor_make(up, n, cin, 2 * h, 2 * w);
    sg_upsample_nearest2(&tx, &tu);
    sg_workspace ws = {NULL, 0};
    if (ws_floats) assert_int_equal(sg_workspace_init(&ws, ws_floats, NULL), SG_OK);
    sg_tensor ty = sg_tensor_make(y, n, cout, 2 * h, 2 * w);
    sg_conv2d_up2(&tx, wt, b, &ty, &ws);
    double *ref = malloc(sizeof(double) * ny), *sc = malloc(sizeof(double) * ny);
    size_t i = 0;
    for (int s = 0; s < n; s++)
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < 2 * h; oy++)
                for (int ox = 0; ox < 2 * w; ox++, i++)
                    ref[i] = naive_conv_at(&c, up, wt, b, s, co, oy, ox, &sc[i]);
    char what[128];
    snprintf(what, sizeof what, "conv_up2 n%d cin%d %dx%d cout%d ws%zu", n, cin, h, w, cout,
             ws_floats);
    assert_near(what, y, ref, sc, ny, 1e-5);
    for (size_t g = ny; g < ny + 16; g++) assert_true(y[g] == 12345.0f);
    sg_workspace_free(&ws);
    free(x), free(wt), free(b), free(up), free(y), free(ref), free(sc);
}

static void test_conv_up2(void **state) {
    (void)state;
    /* hand: one channel, 1×1 input v, all-ones kernel: each output sums the taps that fall on
     * the 2×2 upsampled block: corners of a 2×2 output all see 4 of the 9 taps → 4v + b */
    float x1 = 2.0f, w9[9], y4[4], b1 = 0.5f;
    for (int i = 0; i < 9; i++) w9[i] = 1.0f;
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, 1024, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(&x1, 1, 1, 1, 1), ty = sg_tensor_make(y4, 1, 1, 2, 2);
    sg_conv2d_up2(&tx, w9, &b1, &ty, &ws);
    const float want[4] = {8.5f, 8.5f, 8.5f, 8.5f};
    assert_floats("conv_up2 hand", y4, want, 4, 0);
    sg_workspace_free(&ws);
    static const int cases[][6] = {/* n, cin, h, w, cout, bias */
                                   {1, 1, 1, 1, 1, 1},
                                   {2, 3, 4, 5, 2, 1},
                                   {1, 16, 7, 6, 5, 0},
                                   {1, 24, 9, 9, 8, 1},
                                   {2, 8, 3, 11, 13, 1}};
    uint64_t seed = 700;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *c = cases[k];
        const size_t wph = (size_t)4 * c[1] * c[4], band = (size_t)(c[1] + c[4]) * (c[3] + 2);
        const size_t sizes[] = {0,
                                8,
                                wph + 64 + 3 * band,
                                wph + 64 + 6 * band,
                                4 * wph + 64 + 4 * band,
                                4 * wph + 64 + 12 * band,
                                SG_WORKSPACE_DEFAULT_FLOATS};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            up2_check(c[0], c[1], c[2], c[3], c[4], c[5], sizes[s], seed++);
    }
}

/* The Winograd conv of a virtually upsampled input skips the 11 of 36 products that see only
 * zeros (winograd.c, up_skip); the bytes must be those of the full Winograd conv of the
 * materialised upsample, on the tile-row path and the channel-block path, every CPU path. */
static void up_wino_exact(int n, int cin, int h, int cout, uint64_t seed) {
    const size_t nx = (size_t)n * cin * h * h, ny = (size_t)n * cout * 4 * h * h;
    float *x = frand(nx, seed), *wt = frand((size_t)cout * cin * 9, seed + 1);
    float *b = frand(cout, seed + 2), *up = fbuf(nx * 4), *y = fbuf(ny), *full = fbuf(ny);
    sg_tensor tx = sg_tensor_make(x, n, cin, h, h), tu = sg_tensor_make(up, n, cin, 2 * h, 2 * h);
    sg_tensor ty = sg_tensor_make(y, n, cout, 2 * h, 2 * h);
    sg_tensor tf = sg_tensor_make(full, n, cout, 2 * h, 2 * h);
    sg_upsample_nearest2(&tx, &tu);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, (size_t)12 << 20, NULL), SG_OK);
    sg_conv2d_up2(&tx, wt, b, &ty, &ws);
    assert_int_equal(sg_conv2d_winograd(&tu, wt, b, &tf, &ws), 0);
    if (memcmp(y, full, ny * sizeof(float)))
        fail_msg("up Winograd n%d %d->%d at %d² (%s) differs from the full products", n, cin, cout,
                 2 * h, sg_cpu_path());
    sg_workspace_free(&ws);
    free(x), free(wt), free(b), free(up), free(y), free(full);
}

static void test_conv_up2_wino_exact(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++)
        if (!sg_cpu_force(paths[pi])) {
            up_wino_exact(2, 32, 24, 48, 900 + pi);  /* tile rows, a batch, partial tiles */
            up_wino_exact(1, 64, 16, 256, 910 + pi); /* channel blocks at 32² */
            up_wino_exact(1, 512, 8, 512, 920 + pi); /* channel blocks at 16² */
        }
    sg_cpu_force(NULL);
}

/* Winograd F(4×4, 3×3) against the naive conv, on every CPU path this machine has: shapes with
 * partial tiles at the right and bottom edges, 1×1 to 3×3 images, batches, blocks of one tile
 * row and of many. The tolerance is looser than direct summation's (the transforms' 4/5/8
 * coefficients cost ~2 bits) and far inside the fixtures'. Returns the worst error seen, in
 * units of the abs-sum of the products. */
static double wino_check(int n, int cin, int h, int w, int cout, int bias, size_t ws_floats,
                         uint64_t seed) {
    const conv_case c = {n, cin, h, w, cout, 3, 3, 1, 1, bias};
    const size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w;
    float *x = frand(nx, seed), *wt = frand((size_t)cout * cin * 9, seed + 1);
    float *b = bias ? frand(cout, seed + 2) : NULL, *y = fbuf(ny + 16);
    for (size_t i = 0; i < ny + 16; i++) y[i] = 12345.0f;
    sg_workspace ws = {NULL, 0};
    if (ws_floats) assert_int_equal(sg_workspace_init(&ws, ws_floats, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, n, cin, h, w), ty = sg_tensor_make(y, n, cout, h, w);
    double worst = 0;
    if (sg_conv2d_winograd(&tx, wt, b, &ty, &ws) == 0) {
        size_t i = 0;
        for (int s = 0; s < n; s++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < w; ox++, i++) {
                        double as, r = naive_conv_at(&c, x, wt, b, s, co, oy, ox, &as);
                        double e = fabs(y[i] - r) / (as > 1 ? as : 1);
                        if (e > worst) worst = e;
                    }
        for (size_t g = ny; g < ny + 16; g++) assert_true(y[g] == 12345.0f);
    } else { /* too small: nothing written */
        for (size_t g = 0; g < ny + 16; g++) assert_true(y[g] == 12345.0f);
        worst = -1;
    }
    sg_workspace_free(&ws);
    free(x), free(wt), free(b), free(y);
    return worst;
}

/* The output-channel-block path runs a batch's samples in groups that share each block's U and
 * multiply over all their tiles: every sample's bytes must be those of the sample alone (the
 * server batches styles and relies on it), for the plain conv and the fused upsample, with
 * groups of 8 and a ragged last one (N = 11 at 16²: 8 + 3) and of 2 (32²: 64 tiles a sample). */
static void batch_alone_check(int n, int cin, int h, int cout, int up, uint64_t seed) {
    const int hi = up ? h / 2 : h; /* the input's side */
    const size_t sx = (size_t)cin * hi * hi, sy = (size_t)cout * h * h;
    float *x = frand(sx * n, seed), *wt = frand((size_t)cout * cin * 9, seed + 1);
    float *b = frand(cout, seed + 2), *y = fbuf(sy * n), *y1 = fbuf(sy);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, (size_t)8 << 20, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, n, cin, hi, hi), ty = sg_tensor_make(y, n, cout, h, h);
    if (up) sg_conv2d_up2(&tx, wt, b, &ty, &ws);
    else assert_int_equal(sg_conv2d_winograd(&tx, wt, b, &ty, &ws), 0);
    for (int s = 0; s < n; s++) {
        sg_tensor x1 = sg_tensor_make(x + s * sx, 1, cin, hi, hi),
                  t1 = sg_tensor_make(y1, 1, cout, h, h);
        if (up) sg_conv2d_up2(&x1, wt, b, &t1, &ws);
        else assert_int_equal(sg_conv2d_winograd(&x1, wt, b, &t1, &ws), 0);
        if (memcmp(y1, y + s * sy, sy * sizeof(float)))
            fail_msg(
                "batch of %d, sample %d (cin %d, %d², cout %d, up %d): bytes differ from it alone",
                n, s, cin, h, cout, up);
    }
    sg_workspace_free(&ws);
    free(x), free(wt), free(b), free(y), free(y1);
}

static void test_conv_winograd_batch(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) {
            print_message("cpu path %s: this CPU cannot run it (not tested)\n", paths[pi]);
            continue;
        }
        batch_alone_check(11, 24, 16, 64, 0, 1200);
        batch_alone_check(11, 16, 16, 64, 1, 1210);
        batch_alone_check(3, 40, 32, 160, 0, 1220);
        batch_alone_check(3, 40, 32, 160, 1, 1230);
    }
    sg_cpu_force(NULL);
}

static void test_conv_winograd(void **state) {
    (void)state;
    /* hand: 1 channel 4×4 ramp, the identity kernel (centre tap 1) plus bias 1 → x + 1 exactly
     * representable through the transforms? Not bit-exact (1/6, 1/24 in G), so within 1e-6. */
    float x[16], w9[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, y[16], b1 = 1.0f, want[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i, want[i] = (float)i + 1.0f;
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, sg_conv_winograd_floats(1, 4, 4, 1), NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, 1, 1, 4, 4), ty = sg_tensor_make(y, 1, 1, 4, 4);
    assert_int_equal(sg_conv2d_winograd(&tx, w9, &b1, &ty, &ws), 0);
    assert_floats("winograd identity", y, want, 16, 1e-5);
    sg_workspace_free(&ws);
    static const int cases[][6] = {/* n, cin, h, w, cout, bias */
                                   {1, 1, 1, 1, 1, 1},
                                   {1, 2, 3, 2, 3, 1},
                                   {2, 3, 4, 4, 2, 0},
                                   {1, 5, 9, 7, 4, 1},
                                   {1, 16, 16, 16, 8, 1},
                                   {2, 8, 13, 21, 5, 1},
                                   {1, 32, 37, 35, 16, 1},
                                   {1, 4, 70, 9, 3, 1},
                                   /* widths of whole 8- and 16-tile groups (the permute paths),
                                    * with a partial last tile row */
                                   {1, 8, 32, 32, 16, 1},
                                   {2, 6, 30, 64, 5, 1},
                                   {1, 4, 20, 32, 16, 0},
                                   /* more output channels than twice the tiles: split by
                                    * output-channel blocks (when the workspace holds it) */
                                   {2, 24, 16, 16, 64, 1},
                                   {1, 40, 32, 32, 160, 0}};
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    uint64_t seed = 900;
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) {
            print_message("cpu path %s: this CPU cannot run it (not tested)\n", paths[pi]);
            continue;
        }
        double worst = 0;
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            const int *c = cases[k];
            const size_t full = sg_conv_winograd_floats(c[1], c[2], c[3], c[4]);
            const size_t one_row = full - ((size_t)36 * (c[1] + c[4]) * 2 * ((c[3] + 3) / 4));
            const size_t sizes[] = {full, one_row + 4096, full / 2, 16};
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                double e = wino_check(c[0], c[1], c[2], c[3], c[4], c[5], sizes[s], seed++);
                if (s == 0) assert_true(e >= 0); /* the full plan always runs */
                if (e > worst) worst = e;
            }
        }
        print_message("winograd %s: worst error %.3g of the abs-sum\n", paths[pi], worst);
        assert_true(worst < 1e-5);
    }
    sg_cpu_force(NULL);
}

static void depthwise_check(int n, int c, int h, int w, int k, int pad, int shared, uint64_t seed) {
    const int ho = h + 2 * pad - k + 1, wo = w + 2 * pad - k + 1;
    float *x = frand((size_t)n * c * h * w, seed), *kw = frand((size_t)c * k * k, seed + 1);
    float *y = fbuf((size_t)n * c * ho * wo);
    double *ref = malloc(sizeof(double) * n * c * ho * wo),
           *sc = malloc(sizeof(double) * n * c * ho * wo);
    size_t i = 0;
    for (int s = 0; s < n; s++)
        for (int ch = 0; ch < c; ch++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++, i++) {
                    double acc = 0, as = 0;
                    const float *kk = kw + (shared ? 0 : (size_t)ch * k * k);
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = oy - pad + ky, ix = ox - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double t = (double)kk[ky * k + kx] *
                                       x[(((size_t)s * c + ch) * h + iy) * w + ix];
                            acc += t, as += fabs(t);
                        }
                    ref[i] = acc, sc[i] = as;
                }
    sg_tensor tx = sg_tensor_make(x, n, c, h, w), ty = sg_tensor_make(y, n, c, ho, wo);
    sg_conv2d_depthwise(&tx, kw, shared, k, k, pad, &ty);
    assert_near("depthwise random", y, ref, sc, i, 1e-5);
    free(x), free(kw), free(y), free(ref), free(sc);
}

static void test_conv_depthwise(void **state) {
    (void)state;
    /* the high-pass filter on a constant plane: 0 inside; at the zero-padded border it sees
     * fewer negative neighbours: corner 8 - 3 = 5, edge 8 - 5 = 3 (times the constant). */
    const float hp[9] = {-1, -1, -1, -1, 8, -1, -1, -1, -1};
    float x[32], y[32];
    for (int i = 0; i < 32; i++) x[i] = i < 16 ? 2.0f : -1.0f;
    sg_tensor tx = sg_tensor_make(x, 1, 2, 4, 4), ty = sg_tensor_make(y, 1, 2, 4, 4);
    sg_conv2d_depthwise(&tx, hp, 1, 3, 3, 1, &ty);
    const float want[16] = {10, 6, 6, 10, 6, 0, 0, 6, 6, 0, 0, 6, 10, 6, 6, 10};
    assert_floats("depthwise highpass ch0", y, want, 16, 0);
    for (int i = 0; i < 16; i++) assert_true(y[16 + i] == -0.5f * want[i]);
    /* per-channel kernels: channel 1 gets the identity */
    float k2[18] = {0};
    k2[4] = 3.0f, k2[9 + 4] = 1.0f;
    sg_conv2d_depthwise(&tx, k2, 0, 3, 3, 1, &ty);
    for (int i = 0; i < 16; i++) assert_true(y[i] == 6.0f && y[16 + i] == -1.0f);
    depthwise_check(2, 3, 9, 7, 3, 1, 1, 20);
    depthwise_check(1, 4, 8, 11, 3, 0, 0, 21);
    depthwise_check(1, 2, 6, 6, 5, 2, 0, 22);
}

/* ---- normalisation -------------------------------------------------------------------------- */

/* Reference instance norm of one plane in double with scale g and shift b. */
static void naive_norm(const float *x, double *y, size_t n, double g, double b, double eps) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    v /= (double)n;
    for (size_t i = 0; i < n; i++) y[i] = (x[i] - m) / sqrt(v + eps) * g + b;
}

static void test_instance_norm(void **state) {
    (void)state;
    float x[2] = {1, 3};
    sg_tensor t = sg_tensor_make(x, 1, 1, 1, 2);
    sg_instance_norm(&t, NULL, NULL, EPS);
    const float r = (float)(1.0 / sqrt(1.0 + 1e-5));
    const float want[2] = {-r, r};
    assert_floats("instance norm [1,3]", x, want, 2, 1e-7);
    /* affine: channel 1 gets gamma 2, beta -1 */
    float x2[4] = {1, 3, 5, 5}, g[2] = {1, 2}, b[2] = {0, -1};
    t = sg_tensor_make(x2, 1, 2, 1, 2);
    sg_instance_norm(&t, g, b, EPS);
    const float want2[4] = {-r, r, -1, -1}; /* constant plane: var 0 → beta */
    assert_floats("instance norm affine", x2, want2, 4, 1e-7);

    /* random, large offset (cancellation-prone), N=2 C=3 */
    const int N = 2, C = 3, HW = 37 * 29;
    float *xr = frand((size_t)N * C * HW, 30), *gr = frand(C, 31), *br = frand(C, 32);
    for (int i = 0; i < N * C * HW; i++) xr[i] = xr[i] * 0.01f + 100.0f;
    double *ref = malloc(sizeof(double) * N * C * HW);
    for (int p = 0; p < N * C; p++)
        naive_norm(xr + (size_t)p * HW, ref + (size_t)p * HW, HW, gr[p % C], br[p % C], EPS);
    t = sg_tensor_make(xr, N, C, 37, 29);
    sg_instance_norm(&t, gr, br, EPS);
    assert_near("instance norm random", xr, ref, NULL, (size_t)N * C * HW, 1e-5);
    free(xr), free(gr), free(br), free(ref);
}

static void test_adain(void **state) {
    (void)state;
    /* gamma = 1 → scale 2; beta = 0.5 */
    float x[2] = {1, 3}, gb[2] = {1.0f, 0.5f};
    sg_tensor t = sg_tensor_make(x, 1, 1, 1, 2);
    sg_adain(&t, gb, EPS);
    const double r = 1.0 / sqrt(1.0 + 1e-5);
    const float want[2] = {(float)(-2 * r + 0.5), (float)(2 * r + 0.5)};
    assert_floats("adain hand", x, want, 2, 1e-6);

    const int N = 2, C = 5, H = 6, W = 7, HW = H * W;
    float *xr = frand((size_t)N * C * HW, 40), *g = frand((size_t)N * 2 * C, 41);
    double *ref = malloc(sizeof(double) * N * C * HW);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t o = ((size_t)n * C + c) * HW;
            naive_norm(xr + o, ref + o, HW, 1.0 + g[n * 2 * C + c], g[n * 2 * C + C + c], EPS);
        }
    t = sg_tensor_make(xr, N, C, H, W);
    sg_adain(&t, g, EPS);
    assert_near("adain random", xr, ref, NULL, (size_t)N * C * HW, 1e-5);
    free(xr), free(g), free(ref);
}

/* The norms' plane kernels on every CPU path, on tensors big enough for the parallel path,
 * against the naive reference. Elementwise ops on arrays that take the parallel path, exactly. */
static void test_norm_paths(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    const int N = 2, C = 40, H = 67, W = 53, HW = H * W;
    const size_t n = (size_t)N * C * HW;
    float *x = frand(n, 50), *a = fbuf(n), *b = fbuf(n), *gr = frand(C, 51), *br = frand(C, 52);
    float *gb = frand((size_t)N * 2 * C, 53);
    double *ref = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) x[i] = x[i] * 0.5f + (float)(i % 7);
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) continue;
        memcpy(a, x, n * sizeof(float));
        sg_tensor ta = sg_tensor_make(a, N, C, H, W), tb = sg_tensor_make(b, N, C, H, W);
        for (int p = 0; p < N * C; p++)
            naive_norm(x + (size_t)p * HW, ref + (size_t)p * HW, HW, gr[p % C], br[p % C], EPS);
        sg_instance_norm(&ta, gr, br, EPS);
        assert_near("instance norm paths", a, ref, NULL, n, 1e-5);
        for (int p = 0; p < N * C; p++) {
            const int s = p / C, c = p % C;
            naive_norm(x + (size_t)p * HW, ref + (size_t)p * HW, HW, 1.0 + gb[s * 2 * C + c],
                       gb[s * 2 * C + C + c], EPS);
        }
        memcpy(b, x, n * sizeof(float));
        sg_adain(&tb, gb, EPS);
        assert_near("adain paths", b, ref, NULL, n, 1e-5);
    }
    sg_cpu_force(NULL);
    /* elementwise, parallel chunks: y = (y + x)·s and lrelu against scalar loops */
    memcpy(a, x, n * sizeof(float));
    for (size_t i = 0; i < n; i++) b[i] = (float)i * 1e-3f - 50.0f;
    sg_add_scale(a, b, n, 0.5f);
    for (size_t i = 0; i < n; i++) assert_true(a[i] == (x[i] + b[i]) * 0.5f);
    memcpy(a, b, n * sizeof(float));
    sg_leaky_relu(a, n, 0.2f);
    for (size_t i = 0; i < n; i++) assert_true(a[i] == (b[i] > 0 ? b[i] : b[i] * 0.2f));
    free(x), free(a), free(b), free(gr), free(br), free(gb), free(ref);
}

/* Norms as pre-activations: sg_instance_norm_pre / sg_adain_pre then sg_preact_apply against the
 * naive double norm (+ leaky ReLU), on every CPU path, including planes whose mean is 17000
 * standard deviations away from zero (the two-float mean must keep them as exact as the
 * double affine of sg_instance_norm). */
static void test_norm_pre(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    const int N = 2, C = 5, H = 37, W = 29, HW = H * W;
    const size_t n = (size_t)N * C * HW;
    float *x = frand(n, 60), *y = fbuf(n), *g = frand(C, 61), *b = frand(C, 62);
    float *gb = frand((size_t)N * 2 * C, 63), *co = fbuf(4 * (size_t)N * C);
    double *ref = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++)
        if (i / HW % 2) x[i] = x[i] * 0.01f + 100.0f; /* every other plane far from zero */
    sg_tensor tx = sg_tensor_make(x, N, C, H, W);
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) continue;
        for (int kind = 0; kind < 2; kind++)
            for (int act = 0; act < 2; act++) {
                const float slope = act ? 0.2f : 1.0f;
                for (int k = 0; k < N * C; k++) {
                    const int nn = k / C, c = k % C;
                    const double gg = kind ? 1.0 + gb[nn * 2 * C + c] : g[c];
                    const double bb = kind ? gb[nn * 2 * C + C + c] : b[c];
                    naive_norm(x + (size_t)k * HW, ref + (size_t)k * HW, HW, gg, bb, EPS);
                }
                for (size_t i = 0; i < n; i++) ref[i] = ref[i] > 0 ? ref[i] : ref[i] * slope;
                const sg_preact pre = kind ? sg_adain_pre(&tx, gb, EPS, slope, co)
                                           : sg_instance_norm_pre(&tx, g, b, EPS, slope, co);
                sg_preact_apply(&tx, &pre, y);
                assert_near(kind ? "adain pre" : "instance norm pre", y, ref, NULL, n, 1e-5);
            }
        /* in place, with NULL arrays: x·1 + 0 then ReLU */
        memcpy(y, x, n * sizeof(float));
        const sg_preact relu = {NULL, NULL, NULL, NULL, 0.0f};
        sg_tensor ty = sg_tensor_make(y, N, C, H, W);
        sg_preact_apply(&ty, &relu, y);
        for (size_t i = 0; i < n; i++) assert_true(y[i] == (x[i] > 0 ? x[i] : 0.0f));
    }
    sg_cpu_force(NULL);
    free(x), free(y), free(g), free(b), free(gb), free(co), free(ref);
}

/* sg_conv3x3_pre / sg_conv2d_up2_pre against the naive conv of the double pre-activation, on
 * every CPU path: sizes where Winograd runs (the activation fused into its input transform) and
 * where it does not (materialised into tmp, or into x itself when tmp is x), random per-(sample,
 * channel) coefficients and NULL arrays, ReLU and leaky slopes. */
static void conv_pre_check(int n, int cin, int h, int w, int cout, int up, int full, float slope,
                           int in_place, uint64_t seed) {
    const int H = up ? 2 * h : h, W = up ? 2 * w : w;
    const size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * H * W, nc = (size_t)n * cin;
    float *x = frand(nx, seed), *x0 = fbuf(nx), *wt = frand((size_t)cout * cin * 9, seed + 1);
    float *b = frand(cout, seed + 2), *co = frand(4 * nc, seed + 3), *tmp = fbuf(nx);
    float *y = fbuf(ny), *px = fbuf(4 * nx);
    for (size_t k = 0; k < nc; k++) co[nc + k] *= 1e-6f; /* sub_lo: a small residual */
    memcpy(x0, x, nx * sizeof(float));
    const sg_preact pre = full ? (sg_preact){co, co + nc, co + 2 * nc, co + 3 * nc, slope}
                               : (sg_preact){NULL, NULL, co + 2 * nc, NULL, slope};
    /* the reference input: pre(x) in double, upsampled when up */
    for (int s = 0; s < n; s++)
        for (int c = 0; c < cin; c++) {
            const size_t k = (size_t)s * cin + c;
            const double sb = pre.sub ? pre.sub[k] : 0, lo = pre.sub_lo ? pre.sub_lo[k] : 0;
            const double m = pre.mul[k], a = pre.add ? pre.add[k] : 0;
            for (int yy = 0; yy < H; yy++)
                for (int xx = 0; xx < W; xx++) {
                    const float v0 = x[(k * h + (up ? yy / 2 : yy)) * w + (up ? xx / 2 : xx)];
                    double v = ((v0 - sb) - lo) * m + a;
                    px[(k * H + yy) * W + xx] = (float)(v > 0 ? v : v * slope);
                }
        }
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, (size_t)4 << 20, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, n, cin, h, w), ty = sg_tensor_make(y, n, cout, H, W);
    if (up) sg_conv2d_up2_pre(&tx, &pre, wt, b, &ty, &ws, in_place ? x : tmp);
    else sg_conv3x3_pre(&tx, &pre, wt, b, &ty, &ws, in_place ? x : tmp);
    const conv_case c = {n, cin, H, W, cout, 3, 3, 1, 1, 1};
    double *ref = malloc(sizeof(double) * ny), *sc = malloc(sizeof(double) * ny);
    size_t i = 0;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < H; oy++)
                for (int ox = 0; ox < W; ox++, i++)
                    ref[i] = naive_conv_at(&c, px, wt, b, s, o, oy, ox, &sc[i]);
    char what[128];
    snprintf(what, sizeof what, "conv pre n%d cin%d %dx%d cout%d up%d full%d slope%g", n, cin, h, w,
             cout, up, full, slope);
    assert_near(what, y, ref, sc, ny, 2e-5); /* pre(x) is rounded to float once more */
    if (!in_place) assert_memory_equal(x, x0, nx * sizeof(float)); /* x is left alone */
    sg_workspace_free(&ws);
    free(x), free(x0), free(wt), free(b), free(co), free(tmp), free(y), free(px), free(ref),
        free(sc);
}

static void test_conv_pre(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    uint64_t seed = 1200;
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) continue;
        conv_pre_check(2, 16, 32, 40, 16, 0, 1, 0.2f, 0, seed += 4);  /* Winograd, fused */
        conv_pre_check(1, 24, 36, 32, 16, 0, 0, 0.0f, 0, seed += 4);  /* Winograd, BN + ReLU form */
        conv_pre_check(2, 8, 9, 7, 5, 0, 1, 0.2f, 0, seed += 4);      /* small: through tmp */
        conv_pre_check(1, 16, 8, 8, 16, 0, 1, 0.2f, 1, seed += 4);    /* small: in place */
        conv_pre_check(2, 16, 16, 20, 16, 1, 1, 0.2f, 0, seed += 4);  /* up2, Winograd, fused */
        conv_pre_check(1, 8, 5, 6, 4, 1, 1, 0.0f, 1, seed += 4);      /* up2 phases, in place */
        conv_pre_check(2, 24, 16, 16, 160, 1, 1, 0.2f, 0, seed += 4); /* up2, by channel blocks */
        conv_pre_check(1, 16, 32, 32, 160, 0, 1, 0.2f, 0, seed += 4); /* by channel blocks */
    }
    sg_cpu_force(NULL);
}

static void test_batch_norm(void **state) {
    (void)state;
    /* ch0: (x - 1)/2·2 = x - 1; ch1: (x - 3)/0.5·1 + 1 */
    float y[4] = {1, 2, 3, 4}, m[2] = {1, 3}, v[2] = {4, 0.25f}, w[2] = {2, 1}, b[2] = {0, 1};
    sg_tensor t = sg_tensor_make(y, 1, 2, 1, 2);
    sg_batch_norm(&t, m, v, w, b, 0.0f);
    const float want[4] = {0, 1, 1, 3};
    assert_floats("batch norm hand", y, want, 4, 1e-6);

    const int N = 2, C = 4, HW = 15;
    float *xr = frand((size_t)N * C * HW, 50), *mr = frand(C, 51), *vr = frand(C, 52);
    float *wr = frand(C, 53), *br = frand(C, 54);
    for (int c = 0; c < C; c++) vr[c] = fabsf(vr[c]) + 0.1f;
    double *ref = malloc(sizeof(double) * N * C * HW);
    for (int i = 0; i < N * C * HW; i++) {
        int c = (i / HW) % C;
        ref[i] = (xr[i] - mr[c]) / sqrt((double)vr[c] + EPS) * wr[c] + br[c];
    }
    t = sg_tensor_make(xr, N, C, 3, 5);
    sg_batch_norm(&t, mr, vr, wr, br, EPS);
    assert_near("batch norm random", xr, ref, NULL, (size_t)N * C * HW, 1e-5);
    free(xr), free(mr), free(vr), free(wr), free(br), free(ref);
}

/* ---- activations and elementwise ------------------------------------------------------------ */

static void test_elementwise(void **state) {
    (void)state;
    float a[5] = {-2, -0.5f, 0, 0.5f, 2};
    sg_relu(a, 5);
    const float r[5] = {0, 0, 0, 0.5f, 2};
    assert_floats("relu", a, r, 5, 0);
    float b[5] = {-2, -0.5f, 0, 0.5f, 2};
    sg_leaky_relu(b, 5, 0.2f);
    const float l[5] = {-0.4f, -0.1f, 0, 0.5f, 2};
    assert_floats("leaky relu", b, l, 5, 1e-7);
    sg_scale(b, 5, -2.0f);
    const float s[5] = {0.8f, 0.2f, 0, -1, -4};
    assert_floats("scale", b, s, 5, 1e-7);
    float y[3] = {1, 2, 3};
    const float x[3] = {10, 20, 30};
    sg_add(y, x, 3);
    const float ad[3] = {11, 22, 33};
    assert_floats("add", y, ad, 3, 0);
    sg_add_scale(y, x, 3, 0.5f);
    const float as[3] = {10.5f, 21, 31.5f};
    assert_floats("add_scale", y, as, 3, 0);

    /* random, odd length (vector tails) */
    const size_t n = 1001;
    float *u = frand(n, 60), *v = frand(n, 61), *w = fbuf(n);
    memcpy(w, u, n * sizeof(float));
    sg_leaky_relu(w, n, 0.2f);
    for (size_t i = 0; i < n; i++) assert_true(w[i] == (u[i] > 0 ? u[i] : u[i] * 0.2f));
    memcpy(w, u, n * sizeof(float));
    sg_add_scale(w, v, n, 0.70710678f);
    for (size_t i = 0; i < n; i++) assert_true(fabsf(w[i] - (u[i] + v[i]) * 0.70710678f) <= 1e-6f);
    free(u), free(v), free(w);
}

static void test_mul_channel_broadcast(void **state) {
    (void)state;
    /* a [2, 2, 1, 2], mask b [2, 1, 1, 2] */
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, m[4] = {0, 1, 2, -1}, y[8];
    sg_tensor ta = sg_tensor_make(a, 2, 2, 1, 2), tb = sg_tensor_make(m, 2, 1, 1, 2);
    sg_tensor ty = sg_tensor_make(y, 2, 2, 1, 2);
    sg_mul_channel_broadcast(&ta, &tb, &ty);
    const float want[8] = {0, 2, 0, 4, 10, -6, 14, -8};
    assert_floats("mul broadcast hand", y, want, 8, 0);
    sg_mul_channel_broadcast(&ta, &tb, &ta); /* in place */
    assert_floats("mul broadcast in place", a, want, 8, 0);

    const int N = 3, C = 5, HW = 21;
    float *ar = frand((size_t)N * C * HW, 70), *br = frand((size_t)N * HW, 71);
    float *yr = fbuf((size_t)N * C * HW);
    ta = sg_tensor_make(ar, N, C, 3, 7), tb = sg_tensor_make(br, N, 1, 3, 7);
    ty = sg_tensor_make(yr, N, C, 3, 7);
    sg_mul_channel_broadcast(&ta, &tb, &ty);
    for (int i = 0; i < N * C * HW; i++)
        assert_true(yr[i] == ar[i] * br[(i / (C * HW)) * HW + i % HW]);
    free(ar), free(br), free(yr);
}

/* ---- resampling and layout ------------------------------------------------------------------ */

static void test_avg_pool2(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4}, y[1];
    sg_tensor tx = sg_tensor_make(x, 1, 1, 2, 2), ty = sg_tensor_make(y, 1, 1, 1, 1);
    sg_avg_pool2(&tx, &ty);
    assert_true(y[0] == 2.5f);

    const int N = 2, C = 3, H = 6, W = 10;
    float *xr = frand((size_t)N * C * H * W, 80), *yr = fbuf((size_t)N * C * H * W / 4);
    tx = sg_tensor_make(xr, N, C, H, W), ty = sg_tensor_make(yr, N, C, H / 2, W / 2);
    sg_avg_pool2(&tx, &ty);
    double *ref = malloc(sizeof(double) * N * C * H * W / 4);
    size_t i = 0;
    for (int p = 0; p < N * C; p++)
        for (int oy = 0; oy < H / 2; oy++)
            for (int ox = 0; ox < W / 2; ox++, i++) {
                const float *q = xr + (size_t)p * H * W + 2 * oy * W + 2 * ox;
                ref[i] = ((double)q[0] + q[1] + q[W] + q[W + 1]) / 4;
            }
    assert_near("avg pool random", yr, ref, NULL, i, 1e-6);
    free(xr), free(yr), free(ref);
}

static void test_upsample_nearest2(void **state) {
    (void)state;
    /* two channels: [1 2; 3 4] and [5 6 ; 7 8] */
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[32];
    sg_tensor tx = sg_tensor_make(x, 1, 2, 2, 2), ty = sg_tensor_make(y, 1, 2, 4, 4);
    sg_upsample_nearest2(&tx, &ty);
    const float want[32] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,
                            5, 5, 6, 6, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 8, 8};
    assert_floats("upsample nearest", y, want, 32, 0);
    /* non-square, batch 2 */
    const int N = 2, C = 2, H = 3, W = 5;
    float *xr = frand((size_t)N * C * H * W, 90), *yr = fbuf((size_t)N * C * H * W * 4);
    tx = sg_tensor_make(xr, N, C, H, W), ty = sg_tensor_make(yr, N, C, 2 * H, 2 * W);
    sg_upsample_nearest2(&tx, &ty);
    for (int p = 0; p < N * C; p++)
        for (int oy = 0; oy < 2 * H; oy++)
            for (int ox = 0; ox < 2 * W; ox++)
                assert_true(yr[((size_t)p * 2 * H + oy) * 2 * W + ox] ==
                            xr[((size_t)p * H + oy / 2) * W + ox / 2]);
    free(xr), free(yr);
}

/* sg_conv3x3_pre_pool: the bytes of sg_conv3x3_pre then sg_avg_pool2, with the pool in the
 * Winograd output transform (tile rows, whole and partial groups; channel blocks) or not
 * (too small for Winograd), on every CPU path */
static void conv_pool_check(int n, int cin, int h, int cout, uint64_t seed) {
    const size_t nx = (size_t)n * cin * h * h, nf = (size_t)n * cout * h * h, nc = (size_t)n * cin;
    float *x = frand(nx, seed), *wt = frand((size_t)cout * cin * 9, seed + 1);
    float *b = frand(cout, seed + 2), *co = frand(4 * nc, seed + 3), *tmp = fbuf(nx);
    float *full = fbuf(nf), *y0 = fbuf(nf / 4), *y1 = fbuf(nf / 4), *f0 = fbuf(nf);
    const sg_preact pre = {co, co + nc, co + 2 * nc, co + 3 * nc, 0.2f};
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, (size_t)12 << 20, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, n, cin, h, h), tf = sg_tensor_make(f0, n, cout, h, h);
    sg_tensor t0 = sg_tensor_make(y0, n, cout, h / 2, h / 2);
    sg_tensor t1 = sg_tensor_make(y1, n, cout, h / 2, h / 2);
    sg_conv3x3_pre(&tx, &pre, wt, b, &tf, &ws, tmp);
    sg_avg_pool2(&tf, &t0);
    sg_conv3x3_pre_pool(&tx, &pre, wt, b, &t1, &ws, tmp, full);
    if (memcmp(y0, y1, nf / 4 * sizeof(float)))
        fail_msg("conv+pool n%d %d->%d at %d² (%s) differs from conv then pool", n, cin, cout, h,
                 sg_cpu_path());
    sg_workspace_free(&ws);
    free(x), free(wt), free(b), free(co), free(tmp), free(full), free(y0), free(y1), free(f0);
}

static void test_conv3x3_pre_pool(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++)
        if (!sg_cpu_force(paths[pi])) {
            conv_pool_check(2, 16, 64, 24, 950 + pi);   /* tile rows, a batch */
            conv_pool_check(1, 32, 36, 16, 953 + pi);   /* 9 tiles a row: lane by lane */
            conv_pool_check(1, 64, 32, 128, 956 + pi);  /* channel blocks */
            conv_pool_check(1, 512, 16, 512, 962 + pi); /* 16 tiles: transposed on avx512 */
            conv_pool_check(1, 8, 8, 8, 959 + pi);      /* no Winograd: conv, then the pool */
        }
    sg_cpu_force(NULL);
}

/* y = (y + up2(x))·s: by hand, then the bytes of upsample + add_scale (small and pool-split) */
static void test_add_scale_up2(void **state) {
    (void)state;
    float x[2] = {1, -2}, y[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    sg_tensor tx = sg_tensor_make(x, 1, 2, 1, 1), ty = sg_tensor_make(y, 1, 2, 2, 2);
    sg_add_scale_up2(&ty, &tx, 0.5f);
    const float want[8] = {1, 1.5f, 2, 2.5f, 1.5f, 2, 2.5f, 3};
    assert_floats("add_scale_up2 hand", y, want, 8, 0);
    static const int shapes[][4] = {{2, 3, 3, 5}, {1, 64, 32, 32}}; /* n, c, h, w of x */
    for (int k = 0; k < 2; k++) {
        const int N = shapes[k][0], C = shapes[k][1], H = shapes[k][2], W = shapes[k][3];
        const size_t nx = (size_t)N * C * H * W, ny = 4 * nx;
        float *xr = frand(nx, 95 + k), *y0 = frand(ny, 97 + k), *y1 = fbuf(ny), *up = fbuf(ny);
        memcpy(y1, y0, ny * sizeof(float));
        tx = sg_tensor_make(xr, N, C, H, W);
        sg_tensor tu = sg_tensor_make(up, N, C, 2 * H, 2 * W);
        sg_tensor t1 = sg_tensor_make(y1, N, C, 2 * H, 2 * W);
        sg_upsample_nearest2(&tx, &tu);
        sg_add_scale(y0, up, ny, 0.70710677f);
        sg_add_scale_up2(&t1, &tx, 0.70710677f);
        assert_memory_equal(y0, y1, ny * sizeof(float));
        free(xr), free(y0), free(y1), free(up);
    }
}

/* Reference bilinear per the documented conventions, in double. */
static double ref_src(int i, int in, int out, int ac) {
    if (ac) return out > 1 ? (double)i * (in - 1) / (out - 1) : 0.0;
    double s = (i + 0.5) * in / out - 0.5;
    return s < 0 ? 0 : s;
}

static void bilinear_check(int n, int c, int h, int w, int ho, int wo, int ac, uint64_t seed) {
    float *x = frand((size_t)n * c * h * w, seed), *y = fbuf((size_t)n * c * ho * wo);
    double *ref = malloc(sizeof(double) * n * c * ho * wo);
    size_t i = 0;
    for (int p = 0; p < n * c; p++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++, i++) {
                double sy = ref_src(oy, h, ho, ac), sx = ref_src(ox, w, wo, ac);
                int y0 = (int)floor(sy), x0 = (int)floor(sx);
                if (y0 > h - 1) y0 = h - 1;
                if (x0 > w - 1) x0 = w - 1;
                int y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
                double ly = sy - y0, lx = sx - x0;
                const float *q = x + (size_t)p * h * w;
                ref[i] = (1 - ly) * ((1 - lx) * q[y0 * w + x0] + lx * q[y0 * w + x1]) +
                         ly * ((1 - lx) * q[y1 * w + x0] + lx * q[y1 * w + x1]);
            }
    sg_tensor tx = sg_tensor_make(x, n, c, h, w), ty = sg_tensor_make(y, n, c, ho, wo);
    sg_resize_bilinear(&tx, &ty, ac);
    assert_near("bilinear random", y, ref, NULL, i, 1e-5);
    free(x), free(y), free(ref);
}

static void test_resize_bilinear(void **state) {
    (void)state;
    /* 1×2 → 1×4 along width, x = [1, 3].
     * align 0: src = (i+0.5)/2 - 0.5 = -0.25→0, 0.25, 0.75, 1.25 (taps 1,1 clamped)
     *          → 1, 1.5, 2.5, 3
     * align 1: src = i/3 → 1, 5/3, 7/3, 3 */
    float x[2] = {1, 3}, y[4];
    sg_tensor tx = sg_tensor_make(x, 1, 1, 1, 2), ty = sg_tensor_make(y, 1, 1, 1, 4);
    sg_resize_bilinear(&tx, &ty, 0);
    const float w0[4] = {1, 1.5f, 2.5f, 3};
    assert_floats("bilinear 2->4 ac0", y, w0, 4, 1e-6);
    sg_resize_bilinear(&tx, &ty, 1);
    const float w1[4] = {1, 5.0f / 3, 7.0f / 3, 3};
    assert_floats("bilinear 2->4 ac1", y, w1, 4, 1e-6);
    /* 2×2 → 4×4, ac0, [0 1; 2 3]: separable, rows weights as above on [0,2] then [0,1] */
    float x2[4] = {0, 1, 2, 3}, y2[16];
    tx = sg_tensor_make(x2, 1, 1, 2, 2), ty = sg_tensor_make(y2, 1, 1, 4, 4);
    sg_resize_bilinear(&tx, &ty, 0);
    const float w2[16] = {0,    0.25f, 0.75f, 1,    0.5f, 0.75f, 1.25f, 1.5f,
                          1.5f, 1.75f, 2.25f, 2.5f, 2,    2.25f, 2.75f, 3};
    assert_floats("bilinear 2x2->4x4 ac0", y2, w2, 16, 1e-6);
    /* downsample 4 → 2, ac0: src = 0.5, 2.5 → means of pairs; ac1: src = 0, 3 → the ends */
    float x3[4] = {0, 10, 20, 40}, y3[2];
    tx = sg_tensor_make(x3, 1, 1, 1, 4), ty = sg_tensor_make(y3, 1, 1, 1, 2);
    sg_resize_bilinear(&tx, &ty, 0);
    const float w3[2] = {5, 30};
    assert_floats("bilinear 4->2 ac0", y3, w3, 2, 1e-6);
    sg_resize_bilinear(&tx, &ty, 1);
    const float w4[2] = {0, 40};
    assert_floats("bilinear 4->2 ac1", y3, w4, 2, 0);
    /* out == 1 with align 1: the first sample */
    ty = sg_tensor_make(y3, 1, 1, 1, 1);
    sg_resize_bilinear(&tx, &ty, 1);
    assert_true(y3[0] == 0.0f);
    for (int ac = 0; ac <= 1; ac++) {
        bilinear_check(2, 3, 7, 9, 16, 5, ac, 100 + ac);   /* up in H, down in W */
        bilinear_check(1, 2, 33, 20, 8, 31, ac, 110 + ac); /* down in H, up in W */
        bilinear_check(1, 1, 5, 5, 5, 5, ac, 120 + ac);    /* identity */
        bilinear_check(1, 1, 1, 6, 3, 1, ac, 130 + ac);    /* 1-pixel extents */
    }
}

static void test_concat_channels(void **state) {
    (void)state;
    /* a [2, 1, 1, 2], b [2, 2, 1, 2] → y [2, 3, 1, 2] */
    float a[4] = {1, 2, 3, 4}, b[8] = {10, 11, 12, 13, 20, 21, 22, 23}, y[12];
    sg_tensor ta = sg_tensor_make(a, 2, 1, 1, 2), tb = sg_tensor_make(b, 2, 2, 1, 2);
    sg_tensor ty = sg_tensor_make(y, 2, 3, 1, 2);
    sg_concat_channels(&ta, &tb, &ty);
    const float want[12] = {1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23};
    assert_floats("concat", y, want, 12, 0);
}

/* Debug builds check the shapes an op's header promises (SG_ASSERT); Release compiles the checks
 * out. Each case is harmless when unchecked (an extra sample in y is never touched). */
static void bad_conv_batch(void *ctx) {
    (void)ctx;
    float x[2 * 4 * 4] = {0}, w[2 * 2 * 9] = {0}, y[3 * 2 * 4 * 4];
    sg_tensor xt = sg_tensor_make(x, 1, 2, 4, 4), yt = sg_tensor_make(y, 2, 2, 4, 4);
    sg_workspace ws;
    if (sg_workspace_init(&ws, 4096, NULL)) return;
    sg_conv2d(&xt, w, NULL, 3, 3, 1, 1, &yt, &ws);
    sg_workspace_free(&ws);
}
static void bad_mask_channels(void *ctx) {
    (void)ctx;
    float a[2 * 4] = {0}, m[2 * 4] = {0}, y[2 * 4];
    sg_tensor at = sg_tensor_make(a, 1, 2, 2, 2), mt = sg_tensor_make(m, 1, 2, 2, 2),
              yt = sg_tensor_make(y, 1, 2, 2, 2);
    sg_mul_channel_broadcast(&at, &mt, &yt);
}
static void bad_arena_mark(void *ctx) {
    sg_arena *a = ctx;
    sg_arena_reset(a, a->top + 16);
}
static void test_debug_checks(void **state) {
    (void)state;
    tu_expect_check_fails(bad_conv_batch, NULL, "y->n == x->n");
    tu_expect_check_fails(bad_mask_channels, NULL, "b->c == 1");
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, 64, &err), SG_OK);
    tu_expect_check_fails(bad_arena_mark, &a, "mark <= a->top");
    sg_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_split),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_conv_hand),
        cmocka_unit_test(test_conv_random),
        cmocka_unit_test(test_conv_large_tiled),
        cmocka_unit_test(test_conv_up2),
        cmocka_unit_test(test_conv_up2_wino_exact),
        cmocka_unit_test(test_add_scale_up2),
        cmocka_unit_test(test_conv3x3_pre_pool),
        cmocka_unit_test(test_conv_winograd),
        cmocka_unit_test(test_conv_winograd_batch),
        cmocka_unit_test(test_conv_depthwise),
        cmocka_unit_test(test_instance_norm),
        cmocka_unit_test(test_adain),
        cmocka_unit_test(test_norm_paths),
        cmocka_unit_test(test_norm_pre),
        cmocka_unit_test(test_conv_pre),
        cmocka_unit_test(test_batch_norm),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_mul_channel_broadcast),
        cmocka_unit_test(test_avg_pool2),
        cmocka_unit_test(test_upsample_nearest2),
        cmocka_unit_test(test_resize_bilinear),
        cmocka_unit_test(test_concat_channels),
        cmocka_unit_test(test_debug_checks),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
