/* The FAN landmark network (docs/networks.md "The face network (FAN)"). Samples run one at a
 * time: for [1, C, H, W] the channel slices of a tensor are contiguous, so a ConvBlock's three
 * convolutions write straight into their slices of the concatenated output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "faces.h"

#define BN_EPS 1e-5
#define HG_CH  256

/* ---- binding -------------------------------------------------------------------------------- */
/* "<prefix>.{weight,bias,running_mean,running_var}"; num_batches_tracked is never read. */
static sg_status bind_bn(sg_fan_bn *bn, sg_weights *w, const char *prefix, int c, size_t *params,
                         sg_error *err) {
    const sg_weight_spec spec[] = {
        {"weight", &bn->weight, 1, {c}},
        {"bias", &bn->bias, 1, {c}},
        {"running_mean", &bn->mean, 1, {c}},
        {"running_var", &bn->var, 1, {c}},
    };
    return sg_weights_bind(w, prefix, spec, SG_SPEC_COUNT(spec), params, err);
}

/* "<prefix>.<leaf>" [d0, d1, d2, d3] (unused dims 0) */
static sg_status bind_one(sg_weights *w, const char *prefix, const char *leaf, const float **data,
                          int ndim, int d0, int d1, int d2, int d3, size_t *params, sg_error *err) {
    const sg_weight_spec spec = {leaf, data, ndim, {d0, d1, d2, d3}};
    return sg_weights_bind(w, prefix, &spec, 1, params, err);
}

/* ConvBlock: bn1 → conv1 [out/2, in] → bn2 → conv2 [out/4, out/2] → bn3 → conv3 [out/4, out/4],
 * and with in != out the residual's downsample.0 (bn) and downsample.2 (1×1 conv [out, in]). */
static sg_status bind_block(sg_convblock *b, sg_weights *w, const char *prefix, int in, int out,
                            size_t *params, sg_error *err) {
    char p[128];
    memset(b, 0, sizeof *b);
    b->in = in, b->out = out;
    const int h = out / 2, q = out / 4;
    snprintf(p, sizeof p, "%s.bn1", prefix);
    sg_status st = bind_bn(&b->bn1, w, p, in, params, err);
    if (!st) st = bind_one(w, prefix, "conv1.weight", &b->conv1_w, 4, h, in, 3, 3, params, err);
    snprintf(p, sizeof p, "%s.bn2", prefix);
    if (!st) st = bind_bn(&b->bn2, w, p, h, params, err);
    if (!st) st = bind_one(w, prefix, "conv2.weight", &b->conv2_w, 4, q, h, 3, 3, params, err);
    snprintf(p, sizeof p, "%s.bn3", prefix);
    if (!st) st = bind_bn(&b->bn3, w, p, q, params, err);
    if (!st) st = bind_one(w, prefix, "conv3.weight", &b->conv3_w, 4, q, q, 3, 3, params, err);
    if (st || in == out) return st;
    snprintf(p, sizeof p, "%s.downsample.0", prefix);
    st = bind_bn(&b->ds_bn, w, p, in, params, err);
    if (!st)
        st = bind_one(w, prefix, "downsample.2.weight", &b->ds_w, 4, out, in, 1, 1, params, err);
    return st;
}

static sg_status bind_hourglass(sg_fan *f, sg_weights *w, sg_error *err) {
    char p[64];
    sg_status st = SG_OK;
    for (int n = 1; n <= SG_FAN_HG_DEPTH && !st; n++) {
        snprintf(p, sizeof p, "fan.m0.b1_%d", n);
        st = bind_block(&f->b1[n - 1], w, p, HG_CH, HG_CH, &f->params, err);
        snprintf(p, sizeof p, "fan.m0.b2_%d", n);
        if (!st) st = bind_block(&f->b2[n - 1], w, p, HG_CH, HG_CH, &f->params, err);
        snprintf(p, sizeof p, "fan.m0.b3_%d", n);
        if (!st) st = bind_block(&f->b3[n - 1], w, p, HG_CH, HG_CH, &f->params, err);
    }
    if (st) return st;
    return bind_block(&f->b2_plus_1, w, "fan.m0.b2_plus_1", HG_CH, HG_CH, &f->params, err);
}

sg_status sg_fan_init(sg_fan *f, sg_weights *w, sg_error *err) {
    memset(f, 0, sizeof *f);
    size_t *pp = &f->params;
    const sg_weight_spec stem[] = {
        {"conv1.conv.weight", &f->conv1_w, 4, {64, 6, 7, 7}},
        {"conv1.conv.bias", &f->conv1_b, 1, {64}},
    };
    const sg_weight_spec coord[] = {
        {"m0.coordconv.conv.weight", &f->cc_w, 4, {HG_CH, HG_CH + 3, 1, 1}},
        {"m0.coordconv.conv.bias", &f->cc_b, 1, {HG_CH}},
    };
    const sg_weight_spec last[] = {
        {"conv_last0.weight", &f->last_w, 4, {HG_CH, HG_CH, 1, 1}},
        {"conv_last0.bias", &f->last_b, 1, {HG_CH}},
    };
    const sg_weight_spec l0[] = {
        {"l0.weight", &f->l0_w, 4, {SG_FAN_OUT, HG_CH, 1, 1}},
        {"l0.bias", &f->l0_b, 1, {SG_FAN_OUT}},
    };
    sg_status st = sg_weights_bind(w, "fan", stem, SG_SPEC_COUNT(stem), pp, err);
    if (!st) st = bind_bn(&f->bn1, w, "fan.bn1", 64, pp, err);
    if (!st) st = bind_block(&f->conv2, w, "fan.conv2", 64, 128, pp, err);
    if (!st) st = bind_block(&f->conv3, w, "fan.conv3", 128, 128, pp, err);
    if (!st) st = bind_block(&f->conv4, w, "fan.conv4", 128, HG_CH, pp, err);
    if (!st) st = sg_weights_bind(w, "fan", coord, SG_SPEC_COUNT(coord), pp, err);
    if (!st) st = bind_hourglass(f, w, err);
    if (!st) st = bind_block(&f->top, w, "fan.top_m_0", HG_CH, HG_CH, pp, err);
    if (!st) st = sg_weights_bind(w, "fan", last, SG_SPEC_COUNT(last), pp, err);
    if (!st) st = bind_bn(&f->bn_end, w, "fan.bn_end0", HG_CH, pp, err);
    if (!st) st = sg_weights_bind(w, "fan", l0, SG_SPEC_COUNT(l0), pp, err);
    return st;
}

/* ---- planning: mirrors the allocations of the forward functions below ----------------------- */
/* ConvBlock at side h: A [max(in, out/2), h, h] for the bn-relu inputs, plus the 1×1 residual
 * [out, h, h] when in != out. */
static size_t block_scratch(const sg_convblock *b, int h) {
    size_t hw = (size_t)h * h, a = (size_t)(b->in > b->out / 2 ? b->in : b->out / 2);
    return sg_arena_floats(a * hw) + (b->in != b->out ? sg_arena_floats((size_t)b->out * hw) : 0);
}

/* level n at side h: b1 alone, then two [256, h/2, h/2] buffers under b2 / the next level / b3 */
static size_t level_scratch(const sg_fan *f, int n, int h) {
    size_t half = (size_t)HG_CH * (h / 2) * (h / 2), inner = block_scratch(&f->b2[n - 1], h / 2);
    size_t deeper = n > 1 ? level_scratch(f, n - 1, h / 2) : block_scratch(&f->b2_plus_1, h / 2);
    if (deeper > inner) inner = deeper;
    size_t up = block_scratch(&f->b1[n - 1], h), low = 2 * sg_arena_floats(half) + inner;
    return up > low ? up : low;
}

/* The largest tensor between blocks: one ping-pong buffer. */
static size_t boundary_floats(void) {
    const size_t s = SG_FAN_INPUT, h = s / 2, q = SG_FAN_HM;
    size_t m = 6 * s * s;                                 /* input + coordinate channels */
    if (128 * h * h > m) m = 128 * h * h;                 /* conv2 output */
    if ((HG_CH + 3) * q * q > m) m = (HG_CH + 3) * q * q; /* m0.coordconv input */
    return m;
}

size_t sg_fan_plan(const sg_fan *f) {
    const int h = SG_FAN_INPUT / 2, q = SG_FAN_HM;
    size_t s = block_scratch(&f->conv2, h), t;
    if ((t = block_scratch(&f->conv3, q)) > s) s = t;
    if ((t = block_scratch(&f->conv4, q)) > s) s = t;
    if ((t = level_scratch(f, SG_FAN_HG_DEPTH, q)) > s) s = t;
    if ((t = block_scratch(&f->top, q)) > s) s = t;
    return 2 * sg_arena_floats(boundary_floats()) + s;
}

static double conv_flops(int cin, int cout, int k, int h) {
    return 2.0 * cin * cout * k * k * (double)h * h;
}

static double block_flops(const sg_convblock *b, int h) {
    double f = conv_flops(b->in, b->out / 2, 3, h) + conv_flops(b->out / 2, b->out / 4, 3, h) +
               conv_flops(b->out / 4, b->out / 4, 3, h);
    return f + (b->ds_w ? conv_flops(b->in, b->out, 1, h) : 0.0);
}

static double level_flops(const sg_fan *f, int n, int h) {
    double v = block_flops(&f->b1[n - 1], h) + block_flops(&f->b2[n - 1], h / 2) +
               block_flops(&f->b3[n - 1], h / 2);
    return v + (n > 1 ? level_flops(f, n - 1, h / 2) : block_flops(&f->b2_plus_1, h / 2));
}

double sg_fan_flops(const sg_fan *f) {
    const int h = SG_FAN_INPUT / 2, q = SG_FAN_HM;
    double v = conv_flops(6, 64, 7, h) + block_flops(&f->conv2, h) + block_flops(&f->conv3, q) +
               block_flops(&f->conv4, q) + conv_flops(HG_CH + 3, HG_CH, 1, q);
    v += level_flops(f, SG_FAN_HG_DEPTH, q) + block_flops(&f->top, q);
    return v + conv_flops(HG_CH, HG_CH, 1, q) + conv_flops(HG_CH, SG_FAN_OUT, 1, q);
}

/* ---- small ops ------------------------------------------------------------------------------ */
/* The inference BN of c ≤ HG_CH channels folded to a float scale/shift per channel. */
static void bn_fold(const sg_fan_bn *bn, int c, float *sc, float *sh) {
    for (int k = 0; k < c && k < HG_CH; k++) {
        sc[k] = (float)(bn->weight[k] / sqrt((double)bn->var[k] + BN_EPS));
        sh[k] = bn->bias[k] - bn->mean[k] * sc[k];
    }
}

/* y[c, :] = relu(bn(x[c, :])) over c ≤ HG_CH channels of hw pixels; y may be x (on net/'s pool). */
static void bn_relu(const float *x, float *y, int c, size_t hw, const sg_fan_bn *bn) {
    float sc[HG_CH], sh[HG_CH];
    bn_fold(bn, c, sc, sh);
    const sg_preact pre = {NULL, NULL, sc, sh, 0.0f};
    sg_tensor t = sg_tensor_make((float *)x, 1, c < HG_CH ? c : HG_CH, 1, (int)hw);
    sg_preact_apply(&t, &pre, y);
}

/* y = conv3×3(relu(bn(x))), no bias: the BN+ReLU runs inside the Winograd input transform where
 * that algorithm is used (64², 32²), else through tmp (x's size). */
static void bn_relu_conv(const sg_tensor *x, const sg_fan_bn *bn, const float *w, sg_tensor *y,
                         float *tmp, sg_workspace *ws) {
    float sc[HG_CH], sh[HG_CH];
    bn_fold(bn, x->c, sc, sh);
    const sg_preact pre = {NULL, NULL, sc, sh, 0.0f};
    sg_conv3x3_pre(x, &pre, w, NULL, y, ws, tmp);
}

/* CoordConv channels into t[3, H, W]: xx = 2i/(H-1) - 1 down the rows, yy = 2j/(W-1) - 1 across,
 * rr = sqrt(xx² + yy²) / its maximum. */
static void coord_channels(float *t, int H, int W) {
    const size_t hw = (size_t)H * W;
    double rmax = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double xx = 2.0 * i / (H - 1) - 1, yy = 2.0 * j / (W - 1) - 1;
            double r = sqrt(xx * xx + yy * yy);
            t[(size_t)i * W + j] = (float)xx;
            t[hw + (size_t)i * W + j] = (float)yy;
            t[2 * hw + (size_t)i * W + j] = (float)r;
            if (r > rmax) rmax = r;
        }
    for (size_t k = 0; k < hw; k++) t[2 * hw + k] = (float)(t[2 * hw + k] / rmax);
}

/* out[c, y, x] += low[c, y/2, x/2]: the hourglass merge without an upsampled copy. */
static void add_upsampled(float *out, const float *low, int c, int h) {
    const int lh = h / 2;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++) {
            float *o = out + ((size_t)k * h + y) * h;
            const float *l = low + ((size_t)k * lh + y / 2) * lh;
            for (int x = 0; x < h; x++) o[x] += l[x / 2];
        }
}

static sg_status nomem(sg_arena *a, size_t mark, sg_error *err, const char *what) {
    sg_arena_reset(a, mark);
    return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small in FAN %s", what);
}

typedef struct {
    sg_arena *a;
    sg_workspace *ws;
    sg_error *err;
} fan_ctx;

/* ---- blocks --------------------------------------------------------------------------------- */
/* y [1, out, h, h] = ConvBlock(x [1, in, h, h]); y must not alias x. */
static sg_status conv_block(const sg_convblock *b, const sg_tensor *x, sg_tensor *y, fan_ctx *c) {
    const int h = x->h, o1c = b->out / 2, o2c = b->out / 4;
    const size_t hw = (size_t)h * x->w, mark = sg_arena_mark(c->a);
    int ac = b->in > o1c ? b->in : o1c;
    float *A = sg_arena_alloc(c->a, (size_t)ac * hw);
    float *R = b->ds_w ? sg_arena_alloc(c->a, (size_t)b->out * hw) : NULL;
    if (!A || (b->ds_w && !R)) return nomem(c->a, mark, c->err, "conv block");
    sg_tensor o1 = sg_tensor_make(y->data, 1, o1c, h, x->w);
    sg_tensor o2 = sg_tensor_make(y->data + (size_t)o1c * hw, 1, o2c, h, x->w);
    sg_tensor o3 = sg_tensor_make(y->data + (size_t)(o1c + o2c) * hw, 1, o2c, h, x->w);
    bn_relu_conv(x, &b->bn1, b->conv1_w, &o1, A, c->ws);
    bn_relu_conv(&o1, &b->bn2, b->conv2_w, &o2, A, c->ws);
    bn_relu_conv(&o2, &b->bn3, b->conv3_w, &o3, A, c->ws);
    if (b->ds_w) { /* residual: 1×1 of relu(bn(x)) */
        sg_tensor r = sg_tensor_make(R, 1, b->out, h, x->w);
        sg_tensor t = sg_tensor_make(A, 1, b->in, h, x->w);
        bn_relu(x->data, A, b->in, hw, &b->ds_bn);
        sg_conv2d(&t, b->ds_w, NULL, 1, 1, 1, 0, &r, c->ws);
        sg_add(y->data, R, (size_t)b->out * hw);
    } else {
        sg_add(y->data, x->data, (size_t)b->out * hw);
    }
    sg_arena_reset(c->a, mark);
    return SG_OK;
}

/* Hourglass level n: out = b1_n(x) + up2(b3_n(level_{n-1}(b2_n(pool x)))), x [1, 256, h, h]. */
static sg_status level(const sg_fan *f, int n, const sg_tensor *x, sg_tensor *out, fan_ctx *c) {
    const int h = x->h, lh = h / 2;
    sg_status st = conv_block(&f->b1[n - 1], x, out, c); /* up, straight into out */
    if (st) return st;
    const size_t mark = sg_arena_mark(c->a);
    sg_tensor p = sg_arena_tensor(c->a, 1, HG_CH, lh, lh); /* [1, 256, h/2, h/2] */
    sg_tensor q = sg_arena_tensor(c->a, 1, HG_CH, lh, lh);
    if (!p.data || !q.data) return nomem(c->a, mark, c->err, "hourglass");
    sg_avg_pool2(x, &p);
    if ((st = conv_block(&f->b2[n - 1], &p, &q, c))) goto done;
    /* p is free again: the deeper level (or b2_plus_1) writes there, then b3 into q */
    if (n > 1) st = level(f, n - 1, &q, &p, c);
    else st = conv_block(&f->b2_plus_1, &q, &p, c);
    if (st) goto done;
    if ((st = conv_block(&f->b3[n - 1], &p, &q, c))) goto done;
    add_upsampled(out->data, q.data, HG_CH, h);
done:
    sg_arena_reset(c->a, mark);
    return st;
}

/* ---- forward -------------------------------------------------------------------------------- */
/* buf0 ← input (resized, ·0.5 + 0.5) with its coordinate channels: [1, 6, 256, 256] */
static sg_tensor fan_input(const sg_tensor *x, int n, float *buf) {
    const int S = SG_FAN_INPUT;
    const size_t plane = (size_t)S * S, xs = (size_t)3 * x->h * x->w;
    sg_tensor src = sg_tensor_make(x->data + (size_t)n * xs, 1, 3, x->h, x->w);
    sg_tensor in3 = sg_tensor_make(buf, 1, 3, S, S);
    if (x->h == S && x->w == S) memcpy(buf, src.data, 3 * plane * sizeof(float));
    else sg_resize_bilinear(&src, &in3, 0);
    for (size_t i = 0; i < 3 * plane; i++) buf[i] = buf[i] * 0.5f + 0.5f;
    coord_channels(buf + 3 * plane, S, S);
    return sg_tensor_make(buf, 1, 6, S, S);
}

/* conv1 → bn1 → conv2 → pool → conv3 → conv4: buf0 (input) to buf[1] [1, 256, 64, 64] */
static sg_status fan_stem(const sg_fan *f, float *buf[2], fan_ctx *c) {
    const int h = SG_FAN_INPUT / 2, q = SG_FAN_HM;
    sg_tensor in = sg_tensor_make(buf[0], 1, 6, SG_FAN_INPUT, SG_FAN_INPUT);
    sg_tensor c1 = sg_tensor_make(buf[1], 1, 64, h, h);
    sg_conv2d(&in, f->conv1_w, f->conv1_b, 7, 7, 2, 3, &c1, c->ws);
    bn_relu(c1.data, c1.data, 64, (size_t)h * h, &f->bn1);
    sg_tensor c2 = sg_tensor_make(buf[0], 1, 128, h, h);
    sg_status st = conv_block(&f->conv2, &c1, &c2, c);
    if (st) return st;
    sg_tensor pool = sg_tensor_make(buf[1], 1, 128, q, q);
    sg_avg_pool2(&c2, &pool);
    sg_tensor c3 = sg_tensor_make(buf[0], 1, 128, q, q);
    if ((st = conv_block(&f->conv3, &pool, &c3, c))) return st;
    sg_tensor c4 = sg_tensor_make(buf[1], 1, HG_CH, q, q);
    return conv_block(&f->conv4, &c3, &c4, c);
}

/* m0.coordconv → hourglass → top_m_0 → conv_last0 → bn_end0 → l0: buf[1] to hm (one sample) */
static sg_status fan_head(const sg_fan *f, float *buf[2], float *hm, fan_ctx *c) {
    const int q = SG_FAN_HM;
    const size_t hw = (size_t)q * q;
    sg_tensor c4 = sg_tensor_make(buf[1], 1, HG_CH, q, q);
    sg_tensor cat = sg_tensor_make(buf[0], 1, HG_CH + 3, q, q);
    memcpy(cat.data, c4.data, (size_t)HG_CH * hw * sizeof(float));
    coord_channels(cat.data + (size_t)HG_CH * hw, q, q);
    sg_conv2d(&cat, f->cc_w, f->cc_b, 1, 1, 1, 0, &c4, c->ws);
    sg_tensor hg = sg_tensor_make(buf[0], 1, HG_CH, q, q);
    sg_status st = level(f, SG_FAN_HG_DEPTH, &c4, &hg, c);
    if (st) return st;
    sg_tensor top = sg_tensor_make(buf[1], 1, HG_CH, q, q);
    if ((st = conv_block(&f->top, &hg, &top, c))) return st;
    sg_tensor last = sg_tensor_make(buf[0], 1, HG_CH, q, q);
    sg_conv2d(&top, f->last_w, f->last_b, 1, 1, 1, 0, &last, c->ws);
    bn_relu(last.data, last.data, HG_CH, hw, &f->bn_end);
    sg_tensor out = sg_tensor_make(hm, 1, SG_FAN_OUT, q, q);
    sg_conv2d(&last, f->l0_w, f->l0_b, 1, 1, 1, 0, &out, c->ws);
    return SG_OK;
}

sg_status sg_fan_forward(const sg_fan *f, const sg_tensor *x, sg_tensor *hm, sg_arena *a,
                         sg_workspace *ws, sg_error *err) {
    if (x->c != 3 || x->h < 1 || x->w < 1 || hm->n != x->n || hm->c != SG_FAN_OUT ||
        hm->h != SG_FAN_HM || hm->w != SG_FAN_HM)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "FAN: input [%d,%d,%d,%d] / heatmaps [%d,%d,%d,%d], "
                            "expected [N,3,H,W] / [N,%d,%d,%d]",
                            x->n, x->c, x->h, x->w, hm->n, hm->c, hm->h, hm->w, SG_FAN_OUT,
                            SG_FAN_HM, SG_FAN_HM);
    const size_t mark = sg_arena_mark(a), bf = boundary_floats();
    float *buf[2] = {sg_arena_alloc(a, bf), sg_arena_alloc(a, bf)}; /* ping-pong */
    if (!buf[0] || !buf[1]) return nomem(a, mark, err, "input");
    const size_t per = (size_t)SG_FAN_OUT * SG_FAN_HM * SG_FAN_HM;
    sg_status st = SG_OK;
    for (int n = 0; n < x->n && !st; n++) {
        fan_ctx c = {a, ws, err};
        fan_input(x, n, buf[0]);
        st = fan_stem(f, buf, &c);
        if (!st) st = fan_head(f, buf, hm->data + (size_t)n * per, &c);
    }
    sg_arena_reset(a, mark);
    return st;
}
