/* GEMM: every conv's matrix product goes through here, split over net/'s pool (one threading
 * model: OpenBLAS runs single-threaded inside our tasks, so no BLAS threads spin against the
 * pool). Per task the product runs on net/'s own register-blocked kernel where it beats
 * OpenBLAS (AVX-512: OpenBLAS is pinned to its Haswell kernel by OPENBLAS_CORETYPE; figures in
 * bench/README.md), on single-threaded OpenBLAS otherwise. */
#include "net_internal.h"

#include <cblas.h>

/* C[M, N] (+)= A[M, K] · B[K, N] on the calling thread, onto bias[i] when bias is not NULL;
 * bf16: bf16 products (kern_bf16.c). Net/'s kernel starts its sums at the bias; the others get
 * C filled with it first (the same sums). */
static void gemm_part(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int acc, int bf16, const float *bias) {
    const sg_kernels *k = sg__kernels();
    if (!bf16 && k->own_gemm) {
        k->gemm(M, N, K, A, lda, B, ldb, C, ldc, acc, bias);
        return;
    }
    if (bias) sg__fill_bias(C, bias, M, (size_t)ldc, 0, N), acc = 1;
    if (bf16) sg__bf16_gemm(M, N, K, A, lda, B, (size_t)ldb, 1, C, ldc, acc);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
                    acc ? 1.0f : 0.0f, C, ldc);
}

/* A job: C (+)= Σ_t A_t · B_t over taps t (A_t = A + t·astride, B_t = B + boff[t]), cut into
 * row blocks (rb rows) × column blocks (cb columns); a task is one block through every tap, so
 * its C block stays in cache across the taps. */
typedef struct {
    int M, N, K, taps, lda, ldb, ldc, acc, rb, cb, ncol;
    int bf16; /* the caller's thread runs bf16 (sg_packed_use) */
    const float *A, *B;
    size_t astride;
    const size_t *boff;
    float *C;
    const float *bias; /* [M]: the first tap's sums start there (acc ignored), or NULL */
} gemm_job;

static void gemm_task(void *ctx, int task, int thread) {
    const gemm_job *j = ctx;
    (void)thread;
    const int i0 = task / j->ncol * j->rb, j0 = task % j->ncol * j->cb;
    const int m = j->M - i0 < j->rb ? j->M - i0 : j->rb, n = j->N - j0 < j->cb ? j->N - j0 : j->cb;
    for (int t = 0; t < j->taps; t++)
        gemm_part(m, n, j->K, j->A + t * j->astride + (size_t)i0 * j->lda, j->lda,
                  j->B + (j->boff ? j->boff[t] : 0) + j0, j->ldb, j->C + (size_t)i0 * j->ldc + j0,
                  j->ldc, j->acc || t > 0, j->bf16, j->bias && !t ? j->bias + i0 : NULL);
}

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

/* Split: each thread reads its share of one operand and all of the other, so cut the bigger
 * one. Weight-heavy products (16², 8² layers: A·taps > B) split rows in blocks of 64, pixel-heavy
 * ones split columns in blocks of ≥ 64 (multiples of 32, the AVX-512 kernel's width); about
 * 4 tasks per thread so a thread preempted by other load does not hold the other up. */
static void plan_split(gemm_job *j) {
    const int threads = sg__threads();
    j->rb = j->M, j->cb = j->N;
    if (threads < 2 || (double)j->M * j->N * j->K * j->taps < 4e6) {
        /* small: one task */
    } else if ((size_t)j->M * j->taps > (size_t)j->N && j->M >= 16) {
        j->rb = round_up(j->M / (4 * threads) > 8 ? j->M / (4 * threads) : 8, 8);
    } else {
        j->cb = round_up(j->N / (4 * threads), 32);
        if (j->cb < 64) j->cb = 64;
    }
    j->ncol = (j->N + j->cb - 1) / j->cb;
}

/* Both entries below: C (+)= Σ_t A_t · B_t, the first tap's sums started at bias when given. */
static void gemm_run(int M, int N, int K, int taps, const float *A, size_t astride, int lda,
                     const float *B, int ldb, const size_t *boff, float *C, int ldc, int acc,
                     const float *bias) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: C = bias (or 0) unless accumulating without one */
        if (bias || !acc) sg__fill_bias(C, bias, M, (size_t)ldc, 0, N);
        return;
    }
    gemm_job j = {.M = M,
                  .N = N,
                  .K = K,
                  .taps = taps,
                  .lda = lda,
                  .ldb = ldb,
                  .ldc = ldc,
                  .acc = acc,
                  .bf16 = NULL != sg__bf16_current(),
                  .A = A,
                  .B = B,
                  .astride = astride,
                  .boff = boff,
                  .C = C,
                  .bias = bias}; /* rb, cb, ncol: plan_split */
    plan_split(&j);
    sg__parallel((M + j.rb - 1) / j.rb * j.ncol, gemm_task, &j);
}

void sg__gemm_taps(int M, int N, int K, int taps, const float *A, size_t astride, int lda,
                   const float *B, int ldb, const size_t *boff, float *C, int ldc, int acc) {
    gemm_run(M, N, K, taps, A, astride, lda, B, ldb, boff, C, ldc, acc, NULL);
}

void sg__gemm_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   const float *bias, float *C, int ldc) {
    gemm_run(M, N, K, 1, A, 0, lda, B, ldb, NULL, C, ldc, 0, bias);
}

/* sg__gemm_wtaps: a row-block task first reorders its rows of w[M, K, taps] into its thread's
 * slice of scratch as [taps][m][K], then runs the taps on them (same products, same order). */
typedef struct {
    gemm_job g;
    const float *w;
    float *scratch;
    size_t slice; /* floats per thread */
} wtaps_job;

static void wtaps_task(void *ctx, int task, int thread) {
    const wtaps_job *j = ctx;
    const int K = j->g.K, taps = j->g.taps, i0 = task * j->g.rb;
    const int m = j->g.M - i0 < j->g.rb ? j->g.M - i0 : j->g.rb;
    float *a = j->scratch + (size_t)thread * j->slice;
    for (int r = 0; r < m; r++) { /* w's row i0 + r (K·taps floats) stays in L1 */
        const float *src = j->w + (size_t)(i0 + r) * K * taps;
        for (int t = 0; t < taps; t++) {
            float *dst = a + ((size_t)t * m + r) * K;
            for (int c = 0; c < K; c++) dst[c] = src[(size_t)c * taps + t];
        }
    }
    for (int t = 0; t < taps; t++)
        gemm_part(m, j->g.N, K, a + (size_t)t * m * K, K, j->g.B + (j->g.boff ? j->g.boff[t] : 0),
                  j->g.ldb, j->g.C + (size_t)i0 * j->g.ldc, j->g.ldc, j->g.acc || t > 0, j->g.bf16,
                  NULL);
}

int sg__gemm_wtaps(int M, int N, int K, int taps, const float *w, float *scratch, const float *B,
                   int ldb, const size_t *boff, float *C, int ldc, int acc) {
    if (M <= 0 || N <= 0 || K <= 0) return -1;
    wtaps_job j = {.g = {.M = M,
                         .N = N,
                         .K = K,
                         .taps = taps,
                         .lda = K,
                         .ldb = ldb,
                         .ldc = ldc,
                         .acc = acc,
                         .bf16 = NULL != sg__bf16_current(),
                         .B = B,
                         .boff = boff,
                         .C = C}, /* A: w reordered per task into scratch */
                   .w = w,
                   .scratch = scratch}; /* slice: after plan_split */
    plan_split(&j.g);
    const int blocks = (M + j.g.rb - 1) / j.g.rb;
    if (j.g.ncol != 1 || (blocks > 1 && (size_t)sg__threads() * j.g.rb > (size_t)M)) return -1;
    j.slice = (size_t)j.g.rb * K * taps;
    sg__parallel(blocks, wtaps_task, &j);
    return 0;
}

/* C[M, N] = A[M, K] · B[K, N] (+ C when accumulate), all row-major with leading dimensions. */
void sg_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
             int ldc, int accumulate) {
    SG_ASSERT(M >= 0 && N >= 0 && K >= 0 && lda >= K && ldb >= N && ldc >= N);
    sg__gemm_taps(M, N, K, 1, A, 0, lda, B, ldb, NULL, C, ldc, accumulate);
}

/* y[N, out] = x[N, in] · w[out, in]^T + b: the bias is written first and BLAS accumulates onto
 * it. One sample (the style/mapping MLPs) is a matrix-vector product. */
void sg_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y) {
    if (n <= 0 || out <= 0) return;
    SG_ASSERT(x != y && w && in >= 0);
    const double t0 = sg__prof_now();
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) y[(size_t)i * out + o] = b ? b[o] : 0.0f;
    if (in <= 0) return;
    /* starts the pool, which sets OpenBLAS to one thread, before OpenBLAS's first call: with its
     * own threads it splits the product differently and the last bits of the style mean
     * depended on whether a conv had run in this process before */
    (void)sg__threads();
    sg_packed_weights *bw = sg__bf16_current();
    const uint32_t *wp = bw ? sg__bf16_linear_w(bw, w, out, in) : NULL;
    if (wp) sg__bf16_linear(x, n, in, wp, out, y); /* w packed once */
    else if (bw)                                   /* y += x · wᵀ: B[k][j] = w[j·in + k] */
        sg__bf16_gemm(n, out, in, x, in, w, 1, (size_t)in, y, out, 1);
    else if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 1.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f,
                    y, out);
    sg__prof_add(SG_PROF_LINEAR, t0, 2.0 * n * out * in);
}
