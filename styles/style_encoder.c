/* StyleEncoder (docs/networks.md "StyleEncoder"): conv → K down-sampling ResBlks → lrelu → 4×4
 * conv → lrelu → per-domain linear head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "styles.h"

static int ilog2(int v) {
    int l = 0;
    while ((1 << (l + 1)) <= v) l++;
    return l;
}

static sg_status bind_heads(sg_style_encoder *e, sg_weights *w, sg_error *err) {
    e->unshared_w = calloc((size_t)e->num_domains, sizeof *e->unshared_w);
    e->unshared_b = calloc((size_t)e->num_domains, sizeof *e->unshared_b);
    if (!e->unshared_w || !e->unshared_b) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    char prefix[64];
    sg_status st = SG_OK;
    for (int d = 0; d < e->num_domains && !st; d++) {
        const sg_weight_spec head[] = {
            {"weight", &e->unshared_w[d], 2, {e->style_dim, e->dim_out}},
            {"bias", &e->unshared_b[d], 1, {e->style_dim}},
        };
        snprintf(prefix, sizeof prefix, "style_encoder.unshared.%d", d);
        st = sg_weights_bind(w, prefix, head, SG_SPEC_COUNT(head), &e->params, err);
    }
    return st;
}

static sg_status bind_all(sg_style_encoder *e, const sg_config *cfg, sg_weights *w, sg_error *err) {
    int d = e->dim_in;
    const sg_weight_spec conv0[] = {
        {"weight", &e->conv0_w, 4, {d, 3, 3, 3}},
        {"bias", &e->conv0_b, 1, {d}},
    };
    sg_status st =
        sg_weights_bind(w, "style_encoder.shared.0", conv0, SG_SPEC_COUNT(conv0), &e->params, err);
    if (st) return st;
    char prefix[64];
    for (int i = 0; i < e->n_blocks; i++) {
        int d_out = 2 * d < cfg->max_conv_dim ? 2 * d : cfg->max_conv_dim;
        snprintf(prefix, sizeof prefix, "style_encoder.shared.%d", i + 1);
        if ((st = sg_resblk_bind(&e->blocks[i], w, prefix, d, d_out, 0, 1, &e->params, err)))
            return st;
        d = d_out;
    }
    e->dim_out = d;
    const sg_weight_spec last[] = {
        {"weight", &e->conv_last_w, 4, {d, d, 4, 4}}, /* 4×4, no padding: 4×4 → 1×1 */
        {"bias", &e->conv_last_b, 1, {d}},
    };
    snprintf(prefix, sizeof prefix, "style_encoder.shared.%d", e->n_blocks + 2);
    if ((st = sg_weights_bind(w, prefix, last, SG_SPEC_COUNT(last), &e->params, err))) return st;
    return bind_heads(e, w, err);
}

sg_status sg_style_encoder_init(sg_style_encoder *e, const sg_config *cfg, sg_weights *w,
                                sg_error *err) {
    memset(e, 0, sizeof *e);
    sg_status st = sg_config_check(cfg, err);
    if (st) return st;
    e->img_size = cfg->img_size, e->style_dim = cfg->style_dim;
    e->num_domains = cfg->num_domains;
    e->dim_in = (1 << 14) / cfg->img_size;
    e->n_blocks = ilog2(cfg->img_size) - 2; /* down to 4×4 */
    if (e->n_blocks > SG_MAX_BLOCKS)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "style encoder: too many blocks");
    if ((st = bind_all(e, cfg, w, err))) sg_style_encoder_free(e);
    return st;
}

void sg_style_encoder_free(sg_style_encoder *e) {
    free(e->unshared_w);
    free(e->unshared_b);
    e->unshared_w = e->unshared_b = NULL;
}

static size_t max_boundary(const sg_style_encoder *e) {
    size_t m = (size_t)e->dim_in * e->img_size * e->img_size;
    int h = e->img_size;
    for (int i = 0; i < e->n_blocks; i++) {
        h /= 2;
        size_t v = (size_t)e->blocks[i].out * h * h;
        if (v > m) m = v;
    }
    return m;
}

size_t sg_style_encoder_plan(const sg_style_encoder *e, int n) {
    size_t scratch = 0;
    int h = e->img_size;
    for (int i = 0; i < e->n_blocks; i++, h /= 2) {
        size_t s = sg_resblk_scratch(&e->blocks[i], n, h);
        if (s > scratch) scratch = s;
    }
    /* the two ping-pong buffers, h [N, dim_out] ×2, then a block's scratch */
    return 2 * sg_arena_floats(max_boundary(e) * (size_t)n) +
           sg_arena_floats(2 * (size_t)n * e->dim_out) + scratch;
}

double sg_style_encoder_flops(const sg_style_encoder *e) {
    double s2 = (double)e->img_size * e->img_size;
    double f = 2.0 * 27 * e->dim_in * s2;
    int h = e->img_size;
    for (int i = 0; i < e->n_blocks; i++, h /= 2) f += sg_resblk_flops(&e->blocks[i], h);
    f += 2.0 * e->dim_out * e->dim_out * 16 + 2.0 * e->dim_out * e->style_dim;
    return f;
}

sg_status sg_style_encoder_forward(const sg_style_encoder *e, const sg_tensor *x, const int *y,
                                   float *s, sg_arena *a, sg_workspace *ws, sg_error *err) {
    const int n = x->n, S = e->img_size;
    if (x->c != 3 || x->h != S || x->w != S)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "style encoder: input [%d,%d,%d,%d], expected [N,3,%d,%d]", x->n, x->c,
                            x->h, x->w, S, S);
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= e->num_domains)
            return sg_error_set(err, SG_ERR_ARG, "domain %d out of range [0, %d)", y[i],
                                e->num_domains);
    const size_t act = max_boundary(e) * (size_t)n, mark = sg_arena_mark(a);
    float *buf[2] = {sg_arena_alloc(a, act), sg_arena_alloc(a, act)};
    float *h = sg_arena_alloc(a, 2 * (size_t)n * e->dim_out); /* [N, dim_out] ×2 */
    if (!buf[0] || !buf[1] || !h) {
        sg_arena_reset(a, mark);
        return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    }
    int p = 0;
    sg_tensor cur = sg_tensor_make(buf[0], n, e->dim_in, S, S);
    sg_conv2d(x, e->conv0_w, e->conv0_b, 3, 3, 1, 1, &cur, ws);
    sg_status st = SG_OK;
    for (int i = 0; i < e->n_blocks && st == SG_OK; i++) {
        sg_tensor nxt = sg_tensor_make(buf[1 - p], n, e->blocks[i].out, cur.h / 2, cur.w / 2);
        st = sg_resblk_forward(&e->blocks[i], &cur, &nxt, a, ws, err);
        cur = nxt, p = 1 - p;
    }
    if (st == SG_OK) {
        /* lrelu → 4×4 conv, no padding (4×4 → 1×1) → lrelu → flatten [N, dim_out] */
        sg_leaky_relu(cur.data, sg_tensor_numel(&cur), 0.2f);
        sg_tensor v = sg_tensor_make(h, n, e->dim_out, 1, 1);
        sg_conv2d(&cur, e->conv_last_w, e->conv_last_b, 4, 4, 1, 0, &v, ws);
        sg_leaky_relu(h, (size_t)n * e->dim_out, 0.2f);
        for (int i = 0; i < n; i++)
            sg_linear(h + (size_t)i * e->dim_out, 1, e->dim_out, e->unshared_w[y[i]],
                      e->unshared_b[y[i]], e->style_dim, s + (size_t)i * e->style_dim);
    }
    sg_arena_reset(a, mark);
    return st;
}
