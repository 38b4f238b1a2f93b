/* net/'s bf16 path (AVX512-BF16 on x86-64, BFDOT on aarch64): every direct conv algorithm and
 * the linear layer in bf16 against a naive double reference computed on the operands rounded to
 * bf16 here (round to nearest even): within fp32 summation error of it, and much closer to it than to the fp32
 * reference (so a kernel that silently ran fp32 fails). The Winograd F(2,3) bf16 convs (plain,
 * batched, ragged, few tiles with many channels, pre-activation, upsample) against the fp32
 * reference: as close as the direct bf16 products are, and not closer than bf16 can be. The CPU's
 * refusal is checked by forcing the plain kernel path. On a CPU without avx512_bf16 (bf16 on
 * aarch64) every test skips and the binary exits 77 (ctest: Skipped). */
#include "../net/net.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE_BF16()                                                                             \
    do {                                                                                           \
        if (sg_bf16_unsupported()) {                                                               \
            print_message("skipped: %s\n", sg_bf16_unsupported());                                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Winograd F(2×2, 3×3) in bf16 (net/kern_wino2_bf16.c) is built for x86-64 (AVX-512) only: on
 * aarch64 sg_conv2d_winograd declines bf16 (-1) and the 3×3 convs take the direct bf16 products,
 * which the other tests check; the tests of the F(2,3) path itself skip there, visibly. */
#if defined(__aarch64__)
#define REQUIRE_WINO2()                                                                            \
    do {                                                                                           \
        print_message("skipped: bf16 Winograd F(2,3) is x86-64 only (aarch64: direct bf16)\n");    \
        skip();                                                                                    \
    } while (0)
#else
#define REQUIRE_WINO2() ((void)0)
#endif

/* bf16 round to nearest even, back to float (no denormals or NaN in these inputs) */
static float bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    memcpy(&f, &u, 4);
    return f;
}

static float *frand(size_t n, uint64_t seed) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    tu_fill_random(p, n, seed, -1.0f, 1.0f);
    return p;
}

static float *rounded(const float *x, size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = bf(x[i]);
    return p;
}

/* y[N, Cout, Ho, Wo] = conv(x, w) + b in double, and sc = Σ|x·w| (the error scale) */
static void naive_conv(const float *x, const float *w, const float *b, int n, int cin, int h,
                       int wd, int cout, int k, int stride, int pad, double *y, double *sc) {
    const int ho = (h + 2 * pad - k) / stride + 1, wo = (wd + 2 * pad - k) / stride + 1;
    size_t i = 0;
    for (int s = 0; s < n; s++)
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++, i++) {
                    double acc = b ? b[co] : 0, mag = 0;
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                const int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                const double p =
                                    (double)x[(((size_t)s * cin + ci) * h + iy) * wd + ix] *
                                    w[(((size_t)co * cin + ci) * k + ky) * k + kx];
                                acc += p, mag += fabs(p);
                            }
                    y[i] = acc, sc[i] = mag;
                }
}

/* got against the bf16-operand reference rb (within rel·scale) and, as a whole, far closer to it
 * than the fp32-operand reference rf is */
static void check_bf16(const char *what, const float *got, const double *rb, const double *rf,
                       const double *sc, size_t n, double rel) {
    double e_b = 0, e_f = 0;
    for (size_t i = 0; i < n; i++) {
        const double tol = rel * (sc[i] > 1 ? sc[i] : 1);
        if (!(fabs(got[i] - rb[i]) <= tol)) {
            print_error("%s: [%zu] got %.9g want %.9g (tol %g)\n", what, i, got[i], rb[i], tol);
            fail();
        }
        e_b += fabs(got[i] - rb[i]), e_f += fabs(rf[i] - rb[i]);
    }
    if (!(e_b * 20 < e_f)) {
        print_error("%s: mean error %g against bf16 operands, fp32 is %g from them\n", what,
                    e_b / n, e_f / n);
        fail();
    }
}

typedef struct {
    int n, cin, h, w, cout, k, stride, pad;
    const char *path; /* which algorithm sg_conv2d takes (for the message) */
    int wino;         /* Winograd F(2,3) in bf16: checked by check_wino */
} conv_case;

/* Winograd bf16: within 4e-2·Σ|x·w| of the fp32-operand reference rf each, and on the whole as
 * close to it as the bf16-operand reference rb is (≤ 3×), yet not much closer (bf16 ran) */
static void check_wino(const char *what, const float *got, const double *rb, const double *rf,
                       const double *sc, size_t n) {
    double e = 0, eb = 0;
    for (size_t i = 0; i < n; i++) {
        const double tol = 4e-2 * (sc[i] > 1 ? sc[i] : 1);
        if (!(fabs(got[i] - rf[i]) <= tol)) {
            print_error("%s: [%zu] got %.9g want %.9g (tol %g)\n", what, i, got[i], rf[i], tol);
            fail();
        }
        e += fabs(got[i] - rf[i]), eb += fabs(rb[i] - rf[i]);
    }
    if (!(e <= 3 * eb && e >= eb / 10)) {
        print_error("%s: mean error %g, the bf16 operands' %g\n", what, e / n, eb / n);
        fail();
    }
}

/* a set of its own: the set keys weights by address, and a freed case's address comes back */
static void conv_case_check(const conv_case *c, uint64_t seed) {
    sg_packed_weights *bw;
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    const int ho = (c->h + 2 * c->pad - c->k) / c->stride + 1;
    const int wo = (c->w + 2 * c->pad - c->k) / c->stride + 1;
    const size_t nx = (size_t)c->n * c->cin * c->h * c->w,
                 nw = (size_t)c->cout * c->cin * c->k * c->k;
    const size_t ny = (size_t)c->n * c->cout * ho * wo;
    float *x = frand(nx, seed), *w = frand(nw, seed + 1), *b = frand((size_t)c->cout, seed + 2);
    float *xr = rounded(x, nx), *wr = rounded(w, nw), *y = malloc(ny * sizeof(float));
    double *rb = malloc(ny * sizeof(double)), *rf = malloc(ny * sizeof(double));
    double *sc = malloc(ny * sizeof(double)), *sc2 = malloc(ny * sizeof(double));
    assert_true(y && rb && rf && sc && sc2);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, c->n, c->cin, c->h, c->w);
    sg_tensor ty = sg_tensor_make(y, c->n, c->cout, ho, wo);
    sg_packed_weights *old = sg_packed_use(bw);
    sg_conv2d(&tx, w, b, c->k, c->k, c->stride, c->pad, &ty, &ws);
    sg_packed_use(old);
    naive_conv(xr, wr, b, c->n, c->cin, c->h, c->w, c->cout, c->k, c->stride, c->pad, rb, sc);
    naive_conv(x, w, b, c->n, c->cin, c->h, c->w, c->cout, c->k, c->stride, c->pad, rf, sc2);
    char what[160];
    snprintf(what, sizeof what, "bf16 conv %s n%d cin%d %dx%d cout%d k%d s%d", c->path, c->n,
             c->cin, c->h, c->w, c->cout, c->k, c->stride);
    if (c->wino) check_wino(what, y, rb, rf, sc, ny);
    else check_bf16(what, y, rb, rf, sc, ny, 1e-5);
    sg_workspace_free(&ws);
    sg_packed_weights_free(bw);
    free(x), free(w), free(b), free(xr), free(wr), free(y), free(rb), free(rf), free(sc), free(sc2);
}

static void test_bf16_conv(void **state) {
    (void)state;
    REQUIRE_BF16();
    static const conv_case cases[] = {
        {1, 16, 12, 12, 24, 1, 1, 0, "1x1", 0},
        {2, 3, 17, 19, 16, 3, 1, 1, "im2col, 3 channels", 0},
        {1, 32, 16, 16, 40, 3, 1, 1, "tap-shifted", 0},
        {1, 64, 16, 16, 512, 3, 1, 1, "Winograd F(2,3) at 16x16, many channels", 1},
        {1, 17, 8, 8, 9, 3, 1, 1, "im2col 8 columns, odd channels", 0},
        {1, 24, 15, 15, 8, 4, 2, 1, "4x4 stride 2", 0},
        {1, 520, 4, 4, 33, 3, 1, 1, "K > one packed chunk", 0},
        {1, 300, 20, 20, 44, 1, 1, 0, "1x1: K over one chunk, columns over several, ragged rows",
         0},
        {1, 16, 32, 32, 16, 3, 1, 1, "Winograd F(2,3)", 1},
        {2, 64, 64, 64, 64, 3, 1, 1, "Winograd F(2,3), 2 samples", 1},
        {1, 32, 36, 34, 24, 3, 1, 1, "Winograd F(2,3), ragged tiles", 1},
        {1, 64, 32, 32, 256, 3, 1, 1, "Winograd F(2,3), output-channel blocks", 1},
        {1, 16, 288, 288, 16, 3, 1, 1, "Winograd F(2,3), tile blocks across a row", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) conv_case_check(&cases[i], 100 + i);
}

/* the upsample conv: four 2×2 phases (direct bf16, 8² → 16²) or Winograd F(2,3) reading the
 * low-resolution rows (32² → 64²) */
static void up2_check(sg_packed_weights *bw, int cin, int h, int cout, int wino) {
    const int n = 1, w = h;
    const size_t nx = (size_t)n * cin * h * w, nw = (size_t)cout * cin * 9;
    const size_t ny = (size_t)n * cout * 4 * h * w;
    float *x = frand(nx, 7), *wt = frand(nw, 8), *b = frand(cout, 9), *up = malloc(4 * nx * 4);
    float *y = malloc(ny * 4), *upr = malloc(4 * nx * 4), *wr = rounded(wt, nw);
    double *rb = malloc(ny * 8), *rf = malloc(ny * 8), *sc = malloc(ny * 8), *sc2 = malloc(ny * 8);
    sg_tensor tx = sg_tensor_make(x, n, cin, h, w), tu = sg_tensor_make(up, n, cin, 2 * h, 2 * w);
    sg_upsample_nearest2(&tx, &tu);
    for (size_t i = 0; i < 4 * nx; i++) upr[i] = bf(up[i]);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor ty = sg_tensor_make(y, n, cout, 2 * h, 2 * w);
    sg_packed_weights *old = sg_packed_use(bw);
    sg_conv2d_up2(&tx, wt, b, &ty, &ws);
    sg_packed_use(old);
    naive_conv(upr, wr, b, n, cin, 2 * h, 2 * w, cout, 3, 1, 1, rb, sc);
    naive_conv(up, wt, b, n, cin, 2 * h, 2 * w, cout, 3, 1, 1, rf, sc2);
    if (wino) {
        check_wino("bf16 up2 Winograd", y, rb, rf, sc, ny);
    } else { /* a phase weight is a sum of 1-4 taps rounded to bf16 as one */
        double e = 0, ef = 0;
        for (size_t i = 0; i < ny; i++) e += fabs(y[i] - rf[i]), ef += fabs(rb[i] - rf[i]);
        if (!(e < 3 * ef && e > ef / 20)) {
            print_error("bf16 up2: mean error %g, the bf16 operands' %g\n", e / ny, ef / ny);
            fail();
        }
    }
    sg_workspace_free(&ws);
    free(x), free(wt), free(b), free(up), free(y), free(upr), free(wr), free(rb), free(rf),
        free(sc), free(sc2);
}

static void test_bf16_conv_up2(void **state) {
    (void)state;
    REQUIRE_BF16();
    sg_packed_weights *bw;
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    up2_check(bw, 32, 8, 24, 0);
    sg_packed_weights_free(bw);
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    up2_check(bw, 32, 32, 32, 1);
    sg_packed_weights_free(bw);
    REQUIRE_WINO2();
    /* the up path skips the 7 of 16 products that see only zeros (kern_wino2_bf16.c, up_skip):
     * the bytes of the bf16 Winograd conv of the materialised upsample, 16 tiles a row and
     * not (32² → 64², 20² → 40²) */
    static const int shapes[][3] = {{32, 32, 32}, {64, 20, 48}}; /* cin, h, cout */
    for (int k = 0; k < 2; k++) {
        const int cin = shapes[k][0], h = shapes[k][1], cout = shapes[k][2];
        const size_t nx = (size_t)cin * h * h, ny = (size_t)cout * 4 * h * h;
        float *x = frand(nx, 30 + k), *wt = frand((size_t)cout * cin * 9, 32 + k);
        float *b = frand(cout, 34 + k), *up = malloc(4 * nx * 4);
        float *y0 = malloc(ny * 4), *y1 = malloc(ny * 4);
        sg_tensor tx = sg_tensor_make(x, 1, cin, h, h),
                  tu = sg_tensor_make(up, 1, cin, 2 * h, 2 * h);
        sg_tensor t0 = sg_tensor_make(y0, 1, cout, 2 * h, 2 * h);
        sg_tensor t1 = sg_tensor_make(y1, 1, cout, 2 * h, 2 * h);
        sg_upsample_nearest2(&tx, &tu);
        sg_workspace ws;
        assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
        assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
        sg_packed_weights *old = sg_packed_use(bw);
        sg_conv2d_up2(&tx, wt, b, &t0, &ws);
        assert_int_equal(sg_conv2d_winograd(&tu, wt, b, &t1, &ws), 0);
        sg_packed_use(old);
        assert_memory_equal(y0, y1, ny * 4);
        sg_packed_weights_free(bw);
        sg_workspace_free(&ws);
        free(x), free(wt), free(b), free(up), free(y0), free(y1);
    }
}

/* conv3×3(pre(x)): the instance norm + leaky ReLU applied in the F(2,3) input transform (and
 * its zero padding after the activation) */
static void test_bf16_conv_pre(void **state) {
    (void)state;
    REQUIRE_BF16();
    sg_packed_weights *bw;
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    const int n = 2, cin = 32, h = 32, w = 32, cout = 32;
    const size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w;
    float *x = frand(nx, 31), *wt = frand((size_t)cout * cin * 9, 32), *b = frand(cout, 33);
    float *y = malloc(ny * 4), *tmp = malloc(nx * 4), *px = malloc(nx * 4), *pr = malloc(nx * 4);
    float co[4 * 64];
    for (size_t i = 0; i < nx; i++) x[i] = 3.0f + 2.0f * x[i]; /* a mean to take off */
    sg_tensor tx = sg_tensor_make(x, n, cin, h, w), ty = sg_tensor_make(y, n, cout, h, w);
    const sg_preact pre = sg_instance_norm_pre(&tx, NULL, NULL, 1e-5f, 0.2f, co);
    sg_preact_apply(&tx, &pre, px); /* fp32 pre(x): the reference's input */
    for (size_t i = 0; i < nx; i++) pr[i] = bf(px[i]);
    float *wr = rounded(wt, (size_t)cout * cin * 9);
    double *rb = malloc(ny * 8), *rf = malloc(ny * 8), *sc = malloc(ny * 8), *sc2 = malloc(ny * 8);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_packed_weights *old = sg_packed_use(bw);
    sg_conv3x3_pre(&tx, &pre, wt, b, &ty, &ws, tmp);
    sg_packed_use(old);
    naive_conv(pr, wr, b, n, cin, h, w, cout, 3, 1, 1, rb, sc);
    naive_conv(px, wt, b, n, cin, h, w, cout, 3, 1, 1, rf, sc2);
    check_wino("bf16 conv3x3_pre", y, rb, rf, sc, ny);
    sg_workspace_free(&ws);
    sg_packed_weights_free(bw);
    free(x), free(wt), free(b), free(y), free(tmp), free(px), free(pr), free(wr), free(rb),
        free(rf), free(sc), free(sc2);
}

/* y[n, out] = x · wᵀ + b: one sample and a batch (weights packed once), and an input wider than
 * the packed layout takes (converted on the fly) */
static void linear_check(sg_packed_weights *bw, int n, int in, int out, uint64_t seed) {
    float *x = frand((size_t)n * in, seed), *w = frand((size_t)out * in, seed + 1);
    float *b = frand((size_t)out, seed + 2), *y = malloc(sizeof(float) * n * out);
    double *rb = malloc(sizeof(double) * n * out), *rf = malloc(sizeof(double) * n * out);
    double *sc = malloc(sizeof(double) * n * out);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double a = b[o], f = b[o], m = 0;
            for (int k = 0; k < in; k++) {
                const double p = (double)bf(x[(size_t)i * in + k]) * bf(w[(size_t)o * in + k]);
                a += p, m += fabs(p), f += (double)x[(size_t)i * in + k] * w[(size_t)o * in + k];
            }
            rb[(size_t)i * out + o] = a, rf[(size_t)i * out + o] = f, sc[(size_t)i * out + o] = m;
        }
    sg_packed_weights *old = sg_packed_use(bw);
    sg_linear(x, n, in, w, b, out, y);
    sg_linear(x, n, in, w, b, out, y); /* the second call takes the packed weights */
    sg_packed_use(old);
    char what[96];
    snprintf(what, sizeof what, "bf16 linear n%d in%d out%d", n, in, out);
    check_bf16(what, y, rb, rf, sc, (size_t)n * out, 1e-5);
    free(x), free(w), free(b), free(y), free(rb), free(rf), free(sc);
}

static void test_bf16_linear(void **state) {
    (void)state;
    REQUIRE_BF16();
    sg_packed_weights *bw;
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    linear_check(bw, 1, 512, 1024, 1);
    linear_check(bw, 37, 16, 13, 2);
    linear_check(bw, 3, 2101, 20, 3);
    assert_true(sg_packed_weights_bytes(bw) > 0);
    sg_packed_weights_free(bw);
}

/* the F(2,3) U is made once per layer and reused: the same bytes twice, no new entry */
static void test_bf16_weights_once(void **state) {
    (void)state;
    REQUIRE_BF16();
    REQUIRE_WINO2();
    sg_packed_weights *bw;
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    const int cin = 32, hw = 32, cout = 48;
    const size_t nx = (size_t)cin * hw * hw, ny = (size_t)cout * hw * hw;
    float *x = frand(nx, 41), *w = frand((size_t)cout * cin * 9, 42);
    float *y = malloc(ny * 4), *y2 = malloc(ny * 4);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, 1, cin, hw, hw), ty = sg_tensor_make(y, 1, cout, hw, hw);
    sg_tensor ty2 = sg_tensor_make(y2, 1, cout, hw, hw);
    sg_packed_weights *old = sg_packed_use(bw);
    assert_int_equal(sg_conv2d_winograd(&tx, w, NULL, &ty, &ws), 0);
    const size_t bytes = sg_packed_weights_bytes(bw);
    assert_true(bytes >= (size_t)16 * cout * cin * 2); /* 16 positions of bf16 */
    assert_int_equal(sg_conv2d_winograd(&tx, w, NULL, &ty2, &ws), 0);
    sg_packed_use(old);
    assert_int_equal(sg_packed_weights_bytes(bw), bytes);
    assert_memory_equal(y, y2, ny * 4);
    sg_workspace_free(&ws);
    sg_packed_weights_free(bw);
    free(x), free(w), free(y), free(y2);
}

/* fp32 after bf16 on the same thread: the exact path's bytes, unchanged */
static void test_bf16_switch_back(void **state) {
    (void)state;
    REQUIRE_BF16();
    sg_packed_weights *bw;
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, NULL), SG_OK);
    const size_t nx = 32 * 32 * 32, ny = 32 * 32 * 32;
    float *x = frand(nx, 21), *w = frand(32 * 32 * 9, 22), *y0 = malloc(ny * 4),
          *y1 = malloc(ny * 4), *y2 = malloc(ny * 4);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, 1, 32, 32, 32);
    sg_tensor t0 = sg_tensor_make(y0, 1, 32, 32, 32), t1 = sg_tensor_make(y1, 1, 32, 32, 32),
              t2 = sg_tensor_make(y2, 1, 32, 32, 32);
    sg_conv2d(&tx, w, NULL, 3, 3, 1, 1, &t0, &ws);
    assert_null(sg_packed_use(bw));
    sg_conv2d(&tx, w, NULL, 3, 3, 1, 1, &t1, &ws);
    assert_ptr_equal(sg_packed_use(NULL), bw);
    sg_conv2d(&tx, w, NULL, 3, 3, 1, 1, &t2, &ws);
    assert_memory_equal(y0, y2, ny * 4);
    assert_true(memcmp(y0, y1, ny * 4) != 0);
    sg_workspace_free(&ws);
    sg_packed_weights_free(bw);
    free(x), free(w), free(y0), free(y1), free(y2);
}

/* an fp32 set: the Winograd U of a tile-row layer kept, the exact path's bytes (any CPU) */
static void test_fp32_kept_u(void **state) {
    (void)state;
    sg_packed_weights *pw;
    assert_int_equal(sg_packed_weights_init(&pw, SG_PRECISION_FP32, NULL), SG_OK);
    const int n = 2, cin = 64, hw = 64, cout = 64;
    const size_t nx = (size_t)n * cin * hw * hw, ny = (size_t)n * cout * hw * hw;
    float *x = frand(nx, 51), *w = frand((size_t)cout * cin * 9, 52), *b = frand(cout, 53);
    float *y0 = malloc(ny * 4), *y1 = malloc(ny * 4), *y2 = malloc(ny * 4);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, n, cin, hw, hw);
    sg_tensor t0 = sg_tensor_make(y0, n, cout, hw, hw), t1 = sg_tensor_make(y1, n, cout, hw, hw),
              t2 = sg_tensor_make(y2, n, cout, hw, hw);
    sg_conv2d(&tx, w, b, 3, 3, 1, 1, &t0, &ws);
    sg_packed_weights *old = sg_packed_use(pw);
    sg_conv2d(&tx, w, b, 3, 3, 1, 1, &t1, &ws); /* makes U */
    assert_true(sg_packed_weights_bytes(pw) >= (size_t)36 * cout * cin * 4);
    sg_conv2d(&tx, w, b, 3, 3, 1, 1, &t2, &ws); /* uses it */
    sg_packed_use(old);
    assert_memory_equal(y0, y1, ny * 4);
    assert_memory_equal(y0, y2, ny * 4);
    sg_workspace_free(&ws);
    sg_packed_weights_free(pw);
    free(x), free(w), free(b), free(y0), free(y1), free(y2);
}

/* an fp32 set on the channel-block layers (512 channels at 16² and 32², up and not): their
 * weights kept in gather order (sg__wino4_wg), the exact path's bytes on every CPU path */
static void block_kept_check(int cin, int hw, int cout, int up, uint64_t seed) {
    sg_packed_weights *pw;
    assert_int_equal(sg_packed_weights_init(&pw, SG_PRECISION_FP32, NULL), SG_OK);
    const int hi = up ? hw / 2 : hw;
    const size_t nx = (size_t)cin * hi * hi, ny = (size_t)cout * hw * hw;
    float *x = frand(nx, seed), *w = frand((size_t)cout * cin * 9, seed + 1);
    float *b = frand(cout, seed + 2), *y0 = malloc(ny * 4), *y1 = malloc(ny * 4);
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, 1, cin, hi, hi);
    sg_tensor t0 = sg_tensor_make(y0, 1, cout, hw, hw), t1 = sg_tensor_make(y1, 1, cout, hw, hw);
    for (int pass = 0; pass < 2; pass++) { /* without, then with the set */
        sg_packed_weights *old = sg_packed_use(pass ? pw : NULL);
        sg_tensor *ty = pass ? &t1 : &t0;
        if (up) sg_conv2d_up2(&tx, w, b, ty, &ws);
        else sg_conv2d(&tx, w, b, 3, 3, 1, 1, ty, &ws);
        sg_packed_use(old);
    }
    assert_true(sg_packed_weights_bytes(pw) >= (size_t)9 * cout * cin * 4);
    assert_memory_equal(y0, y1, ny * 4);
    sg_workspace_free(&ws);
    sg_packed_weights_free(pw);
    free(x), free(w), free(b), free(y0), free(y1);
}

static void test_fp32_block_weights(void **state) {
    (void)state;
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++)
        if (!sg_cpu_force(paths[pi])) {
            block_kept_check(512, 16, 512, 0, 60 + pi); /* transposed product on avx512 */
            block_kept_check(256, 32, 512, 0, 63 + pi);
            block_kept_check(512, 32, 256, 1, 66 + pi);
        }
    sg_cpu_force(NULL);
}

/* without the instruction set (forced here by the plain path) bf16 is refused with a reason */
static void test_bf16_refused(void **state) {
    (void)state;
    REQUIRE_BF16();
    assert_int_equal(sg_cpu_force("plain"), 0);
    sg_packed_weights *bw = (sg_packed_weights *)1;
    sg_error e = {0};
    assert_int_equal(sg_packed_weights_init(&bw, SG_PRECISION_BF16, &e), SG_ERR_UNSUPPORTED);
    assert_null(bw);
    assert_non_null(strstr(e.msg, "bf16"));
    assert_string_equal(sg_bf16_path(), "none");
    assert_int_equal(sg_cpu_force(NULL), 0);
#if defined(__aarch64__)
    assert_string_equal(sg_bf16_path(), "neon_bf16");
#else
    assert_string_equal(sg_bf16_path(), "avx512_bf16");
#endif
    sg_precision p;
    assert_int_equal(sg_precision_parse("bf16", &p), 0);
    assert_int_equal(p, SG_PRECISION_BF16);
    assert_int_equal(sg_precision_parse("fp16", &p), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_conv),          cmocka_unit_test(test_bf16_conv_up2),
        cmocka_unit_test(test_bf16_linear),        cmocka_unit_test(test_bf16_conv_pre),
        cmocka_unit_test(test_bf16_weights_once),  cmocka_unit_test(test_fp32_kept_u),
        cmocka_unit_test(test_fp32_block_weights), cmocka_unit_test(test_bf16_switch_back),
        cmocka_unit_test(test_bf16_refused),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
