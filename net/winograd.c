/* Winograd F(4×4, 3×3) convolution for stride-1, pad-1 3×3 layers (Lavin & Gray 2016).
 *
 * Each 4×4 block of outputs ("tile") is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A with d the 6×6 input patch
 * around it; summed over input channels the ⊙ becomes, for each of the 36 transformed positions
 * p, one GEMM  M[p][Cout, tiles] = U[p][Cout, Cin] · V[p][Cin, tiles]. That is 36 multiplies per
 * 16 outputs per channel pair instead of 144 (4× fewer FLOPs in the GEMMs), plus the input and
 * output transforms (O(Cin + Cout) per tile, vectorised per CPU in kern_template.h).
 *
 * The tiles are cut into tasks of rpt tile rows (≥ 32 tiles: the GEMMs' N); each task runs start
 * to finish on one pool thread in its own slot, so V and M stay in cache:
 *   workspace = U [36, Cout, Cin] | per thread: V [36, Cin, nt] | M [36, Cout, nt] | band,
 * the band being one channel's 4·rpt + 2 zero-padded input rows (each copied once per task).
 * U is transformed per call (vectorised, kern_template.h): O(36·Cout·Cin) against the conv's
 * O(Cout·Cin·H·W); with an fp32 weight set (the engines') the tile-row layers' U is made once
 * and kept. Layers with few tiles and many output channels (512 channels at 32² and 16²) split
 * by output-channel blocks instead, so that U never leaves the cache (conv_winograd_co below);
 * there the set keeps only the weights, reordered for the transform (sg__wino4_wg: 1/4 of U).
 * Accuracy: F(4,3) in float32 loses ~2-3 more bits than direct summation (the transforms' 4, 5,
 * 8 coefficients); measured against the fixtures it stays orders of magnitude inside their
 * tolerance (see tests/test_net.c and test_generator.c). */
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>

#define TILE           SG_WINO_M
#define MIN_TASK_TILES 32 /* tiles per task at least (tile rows are grouped): GEMM N */
#define BIG_U_FLOATS   ((size_t)2 << 20) /* 8 MiB */

typedef struct {
    int th, tw;  /* tile rows and columns */
    int rpt;     /* tile rows per task */
    int nt;      /* tiles per task (rpt · tw) */
    int lrow;    /* padded input row length: 4·tw + 2 rounded to 16 (≥ 4·tw + 4, the kernels'
                      vector reads) */
    int threads; /* scratch slots */
    size_t ldu, ldv, ldm; /* floats between the 36 positions of U, V, M (odd_lines) */
    size_t u;             /* floats of U */
    size_t slot;          /* floats of one thread's V | M | band */
} wino_plan;

/* A position stride of n floats or a little more, an odd number of 64-byte lines: the
 * transforms touch all 36 positions at once, and with a stride of a power of two (512·512 floats,
 * 256·32 ...) those 36 lines fall into the same L1/L2 cache sets and evict one another (8 ways):
 * an odd line stride spreads them over 36 different sets. */
static size_t odd_lines(size_t n) {
    const size_t l = sg__round16(n);
    return (l / 16) % 2 ? l : l + 16;
}

static size_t plan_size(const wino_plan *p) { return p->u + (size_t)p->threads * p->slot + 64; }

static void plan_rows(wino_plan *p, int cin, int cout, int rpt) {
    p->rpt = rpt, p->nt = rpt * p->tw;
    p->ldv = odd_lines((size_t)cin * p->nt), p->ldm = odd_lines((size_t)cout * p->nt);
    p->slot = SG_WINO_P * (p->ldv + p->ldm) + (4 * (size_t)rpt + 2) * p->lrow + 16;
}

/* Tile rows per task: enough for MIN_TASK_TILES tiles (the GEMM's N: narrower falls off the
 * vector kernels), more when ws allows up to 2× that; rpt = 0 when even the minimum does not fit
 * (the caller then uses another algorithm). */
static wino_plan plan_wino(int cin, int h, int w, int cout, size_t cap) {
    wino_plan p = {0};
    p.th = (h + TILE - 1) / TILE, p.tw = (w + TILE - 1) / TILE;
    p.lrow = (int)sg__round16((size_t)4 * p.tw + 2);
    p.threads = sg__threads();
    p.ldu = odd_lines((size_t)cout * cin);
    p.u = SG_WINO_P * p.ldu;
    int lo = (MIN_TASK_TILES + p.tw - 1) / p.tw, hi = (2 * MIN_TASK_TILES + p.tw - 1) / p.tw;
    /* every task streams all of U: with a big U, one task per thread (smaller U lose more to V
     * and M outgrowing L2 than they save; bench/README.md) */
    if (p.u >= BIG_U_FLOATS) hi = p.th;
    if (lo > p.th) lo = p.th;
    if (hi > p.th / p.threads) hi = p.th / p.threads; /* every thread gets a task */
    if (hi < lo) hi = lo;
    /* first pass: tasks of whole vectors of tiles (a ragged N falls off the vector kernels:
     * 40 tiles ran 10× slower than 32) and an even split of the tile rows */
    for (int pass = 0; pass < 2; pass++)
        for (int r = hi; r >= lo; r--) {
            if (!pass && ((r * p.tw) % 16 || p.th % r)) continue;
            plan_rows(&p, cin, cout, r);
            if (plan_size(&p) <= cap) return p;
        }
    p.rpt = 0;
    return p;
}

size_t sg_conv_winograd_floats(int cin, int h, int w, int cout) {
    wino_plan p = plan_wino(cin, h, w, cout, (size_t)-1);
    return plan_size(&p);
}

typedef struct {
    const wino_plan *p;
    const sg_kernels *k;
    int cin, cout, h, w, tasks_per_sample; /* h, w: the output's (= the conv input's) size */
    int up;     /* 1: x is [Cin, h/2, w/2], read as its nearest 2× upsample (never materialised) */
    int pool;   /* 1: y is [Cout, h/2, w/2], the conv's 2×2 average pool (never materialised) */
    int packed; /* U in gemm_packed's panel order (cout % mr == 0) */
    const float *x, *wt, *b;
    const float *wg; /* wt in wino_w's gather order (sg__wino4_wg) for the block path, or NULL */
    float *y, *u, *slots;
    const sg_preact *pre; /* x read as pre(x) (net.h), or NULL */
    unsigned char *mzero; /* up: per thread slot, 1 once its M is +0 at the skipped positions */
} wino_ctx;

/* With a virtually upsampled input (up) every 6×6 patch repeats its rows and its columns as
 * [a, b, b, c, c, d], and Bᵀ's third row (0 4 -4 -1 1 0) maps that to exactly 0: V is +0 at
 * the 11 positions in row 2 or column 2 of the 6×6, and so is M there (products of +0 summed
 * into +0). Their products are skipped and M there is zeroed once per thread slot instead:
 * 25 products instead of 36, the same bytes. */
static int up_skip(int up, int q) { return up && (q / 6 == 2 || q % 6 == 2); }
static int positions(int up) { return up ? 25 : SG_WINO_P; } /* products run */

/* M [36 positions of ldm floats, rows·cols each] +0 at the skipped positions, once per slot */
static void up_zero_m(const wino_ctx *c, int thread, float *m, size_t ldm, size_t floats) {
    if (!c->up || c->mzero[thread]) return;
    for (int q = 0; q < SG_WINO_P; q++)
        if (up_skip(1, q)) memset(m + q * ldm, 0, floats * sizeof(float));
    c->mzero[thread] = 1;
}

typedef struct {
    float *v, *m, *band;
} wino_slot;

static wino_slot slot_of(const wino_ctx *c, int thread) {
    const wino_plan *p = c->p;
    wino_slot s;
    s.v = c->slots + (size_t)thread * p->slot;
    s.m = s.v + SG_WINO_P * p->ldv;
    s.band = s.m + SG_WINO_P * p->ldm;
    return s;
}

/* buf[1 + x] = row iy of one channel plane [h, w] at column x, zeros around it up to lrow
 * (a zero row outside the image). up: the row of the plane's nearest 2× upsample, read from the
 * [h/2, w/2] plane (the decoder's upsample → conv without the 4× larger tensor). With a
 * pre-activation (plane k = n·Cin + c), the row as pre(x): the norm + activation before the
 * conv fused into this copy (padding stays 0, as after a separate activation). */
static void band_row(const wino_ctx *c, const float *plane, int iy, float *buf, int lrow, int k) {
    const int h = c->h, w = c->w;
    if (iy < 0 || iy >= h) {
        memset(buf, 0, (size_t)lrow * sizeof(float));
        return;
    }
    buf[0] = 0.0f;
    if (c->up) {
        const float *l = plane + (size_t)(iy / 2) * (w / 2);
        if (c->pre) { /* the activation on the low-resolution row, then the duplication */
            float *t = buf + w / 2 + 1; /* buf's second half: the loop below writes entry 2x + 2
                                         * only after reading t[x] = buf[w/2 + 1 + x] */
            sg__pre_row(c->pre, (size_t)k, l, (size_t)w / 2, t);
            l = t;
        }
        for (int x = 0; x < w / 2; x++) buf[1 + 2 * x] = buf[2 + 2 * x] = l[x];
    } else if (c->pre) {
        sg__pre_row(c->pre, (size_t)k, plane + (size_t)iy * w, (size_t)w, buf + 1);
    } else {
        memcpy(buf + 1, plane + (size_t)iy * w, (size_t)w * sizeof(float));
    }
    memset(buf + 1 + w, 0, (size_t)(lrow - 1 - w) * sizeof(float));
}

/* V[p][c][k·tw + t] of tile rows tr0 .. tr0 + nr - 1 of sample n, every input channel. */
static void input_task(const wino_ctx *c, const wino_slot *s, int n, int tr0, int nr) {
    const wino_plan *p = c->p;
    const size_t plane = (size_t)c->h * c->w >> (2 * c->up);
    const float *x = c->x + (size_t)n * c->cin * plane;
    for (int ch = 0; ch < c->cin; ch++) {
        for (int i = 0; i < 4 * nr + 2; i++)
            band_row(c, x + ch * plane, TILE * tr0 - 1 + i, s->band + (size_t)i * p->lrow, p->lrow,
                     n * c->cin + ch);
        c->k->wino_in(s->band, p->lrow, nr, p->tw, s->v + (size_t)ch * p->nt, p->ldv, c->up);
    }
}

/* y rows of the task's tiles from M, every output channel (pooled 2×2 with c->pool). */
static void output_task(const wino_ctx *c, const wino_slot *s, float *y, int tr0, int nr) {
    const wino_plan *p = c->p;
    const size_t plane = (size_t)c->h * c->w >> (2 * c->pool);
    const int y0 = TILE * tr0;
    for (int co = 0; co < c->cout; co++) {
        const float *m = s->m + (size_t)co * p->nt, bias = c->b ? c->b[co] : 0.0f;
        if (c->pool)
            c->k->wino_out_pool(m, p->ldm, nr, p->tw, bias,
                                y + co * plane + (size_t)(y0 / 2) * (c->w / 2), c->w, c->h - y0);
        else
            c->k->wino_out(m, p->ldm, nr, p->tw, bias, y + co * plane + (size_t)y0 * c->w, c->w,
                           c->h - y0);
    }
}

/* m = u · v for a tile count that is not a whole number of vectors (the last task of a layer
 * whose tile rows do not divide evenly): the packed product on the whole vectors, then the
 * remaining columns one at a time (rare: small layers with an odd tile count only). */
static void packed_ragged(const wino_ctx *c, const float *u, const float *v, int ldv, int nt,
                          float *m) {
    const int vl = c->k->vl, whole = nt / vl * vl;
    if (whole) c->k->gemm_packed(c->cout, whole, c->cin, u, v, ldv, m, ldv, 0);
    float out[64]; /* mr ≤ 64 */
    for (int j = whole; j < nt; j++)
        for (int i = 0; i < c->cout;
             i += c->k->mr) { /* panel i: out[r] = Σ_k u[k·mr + r]·v[k][j] */
            const float *a = u + (size_t)i * c->cin;
            for (int r = 0; r < c->k->mr; r++) out[r] = 0.0f;
            for (int kk = 0; kk < c->cin; kk++)
                for (int r = 0; r < c->k->mr; r++)
                    out[r] += a[(size_t)kk * c->k->mr + r] * v[(size_t)kk * ldv + j];
            for (int r = 0; r < c->k->mr; r++) m[(size_t)(i + r) * ldv + j] = out[r];
        }
}

/* One task: rpt tile rows of one sample, start to finish in this thread's slot (V and M stay
 * in cache). Only thread slot 0 reports its phases to the profile (its share of the work). */
static void tile_task(void *ctx, int task, int thread) {
    const wino_ctx *c = ctx;
    const wino_plan *p = c->p;
    const int n = task / c->tasks_per_sample, tr0 = (task % c->tasks_per_sample) * p->rpt;
    const int nr = p->th - tr0 < p->rpt ? p->th - tr0 : p->rpt, nt = nr * p->tw;
    const wino_slot s = slot_of(c, thread);
    const int prof = thread == 0;
    double t0 = prof ? sg__prof_now() : 0;
    input_task(c, &s, n, tr0, nr);
    if (prof) sg__prof_add(SG_PROF_WINO_IN, t0, 0), t0 = sg__prof_now();
    up_zero_m(c, thread, s.m, p->ldm, (size_t)c->cout * p->nt);
    for (int q = 0; q < SG_WINO_P; q++) {
        if (up_skip(c->up, q)) continue;
        const float *u = c->u + q * p->ldu, *v = s.v + q * p->ldv;
        float *m = s.m + q * p->ldm;
        if (c->packed && nt % c->k->vl == 0)
            c->k->gemm_packed(c->cout, nt, c->cin, u, v, p->nt, m, p->nt, 0);
        else if (c->packed) /* a ragged last task: unpack-free fallback, column by column */
            packed_ragged(c, u, v, p->nt, nt, m);
        else c->k->gemm(c->cout, nt, c->cin, u, c->cin, v, p->nt, m, p->nt, 0, NULL);
    }
    if (prof)
        sg__prof_add(SG_PROF_WINO_GEMM, t0, 2.0 * positions(c->up) * c->cout * c->cin * nt),
            t0 = sg__prof_now();
    output_task(c, &s, c->y + ((size_t)n * c->cout * c->h * c->w >> (2 * c->pool)), tr0, nr);
    if (prof) sg__prof_add(SG_PROF_WINO_OUT, t0, 0);
}

/* U in as many chunks as threads, each a multiple of 64 slots (whole cache lines for the
 * streaming stores). A U too big to come back from L3 (512→512: 36 MiB) is written with
 * non-temporal stores: no read-for-ownership of lines that are only written; smaller ones (the
 * FAN's ≤ 4.5 MiB) are read back from the caches, streaming them cost time (bench/README.md). */
#define STREAM_U_FLOATS ((size_t)1 << 22) /* 16 MiB */
static void weight_task(void *ctx, int task, int thread) {
    const wino_ctx *c = ctx;
    (void)thread;
    const size_t count = (size_t)c->cout * c->cin;
    const size_t per = ((count + c->p->threads - 1) / c->p->threads + 63) / 64 * 64;
    const size_t k0 = (size_t)task * per, k1 = k0 + per < count ? k0 + per : count;
    if (k0 < k1)
        c->k->wino_w(c->wt, k0, k1 - k0, c->u + k0, c->p->ldu, c->cin, c->packed ? c->k->mr : 0,
                     c->p->u > STREAM_U_FLOATS);
}

/* ---- split by output channels: few tiles, many channels ------------------------------------
 * At 32² a 512→512 layer has 64 tiles but a 36 MiB U: written out and then streamed from memory
 * by every tile task, U cost more than the products. Here V of all of a group of samples' tiles
 * is built first (shared, 36·Cin·T floats for T tiles: nt per sample, up to GROUP_TILES for a
 * batch), then each task takes CO_BLOCK output channels:
 * it transforms only their U into its own slot (36·CO_BLOCK·Cin floats, which stay in cache),
 * runs the 36 products over all tiles and the output transform; U never goes to memory.
 *   workspace = V [36, Cin, T] | per thread: U_blk [36, CO_BLOCK·Cin] | M_blk [36, CO_BLOCK, T]
 *               | band (one channel's 4·th + 2 padded rows). */
#define CO_BLOCK 32

typedef struct {
    const wino_ctx *c; /* x, w, b, y, pre, sizes (c->p: th, tw, lrow) */
    int nt, n, g;      /* tiles per sample; the group's first sample and its samples */
    int tt, chunk;     /* the group's tiles (g·nt: the products' N); input channels per V task */
    size_t ldv, ldub, ldmb, slot;
    float *v, *slots;
} co_ctx;

static int co_split_pays(int cin, int cout, int nt, const sg_kernels *k) {
    return cout % CO_BLOCK == 0 && CO_BLOCK % k->mr == 0 && nt % k->vl == 0 && cin >= 16 &&
           cout >= 2 * nt; /* U at least twice V (where it beat the split by tiles) */
}

static size_t co_plan(co_ctx *o, const wino_plan *p, int cin, int nt, int g) {
    o->nt = nt, o->g = g, o->tt = g * nt;
    o->ldv = odd_lines((size_t)cin * o->tt);
    o->ldub = odd_lines((size_t)CO_BLOCK * cin), o->ldmb = odd_lines((size_t)CO_BLOCK * o->tt);
    o->slot = SG_WINO_P * (o->ldub + o->ldmb) + (4 * (size_t)p->th + 2) * p->lrow + 16;
    return SG_WINO_P * o->ldv + (size_t)p->threads * o->slot + 64;
}

/* V of input channels [chunk·k, …) of the group's sample task / chunks (k = task % chunks), all
 * its tiles: V [36, Cin, g·nt], the sample's tiles at columns [s·nt, (s + 1)·nt) */
static void co_input_task(void *ctx, int task, int thread) {
    const co_ctx *o = ctx;
    const wino_ctx *c = o->c;
    const wino_plan *p = c->p;
    const size_t plane = (size_t)c->h * c->w >> (2 * c->up);
    float *band = o->slots + (size_t)thread * o->slot + SG_WINO_P * (o->ldub + o->ldmb);
    const int chunks = (c->cin + o->chunk - 1) / o->chunk, s = task / chunks, n = o->n + s;
    const int k = task % chunks, c1 = (k + 1) * o->chunk < c->cin ? (k + 1) * o->chunk : c->cin;
    for (int ch = k * o->chunk; ch < c1; ch++) {
        const float *x = c->x + ((size_t)n * c->cin + ch) * plane;
        for (int i = 0; i < 4 * p->th + 2; i++)
            band_row(c, x, i - 1, band + (size_t)i * p->lrow, p->lrow, n * c->cin + ch);
        c->k->wino_in(band, p->lrow, p->th, p->tw, o->v + (size_t)ch * o->tt + (size_t)s * o->nt,
                      o->ldv, c->up);
    }
}

/* Input channels per step of a block: the step's U slice [36, CO_BLOCK·kb], its V rows
 * [36, kb, T] and the block's M [36, CO_BLOCK, T] fit in 768 KiB together, so the products read
 * U from L2 right after the transform wrote it (all of a 512-channel block's U is 2.4 MiB).
 * That paid at 16² (T = 16); from 64 tiles (32²) up, M re-read per step cost what the steps
 * saved, so one step there (bench_layers, bench/README.md). */
static int co_step(int cin, int nt) {
    if (nt > 32) return cin;
    const int per_pos = 196608 / SG_WINO_P; /* floats per position */
    int kb = (per_pos - CO_BLOCK * nt) / (CO_BLOCK + nt);
    kb = kb / 8 * 8;
    if (kb < 8) kb = 8;
    return kb < cin ? kb : cin;
}

/* Below 32 tiles (the 16 of a 16² layer) the product runs transposed where the kernels have it:
 * M[t][co] with the block's 32 output channels along the vector lanes and the tiles
 * broadcast, as fast as the main kernel, where one vector of tiles left most of the FMAs
 * waiting on A's broadcasts. */
static int transposed(const sg_kernels *k, int cin, int nt) {
    return k->gemm_t32 && CO_BLOCK == 32 && nt < 32 && nt % k->mr == 0 &&
           cin >= nt; /* the untransposed M fits the U slot */
}

/* mt [36 positions of ldm][nt][32] → out [36 of ldm][32][nt], the layout wino_out reads */
static float *untranspose(const float *mt, size_t ldm, int nt, float *out) {
    for (int q = 0; q < SG_WINO_P; q++)
        for (int t = 0; t < nt; t++)
            for (int co = 0; co < CO_BLOCK; co++)
                out[q * ldm + (size_t)co * nt + t] = mt[q * ldm + (size_t)t * CO_BLOCK + co];
    return out;
}

/* output channels [task·CO_BLOCK, …): their U, the 36 products, the output transform. U is made
 * kb input channels at a time and each step's products accumulate into M (the same sums in the
 * same order as one product over every channel: the same bytes). */
static void co_block_task(void *ctx, int task, int thread) {
    const co_ctx *o = ctx;
    const wino_ctx *c = o->c;
    const wino_plan *p = c->p;
    const int c0 = task * CO_BLOCK, prof = thread == 0, tr = transposed(c->k, c->cin, o->tt);
    const int mr = tr ? CO_BLOCK : c->k->mr; /* U's panels: the block as one with tr */
    float *u = o->slots + (size_t)thread * o->slot, *m = u + SG_WINO_P * o->ldub;
    const int kb = co_step(c->cin, o->tt);
    const size_t ldu = odd_lines((size_t)CO_BLOCK * kb); /* ≤ o->ldub */
    double t0 = prof ? sg__prof_now() : 0, tw = 0;
    up_zero_m(c, thread, m, o->ldmb, (size_t)CO_BLOCK * o->tt);
    for (int ci0 = 0; ci0 < c->cin; ci0 += kb) {
        const int n = c->cin - ci0 < kb ? c->cin - ci0 : kb;
        const double t1 = prof ? sg__prof_now() : 0;
        /* panel i's slots for channels ci0 .. ci0 + n - 1 are contiguous in the packed order */
        for (int i = 0; i < CO_BLOCK / mr; i++)
            c->k->wino_w(c->wg ? c->wg : c->wt,
                         ((size_t)c0 + (size_t)i * mr) * c->cin + (size_t)ci0 * mr, (size_t)n * mr,
                         u + (size_t)i * n * mr, ldu, c->cin, c->wg ? -mr : mr, 0);
        if (prof) tw += sg__prof_now() - t1;
        for (int q = 0; q < SG_WINO_P; q++) {
            if (up_skip(c->up, q)) continue;
            const float *v = o->v + q * o->ldv + (size_t)ci0 * o->tt;
            if (tr) c->k->gemm_t32(o->tt, n, v, o->tt, u + q * ldu, m + q * o->ldmb, ci0 > 0);
            else
                c->k->gemm_packed(CO_BLOCK, o->tt, n, u + q * ldu, v, o->tt, m + q * o->ldmb, o->tt,
                                  ci0 > 0);
        }
    }
    if (prof) {
        sg__prof_add(SG_PROF_WINO_W, sg__prof_now() - tw, 0);
        sg__prof_add(SG_PROF_WINO_GEMM, t0 + tw,
                     2.0 * positions(c->up) * CO_BLOCK * c->cin * o->tt);
        t0 = sg__prof_now();
    }
    if (tr) m = untranspose(m, o->ldmb, o->tt, u); /* into the U slot, free now */
    const size_t plane = (size_t)c->h * c->w >> (2 * c->pool);
    for (int co = c0; co < c0 + CO_BLOCK; co++) {
        for (int s = 0; s < o->g; s++) {
            const float *mc = m + (size_t)(co - c0) * o->tt + (size_t)s * o->nt;
            float *yc = c->y + ((size_t)(o->n + s) * c->cout + co) * plane;
            const float bias = c->b ? c->b[co] : 0.0f;
            if (c->pool) c->k->wino_out_pool(mc, o->ldmb, p->th, p->tw, bias, yc, c->w, c->h);
            else c->k->wino_out(mc, o->ldmb, p->th, p->tw, bias, yc, c->w, c->h);
        }
    }
    if (prof) sg__prof_add(SG_PROF_WINO_OUT, t0, 0);
}

int sg__wino_pays(int cin, int cout, int h, int w) {
    if (cin < 16 || cout < 16) return 0;
    if ((size_t)h * w >= SG_WINO_MIN_PIXELS) return 1;
    const int nt = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
    return h * w >= 16 * 16 && co_split_pays(cin, cout, nt, sg__kernels());
}

/* Samples per group of the block path: a batch's samples share each block's U (made once per
 * group, not per sample) and its products run over all their tiles, up to GROUP_TILES (the 16
 * tiles of a 16² layer left the products' N short). Each output is the same sum in the same
 * order whatever the group, so a sample's bytes do not depend on its batch. */
#define GROUP_TILES 128

/* The conv by output-channel blocks when that pays and fits; -1 (nothing written) otherwise. */
static int conv_winograd_co(wino_ctx *c, int batch, size_t cap) {
    co_ctx o = {.c = c};
    const wino_plan *p = c->p;
    const int nt = p->th * p->tw, threads = p->threads;
    if (!co_split_pays(c->cin, c->cout, nt, c->k) || co_plan(&o, p, c->cin, nt, 1) > cap) return -1;
    int gmax = GROUP_TILES / nt > 1 ? GROUP_TILES / nt : 1;
    if (gmax > batch) gmax = batch;
    while (gmax > 1 && co_plan(&o, p, c->cin, nt, gmax) > cap) gmax--;
    o.chunk = (c->cin + 4 * threads - 1) / (4 * threads);
    const int chunks = (c->cin + o.chunk - 1) / o.chunk;
    for (o.n = 0; o.n < batch; o.n += o.g) {
        co_plan(&o, p, c->cin, nt, batch - o.n < gmax ? batch - o.n : gmax);
        /* an fp32 set: the weights kept in the transform's gather order (made only for a layer
         * that takes this path) */
        c->wg = sg__wino4_wg(sg__packed_current(), c->wt, c->cout, c->cin,
                             transposed(c->k, c->cin, o.tt) ? CO_BLOCK : c->k->mr);
        o.v = c->u; /* the workspace start */
        o.slots = o.v + SG_WINO_P * o.ldv;
        memset(c->mzero, 0, 64); /* the slots moved with V's size: their M +0 again (up) */
        const double t0 = sg__prof_now();
        sg__parallel(o.g * chunks, co_input_task, &o);
        sg__prof_add(SG_PROF_WINO_IN, t0, 0);
        sg__parallel(c->cout / CO_BLOCK, co_block_task, &o);
    }
    return 0;
}

/* y [N, Cout, H, W] = conv3×3(x, or up2(x) when up) with x read as pre(x) when pre is not NULL;
 * x [N, Cin, H, W], or [N, Cin, H/2, W/2] when up. */
static int conv_winograd(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                         sg_workspace *ws, int up, const sg_preact *pre, int pool) {
    const int cin = x->c, cout = y->c, h = y->h << pool, wd = y->w << pool;
    if (!ws || !ws->buf || (up && (h % 2 || wd % 2)) || (pool && up)) return -1;
    sg_packed_weights *bw = sg__bf16_current(); /* bf16: F(2×2, 3×3), kern_wino2_bf16.c */
    if (bw) return pool ? -1 : sg__wino2_bf16(x, w, b, y, ws, up, pre, bw);
    const sg_kernels *k = sg__kernels();
    wino_plan p = plan_wino(cin, h, wd, cout, (size_t)-1); /* th, tw, lrow, threads */
    unsigned char mzero[64] = {0};                         /* pool threads ≤ 8 (pool.c) */
    wino_ctx c = {.p = &p,
                  .k = k,
                  .cin = cin,
                  .cout = cout,
                  .h = h,
                  .w = wd,
                  .up = up,
                  .pool = pool,
                  .packed = cout % k->mr == 0,
                  .x = x->data,
                  .wt = w,
                  .b = b,
                  .y = y->data,
                  .u = ws->buf,
                  .pre = pre,
                  .mzero = mzero}; /* tasks_per_sample, slots: below; wg: the block path */
    SG_ASSERT(p.threads <= 64);
    const double t0 = sg__prof_now();
    if (conv_winograd_co(&c, x->n, ws->cap) == 0) {
        sg__prof_add(up ? SG_PROF_UP2 : SG_PROF_WINO, t0,
                     2.0 * 9 * cout * cin * (double)h * wd * x->n);
        return 0;
    }
    p = plan_wino(cin, h, wd, cout, ws->cap);
    if (!p.rpt) return -1;
    c.tasks_per_sample = (p.th + p.rpt - 1) / p.rpt, c.slots = ws->buf + p.u;
    /* an fp32 weight set (the server's engines): U transformed once per layer and kept, the
     * same values, so the same bytes; else per call into the workspace */
    const float *kept =
        sg__wino4_u(sg__packed_current(), k, w, cout, cin, c.packed ? k->mr : 0, p.ldu);
    if (kept) c.u = (float *)kept;
    else sg__parallel(p.threads, weight_task, &c);
    sg__prof_add(SG_PROF_WINO_W, t0, 0);
    sg__parallel(x->n * c.tasks_per_sample, tile_task, &c);
    sg__prof_add(up ? SG_PROF_UP2 : SG_PROF_WINO, t0, 2.0 * 9 * cout * cin * (double)h * wd * x->n);
    return 0;
}

int sg__conv_winograd(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                      sg_workspace *ws, int up, const sg_preact *pre) {
    return conv_winograd(x, w, b, y, ws, up, pre, 0);
}

int sg_conv2d_winograd(const sg_tensor *x, const float *w, const float *b, sg_tensor *y,
                       sg_workspace *ws) {
    SG_ASSERT(x->data && y->data && w && x->data != y->data && y->n == x->n);
    if (x->h != y->h || x->w != y->w) return -1;
    return conv_winograd(x, w, b, y, ws, 0, NULL, 0);
}

/* Winograd where sg_conv2d would pick it, the pre-activation fused into the input transform;
 * else pre(x) materialised into tmp (or in place) and sg_conv2d. */
void sg_conv3x3_pre(const sg_tensor *x, const sg_preact *pre, const float *w, const float *b,
                    sg_tensor *y, sg_workspace *ws, float *tmp) {
    SG_ASSERT(y->n == x->n && y->h == x->h && y->w == x->w && y->data != x->data);
    SG_ASSERT(tmp && tmp != y->data);
    const int pays = x->h == y->h && x->w == y->w && sg__wino_pays(x->c, y->c, y->h, y->w);
    if (pays && conv_winograd(x, w, b, y, ws, 0, pre, 0) == 0) return;
    sg_preact_apply(x, pre, tmp);
    sg_tensor t = sg_tensor_make(tmp, x->n, x->c, x->h, x->w);
    sg_conv2d(&t, w, b, 3, 3, 1, 1, y, ws);
}

/* avg_pool2(conv3×3(pre(x))) with the pool in the Winograd output transform (no full-size
 * output); else the conv into full [N, Cout, H, W] and sg_avg_pool2 (the same bytes either way) */
void sg_conv3x3_pre_pool(const sg_tensor *x, const sg_preact *pre, const float *w, const float *b,
                         sg_tensor *y, sg_workspace *ws, float *tmp, float *full) {
    SG_ASSERT(y->n == x->n && 2 * y->h == x->h && 2 * y->w == x->w && y->data != x->data);
    SG_ASSERT(tmp && full && full != y->data && full != x->data && full != tmp);
    if (sg__wino_pays(x->c, y->c, x->h, x->w) && conv_winograd(x, w, b, y, ws, 0, pre, 1) == 0)
        return;
    sg_tensor f = sg_tensor_make(full, x->n, y->c, x->h, x->w);
    sg_conv3x3_pre(x, pre, w, b, &f, ws, tmp);
    sg_avg_pool2(&f, y);
}
