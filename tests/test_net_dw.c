/* net/'s ops for a MobileNetV1-SSD detector (TensorFlow semantics): the depthwise 3×3 conv with
 * TF padding, per-channel affine and clamp (sg_conv2d_dw3x3), the clamp after the 1×1 convs
 * (sg_clamp), zero padding (sg_pad_zero) and the strided regular convs it makes possible
 * (sg_conv2d stride 2, pad 0 on odd and even sides). Hand-computed cases, then random data
 * against a naive double reference written here, on every CPU path this machine runs (a path it
 * cannot run is reported as not tested). */
#include "../net/net.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const paths[] = {"plain", "avx2", "avx512", "neon"};
#define NPATHS 4

static float *fbuf(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static float *frand(size_t n, uint64_t seed, float lo, float hi) {
    float *p = fbuf(n);
    tu_fill_random(p, n, seed, lo, hi);
    return p;
}

/* Forces path pi; 0 when this CPU cannot run it (said once per test, visibly). */
static int use_path(int pi) {
    if (sg_cpu_force(paths[pi]) == 0) return 1;
    print_message("cpu path %s: this CPU cannot run it (not tested)\n", paths[pi]);
    return 0;
}

/* |got - want| ≤ rel·max(1, scale[i]) for each element; returns the worst |got - want|/tol */
static double check_near(const char *what, const float *got, const double *want,
                         const double *scale, size_t n, double rel) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double tol = rel * (scale[i] > 1.0 ? scale[i] : 1.0), e = fabs(got[i] - want[i]);
        if (!(e <= tol)) {
            print_error("%s: [%zu] got %.9g want %.9g (tol %g)\n", what, i, got[i], want[i], tol);
            fail();
        }
        if (e / tol > worst) worst = e / tol;
    }
    return worst;
}

/* TF 'SAME' along one axis for a 3-tap window: output size and the zeros before the input */
static void tf_same(int in, int s, int *out, int *pad_before) {
    *out = (in + s - 1) / s;
    const int total = (*out - 1) * s + 3 - in;
    *pad_before = total > 0 ? total / 2 : 0;
}

/* ---- sg_conv2d_dw3x3 ------------------------------------------------------------------------ */

typedef struct {
    int n, c, h, w, s, pt, pl, ho, wo; /* ho, wo 0: TF SAME (pt, pl then from tf_same) */
    int scale, bias;                   /* 0: NULL */
    float lo, hi;
} dw_case;

/* y and the magnitude of its terms (|scale|·Σ|w·x| + |bias|) by the formula in net.h, in double */
static void dw_ref(const dw_case *d, const float *x, const float *w, const float *sc,
                   const float *bi, double *ref, double *mag) {
    size_t i = 0;
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++)
            for (int oy = 0; oy < d->ho; oy++)
                for (int ox = 0; ox < d->wo; ox++, i++) {
                    double acc = 0, as = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const int iy = oy * d->s + ky - d->pt, ix = ox * d->s + kx - d->pl;
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                            const double t = (double)w[(c * 3 + ky) * 3 + kx] *
                                             x[(((size_t)n * d->c + c) * d->h + iy) * d->w + ix];
                            acc += t, as += fabs(t);
                        }
                    const double g = sc ? sc[c] : 1.0, b = bi ? bi[c] : 0.0;
                    double v = g * acc + b;
                    v = v < d->lo ? d->lo : v;
                    ref[i] = v > d->hi ? d->hi : v, mag[i] = fabs(g) * as + fabs(b);
                }
}

/* Runs case d on the current path against the reference; returns the worst error/tolerance. */
static double dw_check(dw_case d, uint64_t seed) {
    if (!d.ho) tf_same(d.h, d.s, &d.ho, &d.pt), tf_same(d.w, d.s, &d.wo, &d.pl);
    const size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * d.ho * d.wo;
    float *x = frand(nx, seed, -1, 1), *w = frand((size_t)9 * d.c, seed + 1, -1, 1);
    float *sc = d.scale ? frand(d.c, seed + 2, 0.5f, 2.0f) : NULL;
    float *bi = d.bias ? frand(d.c, seed + 3, -1, 1) : NULL;
    float *y = fbuf(ny);
    double *ref = malloc(ny * sizeof(double)), *mag = malloc(ny * sizeof(double));
    assert_true(ref && mag);
    dw_ref(&d, x, w, sc, bi, ref, mag);
    sg_tensor tx = sg_tensor_make(x, d.n, d.c, d.h, d.w),
              ty = sg_tensor_make(y, d.n, d.c, d.ho, d.wo);
    const sg_dw3x3 p = {d.s, d.pt, d.pl, sc, bi, d.lo, d.hi};
    sg_conv2d_dw3x3(&tx, w, &p, &ty);
    char what[160];
    snprintf(what, sizeof what, "dw3x3 %s n%d c%d %dx%d s%d pad %d,%d → %dx%d", sg_cpu_path(), d.n,
             d.c, d.h, d.w, d.s, d.pt, d.pl, d.ho, d.wo);
    const double e = check_near(what, y, ref, mag, ny, 1e-5);
    free(x), free(w), free(sc), free(bi), free(y), free(ref), free(mag);
    return e;
}

/* A 4×4 plane x = 1 … 16 (row-major), stride 2, TF SAME: pad_top = pad_left = 0, one zero
 * row/column at the bottom/right. Channel 0: all-ones kernel, the 3×3 sums 54 45 / 72 54, ·0.5 + 1
 * = 28 23.5 / 37 28, clamped to [3, 30]. Channel 1: the centre tap, x[2i + 1][2j + 1] = 6 8 / 14
 * 16, ·2 - 10 = 2 6 / 18 22, clamped: 3 6 / 18 22. */
static void test_dw3x3_hand(void **state) {
    (void)state;
    float x[32], w[18] = {0}, y[8];
    for (int i = 0; i < 16; i++) x[i] = x[16 + i] = (float)(i + 1);
    for (int i = 0; i < 9; i++) w[i] = 1.0f;
    w[9 + 4] = 1.0f;
    const float sc[2] = {0.5f, 2.0f}, bi[2] = {1.0f, -10.0f};
    const float want[8] = {28, 23.5f, 30, 28, 3, 6, 18, 22};
    const float want_plain[8] = {54, 45, 72, 54, 6, 8, 14, 16}; /* NULL scale/bias, no clamp */
    /* stride 1, pad 1 all round, all-ones kernel on channel 0: corner 4 taps, edge 6, inside 9 */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const float want_s1[16] = {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54};
    int tested = 0;
    for (int pi = 0; pi < NPATHS; pi++) {
        if (!use_path(pi)) continue;
        tested++;
        sg_tensor tx = sg_tensor_make(x, 1, 2, 4, 4), ty = sg_tensor_make(y, 1, 2, 2, 2);
        sg_dw3x3 p = {2, 0, 0, sc, bi, 3.0f, 30.0f};
        sg_conv2d_dw3x3(&tx, w, &p, &ty);
        for (int i = 0; i < 8; i++) assert_true(y[i] == want[i]);
        p = (sg_dw3x3){2, 0, 0, NULL, NULL, -INFINITY, INFINITY};
        sg_conv2d_dw3x3(&tx, w, &p, &ty);
        for (int i = 0; i < 8; i++) assert_true(y[i] == want_plain[i]);
        float y1[16];
        sg_tensor t1 = sg_tensor_make(x, 1, 1, 4, 4), u1 = sg_tensor_make(y1, 1, 1, 4, 4);
        p = (sg_dw3x3){1, 1, 1, NULL, NULL, -INFINITY, INFINITY};
        sg_conv2d_dw3x3(&t1, ones, &p, &u1);
        for (int i = 0; i < 16; i++) assert_true(y1[i] == want_s1[i]);
    }
    assert_true(tested >= 1);
    sg_cpu_force(NULL);
}

/* The detector's layers (TF SAME; N = 1) at full size with a few channels, a couple whole, then
 * odd sides, asymmetric and VALID pads, widths below and around every vector width, rows wider
 * than one strip (1024 outputs), batches, NULL scale/bias, the clamp on and off. */
static const dw_case dw_cases[] = {
    /* n, c, h, w, s, pt, pl, ho, wo, scale, bias, lo, hi */
    {1, 3, 256, 256, 1, 0, 0, 0, 0, 1, 1, 0, 6},                /* 256²×32 s1 */
    {1, 3, 256, 256, 2, 0, 0, 0, 0, 1, 1, 0, 6},                /* 256²×64 s2 → 128² */
    {1, 4, 128, 128, 1, 0, 0, 0, 0, 1, 1, 0, 6},                /* 128²×128 s1 */
    {1, 4, 128, 128, 2, 0, 0, 0, 0, 1, 1, 0, 6},                /* 128²×128 s2 */
    {1, 8, 64, 64, 1, 0, 0, 0, 0, 1, 1, 0, 6},                  /* 64²×256 s1 */
    {1, 8, 64, 64, 2, 0, 0, 0, 0, 1, 1, 0, 6},                  /* 64²×256 s2 */
    {1, 512, 32, 32, 1, 0, 0, 0, 0, 1, 1, 0, 6},                /* 32²×512 s1, whole */
    {1, 64, 32, 32, 2, 0, 0, 0, 0, 1, 1, 0, 6},                 /* 32²×512 s2 */
    {1, 1024, 16, 16, 1, 0, 0, 0, 0, 1, 1, 0, 6},               /* 16²×1024 s1, whole */
    {1, 5, 37, 45, 1, 0, 0, 0, 0, 1, 1, -0.5f, 0.5f},           /* odd sides, a tight clamp */
    {1, 5, 37, 45, 2, 0, 0, 0, 0, 0, 1, -INFINITY, INFINITY},   /* odd: SAME pads 1, 1 */
    {2, 3, 20, 33, 2, 0, 0, 0, 0, 1, 0, 0, 6},                  /* batch, odd width */
    {1, 3, 19, 21, 2, 0, 0, 9, 10, 1, 1, 0, 6},                 /* VALID (pads 0) */
    {1, 3, 19, 21, 1, 0, 0, 17, 19, 0, 0, -INFINITY, INFINITY}, /* VALID s1 */
    {1, 3, 18, 22, 2, 1, 0, 9, 11, 1, 1, 0, 6},                 /* pad_top 1, pad_left 0 */
    {1, 3, 18, 22, 2, 0, 1, 9, 11, 1, 1, 0, 6},                 /* pad_top 0, pad_left 1 */
    {1, 3, 14, 15, 1, 2, 0, 14, 13, 1, 1, -1, 1},               /* pad 2 above, none left */
    {1, 3, 14, 15, 1, 0, 2, 12, 15, 1, 1, -1, 1},               /* pad 2 left */
    {1, 2, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 6},                    /* 1×1 */
    {1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 6},                    /* 2×2 s2 → 1×1 */
    {1, 2, 3, 3, 2, 0, 0, 0, 0, 1, 1, 0, 6},                    /* 3×3 s2 → 2×2 */
    {1, 3, 5, 2, 1, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 6, 3, 2, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 7, 5, 1, 0, 0, 0, 0, 0, 0, -INFINITY, INFINITY},
    {1, 3, 9, 7, 2, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 5, 9, 1, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 8, 15, 1, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 8, 17, 2, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 6, 31, 1, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 3, 6, 33, 2, 0, 0, 0, 0, 1, 1, 0, 6},
    {1, 2, 4, 2100, 1, 0, 0, 0, 0, 1, 1, 0, 6},    /* 3 strips */
    {1, 2, 5, 2101, 2, 0, 0, 0, 0, 1, 1, 0, 6},    /* 1051 outputs: 2 strips */
    {1, 2, 5, 2051, 2, 0, 1, 3, 1026, 1, 1, 0, 6}, /* pad_left 1 across a strip edge */
};

static void test_dw3x3_random(void **state) {
    (void)state;
    for (int pi = 0; pi < NPATHS; pi++) {
        if (!use_path(pi)) continue;
        double worst = 0;
        uint64_t seed = 100;
        for (size_t k = 0; k < sizeof dw_cases / sizeof dw_cases[0]; k++, seed += 10) {
            const double e = dw_check(dw_cases[k], seed);
            if (e > worst) worst = e;
        }
        print_message("dw3x3 %s: %zu cases, worst error %.3g of the tolerance\n", paths[pi],
                      sizeof dw_cases / sizeof dw_cases[0], worst);
    }
    sg_cpu_force(NULL);
}

/* ---- sg_clamp and the 1×1 conv with bias and clamp ------------------------------------------- */

static void test_clamp(void **state) {
    (void)state;
    float h[6] = {-7, -0.0f, 0.5f, 6, 6.5f, NAN};
    sg_clamp(h, 6, 0, 6);
    assert_true(h[0] == 0 && h[1] == 0 && h[2] == 0.5f && h[3] == 6 && h[4] == 6 && isnan(h[5]));
    const size_t sizes[] = {1, 7, 100, 5 * 65536 + 3}; /* the last one split over the pool */
    for (size_t k = 0; k < 4; k++) {
        const size_t n = sizes[k];
        float *x = frand(n, 7 + k, -10, 10), *x0 = fbuf(n), *x1 = fbuf(n);
        memcpy(x0, x, n * sizeof(float)), memcpy(x1, x, n * sizeof(float));
        sg_clamp(x, n, -1.5f, 2.0f);
        for (size_t i = 0; i < n; i++) assert_true(x[i] == fminf(fmaxf(x0[i], -1.5f), 2.0f));
        sg_clamp(x1, n, -INFINITY, INFINITY); /* no bounds: nothing changes */
        assert_memory_equal(x1, x0, n * sizeof(float));
        free(x), free(x0), free(x1);
    }
}

/* y = clamp(conv1x1(x) + b, 0, 6), the detector's pointwise layers: sg_conv2d then sg_clamp */
static void test_pointwise_clamp(void **state) {
    (void)state;
    const int cin = 32, cout = 24, hw = 37 * 29;
    float *x = frand((size_t)cin * hw, 50, -1, 1), *w = frand((size_t)cout * cin, 51, -1, 1);
    float *b = frand(cout, 52, -1, 1), *y = fbuf((size_t)cout * hw);
    double *ref = malloc(sizeof(double) * cout * hw), *mag = malloc(sizeof(double) * cout * hw);
    assert_true(ref && mag);
    for (int co = 0; co < cout; co++)
        for (int p = 0; p < hw; p++) {
            double s = b[co], m = fabs(b[co]);
            for (int ci = 0; ci < cin; ci++) {
                const double t = (double)w[co * cin + ci] * x[(size_t)ci * hw + p];
                s += t, m += fabs(t);
            }
            ref[(size_t)co * hw + p] = s < 0 ? 0 : s > 6 ? 6 : s, mag[(size_t)co * hw + p] = m;
        }
    sg_workspace ws;
    assert_int_equal(sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, NULL), SG_OK);
    sg_tensor tx = sg_tensor_make(x, 1, cin, 37, 29), ty = sg_tensor_make(y, 1, cout, 37, 29);
    for (int pi = 0; pi < NPATHS; pi++) {
        if (!use_path(pi)) continue;
        sg_conv2d(&tx, w, b, 1, 1, 1, 0, &ty, &ws);
        sg_clamp(y, (size_t)cout * hw, 0, 6);
        check_near("pointwise + clamp", y, ref, mag, (size_t)cout * hw, 1e-5);
    }
    sg_cpu_force(NULL);
    sg_workspace_free(&ws);
    free(x), free(w), free(b), free(y), free(ref), free(mag);
}

/* ---- sg_pad_zero and strided convs ---------------------------------------------------------- */

static void test_pad_zero(void **state) {
    (void)state;
    /* 2 planes of 2×3 into 4×5 at (1, 2) */
    float x[12], y[40];
    for (int i = 0; i < 12; i++) x[i] = (float)(i + 1);
    for (int i = 0; i < 40; i++) y[i] = NAN; /* every element must be written */
    sg_tensor tx = sg_tensor_make(x, 1, 2, 2, 3), ty = sg_tensor_make(y, 1, 2, 4, 5);
    sg_pad_zero(&tx, 1, 2, &ty);
    const float want0[20] = {0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0};
    for (int i = 0; i < 20; i++)
        assert_true(y[i] == want0[i] && y[20 + i] == (want0[i] ? want0[i] + 6 : 0));
    /* large (over the pool), at (0, 0) as TF SAME stride 2 uses it, and at an offset */
    const int n = 2, c = 5, h = 63, w = 80, offs[2][2] = {{0, 0}, {2, 1}};
    float *xb = frand((size_t)n * c * h * w, 60, -1, 1);
    for (int k = 0; k < 2; k++) {
        const int hy = h + 1 + offs[k][0], wy = w + 3 + offs[k][1];
        float *yb = fbuf((size_t)n * c * hy * wy);
        sg_tensor a = sg_tensor_make(xb, n, c, h, w), b = sg_tensor_make(yb, n, c, hy, wy);
        sg_pad_zero(&a, offs[k][0], offs[k][1], &b);
        for (int pl = 0; pl < n * c; pl++)
            for (int i = 0; i < hy; i++)
                for (int j = 0; j < wy; j++) {
                    const int iy = i - offs[k][0], ix = j - offs[k][1];
                    const float v = iy >= 0 && iy < h && ix >= 0 && ix < w
                                        ? xb[((size_t)pl * h + iy) * w + ix]
                                        : 0.0f;
                    assert_true(yb[((size_t)pl * hy + i) * wy + j] == v);
                }
        free(yb);
    }
    free(xb);
}

/* y = conv3×3(x) stride 2 with zeros at rows/columns -pt, -pl and past the image (TF SAME when
 * pt, pl, ho, wo are tf_same's), in double, and the magnitude of the terms */
static void conv_s2_ref(const float *x, const float *w, const float *b, int cin, int h, int wd,
                        int cout, int pt, int pl, int ho, int wo, double *ref, double *mag) {
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double s = b[co], m = fabs(b[co]);
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const int iy = 2 * oy + ky - pt, ix = 2 * ox + kx - pl;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            const double t = (double)w[((co * cin + ci) * 3 + ky) * 3 + kx] *
                                             x[((size_t)ci * h + iy) * wd + ix];
                            s += t, m += fabs(t);
                        }
                const size_t i = ((size_t)co * ho + oy) * wo + ox;
                ref[i] = s, mag[i] = m;
            }
}

/* sg_conv2d stride 2, pad 0 on odd sides (513→256, 17→8, 9→4, 5→2, 3→1: the last row/column is
 * read by the last window) and TF SAME on even and odd sides by sg_pad_zero first, through the
 * workspace sizes that select im2col whole, in tiles, and the direct loops. */
static void test_conv_s2_pad0(void **state) {
    (void)state;
    const int sides[][2] = {{513, 513}, {17, 17}, {9, 9}, {5, 5}, {3, 3}, {9, 17}};
    const int same[][2] = {{256, 256}, {37, 45}, {16, 16}, {7, 10}};
    const size_t wss[] = {SG_WORKSPACE_DEFAULT_FLOATS, 3000, 16};
    const int cin = 3, cout = 4;
    float *w = frand((size_t)cout * cin * 9, 70, -1, 1), *b = frand(cout, 71, -1, 1);
    for (int pi = 0; pi < NPATHS; pi++) {
        if (!use_path(pi)) continue;
        for (int k = 0; k < 6 + 4; k++) {
            const int is_same = k >= 6, h = is_same ? same[k - 6][0] : sides[k][0];
            const int wd = is_same ? same[k - 6][1] : sides[k][1];
            int ho = (h - 3) / 2 + 1, wo = (wd - 3) / 2 + 1, pt = 0, pl = 0;
            if (is_same) tf_same(h, 2, &ho, &pt), tf_same(wd, 2, &wo, &pl);
            /* the padded input: zeros pt above, pl left, and up to the last window's end */
            const int hp = is_same ? (ho - 1) * 2 + 3 : h, wp = is_same ? (wo - 1) * 2 + 3 : wd;
            float *x = frand((size_t)cin * h * wd, 72 + k, -1, 1);
            float *xp = fbuf((size_t)cin * hp * wp), *y = fbuf((size_t)cout * ho * wo);
            double *ref = malloc(sizeof(double) * cout * ho * wo),
                   *mag = malloc(sizeof(double) * cout * ho * wo);
            assert_true(ref && mag);
            conv_s2_ref(x, w, b, cin, h, wd, cout, pt, pl, ho, wo, ref, mag);
            sg_tensor tx = sg_tensor_make(x, 1, cin, h, wd),
                      tp = sg_tensor_make(xp, 1, cin, hp, wp);
            sg_tensor ty = sg_tensor_make(y, 1, cout, ho, wo);
            if (is_same) sg_pad_zero(&tx, pt, pl, &tp);
            for (size_t s = 0; s < 3; s++) {
                sg_workspace ws;
                assert_int_equal(sg_workspace_init(&ws, wss[s], NULL), SG_OK);
                memset(y, 0, sizeof(float) * cout * ho * wo);
                sg_conv2d(is_same ? &tp : &tx, w, b, 3, 3, 2, 0, &ty, &ws);
                char what[96];
                snprintf(what, sizeof what, "conv s2 pad0 %s %dx%d%s ws %zu", paths[pi], h, wd,
                         is_same ? " (TF SAME)" : "", wss[s]);
                check_near(what, y, ref, mag, (size_t)cout * ho * wo, 1e-5);
                sg_workspace_free(&ws);
            }
            free(x), free(xp), free(y), free(ref), free(mag);
        }
    }
    sg_cpu_force(NULL);
    free(w), free(b);
}

/* ---- debug checks --------------------------------------------------------------------------- */

/* an output row whose window starts below the padded input: 4 rows at stride 2 from 4 */
static void bad_dw_rows(void *ctx) {
    (void)ctx;
    float x[16] = {0}, w[9] = {0}, y[8];
    sg_tensor tx = sg_tensor_make(x, 1, 1, 4, 4), ty = sg_tensor_make(y, 1, 1, 4, 2);
    const sg_dw3x3 p = {2, 0, 0, NULL, NULL, 0, 6};
    sg_conv2d_dw3x3(&tx, w, &p, &ty);
}

static void bad_pad_fit(void *ctx) {
    (void)ctx;
    float x[16] = {0}, y[16];
    sg_tensor tx = sg_tensor_make(x, 1, 1, 4, 4), ty = sg_tensor_make(y, 1, 1, 4, 4);
    sg_pad_zero(&tx, 1, 0, &ty);
}

static void test_debug_checks(void **state) {
    (void)state;
    tu_expect_check_fails(bad_dw_rows, NULL, "p->pad_top <= x->h - 1");
    tu_expect_check_fails(bad_pad_fit, NULL, "y->h >= top + x->h");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dw3x3_hand),   cmocka_unit_test(test_dw3x3_random),
        cmocka_unit_test(test_clamp),        cmocka_unit_test(test_pointwise_clamp),
        cmocka_unit_test(test_pad_zero),     cmocka_unit_test(test_conv_s2_pad0),
        cmocka_unit_test(test_debug_checks),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
