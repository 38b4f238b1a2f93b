/* The face detector's network (docs/networks.md "The face detector"): face-api.js's
 * ssdMobilenetv1, a MobileNetV1 backbone of depthwise separable convolutions at 512² and SSD box
 * and class heads on six feature maps. TensorFlow's SAME padding: stride-1 3×3 convs pad 1 on
 * every side; a stride-2 3×3 conv on an even input pads one zero row and column at the bottom
 * and right only (the regular convs get it through sg_pad_zero, the depthwise op takes the
 * padding as given). Activations: ReLU6 everywhere but the heads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faces.h"

#define BN_EPS 0.0010000000474974513f /* the reference's epsilon, a float */

/* output channels of the 13 pointwise convs; depthwise layer i runs on pw_out[i-1] (32 first) */
static const int pw_out[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
static int dw_in(int i) { return i ? pw_out[i - 1] : 32; }
static int dw_stride(int i) { return i == 1 || i == 3 || i == 5 || i == 11 ? 2 : 1; }
/* the 8 extra layers: 1×1 (even) and 3×3 stride 2 (odd) */
static const int ex_out[8] = {256, 512, 128, 256, 128, 256, 64, 128};
/* the six heads: channels of their feature map and anchors per cell */
static const int head_in[SG_DET_HEADS] = {512, 1024, 512, 256, 256, 128};
static int head_anchors(int h) { return h ? 6 : 3; }

/* ---- binding -------------------------------------------------------------------------------- */
static sg_status get(sg_weights *w, const char *name, const float **d, size_t *params, sg_error *e,
                     int ndim, int d0, int d1, int d2, int d3) {
    sg_status st = sg_weights_get(w, name, d, e, ndim, d0, d1, d2, d3);
    size_t n = (size_t)d0 * (ndim > 1 ? d1 : 1) * (ndim > 2 ? d2 : 1) * (ndim > 3 ? d3 : 1);
    if (!st) *params += n;
    return st;
}

/* "<p>/weights" [out, in, k, k] and "<p>/<bias>" [out] */
static sg_status bind_conv(sg_det_conv *c, sg_weights *w, const char *p, const char *bias, int in,
                           int out, int k, size_t *params, sg_error *err) {
    char n[160];
    snprintf(n, sizeof n, "%s/weights", p);
    sg_status st = get(w, n, &c->w, params, err, 4, out, in, k, k);
    snprintf(n, sizeof n, "%s/%s", p, bias);
    return st ? st : get(w, n, &c->b, params, err, 1, out, 0, 0, 0);
}

/* Depthwise layer i (1-based in the names): its kernel and its batch norm folded into a scale
 * and a bias (the reference normalises after the conv: (y - mean)/sqrt(var + eps)·gamma + beta). */
static sg_status bind_dw(sg_detector *d, sg_weights *w, int i, float *fold, size_t *params,
                         sg_error *err) {
    char n[160];
    const int c = dw_in(i);
    const float *g, *b, *m, *v;
    snprintf(n, sizeof n, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", i + 1);
    sg_status st = get(w, n, &d->dw[i].w, params, err, 4, 1, c, 3, 3);
    const char *leaf[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    const float **dst[4] = {&g, &b, &m, &v};
    for (int k = 0; k < 4 && !st; k++) {
        snprintf(n, sizeof n, "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/%s", i + 1, leaf[k]);
        st = get(w, n, dst[k], params, err, 1, c, 0, 0, 0);
    }
    if (st) return st;
    d->dw[i].scale = fold, d->dw[i].bias = fold + c;
    for (int k = 0; k < c; k++) {
        fold[k] = g[k] / sqrtf(v[k] + BN_EPS);
        fold[c + k] = b[k] - m[k] * fold[k];
    }
    return SG_OK;
}

static sg_status bind_all(sg_detector *d, sg_weights *w, sg_error *err) {
    char p[96];
    size_t *np = &d->params;
    float *fold = d->folded;
    sg_status st = bind_conv(&d->conv0, w, "MobilenetV1/Conv2d_0_pointwise",
                             "convolution_bn_offset", 3, 32, 3, np, err);
    for (int i = 0; i < 13 && !st; i++) {
        st = bind_dw(d, w, i, fold, np, err);
        fold += 2 * dw_in(i);
        snprintf(p, sizeof p, "MobilenetV1/Conv2d_%d_pointwise", i + 1);
        if (!st)
            st = bind_conv(&d->pw[i], w, p, "convolution_bn_offset", dw_in(i), pw_out[i], 1, np,
                           err);
    }
    for (int i = 0; i < 8 && !st; i++) {
        snprintf(p, sizeof p, "Prediction/Conv2d_%d_pointwise", i);
        st = bind_conv(&d->extra[i], w, p, "convolution_bn_offset", i ? ex_out[i - 1] : 1024,
                       ex_out[i], i % 2 ? 3 : 1, np, err);
    }
    for (int h = 0; h < SG_DET_HEADS && !st; h++) {
        const int a = head_anchors(h);
        snprintf(p, sizeof p, "Prediction/BoxPredictor_%d/BoxEncodingPredictor", h);
        st = bind_conv(&d->box[h], w, p, "biases", head_in[h], 4 * a, 1, np, err);
        snprintf(p, sizeof p, "Prediction/BoxPredictor_%d/ClassPredictor", h);
        if (!st) st = bind_conv(&d->cls[h], w, p, "biases", head_in[h], 3 * a, 1, np, err);
    }
    return st ? st : get(w, "Output/extra_dim", &d->anchors, np, err, 3, 1, SG_DET_ANCHORS, 4, 0);
}

sg_status sg_detector_init(sg_detector *d, sg_weights *w, sg_error *err) {
    memset(d, 0, sizeof *d);
    size_t nf = 0;
    for (int i = 0; i < 13; i++) nf += 2 * (size_t)dw_in(i);
    d->folded = malloc(nf * sizeof *d->folded);
    if (!d->folded) return sg_error_set(err, SG_ERR_NOMEM, "detector: out of memory");
    sg_status st = bind_all(d, w, err);
    if (st) sg_detector_free(d);
    return st;
}

void sg_detector_free(sg_detector *d) {
    free(d->folded);
    memset(d, 0, sizeof *d);
}

/* ---- forward -------------------------------------------------------------------------------- */
/* Largest activations: the 256² maps of 64 channels (pointwise 1); two of them ping-pong. */
#define BIG ((size_t)64 * 256 * 256)

#define EXTRA ((size_t)256 * 16 * 16) /* the largest extra layer (the first) */
#define HEAD  ((size_t)24 * 32 * 32)  /* a head's conv output, either kind */

/* sg_detector_forward's allocations, in its order */
static size_t forward_plan(void) {
    const size_t pad = 3 * (size_t)(SG_DET_INPUT + 1) * (SG_DET_INPUT + 1);
    return 2 * sg_arena_floats(BIG) + sg_arena_floats(pad) +
           sg_arena_floats((size_t)512 * 32 * 32) + sg_arena_floats((size_t)1024 * 16 * 16) +
           8 * sg_arena_floats(EXTRA) + 2 * sg_arena_floats(HEAD);
}

size_t sg_detector_plan(const sg_detector *d) {
    (void)d;
    /* sg_detect_faces: the input, the encodings and the scores, then the forward's */
    return sg_arena_floats(3 * (size_t)SG_DET_INPUT * SG_DET_INPUT) +
           sg_arena_floats(4 * (size_t)SG_DET_ANCHORS) + sg_arena_floats(SG_DET_ANCHORS) +
           forward_plan();
}

static const struct { float lo, hi; } relu6 = {0.0f, 6.0f};

/* y = relu6(conv(x) + b) with TF SAME padding (a k×k stride-2 conv pads bottom/right: through
 * pad, a scratch tensor of (H+1)×(W+1)) */
static void conv_same(const sg_tensor *x, const sg_det_conv *c, int k, int stride, sg_tensor *y,
                      float *pad, sg_workspace *ws) {
    if (k == 1 && stride == 1) {
        sg_conv2d(x, c->w, c->b, 1, 1, 1, 0, y, ws);
    } else if (k == 1) { /* 1×1 stride 2: SAME pads nothing */
        sg_conv2d(x, c->w, c->b, 1, 1, 2, 0, y, ws);
    } else {
        sg_tensor p = sg_tensor_make(pad, x->n, x->c, x->h + 1, x->w + 1);
        sg_pad_zero(x, 0, 0, &p);
        sg_conv2d(&p, c->w, c->b, k, k, stride, 0, y, ws);
    }
    sg_clamp(y->data, sg_tensor_numel(y), relu6.lo, relu6.hi);
}

static void dw_layer(const sg_detector *d, int i, const sg_tensor *x, sg_tensor *y) {
    const int s = dw_stride(i);
    const sg_dw3x3 p = {.stride = s,
                        .pad_top = s == 1,
                        .pad_left = s == 1,
                        .scale = d->dw[i].scale,
                        .bias = d->dw[i].bias,
                        .lo = relu6.lo,
                        .hi = relu6.hi};
    sg_conv2d_dw3x3(x, d->dw[i].w, &p, y);
}

/* One head: box [4·A, H, W] and class [3·A, H, W] convs, then per cell and anchor (the
 * reference's NHWC order) the 4 encodings and sigmoid(class 1) appended at *k. */
static void head(const sg_detector *d, int h, const sg_tensor *f, float *tmp_box, float *tmp_cls,
                 float *enc, float *score, int *k, sg_workspace *ws) {
    const int a = head_anchors(h), hw = f->h * f->w;
    sg_tensor tb = sg_tensor_make(tmp_box, 1, 4 * a, f->h, f->w);
    sg_tensor tc = sg_tensor_make(tmp_cls, 1, 3 * a, f->h, f->w);
    sg_conv2d(f, d->box[h].w, d->box[h].b, 1, 1, 1, 0, &tb, ws);
    sg_conv2d(f, d->cls[h].w, d->cls[h].b, 1, 1, 1, 0, &tc, ws);
    for (int p = 0; p < hw; p++)
        for (int j = 0; j < a; j++, ++*k) {
            for (int q = 0; q < 4; q++) enc[4 * *k + q] = tmp_box[(4 * j + q) * hw + p];
            score[*k] = 1.0f / (1.0f + expf(-tmp_cls[(3 * j + 1) * hw + p]));
        }
}

typedef struct {
    float *a, *b, *pad, *conv11, *top, *ex[8], *tb, *tc;
} det_bufs;

static int alloc_bufs(det_bufs *m, sg_arena *ar) {
    m->a = sg_arena_alloc(ar, BIG), m->b = sg_arena_alloc(ar, BIG);
    m->pad = sg_arena_alloc(ar, 3 * (size_t)(SG_DET_INPUT + 1) * (SG_DET_INPUT + 1));
    m->conv11 = sg_arena_alloc(ar, (size_t)512 * 32 * 32);
    m->top = sg_arena_alloc(ar, (size_t)1024 * 16 * 16);
    int ok = m->a && m->b && m->pad && m->conv11 && m->top;
    for (int i = 0; i < 8; i++) ok = (m->ex[i] = sg_arena_alloc(ar, EXTRA)) && ok;
    m->tb = sg_arena_alloc(ar, HEAD), m->tc = sg_arena_alloc(ar, HEAD);
    return ok && m->tb && m->tc;
}

/* The backbone: conv0, then 13 depthwise + pointwise pairs; keeps pair 11's output (32², 512) and
 * returns the last (16², 1024) in m->top. */
static void backbone(const sg_detector *d, const sg_tensor *x, det_bufs *m, sg_workspace *ws,
                     sg_tensor *c11, sg_tensor *top) {
    sg_tensor cur = sg_tensor_make(m->a, 1, 32, SG_DET_INPUT / 2, SG_DET_INPUT / 2);
    conv_same(x, &d->conv0, 3, 2, &cur, m->pad, ws);
    for (int i = 0; i < 13; i++) {
        const int s = dw_stride(i), h = cur.h / s;
        /* a and b ping-pong; after pair 11 the input lives in conv11, which must stay */
        float *mid = cur.data == m->a ? m->b : m->a, *next = mid == m->a ? m->b : m->a;
        sg_tensor t = sg_tensor_make(mid, 1, cur.c, h, h);
        dw_layer(d, i, &cur, &t);
        float *dst = i == 10 ? m->conv11 : i == 12 ? m->top : next;
        cur = sg_tensor_make(dst, 1, pw_out[i], h, h);
        conv_same(&t, &d->pw[i], 1, 1, &cur, m->pad, ws);
    }
    *c11 = sg_tensor_make(m->conv11, 1, 512, 32, 32);
    *top = cur;
}

sg_status sg_detector_forward(const sg_detector *d, const sg_tensor *x, float *enc, float *score,
                              sg_arena *ar, sg_workspace *ws, sg_error *err) {
    if (x->n != 1 || x->c != 3 || x->h != SG_DET_INPUT || x->w != SG_DET_INPUT)
        return sg_error_set(err, SG_ERR_SHAPE, "detector: input must be [1, 3, %d, %d]",
                            SG_DET_INPUT, SG_DET_INPUT);
    const size_t mark = sg_arena_mark(ar);
    det_bufs m;
    if (!alloc_bufs(&m, ar)) {
        sg_arena_reset(ar, mark);
        return sg_error_set(err, SG_ERR_NOMEM, "detector: activation plan too small");
    }
    sg_tensor feat[SG_DET_HEADS];
    backbone(d, x, &m, ws, &feat[0], &feat[1]);
    sg_tensor cur = feat[1];
    for (int i = 0; i < 8; i++) { /* extra layers: 16² → 8² → 4² → 2² → 1² */
        const int s = i % 2 ? 2 : 1, h = s == 2 ? (cur.h + 1) / 2 : cur.h;
        sg_tensor y = sg_tensor_make(m.ex[i], 1, ex_out[i], h, h);
        conv_same(&cur, &d->extra[i], i % 2 ? 3 : 1, s, &y, m.pad, ws);
        if (i % 2) feat[2 + i / 2] = y;
        cur = y;
    }
    int k = 0;
    for (int h = 0; h < SG_DET_HEADS; h++) head(d, h, &feat[h], m.tb, m.tc, enc, score, &k, ws);
    SG_ASSERT(k == SG_DET_ANCHORS);
    sg_arena_reset(ar, mark);
    return SG_OK;
}
