/* net/'s internal header, shared by its .c files and never included outside net/: the conv
 * geometry and the helpers the conv algorithms share (conv.c, conv_up2.c, winograd.c), the thread
 * pool (pool.c), the profiler hooks (profile.c), and the table of CPU-specific kernels chosen once
 * at run time (cpu.c; built from kern_template.h). */
#ifndef SG_NET_INTERNAL_H
#define SG_NET_INTERNAL_H

#include "net.h"

typedef struct {
    int cin, h, w, kh, kw, stride, pad, ho, wo;
} conv_geom;

static inline size_t sg__round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* y[Cout, ld] columns [p0, p0 + P) = b[co] (0 without bias), for a GEMM to accumulate onto. */
void sg__fill_bias(float *y, const float *b, int cout, size_t ld, int p0, int P);

/* Floats of a zero-padded band for `rows` output rows: rows + kh - 1 input rows of width
 * wp = W + 2·pad, plus kw - 1 so the last tap of the last (garbage) column stays inside. */
static inline size_t sg__band_len(const conv_geom *g, int wp, int rows) {
    return (size_t)(rows + g->kh - 1) * wp + (size_t)(g->kw - 1);
}
/* band[c] = input rows oy0 - pad ... oy0 + rows + kh - 2 - pad of channel c of x[Cin, H, W],
 * each zero-padded to wp (zero rows outside the image), then kw - 1 zeros; channel stride len. */
void sg__shift_band(const conv_geom *g, const float *x, int wp, int oy0, int rows, float *band,
                    size_t len);

/* ---- thread pool (pool.c) ------------------------------------------------------------------
 * Runs fn(ctx, task, thread) for every task < ntasks on up to sg__threads() threads; thread is
 * a slot index < sg__threads() for per-thread scratch. Serial when the pool is busy. */
int sg__threads(void);
void sg__parallel(int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx);

/* C[M, N] = bias[i] + A[M, K] · B[K, N] (bias NULL: 0 +), on the pool: the sums start at the
 * bias, the same bytes as filling C with it and accumulating, without that pass over C. */
void sg__gemm_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   const float *bias, float *C, int ldc);

/* C[M, N] (+)= Σ_{t < taps} A_t · B_t with A_t = A + t·astride ([M, K], lda) and B_t = B + boff[t]
 * ([K, N], ldb; boff NULL: all at B), on the pool. Conv taps read one shifted band this way
 * (B_t = band at offset ky·Wp + kx). acc = 0 overwrites C. */
void sg__gemm_taps(int M, int N, int K, int taps, const float *A, size_t astride, int lda,
                   const float *B, int ldb, const size_t *boff, float *C, int ldc, int acc);

/* sg__gemm_taps with A_t = w[:, :, t] of conv weights w[M, K, taps], reordered per row block
 * inside the tasks (into scratch: M·K·taps floats) instead of in a separate pass. Returns -1
 * (nothing done) when the product does not split by row blocks; the caller then reorders w
 * whole and calls sg__gemm_taps. */
int sg__gemm_wtaps(int M, int N, int K, int taps, const float *w, float *scratch, const float *B,
                   int ldb, const size_t *boff, float *C, int ldc, int acc);

/* ---- profiling (sg_profile_* in net.h): families; t0 = sg__prof_now() (0 when off) -------- */
enum {
    SG_PROF_WINO,
    SG_PROF_WINO_W,
    SG_PROF_WINO_IN,
    SG_PROF_WINO_GEMM,
    SG_PROF_WINO_OUT,
    SG_PROF_SHIFT,
    SG_PROF_IM2COL,
    SG_PROF_POINTWISE,
    SG_PROF_DIRECT,
    SG_PROF_UP2,
    SG_PROF_DEPTHWISE,
    SG_PROF_NORM,
    SG_PROF_ELEMENTWISE,
    SG_PROF_RESAMPLE,
    SG_PROF_LINEAR,
    SG_PROF_N
};
double sg__prof_now(void);
void sg__prof_add(int family, double t0, double nominal_flops);

/* ---- Winograd F(4×4, 3×3) ------------------------------------------------------------------
 * Tiles of 4×4 outputs read 6×6 inputs; 36 transformed-domain positions p = 6·i + j.
 * The kernels below work on one row of tiles (nt tiles, vectorised across tiles). */
#define SG_WINO_M 4
#define SG_WINO_A 6
#define SG_WINO_P 36

typedef struct {
    const char *name; /* "plain", "avx2", "avx512", "neon" */
    int own_gemm;     /* 1: gemm below beats single-threaded OpenBLAS, sg_gemm uses it */
    /* mean and biased variance of n floats (double accumulation, two passes) */
    void (*plane_stats)(const float *p, size_t n, double *mean, double *var);
    /* o[i] = act(((x[i] - sub) - lo)·mul + add), act(v) = v > 0 ? v : v·slope, i < n (o may be
     * x): a row of sg_preact */
    void (*act_row)(const float *x, size_t n, float sub, float lo, float mul, float add,
                    float slope, float *o);
    /* p = p·scale + shift (in double, rounded once) */
    void (*affine)(float *p, size_t n, double scale, double shift);
    /* u[p·ldu + j - k0] = (G g Gᵀ)[p], p < 36, for the slots k0 ≤ j < k0 + count (u points at
     * slot k0 of position 0): g = w[9k ...] with
     * k = j = co·cin + ci when mr = 0, else j in the packed order of gemm_packed (panels of mr
     * output channels: j = (co/mr)·mr·cin + ci·mr + co%mr); mr < 0: that order for panels of
     * -mr with w itself in gather order (sg__wino4_wg: vector loads instead of a strided
     * gather). stream: non-temporal stores (U larger than the caches: no read-for-ownership of
     * lines that are only written). */
    void (*wino_w)(const float *w, size_t k0, size_t count, float *u, size_t ldu, int cin, int mr,
                   int stream);
    /* C[M, N] (+)= A · B with A packed in mr-row panels [M/mr][K][mr]; M % mr == 0, N % vl == 0;
     * acc: C += (the sum continues in the same order, so K split into blocks gives the bytes of
     * one call). */
    void (*gemm_packed)(int M, int N, int K, const float *Ap, const float *B, int ldb, float *C,
                        int ldc, int acc);
    /* C[t][j] (+)= Σ_k V[k·ldv + t] · Bp[k·32 + j] for t < nt (nt % mr == 0), j < 32: the
     * transposed product of a few tiles (32 output channels along the vector lanes, the tiles
     * broadcast). The same sums in the same order as gemm_packed of the transposed operands.
     * NULL where 32 is not a whole kernel width (only avx512 has it). */
    void (*gemm_t32)(int nt, int K, const float *V, int ldv, const float *Bp, float *C, int acc);
    int mr, vl; /* gemm_packed's panel height and vector width (floats) */
    /* C[M, N] = A[M, K] · B[K, N] (+ C when acc; onto bias[i] instead when bias is not NULL),
     * row-major with leading dimensions: register-blocked, single-threaded (the Winograd
     * products and sg_gemm's per-thread parts; B's rows may be any strided view such as a
     * shifted band). The bias is where the sums start, as a fill of C then acc would. */
    void (*gemm)(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, int acc, const float *bias);
    /* v[p·ldv + T] = (Bᵀ d_T B)[p] for the nr·tw tiles T = k·tw + t of one channel of a task: d_T
     * is the 6×6 patch at rows 4k .. 4k + 5, columns 4t .. 4t + 5 of band (rows of lrow ≥ 4·tw + 4
     * floats, zero-padded: band column c is image column c - 1). up: the band is a nearest 2×
     * upsample, so row 2 and column 2 of every 6×6 are +0: those 11 positions are left
     * unwritten (winograd.c, up_skip). */
    void (*wino_in)(const float *band, int lrow, int nr, int tw, float *v, size_t ldv, int up);
    /* y[4k + a][4t + b] = (Aᵀ m_T A)[a][b] + bias, m_T[p] = m[p·ldm + T], for the same tiles of
     * one output channel; y is the task's first output row (stride w), only rows < rows_left
     * and columns < w are written. */
    void (*wino_out)(const float *m, size_t ldm, int nr, int tw, float bias, float *y, int w,
                     int rows_left);
    /* the same with the 2×2 average pool after it: y the pooled plane (stride w/2, from the
     * task's first pooled row), the bytes of wino_out then sg_avg_pool2; w, rows_left even */
    void (*wino_out_pool)(const float *m, size_t ldm, int nr, int tw, float bias, float *y, int w,
                          int rows_left);
    /* Output rows of sg_conv2d_dw3x3 (depthwise.c) from a band of zero-padded input rows:
     * y[i·ldy + j] = min(max(ep[0]·acc + ep[1], ep[2]), ep[3]) for i < rows, j < n, with
     * acc = Σ_{ky,kx < 3} k[3ky + kx]·b(s·i + ky, kx % s, j + kx / s) and b(r, p, t) =
     * band[r·ld + p·lp + t]: band row r holds an input row as its s ≤ 2 column phases (phase p,
     * lp floats: column s·t + p of the strip at t), readable up to t < n + vl + 2. */
    void (*dw3_rows)(const float *band, size_t ld, size_t lp, int rows, int s, int n,
                     const float k[9], const float ep[4], float *y, size_t ldy);
    /* A band row for dw3_rows: a[p·lp + t] = x[c0 + s·t + p] for the t < lp, p < s with
     * c0 + s·t + p in [0, W), the rest of a left as it is (the zero padding, written once per
     * strip): input row x (W floats) as the s column phases of a strip (stride 2: its even and
     * odd columns, split by vector permutes) */
    void (*dw3_load)(const float *x, int W, int c0, int s, int lp, float *a);
} sg_kernels;

/* The kernels for this CPU (SG_CPU=plain|avx2|avx512, neon on aarch64, forces a supported one),
 * chosen once. Only this architecture's tables are built. */
const sg_kernels *sg__kernels(void);

/* o = pre(x) for n floats of plane k (= n·C + c) of the pre-activation's input */
static inline void sg__pre_row(const sg_preact *p, size_t k, const float *x, size_t n, float *o) {
    sg__kernels()->act_row(x, n, p->sub ? p->sub[k] : 0.0f, p->sub_lo ? p->sub_lo[k] : 0.0f,
                           p->mul ? p->mul[k] : 1.0f, p->add ? p->add[k] : 0.0f, p->slope, o);
}

/* sg_conv2d_winograd, or with up = 1 the same conv on the nearest 2× upsample of x
 * (x [N, Cin, H/2, W/2], y [N, Cout, H, W]): the input transform reads the low-resolution rows;
 * x read as pre(x) when pre is not NULL. Returns -1 (nothing written) when it cannot run. */
int sg__conv_winograd(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                      sg_workspace *ws, int up, const sg_preact *pre);

/* Winograd from this many output pixels up (3×3, stride 1, pad 1), with ≥ 16 channels in and out */
#define SG_WINO_MIN_PIXELS (32 * 32)
/* Whether Winograd beats the direct paths for a stride-1 pad-1 3×3 conv cin → cout with h×w
 * outputs (bench_layers, 2 threads; bench/README.md): from 32² up (SG_WINO_MIN_PIXELS), and at
 * 16² where it splits by output channels. */
int sg__wino_pays(int cin, int cout, int h, int w);

extern const sg_kernels sg__kernels_plain, sg__kernels_avx2, sg__kernels_avx512, sg__kernels_neon;
/* k's rank among this architecture's paths: 0 plain, 1 avx2 or neon, 2 avx512 */
int sg__kernels_index(const sg_kernels *k);

/* ---- the packed-weights cache (packed.c) ----------------------------------------------------
 * The calling thread's bf16 weight set (sg_packed_use), or NULL: fp32. Jobs handed to the pool
 * capture it on the caller's thread. */
sg_packed_weights *sg__bf16_current(void);
/* The calling thread's set whatever its precision (an fp32 set holds Winograd U), or NULL. */
sg_packed_weights *sg__packed_current(void);
/* The fp32 F(4,3) U of w as k->wino_w writes it (panel order mr, or 0), 36 positions of ldu
 * floats, made on first use and kept; NULL without an fp32 set (the caller transforms per
 * call). */
const float *sg__wino4_u(sg_packed_weights *pw, const sg_kernels *k, const float *w, int cout,
                         int cin, int mr, size_t ldu);
/* w [Cout, Cin, 3, 3] in the gather order of k->wino_w with mr < 0: [Cout/m][Cin][9][m]
 * (Cout % m == 0), made on first use and kept; NULL without an fp32 set. The channel-block
 * path, which makes U per call, reads its weights this way. */
const float *sg__wino4_wg(sg_packed_weights *pw, const float *w, int cout, int cin, int m);
/* Linear weights w [out, in] (in ≤ 2048) packed once by sg__bf16_pack_a; NULL when they cannot
 * be (the caller converts on the fly). */
const uint32_t *sg__bf16_linear_w(sg_packed_weights *bw, const float *w, int out, int in);
/* The bf16 F(2×2, 3×3) U of w [Cout, Cin, 3, 3] (kern_wino2_bf16.c's pair panels, 16 positions
 * of ldu words), made on first use; NULL when it cannot be (odd Cin, Cout % 8, no memory). */
const uint32_t *sg__bf16_wino2_u(sg_packed_weights *bw, const float *w, int cout, int cin,
                                 size_t *ldu);

/* ---- bf16 products (kern_bf16.c, kern_wino2_bf16.c; bf16.c says which CPUs run them) --------
 * fp32 → bf16 bits, round to nearest even (denormals to zero and NaN kept quiet, as the
 * AVX512-BF16 conversions do) */
static inline uint32_t sg__bf16_bits(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0) return (u >> 16) & 0x8000u;
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (u >> 16) | 0x40u;
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}
/* kern_bf16.c (AVX512-BF16; call only when sg_bf16_unsupported() is NULL):
 * C[M, N] (+)= A[M, K] · B[K, N], A row-major (lda), B[k][j] = B[k·rs + j·cs], bf16 products
 * with both operands converted on the fly; single-threaded. */
void sg__bf16_gemm(int M, int N, int K, const float *A, int lda, const float *B, size_t rs,
                   size_t cs, float *C, int ldc, int acc);
/* C[M, N] (+)= Ap · Bp: Ap in pair panels [M/8][K2][8] (32-bit words of two bf16, M % 8 == 0),
 * Bp [K2][ldb] pair words (row k2 = rows 2·k2, 2·k2 + 1 of B); any N. */
void sg__bf16_gemm_packed(int M, int N, int K2, const uint32_t *Ap, const uint32_t *Bp, size_t ldb,
                          float *C, int ldc, int acc);
/* out[kp·ldo + j] = pair (B[2kp][j], B[2kp + 1][j]) (a zero partner past K), B[k][j] =
 * B[k·rs + j·cs]; columns N .. round16(N) written as zeros. */
void sg__bf16_pack_b(const float *B, size_t rs, size_t cs, int K, int N, uint32_t *out, size_t ldo);
/* sg_conv2d_winograd's conv (up: on the nearest 2× upsample of x, pre: x read as pre(x)) by
 * Winograd F(2×2, 3×3) with bf16 products, U from bw; -1 (nothing written) when it cannot run. */
int sg__wino2_bf16(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                   sg_workspace *ws, int up, const sg_preact *pre, sg_packed_weights *bw);
/* U of every (co, ci) of w into u (16 positions of ldu words) */
void sg__bf16_wino2_weights(const float *w, int cout, int cin, uint32_t *u, size_t ldu);
/* w [M, K] → pair panels [ceil(M/8)][ceil(K/2)][8] (zero rows and partner past the ends) */
void sg__bf16_pack_a(const float *w, int M, int K, uint32_t *ap);
/* y[n, out] += x[n, in] · wᵀ, w packed by sg__bf16_pack_a, in ≤ 2048 */
void sg__bf16_linear(const float *x, int n, int in, const uint32_t *wp, int out, float *y);

#endif
