/* net/: the tensor core. NCHW float32 tensors, an activation arena, and the ops the networks
 * compose (conv as tiled im2col + cblas_sgemm, norms, resampling, elementwise). Knows nothing of
 * StarGAN. Every op writes into memory the caller planned; no op allocates. */
#ifndef SG_NET_H
#define SG_NET_H

#include <stddef.h>
#include <stdint.h>

/* ---- errors: returned, never exit()/abort() ------------------------------------------------ */
typedef enum {
    SG_OK = 0,
    SG_ERR_ARG,         /* bad argument / usage */
    SG_ERR_IO,          /* cannot open/read/write a file */
    SG_ERR_FORMAT,      /* malformed or truncated file */
    SG_ERR_MISSING,     /* a tensor or key is absent */
    SG_ERR_SHAPE,       /* a tensor has the wrong shape or dtype */
    SG_ERR_LIMIT,       /* input exceeds a configured limit (pixels, bytes) */
    SG_ERR_NOMEM,       /* allocation failed or a planned buffer is too small */
    SG_ERR_UNSUPPORTED  /* valid input we do not handle */
} sg_status;

typedef struct {
    sg_status status;
    char msg[512];
} sg_error;

/* Sets e (when not NULL) and returns status. Message is one line, printf-style. */
sg_status sg_error_set(sg_error *e, sg_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *sg_status_name(sg_status s);

/* ---- tensors -------------------------------------------------------------------------------- */
/* A view: data is owned elsewhere (arena, mmap, caller). Layout [N, C, H, W], row-major. */
typedef struct {
    float *data;
    int n, c, h, w;
} sg_tensor;

static inline size_t sg_tensor_numel(const sg_tensor *t) {
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}
static inline sg_tensor sg_tensor_make(float *data, int n, int c, int h, int w) {
    sg_tensor t = {data, n, c, h, w};
    return t;
}

/* ---- arena: activation memory planned once per network run ----------------------------------
 * A bump allocator over one block allocated at init. Networks compute the size they need from
 * their configuration, init once, and mark/reset around blocks. alloc returns NULL when the plan
 * was too small (a bug, reported by the caller as SG_ERR_NOMEM), never mallocs. */
typedef struct {
    float *base;
    size_t cap;  /* floats */
    size_t top;  /* floats in use */
    size_t peak; /* high-water mark, for tests and planning */
} sg_arena;

sg_status sg_arena_init(sg_arena *a, size_t floats, sg_error *err);
void sg_arena_free(sg_arena *a);
float *sg_arena_alloc(sg_arena *a, size_t floats); /* 64-byte aligned */
/* allocates a tensor; t->data is NULL when out of room */
sg_tensor sg_arena_tensor(sg_arena *a, int n, int c, int h, int w);
static inline size_t sg_arena_mark(const sg_arena *a) { return a->top; }
static inline void sg_arena_reset(sg_arena *a, size_t mark) { a->top = mark; }

/* ---- conv ----------------------------------------------------------------------------------- */
/* Workspace for conv tiles: a fixed, reused buffer; cap bounds memory whatever the layer size.
 * Two algorithms share it: im2col tiles (Cin·kh·kw rows × P output pixels, the general path) and,
 * for stride-1 convs with Cin ≥ 16 whose reordered weights fit, "shifted GEMMs": a zero-padded
 * band of input rows copied once and one sgemm per kernel tap reading it at offset ky·Wp + kx
 * (writes the input once instead of kh·kw times; im2col is memory-bound here). */
typedef struct {
    float *buf;
    size_t cap; /* floats */
} sg_workspace;

#define SG_WORKSPACE_DEFAULT_FLOATS ((size_t)1 << 21) /* 8 MiB */
sg_status sg_workspace_init(sg_workspace *ws, size_t floats, sg_error *err);
void sg_workspace_free(sg_workspace *ws);

/* y[N, Cout, Ho, Wo] = conv(x[N, Cin, H, W], w[Cout, Cin, kh, kw]) + b[Cout] (b may be NULL).
 * Ho = (H + 2·pad - kh)/stride + 1, likewise Wo; y must have that shape. Zero padding.
 * y must not alias x. */
void sg_conv2d(const sg_tensor *x, const float *w, const float *b, int kh, int kw, int stride,
               int pad, sg_tensor *y, sg_workspace *ws);

/* Depthwise: each channel convolved with its own kernel w[C, kh, kw] (or, when shared != 0, the
 * single kernel w[kh, kw] on every channel). Stride 1, zero padding pad, no bias. y [N,C,Ho,Wo]. */
void sg_conv2d_depthwise(const sg_tensor *x, const float *w, int shared, int kh, int kw, int pad,
                         sg_tensor *y);

/* ---- dense ---------------------------------------------------------------------------------- */
/* y[N, out] = x[N, in] · w[out, in]^T + b[out] (b may be NULL). y must not alias x. */
void sg_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y);

/* ---- normalisation (in place) --------------------------------------------------------------- */
/* Per (sample, channel) plane: (x - mean)/sqrt(var + eps), biased var; then ·gamma[c] + beta[c]
 * when gamma/beta are not NULL. Statistics accumulated in double. */
void sg_instance_norm(sg_tensor *x, const float *gamma, const float *beta, float eps);
/* AdaIN: x = (1 + gb[n, c]) · IN(x) + gb[n, C + c], gb [N, 2C] (gamma then beta per sample). */
void sg_adain(sg_tensor *x, const float *gb, float eps);
/* Inference batch norm: (x - mean[c]) / sqrt(var[c] + eps) · weight[c] + bias[c]. */
void sg_batch_norm(sg_tensor *x, const float *mean, const float *var, const float *weight,
                   const float *bias, float eps);

/* ---- activations and elementwise (in place on n floats) ------------------------------------- */
void sg_relu(float *x, size_t n);
void sg_leaky_relu(float *x, size_t n, float slope);
void sg_scale(float *x, size_t n, float s);
/* y += x */
void sg_add(float *y, const float *x, size_t n);
/* y = (y + x) · s, the residual merge */
void sg_add_scale(float *y, const float *x, size_t n, float s);
/* y = a ⊙ b elementwise where b is broadcast over channels: a [N,C,H,W], b [N,1,H,W] */
void sg_mul_channel_broadcast(const sg_tensor *a, const sg_tensor *b, sg_tensor *y);

/* ---- resampling and layout ------------------------------------------------------------------ */
/* y[N, C, H/2, W/2] = 2×2 average pool of x (H, W even). */
void sg_avg_pool2(const sg_tensor *x, sg_tensor *y);
/* y[N, C, 2H, 2W]: each value copied into a 2×2 block. */
void sg_upsample_nearest2(const sg_tensor *x, sg_tensor *y);
/* Bilinear resize of x to y's H×W (no anti-aliasing). align_corners 0: src = (i+0.5)·in/out - 0.5
 * clamped at 0; 1: src = i·(in-1)/(out-1). Neighbours floor(src), floor(src)+1 clamped to in-1. */
void sg_resize_bilinear(const sg_tensor *x, sg_tensor *y, int align_corners);
/* y[N, Ca+Cb, H, W] = concat of a[N, Ca, H, W] and b[N, Cb, H, W] along channels. */
void sg_concat_channels(const sg_tensor *a, const sg_tensor *b, sg_tensor *y);

/* ---- GEMM ----------------------------------------------------------------------------------- */
/* C[M, N] = A[M, K] · B[K, N] (+ C when accumulate). Row-major. Thin wrapper over cblas_sgemm so
 * other kernels can be swapped in later. */
void sg_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
             int ldc, int accumulate);

#endif
