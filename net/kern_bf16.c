/* bf16 products into fp32 accumulators with AVX512-BF16 (VDPBF16PS) on x86-64, BFDOT (Armv8.6
 * BF16) on aarch64, built with its own target flags (CMakeLists.txt) and called only when the CPU
 * has them (bf16.c checks). The two differ only in the pair packing of B and the micro-kernel
 * (the blocks under __x86_64__ / __aarch64__ below); the packing of A and the blocking are shared.
 *
 * VDPBF16PS multiplies pairs: lane i of the accumulator += a[2i]·b[2i] + a[2i+1]·b[2i+1] (the
 * products are exact in fp32, the two adds round). So the operands are kept as pairs along K:
 *   A packed in panels of MR = 8 rows: Ap[(i/8)][k/2][i%8] = (A[i][k], A[i][k+1]) as one 32-bit
 *     word, broadcast to every lane;
 *   B as Bp[k/2][j] = (B[k][j], B[k+1][j]), 16 columns per vector;
 * an odd K ends with a zero partner. A block of 8 rows × 32 columns of C stays in 16 registers
 * over the whole K loop (the fp32 kernels' shape, at twice the multiplies per instruction). */
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define MR 8
#define KC 256 /* K per packed chunk of the general product (128 pairs) */
#define NC 128 /* columns per packed B chunk: KC/2 · NC words = 64 KiB, stays in L2 */

/* One panel of MR rows of A[., lda] (rows ≥ m are zero), pairs k0 .. k0 + K - 1:
 * ap[kp·MR + r] = (A[r][k0 + 2kp], A[r][k0 + 2kp + 1]). */
static void pack_a(const float *A, int lda, int m, int K, uint32_t *ap) {
    for (int r = 0; r < MR; r++) {
        const float *a = A + (size_t)r * lda;
        for (int kp = 0; kp < (K + 1) / 2; kp++) {
            uint32_t lo = 0, hi = 0;
            if (r < m) {
                lo = sg__bf16_bits(a[2 * kp]);
                if (2 * kp + 1 < K) hi = sg__bf16_bits(a[2 * kp + 1]);
            }
            ap[(size_t)kp * MR + r] = lo | hi << 16;
        }
    }
}

#if defined(__x86_64__)
/* round-to-nearest-even of 16 floats to bf16 in the low/high 16 bits of 32-bit words:
 * (lo[j], hi[j]) → word j */
static inline __m512i pairs16(__m512 lo, __m512 hi) {
    /* cvtne2ps puts bf16(lo) in elements 0..15 and bf16(hi) in 16..31; interleave them */
    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                         8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, both);
}

/* out[kp·ldo + j] = (B[2kp][j], B[2kp + 1][j]) for kp < ceil(K/2), j < N, B[k][j] = B[k·rs +
 * j·cs]; columns N .. round16(N) - 1 zero. */
void sg__bf16_pack_b(const float *B, size_t rs, size_t cs, int K, int N, uint32_t *out,
                     size_t ldo) {
    const int n16 = (int)sg__round16((size_t)N);
    for (int kp = 0; kp < (K + 1) / 2; kp++) {
        const float *r0 = B + (size_t)(2 * kp) * rs, *r1 = 2 * kp + 1 < K ? r0 + rs : NULL;
        uint32_t *o = out + (size_t)kp * ldo;
        for (int j = 0; j < n16; j += 16) {
            const int n = N - j < 16 ? (N - j > 0 ? N - j : 0) : 16;
            const __mmask16 m = (__mmask16)((1u << n) - 1);
            __m512 lo, hi = _mm512_setzero_ps();
            if (cs == 1) {
                lo = _mm512_maskz_loadu_ps(m, r0 + j);
                if (r1) hi = _mm512_maskz_loadu_ps(m, r1 + j);
            } else {
                float a[16] = {0}, b[16] = {0};
                for (int t = 0; t < n; t++) {
                    a[t] = r0[(size_t)(j + t) * cs];
                    if (r1) b[t] = r1[(size_t)(j + t) * cs];
                }
                lo = _mm512_loadu_ps(a), hi = _mm512_loadu_ps(b);
            }
            _mm512_storeu_si512(o + j, pairs16(lo, hi));
        }
    }
}

/* C[8, n] (+)= Ap · Bp over K2 pairs, n ≤ 32 columns (masked at the edge); rows ≥ m of C are
 * neither read nor written. */
static inline void kern(int K2, const uint32_t *Ap, const uint32_t *Bp, size_t ldb, float *C,
                        int ldc, int m, int n, int acc) {
    __m512 c[MR][2];
    const __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    const int two = n > 16;
    for (int r = 0; r < MR; r++) {
        c[r][0] =
            acc && r < m ? _mm512_maskz_loadu_ps(m0, C + (size_t)r * ldc) : _mm512_setzero_ps();
        c[r][1] = acc && r < m && two ? _mm512_maskz_loadu_ps(m1, C + (size_t)r * ldc + 16)
                                      : _mm512_setzero_ps();
    }
    if (two) {
        for (int k = 0; k < K2; k++) {
            const __m512bh b0 = (__m512bh)_mm512_loadu_si512(Bp + (size_t)k * ldb);
            const __m512bh b1 = (__m512bh)_mm512_loadu_si512(Bp + (size_t)k * ldb + 16);
            const uint32_t *a = Ap + (size_t)k * MR;
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r]);
                c[r][0] = _mm512_dpbf16_ps(c[r][0], av, b0);
                c[r][1] = _mm512_dpbf16_ps(c[r][1], av, b1);
            }
        }
    } else {
        for (int k = 0; k < K2; k++) {
            const __m512bh b0 = (__m512bh)_mm512_loadu_si512(Bp + (size_t)k * ldb);
            const uint32_t *a = Ap + (size_t)k * MR;
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++)
                c[r][0] = _mm512_dpbf16_ps(c[r][0], (__m512bh)_mm512_set1_epi32((int)a[r]), b0);
        }
    }
    for (int r = 0; r < m && r < MR; r++) {
        _mm512_mask_storeu_ps(C + (size_t)r * ldc, m0, c[r][0]);
        if (two) _mm512_mask_storeu_ps(C + (size_t)r * ldc + 16, m1, c[r][1]);
    }
}

#elif defined(__aarch64__)
/* out[kp·ldo + j] = (B[2kp][j], B[2kp + 1][j]) as above, converted by sg__bf16_bits (round to
 * nearest even, denormals to zero: the rounding VDPBF16PS's conversions use, so both
 * architectures multiply the same bf16 operands); columns N .. round16(N) - 1 zero. */
void sg__bf16_pack_b(const float *B, size_t rs, size_t cs, int K, int N, uint32_t *out,
                     size_t ldo) {
    const int n16 = (int)sg__round16((size_t)N);
    for (int kp = 0; kp < (K + 1) / 2; kp++) {
        const float *r0 = B + (size_t)(2 * kp) * rs, *r1 = 2 * kp + 1 < K ? r0 + rs : NULL;
        uint32_t *o = out + (size_t)kp * ldo;
        int j = 0;
        for (; j < N; j++) {
            const uint32_t lo = sg__bf16_bits(r0[(size_t)j * cs]);
            o[j] = lo | (r1 ? sg__bf16_bits(r1[(size_t)j * cs]) << 16 : 0u);
        }
        for (; j < n16; j++) o[j] = 0;
    }
}

/* pairs as NEON's bf16 vectors: word j = elements 2j (k even) and 2j + 1 (k odd) */
static inline bfloat16x8_t bf8(const uint32_t *p) { return vreinterpretq_bf16_u32(vld1q_u32(p)); }

/* C[8, 8] block (+)= Ap · Bp over K2 pairs with BFDOT: accumulator c[r][v] holds row r, columns
 * 4v .. 4v + 3; per pair row, two loads of B (8 columns), two of A (8 rows), 16 BFDOTs with A's
 * row r as the indexed element (vbfdotq_laneq_f32: lane i += B[2i]·A[2r] + B[2i + 1]·A[2r + 1]).
 * b0: B's columns at Bp (8 words per row, ldb apart), or a copy with zero columns at the edge. */
static inline void kern8(int K2, const uint32_t *Ap, const uint32_t *Bp, size_t ldb,
                         float32x4_t c[MR][2]) {
#define SG_BFROW(r, a, l)                                                                          \
    c[r][0] = vbfdotq_laneq_f32(c[r][0], b0, a, l), c[r][1] = vbfdotq_laneq_f32(c[r][1], b1, a, l)
    for (int k = 0; k < K2; k++) {
        const bfloat16x8_t b0 = bf8(Bp + (size_t)k * ldb), b1 = bf8(Bp + (size_t)k * ldb + 4);
        const bfloat16x8_t a0 = bf8(Ap + (size_t)k * MR), a1 = bf8(Ap + (size_t)k * MR + 4);
        SG_BFROW(0, a0, 0), SG_BFROW(1, a0, 1), SG_BFROW(2, a0, 2), SG_BFROW(3, a0, 3);
        SG_BFROW(4, a1, 0), SG_BFROW(5, a1, 1), SG_BFROW(6, a1, 2), SG_BFROW(7, a1, 3);
    }
#undef SG_BFROW
}

/* C[8, n] (+)= Ap · Bp over K2 pairs, n ≤ 32 columns, in blocks of 8 (a last partial block
 * reads B through a zero-padded copy, 128 pairs at a time, so no word past column n is read);
 * rows ≥ m of C are neither read nor written. */
#define EDGE_K2 128
static inline void kern(int K2, const uint32_t *Ap, const uint32_t *Bp, size_t ldb, float *C,
                        int ldc, int m, int n, int acc) {
    for (int j = 0; j < n; j += 8) {
        const int nn = n - j < 8 ? n - j : 8;
        float t[MR][8] = {{0}};
        float32x4_t c[MR][2];
        for (int r = 0; r < MR; r++) {
            if (acc && r < m) memcpy(t[r], C + (size_t)r * ldc + j, (size_t)nn * sizeof(float));
            c[r][0] = vld1q_f32(t[r]), c[r][1] = vld1q_f32(t[r] + 4);
        }
        if (nn == 8) kern8(K2, Ap, Bp + j, ldb, c);
        else {
            uint32_t edge[EDGE_K2 * 8] = {0};
            for (int k0 = 0; k0 < K2; k0 += EDGE_K2) {
                const int kc = K2 - k0 < EDGE_K2 ? K2 - k0 : EDGE_K2;
                for (int k = 0; k < kc; k++)
                    memcpy(edge + (size_t)k * 8, Bp + (size_t)(k0 + k) * ldb + j, (size_t)nn * 4);
                kern8(kc, Ap + (size_t)k0 * MR, edge, 8, c);
            }
        }
        for (int r = 0; r < MR; r++) vst1q_f32(t[r], c[r][0]), vst1q_f32(t[r] + 4, c[r][1]);
        for (int r = 0; r < m && r < MR; r++)
            memcpy(C + (size_t)r * ldc + j, t[r], (size_t)nn * sizeof(float));
    }
}

/* Winograd F(2×2, 3×3) in bf16 (kern_wino2_bf16.c) is written for AVX-512 only: here it does not
 * run (-1, nothing written), and the caller's 3×3 convs take the direct bf16 products above. */
int sg__wino2_bf16(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                   sg_workspace *ws, int up, const sg_preact *pre, sg_packed_weights *bw) {
    (void)x, (void)w, (void)b, (void)y, (void)ws, (void)up, (void)pre, (void)bw;
    return -1;
}
#endif

/* C[M, N] (+)= Ap · Bp: Ap in MR-row panels of K2 pairs each ([M/MR][K2][MR] words), M % MR == 0;
 * Bp [K2][ldb] words; any N (the last columns masked). */
void sg__bf16_gemm_packed(int M, int N, int K2, const uint32_t *Ap, const uint32_t *Bp, size_t ldb,
                          float *C, int ldc, int acc) {
    for (int i = 0; i < M; i += MR)
        for (int j = 0; j < N; j += 32)
            kern(K2, Ap + (size_t)i * K2, Bp + j, ldb, C + (size_t)i * ldc + j, ldc, MR,
                 N - j < 32 ? N - j : 32, acc);
}

/* Per-thread panels of A for one KC chunk: grown to the largest M seen and freed when the
 * thread ends (one allocation per thread, not one per product). NULL when it cannot grow. */
typedef struct {
    uint32_t *p;
    size_t cap;
} a_buf;
static pthread_key_t a_key;
static pthread_once_t a_once = PTHREAD_ONCE_INIT;
static void a_free(void *v) {
    a_buf *b = v;
    free(b->p);
    free(b);
}
static void a_init(void) {
    if (pthread_key_create(&a_key, a_free)) a_key = (pthread_key_t)-1;
}
static uint32_t *a_chunk(int M) {
    pthread_once(&a_once, a_init);
    if (a_key == (pthread_key_t)-1) return NULL;
    a_buf *b = pthread_getspecific(a_key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        if (pthread_setspecific(a_key, b)) {
            free(b);
            return NULL;
        }
    }
    const size_t need = (size_t)(M + MR - 1) / MR * MR * (KC / 2);
    if (need > b->cap) {
        uint32_t *p = aligned_alloc(64, need * 4);
        if (!p) return NULL;
        free(b->p);
        b->p = p, b->cap = need;
    }
    return b->p;
}

/* C[M, N] (+)= A[M, K] · B[K, N] in bf16 products, A row-major (lda), B[k][j] = B[k·rs +
 * j·cs], both converted on the fly: per KC chunk of K, every row panel of A once (per-thread
 * buffer; without it, per column chunk on the stack), then B in KC × NC chunks on the stack.
 * Packing A inside the column loop redid it N/NC times: 512 times for a 1×1 conv at 256². */
void sg__bf16_gemm(int M, int N, int K, const float *A, int lda, const float *B, size_t rs,
                   size_t cs, float *C, int ldc, int acc) {
    uint32_t bp[KC / 2 * NC] __attribute__((aligned(64)));
    uint32_t ap1[KC / 2 * MR] __attribute__((aligned(64)));
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!acc)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    uint32_t *apm = a_chunk(M);
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = K - k0 < KC ? K - k0 : KC, k2 = (kc + 1) / 2;
        if (apm)
            for (int i = 0; i < M; i += MR)
                pack_a(A + (size_t)i * lda + k0, lda, M - i < MR ? M - i : MR, kc,
                       apm + (size_t)i / MR * k2 * MR);
        for (int j0 = 0; j0 < N; j0 += NC) {
            const int n = N - j0 < NC ? N - j0 : NC;
            sg__bf16_pack_b(B + (size_t)k0 * rs + (size_t)j0 * cs, rs, cs, kc, n, bp, NC);
            for (int i = 0; i < M; i += MR) {
                const int m = M - i < MR ? M - i : MR;
                const uint32_t *ap = ap1;
                if (apm) ap = apm + (size_t)i / MR * k2 * MR;
                else pack_a(A + (size_t)i * lda + k0, lda, m, kc, ap1);
                for (int j = 0; j < n; j += 32)
                    kern(k2, ap, bp + j, NC, C + (size_t)i * ldc + j0 + j, ldc, m,
                         n - j < 32 ? n - j : 32, acc || k0 > 0);
            }
        }
    }
}

/* A panels of w [M, K] row-major: ap[(i/8)·K2·8 + kp·8 + i%8] = (w[i][2kp], w[i][2kp + 1]),
 * M rounded up to 8 with zero rows, K2 = ceil(K/2). */
void sg__bf16_pack_a(const float *w, int M, int K, uint32_t *ap) {
    const int k2 = (K + 1) / 2;
    for (int i = 0; i < M; i += MR)
        pack_a(w + (size_t)i * K, K, M - i < MR ? M - i : MR, K, ap + (size_t)i / MR * k2 * MR);
}

/* y[n, out] += x[n, in] · wᵀ with w packed by sg__bf16_pack_a (M = out, K = in ≤ 2048): 16
 * samples at a time as B's columns, each 8-output panel a tile of 8 × 16. */
void sg__bf16_linear(const float *x, int n, int in, const uint32_t *wp, int out, float *y) {
    uint32_t bp[1024 * 16] __attribute__((aligned(64)));
    float t[MR * 16];
    const int k2 = (in + 1) / 2;
    for (int i0 = 0; i0 < n; i0 += 16) {
        const int nn = n - i0 < 16 ? n - i0 : 16;
        sg__bf16_pack_b(x + (size_t)i0 * in, 1, (size_t)in, in, nn, bp, 16);
        for (int o0 = 0; o0 < out; o0 += MR) {
            kern(k2, wp + (size_t)o0 / MR * k2 * MR, bp, 16, t, 16, MR, nn, 0);
            for (int r = 0; r < MR && o0 + r < out; r++)
                for (int j = 0; j < nn; j++) y[(size_t)(i0 + j) * out + o0 + r] += t[r * 16 + j];
        }
    }
}
