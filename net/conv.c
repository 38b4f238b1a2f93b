/* Convolution (the hot path) and a small direct depthwise conv.
 *
 * Per sample, y[Cout, Ho·Wo] = W[Cout, K] · col[K, Ho·Wo] with K = Cin·kh·kw, col the im2col
 * matrix. A whole 256×256 layer's col would be K·65536 floats (150 MB for K = 576), so everything
 * is tiled over output pixels to fit the fixed workspace. Two ways to feed the GEMM:
 *
 *  - tap-shifted (stride 1, Cin >= SHIFT_MIN_CIN, Wo > SHIFT_MIN_WO): copy a band of input rows
 *    once, zero-padded to width Wp = W + 2·pad, and run one GEMM per kernel tap (ky, kx) with
 *    K = Cin, whose B operand
 *    is that band viewed at offset ky·Wp + kx (ldb = band length). The output lands on the padded
 *    width grid in the workspace and is compacted into y. This writes ~1× the input instead of
 *    im2col's kh·kw×, which matters: im2col is memory-bound (bench/README.md has the rates).
 *  - im2col (everything else: strided convs, few input channels, weights too big for the
 *    workspace, images of 8 columns or fewer, where the padded grid wastes ≥ 20% and the per-call
 *    weight reorder outweighs the GEMMs: bench/README.md):
 *    build col tiles [K, P] and GEMM them straight into y's columns (ldc = Ho·Wo).
 *
 * Both accumulate onto the bias written just before the GEMM: that one pass replaces BLAS's own
 * beta = 0 clearing pass plus a separate bias pass. 1×1 stride-1 convs skip the copy entirely, and
 * if the workspace cannot hold even one im2col column a direct loop keeps results correct. */
#include "net_internal.h"

#include <string.h>

/* Output extent of a conv along one axis. */
static int conv_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

/* Output positions o in [lo, hi) read input inside [0, in) at i = o·stride - pad + k. */
static void valid_range(int in, int out, int k, int stride, int pad, int *lo, int *hi) {
    int a = pad - k;          /* smallest o needs o·stride >= a */
    int b = in - 1 + pad - k; /* largest o needs o·stride <= b */
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = b < 0 ? 0 : b / stride + 1;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
}

/* Copies output pixels [ox0, ox1) of one column-matrix row segment: zeros where the tap falls in
 * the padding, the input row otherwise. xrow is the input row iy (NULL when iy is padding). */
static void im2col_segment(float *dst, const float *xrow, int ox0, int ox1, int lo, int hi,
                           int stride, int off) {
    if (!xrow) {
        memset(dst, 0, (size_t)(ox1 - ox0) * sizeof(float));
        return;
    }
    int a = ox0 > lo ? ox0 : lo, b = ox1 < hi ? ox1 : hi;
    if (a >= b) {
        memset(dst, 0, (size_t)(ox1 - ox0) * sizeof(float));
        return;
    }
    memset(dst, 0, (size_t)(a - ox0) * sizeof(float));
    float *d = dst + (a - ox0);
    if (stride == 1) {
        memcpy(d, xrow + a + off, (size_t)(b - a) * sizeof(float));
    } else {
        const float *s = xrow + (ptrdiff_t)a * stride + off;
        for (int i = 0; i < b - a; i++) d[i] = s[(ptrdiff_t)i * stride];
    }
    memset(d + (b - a), 0, (size_t)(ox1 - b) * sizeof(float));
}

/* Row k = (c, ky, kx) of the im2col tile for output pixels [p0, p0 + P) of one sample x[Cin, H, W]:
 * dst[p - p0] = x[c, oy·s - pad + ky, ox·s - pad + kx] for each pixel p = (oy, ox), 0 in padding. */
static void im2col_row(const conv_geom *g, const float *x, int k, int p0, int P, float *dst) {
    const int c = k / (g->kh * g->kw), ky = k / g->kw % g->kh, kx = k % g->kw;
    const float *xc = x + c * (size_t)g->h * g->w;
    int lo, hi;
    valid_range(g->w, g->wo, kx, g->stride, g->pad, &lo, &hi);
    for (int p = p0; p < p0 + P;) {
        int oy = p / g->wo, ox0 = p % g->wo;
        int ox1 = g->wo - ox0 < p0 + P - p ? g->wo : ox0 + (p0 + P - p);
        int iy = oy * g->stride - g->pad + ky;
        const float *xrow = (iy >= 0 && iy < g->h) ? xc + (size_t)iy * g->w : NULL;
        im2col_segment(dst, xrow, ox0, ox1, lo, hi, g->stride, kx - g->pad);
        dst += ox1 - ox0;
        p += ox1 - ox0;
    }
}

typedef struct {
    const conv_geom *g;
    const float *x;
    int p0, P, rows_per_task, K;
    float *col;
} im2col_job;

static void im2col_task(void *ctx, int task, int thread) {
    const im2col_job *j = ctx;
    (void)thread;
    const int k1 = (task + 1) * j->rows_per_task < j->K ? (task + 1) * j->rows_per_task : j->K;
    for (int k = task * j->rows_per_task; k < k1; k++)
        im2col_row(j->g, j->x, k, j->p0, j->P, j->col + (size_t)k * j->P);
}

/* col[K, P] = the im2col rows for output pixels [p0, p0 + P) of one sample x[Cin, H, W], K =
 * Cin·kh·kw rows, split over the pool (memory-bound: the 7×7 stride-2 FAN stem writes 19 MB). */
static void im2col_tile(const conv_geom *g, const float *x, int p0, int P, float *col) {
    const int K = g->cin * g->kh * g->kw, tasks = 4 * sg__threads();
    im2col_job j = {g, x, p0, P, (K + tasks - 1) / tasks, K, col};
    if ((size_t)K * P < 65536) j.rows_per_task = K;
    sg__parallel((K + j.rows_per_task - 1) / j.rows_per_task, im2col_task, &j);
}

void sg__fill_bias(float *y, const float *b, int cout, size_t ld, int p0, int P) {
    for (int co = 0; co < cout; co++) {
        float *r = y + co * ld + p0, v = b ? b[co] : 0.0f;
        for (int i = 0; i < P; i++) r[i] = v;
    }
}

/* Direct convolution of one sample, used only when the workspace cannot hold one column. */
static void conv_direct(const conv_geom *g, const float *x, const float *w, const float *b,
                        int cout, float *y) {
    const size_t plane = (size_t)g->h * g->w;
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < g->ho; oy++)
            for (int ox = 0; ox < g->wo; ox++) {
                float s = b ? b[co] : 0.0f;
                const float *wc = w + (size_t)co * g->cin * g->kh * g->kw;
                for (int c = 0; c < g->cin; c++)
                    for (int ky = 0; ky < g->kh; ky++) {
                        int iy = oy * g->stride - g->pad + ky;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int kx = 0; kx < g->kw; kx++) {
                            int ix = ox * g->stride - g->pad + kx;
                            if (ix < 0 || ix >= g->w) continue;
                            s += wc[(c * g->kh + ky) * g->kw + kx] *
                                 x[c * plane + (size_t)iy * g->w + ix];
                        }
                    }
                y[((size_t)co * g->ho + oy) * g->wo + ox] = s;
            }
}

/* Pixels per tile: as many whole output rows as the workspace holds, else what fits (>= 1),
 * or 0 when not even one column fits (the caller then runs the direct loop). */
static int tile_pixels(const conv_geom *g, size_t K, const sg_workspace *ws) {
    size_t npix = (size_t)g->ho * g->wo;
    size_t fit = (ws && ws->buf) ? ws->cap / K : 0;
    if (fit >= npix) return (int)npix;
    if (fit >= (size_t)g->wo) return (int)(fit / g->wo * g->wo);
    return (int)fit;
}

/* ---- tap-shifted path (stride 1) ------------------------------------------------------------ */

/* Below this many input channels each per-tap GEMM (K = Cin) is too thin to pay off. */
#define SHIFT_MIN_CIN  16
#define SHIFT_MAX_TAPS 49 /* up to 7×7 kernels (one offset per tap on the stack) */
#define SHIFT_MIN_WO   8  /* wider outputs only (bench_layers: "F … @4", "E 512@8") */

/* Workspace plan of the shifted path: wr [kh·kw, Cout, Cin] | band [Cin, len] | acc [Cout, R·Wp]. */
typedef struct {
    int rows;       /* output rows per tile (R) */
    int wp;         /* padded width W + 2·pad */
    size_t wr_size; /* floats of reordered weights */
} shift_plan;

/* Rows per tile that fit, or 0 when the shifted path does not apply. */
static shift_plan plan_shift(const conv_geom *g, int cout, const sg_workspace *ws) {
    shift_plan p = {0, g->w + 2 * g->pad, 0};
    if (g->stride != 1 || g->cin < SHIFT_MIN_CIN || g->kh * g->kw > SHIFT_MAX_TAPS ||
        g->wo <= SHIFT_MIN_WO || !ws || !ws->buf)
        return p;
    p.wr_size = sg__round16((size_t)g->kh * g->kw * cout * g->cin);
    size_t fixed = p.wr_size + 32 + (size_t)g->cin * sg__band_len(g, p.wp, 0);
    if (fixed >= ws->cap) return p;
    size_t per_row = (size_t)(g->cin + cout) * p.wp; /* band row + acc row */
    size_t rows = (ws->cap - fixed) / per_row;
    p.rows = rows > (size_t)g->ho ? g->ho : (int)rows;
    return p;
}

/* wr[t, co, c] = w[co, c, t] for tap t = ky·kw + kx: each tap's weights as a plain [Cout, Cin].
 * Per call (nothing kept: memory), so it must be cheap: w is read once, row by row (looping taps
 * outermost re-read all of w once per tap with a stride: bench/README.md), output channels split
 * over the pool. Only the fallback: products split by row blocks (the weight-heavy 16², 8²,
 * 4² layers) reorder each block's rows inside its GEMM task (sg__gemm_wtaps), so the reordered
 * copy stays in cache instead of a whole-weight pass written out and read back. */
typedef struct {
    const float *w;
    float *wr;
    int cout, cin, taps, per;
} sw_job;

static void shift_weights_task(void *ctx, int task, int thread) {
    const sw_job *j = ctx;
    (void)thread;
    const int co1 = (task + 1) * j->per < j->cout ? (task + 1) * j->per : j->cout;
    for (int co = task * j->per; co < co1; co++) /* w's row co (Cin·taps floats) stays in L1 */
        for (int t = 0; t < j->taps; t++) {
            const float *src = j->w + (size_t)co * j->cin * j->taps + t;
            float *dst = j->wr + ((size_t)t * j->cout + co) * j->cin;
            for (int c = 0; c < j->cin; c++) dst[c] = src[(size_t)c * j->taps];
        }
}

static void shift_weights(const float *w, int cout, int cin, int taps, float *wr) {
    sw_job j = {w, wr, cout, cin, taps, (cout + 15) / 16};
    sg__parallel((cout + j.per - 1) / j.per, shift_weights_task, &j);
}

void sg__shift_band(const conv_geom *g, const float *x, int wp, int oy0, int rows, float *band,
                    size_t len) {
    const size_t plane = (size_t)g->h * g->w;
    for (int c = 0; c < g->cin; c++) {
        float *d = band + c * len;
        for (int r = 0; r < rows + g->kh - 1; r++, d += wp) {
            int iy = oy0 + r - g->pad;
            if (iy < 0 || iy >= g->h) {
                memset(d, 0, (size_t)wp * sizeof(float));
                continue;
            }
            memset(d, 0, (size_t)g->pad * sizeof(float));
            memcpy(d + g->pad, x + c * plane + (size_t)iy * g->w, (size_t)g->w * sizeof(float));
            memset(d + g->pad + g->w, 0, (size_t)g->pad * sizeof(float));
        }
        memset(d, 0, (size_t)(g->kw - 1) * sizeof(float));
    }
}

/* One sample: for each band of output rows, acc[Cout, R·Wp] = b + Σ_taps wr[t] · band(shifted by
 * ky·Wp + kx); output column ox of a row reads band columns ox + kx, exactly the im2col entry.
 * Columns ox >= Wo of each acc row are garbage (they wrap into the next row) and are dropped. */
static void conv_shift(const conv_geom *g, const shift_plan *p, const float *x, const float *w,
                       const float *b, int cout, float *y, const sg_workspace *ws, int *reordered) {
    float *wr = ws->buf;
    float *band = ws->buf + p->wr_size;
    for (int oy0 = 0; oy0 < g->ho; oy0 += p->rows) {
        const int rows = g->ho - oy0 < p->rows ? g->ho - oy0 : p->rows, n = rows * p->wp;
        const size_t len = sg__band_len(g, p->wp, rows);
        float *acc = band + sg__round16((size_t)g->cin * len);
        sg__shift_band(g, x, p->wp, oy0, rows, band, len);
        sg__fill_bias(acc, b, cout, (size_t)n, 0, n);
        size_t off[SHIFT_MAX_TAPS]; /* tap t = (ky, kx) reads the band at ky·Wp + kx */
        for (int t = 0; t < g->kh * g->kw; t++) off[t] = (size_t)(t / g->kw) * p->wp + t % g->kw;
        const int taps = g->kh * g->kw;
        if (*reordered ||
            sg__gemm_wtaps(cout, n, g->cin, taps, w, wr, band, (int)len, off, acc, n, 1) != 0) {
            if (!*reordered) shift_weights(w, cout, g->cin, taps, wr), *reordered = 1;
            sg__gemm_taps(cout, n, g->cin, taps, wr, (size_t)cout * g->cin, g->cin, band, (int)len,
                          off, acc, n, 1);
        }
        for (int co = 0; co < cout; co++) /* compact [Cout, rows, Wp] → y[Cout, rows, Wo] */
            for (int r = 0; r < rows; r++)
                memcpy(y + ((size_t)co * g->ho + oy0 + r) * g->wo, acc + (size_t)co * n + r * p->wp,
                       (size_t)g->wo * sizeof(float));
    }
}

/* ---- entry ------------------------------------------------------------------------------------ */

/* im2col path for one sample: P-pixel tiles (P == 0: direct loop). */
static void conv_im2col(const conv_geom *g, int P, const float *x, const float *w, const float *b,
                        int cout, float *y, const sg_workspace *ws) {
    const int npix = g->ho * g->wo, K = g->cin * g->kh * g->kw;
    if (P == 0) {
        conv_direct(g, x, w, b, cout, y);
        return;
    }
    for (int p0 = 0; p0 < npix; p0 += P) {
        int np = npix - p0 < P ? npix - p0 : P;
        im2col_tile(g, x, p0, np, ws->buf);
        sg__gemm_bias(cout, np, K, w, K, ws->buf, np, b, y + p0, npix);
    }
}

/* Where Winograd F(4,3) pays (sg__wino_pays: measured with bench/layers, 2 threads) */
static int wino_pays(const conv_geom *g, int cout) {
    return g->kh == 3 && g->kw == 3 && g->stride == 1 && g->pad == 1 &&
           sg__wino_pays(g->cin, cout, g->ho, g->wo);
}

sg_conv_algo sg_conv2d_algo(const sg_tensor *x, const float *w, const float *b, int kh, int kw,
                            int stride, int pad, sg_tensor *y, sg_workspace *ws,
                            sg_conv_algo want) {
    SG_ASSERT(x->data && y->data && w && x->data != y->data);
    SG_ASSERT(kh > 0 && kw > 0 && stride > 0 && pad >= 0);
    SG_ASSERT(y->n == x->n && y->h == conv_out(x->h, kh, stride, pad) &&
              y->w == conv_out(x->w, kw, stride, pad));
    conv_geom g = {.cin = x->c,
                   .h = x->h,
                   .w = x->w,
                   .kh = kh,
                   .kw = kw,
                   .stride = stride,
                   .pad = pad,
                   .ho = conv_out(x->h, kh, stride, pad),
                   .wo = conv_out(x->w, kw, stride, pad)};
    const int cout = y->c, npix = g.ho * g.wo;
    const int wino_ok = kh == 3 && kw == 3 && stride == 1 && pad == 1;
    if (want == SG_CONV_WINOGRAD || (want == SG_CONV_AUTO && wino_pays(&g, cout)))
        if (wino_ok && sg_conv2d_winograd(x, w, b, y, ws) == 0) return SG_CONV_WINOGRAD;
    const double t0 = sg__prof_now();
    const size_t xs = (size_t)g.cin * g.h * g.w, ys = (size_t)cout * npix;
    const int pointwise = kh == 1 && kw == 1 && stride == 1 && pad == 0;
    const shift_plan sp =
        pointwise || want == SG_CONV_IM2COL ? (shift_plan){0, 0, 0} : plan_shift(&g, cout, ws);
    const int P = pointwise || sp.rows ? 0 : tile_pixels(&g, (size_t)g.cin * kh * kw, ws);
    int reordered = 0; /* wr holds the whole reorder (when a product did not split by rows) */
    for (int n = 0; n < x->n; n++) {
        const float *xn = x->data + n * xs;
        float *yn = y->data + n * ys;
        if (pointwise) { /* the input already is the column matrix: W[Cout, Cin] · X[Cin, HW] */
            sg__gemm_bias(cout, npix, g.cin, w, g.cin, xn, npix, b, yn, npix);
        } else if (sp.rows) {
            conv_shift(&g, &sp, xn, w, b, cout, yn, ws, &reordered);
        } else {
            conv_im2col(&g, P, xn, w, b, cout, yn, ws);
        }
    }
    const sg_conv_algo used = pointwise ? SG_CONV_POINTWISE
                              : sp.rows ? SG_CONV_SHIFT
                              : P       ? SG_CONV_IM2COL
                                        : SG_CONV_DIRECT;
    static const int fam[] = {0, SG_PROF_POINTWISE, SG_PROF_SHIFT, SG_PROF_IM2COL, SG_PROF_DIRECT};
    sg__prof_add(fam[used], t0, 2.0 * cout * g.cin * kh * kw * (double)npix * x->n);
    return used;
}

void sg_conv2d(const sg_tensor *x, const float *w, const float *b, int kh, int kw, int stride,
               int pad, sg_tensor *y, sg_workspace *ws) {
    sg_conv2d_algo(x, w, b, kh, kw, stride, pad, y, ws, SG_CONV_AUTO);
}

/* Depthwise, stride 1: y[n, c] = x[n, c] ⋆ w[c] (or the one shared kernel). Small kernels only
 * (a 3×3 high-pass on the decoder's wide features), so per output row each tap adds a scaled,
 * shifted input row over its valid columns: unit-stride loops the compiler vectorises. Planes
 * are split over the pool. */
typedef struct {
    const sg_tensor *x;
    const float *w;
    sg_tensor *y;
    int shared, kh, kw, pad;
} dw_job;

static void dw_plane(void *ctx, int plane, int thread) {
    const dw_job *j = ctx;
    (void)thread;
    const int H = j->x->h, W = j->x->w, Ho = j->y->h, Wo = j->y->w, c = plane % j->x->c;
    const float *xp = j->x->data + (size_t)plane * H * W;
    const float *k = j->shared ? j->w : j->w + (size_t)c * j->kh * j->kw;
    float *yp = j->y->data + (size_t)plane * Ho * Wo;
    for (int oy = 0; oy < Ho; oy++) {
        float *yr = yp + (size_t)oy * Wo;
        memset(yr, 0, (size_t)Wo * sizeof(float));
        for (int ky = 0; ky < j->kh; ky++) {
            const int iy = oy - j->pad + ky;
            if (iy < 0 || iy >= H) continue;
            const float *xr = xp + (size_t)iy * W;
            for (int kx = 0; kx < j->kw; kx++) {
                const int d = kx - j->pad; /* yr[ox] += k · xr[ox + d] for 0 ≤ ox + d < W */
                const int lo = d < 0 ? -d : 0, hi = W - d < Wo ? W - d : Wo;
                const float kv = k[ky * j->kw + kx];
                for (int ox = lo; ox < hi; ox++) yr[ox] += kv * xr[ox + d];
            }
        }
    }
}

void sg_conv2d_depthwise(const sg_tensor *x, const float *w, int shared, int kh, int kw, int pad,
                         sg_tensor *y) {
    SG_ASSERT(x->data && y->data && w && x->data != y->data);
    SG_ASSERT(y->n == x->n && y->c == x->c && y->h == x->h + 2 * pad - kh + 1 &&
              y->w == x->w + 2 * pad - kw + 1);
    const double t0 = sg__prof_now();
    dw_job j = {x, w, y, shared, kh, kw, pad};
    sg__parallel(x->n * x->c, dw_plane, &j);
    sg__prof_add(SG_PROF_DEPTHWISE, t0, 2.0 * kh * kw * (double)x->n * x->c * y->h * y->w);
}
