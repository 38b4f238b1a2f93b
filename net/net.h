/* net/: the tensor core. NCHW float32 tensors, an activation arena, and the ops the networks
 * compose (conv as Winograd F(4,3), tap-shifted or im2col GEMMs, upsample-conv by phases; norms,
 * resampling, elementwise). Knows nothing of StarGAN. Every op writes into memory the caller
 * planned; no op allocates. net/'s own hot loops run on a small internal thread pool with kernels
 * chosen at run time by CPU features (see "CPU dispatch"). */
#ifndef SG_NET_H
#define SG_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors: returned, never exit()/abort() ------------------------------------------------ */
typedef enum {
    SG_OK = 0,
    SG_ERR_ARG,        /* bad argument / usage */
    SG_ERR_IO,         /* cannot open/read/write a file */
    SG_ERR_FORMAT,     /* malformed or truncated file */
    SG_ERR_MISSING,    /* a tensor or key is absent */
    SG_ERR_SHAPE,      /* a tensor has the wrong shape or dtype */
    SG_ERR_LIMIT,      /* input exceeds a configured limit (pixels, bytes) */
    SG_ERR_NOMEM,      /* allocation failed or a planned buffer is too small */
    SG_ERR_UNSUPPORTED /* valid input we do not handle */
} sg_status;

typedef struct {
    sg_status status;
    char msg[512];
} sg_error;

/* Sets e (when not NULL) and returns status. Message is one line, printf-style. */
sg_status sg_error_set(sg_error *e, sg_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *sg_status_name(sg_status s);

/* ---- debug checks ---------------------------------------------------------------------------
 * SG_ASSERT(cond): an invariant the code relies on, not a property of input (the shapes an op's
 * header promises its caller passes, a queue's counts). Checked in Debug builds, where a failed
 * check is a bug: it prints the condition and where, then aborts. Compiled out under NDEBUG
 * (Release), cond unevaluated. Bad input is never asserted: it stays a returned error. */
#ifdef NDEBUG
#define SG_ASSERT(cond) ((void)sizeof(!(cond)))
#else
#define SG_ASSERT(cond) ((cond) ? (void)0 : sg_assert_fail(#cond, __FILE__, __LINE__, __func__))
#endif
void sg_assert_fail(const char *cond, const char *file, int line, const char *func)
    __attribute__((noreturn));

/* ---- files (net/file.c): every reader of the project opens its inputs through these -------- */
typedef struct {
    int64_t size;     /* bytes */
    int64_t mtime_ns; /* modification time, ns since the epoch */
    uint64_t dev, ino;
} sg_file_info;

/* Opens path read-only when it is a regular file; -1 with a one-line reason otherwise. A FIFO,
 * device or directory is refused at once (opened non-blocking, so a FIFO without a writer cannot
 * hang the reader). info may be NULL. */
int sg_file_open_regular(const char *path, sg_file_info *info, sg_error *err);
/* Reads a whole regular file of at most max bytes (0: no limit) into private memory (anonymous
 * pages, 64-byte aligned; NULL for an empty file), so later changes to the file, truncation
 * included, cannot reach what was read. A file whose size or mtime changes while it is read is
 * refused (SG_ERR_IO, "changed while being read"). Free with sg_file_private_free. */
sg_status sg_file_read_private(const char *path, uint64_t max, uint8_t **data, size_t *size,
                               sg_file_info *info, sg_error *err);
void sg_file_private_free(uint8_t *data, size_t size);

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
/* The floats one sg_arena_alloc of `floats` takes: rounded up to 16 (64 bytes, so every pointer
 * stays cache-line aligned). Plans add these up, one per allocation they mirror. */
static inline size_t sg_arena_floats(size_t floats) { return (floats + 15) / 16 * 16; }
/* allocates a tensor; t->data is NULL when out of room */
sg_tensor sg_arena_tensor(sg_arena *a, int n, int c, int h, int w);
static inline size_t sg_arena_mark(const sg_arena *a) { return a->top; }
static inline void sg_arena_reset(sg_arena *a, size_t mark) {
    SG_ASSERT(mark <= a->top); /* a mark taken before, never one from a later allocation */
    a->top = mark;
}

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

/* Fits Winograd on every layer of the 256² networks from 32² up (U of a 512→512 layer is
 * 36·512·512 floats) plus per-thread tiles. */
#define SG_WORKSPACE_DEFAULT_FLOATS ((size_t)12 << 20) /* 48 MiB */
sg_status sg_workspace_init(sg_workspace *ws, size_t floats, sg_error *err);
void sg_workspace_free(sg_workspace *ws);

/* y[N, Cout, Ho, Wo] = conv(x[N, Cin, H, W], w[Cout, Cin, kh, kw]) + b[Cout] (b may be NULL).
 * Ho = (H + 2·pad - kh)/stride + 1, likewise Wo; y must have that shape. Zero padding.
 * y must not alias x. */
void sg_conv2d(const sg_tensor *x, const float *w, const float *b, int kh, int kw, int stride,
               int pad, sg_tensor *y, sg_workspace *ws);

/* y[N, Cout, 2H, 2W] = conv3×3(upsample_nearest2(x), w) + b, stride 1, pad 1, from the
 * low-resolution x[N, Cin, H, W] directly, never materialising the upsampled tensor: Winograd
 * reading the low-resolution rows where it pays (from 32² outputs, and at 16² for many output
 * channels), else four 2×2 phase convs (2.25× fewer FLOPs). w [Cout, Cin, 3, 3], b [Cout] or
 * NULL. y must not alias x. */
void sg_conv2d_up2(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                   sg_workspace *ws);

/* The same conv as sg_conv2d(x, w, b, 3, 3, 1, 1, y, ws) by Winograd F(4×4, 3×3) (4× fewer
 * GEMM FLOPs, slightly larger float rounding). Returns 0, or -1 (nothing written) when the
 * workspace is too small; sg_conv_winograd_floats gives the size that runs it best. sg_conv2d
 * picks it by itself where it pays. */
int sg_conv2d_winograd(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                       sg_workspace *ws);
size_t sg_conv_winograd_floats(int cin, int h, int w, int cout);

/* ---- pre-activations: a norm + activation folded into the next conv's input --------------
 * pre(x)[n, c] = act(((x[n, c] - sub[k]) - sub_lo[k])·mul[k] + add[k]) with k = n·C + c (per
 * sample and channel), act(v) = v > 0 ? v : v·slope (slope 0: ReLU, 1: none); any array may be
 * NULL (0, 0, 1, 0). An instance norm, AdaIN or batch norm then leaky ReLU before a conv costs
 * its statistics (one read pass) and nothing more where Winograd runs: the activation is
 * applied in the row copy its input transform makes anyway. Float arithmetic, but the mean is
 * subtracted as two floats (sub + sub_lo = the double mean): x - sub is exact near the mean, so
 * a plane whose mean is large against its spread loses nothing to cancellation. */
typedef struct {
    const float *sub, *sub_lo, *mul, *add;
    float slope;
} sg_preact;

/* out = pre(x) over x [N, C, H, W]; out may be x->data. */
void sg_preact_apply(const sg_tensor *x, const sg_preact *pre, float *out);
/* y = conv3×3(pre(x)) + b, stride 1, pad 1 (zero padding after the activation); w [Cout, Cin,
 * 3, 3], b [Cout] or NULL. Fused where Winograd runs; otherwise pre(x) is first written to tmp
 * (x's size; tmp may be x->data when x may be overwritten). y must not alias x or tmp. */
void sg_conv3x3_pre(const sg_tensor *x, const sg_preact *pre, const float *w, const float *b,
                    sg_tensor *y, sg_workspace *ws, float *tmp);
/* y [N, Cout, H/2, W/2] = avg_pool2(sg_conv3x3_pre(x, pre, w, b)) (H, W even), the pool done in
 * the Winograd output transform where Winograd runs (no full-size output; the bytes of the conv
 * and then sg_avg_pool2); otherwise through full (N·Cout·H·W floats, not y, x or tmp). tmp as
 * sg_conv3x3_pre's. */
void sg_conv3x3_pre_pool(const sg_tensor *x, const sg_preact *pre, const float *w, const float *b,
                         sg_tensor *y, sg_workspace *ws, float *tmp, float *full);
/* y = sg_conv2d_up2(pre(x)), the same way (tmp: x's size, or x->data). */
void sg_conv2d_up2_pre(const sg_tensor *x, const sg_preact *pre, const float *w, const float *b,
                       sg_tensor *y, sg_workspace *ws, float *tmp);

/* ---- CPU dispatch --------------------------------------------------------------------------
 * net/'s own kernels (Winograd transforms, GEMM, norm statistics, pre-activation rows, depthwise
 * 3×3 rows: kern_*.c over kern_template.h) come in plain x86-64, AVX2+FMA and AVX-512 builds on x86-64, plain and
 * NEON (Advanced SIMD with FMA) builds on aarch64, chosen once at run time from the CPU (env
 * SG_CPU=plain|avx2|avx512|neon forces one). */
int sg_cpu_supports(const char *name); /* "plain", "avx2", "avx512", "neon" */
const char *sg_cpu_path(void);         /* the path in use */
/* Switches the path (NULL: back to the best). For tests and benchmarks, not thread-safe;
 * returns -1 when this CPU cannot run it. */
int sg_cpu_force(const char *name);

/* ---- precision: bf16 products ---------------------------------------------------------------
 * fp32 (the default) is the exact path above. In bf16 every conv and linear layer multiplies
 * bf16 values (the fp32 operands rounded to nearest even) into fp32 accumulators; norm
 * statistics, AdaIN, activations, residual sums, masks and every tensor between the layers stay
 * fp32. 3×3 convs where Winograd pays run Winograd F(2×2, 3×3) with the transforms in fp32 and
 * the products in bf16 (F(4,3)'s transforms amplify bf16 rounding several-fold; F(2,3)'s are
 * ±1 and ½; x86-64 only: on aarch64 those convs are direct bf16 GEMMs too); the other convs are
 * direct GEMMs on bf16 operands. The kernels need AVX512-BF16 (VDPBF16PS) on x86-64, BF16 (BFDOT,
 * Armv8.6) on aarch64; on a CPU without it bf16 is refused (sg_packed_weights_init fails with the
 * reason). The depthwise high-pass filter (a fixed kernel, not a learned layer) stays fp32. */
typedef enum { SG_PRECISION_FP32 = 0, SG_PRECISION_BF16 } sg_precision;
const char *sg_precision_name(sg_precision p);          /* "fp32", "bf16" */
int sg_precision_parse(const char *s, sg_precision *p); /* 0, or -1 for an unknown name */
/* NULL when this CPU runs the bf16 kernels, else a one-line reason. */
const char *sg_bf16_unsupported(void);
/* The instruction path of the bf16 products: "avx512_bf16", "neon_bf16" (the AMX path,
 * TDPBF16PS, is not built yet: no CPU with amx_bf16 to test it on), or "none". */
const char *sg_bf16_path(void);

/* A set of weights converted and packed once (net/packed.c), keyed by the address of the fp32
 * weights the networks pass to the ops (which stay valid for the set's life) and by what was
 * made of them. A bf16 set holds the F(2,3) U of the 3×3 convs and the linear layers' weights in
 * the kernels' pair-panel layout; an fp32 set holds the fp32 Winograd U of the layers split by
 * tile rows (the big-image layers, where every call transformed the whole U; the channel-split
 * layers transform their slices in cache and keep only the weights in gather order), exactly the values the per-call transform makes: the same output bytes.
 * Entries are added under a lock the first time a layer runs (engine/ runs every network once
 * at load), then only read, so one set serves any number of threads. The other bf16 GEMMs (1×1,
 * tap-shifted, im2col, upsample phases: a small share of the time) convert their operands
 * chunk by chunk inside the product. */
typedef struct sg_packed_weights sg_packed_weights;
/* An empty set for prec; bf16 is refused (SG_ERR_UNSUPPORTED, with the reason) without
 * AVX512-BF16. */
sg_status sg_packed_weights_init(sg_packed_weights **pw, sg_precision prec, sg_error *err);
void sg_packed_weights_free(sg_packed_weights *pw);
size_t sg_packed_weights_bytes(const sg_packed_weights *pw); /* packed weights held */
/* Ops called from this thread from now on use pw: bf16 products with a bf16 set, kept fp32 U
 * with an fp32 set, plain fp32 with NULL. Returns the previous setting (per thread: bracket a
 * request with it and restore). */
sg_packed_weights *sg_packed_use(sg_packed_weights *pw);

/* ---- threads --------------------------------------------------------------------------------
 * net/'s ops split their work over one pool of (online CPUs, at most 8; SG_THREADS=n) threads.
 * Callers running several requests at once (the server's workers) bracket each request with
 * enter/leave: while more than one request is in flight every op runs on its caller's thread
 * alone, so W requests on W cores each keep a core busy instead of one holding the pool while the
 * others run beside it (bench/README.md has the measurement); a lone request still gets every
 * thread. */
void sg_net_user_enter(void);
void sg_net_user_leave(void);
/* The pool for other parts' loops: fn(ctx, task, thread) for every task < ntasks (any order, on
 * the pool's threads; thread is the worker's index); serial on the caller's thread when the pool
 * is busy or several requests are in flight. */
void sg_net_parallel(int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx);

/* sg_conv2d with the algorithm chosen by the caller (benchmarks, tests): want = AUTO picks as
 * sg_conv2d does; WINOGRAD falls back to AUTO's choice among the rest when it cannot run (not a
 * 3×3 pad-1 stride-1 conv, or workspace too small); IM2COL skips the tap-shifted path. Returns
 * the algorithm that ran. */
typedef enum {
    SG_CONV_AUTO,
    SG_CONV_POINTWISE, /* 1×1: one GEMM on the input */
    SG_CONV_SHIFT,     /* tap-shifted GEMMs */
    SG_CONV_IM2COL,    /* im2col tiles + GEMM */
    SG_CONV_DIRECT,    /* plain loops (no workspace) */
    SG_CONV_WINOGRAD   /* F(4×4, 3×3) */
} sg_conv_algo;
sg_conv_algo sg_conv2d_algo(const sg_tensor *x, const float *w, const float *b, int kh, int kw,
                            int stride, int pad, sg_tensor *y, sg_workspace *ws, sg_conv_algo want);

/* ---- profiling ------------------------------------------------------------------------------
 * Off by default. When enabled, every op adds its wall time and nominal FLOPs (the direct
 * algorithm's) to its family; print shows time, GFLOP/s and the share of peak_gflops (the
 * machine's measured sgemm rate; 0 omits it). Global and not thread-safe: profile one request. */
void sg_profile_enable(int on);
void sg_profile_reset(void);
void sg_profile_print(FILE *f, double peak_gflops);

/* Depthwise: each channel convolved with its own kernel w[C, kh, kw] (or, when shared != 0, the
 * single kernel w[kh, kw] on every channel). Stride 1, zero padding pad, no bias. y [N,C,Ho,Wo]. */
void sg_conv2d_depthwise(const sg_tensor *x, const float *w, int shared, int kh, int kw, int pad,
                         sg_tensor *y);

/* Depthwise 3×3 conv with a per-channel affine and a clamp fused (the MobileNet block's
 * depthwise conv + folded batch norm + ReLU6), TensorFlow padding (SAME may be asymmetric):
 *   y[n, c, i, j] = clamp(scale[c]·Σ_{ky,kx < 3} w[c, ky, kx]·x[n, c, i·s + ky - pad_top,
 *                                                              j·s + kx - pad_left] + bias[c], lo, hi)
 * with x read as 0 outside the image (computed as bias + Σ (scale·w)·x: the scale folded into
 * the taps, within float rounding of the formula). y's H×W is the caller's (the bottom/right padding follows
 * from it): TF SAME is pad 1 on every side at stride 1; at stride 2 on an even side, pad_top =
 * pad_left = 0 and one zero row/column at the bottom/right. */
typedef struct {
    int stride;            /* 1 or 2 */
    int pad_top, pad_left; /* 0 ... 2: zeros before input row/column 0 */
    const float *scale;    /* [C], or NULL: 1 */
    const float *bias;     /* [C], or NULL: 0 */
    float lo, hi;          /* the clamp (ReLU6: 0, 6; none: -INFINITY, INFINITY) */
} sg_dw3x3;
/* x [N, C, H, W], w [C, 3, 3], y [N, C, Ho, Wo] with Ho, Wo ≥ 1 and every output's window
 * starting inside the padded input ((Ho - 1)·s - pad_top ≤ H - 1, likewise W). y must not alias
 * x. One pass over x and y, channels split over the pool; profiled as "conv depthwise". */
void sg_conv2d_dw3x3(const sg_tensor *x, const float *w, const sg_dw3x3 *p, sg_tensor *y);

/* ---- dense ---------------------------------------------------------------------------------- */
/* y[N, out] = x[N, in] · w[out, in]^T + b[out] (b may be NULL). y must not alias x. */
void sg_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y);

/* ---- normalisation (in place) --------------------------------------------------------------- */
/* Per (sample, channel) plane: (x - mean)/sqrt(var + eps), biased var; then ·gamma[c] + beta[c]
 * when gamma/beta are not NULL. Statistics accumulated in double. */
void sg_instance_norm(sg_tensor *x, const float *gamma, const float *beta, float eps);
/* AdaIN: x = (1 + gb[n, c]) · IN(x) + gb[n, C + c], gb [N, 2C] (gamma then beta per sample). */
void sg_adain(sg_tensor *x, const float *gb, float eps);
/* The same norms followed by leaky ReLU (slope) as a pre-activation of x (x unchanged): the
 * statistics per plane, the coefficients in co [4·N·C] (sub, sub_lo = the mean as two floats,
 * mul = g/sqrt(var + eps), add = b, with g, b = gamma[c], beta[c] (1, 0 when NULL) for the
 * instance norm and 1 + gb[n, c], gb[n, C + c] for AdaIN). */
sg_preact sg_instance_norm_pre(const sg_tensor *x, const float *gamma, const float *beta, float eps,
                               float slope, float *co);
sg_preact sg_adain_pre(const sg_tensor *x, const float *gb, float eps, float slope, float *co);
/* Inference batch norm: (x - mean[c]) / sqrt(var[c] + eps) · weight[c] + bias[c]. */
void sg_batch_norm(sg_tensor *x, const float *mean, const float *var, const float *weight,
                   const float *bias, float eps);

/* ---- activations and elementwise (in place on n floats) ------------------------------------- */
void sg_relu(float *x, size_t n);
void sg_leaky_relu(float *x, size_t n, float slope);
void sg_scale(float *x, size_t n, float s);
/* x = min(max(x, lo), hi) (a ReLU6 after a conv: lo 0, hi 6; lo ≤ hi) */
void sg_clamp(float *x, size_t n, float lo, float hi);
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
/* y[N, C, 2H, 2W] = (y + up2(x)) · s: the upsampled residual merge, x [N, C, H, W] read in place
 * (sg_add_scale after sg_upsample_nearest2, the same bytes, without the upsampled tensor). */
void sg_add_scale_up2(sg_tensor *y, const sg_tensor *x, float s);
/* Bilinear resize of x to y's H×W (no anti-aliasing). align_corners 0: src = (i+0.5)·in/out - 0.5
 * clamped at 0; 1: src = i·(in-1)/(out-1). Neighbours floor(src), floor(src)+1 clamped to in-1. */
void sg_resize_bilinear(const sg_tensor *x, sg_tensor *y, int align_corners);
/* y[N, C, Hy, Wy] = x[N, C, H, W] placed at (top, left), zeros elsewhere (top, left ≥ 0,
 * top + H ≤ Hy, left + W ≤ Wy): TF's asymmetric SAME padding made explicit, e.g. a 3×3 stride-2
 * conv on an even side is sg_pad_zero(x, 0, 0, y [H + 1, W + 1]) then sg_conv2d(stride 2, pad 0).
 * y must not alias x. */
void sg_pad_zero(const sg_tensor *x, int top, int left, sg_tensor *y);
/* y[N, Ca+Cb, H, W] = concat of a[N, Ca, H, W] and b[N, Cb, H, W] along channels. */
void sg_concat_channels(const sg_tensor *a, const sg_tensor *b, sg_tensor *y);

/* ---- GEMM ----------------------------------------------------------------------------------- */
/* C[M, N] = A[M, K] · B[K, N] (+ C when accumulate). Row-major. Split over net/'s pool; each
 * part runs on net/'s own register-blocked kernel where the CPU path has one (AVX-512), else on
 * single-threaded OpenBLAS (net/gemm.c). */
void sg_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
             int ldc, int accumulate);

#endif
