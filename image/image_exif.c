/* EXIF orientation: read tag 0x0112 of IFD0 from a JPEG APP1 "Exif\0\0" segment and transpose
 * the decoded image as PIL.ImageOps.exif_transpose does. The segment is untrusted: every read
 * is bounds-checked against the segment, and only IFD0 is visited (no offset chains, so no
 * loops). */
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p; /* TIFF header start */
    size_t len;
    int big; /* "MM": big-endian */
} tiff_view;

static int rd16(const tiff_view *t, size_t off, uint32_t *v) {
    if (off > t->len || t->len - off < 2) return 0;
    const uint8_t *q = t->p + off;
    *v = t->big ? (uint32_t)(q[0] << 8 | q[1]) : (uint32_t)(q[1] << 8 | q[0]);
    return 1;
}

static int rd32(const tiff_view *t, size_t off, uint32_t *v) {
    if (off > t->len || t->len - off < 4) return 0;
    const uint8_t *q = t->p + off;
    uint32_t b0 = q[0], b1 = q[1], b2 = q[2], b3 = q[3];
    *v = t->big ? b0 << 24 | b1 << 16 | b2 << 8 | b3 : b3 << 24 | b2 << 16 | b1 << 8 | b0;
    return 1;
}

/* Value of a count-1 BYTE, SHORT or LONG entry (these fit inline in the entry's last 4 bytes);
 * -1 for any other shape, which Pillow would not turn into a usable orientation either. */
static long entry_value(const tiff_view *t, size_t e) {
    uint32_t type, count, v;
    if (!rd16(t, e + 2, &type) || !rd32(t, e + 4, &count) || count != 1) return -1;
    if (type == 1) return t->p[e + 8]; /* entry fully in bounds: checked by the caller */
    if (type == 3) return rd16(t, e + 8, &v) ? (long)v : -1;
    if (type == 4) return rd32(t, e + 8, &v) ? (long)v : -1;
    return -1;
}

int sg_exif_orientation(const uint8_t *p, size_t len) {
    if (!p || len < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0) return 0;
    tiff_view t = {p + 6, len - 6, 0};
    if (memcmp(t.p, "II*\0", 4) == 0) t.big = 0;
    else if (memcmp(t.p, "MM\0*", 4) == 0) t.big = 1;
    else return 0;
    uint32_t ifd, n;
    if (!rd32(&t, 4, &ifd) || !rd16(&t, ifd, &n)) return 0;
    long orientation = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        uint32_t tag;
        if (e > t.len || t.len - e < 12) break; /* truncated directory: keep what was read */
        rd16(&t, e, &tag);
        if (tag == 0x0112) orientation = entry_value(&t, e); /* a later duplicate wins */
    }
    return orientation >= 1 && orientation <= 8 ? (int)orientation : 0;
}

/* Where output pixel (X, Y) comes from: src(x0 + X·ux + Y·vx, y0 + X·uy + Y·vy). */
typedef struct {
    int x0, y0, ux, uy, vx, vy, swap;
} orient_map;

static orient_map orient_map_for(int o, int w, int h) {
    switch (o) {
    case 2: return (orient_map){w - 1, 0, -1, 0, 0, 1, 0};      /* mirror horizontal */
    case 3: return (orient_map){w - 1, h - 1, -1, 0, 0, -1, 0}; /* rotate 180 */
    case 4: return (orient_map){0, h - 1, 1, 0, 0, -1, 0};      /* mirror vertical */
    case 5: return (orient_map){0, 0, 0, 1, 1, 0, 1};           /* transpose */
    case 6: return (orient_map){0, h - 1, 0, -1, 1, 0, 1};      /* rotate 90 CW */
    case 7: return (orient_map){w - 1, h - 1, 0, -1, -1, 0, 1}; /* transverse */
    case 8: return (orient_map){w - 1, 0, 0, 1, -1, 0, 1};      /* rotate 90 CCW */
    default: return (orient_map){0, 0, 1, 0, 0, 1, 0};          /* identity */
    }
}

sg_status sg_image_orient(sg_image *img, int o, sg_error *err) {
    if (o < 2 || o > 8) return SG_OK;
    orient_map m = orient_map_for(o, img->w, img->h);
    sg_image out;
    int ow = m.swap ? img->h : img->w, oh = m.swap ? img->w : img->h;
    sg_status s = sg_image_alloc(&out, ow, oh, err);
    if (s != SG_OK) return s;
    /* pixel steps in the source for one step along an output row / column */
    ptrdiff_t step_x = (ptrdiff_t)m.ux + (ptrdiff_t)m.uy * img->w;
    ptrdiff_t step_y = (ptrdiff_t)m.vx + (ptrdiff_t)m.vy * img->w;
    ptrdiff_t row = (ptrdiff_t)m.y0 * img->w + m.x0;
    uint8_t *dst = out.pixels;
    for (int y = 0; y < oh; y++, row += step_y) {
        ptrdiff_t at = row;
        for (int x = 0; x < ow; x++, at += step_x, dst += 3) memcpy(dst, img->pixels + at * 3, 3);
    }
    sg_image_free(img);
    *img = out;
    return SG_OK;
}
