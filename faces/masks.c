/* Masks and landmarks from FAN heatmaps (docs/networks.md "Face masks from heatmaps",
 * "Landmarks"; the step numbers below are that section's). Every mask step acts on one (sample,
 * channel) plane at a time; see "row by row" below for how they are computed without a
 * [N, 98, 256, 256] stack. */
#include <math.h>
#include <string.h>

#include "faces.h"

_Static_assert(SG_MASK_SIDE <= 256, "masks.c keeps rows of SG_MASK_SIDE floats on the stack");

/* What happens to one channel in steps 3-6 (in that order). */
typedef struct {
    int zero;     /* step 4: the channel becomes 0 */
    int shift;    /* step 3 or 5: circular row shift (scaled by sw) */
    int power;    /* step 3: element-wise power after the shift (1: none) */
    int eyes;     /* step 6: shift(x, -8)^3 + shift(x, -24), unscaled */
    int in_mask1; /* step 7: kept in x2 */
} plane_rule;

static plane_rule rule_for(int ch) {
    plane_rule r = {0, 0, 1, 0, 1};
    if (ch >= 8 && ch < 25) r.power = 3;                     /* chin */
    else if (ch >= 33 && ch < 51) r.shift = -7, r.power = 2; /* eyebrows */
    else if (ch >= 55 && ch < 60) r.shift = 8, r.power = 4;  /* nostrils */
    else if (ch >= 77 && ch < 82) r.shift = -8, r.power = 4; /* upper lip */
    else if (ch >= 83 && ch < 88) r.shift = 8, r.power = 4;  /* lower lip */
    else if (ch >= 88 && ch < 96) r.shift = -2, r.power = 3; /* inner lip */
    else if (ch >= 52 && ch < 55) r.shift = 4;               /* nose (step 5) */
    else if (ch >= 60 && ch < 76) r.eyes = 1;                /* eyes (step 6) */
    if (ch < 8 || (ch >= 25 && ch < 33) || ch == 33 || ch == 46 || ch == 76 || ch == 82) r.zero = 1;
    if ((ch >= 8 && ch < 25) || (ch >= 76 && ch < 96) || (ch >= 33 && ch < 51)) r.in_mask1 = 0;
    return r;
}

/* The masks are built row by row on net/'s pool, so nothing holds a 256² plane per channel:
 *   A. per channel (one task each): the heatmap's rows interpolated horizontally to S columns
 *      (kept: [Hh, S] per channel), then every upsampled row (a vertical blend of two of them,
 *      thresholded) scanned for the plane's min and max (step 2 needs them before anything else);
 *   B. per block of output rows: for each channel in order, the row(s) it reads after its shift,
 *      upsampled, thresholded and normalised again from the kept rows, shaped, and added.
 * Every value is computed by the same float expressions in the same order as upsampling,
 * normalising and summing whole planes one by one (the spec's order), so the masks are the
 * same to the bit. Channels are taken in groups that fit the arena (the sums stay in order). */
/* Step 8: clamp to [0, 1], NaN → 0. */
static void clamp_masks(float *m, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = m[i];
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        m[i] = v == v ? v : 0.0f;
    }
}

#define MAX_SIDE 256 /* SG_MASK_SIDE: row buffers on the stack */

typedef struct {
    int S, hh, hw, sw;
    int x0[MAX_SIDE], x1[MAX_SIDE], y0[MAX_SIDE], y1[MAX_SIDE];
    float lx[MAX_SIDE], ly[MAX_SIDE];
    const float *hm;                         /* this sample's [C, hh, hw] */
    int ch[SG_LANDMARKS], nch;               /* this group's channels */
    float *hrows;                            /* [nch, hh, S] */
    float mn[SG_LANDMARKS], d[SG_LANDMARKS]; /* per group slot */
    float *m0, *m1;
    int last; /* last group: clamp (step 8) after adding */
} mask_job;

/* PyTorch's align_corners = true source taps of output index i (as net/resample.c). */
static void taps(int i, int in, int out, int *i0, int *i1, float *lambda) {
    double src = out > 1 ? (double)i * (in - 1) / (out - 1) : 0.0;
    int f = (int)floor(src);
    if (f > in - 1) f = in - 1;
    *i0 = f;
    *i1 = f + 1 < in ? f + 1 : in - 1;
    *lambda = (float)(src - f);
}

/* Steps 1 (upsample row oy, threshold) and, with d != 0, 2 (normalise) of group slot k. */
static void plane_row(const mask_job *j, int k, int oy, float *out, int normalise) {
    const int S = j->S;
    const float *t = j->hrows + ((size_t)k * j->hh + j->y0[oy]) * S;
    const float *b = j->hrows + ((size_t)k * j->hh + j->y1[oy]) * S;
    const float ly = j->ly[oy], mn = j->mn[k], d = j->d[k];
    if (normalise)
        for (int x = 0; x < S; x++) {
            float v = (1.0f - ly) * t[x] + ly * b[x];
            v = v < 0.1f ? 0.0f : v;
            out[x] = (v - mn) / d;
        }
    else
        for (int x = 0; x < S; x++) {
            float v = (1.0f - ly) * t[x] + ly * b[x];
            out[x] = v < 0.1f ? 0.0f : v;
        }
}

/* A: horizontal taps of channel slot k, then its thresholded min/max (NaN: the plane is NaN). */
static void stats_task(void *ctx, int k, int thread) {
    (void)thread;
    mask_job *j = ctx;
    const int S = j->S;
    const float *src = j->hm + (size_t)j->ch[k] * j->hh * j->hw;
    float *hr = j->hrows + (size_t)k * j->hh * S;
    for (int r = 0; r < j->hh; r++) {
        const float *in = src + (size_t)r * j->hw;
        float *o = hr + (size_t)r * S;
        for (int x = 0; x < S; x++)
            o[x] = (1.0f - j->lx[x]) * in[j->x0[x]] + j->lx[x] * in[j->x1[x]];
    }
    float row[MAX_SIDE], mn = INFINITY, mx = -INFINITY;
    int nan = 0;
    for (int oy = 0; oy < S; oy++) {
        plane_row(j, k, oy, row, 0);
        for (int x = 0; x < S; x++) {
            const float v = row[x];
            nan |= v != v;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
    }
    j->mn[k] = mn;
    j->d[k] = nan ? NAN : mx - mn + 1e-6f;
}

static void add_row(float *acc, const float *v, int n) {
    for (int x = 0; x < n; x++) acc[x] += v[x];
}

#define ROWS_PER_TASK 8

/* B: output rows [task·8, task·8 + 8): steps 3-7 of the group's channels, in channel order. */
static void rows_task(void *ctx, int task, int thread) {
    (void)thread;
    const mask_job *j = ctx;
    const int S = j->S;
    float u[MAX_SIDE], w[MAX_SIDE];
    for (int r = task * ROWS_PER_TASK; r < (task + 1) * ROWS_PER_TASK && r < S; r++) {
        float *m0 = j->m0 + (size_t)r * S, *m1 = j->m1 + (size_t)r * S;
        for (int k = 0; k < j->nch; k++) {
            const plane_rule pr = rule_for(j->ch[k]);
            if (pr.eyes) { /* shift(x, -8)^3 + shift(x, -24) of the normalised plane */
                plane_row(j, k, ((r - 8) % S + S) % S, u, 1);
                plane_row(j, k, ((r - 24) % S + S) % S, w, 1);
                for (int x = 0; x < S; x++) u[x] = u[x] * u[x] * u[x] + w[x];
            } else {
                plane_row(j, k, ((r + pr.shift * j->sw) % S + S) % S, u, 1);
                switch (pr.power) { /* powi's order: ((v·v)·v)·v */
                case 2:
                    for (int x = 0; x < S; x++) u[x] = u[x] * u[x];
                    break;
                case 3:
                    for (int x = 0; x < S; x++) u[x] = u[x] * u[x] * u[x];
                    break;
                case 4:
                    for (int x = 0; x < S; x++) u[x] = u[x] * u[x] * u[x] * u[x];
                    break;
                default: break;
                }
            }
            add_row(m0, u, S);
            if (pr.in_mask1) add_row(m1, u, S);
        }
        if (j->last) {
            clamp_masks(m0, (size_t)S);
            clamp_masks(m1, (size_t)S);
        }
    }
}

/* Floats of kept horizontal rows for every channel that survives step 4, at the FAN's 64×64. */
static int kept_channels(void) {
    int n = 0;
    for (int ch = 0; ch < SG_LANDMARKS; ch++) n += !rule_for(ch).zero;
    return n;
}

/* the heatmap rows of every kept channel at once (SG_FAN_HM rows of SG_MASK_SIDE) */
size_t sg_masks_plan(void) {
    return sg_arena_floats((size_t)kept_channels() * SG_FAN_HM * SG_MASK_SIDE);
}

sg_status sg_masks_from_heatmaps(const sg_tensor *hm, sg_tensor masks[2], sg_arena *a,
                                 sg_error *err) {
    const int S = SG_MASK_SIDE;
    const size_t n = (size_t)S * S;
    for (int k = 0; k < 2; k++)
        if (masks[k].n != hm->n || masks[k].c != 1 || masks[k].h != S || masks[k].w != S)
            return sg_error_set(err, SG_ERR_SHAPE, "masks: mask %d must be [%d,1,%d,%d]", k, hm->n,
                                S, S);
    if (hm->c < SG_LANDMARKS || hm->h < 2 || hm->w < 2)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "masks: heatmaps [%d,%d,%d,%d], expected [N,98+,H,W]", hm->n, hm->c,
                            hm->h, hm->w);
    /* cap and top are whole sg_arena_floats steps, so a group that fits avail fits rounded */
    const size_t per_ch = (size_t)hm->h * S, avail = a->cap - a->top;
    const int group = (int)(avail / per_ch < SG_LANDMARKS ? avail / per_ch : SG_LANDMARKS);
    if (group < 1) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small in masks");
    const size_t mark = sg_arena_mark(a);
    float *hrows = sg_arena_alloc(a, (size_t)group * per_ch);
    if (!hrows) {
        sg_arena_reset(a, mark);
        return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small in masks");
    }
    mask_job job, *j = &job; /* ≈ 8 KB */
    j->S = S, j->hh = hm->h, j->hw = hm->w, j->sw = S / 256, j->hrows = hrows;
    for (int i = 0; i < S; i++) {
        taps(i, hm->w, S, &j->x0[i], &j->x1[i], &j->lx[i]);
        taps(i, hm->h, S, &j->y0[i], &j->y1[i], &j->ly[i]);
    }
    const size_t per = (size_t)hm->c * hm->h * hm->w;
    for (int s = 0; s < hm->n; s++) {
        j->hm = hm->data + (size_t)s * per;
        j->m0 = masks[0].data + (size_t)s * n, j->m1 = masks[1].data + (size_t)s * n;
        memset(j->m0, 0, n * sizeof(float));
        memset(j->m1, 0, n * sizeof(float));
        for (int ch = 0; ch < SG_LANDMARKS;) {
            j->nch = 0;
            for (; ch < SG_LANDMARKS && j->nch < group; ch++)
                if (!rule_for(ch).zero) j->ch[j->nch++] = ch; /* step 4 zeroes the rest */
            while (ch < SG_LANDMARKS && rule_for(ch).zero) ch++;
            j->last = ch >= SG_LANDMARKS;
            sg_net_parallel(j->nch, stats_task, j);
            sg_net_parallel((S + ROWS_PER_TASK - 1) / ROWS_PER_TASK, rows_task, j);
        }
    }
    sg_arena_reset(a, mark);
    return SG_OK;
}

/* sign(a - b) · 0.25 */
static double quarter_sign(float a, float b) { return a > b ? 0.25 : a < b ? -0.25 : 0.0; }

sg_status sg_landmarks_from_heatmaps(const sg_tensor *hm, int side, double *lm, sg_error *err) {
    if (hm->c < SG_LANDMARKS || hm->h < 1 || hm->w < 1 || side < 1)
        return sg_error_set(err, SG_ERR_SHAPE,
                            "landmarks: heatmaps [%d,%d,%d,%d], expected "
                            "[N,98+,H,W]",
                            hm->n, hm->c, hm->h, hm->w);
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
