/* bf16 3×3 convs (stride 1, pad 1) by Winograd F(2×2, 3×3) with bf16 products: each 2×2 output
 * tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A over its 4×4 input patch d, so per transformed position
 * p < 16 one GEMM M[p][Cout, tiles] = U[p][Cout, Cin] · V[p][Cin, tiles] with U and V in bf16
 * and fp32 accumulators (VDPBF16PS, kern_bf16.c). Why F(2,3) and not the fp32 path's F(4,3):
 * F(2,3)'s transforms have coefficients 0, ±1, ±1/2, so rounding the transformed tiles and
 * weights to bf16 costs about what rounding the direct operands does, while F(4,3)'s (4, 5, 8)
 * amplify it (AFHQ fixture: 28 dB PSNR against 39.5 direct; bench/README.md "bf16"). It still
 * does 2.25× fewer multiplies than the direct GEMMs.
 *
 *   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
 *   Aᵀ = [1 1 1 0; 0 1 -1 -1].
 *
 * U is made once per layer (sg__bf16_wino2_u in packed.c, at load) as pair panels: word
 * p·ldu + (co/8)·8·(Cin/2) + (ci/2)·8 + co%8 holds (U[p][co][ci], U[p][co][ci + 1]).
 * Tasks are blocks of nr × nc tiles (× a block of output channels when there are few tiles):
 * the input transform of every channel pair into V (bf16 pairs, [16][Cin/2][tiles]), read
 * straight from the input planes with the pre-activation and the zero padding applied in
 * registers (no band copy), the 16 products into M (fp32 [16][cob][tiles]), the output
 * transform; V and M stay in L2.
 * Built with the AVX512-BF16 flags: called only when the CPU has them (bf16.c checks). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "net_internal.h"

#define NP 16

/* With up every 4×4 patch repeats its middle rows and columns ([a, b, b, c]) and Bᵀ's third
 * row (0 -1 1 0) maps that to exactly 0: V and M are +0 at the 7 positions in row 2 or column
 * 2. Their products are skipped (M zeroed there) and V there is not stored: the same bytes. */
static int up_skip(int up, int p) { return up && (p / 4 == 2 || p % 4 == 2); }

typedef struct {
    const float *x, *b;
    float *y;
    const sg_preact *pre;
    int up, n, cin, cout, h, w; /* h, w: output size (the input's, or twice it with up) */
    int th, tw, nr, nc, bh, bw, cob, nco;
    const uint32_t *u;
    size_t ldu;
    size_t slot; /* floats per thread */
    float *slots;
} w2;

static inline void bt4(const __m512 d[4], __m512 o[4]) {
    o[0] = _mm512_sub_ps(d[0], d[2]);
    o[1] = _mm512_add_ps(d[1], d[2]);
    o[2] = _mm512_sub_ps(d[2], d[1]);
    o[3] = _mm512_sub_ps(d[1], d[3]);
}

/* v[p] (16 lanes = 16 tiles) = (Bᵀ d B)[p] from the rows d[i][j] of their 4×4 patches */
static inline void in_tile(__m512 d[4][4], __m512 v[NP]) {
    __m512 h[4][4], col[4], o[4];
    for (int i = 0; i < 4; i++) bt4(d[i], h[i]);
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 4; i++) col[i] = h[i][j];
        bt4(col, o);
        for (int a = 0; a < 4; a++) v[4 * a + j] = o[a];
    }
}

/* The pre-activation of one input plane (net.h sg_preact), as vectors; identity without one. */
typedef struct {
    __m512 sub, lo, mul, add, slope;
    int on;
} act_v;

static inline act_v act_of(const sg_preact *p, size_t k) {
    act_v a = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_set1_ps(1.0f),
               _mm512_setzero_ps(), _mm512_setzero_ps(), p != NULL};
    if (!p) return a;
    a.sub = _mm512_set1_ps(p->sub ? p->sub[k] : 0.0f),
    a.lo = _mm512_set1_ps(p->sub_lo ? p->sub_lo[k] : 0.0f);
    a.mul = _mm512_set1_ps(p->mul ? p->mul[k] : 1.0f),
    a.add = _mm512_set1_ps(p->add ? p->add[k] : 0.0f);
    a.slope = _mm512_set1_ps(p->slope);
    return a;
}

/* act(v) in the lanes of m (the image), 0 in the others (the zero padding comes after the
 * activation) */
static inline __m512 act(const act_v *a, __m512 v, __mmask16 m) {
    if (a->on) {
        v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_sub_ps(v, a->sub), a->lo), a->mul, a->add);
        v = _mm512_add_ps(_mm512_max_ps(v, _mm512_setzero_ps()),
                          _mm512_mul_ps(a->slope, _mm512_min_ps(v, _mm512_setzero_ps())));
    }
    return _mm512_maskz_mov_ps(m, v);
}

/* lanes i < 16 with 0 <= x0 + i < w */
static inline __mmask16 cols(int x0, int w) {
    const int a = x0 < 0 ? -x0 : 0, e = w - x0 < 16 ? w - x0 : 16;
    if (e <= a) return 0;
    return (__mmask16)(((1u << e) - 1) & ~((1u << a) - 1));
}

/* pre(x) of columns x0 .. x0 + 15 of a row of width w, 0 outside (those lanes not read) */
static inline __m512 load_cols(const act_v *a, const float *row, int x0, int w) {
    const __mmask16 m = cols(x0, w);
    return act(a, _mm512_maskz_loadu_ps(m, row + x0), m);
}

/* d[i][j] lane l: the 4×4 input patch of tile T + l of the block (tile row r0 + k, column
 * c0 + t, T + l = k·ncc + t), read straight from the plane (no band copy): image rows
 * 2(r0 + k) - 1 + i, columns 2(c0 + t) - 1 + j, as pre(x), 0 outside; up: of the nearest 2×
 * upsample of the [h/2, w/2] plane. */
static inline void patches(const w2 *c, const float *plane, const act_v *a, int r0, int c0, int ncc,
                           int T, int n, __m512 d[4][4]) {
    const int h = c->h, w = c->w;
    if (ncc % 16 == 0) { /* 16 tiles of one tile row */
        const int k = T / ncc, t = T % ncc, x0 = 2 * (c0 + t) - 1;
        const __m512i ev =
            _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const __m512i od =
            _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
        for (int i = 0; i < 4; i++) {
            const int y = 2 * (r0 + k) - 1 + i;
            if (y < 0 || y >= h) {
                for (int j = 0; j < 4; j++) d[i][j] = _mm512_setzero_ps();
                continue;
            }
            if (c->up) { /* column X of the upsample is low-res column X/2: lanes l at
                          * t + l - 1, t + l, t + l, t + l + 1 */
                const float *r = plane + (size_t)(y / 2) * (w / 2);
                const int l0 = c0 + t, lw = w / 2;
                d[i][0] = load_cols(a, r, l0 - 1, lw);
                d[i][1] = d[i][2] = load_cols(a, r, l0, lw);
                d[i][3] = load_cols(a, r, l0 + 1, lw);
                continue;
            }
            const float *r = plane + (size_t)y * w;
            const __m512 p0 = load_cols(a, r, x0, w);
            const __m512 p1 = load_cols(a, r, x0 + 16, w);
            const __m512 q0 = load_cols(a, r, x0 + 2, w);
            const __m512 q1 = load_cols(a, r, x0 + 18, w);
            d[i][0] = _mm512_permutex2var_ps(p0, ev, p1),
            d[i][1] = _mm512_permutex2var_ps(p0, od, p1);
            d[i][2] = _mm512_permutex2var_ps(q0, ev, q1),
            d[i][3] = _mm512_permutex2var_ps(q0, od, q1);
        }
        return;
    }
    /* any block shape (16² layers: 8 tiles a row): one gather per patch entry */
    int ys[16], xs[16];
    for (int l = 0; l < 16; l++) {
        const int q = T + (l < n ? l : 0);
        ys[l] = 2 * (r0 + q / ncc) - 1, xs[l] = 2 * (c0 + q % ncc) - 1;
    }
    const __m512i Y = _mm512_loadu_si512(ys), X = _mm512_loadu_si512(xs);
    const __mmask16 lanes = (__mmask16)((1u << n) - 1);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            const __m512i yy = _mm512_add_epi32(Y, _mm512_set1_epi32(i));
            const __m512i xx = _mm512_add_epi32(X, _mm512_set1_epi32(j));
            const __mmask16 m = lanes & _mm512_cmpge_epi32_mask(yy, _mm512_setzero_si512()) &
                                _mm512_cmplt_epi32_mask(yy, _mm512_set1_epi32(h)) &
                                _mm512_cmpge_epi32_mask(xx, _mm512_setzero_si512()) &
                                _mm512_cmplt_epi32_mask(xx, _mm512_set1_epi32(w));
            const __m512i off =
                c->up ? _mm512_add_epi32(
                            _mm512_mullo_epi32(_mm512_srai_epi32(yy, 1), _mm512_set1_epi32(w / 2)),
                            _mm512_srai_epi32(xx, 1))
                      : _mm512_add_epi32(_mm512_mullo_epi32(yy, _mm512_set1_epi32(w)), xx);
            d[i][j] = act(a, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, off, plane, 4), m);
        }
}

/* ---- one task: tile block (sample, kb, cb) × output-channel block q ------------------------ */
static void task(void *ctx, int tk, int thread) {
    const w2 *c = ctx;
    const int q = tk % c->nco, blk = tk / c->nco;
    const int s = blk / (c->bh * c->bw), kb = blk / c->bw % c->bh, cb = blk % c->bw;
    const int r0 = kb * c->nr, c0 = cb * c->nc;
    const int nrr = c->th - r0 < c->nr ? c->th - r0 : c->nr;
    const int ncc = c->tw - c0 < c->nc ? c->tw - c0 : c->nc, nt = nrr * ncc;
    const int co0 = q * c->cob, cob = c->cout - co0 < c->cob ? c->cout - co0 : c->cob;
    const int cin2 = c->cin / 2, prof = thread == 0;
    const size_t ldv = (size_t)cin2 * nt, ldm = (size_t)cob * nt;
    uint32_t *v = (uint32_t *)(c->slots + (size_t)thread * c->slot);
    float *m = (float *)(v + NP * ldv);
    const size_t plane = (size_t)c->h * c->w >> (2 * c->up);
    const float *xs = c->x + (size_t)s * c->cin * plane;
    double t0 = prof ? sg__prof_now() : 0;
    for (int ci = 0; ci < c->cin; ci += 2) {
        const act_v a0 = act_of(c->pre, (size_t)s * c->cin + ci);
        const act_v a1 = act_of(c->pre, (size_t)s * c->cin + ci + 1);
        for (int T = 0; T < nt; T += 16) {
            const int n = nt - T < 16 ? nt - T : 16;
            __m512 d[4][4], v0[NP], v1[NP];
            patches(c, xs + (size_t)ci * plane, &a0, r0, c0, ncc, T, n, d);
            in_tile(d, v0);
            patches(c, xs + (size_t)(ci + 1) * plane, &a1, r0, c0, ncc, T, n, d);
            in_tile(d, v1);
            const __mmask16 mk = (__mmask16)((1u << n) - 1);
            const __m512i idx =
                _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23,
                                 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
            for (int p = 0; p < NP; p++) {
                if (up_skip(c->up, p)) continue;
                const __m512i w =
                    _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(v1[p], v0[p]));
                _mm512_mask_storeu_epi32(v + p * ldv + (size_t)(ci / 2) * nt + T, mk, w);
            }
        }
    }
    if (prof) sg__prof_add(SG_PROF_WINO_IN, t0, 0), t0 = sg__prof_now();
    for (int p = 0; p < NP; p++)
        if (up_skip(c->up, p)) memset(m + p * ldm, 0, ldm * sizeof(float));
        else
            sg__bf16_gemm_packed(cob, nt, cin2, c->u + p * c->ldu + (size_t)co0 * cin2, v + p * ldv,
                                 (size_t)nt, m + p * ldm, nt, 0);
    if (prof)
        sg__prof_add(SG_PROF_WINO_GEMM, t0, 2.0 * (c->up ? 9 : NP) * cob * c->cin * nt),
            t0 = sg__prof_now();
    /* y[2k + a][2t + b] = (Aᵀ m A)[a][b] + bias */
    const int y0 = 2 * r0, x0 = 2 * c0;
    const int fast = ncc % 16 == 0 && 2 * (r0 + nrr) <= c->h && 2 * (c0 + ncc) <= c->w;
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi =
        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (int co = co0; co < co0 + cob; co++) {
        const float *mc = m + (size_t)(co - co0) * nt;
        float *yc = c->y + ((size_t)s * c->cout + co) * c->h * c->w;
        const __m512 bias = _mm512_set1_ps(c->b ? c->b[co] : 0.0f);
        for (int T = 0; T < nt; T += 16) {
            const int n = nt - T < 16 ? nt - T : 16;
            const __mmask16 mk = (__mmask16)((1u << n) - 1);
            __m512 mm[NP], sa[2][4], z[2][2];
            for (int p = 0; p < NP; p++) mm[p] = _mm512_maskz_loadu_ps(mk, mc + p * ldm + T);
            for (int j = 0; j < 4; j++) { /* along y: rows i of column j */
                sa[0][j] = _mm512_add_ps(_mm512_add_ps(mm[j], mm[4 + j]), mm[8 + j]);
                sa[1][j] = _mm512_sub_ps(_mm512_sub_ps(mm[4 + j], mm[8 + j]), mm[12 + j]);
            }
            for (int a = 0; a < 2; a++) {
                z[a][0] =
                    _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(sa[a][0], sa[a][1]), sa[a][2]), bias);
                z[a][1] =
                    _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(sa[a][1], sa[a][2]), sa[a][3]), bias);
            }
            if (fast) {
                const int k = T / ncc, t = T % ncc;
                for (int a = 0; a < 2; a++) {
                    float *o = yc + (size_t)(y0 + 2 * k + a) * c->w + x0 + 2 * t;
                    _mm512_storeu_ps(o, _mm512_permutex2var_ps(z[a][0], lo, z[a][1]));
                    _mm512_storeu_ps(o + 16, _mm512_permutex2var_ps(z[a][0], hi, z[a][1]));
                }
                continue;
            }
            float zz[2][2][16];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) _mm512_storeu_ps(zz[a][b], z[a][b]);
            for (int l = 0; l < n; l++) {
                const int k = (T + l) / ncc, t = (T + l) % ncc;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        const int oy = y0 + 2 * k + a, ox = x0 + 2 * t + b;
                        if (oy < c->h && ox < c->w) yc[(size_t)oy * c->w + ox] = zz[a][b][l];
                    }
            }
        }
    }
    if (prof) sg__prof_add(SG_PROF_WINO_OUT, t0, 0);
}

static size_t slot_floats(const w2 *c) {
    const size_t nt = (size_t)c->nr * c->nc;
    return NP * ((size_t)c->cin / 2 * nt + (size_t)c->cob * nt) + 64;
}

/* V + M of a task within L2 (with room for the U panels streaming past) */
#define SLOT_BYTES ((size_t)768 << 10) /* 384 KiB: 1.8× the input-transform time (bench_layers) */

int sg__wino2_bf16(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                   sg_workspace *ws, int up, const sg_preact *pre, sg_packed_weights *bw) {
    const int cin = x->c, cout = y->c, h = y->h, wd = y->w;
    if (!ws || !ws->buf || cin % 2 || cout % 8 || (up && (h % 2 || wd % 2))) return -1;
    w2 c = {.x = x->data,
            .b = b,
            .y = y->data,
            .pre = pre,
            .up = up,
            .n = x->n,
            .cin = cin,
            .cout = cout,
            .h = h,
            .w = wd}; /* the blocking and U: below */
    c.u = sg__bf16_wino2_u(bw, w, cout, cin, &c.ldu);
    if (!c.u) return -1;
    c.th = (h + 1) / 2, c.tw = (wd + 1) / 2;
    c.nc = c.tw < 128 ? c.tw : 128;
    c.nr = 128 / c.nc > 1 ? 128 / c.nc : 1;
    if (c.nr > c.th) c.nr = c.th;
    c.cob = cout;
    const int threads = sg__threads();
    for (;;) { /* shrink the block until V + M fit, tiles first while ≥ 32, then channels */
        const size_t bytes = 4 * NP * ((size_t)cin / 2 + (size_t)c.cob) * c.nr * c.nc;
        if (bytes <= SLOT_BYTES) break;
        if (c.nr > 1) c.nr = (c.nr + 1) / 2;
        else if (c.nc >= 64 && c.nc % 32 == 0) c.nc /= 2;
        else if (c.cob % 16 == 0 && c.cob > 32) c.cob /= 2;
        else break;
    }
    c.bh = (c.th + c.nr - 1) / c.nr, c.bw = (c.tw + c.nc - 1) / c.nc;
    /* few tiles (16², 32² layers): split the output channels too, so every thread has work */
    while ((size_t)x->n * c.bh * c.bw * ((cout + c.cob - 1) / c.cob) < 2 * (size_t)threads &&
           c.cob % 16 == 0 && c.cob >= 64)
        c.cob /= 2;
    c.nco = (cout + c.cob - 1) / c.cob;
    c.slot = slot_floats(&c);
    if ((size_t)threads * c.slot > ws->cap) return -1;
    c.slots = ws->buf;
    const double t0 = sg__prof_now();
    sg__parallel(x->n * c.bh * c.bw * c.nco, task, &c);
    sg__prof_add(up ? SG_PROF_UP2 : SG_PROF_WINO, t0, 2.0 * 9 * cout * cin * (double)h * wd * x->n);
    return 0;
}

/* U[p] = G g Gᵀ of every (co, ci), in the pair panels above; u has 16·ldu words */
void sg__bf16_wino2_weights(const float *w, int cout, int cin, uint32_t *u, size_t ldu) {
    const int cin2 = cin / 2;
    uint16_t *h = (uint16_t *)u;
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++) {
            const float *g = w + ((size_t)co * cin + ci) * 9;
            float gg[4][3], o[4][4];
            for (int j = 0; j < 3; j++) {
                const float a = g[j], bb = g[3 + j], cc = g[6 + j];
                gg[0][j] = a, gg[1][j] = 0.5f * (a + bb + cc), gg[2][j] = 0.5f * (a - bb + cc);
                gg[3][j] = cc;
            }
            for (int i = 0; i < 4; i++) {
                const float a = gg[i][0], bb = gg[i][1], cc = gg[i][2];
                o[i][0] = a, o[i][1] = 0.5f * (a + bb + cc), o[i][2] = 0.5f * (a - bb + cc);
                o[i][3] = cc;
            }
            const size_t word = (size_t)(co / 8) * 8 * cin2 + (size_t)(ci / 2) * 8 + co % 8;
            for (int p = 0; p < NP; p++)
                h[2 * (p * ldu + word) + ci % 2] = (uint16_t)sg__bf16_bits(o[p / 4][p % 4]);
        }
}
