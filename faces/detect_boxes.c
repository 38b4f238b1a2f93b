/* The face detector's boxes (docs/networks.md "The face detector"): the SSD encodings decoded
 * against the anchors, face-api.js's non-maximum suppression, and the boxes scaled to the photo's
 * pixels as face-api.js does (its reshaped-dimension factors included). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faces.h"

/* tfjs in float32: anchors [ymin, xmin, ymax, xmax] → centre and size; encodings (ty, tx, th, tw)
 * with the scales 10 and 5 → [ymin, xmin, ymax, xmax] */
static void decode(const float *anchor, const float *e, float *box) {
    const float h = anchor[2] - anchor[0], w = anchor[3] - anchor[1];
    const float cy = anchor[0] + h / 2, cx = anchor[1] + w / 2;
    const float hh = expf(e[2] / 5) * h / 2, hw = expf(e[3] / 5) * w / 2;
    const float y = e[0] / 10 * h + cy, x = e[1] / 10 * w + cx;
    box[0] = y - hh, box[1] = x - hw, box[2] = y + hh, box[3] = x + hw;
}

void sg_detector_decode(const sg_detector *d, float *enc) {
    for (int i = 0; i < SG_DET_ANCHORS; i++) decode(&d->anchors[4 * i], &enc[4 * i], &enc[4 * i]);
}

/* face-api.js's IOU (in doubles, as JavaScript numbers) */
static double iou(const float *a, const float *b) {
    const double ay0 = fmin(a[0], a[2]), ax0 = fmin(a[1], a[3]), ay1 = fmax(a[0], a[2]),
                 ax1 = fmax(a[1], a[3]);
    const double by0 = fmin(b[0], b[2]), bx0 = fmin(b[1], b[3]), by1 = fmax(b[0], b[2]),
                 bx1 = fmax(b[1], b[3]);
    const double area_a = (ay1 - ay0) * (ax1 - ax0), area_b = (by1 - by0) * (bx1 - bx0);
    if (area_a <= 0 || area_b <= 0) return 0.0;
    const double ih = fmax(fmin(ay1, by1) - fmax(ay0, by0), 0.0);
    const double iw = fmax(fmin(ax1, bx1) - fmax(ax0, bx0), 0.0);
    return ih * iw / (area_a + area_b - ih * iw);
}

typedef struct {
    float score;
    int index;
} cand;

/* descending score; equal scores keep anchor order (JavaScript's sort is stable) */
static int by_score(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return a->index - b->index;
}

int sg_detector_nms(const float *boxes, const float *scores, float min_score, int max_out,
                    int *selected) {
    cand *c = malloc(SG_DET_ANCHORS * sizeof *c);
    if (!c) return -1;
    int n = 0, out = 0;
    for (int i = 0; i < SG_DET_ANCHORS; i++)
        if (scores[i] > min_score) c[n++] = (cand){scores[i], i};
    qsort(c, (size_t)n, sizeof *c, by_score);
    /* a candidate is kept unless a kept box overlaps it by IoU > 0.5 */
    for (int i = 0; i < n && out < max_out; i++) {
        int keep = 1;
        for (int j = out - 1; j >= 0 && keep; j--)
            keep = iou(&boxes[4 * c[i].index], &boxes[4 * selected[j]]) <= 0.5;
        if (keep) selected[out++] = c[i].index;
    }
    free(c);
    return out;
}

/* A kept box, clipped to [0, 1], through face-api.js's factors to the photo's pixels: the
 * network saw the photo padded to a square, so relative x·(512 / round(w·512/max))·w. */
static sg_face_box to_pixels(const float *b, float score, int w, int h) {
    const double m = w > h ? w : h, s = SG_DET_INPUT / m;
    const double px = SG_DET_INPUT / round(w * s), py = SG_DET_INPUT / round(h * s);
    const double top = fmax(0, b[0]) * py, bottom = fmin(1.0, b[2]) * py;
    const double left = fmax(0, b[1]) * px, right = fmin(1.0, b[3]) * px;
    return (sg_face_box){left * w, top * h, (right - left) * w, (bottom - top) * h, score};
}

sg_status sg_detect_faces(const sg_detector *d, const sg_image *img, float min_score,
                          sg_face_box *faces, int max_faces, int *n_faces, sg_arena *a,
                          sg_workspace *ws, sg_error *err) {
    *n_faces = 0;
    const size_t mark = sg_arena_mark(a);
    float *x = sg_arena_alloc(a, 3 * (size_t)SG_DET_INPUT * SG_DET_INPUT);
    float *enc = sg_arena_alloc(a, 4 * (size_t)SG_DET_ANCHORS);
    float *score = sg_arena_alloc(a, SG_DET_ANCHORS);
    sg_status st = x && enc && score
                       ? SG_OK
                       : sg_error_set(err, SG_ERR_NOMEM, "detector: activation plan too small");
    sg_tensor t = sg_tensor_make(x, 1, 3, SG_DET_INPUT, SG_DET_INPUT);
    if (!st) st = sg_image_to_tensor_tf(img, &t, err);
    if (!st) st = sg_detector_forward(d, &t, enc, score, a, ws, err);
    int *sel = st ? NULL : malloc((size_t)max_faces * sizeof *sel + 1);
    if (!st && !sel) st = sg_error_set(err, SG_ERR_NOMEM, "detector: out of memory");
    if (!st) {
        for (int i = 0; i < SG_DET_ANCHORS; i++)
            decode(&d->anchors[4 * i], &enc[4 * i], &enc[4 * i]);
        int n = sg_detector_nms(enc, score, min_score, max_faces, sel);
        if (n < 0) st = sg_error_set(err, SG_ERR_NOMEM, "detector: out of memory");
        for (int i = 0; i < n; i++)
            faces[i] = to_pixels(&enc[4 * sel[i]], score[sel[i]], img->w, img->h);
        *n_faces = n > 0 ? n : 0;
    }
    free(sel);
    sg_arena_reset(a, mark);
    return st;
}

/* {"width":W,"height":H,"faces":[{"box":[x,y,w,h],"score":s},...]}: boxes to 0.1 pixel, scores
 * to 4 decimals. */
size_t sg_faces_json(const sg_face_box *f, int n, int w, int h, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "{\"width\":%d,\"height\":%d,\"faces\":[", w, h);
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(buf + (k < cap ? k : cap), k < cap ? cap - k : 0,
                              "%s{\"box\":[%.1f,%.1f,%.1f,%.1f],\"score\":%.4f}", i ? "," : "",
                              f[i].x, f[i].y, f[i].w, f[i].h, (double)f[i].score);
    k += (size_t)snprintf(buf + (k < cap ? k : cap), k < cap ? cap - k : 0, "]}");
    return k;
}
