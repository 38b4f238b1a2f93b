/* Template of the CPU-specific kernels: included once per instruction set by kern_plain.c,
 * kern_avx2.c and kern_avx512.c, each compiled with its own target flags (see CMakeLists.txt),
 * so the same plain C loops are vectorised for SSE2, AVX2+FMA and AVX-512. SG_KNAME names the
 * variant. Every loop runs across the tiles of one tile row (contiguous, unit stride), which is
 * what the vectoriser wants; the only strided accesses are the ×4 de-interleave of input rows and
 * the ×4 interleave of output rows.
 *
 * Winograd F(4×4, 3×3) (Lavin & Gray), tile = 6×6 inputs → 4×4 outputs:
 *   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * (G, the weight side, lives in winograd.c: it runs once per call in double.) */
#include <string.h>

#include "conv_internal.h"

#define SG_CAT2(a, b) a##_##b
#define SG_CAT(a, b) SG_CAT2(a, b)
#define SG_FN(f) SG_CAT(f, SG_KNAME)

/* One 6-point Bᵀ pass: out[j][t] = Σ_k Bᵀ[j][k]·d_k[t], for vectors d0..d5 over tiles. */
static inline void SG_FN(bt6)(const float *restrict d0, const float *restrict d1,
                              const float *restrict d2, const float *restrict d3,
                              const float *restrict d4, const float *restrict d5, int nt,
                              float *restrict o, size_t ldo) {
    float *restrict o0 = o, *restrict o1 = o + ldo, *restrict o2 = o + 2 * ldo;
    float *restrict o3 = o + 3 * ldo, *restrict o4 = o + 4 * ldo, *restrict o5 = o + 5 * ldo;
    for (int t = 0; t < nt; t++) {
        const float a = d4[t] - 4.0f * d2[t], b = d3[t] - 4.0f * d1[t];
        const float c = d4[t] - d2[t], e = 2.0f * (d3[t] - d1[t]);
        o0[t] = 4.0f * d0[t] - 5.0f * d2[t] + d4[t];
        o1[t] = a + b;
        o2[t] = a - b;
        o3[t] = c + e;
        o4[t] = c - e;
        o5[t] = 4.0f * d1[t] - 5.0f * d3[t] + d5[t];
    }
}

#if SG_VL == 16
typedef float SG_FN(v16) __attribute__((vector_size(64)));
typedef int SG_FN(i16) __attribute__((vector_size(64)));
/* q[k·nt + t] = r[4t + k] (k < 6) for whole chunks of 8 tiles with three two-source permutes per
 * chunk (vpermt2ps) instead of 48 scalar moves: the scalar de-interleave was most of the input
 * transform. Reads r up to r[4·nt + 3] (the padded rows are ≥ 4·nt + 4 floats). Returns the
 * tiles done. */
/* gcc's __builtin_shuffle takes the index vector as a value; clang (the fuzz builds) spells the
 * same permute __builtin_shufflevector with constant indices */
#ifdef __clang__
#define SG_EVEN_IDX 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29
#define SG_ODD_IDX 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31
#define SG_SHUFFLE_EVEN(a, b) __builtin_shufflevector(a, b, SG_EVEN_IDX)
#define SG_SHUFFLE_ODD(a, b) __builtin_shufflevector(a, b, SG_ODD_IDX)
#else
#define SG_SHUFFLE_EVEN(a, b) __builtin_shuffle(a, b, even)
#define SG_SHUFFLE_ODD(a, b) __builtin_shuffle(a, b, odd)
#endif
static int SG_FN(deinterleave)(const float *restrict r, int nt, float *restrict q) {
#ifndef __clang__
    const SG_FN(i16) even = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29};
    const SG_FN(i16) odd = {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
#endif
    int t = 0;
    for (; t + 8 <= nt; t += 8) {
        SG_FN(v16) v0, v1, w0, w1;
        memcpy(&v0, r + 4 * t, 64), memcpy(&v1, r + 4 * t + 16, 64);
        memcpy(&w0, r + 4 * t + 4, 64), memcpy(&w1, r + 4 * t + 20, 64);
        const SG_FN(v16) k01 = SG_SHUFFLE_EVEN(v0, v1); /* k = 0 | k = 1 */
        const SG_FN(v16) k23 = SG_SHUFFLE_ODD(v0, v1);  /* k = 2 | k = 3 */
        const SG_FN(v16) k45 = SG_SHUFFLE_EVEN(w0, w1); /* k = 4 | k = 5 */
        const float *a = (const float *)&k01, *b = (const float *)&k23, *c = (const float *)&k45;
        memcpy(q + t, a, 32), memcpy(q + nt + t, a + 8, 32);
        memcpy(q + 2 * nt + t, b, 32), memcpy(q + 3 * nt + t, b + 8, 32);
        memcpy(q + 4 * nt + t, c, 32), memcpy(q + 5 * nt + t, c + 8, 32);
    }
    return t;
}
#else
static int SG_FN(deinterleave)(const float *restrict r, int nt, float *restrict q) {
    (void)r, (void)nt, (void)q;
    return 0; /* the scalar loop below */
}
#endif

/* Bᵀ along x of one padded row r (tile t covers r[4t .. 4t + 5]): h[j·nt + t]. The ×4
 * de-interleave goes through q[k·nt + t] = r[4t + k] first so Bᵀ itself runs on unit strides. */
static void SG_FN(row_in)(const float *restrict r, int nt, float *restrict q,
                          float *restrict h) {
    int t = SG_FN(deinterleave)(r, nt, q);
    for (; t < nt; t++) {
        const float *s = r + 4 * t;
        q[t] = s[0], q[nt + t] = s[1], q[2 * nt + t] = s[2], q[3 * nt + t] = s[3];
        q[4 * nt + t] = s[4], q[5 * nt + t] = s[5];
    }
    SG_FN(bt6)(q, q + nt, q + 2 * nt, q + 3 * nt, q + 4 * nt, q + 5 * nt, nt, h, (size_t)nt);
}

/* v[(6a + j)·ldv + t] = Σ_i Bᵀ[a][i] · (row i's Bᵀ along x)[j][t]. tmp: 6·6·nt + 6·nt floats. */
static void SG_FN(wino_in)(const float *const r[6], int nt, float *v, size_t ldv, float *tmp) {
    float *h = tmp, *q = tmp + 36 * (size_t)nt; /* h[i][j][t] */
    for (int i = 0; i < 6; i++) SG_FN(row_in)(r[i], nt, q, h + (size_t)i * 6 * nt);
    const size_t hs = 6 * (size_t)nt; /* stride between rows i of h */
    for (int j = 0; j < 6; j++) {
        const float *c = h + (size_t)j * nt;
        SG_FN(bt6)(c, c + hs, c + 2 * hs, c + 3 * hs, c + 4 * hs, c + 5 * hs, nt, v + j * ldv,
                   6 * ldv);
    }
}

/* One Aᵀ pass over 6 vectors: o[a][t] = Σ_i Aᵀ[a][i]·m_i[t] (+ bias), a < 4. */
static inline void SG_FN(at6)(const float *restrict m0, const float *restrict m1,
                              const float *restrict m2, const float *restrict m3,
                              const float *restrict m4, const float *restrict m5, int nt,
                              float bias, float *restrict o, size_t ldo) {
    float *restrict o0 = o, *restrict o1 = o + ldo, *restrict o2 = o + 2 * ldo;
    float *restrict o3 = o + 3 * ldo;
    for (int t = 0; t < nt; t++) {
        const float p12 = m1[t] + m2[t], d12 = m1[t] - m2[t];
        const float p34 = m3[t] + m4[t], d34 = m3[t] - m4[t];
        o0[t] = m0[t] + p12 + p34 + bias;
        o1[t] = d12 + 2.0f * d34 + bias;
        o2[t] = p12 + 4.0f * p34 + bias;
        o3[t] = d12 + 8.0f * d34 + m5[t] + bias;
    }
}

/* Output rows o[a] (NULL past the image), columns < wo, = Aᵀ m A + bias for each tile. */
static void SG_FN(wino_out)(const float *m, size_t ldm, int nt, float bias, float *const o[4],
                            int wo, float *tmp) {
    float *s = tmp, *z = tmp + 24 * (size_t)nt, *row = z + 24 * (size_t)nt;
    /* along y: s[a][j][t] = Σ_i Aᵀ[a][i] m[6i + j] (no bias yet) */
    for (int j = 0; j < 6; j++) {
        const float *c = m + j * ldm;
        SG_FN(at6)(c, c + 6 * ldm, c + 12 * ldm, c + 18 * ldm, c + 24 * ldm, c + 30 * ldm, nt,
                   0.0f, s + (size_t)j * nt, 6 * (size_t)nt);
    }
    for (int a = 0; a < 4; a++) {
        if (!o[a]) continue;
        const float *c = s + (size_t)a * 6 * nt;
        /* along x: z[b][t], then the ×4 interleave into the output row */
        SG_FN(at6)(c, c + nt, c + 2 * nt, c + 3 * nt, c + 4 * nt, c + 5 * nt, nt, bias, z,
                   (size_t)nt);
        float *d = 4 * nt <= wo ? o[a] : row;
        for (int t = 0; t < nt; t++) {
            d[4 * t] = z[t], d[4 * t + 1] = z[nt + t];
            d[4 * t + 2] = z[2 * nt + t], d[4 * t + 3] = z[3 * nt + t];
        }
        if (d == row) memcpy(o[a], row, (size_t)wo * sizeof(float));
    }
}

/* u[p·ldu + j] = (G g Gᵀ)[p] for the output slots k0 ≤ j < k0 + count, each filled from the 3×3
 * kernel g = w[9·src(j) ...], in chunks of 64 vectorised across j (the strided gather first,
 * then unit-stride math and 36 contiguous stores). src(j) = j (k = co·cin + ci order), or with
 * mr > 0 the packed-panel order of gemm_packed, j = (co/mr)·mr·cin + ci·mr + co%mr, so each
 * transformed-domain GEMM reads A as one stream.
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] */
#define WCH 64
static void SG_FN(wino_w)(const float *w, size_t k0all, size_t count, float *u, size_t ldu,
                          int cin, int mr) {
    float g[9][WCH], gg[6][3][WCH], o[6][WCH];
    const size_t panel = (size_t)mr * cin;
    for (size_t k0 = k0all; k0 < k0all + count; k0 += WCH) {
        const int n = k0all + count - k0 < WCH ? (int)(k0all + count - k0) : WCH;
        for (int t = 0; t < n; t++) {
            const size_t j = k0 + t;
            const size_t k = mr ? (j / panel * mr + j % mr) * cin + j % panel / mr : j;
            for (int i = 0; i < 9; i++) g[i][t] = w[k * 9 + i];
        }
        for (int j = 0; j < 3; j++) /* gg = G·g, column j */
            for (int t = 0; t < n; t++) {
                const float a = g[j][t], b = g[3 + j][t], c = g[6 + j][t];
                gg[0][j][t] = a * 0.25f;
                gg[1][j][t] = (a + b + c) * (-1.0f / 6);
                gg[2][j][t] = (a - b + c) * (-1.0f / 6);
                gg[3][j][t] = a * (1.0f / 24) + b * (1.0f / 12) + c * (1.0f / 6);
                gg[4][j][t] = a * (1.0f / 24) - b * (1.0f / 12) + c * (1.0f / 6);
                gg[5][j][t] = c;
            }
        for (int i = 0; i < 6; i++) { /* row i of gg·Gᵀ */
            for (int t = 0; t < n; t++) {
                const float a = gg[i][0][t], b = gg[i][1][t], c = gg[i][2][t];
                o[0][t] = a * 0.25f;
                o[1][t] = (a + b + c) * (-1.0f / 6);
                o[2][t] = (a - b + c) * (-1.0f / 6);
                o[3][t] = a * (1.0f / 24) + b * (1.0f / 12) + c * (1.0f / 6);
                o[4][t] = a * (1.0f / 24) - b * (1.0f / 12) + c * (1.0f / 6);
                o[5][t] = c;
            }
            for (int j = 0; j < 6; j++) memcpy(u + (6 * i + j) * ldu + k0, o[j], (size_t)n * 4);
        }
    }
}

/* ---- small GEMM: C[M, N] = A[M, K] · B[K, N] --------------------------------------------------
 * Register-blocked: an MR × (NV·VL) block of C lives in vector registers across the whole K loop;
 * per k, NV loads of B's row, MR broadcasts of A's column, MR·NV FMAs. SG_VL/SG_MR/SG_NV are set
 * per instruction set by the including file (16 registers for SSE2/AVX2, 32 for AVX-512). */
typedef float SG_FN(vf) __attribute__((vector_size(SG_VL * 4)));
#define VF SG_FN(vf)

static inline VF SG_FN(vload)(const float *p) {
    VF v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void SG_FN(vstore)(float *p, VF v) { memcpy(p, &v, sizeof v); }

#define UNROLL _Pragma("GCC unroll 16")
#define DEF_KERN(name, mr, nv)                                                                    \
    static void name(int K, const float *A, int lda, const float *B, int ldb, float *C,          \
                     int ldc, int acc) {                                                          \
        VF c[mr][nv];                                                                             \
        UNROLL for (int r = 0; r < mr; r++) UNROLL for (int v = 0; v < nv; v++)                   \
            c[r][v] = acc ? SG_FN(vload)(C + (size_t)r * ldc + v * SG_VL) : (VF){0};              \
        for (int k = 0; k < K; k++) {                                                             \
            VF b[nv];                                                                             \
            UNROLL for (int v = 0; v < nv; v++) b[v] = SG_FN(vload)(B + (size_t)k * ldb + v * SG_VL); \
            UNROLL for (int r = 0; r < mr; r++) {                                                 \
                const VF a = (VF){0} + A[(size_t)r * lda + k];                                    \
                UNROLL for (int v = 0; v < nv; v++) c[r][v] += a * b[v];                          \
            }                                                                                     \
        }                                                                                         \
        UNROLL for (int r = 0; r < mr; r++) UNROLL for (int v = 0; v < nv; v++)                   \
            SG_FN(vstore)(C + (size_t)r * ldc + v * SG_VL, c[r][v]);                              \
    }
DEF_KERN(SG_FN(kern_full), SG_MR, SG_NV)

/* The same MR × NV·VL block with A packed as [K][MR] (one sequential stream instead of MR
 * strided rows: the transformed weights come from memory, and MR concurrent strided streams
 * defeated the prefetcher: 12 vs 136 GFLOP/s on a 512→512 32² layer). */
static void SG_FN(kern_packed)(int K, const float *Ap, const float *B, int ldb, float *C, int ldc,
                               int nv) {
    VF c[SG_MR][SG_NV];
    UNROLL for (int r = 0; r < SG_MR; r++) UNROLL for (int v = 0; v < SG_NV; v++) c[r][v] = (VF){0};
    for (int k = 0; k < K; k++) {
        VF b[SG_NV];
        UNROLL for (int v = 0; v < SG_NV; v++) b[v] = v < nv ? SG_FN(vload)(B + (size_t)k * ldb + v * SG_VL) : (VF){0};
        UNROLL for (int r = 0; r < SG_MR; r++) {
            const VF a = (VF){0} + Ap[(size_t)k * SG_MR + r];
            UNROLL for (int v = 0; v < SG_NV; v++) c[r][v] += a * b[v];
        }
    }
    UNROLL for (int r = 0; r < SG_MR; r++) UNROLL for (int v = 0; v < SG_NV; v++)
        if (v < nv) SG_FN(vstore)(C + (size_t)r * ldc + v * SG_VL, c[r][v]);
}
DEF_KERN(SG_FN(kern_rows1), SG_MR, 1)
DEF_KERN(SG_FN(kern_cols), 1, SG_NV)
DEF_KERN(SG_FN(kern_one), 1, 1)

/* columns [j, N) of rows [i, i + rows): whole vectors, then scalars */
static void SG_FN(gemm_tail)(int rows, int j, int N, int K, const float *A, int lda,
                             const float *B, int ldb, float *C, int ldc, int acc) {
    for (int r = 0; r < rows; r++) {
        const float *a = A + (size_t)r * lda;
        float *c = C + (size_t)r * ldc;
        int jj = j;
        for (; jj + SG_NV * SG_VL <= N; jj += SG_NV * SG_VL) SG_FN(kern_cols)(K, a, lda, B + jj, ldb, c + jj, ldc, acc);
        for (; jj + SG_VL <= N; jj += SG_VL) SG_FN(kern_one)(K, a, lda, B + jj, ldb, c + jj, ldc, acc);
        for (; jj < N; jj++) {
            float s = acc ? c[jj] : 0.0f;
            for (int k = 0; k < K; k++) s += a[k] * B[(size_t)k * ldb + jj];
            c[jj] = s;
        }
    }
}

/* One block of columns [j0, j1) over every row: B's K × (j1 - j0) panel stays in L2 while the
 * MR-row blocks of A stream past it. */
static void SG_FN(gemm_cols)(int M, int j0, int j1, int K, const float *A, int lda,
                             const float *B, int ldb, float *C, int ldc, int acc) {
    int i = 0;
    for (; i + SG_MR <= M; i += SG_MR) {
        const float *a = A + (size_t)i * lda;
        float *c = C + (size_t)i * ldc;
        int j = j0;
        for (; j + SG_NV * SG_VL <= j1; j += SG_NV * SG_VL) SG_FN(kern_full)(K, a, lda, B + j, ldb, c + j, ldc, acc);
        for (; j + SG_VL <= j1; j += SG_VL) SG_FN(kern_rows1)(K, a, lda, B + j, ldb, c + j, ldc, acc);
        if (j < j1) SG_FN(gemm_tail)(SG_MR, j, j1, K, a, lda, B, ldb, c, ldc, acc);
    }
    if (i < M) SG_FN(gemm_tail)(M - i, j0, j1, K, A + (size_t)i * lda, lda, B, ldb, C + (size_t)i * ldc, ldc, acc);
}

/* Column blocks of ~64K floats of B (a multiple of the kernel's width, at least one block):
 * a wide B (N = 4096) would otherwise be streamed from memory once per MR rows of A. */
static void SG_FN(gemm)(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        float *C, int ldc, int acc) {
    const int w = SG_NV * SG_VL;
    int nb = K > 0 ? (65536 / K) / w * w : N;
    if (nb < w) nb = w;
    for (int j0 = 0; j0 < N; j0 += nb)
        SG_FN(gemm_cols)(M, j0, j0 + nb < N ? j0 + nb : N, K, A, lda, B, ldb, C, ldc, acc);
}

/* C[M, N] = Ap · B with Ap packed in MR-row panels [M/MR][K][MR] (M % MR == 0, N % VL == 0:
 * the Winograd products, whose U is written in this order by wino_w). */
static void SG_FN(gemm_packed)(int M, int N, int K, const float *Ap, const float *B, int ldb,
                               float *C, int ldc) {
    for (int i = 0; i < M; i += SG_MR) {
        const float *a = Ap + (size_t)i * K;
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j += SG_NV * SG_VL) {
            const int nv = (N - j) / SG_VL < SG_NV ? (N - j) / SG_VL : SG_NV;
            SG_FN(kern_packed)(K, a, B + j, ldb, c + j, ldc, nv);
        }
    }
}

/* ---- norms: per-plane statistics and the fused affine (+ leaky ReLU) ---------------------------
 * Sums in double with 8 independent accumulators (vectorisable; the order differs from a serial
 * sum only in double rounding). Two passes: mean, then Σ(x - mean)² (no E[x²] - mean²). */
static void SG_FN(plane_stats)(const float *p, size_t n, double *mean, double *var) {
    double a[8] = {0}, s = 0.0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += p[i + j];
    for (; i < n; i++) s += p[i];
    s += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    const double m = n ? s / (double)n : 0.0;
    double v[8] = {0}, r = 0.0;
    for (i = 0; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            const double d = p[i + j] - m;
            v[j] += d * d;
        }
    for (; i < n; i++) r += (p[i] - m) * (p[i] - m);
    r += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    *mean = m, *var = n ? r / (double)n : 0.0;
}

/* p = p·scale + shift (in double, rounded once), then leaky ReLU with slope when lrelu != 0. */
static void SG_FN(affine)(float *p, size_t n, double scale, double shift, int lrelu,
                          float slope) {
    if (lrelu)
        for (size_t i = 0; i < n; i++) {
            const float v = (float)((double)p[i] * scale + shift);
            p[i] = v > 0.0f ? v : v * slope;
        }
    else
        for (size_t i = 0; i < n; i++) p[i] = (float)((double)p[i] * scale + shift);
}

const sg_kernels SG_CAT(sg__kernels, SG_KNAME) = {
    .plane_stats = SG_FN(plane_stats),
    .affine = SG_FN(affine),
    .gemm = SG_FN(gemm),
    .gemm_packed = SG_FN(gemm_packed),
    .mr = SG_MR,
    .vl = SG_VL,
    .wino_w = SG_FN(wino_w),
    .name = SG_KSTR,
    .own_gemm = SG_OWN_GEMM,
    .wino_in = SG_FN(wino_in),
    .wino_out = SG_FN(wino_out),
};
