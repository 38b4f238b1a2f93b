/* bf16 precision: which CPUs run it, the per-thread switch, and the set of weights converted
 * once (net.h "precision"). The products themselves are in kern_bf16.c; winograd.c and gemm.c
 * call them when the calling thread has a set in use. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

const char *sg_precision_name(sg_precision p) { return p == SG_PRECISION_BF16 ? "bf16" : "fp32"; }

int sg_precision_parse(const char *s, sg_precision *p) {
    if (s && !strcmp(s, "fp32")) *p = SG_PRECISION_FP32;
    else if (s && !strcmp(s, "bf16")) *p = SG_PRECISION_BF16;
    else return -1;
    return 0;
}

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1UL << 14)
#endif

const char *sg_bf16_unsupported(void) {
    if (!(getauxval(AT_HWCAP2) & HWCAP2_BF16))
        return "this CPU has no BF16 instructions (BFDOT, Armv8.6): bf16 needs the bf16 feature "
               "(AWS Graviton 3 and later, Apple M2 and later); use --precision fp32";
    if (strcmp(sg_cpu_path(), "neon") != 0)
        return "bf16 runs on the neon kernel path, and SG_CPU selects another one";
    return NULL;
}

const char *sg_bf16_path(void) { return sg_bf16_unsupported() ? "none" : "neon_bf16"; }
#else
const char *sg_bf16_unsupported(void) {
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
          sg_cpu_supports("avx512")))
        return "this CPU has no AVX512-BF16 (VDPBF16PS): bf16 needs avx512_bf16 (AMD Zen 4 and "
               "later, Intel Cooper Lake / Sapphire Rapids and later); use --precision fp32";
    if (strcmp(sg_cpu_path(), "avx512") != 0)
        return "bf16 runs on the avx512 kernel path, and SG_CPU selects another one";
    return NULL;
}

const char *sg_bf16_path(void) { return sg_bf16_unsupported() ? "none" : "avx512_bf16"; }
#endif

/* ---- the weight set: an open-addressed table keyed by the fp32 weights' address ----------- */
#define SLOTS 8192 /* a power of two; the largest networks bind a few hundred conv weights */

typedef struct {
    const float *w;
    int kind, cout, cin; /* kind: the enum below */
    void *u;             /* pair panels (WINO2_U: 16 positions of ldu words) */
    size_t ldu;
} entry;

/* WINO4_WG + 8·m, WINO4_F32 + 8·(kernel path, mr): distinct residues mod 8 */
enum { LINEAR = 1, WINO2_U = 2, WINO4_F32 = 3, WINO4_WG = 4 };

struct sg_packed_weights {
    pthread_mutex_t lock;
    entry *slots;
    size_t bytes, used;
    int bf16; /* 1: a bf16 set; 0: fp32 (the Winograd U of the tile-row path only) */
};

sg_status sg_packed_weights_init(sg_packed_weights **bw, sg_precision prec, sg_error *err) {
    *bw = NULL;
    const char *why = prec == SG_PRECISION_BF16 ? sg_bf16_unsupported() : NULL;
    if (why) return sg_error_set(err, SG_ERR_UNSUPPORTED, "bf16: %s", why);
    sg_packed_weights *b = calloc(1, sizeof *b);
    if (b) b->slots = calloc(SLOTS, sizeof(entry));
    if (!b || !b->slots) {
        free(b);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&b->lock, NULL);
    b->bf16 = prec == SG_PRECISION_BF16;
    *bw = b;
    return SG_OK;
}

void sg_packed_weights_free(sg_packed_weights *bw) {
    if (!bw) return;
    for (size_t i = 0; i < SLOTS; i++) free(bw->slots[i].u);
    free(bw->slots);
    pthread_mutex_destroy(&bw->lock);
    free(bw);
}

size_t sg_packed_weights_bytes(const sg_packed_weights *bw) { return bw ? bw->bytes : 0; }

static _Thread_local sg_packed_weights *current;

sg_packed_weights *sg_packed_use(sg_packed_weights *bw) {
    sg_packed_weights *old = current;
    current = bw;
    return old;
}

sg_packed_weights *sg__bf16_current(void) { return current && current->bf16 ? current : NULL; }
sg_packed_weights *sg__packed_current(void) { return current; }

/* The entry of (w, kind, shape), made by make() on first sight (bytes: its size). */
static void *lookup(sg_packed_weights *bw, const float *w, int kind, int cout, int cin, size_t ldu,
                    size_t bytes, void *(*make)(const float *, int, int, size_t, const void *),
                    const void *ctx) {
    uintptr_t h = (uintptr_t)w ^ (uintptr_t)kind;
    h ^= h >> 17, h *= 0x9E3779B97F4A7C15u, h ^= h >> 29;
    void *u = NULL;
    pthread_mutex_lock(&bw->lock);
    for (size_t i = h & (SLOTS - 1), probes = 0; probes < SLOTS;
         i = (i + 1) & (SLOTS - 1), probes++) {
        entry *e = &bw->slots[i];
        if (e->w == w && e->kind == kind && e->cout == cout && e->cin == cin) {
            u = e->u;
            break;
        }
        if (!e->w) {
            if (bw->used * 4 >= SLOTS * 3) break; /* full: converted on the fly instead */
            if (!(u = make(w, cout, cin, ldu, ctx))) break;
            e->w = w, e->kind = kind, e->cout = cout, e->cin = cin, e->u = u, e->ldu = ldu;
            bw->bytes += bytes, bw->used++;
            break;
        }
    }
    pthread_mutex_unlock(&bw->lock);
    return u;
}

#if defined(__x86_64__) /* kern_wino2_bf16.c is AVX-512 only */
static void *make_wino2(const float *w, int cout, int cin, size_t ldu, const void *ctx) {
    (void)ctx;
    uint32_t *u = aligned_alloc(64, 16 * ldu * 4);
    if (u) {
        memset(u, 0, 16 * ldu * 4);
        sg__bf16_wino2_weights(w, cout, cin, u, ldu);
    }
    return u;
}

const uint32_t *sg__bf16_wino2_u(sg_packed_weights *bw, const float *w, int cout, int cin,
                                 size_t *ldu) {
    if (!bw || cout % 8 || cin % 2) return NULL;
    size_t l = ((size_t)cout * cin / 2 + 15) / 16 * 16; /* whole lines, an odd number of them */
    if ((l / 16) % 2 == 0) l += 16;
    *ldu = l;
    return lookup(bw, w, WINO2_U, cout, cin, l, 16 * l * 4, make_wino2, NULL);
}
#endif

/* fp32 F(4,3) U made by the given kernel table's transform: the very values the per-call
 * transform writes, so the products and the output bytes do not change */
typedef struct {
    const sg_kernels *k;
    int mr;
} wino4_how;

static void *make_wino4(const float *w, int cout, int cin, size_t ldu, const void *ctx) {
    const wino4_how *h = ctx;
    float *u = aligned_alloc(64, (SG_WINO_P * ldu * 4 + 63) / 64 * 64);
    if (u) h->k->wino_w(w, 0, (size_t)cout * cin, u, ldu, cin, h->mr, 0);
    return u;
}

const float *sg__wino4_u(sg_packed_weights *pw, const sg_kernels *k, const float *w, int cout,
                         int cin, int mr, size_t ldu) {
    if (!pw || pw->bf16) return NULL;
    const int path = sg__kernels_index(k);
    const int kind = WINO4_F32 + 8 * (3 * mr + path);
    const wino4_how how = {k, mr};
    return lookup(pw, w, kind, cout, cin, ldu, SG_WINO_P * ldu * 4, make_wino4, &how);
}

static void *make_wino4_wg(const float *w, int cout, int cin, size_t m, const void *ctx) {
    (void)ctx;
    float *g = aligned_alloc(64, ((size_t)cout * cin * 9 * 4 + 63) / 64 * 64);
    if (!g) return NULL;
    for (size_t co = 0; co < (size_t)cout; co++) /* [co/m][ci][tap][co%m] */
        for (size_t ci = 0; ci < (size_t)cin; ci++)
            for (size_t i = 0; i < 9; i++)
                g[((co / m * cin + ci) * 9 + i) * m + co % m] = w[(co * cin + ci) * 9 + i];
    return g;
}

const float *sg__wino4_wg(sg_packed_weights *pw, const float *w, int cout, int cin, int m) {
    if (!pw || pw->bf16 || m <= 0 || cout % m) return NULL;
    return lookup(pw, w, WINO4_WG + 8 * m, cout, cin, (size_t)m, (size_t)cout * cin * 9 * 4,
                  make_wino4_wg, NULL);
}

static size_t linear_words(int out, int in) {
    return (size_t)(out + 7) / 8 * 8 * (size_t)((in + 1) / 2);
}

static void *make_linear(const float *w, int out, int in, size_t ldu, const void *ctx) {
    (void)ctx;
    (void)ldu;
    uint32_t *p = aligned_alloc(64, (linear_words(out, in) * 4 + 63) / 64 * 64);
    if (p) sg__bf16_pack_a(w, out, in, p);
    return p;
}

const uint32_t *sg__bf16_linear_w(sg_packed_weights *bw, const float *w, int out, int in) {
    if (!bw || in > 2048 || out <= 0 || in <= 0) return NULL;
    return lookup(bw, w, LINEAR, out, in, 0, linear_words(out, in) * 4, make_linear, NULL);
}
