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

/* SG_BF16_WINOGRAD=1: bf16 products in the Winograd F(4,3) domain (measured, not the default:
 * 2.5× faster than the direct bf16 GEMMs but far less exact; bench/README.md "bf16"). */
int sg__bf16_winograd(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("SG_BF16_WINOGRAD");
        v = e && *e == '1';
    }
    return v;
}

const char *sg_bf16_path(void) { return sg_bf16_unsupported() ? "none" : "avx512_bf16"; }

/* ---- the weight set: an open-addressed table keyed by the fp32 weights' address ----------- */
#define SLOTS 8192 /* a power of two; the largest networks bind a few hundred conv weights */

typedef struct {
    const float *w;
    int kind, cout, cin; /* kind: WINO_U or LINEAR */
    void *u;             /* WINO_U: 36 positions of ldu bf16; LINEAR: pair panels */
    size_t ldu;
} entry;

enum { WINO_U = 1, LINEAR = 2 };

struct sg_bf16_weights {
    pthread_mutex_t lock;
    entry *slots;
    size_t bytes, used;
};

sg_status sg_bf16_weights_init(sg_bf16_weights **bw, sg_error *err) {
    *bw = NULL;
    const char *why = sg_bf16_unsupported();
    if (why) return sg_error_set(err, SG_ERR_UNSUPPORTED, "bf16: %s", why);
    sg_bf16_weights *b = calloc(1, sizeof *b);
    if (b) b->slots = calloc(SLOTS, sizeof(entry));
    if (!b || !b->slots) {
        free(b);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&b->lock, NULL);
    *bw = b;
    return SG_OK;
}

void sg_bf16_weights_free(sg_bf16_weights *bw) {
    if (!bw) return;
    for (size_t i = 0; i < SLOTS; i++) free(bw->slots[i].u);
    free(bw->slots);
    pthread_mutex_destroy(&bw->lock);
    free(bw);
}

size_t sg_bf16_weights_bytes(const sg_bf16_weights *bw) { return bw ? bw->bytes : 0; }

static _Thread_local sg_bf16_weights *current;

sg_bf16_weights *sg_bf16_use(sg_bf16_weights *bw) {
    sg_bf16_weights *old = current;
    current = bw;
    return old;
}

sg_bf16_weights *sg__bf16_current(void) { return current; }

/* U of w in the pair panels: the avx512 weight transform (8-row panel order), then per position
 * the conversion to bf16 pairs. */
static uint16_t *make_u(const float *w, int cout, int cin, size_t ldu) {
    const size_t n = (size_t)cout * cin;
    float *tmp = aligned_alloc(64, sizeof(float) * (SG_WINO_P * n + 64));
    uint16_t *u = aligned_alloc(64, sizeof(uint16_t) * (SG_WINO_P * ldu + 64));
    if (!tmp || !u) {
        free(tmp), free(u);
        return NULL;
    }
    sg__kernels_avx512.wino_w(w, 0, n, tmp, n, cin, 8, 0);
    for (int p = 0; p < SG_WINO_P; p++) {
        sg__bf16_panels(tmp + p * n, cout, cin, u + p * ldu);
        memset(u + p * ldu + n, 0, (ldu - n) * sizeof(uint16_t));
    }
    free(tmp);
    return u;
}

/* The entry of (w, kind, shape), made by make() on first sight (bytes: its size). */
static void *lookup(sg_bf16_weights *bw, const float *w, int kind, int cout, int cin, size_t ldu,
                    size_t bytes, void *(*make)(const float *, int, int, size_t)) {
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
            if (!(u = make(w, cout, cin, ldu))) break;
            e->w = w, e->kind = kind, e->cout = cout, e->cin = cin, e->u = u, e->ldu = ldu;
            bw->bytes += bytes, bw->used++;
            break;
        }
    }
    pthread_mutex_unlock(&bw->lock);
    return u;
}

static void *make_u_any(const float *w, int cout, int cin, size_t ldu) {
    return make_u(w, cout, cin, ldu);
}

const uint16_t *sg__bf16_wino_u(sg_bf16_weights *bw, const float *w, int cout, int cin,
                                size_t *ldu) {
    if (!bw || cout % 8 || cin % 2) return NULL;
    /* an odd number of 64-byte lines per position (the transforms' cache sets) */
    size_t l = ((size_t)cout * cin + 31) / 32 * 32;
    if ((l / 32) % 2 == 0) l += 32;
    *ldu = l;
    return lookup(bw, w, WINO_U, cout, cin, l, SG_WINO_P * l * sizeof(uint16_t), make_u_any);
}

static size_t linear_words(int out, int in) {
    return (size_t)(out + 7) / 8 * 8 * (size_t)((in + 1) / 2);
}

static void *make_linear(const float *w, int out, int in, size_t ldu) {
    (void)ldu;
    uint32_t *p = aligned_alloc(64, (linear_words(out, in) * 4 + 63) / 64 * 64);
    if (p) sg__bf16_pack_a(w, out, in, p);
    return p;
}

const uint32_t *sg__bf16_linear_w(sg_bf16_weights *bw, const float *w, int out, int in) {
    if (!bw || in > 2048 || out <= 0 || in <= 0) return NULL;
    return lookup(bw, w, LINEAR, out, in, 0, linear_words(out, in) * 4, make_linear);
}
