/* ResBlk and AdainResBlk (docs/networks.md "Building blocks"). */
#include <math.h>
#include <string.h>

#include "generator.h"

#define LRELU 0.2f
#define EPS   1e-5f

sg_status sg_resblk_bind(sg_resblk *b, sg_weights *w, const char *prefix, int in, int out,
                         int normalize, int downsample, size_t *params, sg_error *err) {
    memset(b, 0, sizeof *b);
    b->in = in, b->out = out, b->normalize = normalize, b->downsample = downsample;
    const sg_weight_spec convs[] = {
        {"conv1.weight", &b->conv1_w, 4, {in, in, 3, 3}},
        {"conv1.bias", &b->conv1_b, 1, {in}},
        {"conv2.weight", &b->conv2_w, 4, {out, in, 3, 3}},
        {"conv2.bias", &b->conv2_b, 1, {out}},
    };
    const sg_weight_spec norms[] = {
        {"norm1.weight", &b->norm1_w, 1, {in}},
        {"norm1.bias", &b->norm1_b, 1, {in}},
        {"norm2.weight", &b->norm2_w, 1, {in}},
        {"norm2.bias", &b->norm2_b, 1, {in}},
    };
    const sg_weight_spec shortcut[] = {{"conv1x1.weight", &b->sc_w, 4, {out, in, 1, 1}}};
    sg_status st = sg_weights_bind(w, prefix, convs, SG_SPEC_COUNT(convs), params, err);
    if (!st && normalize) st = sg_weights_bind(w, prefix, norms, SG_SPEC_COUNT(norms), params, err);
    if (!st && in != out) st = sg_weights_bind(w, prefix, shortcut, 1, params, err);
    return st;
}

sg_status sg_adainblk_bind(sg_adainblk *b, sg_weights *w, const char *prefix, int in, int out,
                           int upsample, int w_hpf, int style_dim, size_t *params, sg_error *err) {
    memset(b, 0, sizeof *b);
    b->in = in, b->out = out, b->upsample = upsample, b->w_hpf = w_hpf;
    b->style_dim = style_dim;
    const sg_weight_spec main[] = {
        {"conv1.weight", &b->conv1_w, 4, {out, in, 3, 3}},
        {"conv1.bias", &b->conv1_b, 1, {out}},
        {"conv2.weight", &b->conv2_w, 4, {out, out, 3, 3}},
        {"conv2.bias", &b->conv2_b, 1, {out}},
        {"norm1.fc.weight", &b->fc1_w, 2, {2 * in, style_dim}},
        {"norm1.fc.bias", &b->fc1_b, 1, {2 * in}},
        {"norm2.fc.weight", &b->fc2_w, 2, {2 * out, style_dim}},
        {"norm2.fc.bias", &b->fc2_b, 1, {2 * out}},
    };
    const sg_weight_spec shortcut[] = {{"conv1x1.weight", &b->sc_w, 4, {out, in, 1, 1}}};
    sg_status st = sg_weights_bind(w, prefix, main, SG_SPEC_COUNT(main), params, err);
    /* with w_hpf > 0 the shortcut is unused, so its weights are not required */
    if (!st && in != out && w_hpf == 0) st = sg_weights_bind(w, prefix, shortcut, 1, params, err);
    return st;
}

/* ---- planning: must mirror the allocations of the forward functions below ------------------- */
size_t sg_resblk_scratch(const sg_resblk *b, int n, int h) {
    size_t plane = (size_t)n * (size_t)h * (size_t)h;
    int ho = b->downsample ? h / 2 : h;
    size_t out_plane = (size_t)n * (size_t)ho * (size_t)ho;
    /* t1, t2 [in, h, h]; shortcut [out, ho, ho]; norm coefficients 2 × 4 [N·in] */
    return 2 * sg_arena_floats(plane * (size_t)b->in) +
           sg_arena_floats(out_plane * (size_t)b->out) + sg_arena_floats(8 * (size_t)n * b->in);
}

size_t sg_adainblk_scratch(const sg_adainblk *b, int n, int h) {
    int ho = b->upsample ? 2 * h : h;
    size_t plane = (size_t)n * (size_t)h * (size_t)h, oplane = (size_t)n * (size_t)ho * (size_t)ho;
    /* gb1 [N, 2·in], gb2 [N, 2·out]; t1 [in, h]; t3 [out, ho]; the learned shortcut [out, h] when
     * the block has one (not with w_hpf > 0); norm coefficients 4 [N·(in + out)] */
    const size_t fc =
        sg_arena_floats((size_t)n * 2 * b->in) + sg_arena_floats((size_t)n * 2 * b->out);
    const size_t sc = b->sc_w ? sg_arena_floats(plane * (size_t)b->out) : 0;
    return fc + sg_arena_floats(plane * (size_t)b->in) + sg_arena_floats(oplane * (size_t)b->out) +
           sc + sg_arena_floats(4 * (size_t)n * (b->in + b->out));
}

static double conv_flops(int cin, int cout, int k, int h) {
    return 2.0 * cin * cout * k * k * (double)h * h;
}

double sg_resblk_flops(const sg_resblk *b, int h) {
    int ho = b->downsample ? h / 2 : h;
    double f = conv_flops(b->in, b->in, 3, h) + conv_flops(b->in, b->out, 3, ho);
    if (b->sc_w) f += conv_flops(b->in, b->out, 1, ho);
    return f;
}

double sg_adainblk_flops(const sg_adainblk *b, int h) {
    int ho = b->upsample ? 2 * h : h;
    double f = conv_flops(b->in, b->out, 3, ho) + conv_flops(b->out, b->out, 3, ho);
    f += 2.0 * b->style_dim * 2 * (b->in + b->out);
    if (b->sc_w) f += conv_flops(b->in, b->out, 1, h); /* 1×1 before the upsample */
    return f;
}

/* ---- forward -------------------------------------------------------------------------------- */
static sg_status nomem(sg_arena *a, size_t mark, sg_error *err, const char *what) {
    sg_arena_reset(a, mark);
    return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small in %s", what);
}

/* The block's pre-activation: leaky ReLU, after the instance norm (gamma, beta) of x when norm;
 * the coefficients go to co [4·N·C]. */
static sg_preact norm_lrelu(const sg_tensor *x, int norm, const float *gamma, const float *beta,
                            float *co) {
    if (!norm) return (sg_preact){NULL, NULL, NULL, NULL, LRELU};
    return sg_instance_norm_pre(x, gamma, beta, EPS, LRELU, co);
}

sg_status sg_resblk_forward(const sg_resblk *b, const sg_tensor *x, sg_tensor *y, sg_arena *a,
                            sg_workspace *ws, sg_error *err) {
    const int n = x->n, h = x->h, ho = b->downsample ? h / 2 : h;
    const size_t mark = sg_arena_mark(a);
    /* residual: [norm1] → lrelu → conv1 → [pool] → [norm2] → lrelu → conv2, each norm + lrelu
     * folded into the next conv's input (sg_preact): only its statistics are a pass of its own */
    sg_tensor t1 = sg_arena_tensor(a, n, b->in, h, h); /* [N, in, H, W]: pre1(x) when not fused */
    sg_tensor t2 = sg_arena_tensor(a, n, b->in, h, h); /* conv1's output */
    sg_tensor sc = sg_arena_tensor(a, n, b->out, ho, ho);
    float *co = sg_arena_alloc(a, 8 * (size_t)n * b->in); /* norm1 | norm2 coefficients */
    if (!t1.data || !t2.data || !sc.data || !co) return nomem(a, mark, err, "ResBlk");
    sg_preact pre = norm_lrelu(x, b->normalize, b->norm1_w, b->norm1_b, co);
    sg_tensor r = t2;
    if (b->downsample) { /* conv1 and the pool in one op, into t1 (dead once pre(x) is read) */
        r = sg_tensor_make(t1.data, n, b->in, ho, ho);
        sg_conv3x3_pre_pool(x, &pre, b->conv1_w, b->conv1_b, &r, ws, t1.data, t2.data);
    } else sg_conv3x3_pre(x, &pre, b->conv1_w, b->conv1_b, &t2, ws, t1.data);
    pre = norm_lrelu(&r, b->normalize, b->norm2_w, b->norm2_b, co + 4 * (size_t)n * b->in);
    sg_conv3x3_pre(&r, &pre, b->conv2_w, b->conv2_b, y, ws, r.data); /* r is dead after */
    /* shortcut: [pool] then [1×1]: both linear, so pooling first is the same map on 4× fewer
     * pixels */
    sg_tensor s = *x;
    if (b->downsample) {
        s = sg_tensor_make(t2.data, n, b->in, ho, ho); /* t2 is dead */
        sg_avg_pool2(x, &s);
    }
    if (b->sc_w) {
        sg_conv2d(&s, b->sc_w, NULL, 1, 1, 1, 0, &sc, ws);
        s = sc;
    }
    sg_add_scale(y->data, s.data, sg_tensor_numel(y), (float)(1.0 / sqrt(2.0)));
    sg_arena_reset(a, mark);
    return SG_OK;
}

/* AdaIN(x, fc(s)) then lrelu as a pre-activation: gb scratch [N, 2C], co [4·N·C]. The fc runs
 * one sample at a time: sg_linear sums a batch of one (a GEMV) in another order than a larger
 * batch (a GEMM), and a sample's bytes must not depend on its batch (sg_engine_decode_batch). */
static sg_preact adain_lrelu(const sg_tensor *x, const float *s, int style_dim, const float *fc_w,
                             const float *fc_b, float *gb, float *co) {
    for (int i = 0; i < x->n; i++)
        sg_linear(s + (size_t)i * style_dim, 1, style_dim, fc_w, fc_b, 2 * x->c,
                  gb + (size_t)i * 2 * x->c);
    return sg_adain_pre(x, gb, EPS, LRELU, co);
}

sg_status sg_adainblk_forward(const sg_adainblk *b, const sg_tensor *x, const float *s,
                              sg_tensor *y, sg_arena *a, sg_workspace *ws, sg_error *err) {
    const int n = x->n, h = x->h, ho = b->upsample ? 2 * h : h;
    const size_t mark = sg_arena_mark(a);
    float *gb1 = sg_arena_alloc(a, (size_t)n * 2 * (size_t)b->in);  /* [N, 2·in] */
    float *gb2 = sg_arena_alloc(a, (size_t)n * 2 * (size_t)b->out); /* [N, 2·out] */
    sg_tensor t1 = sg_arena_tensor(a, n, b->in, h, h);              /* pre1(x) when not fused */
    sg_tensor t3 = sg_arena_tensor(a, n, b->out, ho, ho);
    sg_tensor sc = b->sc_w ? sg_arena_tensor(a, n, b->out, h, h) : t1;
    float *co = sg_arena_alloc(a, 4 * (size_t)n * (b->in + b->out));
    if (!gb1 || !gb2 || !t1.data || !t3.data || !sc.data || !co)
        return nomem(a, mark, err, "AdainResBlk");
    /* residual: AdaIN1 → lrelu → [up] → conv1 → AdaIN2 → lrelu → conv2, each AdaIN + lrelu
     * folded into the next conv's input; up → conv1 is one op on the low-res x */
    sg_preact pre = adain_lrelu(x, s, b->style_dim, b->fc1_w, b->fc1_b, gb1, co);
    if (b->upsample) sg_conv2d_up2_pre(x, &pre, b->conv1_w, b->conv1_b, &t3, ws, t1.data);
    else sg_conv3x3_pre(x, &pre, b->conv1_w, b->conv1_b, &t3, ws, t1.data);
    pre = adain_lrelu(&t3, s, b->style_dim, b->fc2_w, b->fc2_b, gb2, co + 4 * (size_t)n * b->in);
    sg_conv3x3_pre(&t3, &pre, b->conv2_w, b->conv2_b, y, ws, t3.data); /* t3 is dead after */
    if (b->w_hpf == 0) {
        /* shortcut: [1×1] then [up]: nearest upsampling commutes with a 1×1 conv, so the conv
         * runs on 4× fewer pixels */
        sg_tensor sx = *x;
        if (b->sc_w) {
            sg_conv2d(x, b->sc_w, NULL, 1, 1, 1, 0, &sc, ws);
            sx = sc;
        }
        if (b->upsample) sg_add_scale_up2(y, &sx, (float)(1.0 / sqrt(2.0)));
        else sg_add_scale(y->data, sx.data, sg_tensor_numel(y), (float)(1.0 / sqrt(2.0)));
    }
    sg_arena_reset(a, mark);
    return SG_OK;
}
