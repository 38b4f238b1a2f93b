/* GEMM: the one place that talks to BLAS, so another kernel can be swapped in later. */
#include "conv_internal.h"

#include <cblas.h>

/* C[M, N] = A[M, K] · B[K, N] (+ C when accumulate), all row-major with leading dimensions. */
void sg_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
             int ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: BLAS may leave C untouched, so clear it ourselves */
        if (!accumulate)
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = 0.0f;
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
                accumulate ? 1.0f : 0.0f, C, ldc);
}

/* y[N, out] = x[N, in] · w[out, in]^T + b: the bias is written first and BLAS accumulates onto
 * it. One sample (the style/mapping MLPs) is a matrix-vector product. */
void sg_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y) {
    if (n <= 0 || out <= 0) return;
    const double t0 = sg__prof_now();
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) y[(size_t)i * out + o] = b ? b[o] : 0.0f;
    if (in <= 0) return;
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 1.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f,
                    y, out);
    sg__prof_add(SG_PROF_LINEAR, t0, 2.0 * n * out * in);
}
