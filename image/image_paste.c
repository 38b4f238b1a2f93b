/* Regions of a photo: the square a region is translated as, cutting it out, and putting a
 * translation back into the whole photo over a feathered edge (docs/networks.md "Regions and
 * paste-back"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

int sg_rect_parse(const char *s, sg_rect *r) {
    long long v[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        if (*p < '0' || *p > '9') return -1; /* digits only: no sign, no space */
        char *end;
        v[i] = strtoll(p, &end, 10);
        if (end - p > 9) return -1; /* < 10^9: no overflow, and larger than any photo */
        p = end;
        if (i < 3 && *p++ != ',') return -1;
    }
    if (*p || v[2] < 1 || v[3] < 1) return -1;
    *r = (sg_rect){(int)v[0], (int)v[1], (int)v[2], (int)v[3]};
    return 0;
}

int sg_rect_inside(sg_rect r, int w, int h) {
    return r.x >= 0 && r.y >= 0 && r.w >= 1 && r.h >= 1 && r.x <= w - r.w && r.y <= h - r.h;
}

sg_rect sg_rect_square(sg_rect r, double grow, int w, int h) {
    double side = grow * (r.w > r.h ? r.w : r.h), cx = r.x + r.w / 2.0, cy = r.y + r.h / 2.0;
    int s = (int)lround(side), lim = w < h ? w : h;
    s = s < 1 ? 1 : s > lim ? lim : s;
    int x = (int)lround(cx - s / 2.0), y = (int)lround(cy - s / 2.0);
    x = x < 0 ? 0 : x > w - s ? w - s : x;
    y = y < 0 ? 0 : y > h - s ? h - s : y;
    return (sg_rect){x, y, s, s};
}

sg_status sg_image_crop(const sg_image *img, sg_rect r, sg_image *out, sg_error *err) {
    if (!sg_rect_inside(r, img->w, img->h))
        return sg_error_set(err, SG_ERR_ARG, "crop %d,%d,%d,%d lies outside the %dx%d photo", r.x,
                            r.y, r.w, r.h, img->w, img->h);
    sg_status st = sg_image_alloc(out, r.w, r.h, err);
    for (int y = 0; !st && y < r.h; y++)
        memcpy(out->pixels + (size_t)y * r.w * 3,
               img->pixels + ((size_t)(r.y + y) * img->w + r.x) * 3, (size_t)r.w * 3);
    return st;
}

/* The feather weight of pixel (u, v) of a w × h region: 1 from band pixels in, falling linearly
 * to 1/(2·band) at the outermost pixels (distances from the pixel centres to the edge). */
static double feather(int u, int v, int w, int h, double band) {
    double d = fmin(fmin(u + 0.5, w - u - 0.5), fmin(v + 0.5, h - v - 0.5));
    return d >= band ? 1.0 : d / band;
}

static uint8_t blend(uint8_t photo, uint8_t t, double a) {
    return a >= 1.0 ? t : (uint8_t)floor(photo + (t - photo) * a + 0.5);
}

int sg_feather_band(sg_rect r) {
    int b = (r.w < r.h ? r.w : r.h) / 8;
    return b < 1 ? 1 : b;
}

sg_status sg_image_paste(sg_image *dst, const sg_image *src, sg_rect r, sg_error *err) {
    if (!sg_rect_inside(r, dst->w, dst->h))
        return sg_error_set(err, SG_ERR_ARG, "paste: region outside the photo");
    sg_image sized = {0};
    const sg_image *s = src;
    if (src->w != r.w || src->h != r.h) { /* back to the region's size (Pillow bilinear) */
        sg_status st = sg_image_resize(src, 0, 0, src->w, src->h, r.w, r.h, &sized, err);
        if (st) return st;
        s = &sized;
    }
    const double band = sg_feather_band(r);
    for (int v = 0; v < r.h; v++)
        for (int u = 0; u < r.w; u++) {
            const double a = feather(u, v, r.w, r.h, band);
            uint8_t *d = dst->pixels + ((size_t)(r.y + v) * dst->w + r.x + u) * 3;
            const uint8_t *t = s->pixels + ((size_t)v * r.w + u) * 3;
            for (int c = 0; c < 3; c++) d[c] = blend(d[c], t[c], a);
        }
    sg_image_free(&sized);
    return SG_OK;
}

/* src sampled bilinearly at (x, y) (pixel centres at integers); 0 weight outside. */
static int sample(const sg_image *src, double x, double y, double out[3]) {
    if (x < -0.5 || y < -0.5 || x > src->w - 0.5 || y > src->h - 0.5) return 0;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double fx = x - x0, fy = y - y0;
    for (int c = 0; c < 3; c++) out[c] = 0;
    for (int k = 0; k < 4; k++) {
        int xi = x0 + (k & 1), yi = y0 + (k >> 1);
        xi = xi < 0 ? 0 : xi >= src->w ? src->w - 1 : xi;
        yi = yi < 0 ? 0 : yi >= src->h ? src->h - 1 : yi;
        double wgt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
        const uint8_t *p = src->pixels + ((size_t)yi * src->w + xi) * 3;
        for (int c = 0; c < 3; c++) out[c] += wgt * p[c];
    }
    return 1;
}

sg_status sg_image_paste_warp(sg_image *dst, const sg_image *src, sg_rect r, const double m[6],
                              sg_error *err) {
    if (!sg_rect_inside(r, dst->w, dst->h))
        return sg_error_set(err, SG_ERR_ARG, "paste: region outside the photo");
    const double band = sg_feather_band(r), sband = (src->w < src->h ? src->w : src->h) / 8.0;
    for (int v = 0; v < r.h; v++)
        for (int u = 0; u < r.w; u++) {
            const double x = m[0] * u + m[1] * v + m[2], y = m[3] * u + m[4] * v + m[5];
            double t[3];
            if (!sample(src, x, y, t)) continue;
            /* feathered at the region's edge and at the translation's own edge */
            double ds = fmin(fmin(x + 0.5, src->w - 0.5 - x), fmin(y + 0.5, src->h - 0.5 - y));
            double a = fmin(feather(u, v, r.w, r.h, band), ds >= sband ? 1.0 : ds / sband);
            uint8_t *d = dst->pixels + ((size_t)(r.y + v) * dst->w + r.x + u) * 3;
            for (int c = 0; c < 3; c++) {
                double val = d[c] + (t[c] - d[c]) * a;
                d[c] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : floor(val + 0.5));
            }
        }
    return SG_OK;
}
