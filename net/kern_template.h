/* Template of net/'s CPU-specific kernels (the sg_kernels table of net_internal.h): the Winograd
 * input/output/weight transforms, the GEMM micro-kernels, the norm statistics and
 * pre-activation rows, and the depthwise 3×3 rows. Included once per instruction set by
 * kern_plain.c, kern_avx2.c and kern_avx512.c (x86-64) or kern_plain.c and kern_neon.c
 * (aarch64), each compiled with its own target flags (see CMakeLists.txt), so the same plain C
 * (GCC vector extensions: VF is one vector of SG_VL floats) is built for SSE2, AVX2+FMA, AVX-512
 * and Advanced SIMD. SG_KNAME names the variant.
 *
 * Winograd F(4×4, 3×3) (Lavin & Gray), tile = 6×6 inputs → 4×4 outputs:
 *   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * (G, the weight side, is in wino_w below.) */
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdint.h>
#include <string.h>

#include "net_internal.h"

#define SG_CAT2(a, b) a##_##b
#define SG_CAT(a, b)  SG_CAT2(a, b)
#define SG_FN(f)      SG_CAT(f, SG_KNAME)

typedef float SG_FN(vf) __attribute__((vector_size(SG_VL * 4)));
#define VF SG_FN(vf)

static inline VF SG_FN(vload)(const float *p) {
    VF v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void SG_FN(vstore)(float *p, VF v) { memcpy(p, &v, sizeof v); }
/* *p in every lane, for the GEMM kernels' broadcasts: a load-and-broadcast (vbroadcastss from
 * memory). (VF){0} + *p, the vector extensions' usual splat, is an add GCC must keep (0 + -0 is
 * +0): a scalar add and a register shuffle on the FMA ports per broadcast (bench/README.md). */
static inline VF SG_FN(vsplat)(const float *p) {
#if SG_VL == 8 && defined(__AVX__)
    return (VF)_mm256_broadcast_ss(p); /* GCC's splat of *p: vbroadcastss xmm + vinsertf128 */
#elif SG_VL == 16 && defined(__AVX512F__)
    return (VF)_mm512_set1_ps(*p);
#else
    VF v;
    for (int i = 0; i < SG_VL; i++) v[i] = *p;
    return v;
#endif
}

/* ---- Winograd input and output transforms ------------------------------------------------------
 * Both run on groups of VL tiles at once, one tile per vector lane, with the whole 6×6 patch (or
 * the 36 products) of the group in vector registers: no scratch round trips. Tile T of a task is
 * tile row k = T / tw, column t = T % tw. The lanes are gathered (de-interleaved: lane l of d[j]
 * is column 4t + j) by permutes when each half of the group lies in one tile row (tw a multiple
 * of VL/2: every layer of the networks), else lane by lane (odd widths, a task's last group). */

/* o = Bᵀ d (6 points). Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *                           0 2 -1 -2 1 0; 0 4 0 -5 0 1] */
static inline void SG_FN(bt)(const VF d[6], VF o[6]) {
    const VF a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];
    const VF c = d[4] - d[2], e = 2.0f * (d[3] - d[1]);
    o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    o[1] = a + b, o[2] = a - b, o[3] = c + e, o[4] = c - e;
    o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* o = Aᵀ m (6 points → 4). Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */
static inline void SG_FN(at)(const VF m[6], VF o[4]) {
    const VF p12 = m[1] + m[2], d12 = m[1] - m[2], p34 = m[3] + m[4], d34 = m[3] - m[4];
    o[0] = m[0] + p12 + p34;
    o[1] = d12 + 2.0f * d34;
    o[2] = p12 + 4.0f * p34;
    o[3] = d12 + 8.0f * d34 + m[5];
}

#if SG_VL == 16
typedef int SG_FN(iv) __attribute__((vector_size(64)));
/* gcc's __builtin_shuffle takes the index vector as a value; clang (the fuzz builds) spells the
 * same two-source permute (vpermt2ps) __builtin_shufflevector with constant indices */
#ifdef __clang__
#define SG_PERM(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SG_PERM(a, b, ...) __builtin_shuffle(a, b, (SG_FN(iv)){__VA_ARGS__})
#endif
#define SG_EVEN 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29
#define SG_ODD  2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31
#define SG_LOLO 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define SG_HIHI 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31

/* d[j] lane l = (l < 8 ? pa[4l + j] : pb[4(l - 8) + j]), j < 6: per half three permutes give
 * [j=0 | j=1], [2 | 3], [4 | 5] of its 8 tiles, three pairs of permutes join the halves. */
static inline void SG_FN(gather6)(const float *pa, const float *pb, VF d[6]) {
    VF h[2][3];
    const float *p[2] = {pa, pb};
    for (int s = 0; s < 2; s++) {
        const VF v0 = SG_FN(vload)(p[s]), v1 = SG_FN(vload)(p[s] + 16);
        const VF w0 = SG_FN(vload)(p[s] + 4), w1 = SG_FN(vload)(p[s] + 20);
        h[s][0] = SG_PERM(v0, v1, SG_EVEN), h[s][1] = SG_PERM(v0, v1, SG_ODD);
        h[s][2] = SG_PERM(w0, w1, SG_EVEN);
    }
    for (int q = 0; q < 3; q++) {
        d[2 * q] = SG_PERM(h[0][q], h[1][q], SG_LOLO);
        d[2 * q + 1] = SG_PERM(h[0][q], h[1][q], SG_HIHI);
    }
}

/* the inverse for 4 output columns: pa[4l + b] = z[b] lane l (l < 8), pb[4(l - 8) + b] the rest */
static inline void SG_FN(scatter4)(const VF z[4], float *pa, float *pb) {
    const VF a01 = SG_PERM(z[0], z[1], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const VF a23 = SG_PERM(z[2], z[3], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const VF b01 =
        SG_PERM(z[0], z[1], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const VF b23 =
        SG_PERM(z[2], z[3], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#define SG_Q0 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23
#define SG_Q1 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31
    SG_FN(vstore)(pa, SG_PERM(a01, a23, SG_Q0)), SG_FN(vstore)(pa + 16, SG_PERM(a01, a23, SG_Q1));
    SG_FN(vstore)(pb, SG_PERM(b01, b23, SG_Q0)), SG_FN(vstore)(pb + 16, SG_PERM(b01, b23, SG_Q1));
}
#elif SG_VL == 8 && defined(__AVX__)
/* [p[0..3] | q[0..3]]: one half of the lanes from each */
static inline __m256 SG_FN(halves)(const float *p, const float *q) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(q), 1);
}
/* d[j] lane l = (l < 4 ? pa[4l + j] : pb[4(l - 4) + j]), j < 6: with r_i = [pa + 4i | pb + 4i],
 * d[0..3] is the in-lane 4×4 transpose of r_0..r_3 and d[4], d[5] the first two rows of
 * r_1..r_4's (floats up to 4·4 + 3 of each half are read: the band's rows hold them). */
static inline void SG_FN(gather6)(const float *pa, const float *pb, VF d[6]) {
    __m256 r[5];
    for (int i = 0; i < 5; i++) r[i] = SG_FN(halves)(pa + 4 * i, pb + 4 * i);
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 u0 = _mm256_unpacklo_ps(r[1], r[2]), u2 = _mm256_unpacklo_ps(r[3], r[4]);
    d[0] = (VF)_mm256_shuffle_ps(t0, t2, 0x44), d[1] = (VF)_mm256_shuffle_ps(t0, t2, 0xEE);
    d[2] = (VF)_mm256_shuffle_ps(t1, t3, 0x44), d[3] = (VF)_mm256_shuffle_ps(t1, t3, 0xEE);
    d[4] = (VF)_mm256_shuffle_ps(u0, u2, 0x44), d[5] = (VF)_mm256_shuffle_ps(u0, u2, 0xEE);
}
/* pa[4l + b] = z[b] lane l, pb[4l + b] = z[b] lane 4 + l (l, b < 4): the in-lane transpose */
static inline void SG_FN(scatter4)(const VF z[4], float *pa, float *pb) {
    const __m256 t0 = _mm256_unpacklo_ps((__m256)z[0], (__m256)z[1]),
                 t1 = _mm256_unpackhi_ps((__m256)z[0], (__m256)z[1]);
    const __m256 t2 = _mm256_unpacklo_ps((__m256)z[2], (__m256)z[3]),
                 t3 = _mm256_unpackhi_ps((__m256)z[2], (__m256)z[3]);
    const __m256 r[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                         _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
    for (int l = 0; l < 4; l++) {
        _mm_storeu_ps(pa + 4 * l, _mm256_castps256_ps128(r[l]));
        _mm_storeu_ps(pb + 4 * l, _mm256_extractf128_ps(r[l], 1));
    }
}
#else
static inline void SG_FN(gather6)(const float *pa, const float *pb, VF d[6]) {
    float q[6][SG_VL];
    for (int l = 0; l < SG_VL; l++) {
        const float *s = l < SG_VL / 2 ? pa + 4 * l : pb + 4 * (l - SG_VL / 2);
        for (int j = 0; j < 6; j++) q[j][l] = s[j];
    }
    for (int j = 0; j < 6; j++) d[j] = SG_FN(vload)(q[j]);
}
static inline void SG_FN(scatter4)(const VF z[4], float *pa, float *pb) {
    float q[4][SG_VL];
    for (int b = 0; b < 4; b++) SG_FN(vstore)(q[b], z[b]);
    for (int l = 0; l < SG_VL; l++) {
        float *d = l < SG_VL / 2 ? pa + 4 * l : pb + 4 * (l - SG_VL / 2);
        for (int b = 0; b < 4; b++) d[b] = q[b][l];
    }
}
#endif

/* Bᵀ d B of one group from its six input rows' patches d[i][j] (lane = tile), stored to
 * v[(6a + j)·ldv] (n lanes: whole vectors, or the first n < VL floats). */
static inline void SG_FN(in_group)(VF d[6][6], float *v, size_t ldv, int n, int up) {
    VF h[6][6], col[6], o[6];
    for (int i = 0; i < 6; i++) SG_FN(bt)(d[i], h[i]); /* along x: h[i][j] */
    for (int j = 0; j < 6; j++) {
        if (up && j == 2) continue; /* +0 (winograd.c, up_skip): not written, not read */
        for (int i = 0; i < 6; i++) col[i] = h[i][j];
        SG_FN(bt)(col, o); /* along y */
        for (int a = 0; a < 6; a++) {
            if (up && a == 2) continue;
            float *dst = v + (size_t)(6 * a + j) * ldv;
            if (n == SG_VL) SG_FN(vstore)(dst, o[a]);
            else memcpy(dst, &o[a], (size_t)n * sizeof(float));
        }
    }
}

/* v[p·ldv + T] = (Bᵀ d_T B)[p] for the nr·tw tiles of a task, one channel: d_T is the 6×6 patch
 * at rows 4k .. 4k + 5, columns 4t .. 4t + 5 of band (rows of lrow ≥ 4·tw + 4 floats, already
 * zero-padded: column c of the band is image column c - 1). */
static void SG_FN(wino_in)(const float *band, int lrow, int nr, int tw, float *v, size_t ldv,
                           int up) {
    const int ntot = nr * tw, half = SG_VL / 2, fast = tw % half == 0;
    for (int T = 0; T < ntot; T += SG_VL) {
        const int n = ntot - T < SG_VL ? ntot - T : SG_VL;
        VF d[6][6];
        if (fast && n == SG_VL) {
            const int ka = T / tw, ta = T % tw, kb = (T + half) / tw, tb = (T + half) % tw;
            const float *pa = band + (size_t)4 * ka * lrow + 4 * ta;
            const float *pb = band + (size_t)4 * kb * lrow + 4 * tb;
            for (int i = 0; i < 6; i++)
                SG_FN(gather6)(pa + (size_t)i * lrow, pb + (size_t)i * lrow, d[i]);
        } else {
            float q[6][6][SG_VL] = {{{0}}};
            for (int l = 0; l < n; l++) {
                const int k = (T + l) / tw, t = (T + l) % tw;
                const float *s = band + (size_t)4 * k * lrow + 4 * t;
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) q[i][j][l] = s[(size_t)i * lrow + j];
            }
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) d[i][j] = SG_FN(vload)(q[i][j]);
        }
        SG_FN(in_group)(d, v + T, ldv, n, up);
    }
}

/* z[a][b] (lane l: tile T + l) = (Aᵀ m_T A)[a][b] + bias */
static inline void SG_FN(out_z)(const float *m, size_t ldm, int T, float bias, VF z[4][4]) {
    VF s[4][6], col[6];
    for (int j = 0; j < 6; j++) { /* along y: s[a][j] = Σ_i Aᵀ[a][i] m[6i + j] */
        VF o[4];
        for (int i = 0; i < 6; i++) col[i] = SG_FN(vload)(m + (size_t)(6 * i + j) * ldm + T);
        SG_FN(at)(col, o);
        for (int a = 0; a < 4; a++) s[a][j] = o[a];
    }
    for (int a = 0; a < 4; a++) { /* along x: z[a][b] */
        SG_FN(at)(s[a], z[a]);
        for (int b = 0; b < 4; b++) z[a][b] += bias;
    }
}

/* y[4k + a][4t + b] = (Aᵀ m_T A)[a][b] + bias for the nr·tw tiles T of a task (m_T[p] =
 * m[p·ldm + T]), one output channel; y points at the task's first output row (row stride w),
 * rows_left output rows remain in the image from there: rows and columns past the image are
 * not written. */
static void SG_FN(wino_out)(const float *m, size_t ldm, int nr, int tw, float bias, float *y, int w,
                            int rows_left) {
    const int ntot = nr * tw, half = SG_VL / 2;
    const int fast = tw % half == 0 && 4 * tw == w;
    for (int T = 0; T < ntot; T += SG_VL) {
        const int n = ntot - T < SG_VL ? ntot - T : SG_VL;
        VF z[4][4];
        SG_FN(out_z)(m, ldm, T, bias, z);
        const int ka = T / tw, kb = (T + half) / tw;
        if (fast && n == SG_VL && 4 * kb + 3 < rows_left) {
            float *pa = y + (size_t)4 * ka * w + 4 * (T % tw);
            float *pb = y + (size_t)4 * kb * w + 4 * ((T + half) % tw);
            for (int a = 0; a < 4; a++)
                SG_FN(scatter4)(z[a], pa + (size_t)a * w, pb + (size_t)a * w);
            continue;
        }
        float q[4][4][SG_VL]; /* lane by lane: edges, odd widths, a task's last group */
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) SG_FN(vstore)(q[a][b], z[a][b]);
        for (int l = 0; l < n; l++) {
            const int k = (T + l) / tw, t = (T + l) % tw;
            for (int a = 0; a < 4 && 4 * k + a < rows_left; a++)
                for (int b = 0; b < 4 && 4 * t + b < w; b++)
                    y[(size_t)(4 * k + a) * w + 4 * t + b] = q[a][b][l];
        }
    }
}

/* wino_out with the 2×2 average pool after it: y is the pooled plane (row stride w/2, from the
 * task's first pooled row), pooled (2k + i, 2t + j) = 0.25·(((z₀₀ + z₀₁) + z₁₀) + z₁₁) of block
 * (i, j) of tile (k, t): sg_avg_pool2's sum in its order, so the bytes of the conv and then the
 * pool without the full-size output. w and rows_left even. */
static void SG_FN(wino_out_pool)(const float *m, size_t ldm, int nr, int tw, float bias, float *y,
                                 int w, int rows_left) {
    const int ntot = nr * tw, half = SG_VL / 2, wp = w / 2;
    const int fast = tw % half == 0 && 4 * tw == w;
    for (int T = 0; T < ntot; T += SG_VL) {
        const int n = ntot - T < SG_VL ? ntot - T : SG_VL;
        VF z[4][4], p[2][2];
        SG_FN(out_z)(m, ldm, T, bias, z);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                p[i][j] = 0.25f * (((z[2 * i][2 * j] + z[2 * i][2 * j + 1]) + z[2 * i + 1][2 * j]) +
                                   z[2 * i + 1][2 * j + 1]);
#if SG_VL == 16
        const int ka = T / tw, kb = (T + half) / tw;
        if (fast && n == SG_VL && 4 * kb + 3 < rows_left) { /* each half of the lanes one row */
            for (int i = 0; i < 2; i++) {
                float *pa = y + (size_t)(2 * ka + i) * wp + 2 * (T % tw);
                float *pb = y + (size_t)(2 * kb + i) * wp + 2 * ((T + half) % tw);
                SG_FN(vstore)
                (pa,
                 SG_PERM(p[i][0], p[i][1], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
                SG_FN(vstore)
                (pb, SG_PERM(p[i][0], p[i][1], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                             15, 31));
            }
            continue;
        }
#elif SG_VL == 8 && defined(__AVX__)
        const int ka = T / tw, kb = (T + half) / tw;
        if (fast && n == SG_VL && 4 * kb + 3 < rows_left) { /* each half of the lanes one row */
            for (int i = 0; i < 2; i++) {
                float *pa = y + (size_t)(2 * ka + i) * wp + 2 * (T % tw);
                float *pb = y + (size_t)(2 * kb + i) * wp + 2 * ((T + half) % tw);
                /* in-lane interleave of j = 0 and 1, then each half's two 128-bit pieces */
                const __m256 lo = _mm256_unpacklo_ps((__m256)p[i][0], (__m256)p[i][1]),
                             hi = _mm256_unpackhi_ps((__m256)p[i][0], (__m256)p[i][1]);
                _mm256_storeu_ps(pa, _mm256_permute2f128_ps(lo, hi, 0x20));
                _mm256_storeu_ps(pb, _mm256_permute2f128_ps(lo, hi, 0x31));
            }
            continue;
        }
#else
        (void)fast;
#endif
        float q[2][2][SG_VL];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) SG_FN(vstore)(q[i][j], p[i][j]);
        for (int l = 0; l < n; l++) {
            const int k = (T + l) / tw, t = (T + l) % tw;
            for (int i = 0; i < 2 && 4 * k + 2 * i < rows_left; i++)
                for (int j = 0; j < 2 && 4 * t + 2 * j < w; j++)
                    y[(size_t)(2 * k + i) * wp + 2 * t + j] = q[i][j][l];
        }
    }
}

/* u[p·ldu + j] = (G g Gᵀ)[p] for the output slots k0 ≤ j < k0 + count, each filled from the 3×3
 * kernel g = w[9·src(j) ...], one vector of slots at a time: the gather (strided) into nine
 * vectors, then G g Gᵀ in registers and 36 vector stores. src(j) = j (k = co·cin + ci order), or
 * with mr > 0 the packed-panel order of gemm_packed, j = (co/mr)·mr·cin + ci·mr + co%mr, so each
 * transformed-domain GEMM reads A as one stream; mr < 0: that order for panels of -mr, w itself
 * kept in gather order (wload_g: vector loads, no strided gather).
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] */

/* o = G·(a, b, c) (the same formula for the rows of g and then the rows of G·g) */
static inline void SG_FN(g3)(VF a, VF b, VF c, VF o[6]) {
    o[0] = a * 0.25f;
    o[1] = (a + b + c) * (-1.0f / 6);
    o[2] = (a - b + c) * (-1.0f / 6);
    o[3] = a * (1.0f / 24) + b * (1.0f / 12) + c * (1.0f / 6);
    o[4] = a * (1.0f / 24) - b * (1.0f / 12) + c * (1.0f / 6);
    o[5] = c;
}

/* a non-temporal store of one vector (aligned to its size): U bypasses the caches on its way out */
static inline void SG_FN(vstream)(float *d, VF v) {
#if SG_VL == 16
    _mm512_stream_ps(d, (__m512)v);
#elif SG_VL == 8
    _mm256_stream_ps(d, (__m256)v);
#elif defined(__x86_64__)
    _mm_stream_ps(d, (__m128)v);
#else /* aarch64: a plain store (STNP is only a hint, and GCC's vector stores are as good) */
    SG_FN(vstore)(d, v);
#endif
}
/* the streamed stores are complete before the pool's barrier (x86's are weakly ordered) */
#if defined(__x86_64__)
#define SG_SFENCE() _mm_sfence()
#else
#define SG_SFENCE() ((void)0)
#endif

/* q[i][t] = w[9·src(k0 + t) + i] for t < n (0 beyond, up to a whole vector), src as above;
 * *pi, *ci, *r: the packed-order position of slot k0, advanced past the n slots (counters: three
 * divisions per slot were most of this function's time) */
#define WCH 64 /* slots per gather: the vector loads come well after the scalar stores */
static void SG_FN(wgather)(const float *w, size_t k0, int n, int cin, int mr, size_t *pi,
                           size_t *ci, size_t *r, float q[9][WCH]) {
    for (int t = 0; t < n; t++) {
        const size_t k = mr ? (*pi * mr + *r) * cin + *ci : k0 + t;
        for (int i = 0; i < 9; i++) q[i][t] = w[k * 9 + i];
        if (mr && ++*r == (size_t)mr) {
            *r = 0;
            if (++*ci == (size_t)cin) *ci = 0, ++*pi;
        }
    }
    for (int t = n; t < (n + SG_VL - 1) / SG_VL * SG_VL; t++)
        for (int i = 0; i < 9; i++) q[i][t] = 0.0f;
}

/* o[6i + j] = (G g Gᵀ)[i][j] for one vector of slots, fully unrolled so that G·g (18 vectors)
 * stays in registers (rolled, GCC spilled it through the stack and ran twice the instructions).
 * Every store variant below goes through this one function: with -ffp-contract=fast the fused
 * multiply-adds GCC forms depend on the code's shape, and U must not depend on which variant
 * (kept, per call, streamed, partial) made it. */
static inline __attribute__((always_inline)) void SG_FN(wvec_o)(const VF g[9], VF o[36]) {
    VF gg[6][3];
    _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++) { /* gg = G·g, column j */
        VF col[6];
        SG_FN(g3)(g[j], g[3 + j], g[6 + j], col);
        _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) gg[i][j] = col[i];
    }
    _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) /* row i of gg·Gᵀ */
        SG_FN(g3)(gg[i][0], gg[i][1], gg[i][2], o + 6 * i);
}

/* u[p·ldu + off ...] = (G g Gᵀ)[p] for the n ≤ VL slots of one vector */
static inline void SG_FN(wvec)(const VF g[9], float *u, size_t ldu, size_t off, int n, int stream) {
    VF o[36];
    SG_FN(wvec_o)(g, o);
    float *d = u + off;
    if (n == SG_VL && !stream) { /* the common case: no branch per store */
        _Pragma("GCC unroll 36") for (int p = 0; p < 36; p++) SG_FN(vstore)(d + p * ldu, o[p]);
        return;
    }
    for (int p = 0; p < 36; p++, d += ldu) {
        if (n < SG_VL) {
            float t[SG_VL];
            SG_FN(vstore)(t, o[p]);
            memcpy(d, t, (size_t)n * 4);
        } else if (stream && (uintptr_t)d % (SG_VL * 4) == 0) SG_FN(vstream)(d, o[p]);
        else SG_FN(vstore)(d, o[p]);
    }
}

/* g[i] lane t = tap i of slot j + t, w in gather order [Cout/m][Cin][9][m] (slot j's tap i at
 * (j / m)·9m + i·m + j % m): runs of m floats, so a vector is one load (m a multiple of VL,
 * j % VL == 0) or two runs of VL/2 (m = 8 on avx512, 4 on avx2); else lane by lane. */
static inline void SG_FN(wload_g)(const float *w, size_t j, int n, int m, VF g[9]) {
    const float *s = w + j / m * 9 * m + j % m;
    if (n == SG_VL && m % SG_VL == 0 && j % SG_VL == 0) {
        for (int i = 0; i < 9; i++) g[i] = SG_FN(vload)(s + i * m);
        return;
    }
#if SG_VL == 16
    if (n == SG_VL && m == 8 && j % 8 == 0) {
        for (int i = 0; i < 9; i++) {
            const __m256 lo = _mm256_loadu_ps(s + i * 8), hi = _mm256_loadu_ps(s + 72 + i * 8);
            g[i] = (VF)_mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
        }
        return;
    }
#elif SG_VL == 8 && defined(__AVX__)
    if (n == SG_VL && m == 4 && j % 4 == 0) { /* two runs of 4, as gather6's halves */
        for (int i = 0; i < 9; i++) g[i] = (VF)SG_FN(halves)(s + i * 4, s + 36 + i * 4);
        return;
    }
#endif
    float q[9][SG_VL] = {{0}};
    for (int t = 0; t < n; t++)
        for (int i = 0; i < 9; i++) q[i][t] = w[(j + t) / m * 9 * m + i * m + (j + t) % m];
    for (int i = 0; i < 9; i++) g[i] = SG_FN(vload)(q[i]);
}

/* Floats ahead of the gather-order weights a vector reads that wino_w asks for: those weights
 * (the channel-block layers', read once per call) come from memory, and the hardware prefetcher
 * alone kept too few lines in flight between the transform's arithmetic (bench/README.md). */
#define WG_PREFETCH 2048
static void SG_FN(wino_w)(const float *w, size_t k0all, size_t count, float *u, size_t ldu, int cin,
                          int mr, int stream) {
    if (mr < 0) { /* gather-order weights (sg__wino4_wg) */
        for (size_t t0 = 0; t0 < count; t0 += SG_VL) {
            const int n = count - t0 < SG_VL ? (int)(count - t0) : SG_VL;
            VF g[9];
            /* slot j's taps lie near w + 9j: the lines of the next 9·VL floats, further on */
            const uintptr_t ahead = (uintptr_t)(w + 9 * (k0all + t0)) + 4 * WG_PREFETCH;
            for (int l = 0; l < 9 * SG_VL; l += 16)
                __builtin_prefetch((const void *)(ahead + 4 * l));
            SG_FN(wload_g)(w, k0all + t0, n, -mr, g);
            SG_FN(wvec)(g, u, ldu, t0, n, stream);
        }
        if (stream) SG_SFENCE();
        return;
    }
    const size_t panel = (size_t)mr * cin;
    size_t pi = mr ? k0all / panel : 0, ci = mr ? k0all % panel / mr : 0, r = mr ? k0all % mr : 0;
    float q[9][WCH];
    for (size_t c0 = k0all; c0 < k0all + count; c0 += WCH) {
        const int nc = k0all + count - c0 < WCH ? (int)(k0all + count - c0) : WCH;
        SG_FN(wgather)(w, c0, nc, cin, mr, &pi, &ci, &r, q);
        for (int t0 = 0; t0 < nc; t0 += SG_VL) {
            VF g[9];
            for (int i = 0; i < 9; i++) g[i] = SG_FN(vload)(q[i] + t0);
            SG_FN(wvec)(g, u, ldu, c0 + t0 - k0all, nc - t0 < SG_VL ? nc - t0 : SG_VL, stream);
        }
    }
    if (stream) SG_SFENCE(); /* the streamed U is complete before the pool's barrier */
}

/* ---- small GEMM: C[M, N] = A[M, K] · B[K, N] --------------------------------------------------
 * Register-blocked: an MR × (NV·VL) block of C lives in vector registers across the whole K loop;
 * per k, NV loads of B's row, MR broadcasts of A's column, MR·NV FMAs. SG_VL/SG_MR/SG_NV are set
 * per instruction set by the including file (16 registers for SSE2/AVX2, 32 for AVX-512). */

#define UNROLL _Pragma("GCC unroll 16")
#define DEF_KERN(name, mr, nv)                                                                     \
    static void name(int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,   \
                     int acc, const float *bias) {                                                 \
        VF c[mr][nv];                                                                              \
        UNROLL for (int r = 0; r < mr; r++) UNROLL for (int v = 0; v < nv; v++) c[r][v] =          \
            bias  ? (VF){0} + bias[r]                                                              \
            : acc ? SG_FN(vload)(C + (size_t)r * ldc + v * SG_VL)                                  \
                  : (VF){0};                                                                       \
        for (int k = 0; k < K; k++) {                                                              \
            VF b[nv];                                                                              \
            UNROLL for (int v = 0; v < nv; v++) b[v] =                                             \
                SG_FN(vload)(B + (size_t)k * ldb + v * SG_VL);                                     \
            UNROLL for (int r = 0; r < mr; r++) {                                                  \
                const VF a = SG_FN(vsplat)(A + (size_t)r * lda + k);                               \
                UNROLL for (int v = 0; v < nv; v++) c[r][v] += a * b[v];                           \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int r = 0; r < mr; r++) UNROLL for (int v = 0; v < nv; v++)                    \
            SG_FN(vstore)(C + (size_t)r * ldc + v * SG_VL, c[r][v]);                               \
    }
DEF_KERN(SG_FN(kern_full), SG_MR, SG_NV)

/* The same MR × nv·VL block with A packed as [K][MR] (one sequential stream instead of MR
 * strided rows: the transformed weights come from memory, and MR concurrent strided streams
 * defeated the prefetcher on the 512→512 layers; bench/README.md). nv is a constant per
 * kernel: with it a run-time argument, a last block narrower than NV·VL (the 16 tiles of a 16²
 * layer on AVX2, where NV·VL = 24) still issued all NV·MR FMAs, a third of them on zeros. */
#define DEF_PACKED(name, nv)                                                                       \
    static void name(int K, const float *Ap, const float *B, int ldb, float *C, int ldc,           \
                     int acc) {                                                                    \
        VF c[SG_MR][nv];                                                                           \
        UNROLL for (int r = 0; r < SG_MR; r++) UNROLL for (int v = 0; v < nv; v++) c[r][v] =       \
            acc ? SG_FN(vload)(C + (size_t)r * ldc + v * SG_VL) : (VF){0};                         \
        for (int k = 0; k < K; k++) {                                                              \
            VF b[nv];                                                                              \
            UNROLL for (int v = 0; v < nv; v++) b[v] =                                             \
                SG_FN(vload)(B + (size_t)k * ldb + v * SG_VL);                                     \
            UNROLL for (int r = 0; r < SG_MR; r++) {                                               \
                const VF a = SG_FN(vsplat)(Ap + (size_t)k * SG_MR + r);                            \
                UNROLL for (int v = 0; v < nv; v++) c[r][v] += a * b[v];                           \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int r = 0; r < SG_MR; r++) UNROLL for (int v = 0; v < nv; v++)                 \
            SG_FN(vstore)(C + (size_t)r * ldc + v * SG_VL, c[r][v]);                               \
    }
DEF_PACKED(SG_FN(kern_packed), SG_NV)
DEF_PACKED(SG_FN(kern_packed1), 1)
#if SG_NV > 2
DEF_PACKED(SG_FN(kern_packed2), 2)
#endif

/* A block of nv < NV vectors of columns through the kernel of that width */
static void SG_FN(kern_packed_nv)(int K, const float *Ap, const float *B, int ldb, float *C,
                                  int ldc, int nv, int acc) {
#if SG_NV > 2
    if (nv == 2) {
        SG_FN(kern_packed2)(K, Ap, B, ldb, C, ldc, acc);
        return;
    }
#endif
    SG_ASSERT(nv == 1);
    SG_FN(kern_packed1)(K, Ap, B, ldb, C, ldc, acc);
}
DEF_KERN(SG_FN(kern_rows1), SG_MR, 1)
DEF_KERN(SG_FN(kern_cols), 1, SG_NV)
DEF_KERN(SG_FN(kern_one), 1, 1)

/* columns [j, N) of rows [i, i + rows): whole vectors, then scalars */
static void SG_FN(gemm_tail)(int rows, int j, int N, int K, const float *A, int lda, const float *B,
                             int ldb, float *C, int ldc, int acc, const float *bias) {
    for (int r = 0; r < rows; r++) {
        const float *a = A + (size_t)r * lda, *br = bias ? bias + r : NULL;
        float *c = C + (size_t)r * ldc;
        int jj = j;
        for (; jj + SG_NV * SG_VL <= N; jj += SG_NV * SG_VL)
            SG_FN(kern_cols)(K, a, lda, B + jj, ldb, c + jj, ldc, acc, br);
        for (; jj + SG_VL <= N; jj += SG_VL)
            SG_FN(kern_one)(K, a, lda, B + jj, ldb, c + jj, ldc, acc, br);
        for (; jj < N; jj++) {
            float s = br ? *br : acc ? c[jj] : 0.0f;
            for (int k = 0; k < K; k++) s += a[k] * B[(size_t)k * ldb + jj];
            c[jj] = s;
        }
    }
}

/* Rows [0, rows < MR) of columns [j0, j1): the rows zero-padded to MR and run through the full
 * kernel (its rows past `rows` land in scratch), so B is read once instead of once per row
 * (to_rgb's 3 output channels over a 256² image); the same sums in the same order as
 * gemm_tail, which takes the rest (long K, the last columns). */
#define FEW_K 512
static void SG_FN(gemm_few)(int rows, int j0, int j1, int K, const float *A, int lda,
                            const float *B, int ldb, float *C, int ldc, int acc,
                            const float *bias) {
    const int w = SG_NV * SG_VL;
    int j = j0;
    if (K <= FEW_K && j1 - j0 >= w) {
        float a[SG_MR * FEW_K], c[SG_MR * SG_NV * SG_VL], bb[SG_MR] = {0};
        memset(a, 0, sizeof(float) * SG_MR * K);
        for (int r = 0; r < rows; r++) {
            memcpy(a + (size_t)r * K, A + (size_t)r * lda, 4 * (size_t)K);
            if (bias) bb[r] = bias[r];
        }
        for (; j + w <= j1; j += w) {
            for (int r = 0; acc && !bias && r < rows; r++)
                memcpy(c + r * w, C + (size_t)r * ldc + j, 4 * w);
            SG_FN(kern_full)(K, a, K, B + j, ldb, c, w, acc, bias ? bb : NULL);
            for (int r = 0; r < rows; r++) memcpy(C + (size_t)r * ldc + j, c + r * w, 4 * w);
        }
    }
    if (j < j1) SG_FN(gemm_tail)(rows, j, j1, K, A, lda, B, ldb, C, ldc, acc, bias);
}

/* One block of columns [j0, j1) over every row: B's K × (j1 - j0) panel stays in L2 while the
 * MR-row blocks of A stream past it. */
static void SG_FN(gemm_cols)(int M, int j0, int j1, int K, const float *A, int lda, const float *B,
                             int ldb, float *C, int ldc, int acc, const float *bias) {
    int i = 0;
    for (; i + SG_MR <= M; i += SG_MR) {
        const float *a = A + (size_t)i * lda, *bi = bias ? bias + i : NULL;
        float *c = C + (size_t)i * ldc;
        int j = j0;
        for (; j + SG_NV * SG_VL <= j1; j += SG_NV * SG_VL)
            SG_FN(kern_full)(K, a, lda, B + j, ldb, c + j, ldc, acc, bi);
        for (; j + SG_VL <= j1; j += SG_VL)
            SG_FN(kern_rows1)(K, a, lda, B + j, ldb, c + j, ldc, acc, bi);
        if (j < j1) SG_FN(gemm_tail)(SG_MR, j, j1, K, a, lda, B, ldb, c, ldc, acc, bi);
    }
    if (i < M) {
        const float *ai = A + (size_t)i * lda;
        float *ci = C + (size_t)i * ldc;
        SG_FN(gemm_few)(M - i, j0, j1, K, ai, lda, B, ldb, ci, ldc, acc, bias ? bias + i : NULL);
    }
}

/* Whole kernel-width column blocks [j0, j0 + nw) of every row, B read from p: the block's
 * columns packed as [nw / w][K][w] (pack_b), so each kernel call reads one sequential panel. */
static void SG_FN(gemm_cols_p)(int M, int j0, int nw, int K, const float *A, int lda,
                               const float *p, float *C, int ldc, int acc, const float *bias) {
    const int w = SG_NV * SG_VL;
    for (int i = 0; i + SG_MR <= M; i += SG_MR)
        for (int j = 0; j < nw; j += w) SG_FN(kern_full)
    (K, A + (size_t)i * lda, lda, p + (size_t)j * K, w, C + (size_t)i * ldc + j0 + j, ldc, acc,
     bias ? bias + i : NULL);
}

/* p[(j / w)·K·w + k·w + j % w] = B[k][j0 + j] for j < nw (a multiple of w) */
static void SG_FN(pack_b)(const float *B, int ldb, int j0, int nw, int K, float *p) {
    const int w = SG_NV * SG_VL;
    for (int j = 0; j < nw; j += w)
        for (int k = 0; k < K; k++)
            memcpy(p + (size_t)j * K + (size_t)k * w, B + (size_t)k * ldb + j0 + j,
                   (size_t)w * sizeof(float));
}

/* Column blocks of ~64K floats of B (a multiple of the kernel's width, at least one block):
 * a wide B (N = 4096) would otherwise be streamed from memory once per MR rows of A. With
 * several row blocks the block is first packed into this thread's buffer: B's rows lie ldb
 * apart, a power of two for the 1×1 convs (the image's pixels), so the K rows of one kernel
 * call fell into the same L1 and L2 sets and the panel never stayed in cache. The same sums in
 * the same order either way. */
#define PACK_FLOATS 65536
static _Thread_local float SG_FN(bpack)[PACK_FLOATS] __attribute__((aligned(64)));
static void SG_FN(gemm)(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        float *C, int ldc, int acc, const float *bias) {
    const int w = SG_NV * SG_VL;
    int nb = K > 0 ? (PACK_FLOATS / K) / w * w : N;
    if (nb < w) nb = w;
    const int pack = M >= 2 * SG_MR && (size_t)K * nb <= PACK_FLOATS;
    for (int j0 = 0; j0 < N; j0 += nb) {
        const int j1 = j0 + nb < N ? j0 + nb : N, nw = pack ? (j1 - j0) / w * w : 0;
        if (nw) {
            SG_FN(pack_b)(B, ldb, j0, nw, K, SG_FN(bpack));
            SG_FN(gemm_cols_p)(M, j0, nw, K, A, lda, SG_FN(bpack), C, ldc, acc, bias);
            const int m0 = M / SG_MR * SG_MR;
            if (m0 < M) /* the last rows, from B itself */
                SG_FN(gemm_tail)
            (M - m0, j0, j0 + nw, K, A + (size_t)m0 * lda, lda, B, ldb, C + (size_t)m0 * ldc, ldc,
             acc, bias ? bias + m0 : NULL);
        }
        if (j0 + nw < j1) SG_FN(gemm_cols)(M, j0 + nw, j1, K, A, lda, B, ldb, C, ldc, acc, bias);
    }
}

/* One vector of columns for two panels (2·MR rows) at once. kern_packed at nv = 1 kept only MR
 * accumulators busy and still issued its other vectors' FMAs on zeros: half the rate at 16
 * columns (the 16² layers' 16 tiles). Same sums in the same order as kern_packed. */
static void SG_FN(kern_v1x2)(int K, const float *Ap, const float *B, int ldb, float *C, int ldc,
                             int acc) {
    const float *A1 = Ap + (size_t)SG_MR * K;
    VF c0[SG_MR], c1[SG_MR];
    UNROLL for (int r = 0; r < SG_MR; r++) {
        c0[r] = acc ? SG_FN(vload)(C + (size_t)r * ldc) : (VF){0};
        c1[r] = acc ? SG_FN(vload)(C + (size_t)(SG_MR + r) * ldc) : (VF){0};
    }
    for (int k = 0; k < K; k++) {
        const VF b = SG_FN(vload)(B + (size_t)k * ldb);
        UNROLL for (int r = 0; r < SG_MR; r++) {
            const VF a0 = SG_FN(vsplat)(Ap + (size_t)k * SG_MR + r),
                     a1 = SG_FN(vsplat)(A1 + (size_t)k * SG_MR + r);
            c0[r] += a0 * b;
            c1[r] += a1 * b;
        }
    }
    UNROLL for (int r = 0; r < SG_MR; r++) {
        SG_FN(vstore)(C + (size_t)r * ldc, c0[r]);
        SG_FN(vstore)(C + (size_t)(SG_MR + r) * ldc, c1[r]);
    }
}

/* C[M, N] (+)= Ap · B with Ap packed in MR-row panels [M/MR][K][MR] (M % MR == 0, N % VL == 0:
 * the Winograd products, whose U is written in this order by wino_w). Whole NV·VL column
 * blocks first; a last block of one vector goes two panels at a time. */
static void SG_FN(gemm_packed)(int M, int N, int K, const float *Ap, const float *B, int ldb,
                               float *C, int ldc, int acc) {
    const int w = SG_NV * SG_VL, nfull = N / w * w, nv = (N - nfull) / SG_VL;
    for (int i = 0; i < M; i += SG_MR) {
        const float *a = Ap + (size_t)i * K;
        float *c = C + (size_t)i * ldc;
        if (i + SG_MR < M)
            for (int f = 0; f < SG_MR * K; f += 16) __builtin_prefetch(a + SG_MR * K + f, 0, 3);
        for (int j = 0; j < nfull; j += w) SG_FN(kern_packed)(K, a, B + j, ldb, c + j, ldc, acc);
    }
    if (!nv) return;
    const float *b = B + nfull;
    int i = 0;
    for (; nv == 1 && i + 2 * SG_MR <= M; i += 2 * SG_MR) {
        float *c = C + (size_t)i * ldc + nfull;
        SG_FN(kern_v1x2)(K, Ap + (size_t)i * K, b, ldb, c, ldc, acc);
    }
    for (; i < M; i += SG_MR) {
        float *c = C + (size_t)i * ldc + nfull;
        SG_FN(kern_packed_nv)(K, Ap + (size_t)i * K, b, ldb, c, ldc, nv, acc);
    }
}

#if SG_VL * SG_NV == 32
/* MR tiles × 32 output channels: per k, two vectors of Bp's row and MR broadcasts of V's */
static void SG_FN(kern_t32)(int K, const float *V, int ldv, const float *Bp, float *C, int acc) {
    VF c[SG_MR][SG_NV];
    UNROLL for (int r = 0; r < SG_MR; r++) UNROLL for (int v = 0; v < SG_NV; v++) c[r][v] =
        acc ? SG_FN(vload)(C + (size_t)r * 32 + v * SG_VL) : (VF){0};
    for (int k = 0; k < K; k++) {
        VF b[SG_NV];
        UNROLL for (int v = 0; v < SG_NV; v++) b[v] = SG_FN(vload)(Bp + (size_t)k * 32 + v * SG_VL);
        UNROLL for (int r = 0; r < SG_MR; r++) {
            const VF a = SG_FN(vsplat)(V + (size_t)k * ldv + r);
            UNROLL for (int v = 0; v < SG_NV; v++) c[r][v] += a * b[v];
        }
    }
    UNROLL for (int r = 0; r < SG_MR; r++) UNROLL for (int v = 0; v < SG_NV; v++)
        SG_FN(vstore)(C + (size_t)r * 32 + v * SG_VL, c[r][v]);
}

static void SG_FN(gemm_t32)(int nt, int K, const float *V, int ldv, const float *Bp, float *C,
                            int acc) {
    for (int t = 0; t < nt; t += SG_MR) SG_FN(kern_t32)(K, V + t, ldv, Bp, C + (size_t)t * 32, acc);
}
#define SG_GEMM_T32 SG_FN(gemm_t32)
#else
#define SG_GEMM_T32 NULL
#endif

/* ---- norms: per-plane statistics and the fused affine (+ leaky ReLU) ---------------------------
 * Sums in double with 32 independent accumulators: four vectors of 8 doubles on AVX-512, so the
 * adds are not one dependency chain (the order differs from a serial sum only in double
 * rounding). Two passes: mean, then Σ(x - mean)² (no E[x²] - mean²). */
#define NACC 32
static double SG_FN(sum_tree)(const double a[NACC]) {
    double t[NACC / 2];
    for (int i = 0; i < NACC / 2; i++) t[i] = a[i] + a[i + NACC / 2];
    for (int w = NACC / 4; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) t[i] += t[i + w];
    return t[0];
}

static void SG_FN(plane_stats)(const float *p, size_t n, double *mean, double *var) {
    double a[NACC] = {0}, s = 0.0;
    size_t i = 0;
    for (; i + NACC <= n; i += NACC)
        for (int j = 0; j < NACC; j++) a[j] += p[i + j];
    for (; i < n; i++) s += p[i];
    s += SG_FN(sum_tree)(a);
    const double m = n ? s / (double)n : 0.0;
    double v[NACC] = {0}, r = 0.0;
    for (i = 0; i + NACC <= n; i += NACC)
        for (int j = 0; j < NACC; j++) {
            const double d = p[i + j] - m;
            v[j] += d * d;
        }
    for (; i < n; i++) r += (p[i] - m) * (p[i] - m);
    r += SG_FN(sum_tree)(v);
    *mean = m, *var = n ? r / (double)n : 0.0;
}

/* p = p·scale + shift (in double, rounded once). */
static void SG_FN(affine)(float *p, size_t n, double scale, double shift) {
    for (size_t i = 0; i < n; i++) p[i] = (float)((double)p[i] * scale + shift);
}

/* A pre-activation row, branch-free (the signs are random): max(v, 0) + slope·min(v, 0). */
static void SG_FN(act_row)(const float *x, size_t n, float sub, float lo, float mul, float add,
                           float slope, float *o) {
    for (size_t i = 0; i < n; i++) {
        const float v = ((x[i] - sub) - lo) * mul + add, pos = v > 0.0f ? v : 0.0f;
        const float neg = v < 0.0f ? v : 0.0f;
        o[i] = pos + slope * neg;
    }
}

/* ---- depthwise 3×3 (depthwise.c): output rows from a band of zero-padded input rows -------------
 * Memory-bound, so the work is vector loads of the band (a copy in L1) and FMAs, with the affine
 * and the clamp applied before the one store; the zero padding is in the band (no edge cases: a
 * last partial vector reads zeros and stores only its n % vl floats). */
typedef int SG_FN(dwi) __attribute__((vector_size(SG_VL * 4)));
#define DWI SG_FN(dwi)
#ifdef __clang__
#define DW_PERM(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define DW_PERM(a, b, ...) __builtin_shuffle(a, b, (DWI){__VA_ARGS__})
#endif
#if SG_VL == 4
#define DW_EVEN 0, 2, 4, 6
#define DW_ODD  1, 3, 5, 7
#elif SG_VL == 8 /* not used: AVX2 has its own below */
#define DW_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define DW_ODD  1, 3, 5, 7, 9, 11, 13, 15
#else
#define DW_EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define DW_ODD  1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#endif

/* max(lo, v), min(hi, v) lane-wise, NaN kept: the instruction where there is one (x86's max/min
 * return their second operand when either is NaN; NEON's fmax/fmin return NaN), else selects */
#if SG_VL == 16
#define DW_MAX(lo, v) ((VF)_mm512_max_ps((__m512)(lo), (__m512)(v)))
#define DW_MIN(hi, v) ((VF)_mm512_min_ps((__m512)(hi), (__m512)(v)))
#elif SG_VL == 8
#define DW_MAX(lo, v) ((VF)_mm256_max_ps((__m256)(lo), (__m256)(v)))
#define DW_MIN(hi, v) ((VF)_mm256_min_ps((__m256)(hi), (__m256)(v)))
#elif defined(__x86_64__)
#define DW_MAX(lo, v) ((VF)_mm_max_ps((__m128)(lo), (__m128)(v)))
#define DW_MIN(hi, v) ((VF)_mm_min_ps((__m128)(hi), (__m128)(v)))
#else
static inline VF SG_FN(dw_sel)(DWI m, VF a, VF b) { return (VF)((m & (DWI)a) | (~m & (DWI)b)); }
#define DW_MAX(lo, v) SG_FN(dw_sel)((v) < (lo), lo, v)
#define DW_MIN(hi, v) SG_FN(dw_sel)((v) > (hi), hi, v)
#endif

/* One output vector at column j of the band row r: bias + Σ (scale·k)·x, clamped. The scale is
 * folded into the taps (one rounding of scale·k instead of one of scale·acc) and the sum starts
 * at the bias, so the affine costs nothing per output. */
static inline __attribute__((always_inline)) VF SG_FN(dw3_vec)(const float *r, size_t ld, size_t lp,
                                                               const int s, const VF kv[9], VF bi,
                                                               VF lo, VF hi) {
    VF acc = bi;
    for (int ky = 0; ky < 3; ky++) {
        const float *e = r + ky * ld, *o = s == 2 ? e + lp : e + 1;
        acc += kv[3 * ky] * SG_FN(vload)(e);
        acc += kv[3 * ky + 1] * SG_FN(vload)(o);
        acc += kv[3 * ky + 2] * SG_FN(vload)(s == 2 ? e + 1 : e + 2);
    }
    return DW_MIN(hi, DW_MAX(lo, acc));
}

/* dw3_rows at stride s, a constant once inlined: the taps and the epilogue's constants stay in
 * registers for the whole band (12 of AVX2's 16), each output vector is 9 loads and FMAs */
static inline __attribute__((always_inline)) void SG_FN(dw3_band)(const float *band, size_t ld,
                                                                  size_t lp, int rows, const int s,
                                                                  int n, const float k[9],
                                                                  const float ep[4], float *y,
                                                                  size_t ldy) {
    VF kv[9];
    for (int i = 0; i < 9; i++) kv[i] = (VF){0} + ep[0] * k[i];
    const VF bi = (VF){0} + ep[1], lo = (VF){0} + ep[2], hi = (VF){0} + ep[3];
    const int nv = n / SG_VL * SG_VL;
    for (int i = 0; i < rows; i++, y += ldy) {
        const float *r = band + (size_t)s * i * ld;
        for (int j = 0; j < nv; j += SG_VL)
            SG_FN(vstore)(y + j, SG_FN(dw3_vec)(r + j, ld, lp, s, kv, bi, lo, hi));
        if (nv < n) { /* the last n % vl columns: the band reads zeros past the strip */
            const VF v = SG_FN(dw3_vec)(r + nv, ld, lp, s, kv, bi, lo, hi);
            memcpy(y + nv, &v, (size_t)(n - nv) * sizeof(float));
        }
    }
}

static void SG_FN(dw3_rows)(const float *band, size_t ld, size_t lp, int rows, int s, int n,
                            const float k[9], const float ep[4], float *y, size_t ldy) {
    if (s == 1) SG_FN(dw3_band)(band, ld, lp, rows, 1, n, k, ep, y, ldy);
    else SG_FN(dw3_band)(band, ld, lp, rows, 2, n, k, ep, y, ldy);
}

/* e[t] = x[2t], o[t] = x[2t + 1] for t < n: two loads and two permutes per vector of each */
static inline void SG_FN(deint2)(const float *x, int n, float *e, float *o) {
    int t = 0;
    for (; t + SG_VL <= n; t += SG_VL) {
        const VF v0 = SG_FN(vload)(x + 2 * t), v1 = SG_FN(vload)(x + 2 * t + SG_VL);
#if SG_VL == 8 /* in-lane shuffles, then one lane-crossing permute each (GCC's took three) */
        const __m256 ev = _mm256_shuffle_ps((__m256)v0, (__m256)v1, 0x88);
        const __m256 od = _mm256_shuffle_ps((__m256)v0, (__m256)v1, 0xDD);
        SG_FN(vstore)
        (e + t, (VF)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8)));
        SG_FN(vstore)
        (o + t, (VF)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xD8)));
#else
        SG_FN(vstore)(e + t, DW_PERM(v0, v1, DW_EVEN));
        SG_FN(vstore)(o + t, DW_PERM(v0, v1, DW_ODD));
#endif
    }
    for (; t < n; t++) e[t] = x[2 * t], o[t] = x[2 * t + 1];
}

/* [*lo, *hi): the t in [0, len) with 0 ≤ c + s·t < W (s = 1 or 2: shifts, not divisions) */
static inline void SG_FN(dw_span)(int c, int s, int W, int len, int *lo, int *hi) {
    const int sh = s - 1;
    *lo = c >= 0 ? 0 : (-c + sh) >> sh;
    *hi = W - c <= 0 ? 0 : ((W - c - 1) >> sh) + 1;
    if (*lo > len) *lo = len;
    if (*hi > len) *hi = len;
    if (*hi < *lo) *hi = *lo;
}

/* One band row: a[p·lp + t] = x[c0 + s·t + p] for the t < lp, p < s with c0 + s·t + p inside
 * [0, W); the rest of the row is left as it is (zeros: depthwise.c clears the band once) */
static void SG_FN(dw3_load)(const float *x, int W, int c0, int s, int lp, float *a) {
    int lo[2], hi[2];
    for (int p = 0; p < s; p++) SG_FN(dw_span)(c0 + p, s, W, lp, &lo[p], &hi[p]);
    if (s == 1) {
        const float *src = x + c0;
        int t = lo[0];
        for (; t + SG_VL <= hi[0]; t += SG_VL) SG_FN(vstore)(a + t, SG_FN(vload)(src + t));
        for (; t < hi[0]; t++) a[t] = src[t];
        return;
    }
    /* both phases valid on [L, H): split there by deint2, the (at most one) odd ends by hand */
    const int L = lo[0] > lo[1] ? lo[0] : lo[1], H0 = hi[0] < hi[1] ? hi[0] : hi[1];
    const int H = H0 > L ? H0 : L;
    SG_FN(deint2)(x + c0 + 2 * L, H - L, a + L, a + lp + L);
    for (int p = 0; p < 2; p++) {
        for (int t = lo[p]; t < L && t < hi[p]; t++) a[p * lp + t] = x[c0 + 2 * t + p];
        for (int t = H > lo[p] ? H : lo[p]; t < hi[p]; t++) a[p * lp + t] = x[c0 + 2 * t + p];
    }
}

const sg_kernels SG_CAT(sg__kernels, SG_KNAME) = {
    .act_row = SG_FN(act_row),
    .plane_stats = SG_FN(plane_stats),
    .affine = SG_FN(affine),
    .gemm = SG_FN(gemm),
    .gemm_packed = SG_FN(gemm_packed),
    .gemm_t32 = SG_GEMM_T32,
    .mr = SG_MR,
    .vl = SG_VL,
    .wino_w = SG_FN(wino_w),
    .name = SG_KSTR,
    .own_gemm = SG_OWN_GEMM,
    .wino_in = SG_FN(wino_in),
    .wino_out = SG_FN(wino_out),
    .wino_out_pool = SG_FN(wino_out_pool),
    .dw3_rows = SG_FN(dw3_rows),
    .dw3_load = SG_FN(dw3_load),
};
