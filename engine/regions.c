/* Regions of a photo (engine.h "regions of a photo"; docs/networks.md "Regions and paste-back"):
 * which squares to translate, and each translated and put back into the whole photo. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int sg_face_select_parse(const char *s, int *sel) {
    if (!strcmp(s, "auto")) return *sel = SG_FACE_AUTO, 0;
    if (!strcmp(s, "all")) return *sel = SG_FACE_ALL, 0;
    if (!s[0] || strlen(s) > 2 || strspn(s, "0123456789") != strlen(s)) return -1;
    *sel = atoi(s);
    return 0;
}

static sg_rect box_rect(const sg_face_box *f, int w, int h) {
    /* the box in whole pixels, clipped to the photo (face-api.js's boxes may pass its edge) */
    int x0 = (int)floor(fmax(0, f->x)), y0 = (int)floor(fmax(0, f->y));
    int x1 = (int)ceil(fmin(w, f->x + f->w)), y1 = (int)ceil(fmin(h, f->y + f->h));
    return (sg_rect){x0, y0, x1 > x0 ? x1 - x0 : 1, y1 > y0 ? y1 - y0 : 1};
}

static int too_small(const sg_face_box *f) { return fmax(f->w, f->h) < SG_FACE_MIN_SIDE; }

/* The chosen faces' boxes, as whole-pixel rectangles. */
static sg_status choose_faces(const sg_face_box *f, int nf, int sel, const sg_image *photo,
                              sg_rect *out, int max, int *n, sg_error *err) {
    const char *hint = "; give crop=x,y,w,h to choose the region yourself";
    *n = 0;
    if (!nf) return sg_error_set(err, SG_ERR_MISSING, "no face found in the photo%s", hint);
    if (sel >= nf)
        return sg_error_set(err, SG_ERR_MISSING, "face=%d: the photo has %d face%s (0..%d)%s", sel,
                            nf, nf == 1 ? "" : "s", nf - 1, hint);
    for (int i = sel == SG_FACE_ALL ? 0 : sel == SG_FACE_AUTO ? 0 : sel; i < nf && *n < max; i++) {
        if (too_small(&f[i]) && sel != SG_FACE_ALL)
            return sg_error_set(err, SG_ERR_MISSING,
                                "face %d is %.0fx%.0f pixels, under the %d-pixel minimum%s", i,
                                f[i].w, f[i].h, SG_FACE_MIN_SIDE, hint);
        if (!too_small(&f[i])) out[(*n)++] = box_rect(&f[i], photo->w, photo->h);
        if (sel != SG_FACE_ALL) break;
    }
    return *n ? SG_OK
              : sg_error_set(err, SG_ERR_MISSING, "every face found is under %d pixels%s",
                             SG_FACE_MIN_SIDE, hint);
}

sg_status sg_regions_find(const sg_engine *e, const sg_face_detector *d, sg_run *r,
                          const sg_image *photo, const sg_region_ask *q, sg_rect *sq, int max,
                          int *n, double *detect_ms, sg_error *err) {
    *n = 0;
    if (q->mode == SG_REGION_CROP) {
        if (!sg_rect_inside(q->crop, photo->w, photo->h))
            return sg_error_set(err, SG_ERR_ARG,
                                "crop=%d,%d,%d,%d lies outside the %dx%d photo (as displayed)",
                                q->crop.x, q->crop.y, q->crop.w, q->crop.h, photo->w, photo->h);
        sq[0] = sg_rect_square(q->crop, 1.0, photo->w, photo->h);
        *n = 1;
        return SG_OK;
    }
    if (q->mode != SG_REGION_FACE) return SG_OK;
    if (!d)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "face= needs the face detector: this process runs without one");
    sg_face_box faces[SG_DET_MAX_FACES];
    int nf = 0;
    double t0 = sg_now_ms();
    sg_status st =
        sg_detect_faces(&d->net, photo, 0.5f, faces, SG_DET_MAX_FACES, &nf, &r->arena, &r->ws, err);
    if (detect_ms) *detect_ms += sg_now_ms() - t0;
    sg_rect boxes[SG_DET_MAX_FACES];
    if (!st) st = choose_faces(faces, nf, q->face, photo, boxes, max, n, err);
    const double grow = e->cfg.w_hpf > 0 ? SG_FACE_GROW : 1.0;
    for (int i = 0; !st && i < *n; i++) sq[i] = sg_rect_square(boxes[i], grow, photo->w, photo->h);
    return st;
}

/* The aligned translation back onto the region: region pixel (u, v) → the square stretched to
 * S (pixel centres) → padded by S/2 → mat → the translation's pixels. */
static void warp_map(const double *mat, int S, int side, double m[6]) {
    const double k = (double)S / side, c = 0.5 * k - 0.5 + S / 2.0;
    for (int row = 0; row < 2; row++) {
        const double *a = mat + 3 * row;
        m[3 * row] = a[0] * k, m[3 * row + 1] = a[1] * k;
        m[3 * row + 2] = (a[0] + a[1]) * c + a[2];
    }
}

sg_status sg_region_view_make(const sg_engine *e, sg_run *r, const sg_image *photo, sg_rect sq,
                              sg_fit fit, sg_landmark_store *keep, sg_region_view *v, sg_timing *t,
                              sg_error *err) {
    *v = (sg_region_view){.sq = sq, .fit = fit};
    sg_image crop = {0};
    double t0 = sg_now_ms();
    sg_status st = sg_image_crop(photo, sq, &crop, err);
    if (!st && fit != SG_FIT_ALIGN) st = sg_image_fit(&crop, fit, e->cfg.img_size, &v->net, err);
    double t1 = sg_now_ms();
    if (t) t->paste_ms += t1 - t0; /* cutting the square out */
    if (!st && fit == SG_FIT_ALIGN)
        st = sg_engine_align_kept(e, r, &crop, keep, &v->net, v->mat, err);
    if (t && fit == SG_FIT_ALIGN) t->faces_ms += sg_now_ms() - t1;
    sg_image_free(&crop);
    if (st) sg_region_view_free(v);
    return st;
}

void sg_region_view_free(sg_region_view *v) { sg_image_free(&v->net); }

sg_status sg_region_put_back(const sg_engine *e, const sg_region_view *v, const sg_image *out,
                             sg_image *canvas, sg_timing *t, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st;
    if (v->fit != SG_FIT_ALIGN) {
        st = sg_image_paste(canvas, out, v->sq, err);
    } else {
        double m[6];
        warp_map(v->mat, e->cfg.img_size, v->sq.w, m);
        st = sg_image_paste_warp(canvas, out, v->sq, m, err);
    }
    if (t) t->paste_ms += sg_now_ms() - t0;
    return st;
}

/* canvas = a copy of photo (the copy's time in paste_ms) */
static sg_status photo_copy(const sg_image *photo, sg_image *canvas, sg_timing *t, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st = sg_image_crop(photo, (sg_rect){0, 0, photo->w, photo->h}, canvas, err);
    if (t) t->paste_ms += sg_now_ms() - t0;
    return st;
}

sg_status sg_region_paste_into(const sg_engine *e, const sg_image *photo, const sg_region_view *v,
                               const sg_image *out, sg_image *canvas, sg_timing *t, sg_error *err) {
    sg_status st = photo_copy(photo, canvas, t, err);
    if (!st) st = sg_region_put_back(e, v, out, canvas, t, err);
    if (st) sg_image_free(canvas);
    return st;
}

sg_status sg_engine_translate_region(const sg_engine *e, sg_run *r, const sg_image *photo,
                                     sg_rect sq, sg_fit fit, const float *s, sg_image *out,
                                     sg_image *canvas, sg_timing *t, sg_error *err) {
    sg_region_view v;
    sg_timing one = {0};
    sg_status st = sg_region_view_make(e, r, photo, sq, fit, NULL, &v, t, err);
    /* what the networks see is img_size² already: stretch is a no-op resize, so these are the
     * bytes of translating the square with its fit (or fit=align's) */
    if (!st) st = sg_engine_translate(e, r, &v.net, SG_FIT_STRETCH, s, out, &one, err);
    if (t) /* added up: a request may translate several regions */
        t->faces_ms += one.faces_ms, t->generator_ms += one.generator_ms;
    if (!st && canvas) st = sg_region_put_back(e, &v, out, canvas, t, err);
    sg_region_view_free(&v);
    return st;
}

sg_fit sg_region_fit(const sg_engine *e, const sg_region_ask *q, sg_fit fit) {
    return q->mode == SG_REGION_FACE && e->cfg.w_hpf > 0 ? SG_FIT_ALIGN : fit;
}

/* No region asked (paste alone): the fit's own, the centre square (as sg_image_fit crops) or the
 * whole photo. */
static sg_rect fit_region(const sg_image *photo, sg_fit fit) {
    const int side = photo->w < photo->h ? photo->w : photo->h;
    return fit == SG_FIT_CROP ? (sg_rect){(photo->w - side) / 2, (photo->h - side) / 2, side, side}
                              : (sg_rect){0, 0, photo->w, photo->h};
}

sg_status sg_regions_plan(const sg_engine *e, const sg_face_detector *d, sg_run *r,
                          const sg_image *photo, const sg_region_ask *q, sg_fit fit, sg_rect *sq,
                          int max, int *n, double *detect_ms, sg_error *err) {
    *n = 0;
    if (q->mode) return sg_regions_find(e, d, r, photo, q, sq, max, n, detect_ms, err);
    if (max > 0) sq[0] = fit_region(photo, fit), *n = 1;
    return SG_OK;
}

/* Squares sq[0..n) of photo each translated with style s and the regions' fit; with canvas (NULL:
 * no paste; else made here as a copy of photo) every one put back into it. out: the last one. */
static sg_status paste_regions(const sg_engine *e, sg_run *r, const sg_image *photo,
                               const sg_rect *sq, int n, sg_fit fit, const float *s, sg_image *out,
                               sg_image *canvas, sg_timing *t, sg_error *err) {
    sg_status st = canvas ? photo_copy(photo, canvas, t, err) : SG_OK;
    for (int i = 0; !st && i < n; i++) {
        sg_image_free(out);
        st = sg_engine_translate_region(e, r, photo, sq[i], fit, s, out, canvas, t, err);
    }
    return st;
}

sg_status sg_engine_translate_regions(const sg_engine *e, const sg_face_detector *d, sg_run *r,
                                      const sg_image *photo, const sg_region_ask *q, sg_fit fit,
                                      const float *s, sg_image *out, sg_image *canvas, sg_rect *sq,
                                      int max, int *n, sg_timing *t, double *detect_ms,
                                      sg_error *err) {
    sg_status st = sg_regions_plan(e, d, r, photo, q, fit, sq, max, n, detect_ms, err);
    if (!st)
        st = paste_regions(e, r, photo, sq, *n, sg_region_fit(e, q, fit), s, out, canvas, t, err);
    return st;
}

sg_status sg_regions_cut(const sg_engine *e, const sg_face_detector *d, sg_run *r, sg_image *img,
                         const sg_region_ask *q, sg_fit *fit, sg_rect *sq, double *detect_ms,
                         sg_error *err) {
    int n;
    sg_image crop = {0};
    sg_status st = sg_regions_find(e, d, r, img, q, sq, 1, &n, detect_ms, err);
    if (!st) st = sg_image_crop(img, *sq, &crop, err);
    sg_image_free(img);
    *img = crop, *fit = sg_region_fit(e, q, *fit);
    return st;
}
