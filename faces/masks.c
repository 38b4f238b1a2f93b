/* Masks and landmarks from FAN heatmaps (docs/stargan-v2.md "From heatmaps to the two masks",
 * "Landmarks"). Every mask step acts on one (sample, channel) plane at a time, so the planes are
 * processed one by one and summed: two 256² scratch planes instead of a [N, 98, 256, 256] stack. */
#include <math.h>
#include <string.h>

#include "faces.h"

/* What happens to one channel in steps 3-6 (in that order). */
typedef struct {
    int zero;      /* step 4: the channel becomes 0 */
    int shift;     /* step 3 or 5: circular row shift (scaled by sw) */
    int power;     /* step 3: element-wise power after the shift (1: none) */
    int eyes;      /* step 6: shift(x, -8)^3 + shift(x, -24), unscaled */
    int in_mask1;  /* step 7: kept in x2 */
} plane_rule;

static plane_rule rule_for(int ch) {
    plane_rule r = {0, 0, 1, 0, 1};
    if (ch >= 8 && ch < 25) r.power = 3;                       /* chin */
    else if (ch >= 33 && ch < 51) r.shift = -7, r.power = 2;   /* eyebrows */
    else if (ch >= 55 && ch < 60) r.shift = 8, r.power = 4;    /* nostrils */
    else if (ch >= 77 && ch < 82) r.shift = -8, r.power = 4;   /* upper lip */
    else if (ch >= 83 && ch < 88) r.shift = 8, r.power = 4;    /* lower lip */
    else if (ch >= 88 && ch < 96) r.shift = -2, r.power = 3;   /* inner lip */
    else if (ch >= 52 && ch < 55) r.shift = 4;                 /* nose (step 5) */
    else if (ch >= 60 && ch < 76) r.eyes = 1;                  /* eyes (step 6) */
    if (ch < 8 || (ch >= 25 && ch < 33) || ch == 33 || ch == 46 || ch == 76 || ch == 82)
        r.zero = 1;
    if ((ch >= 8 && ch < 25) || (ch >= 76 && ch < 96) || (ch >= 33 && ch < 51)) r.in_mask1 = 0;
    return r;
}

/* Steps 1-2 in place: values < 0.1 become 0, then (x - min) / (max - min + 1e-6). A NaN makes
 * the whole plane NaN (as min/max propagate it), which step 8 turns into 0. */
static void threshold_normalise(float *p, size_t n) {
    float mn = INFINITY, mx = -INFINITY;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        float v = p[i] < 0.1f ? 0.0f : p[i];
        if (v != v) nan = 1;
        p[i] = v;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    const float d = nan ? NAN : mx - mn + 1e-6f;
    for (size_t i = 0; i < n; i++) p[i] = (p[i] - mn) / d;
}

/* out[r] = in[(r + k) mod H] row-wise (planes of H × W); out must not alias in. */
static void shift_rows(const float *in, float *out, int H, int W, int k) {
    for (int r = 0; r < H; r++) {
        int src = ((r + k) % H + H) % H;
        memcpy(out + (size_t)r * W, in + (size_t)src * W, (size_t)W * sizeof(float));
    }
}

static float powi(float v, int p) {
    float r = v;
    for (int i = 1; i < p; i++) r *= v;
    return r;
}

/* Steps 3-6 for one plane: the result is in *p (which may swap with *tmp). */
static void shape_plane(float **p, float **tmp, int H, int W, plane_rule r, int sw) {
    const size_t n = (size_t)H * W;
    if (r.shift) {
        shift_rows(*p, *tmp, H, W, r.shift * sw);
        float *s = *p;
        *p = *tmp, *tmp = s;
    }
    if (r.power > 1)
        for (size_t i = 0; i < n; i++) (*p)[i] = powi((*p)[i], r.power);
    if (r.eyes) { /* both shifts read the plane before this step */
        float *a = *p, *b = *tmp;
        for (int row = 0; row < H; row++) {
            const float *s8 = a + (size_t)(((row - 8) % H + H) % H) * W;
            const float *s24 = a + (size_t)(((row - 24) % H + H) % H) * W;
            float *o = b + (size_t)row * W;
            for (int x = 0; x < W; x++) o[x] = powi(s8[x], 3) + s24[x];
        }
        *p = b, *tmp = a;
    }
}

size_t sg_masks_plan(void) { return 2 * ((size_t)SG_MASK_SIDE * SG_MASK_SIDE + 16); }

/* Step 8: clamp to [0, 1], NaN → 0. */
static void clamp_masks(float *m, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = m[i];
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        m[i] = v == v ? v : 0.0f;
    }
}

/* One sample: hm [C, Hh, Wh] → m0, m1 [S, S]; bufs: two S² scratch planes. */
static void masks_of_sample(const float *hm, int hh, int hw, float *m0, float *m1, float *bufs[2]) {
    const int S = SG_MASK_SIDE, sw = S / 256;
    const size_t n = (size_t)S * S, in_plane = (size_t)hh * hw;
    memset(m0, 0, n * sizeof(float));
    memset(m1, 0, n * sizeof(float));
    for (int ch = 0; ch < SG_LANDMARKS; ch++) {
        plane_rule r = rule_for(ch);
        if (r.zero) continue; /* step 4 overwrites whatever the plane held */
        float *p = bufs[0], *tmp = bufs[1];
        sg_tensor src = sg_tensor_make((float *)hm + (size_t)ch * in_plane, 1, 1, hh, hw);
        sg_tensor up = sg_tensor_make(p, 1, 1, S, S);
        sg_resize_bilinear(&src, &up, 1); /* ×4, align_corners true */
        threshold_normalise(p, n);
        shape_plane(&p, &tmp, S, S, r, sw);
        for (size_t i = 0; i < n; i++) m0[i] += p[i];
        if (r.in_mask1)
            for (size_t i = 0; i < n; i++) m1[i] += p[i];
    }
    clamp_masks(m0, n);
    clamp_masks(m1, n);
}

sg_status sg_masks_from_heatmaps(const sg_tensor *hm, sg_tensor masks[2], sg_arena *a,
                                 sg_error *err) {
    const int S = SG_MASK_SIDE;
    const size_t n = (size_t)S * S;
    for (int k = 0; k < 2; k++)
        if (masks[k].n != hm->n || masks[k].c != 1 || masks[k].h != S || masks[k].w != S)
            return sg_error_set(err, SG_ERR_SHAPE, "masks: mask %d must be [%d,1,%d,%d]", k,
                                hm->n, S, S);
    if (hm->c < SG_LANDMARKS || hm->h < 2 || hm->w < 2)
        return sg_error_set(err, SG_ERR_SHAPE, "masks: heatmaps [%d,%d,%d,%d], expected [N,98+,H,W]",
                            hm->n, hm->c, hm->h, hm->w);
    const size_t mark = sg_arena_mark(a);
    float *bufs[2] = {sg_arena_alloc(a, n), sg_arena_alloc(a, n)};
    if (!bufs[0] || !bufs[1]) {
        sg_arena_reset(a, mark);
        return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small in masks");
    }
    const size_t per = (size_t)hm->c * hm->h * hm->w;
    for (int s = 0; s < hm->n; s++)
        masks_of_sample(hm->data + (size_t)s * per, hm->h, hm->w, masks[0].data + (size_t)s * n,
                        masks[1].data + (size_t)s * n, bufs);
    sg_arena_reset(a, mark);
    return SG_OK;
}

/* sign(a - b) · 0.25 */
static double quarter_sign(float a, float b) { return a > b ? 0.25 : a < b ? -0.25 : 0.0; }

sg_status sg_landmarks_from_heatmaps(const sg_tensor *hm, int side, double *lm, sg_error *err) {
    if (hm->c < SG_LANDMARKS || hm->h < 1 || hm->w < 1 || side < 1)
        return sg_error_set(err, SG_ERR_SHAPE, "landmarks: heatmaps [%d,%d,%d,%d], expected "
                            "[N,98+,H,W]", hm->n, hm->c, hm->h, hm->w);
    const int H = hm->h, W = hm->w;
    for (int s = 0; s < hm->n; s++)
        for (int ch = 0; ch < SG_LANDMARKS; ch++) {
            const float *h = hm->data + ((size_t)s * hm->c + ch) * H * W;
            size_t best = 0; /* first maximum in row-major order (NaN never wins) */
            for (size_t i = 1; i < (size_t)H * W; i++)
                if (h[i] > h[best] || (h[best] != h[best] && h[i] == h[i])) best = i;
            int r = (int)(best / W), c = (int)(best % W);
            double dx = 0, dy = 0;
            if (c > 0 && c < W - 1 && r > 0 && r < H - 1) {
                dx = quarter_sign(h[best + 1], h[best - 1]);
                dy = quarter_sign(h[best + W], h[best - W]);
            }
            double *o = lm + ((size_t)s * SG_LANDMARKS + ch) * 2;
            o[0] = (c + 0.5 + dx) * side / W;
            o[1] = (r + 0.5 + dy) * side / H;
        }
    return SG_OK;
}
