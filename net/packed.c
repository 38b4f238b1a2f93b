/* The packed-weights cache (net.h sg_packed_weights): weights converted or reordered once per
 * layer and kept, keyed by the fp32 weights' address and what was made of them. A bf16 set holds
 * the F(2,3) pair-panel U and the linear layers' pair panels (kern_bf16.c, kern_wino2_bf16.c make
 * them); an fp32 set holds the F(4,3) Winograd U and gather-order weights (winograd.c reads
 * them). The calling thread's set is switched with sg_packed_use. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* ---- the table: open addressing over the key's hash ------------------------------------------ */
#define SLOTS 8192 /* a power of two; the largest networks bind a few hundred conv weights */

typedef enum {
    PACK_NONE = 0,    /* an empty slot */
    PACK_BF16_LINEAR, /* sg__bf16_pack_a's pair panels of a linear layer */
    PACK_BF16_WINO2,  /* the bf16 F(2×2, 3×3) U (16 positions of ldu words) */
    PACK_FP32_WINO4,  /* the fp32 F(4,3) U as one kernel table's wino_w writes it */
    PACK_FP32_GATHER, /* w [Cout/m][Cin][9][m] for the channel-block Winograd path */
} pack_kind;

/* What an entry was made from and how: equal keys hold the same bytes. */
typedef struct {
    const float *w; /* the fp32 weights [cout, cin, ...] */
    pack_kind kind;
    int cout, cin;
    int panel;              /* PACK_FP32_WINO4: the panel order mr; PACK_FP32_GATHER: m; else 0 */
    const sg_kernels *kern; /* PACK_FP32_WINO4: the table whose transform made U; else NULL */
} pack_key;

typedef struct {
    pack_key key;
    void *data;
} pack_entry;

struct sg_packed_weights {
    pthread_mutex_t lock;
    pack_entry *slots;
    size_t bytes, used;
    int bf16; /* 1: a bf16 set; 0: fp32 (the Winograd U of the tile-row path only) */
};

static int key_equal(const pack_key *a, const pack_key *b) {
    return a->w == b->w && a->kind == b->kind && a->cout == b->cout && a->cin == b->cin &&
           a->panel == b->panel && a->kern == b->kern;
}

static size_t key_hash(const pack_key *k) {
    uintptr_t h = (uintptr_t)k->w ^ (uintptr_t)k->kind ^ ((uintptr_t)k->panel << 4);
    h ^= h >> 17, h *= 0x9E3779B97F4A7C15u, h ^= h >> 29;
    return (size_t)h;
}

sg_status sg_packed_weights_init(sg_packed_weights **pw, sg_precision prec, sg_error *err) {
    *pw = NULL;
    const char *why = prec == SG_PRECISION_BF16 ? sg_bf16_unsupported() : NULL;
    if (why) return sg_error_set(err, SG_ERR_UNSUPPORTED, "bf16: %s", why);
    sg_packed_weights *p = calloc(1, sizeof *p);
    if (p) p->slots = calloc(SLOTS, sizeof(pack_entry));
    if (!p || !p->slots) {
        free(p);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    p->bf16 = prec == SG_PRECISION_BF16;
    *pw = p;
    return SG_OK;
}

void sg_packed_weights_free(sg_packed_weights *pw) {
    if (!pw) return;
    for (size_t i = 0; i < SLOTS; i++) free(pw->slots[i].data);
    free(pw->slots);
    pthread_mutex_destroy(&pw->lock);
    free(pw);
}

size_t sg_packed_weights_bytes(const sg_packed_weights *pw) { return pw ? pw->bytes : 0; }

static _Thread_local sg_packed_weights *current;

sg_packed_weights *sg_packed_use(sg_packed_weights *pw) {
    sg_packed_weights *old = current;
    current = pw;
    return old;
}

sg_packed_weights *sg__bf16_current(void) { return current && current->bf16 ? current : NULL; }
sg_packed_weights *sg__packed_current(void) { return current; }

/* How to make an entry's data on first sight: make(w, cout, cin, ld, ctx), bytes its size. */
typedef struct {
    void *(*make)(const float *w, int cout, int cin, size_t ld, const void *ctx);
    const void *ctx;
    size_t ld, bytes;
} pack_recipe;

/* The data of key, made by r on first sight; NULL when the table is full (3/4: the caller
 * converts on the fly) or make fails. */
static void *find_or_make(sg_packed_weights *pw, const pack_key *key, const pack_recipe *r) {
    void *data = NULL;
    pthread_mutex_lock(&pw->lock);
    for (size_t i = key_hash(key) & (SLOTS - 1), probes = 0; probes < SLOTS;
         i = (i + 1) & (SLOTS - 1), probes++) {
        pack_entry *e = &pw->slots[i];
        if (e->key.kind != PACK_NONE && key_equal(&e->key, key)) {
            data = e->data;
            break;
        }
        if (e->key.kind == PACK_NONE) {
            if (pw->used * 4 >= SLOTS * 3) break;
            if (!(data = r->make(key->w, key->cout, key->cin, r->ld, r->ctx))) break;
            e->key = *key, e->data = data;
            pw->bytes += r->bytes, pw->used++;
            break;
        }
    }
    pthread_mutex_unlock(&pw->lock);
    return data;
}

/* ---- bf16 entries ---------------------------------------------------------------------------- */
#if defined(__x86_64__) /* kern_wino2_bf16.c, the F(2,3) bf16 Winograd, is AVX-512 only */
static void *make_bf16_wino2(const float *w, int cout, int cin, size_t ldu, const void *ctx) {
    (void)ctx;
    uint32_t *u = aligned_alloc(64, 16 * ldu * 4);
    if (u) {
        memset(u, 0, 16 * ldu * 4);
        sg__bf16_wino2_weights(w, cout, cin, u, ldu);
    }
    return u;
}

const uint32_t *sg__bf16_wino2_u(sg_packed_weights *pw, const float *w, int cout, int cin,
                                 size_t *ldu) {
    if (!pw || cout % 8 || cin % 2) return NULL;
    size_t l = ((size_t)cout * cin / 2 + 15) / 16 * 16; /* whole lines, an odd number of them */
    if ((l / 16) % 2 == 0) l += 16;
    *ldu = l;
    const pack_key key = {w, PACK_BF16_WINO2, cout, cin, 0, NULL};
    const pack_recipe r = {make_bf16_wino2, NULL, l, 16 * l * 4};
    return find_or_make(pw, &key, &r);
}
#endif

static size_t linear_words(int out, int in) {
    return (size_t)(out + 7) / 8 * 8 * (size_t)((in + 1) / 2);
}

static void *make_bf16_linear(const float *w, int out, int in, size_t ld, const void *ctx) {
    (void)ctx;
    (void)ld;
    uint32_t *p = aligned_alloc(64, (linear_words(out, in) * 4 + 63) / 64 * 64);
    if (p) sg__bf16_pack_a(w, out, in, p);
    return p;
}

const uint32_t *sg__bf16_linear_w(sg_packed_weights *pw, const float *w, int out, int in) {
    if (!pw || in > 2048 || out <= 0 || in <= 0) return NULL;
    const pack_key key = {w, PACK_BF16_LINEAR, out, in, 0, NULL};
    const pack_recipe r = {make_bf16_linear, NULL, 0, linear_words(out, in) * 4};
    return find_or_make(pw, &key, &r);
}

/* ---- fp32 entries ---------------------------------------------------------------------------- */
/* fp32 F(4,3) U made by the given kernel table's transform: the very values the per-call
 * transform writes, so the products and the output bytes do not change */
typedef struct {
    const sg_kernels *k;
    int mr;
} wino4_how;

static void *make_fp32_wino4(const float *w, int cout, int cin, size_t ldu, const void *ctx) {
    const wino4_how *h = ctx;
    float *u = aligned_alloc(64, (SG_WINO_P * ldu * 4 + 63) / 64 * 64);
    if (u) h->k->wino_w(w, 0, (size_t)cout * cin, u, ldu, cin, h->mr, 0);
    return u;
}

const float *sg__wino4_u(sg_packed_weights *pw, const sg_kernels *k, const float *w, int cout,
                         int cin, int mr, size_t ldu) {
    if (!pw || pw->bf16) return NULL;
    const wino4_how how = {k, mr};
    const pack_key key = {w, PACK_FP32_WINO4, cout, cin, mr, k};
    const pack_recipe r = {make_fp32_wino4, &how, ldu, SG_WINO_P * ldu * 4};
    return find_or_make(pw, &key, &r);
}

static void *make_fp32_gather(const float *w, int cout, int cin, size_t m, const void *ctx) {
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
    const pack_key key = {w, PACK_FP32_GATHER, cout, cin, m, NULL};
    const pack_recipe r = {make_fp32_gather, NULL, (size_t)m, (size_t)cout * cin * 9 * 4};
    return find_or_make(pw, &key, &r);
}
