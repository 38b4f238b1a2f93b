/* The Generator (docs/networks.md "Generator"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "generator.h"

static int ilog2(int v) {
    int l = 0;
    while ((1 << (l + 1)) <= v) l++;
    return l;
}

static sg_status bind_rgb(sg_generator *g, sg_weights *w, sg_error *err) {
    const int d = g->cfg.dim_in;
    const sg_weight_spec spec[] = {
        {"from_rgb.weight", &g->from_rgb_w, 4, {d, 3, 3, 3}},
        {"from_rgb.bias", &g->from_rgb_b, 1, {d}},
        {"to_rgb.0.weight", &g->to_rgb_norm_w, 1, {d}},
        {"to_rgb.0.bias", &g->to_rgb_norm_b, 1, {d}},
        {"to_rgb.2.weight", &g->to_rgb_w, 4, {3, d, 1, 1}},
        {"to_rgb.2.bias", &g->to_rgb_b, 1, {3}},
    };
    return sg_weights_bind(w, "generator", spec, SG_SPEC_COUNT(spec), &g->params, err);
}

sg_status sg_generator_init(sg_generator *g, const sg_config *cfg, sg_weights *w, sg_error *err) {
    memset(g, 0, sizeof *g);
    sg_status st = sg_config_check(cfg, err);
    if (st) return st;
    sg_generator_config *c = &g->cfg;
    c->img_size = cfg->img_size, c->style_dim = cfg->style_dim;
    c->max_conv_dim = cfg->max_conv_dim, c->w_hpf = cfg->w_hpf;
    c->dim_in = (1 << 14) / cfg->img_size;
    int repeat = ilog2(cfg->img_size) - 4 + (cfg->w_hpf > 0);
    if (repeat + 2 > SG_MAX_BLOCKS)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "generator: too many blocks");
    if ((st = bind_rgb(g, w, err))) return st;
    /* encode i ↔ decode (n - 1 - i): the decoder mirrors the encoder */
    int n = repeat + 2, d = c->dim_in;
    char prefix[64];
    for (int i = 0; i < n; i++) {
        int down = i < repeat,
            d_out = down ? (2 * d < c->max_conv_dim ? 2 * d : c->max_conv_dim) : d;
        snprintf(prefix, sizeof prefix, "generator.encode.%d", i);
        if ((st = sg_resblk_bind(&g->encode[i], w, prefix, d, d_out, 1, down, &g->params, err)))
            return st;
        snprintf(prefix, sizeof prefix, "generator.decode.%d", n - 1 - i);
        if ((st = sg_adainblk_bind(&g->decode[n - 1 - i], w, prefix, d_out, d, down, c->w_hpf,
                                   c->style_dim, &g->params, err)))
            return st;
        d = d_out;
    }
    c->n_encode = c->n_decode = n;
    static const float k[9] = {-1, -1, -1, -1, 8, -1, -1, -1, -1};
    for (int i = 0; i < 9; i++) g->hpf[i] = c->w_hpf > 0 ? k[i] / (float)c->w_hpf : 0.0f;
    return SG_OK;
}

/* Side of the activation entering encode block i / leaving decode block j. */
static int enc_side(const sg_generator *g, int i) {
    int h = g->cfg.img_size;
    for (int k = 0; k < i; k++) h >>= g->encode[k].downsample;
    return h;
}

static int skip_slot(int side) { return side == 32 ? 0 : side == 64 ? 1 : side == 128 ? 2 : -1; }

/* largest activation (floats) of a block boundary, one sample: the ping-pong buffers' size */
static size_t max_boundary(const sg_generator *g) {
    size_t m = (size_t)g->cfg.dim_in * g->cfg.img_size * g->cfg.img_size;
    for (int i = 0; i < g->cfg.n_encode; i++) {
        int h = enc_side(g, i + 1);
        size_t v = (size_t)g->encode[i].out * h * h;
        if (v > m) m = v;
    }
    return m;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

void sg_generator_state_shape(const sg_generator *g, int n, sg_generator_state *st) {
    memset(st, 0, sizeof *st);
    const int last = g->cfg.n_encode - 1, hs = enc_side(g, last + 1);
    st->h = sg_tensor_make(NULL, n, g->encode[last].out, hs, hs);
    for (int i = 0; i < g->cfg.n_encode && g->cfg.w_hpf > 0; i++) {
        const int h = enc_side(g, i), slot = skip_slot(h);
        if (slot >= 0 && st->skip[slot].n == 0)
            st->skip[slot] = sg_tensor_make(NULL, n, g->encode[i].in, h, h);
    }
}

/* The state's tensors in the order the encoder allocates them (ascending addresses): the skips
 * as it reaches their sides (128, 64, 32), then h. */
static void state_order(sg_generator_state *st, sg_tensor *order[SG_GEN_SKIPS + 1]) {
    for (int k = 0; k < SG_GEN_SKIPS; k++) order[k] = &st->skip[SG_GEN_SKIPS - 1 - k];
    order[SG_GEN_SKIPS] = &st->h;
}

size_t sg_generator_state_floats(const sg_generator *g, int n) {
    sg_generator_state st;
    sg_generator_state_shape(g, n, &st);
    size_t f = sg_arena_floats(sg_tensor_numel(&st.h));
    for (int k = 0; k < SG_GEN_SKIPS; k++)
        f += st.skip[k].n ? sg_arena_floats(sg_tensor_numel(&st.skip[k])) : 0;
    return f;
}

/* The encode pass's allocations in their order: the two ping-pong buffers, then each block's
 * scratch on top of the skips taken so far (w_hpf > 0: a block's input at side 128, 64, 32) and,
 * for the last block, of h (its output). The peak of that sequence, not the sum of the largest
 * parts: the largest block scratch (at full resolution) runs before any skip is taken. */
size_t sg_generator_encode_plan(const sg_generator *g, int n) {
    sg_generator_state st;
    sg_generator_state_shape(g, n, &st);
    size_t live = 0, top = 0;
    int taken[SG_GEN_SKIPS] = {0};
    for (int i = 0; i < g->cfg.n_encode; i++) {
        const int h = enc_side(g, i), slot = g->cfg.w_hpf > 0 ? skip_slot(h) : -1;
        if (slot >= 0 && st.skip[slot].n && st.skip[slot].c == g->encode[i].in && !taken[slot]) {
            taken[slot] = 1;
            live += sg_arena_floats(sg_tensor_numel(&st.skip[slot]));
        }
        if (i == g->cfg.n_encode - 1) live += sg_arena_floats(sg_tensor_numel(&st.h));
        top = max_size(top, live + sg_resblk_scratch(&g->encode[i], n, h));
    }
    return 2 * sg_arena_floats(max_boundary(g) * (size_t)n) + top;
}

/* The decode pass's: the two ping-pong buffers, then each block's scratch and, after a block
 * whose output has a skip's side and channels, the mask pass (resized mask [N, 1, H, W], product
 * and high-pass [N, C, H, W]). */
size_t sg_generator_decode_plan(const sg_generator *g, int n) {
    sg_generator_state st;
    sg_generator_state_shape(g, n, &st);
    size_t top = 0;
    for (int j = 0; j < g->cfg.n_decode; j++) {
        const sg_adainblk *b = &g->decode[j];
        const int h = enc_side(g, g->cfg.n_encode - j), ho = b->upsample ? 2 * h : h;
        top = max_size(top, sg_adainblk_scratch(b, n, h));
        const int slot = g->cfg.w_hpf > 0 ? skip_slot(ho) : -1;
        if (slot >= 0 && st.skip[slot].n && st.skip[slot].c == b->out) {
            const size_t plane = (size_t)n * ho * ho;
            top =
                max_size(top, sg_arena_floats(plane) + 2 * sg_arena_floats(plane * (size_t)b->out));
        }
    }
    return 2 * sg_arena_floats(max_boundary(g) * (size_t)n) + top;
}

size_t sg_generator_plan(const sg_generator *g, int n) {
    return max_size(sg_generator_encode_plan(g, n),
                    sg_generator_state_floats(g, n) + sg_generator_decode_plan(g, n));
}

double sg_generator_flops(const sg_generator *g) {
    const sg_generator_config *c = &g->cfg;
    double s2 = (double)c->img_size * c->img_size;
    double f = 2.0 * 27 * c->dim_in * s2 + 2.0 * 3 * c->dim_in * s2;
    for (int i = 0; i < c->n_encode; i++) f += sg_resblk_flops(&g->encode[i], enc_side(g, i));
    for (int j = 0; j < c->n_decode; j++)
        f += sg_adainblk_flops(&g->decode[j], enc_side(g, c->n_encode - j));
    return f;
}

/* x += HighPass(resize(mask) · skip): the w_hpf > 0 face-detail path */
static sg_status add_highpass(const sg_generator *g, sg_tensor *x, const sg_tensor *skip,
                              const sg_tensor *mask, sg_arena *a, sg_error *err) {
    size_t mark = sg_arena_mark(a);
    sg_tensor m = sg_arena_tensor(a, x->n, 1, x->h, x->w);    /* [N, 1, H, W] */
    sg_tensor p = sg_arena_tensor(a, x->n, x->c, x->h, x->w); /* [N, C, H, W] */
    if (!m.data || !p.data) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    sg_resize_bilinear(mask, &m, 0);
    sg_mul_channel_broadcast(skip, &m, &p);
    sg_tensor q = sg_arena_tensor(a, x->n, x->c, x->h, x->w); /* [N, C, H, W] */
    if (!q.data) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    sg_conv2d_depthwise(&p, g->hpf, 1, 3, 3, 1, &q);
    sg_add(x->data, q.data, sg_tensor_numel(x));
    sg_arena_reset(a, mark);
    return SG_OK;
}

static sg_status nomem(sg_arena *a, size_t mark, sg_error *err) {
    sg_arena_reset(a, mark);
    return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
}

static sg_status check_input(const sg_generator *g, const sg_tensor *x, sg_error *err) {
    const int S = g->cfg.img_size;
    if (x->n < 1 || x->c != 3 || x->h != S || x->w != S)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "generator: input [%d,%d,%d,%d], expected [N,3,%d,%d]", x->n, x->c,
                            x->h, x->w, S, S);
    return SG_OK;
}

/* Moves the state down to mark, over the dead ping-pong buffers: in ascending address order,
 * so every destination lies below its source (memmove: they may overlap). */
static void compact_state(sg_arena *a, size_t mark, sg_generator_state *st) {
    sg_tensor *order[SG_GEN_SKIPS + 1];
    state_order(st, order);
    sg_arena_reset(a, mark);
    for (int k = 0; k <= SG_GEN_SKIPS; k++) {
        if (!order[k]->data) continue;
        const size_t numel = sg_tensor_numel(order[k]);
        float *dst = sg_arena_alloc(a, numel); /* fits: it lies below the source */
        SG_ASSERT(dst && dst <= order[k]->data);
        memmove(dst, order[k]->data, numel * sizeof(float));
        order[k]->data = dst;
    }
}

/* st->skip[slot] = a copy of cur when the state has a skip of cur's side and channels */
static sg_status take_skip(sg_generator_state *st, int slot, const sg_tensor *cur, sg_arena *a) {
    if (slot < 0) return SG_OK;
    sg_tensor *sk = &st->skip[slot];
    if (!sk->n || sk->data || sk->c != cur->c) return SG_OK;
    *sk = sg_arena_tensor(a, cur->n, cur->c, cur->h, cur->w); /* [N, C, side, side] */
    if (!sk->data) return SG_ERR_NOMEM;
    memcpy(sk->data, cur->data, sg_tensor_numel(cur) * sizeof(float));
    return SG_OK;
}

sg_status sg_generator_encode(const sg_generator *g, const sg_tensor *x, sg_generator_state *st,
                              sg_arena *a, sg_workspace *ws, sg_error *err) {
    const int S = g->cfg.img_size, n = x->n, last = g->cfg.n_encode - 1;
    sg_status rc = check_input(g, x, err);
    if (rc) return rc;
    sg_generator_state_shape(g, n, st);
    const size_t act = max_boundary(g) * (size_t)n, mark = sg_arena_mark(a);
    float *buf[2] = {sg_arena_alloc(a, act), sg_arena_alloc(a, act)}; /* ping-pong */
    if (!buf[0] || !buf[1]) return nomem(a, mark, err);
    int p = 0;
    sg_tensor cur = sg_tensor_make(buf[p], n, g->cfg.dim_in, S, S); /* [N, dim_in, S, S] */
    sg_conv2d(x, g->from_rgb_w, g->from_rgb_b, 3, 3, 1, 1, &cur, ws);
    for (int i = 0; i <= last && rc == SG_OK; i++) {
        const sg_resblk *b = &g->encode[i];
        if (take_skip(st, g->cfg.w_hpf > 0 ? skip_slot(cur.h) : -1, &cur, a))
            return nomem(a, mark, err);
        const int ho = b->downsample ? cur.h / 2 : cur.h;
        /* the last block writes h above the skips, where it survives the compaction */
        sg_tensor nxt = i == last ? sg_arena_tensor(a, n, b->out, ho, ho)
                                  : sg_tensor_make(buf[1 - p], n, b->out, ho, ho);
        if (!nxt.data) return nomem(a, mark, err);
        rc = sg_resblk_forward(b, &cur, &nxt, a, ws, err);
        cur = nxt, p = 1 - p;
    }
    if (rc) {
        sg_arena_reset(a, mark);
        return rc;
    }
    st->h = cur;
    compact_state(a, mark, st);
    return SG_OK;
}

static sg_status check_decode_io(const sg_generator *g, int n, const sg_tensor *masks,
                                 const sg_tensor *y, sg_error *err) {
    const int S = g->cfg.img_size;
    if (y->n != n || y->c != 3 || y->h != S || y->w != S)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "generator: output [%d,%d,%d,%d], expected [%d,3,%d,%d]", y->n, y->c,
                            y->h, y->w, n, S, S);
    if (g->cfg.w_hpf > 0) {
        if (!masks) return sg_error_set(err, SG_ERR_ARG, "generator: w_hpf > 0 needs face masks");
        for (int i = 0; i < 2; i++)
            if (masks[i].n != n || masks[i].c != 1 || masks[i].h < 1 || masks[i].w < 1)
                return sg_error_set(err, SG_ERR_SHAPE, "generator: mask %d must be [N,1,H,W]", i);
    }
    return SG_OK;
}

/* st has the shapes the encoder makes for its batch (a precondition: it came from
 * sg_generator_encode, or a copy that keeps them) */
static int state_ok(const sg_generator *g, const sg_generator_state *st) {
    sg_generator_state want;
    sg_generator_state_shape(g, st->h.n, &want);
    const sg_tensor *a[] = {&st->h, &st->skip[0], &st->skip[1], &st->skip[2]},
                    *b[] = {&want.h, &want.skip[0], &want.skip[1], &want.skip[2]};
    for (int k = 0; k <= SG_GEN_SKIPS; k++)
        if (a[k]->n != b[k]->n || a[k]->c != b[k]->c || a[k]->h != b[k]->h || a[k]->w != b[k]->w ||
            !a[k]->data != !a[k]->n)
            return 0;
    return st->h.n >= 1;
}

/* x += the high-pass of the skip at x's side, where the decoder adds one (w_hpf > 0) */
static sg_status highpass_at(const sg_generator *g, const sg_generator_state *st,
                             const sg_tensor *masks, sg_tensor *x, sg_arena *a, sg_error *err) {
    const int slot = g->cfg.w_hpf > 0 ? skip_slot(x->h) : -1;
    if (slot < 0 || !st->skip[slot].data || st->skip[slot].c != x->c) return SG_OK;
    return add_highpass(g, x, &st->skip[slot], &masks[x->h == 32 ? 0 : 1], a, err);
}

/* *cur = decoder blocks [j0, j1) on *cur (read only), through the ping-pong buffers, block j1 - 1
 * into last when not NULL; with st, each block's high-pass after it (st's batch: cur's). */
static sg_status run_blocks(const sg_generator *g, const sg_generator_state *st,
                            const sg_tensor *masks, const float *s, sg_tensor *cur, int j0, int j1,
                            float *buf[2], const sg_tensor *last, sg_arena *a, sg_workspace *ws,
                            sg_error *err) {
    sg_status rc = SG_OK;
    for (int j = j0, p = 0; j < j1 && rc == SG_OK; j++, p = 1 - p) {
        const sg_adainblk *b = &g->decode[j];
        const int ho = b->upsample ? cur->h * 2 : cur->h;
        sg_tensor nxt =
            last && j == j1 - 1 ? *last : sg_tensor_make(buf[p], cur->n, b->out, ho, ho);
        rc = sg_adainblk_forward(b, cur, s, &nxt, a, ws, err); /* nxt [N, out, ho, ho] */
        *cur = nxt;
        if (rc == SG_OK && st) rc = highpass_at(g, st, masks, cur, a, err);
    }
    return rc;
}

/* to_rgb: affine IN → lrelu → 1×1 conv (in place on the last activation) */
static void to_rgb(const sg_generator *g, sg_tensor *cur, sg_tensor *y, sg_workspace *ws) {
    sg_instance_norm(cur, g->to_rgb_norm_w, g->to_rgb_norm_b, 1e-5f);
    sg_leaky_relu(cur->data, sg_tensor_numel(cur), 0.2f);
    sg_conv2d(cur, g->to_rgb_w, g->to_rgb_b, 1, 1, 1, 0, y, ws);
}

/* y = decoder blocks [j0, n_decode) and to_rgb on *in (read only; with hp, the high-pass of its
 * side added first, in place), for st's batch */
static sg_status decode_from(const sg_generator *g, const sg_generator_state *st, sg_tensor *in,
                             int j0, int hp, const float *s, const sg_tensor *masks, sg_tensor *y,
                             sg_arena *a, sg_workspace *ws, sg_error *err) {
    const int n = st->h.n;
    sg_status rc = check_decode_io(g, n, masks, y, err);
    if (rc) return rc;
    const size_t act = max_boundary(g) * (size_t)n, mark = sg_arena_mark(a);
    float *buf[2] = {sg_arena_alloc(a, act), sg_arena_alloc(a, act)}; /* ping-pong */
    if (!buf[0] || !buf[1]) return nomem(a, mark, err);
    sg_tensor cur = *in; /* the first block writes into buf[0] */
    if (hp) rc = highpass_at(g, st, masks, &cur, a, err);
    if (!rc) rc = run_blocks(g, st, masks, s, &cur, j0, g->cfg.n_decode, buf, NULL, a, ws, err);
    if (!rc) to_rgb(g, &cur, y, ws);
    sg_arena_reset(a, mark);
    return rc;
}

sg_status sg_generator_decode(const sg_generator *g, const sg_generator_state *st, const float *s,
                              const sg_tensor *masks, sg_tensor *y, sg_arena *a, sg_workspace *ws,
                              sg_error *err) {
    SG_ASSERT(state_ok(g, st) && s);
    sg_tensor h = st->h;
    return decode_from(g, st, &h, 0, 0, s, masks, y, a, ws, err);
}

/* ---- head and tail ---- */
/* the blocks up to side SG_GEN_HEAD_SIDE, and none past the first a high-pass follows (that one
 * the tail adds) */
int sg_generator_head_blocks(const sg_generator *g) {
    sg_generator_state st;
    sg_generator_state_shape(g, 1, &st);
    int j = 0;
    for (int h = enc_side(g, g->cfg.n_encode); j < g->cfg.n_decode;) {
        h = g->decode[j].upsample ? 2 * h : h;
        if (h > SG_GEN_HEAD_SIDE) break;
        const int slot = g->cfg.w_hpf > 0 ? skip_slot(h) : -1;
        const int hp = slot >= 0 && st.skip[slot].n && st.skip[slot].c == g->decode[j].out;
        j++;
        if (hp) break;
    }
    return j;
}

void sg_generator_head_shape(const sg_generator *g, int k, sg_tensor *head) {
    const int nb = sg_generator_head_blocks(g);
    int h = enc_side(g, g->cfg.n_encode), c = g->encode[g->cfg.n_encode - 1].out;
    for (int j = 0; j < nb; j++) h = g->decode[j].upsample ? 2 * h : h, c = g->decode[j].out;
    *head = sg_tensor_make(NULL, k, c, h, h);
}

/* the ping-pong buffers at the head's sides, then the largest block's scratch */
size_t sg_generator_head_plan(const sg_generator *g, int k) {
    const int nb = sg_generator_head_blocks(g);
    size_t act = 0, top = 0;
    for (int j = 0, h = enc_side(g, g->cfg.n_encode); j < nb; j++) {
        top = max_size(top, sg_adainblk_scratch(&g->decode[j], k, h));
        h = g->decode[j].upsample ? 2 * h : h;
        act = max_size(act, (size_t)g->decode[j].out * h * h * (size_t)k);
    }
    return 2 * sg_arena_floats(act) + top;
}

sg_status sg_generator_decode_head(const sg_generator *g, const sg_tensor *h, const float *s,
                                   sg_tensor *head, sg_arena *a, sg_workspace *ws, sg_error *err) {
    sg_tensor want, wh;
    sg_generator_head_shape(g, h->n, &want);
    sg_generator_state st;
    sg_generator_state_shape(g, h->n, &st);
    wh = st.h;
    SG_ASSERT(h->data && s && head->data && h->n >= 1);
    if (h->c != wh.c || h->h != wh.h || h->w != wh.w || head->n != want.n || head->c != want.c ||
        head->h != want.h || head->w != want.w)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "generator: head [%d,%d,%d,%d], expected [%d,%d,%d,%d]", head->n,
                            head->c, head->h, head->w, want.n, want.c, want.h, want.w);
    const int nb = sg_generator_head_blocks(g);
    if (nb == 0) return sg_error_set(err, SG_ERR_ARG, "generator: no decoder block at side ≤ 32");
    const size_t mark = sg_arena_mark(a);
    size_t big = 0;
    for (int j = 0, side = h->h; j < nb; j++) {
        side = g->decode[j].upsample ? 2 * side : side;
        big = max_size(big, (size_t)g->decode[j].out * side * side * (size_t)h->n);
    }
    float *buf[2] = {sg_arena_alloc(a, big), sg_arena_alloc(a, big)};
    if (!buf[0] || !buf[1]) return nomem(a, mark, err);
    sg_tensor cur = *h;
    const sg_status rc = run_blocks(g, NULL, NULL, s, &cur, 0, nb, buf, head, a, ws, err);
    sg_arena_reset(a, mark);
    return rc;
}

sg_status sg_generator_decode_tail(const sg_generator *g, const sg_generator_state *st,
                                   sg_tensor *head, const float *s, const sg_tensor *masks,
                                   sg_tensor *y, sg_arena *a, sg_workspace *ws, sg_error *err) {
    SG_ASSERT(state_ok(g, st) && s && head->data && head->n == st->h.n);
    sg_tensor want;
    sg_generator_head_shape(g, st->h.n, &want);
    if (head->c != want.c || head->h != want.h || head->w != want.w)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "generator: head [%d,%d,%d,%d], expected [%d,%d,%d,%d]", head->n,
                            head->c, head->h, head->w, want.n, want.c, want.h, want.w);
    /* the high-pass after the head's last block first */
    return decode_from(g, st, head, sg_generator_head_blocks(g), 1, s, masks, y, a, ws, err);
}

sg_status sg_generator_forward(const sg_generator *g, const sg_tensor *x, const float *s,
                               const sg_tensor *masks, sg_tensor *y, sg_arena *a, sg_workspace *ws,
                               sg_error *err) {
    const size_t mark = sg_arena_mark(a);
    sg_generator_state st;
    sg_status rc = check_input(g, x, err);
    if (!rc) rc = check_decode_io(g, x->n, masks, y, err);
    if (!rc) rc = sg_generator_encode(g, x, &st, a, ws, err);
    if (!rc) rc = sg_generator_decode(g, &st, s, masks, y, a, ws, err);
    sg_arena_reset(a, mark);
    return rc;
}
