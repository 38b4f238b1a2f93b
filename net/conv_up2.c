/* 3×3 conv (stride 1, pad 1) of a nearest-upsampled input, without the upsampled tensor.
 *
 * Output pixel (2i + py, 2j + px) of conv3×3(up2(x)) reads upsampled rows 2i + py - 1 + ky, i.e.
 * low-resolution rows i - 1 + ⌊(py + ky)/2⌋... which collapses to two rows per phase:
 *   py = 0: row i - 1 gets ky = 0, row i gets ky = 1 + 2;   py = 1: row i gets ky = 0 + 1,
 *   row i + 1 gets ky = 2 (the same along x). Zero padding of the upsampled image is zero padding
 * of x. So each of the four output phases (py, px) is a 2×2 conv of x with kernel taps that are
 * sums of the original taps: 4·4 = 16 multiply-adds per output instead of 9·4 = 36 (2.25× fewer).
 *
 * Each phase runs as tap-shifted GEMMs (see conv.c): a zero-padded band of low-resolution rows is
 * copied once, and phase tap (a, b) is one GEMM [Cout, Cin] · band viewed at offset
 * (py + a)·Wp + (px + b). The phase result (on the padded-width grid) is scattered into y's
 * every-other rows and columns. The phase kernels are summed per call into the workspace
 * (16·Cout·Cin floats for all phases, or 4·Cout·Cin one phase at a time when that is all that
 * fits): O(Cout·Cin) work against O(Cout·Cin·H·W) for the conv, and no weights kept at init. */
#include "net_internal.h"

#include <string.h>

/* Range [lo, hi] of original taps that land on phase tap a (0: the row before/at, 1: at/after). */
static void tap_range(int phase, int a, int *lo, int *hi) {
    if (phase == 0) *lo = a ? 1 : 0, *hi = a ? 2 : 0;
    else *lo = a ? 2 : 0, *hi = a ? 2 : 1;
}

/* wp[t][co][ci] for the 4 taps t = 2a + b of phase (py, px), from w[Cout, Cin, 3, 3]. */
static void phase_weights(const float *w, int cout, int cin, int py, int px, float *wp) {
    for (int t = 0; t < 4; t++) {
        int y0, y1, x0, x1;
        tap_range(py, t >> 1, &y0, &y1);
        tap_range(px, t & 1, &x0, &x1);
        float *d = wp + (size_t)t * cout * cin;
        for (size_t k = 0; k < (size_t)cout * cin; k++) {
            const float *k9 = w + k * 9;
            float s = 0.0f;
            for (int ky = y0; ky <= y1; ky++)
                for (int kx = x0; kx <= x1; kx++) s += k9[ky * 3 + kx];
            d[k] = s;
        }
    }
}

typedef struct {
    int group;    /* phases per weight pass: 4 (all weights resident) or 1 */
    int rows;     /* low-resolution rows per band (R) */
    int wp;       /* padded width W + 2 */
    size_t wsize; /* floats of phase weights */
} up2_plan;

static up2_plan plan_up2(const conv_geom *g, int cout, const sg_workspace *ws) {
    up2_plan p = {0, 0, g->w + 2, 0};
    if (!ws || !ws->buf) return p;
    const size_t per_row = (size_t)(g->cin + cout) * p.wp; /* band row + acc row */
    for (int group = 4; group >= 1; group /= 4) {
        size_t wsize = sg__round16((size_t)group * 4 * cout * g->cin);
        size_t fixed = wsize + 32 + (size_t)g->cin * sg__band_len(g, p.wp, 0);
        if (fixed >= ws->cap || (ws->cap - fixed) / per_row < 1) continue;
        size_t rows = (ws->cap - fixed) / per_row;
        /* all-phase weights only if bands stay reasonably tall; else recompute per phase */
        if (group == 4 && rows < 8 && rows < (size_t)g->h) continue;
        p.group = group, p.wsize = wsize;
        p.rows = rows > (size_t)g->h ? g->h : (int)rows;
        return p;
    }
    return p;
}

/* y[co][2(i0 + r) + py][2j + px] = acc[co][r·Wp + j]: one phase into every other pixel of
 * y [Cout, 2H, 2W]. */
static void scatter_phase(const float *acc, int cout, int rows, int wp, int h, int w, int i0,
                          int py, int px, float *y) {
    const size_t wo = 2 * (size_t)w, plane = 4 * (size_t)h * w;
    for (int co = 0; co < cout; co++)
        for (int r = 0; r < rows; r++) {
            const float *s = acc + ((size_t)co * rows + r) * wp;
            float *d = y + co * plane + (2 * (size_t)(i0 + r) + py) * wo + px;
            for (int j = 0; j < w; j++) d[2 * j] = s[j];
        }
}

/* Direct loop over the phase decomposition, for a workspace too small for one band. */
static void up2_direct(const conv_geom *g, const float *x, const float *w, const float *b, int cout,
                       float *y) {
    const int H = g->h, W = g->w;
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < 2 * H; oy++)
            for (int ox = 0; ox < 2 * W; ox++) {
                float s = b ? b[co] : 0.0f;
                for (int ci = 0; ci < g->cin; ci++) {
                    const float *k9 = w + ((size_t)co * g->cin + ci) * 9;
                    const float *xc = x + (size_t)ci * H * W;
                    for (int ky = 0; ky < 3; ky++) {
                        int uy = oy - 1 + ky;
                        if (uy < 0 || uy >= 2 * H) continue;
                        for (int kx = 0; kx < 3; kx++) {
                            int ux = ox - 1 + kx;
                            if (ux >= 0 && ux < 2 * W)
                                s += k9[ky * 3 + kx] * xc[(uy / 2) * W + ux / 2];
                        }
                    }
                }
                y[((size_t)co * 2 * H + oy) * 2 * W + ox] = s;
            }
}

/* One sample: per group of phases, sum the phase kernels, then per band of low-res rows copy the
 * band once and run the group's phases (4 GEMMs each) and scatter. */
static void up2_shift(const conv_geom *g, const up2_plan *p, const float *x, const float *w,
                      const float *b, int cout, float *y, const sg_workspace *ws) {
    float *wph = ws->buf, *band = ws->buf + p->wsize;
    const size_t wtap = (size_t)cout * g->cin;
    for (int g0 = 0; g0 < 4; g0 += p->group) {
        for (int k = 0; k < p->group; k++)
            phase_weights(w, cout, g->cin, (g0 + k) >> 1, (g0 + k) & 1, wph + 4 * k * wtap);
        for (int i0 = 0; i0 < g->h; i0 += p->rows) {
            const int rows = g->h - i0 < p->rows ? g->h - i0 : p->rows, n = rows * p->wp;
            const size_t len = sg__band_len(g, p->wp, rows);
            float *acc = band + sg__round16((size_t)g->cin * len);
            sg__shift_band(g, x, p->wp, i0, rows, band, len);
            for (int k = 0; k < p->group; k++) {
                const int py = (g0 + k) >> 1, px = (g0 + k) & 1;
                size_t off[4]; /* the phase's 2×2 taps on the band */
                for (int t = 0; t < 4; t++) off[t] = (size_t)(py + (t >> 1)) * p->wp + px + (t & 1);
                sg__fill_bias(acc, b, cout, (size_t)n, 0, n);
                sg__gemm_taps(cout, n, g->cin, 4, wph + 4 * k * wtap, wtap, g->cin, band, (int)len,
                              off, acc, n, 1);
                scatter_phase(acc, cout, rows, p->wp, g->h, g->w, i0, py, px, y);
            }
        }
    }
}

/* Winograd on the virtually upsampled input where Winograd pays on the output size (as in
 * sg_conv2d): its 36 multiplies per 16 outputs beat the phases' 64 (measured per decoder layer:
 * bench/README.md). */
static int up2_wino_pays(const sg_tensor *x, int cout) {
    return sg__wino_pays(x->c, cout, 2 * x->h, 2 * x->w);
}

void sg_conv2d_up2_pre(const sg_tensor *x, const sg_preact *pre, const float *w, const float *b,
                       sg_tensor *y, sg_workspace *ws, float *tmp) {
    SG_ASSERT(y->n == x->n && y->h == 2 * x->h && y->w == 2 * x->w && y->data != x->data);
    SG_ASSERT(tmp && tmp != y->data);
    if (up2_wino_pays(x, y->c) && sg__conv_winograd(x, w, b, y, ws, 1, pre) == 0) return;
    sg_preact_apply(x, pre, tmp); /* the activation commutes with the nearest upsample */
    sg_tensor t = sg_tensor_make(tmp, x->n, x->c, x->h, x->w);
    sg_conv2d_up2(&t, w, b, y, ws);
}

void sg_conv2d_up2(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                   sg_workspace *ws) {
    SG_ASSERT(x->data && y->data && w && x->data != y->data);
    SG_ASSERT(y->n == x->n && y->h == 2 * x->h && y->w == 2 * x->w);
    if (up2_wino_pays(x, y->c) && sg__conv_winograd(x, w, b, y, ws, 1, NULL) == 0) return;
    /* the band geometry of a 3×3 pad-1 conv on x itself: rows i0 - 1 ... i0 + R, width W + 2 */
    const conv_geom g = {.cin = x->c,
                         .h = x->h,
                         .w = x->w,
                         .kh = 3,
                         .kw = 3,
                         .stride = 1,
                         .pad = 1,
                         .ho = x->h,
                         .wo = x->w};
    const int cout = y->c;
    const size_t xs = (size_t)g.cin * g.h * g.w, ys = (size_t)cout * 4 * g.h * g.w;
    const up2_plan p = plan_up2(&g, cout, ws);
    const double t0 = sg__prof_now();
    for (int n = 0; n < x->n; n++) {
        if (p.rows) up2_shift(&g, &p, x->data + n * xs, w, b, cout, y->data + n * ys, ws);
        else up2_direct(&g, x->data + n * xs, w, b, cout, y->data + n * ys);
    }
    /* nominal: the 3×3 conv on the upsampled input */
    sg__prof_add(SG_PROF_UP2, t0, 2.0 * 9 * cout * g.cin * 4.0 * g.h * g.w * x->n);
}
