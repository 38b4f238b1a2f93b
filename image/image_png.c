/* PNG decode/encode with libpng. libpng reports errors by longjmp: every libpng call runs inside
 * a function that set the jump buffer, whose state lives in a context struct owned by the
 * caller (so nothing the error path needs is an indeterminate local after the longjmp). */
#include "image_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared error handling ------------------------------------------------------------------ */
typedef struct {
    char msg[200];
} png_err_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_err_ctx *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

/* Warnings (bad ancillary CRCs, unknown chunks) do not stop Pillow either: ignored. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* ---- decode --------------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *data;
    size_t len, pos;
    int64_t max_pixels;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    sg_image img;
    sg_status status; /* why png_decode_inner failed */
    png_err_ctx e;
    uint8_t palette[256 * 3];
    int is_palette;
    int jumped; /* libpng raised an error */
} png_dec;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
    png_dec *d = png_get_io_ptr(png);
    if (n > d->len - d->pos) png_error(png, "truncated file");
    memcpy(out, d->data + d->pos, n);
    d->pos += n;
}

/* Pillow maps palette indices past the PLTE entries to a grey ramp (its palettes start as
 * i -> (i, i, i)); libpng would map them to black, so palettes are expanded here instead. */
static void png_build_palette(png_dec *d) {
    for (int i = 0; i < 256; i++) memset(d->palette + 3 * i, i, 3);
    png_colorp pal = NULL;
    int n = 0;
    if (png_get_PLTE(d->png, d->info, &pal, &n) && pal) {
        for (int i = 0; i < n && i < 256; i++) {
            d->palette[3 * i + 0] = pal[i].red;
            d->palette[3 * i + 1] = pal[i].green;
            d->palette[3 * i + 2] = pal[i].blue;
        }
    }
}

/* Asks libpng for 8-bit RGB as Pillow's convert('RGB') gives it: grey replicated, 1/2/4-bit grey
 * scaled to 0..255, 16-bit reduced to the high byte, alpha and tRNS ignored (not composited),
 * palette left as one index per byte for png_build_palette. No gamma correction (Pillow has
 * none). */
static void png_set_transforms(png_dec *d) {
    int ct = png_get_color_type(d->png, d->info);
    int depth = png_get_bit_depth(d->png, d->info);
    d->is_palette = ct == PNG_COLOR_TYPE_PALETTE;
    if (d->is_palette) {
        png_build_palette(d);
        if (depth < 8) png_set_packing(d->png);
    } else {
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
        if (depth == 16) png_set_strip_16(d->png);
        if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(d->png);
        if (!(ct & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(d->png);
    }
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
}

/* Palette rows hold w indices at the start of each 3·w byte row: expand from the end so the
 * expansion can run in place. */
static void png_expand_palette(png_dec *d) {
    for (int y = 0; y < d->img.h; y++) {
        uint8_t *row = d->img.pixels + (size_t)y * (size_t)d->img.w * 3;
        for (int x = d->img.w - 1; x >= 0; x--) memcpy(row + 3 * x, d->palette + 3 * row[x], 3);
    }
}

/* The size limits are applied to the IHDR bytes before libpng runs: png_read_info goes on
 * reading chunks up to the first IDAT, so a header-only file claiming a huge size would
 * otherwise be reported as truncated instead of over the limit. */
static sg_status png_precheck(const uint8_t *data, size_t len, int64_t max_pixels, sg_error *err) {
    const uint8_t *p = data + 8; /* IHDR must be the first chunk */
    if (len < 8 + 8 + 13 || memcmp(p + 4, "IHDR", 4) != 0) return SG_OK; /* libpng reports */
    uint32_t w = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    uint32_t h = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 | (uint32_t)p[14] << 8 | p[15];
    if (w == 0 || h == 0) return SG_OK; /* malformed: libpng's message says why */
    return sg_image_check_dims(w, h, max_pixels, "PNG", err);
}

/* All libpng reading happens here, under the jump buffer. */
static int png_decode_inner(png_dec *d, sg_error *err) {
    if (setjmp(png_jmpbuf(d->png))) {
        d->status = SG_ERR_FORMAT; /* libpng failed: its message is in d->e */
        d->jumped = 1;
        return -1;
    }
    png_set_read_fn(d->png, d, png_read_mem);
    /* libpng's default side limit (1e6) would fail as a format error: ours applies instead */
    png_set_user_limits(d->png, 0x7fffffff, 0x7fffffff);
    png_read_info(d->png, d->info);
    png_uint_32 w = png_get_image_width(d->png, d->info);
    png_uint_32 h = png_get_image_height(d->png, d->info);
    d->status = sg_image_check_dims(w, h, d->max_pixels, "PNG", err);
    if (d->status != SG_OK) return -1;
    png_set_transforms(d);
    if (png_get_rowbytes(d->png, d->info) > (png_size_t)w * 3)
        png_error(d->png, "unexpected row size after transforms");
    d->status = sg_image_alloc(&d->img, (int)w, (int)h, err);
    if (d->status == SG_OK) {
        d->rows = malloc(sizeof *d->rows * h);
        if (!d->rows) d->status = sg_error_set(err, SG_ERR_NOMEM, "PNG: out of memory");
    }
    if (d->status != SG_OK) return -1;
    for (png_uint_32 y = 0; y < h; y++) d->rows[y] = d->img.pixels + (size_t)y * w * 3;
    png_read_image(d->png, d->rows);
    if (d->is_palette) png_expand_palette(d);
    return 0;
}

sg_status sg_png_decode(const uint8_t *data, size_t len, int64_t max_pixels, sg_image *out,
                        sg_error *err) {
    sg_status s = png_precheck(data, len, max_pixels, err);
    if (s != SG_OK) return s;
    png_dec *d = calloc(1, sizeof *d);
    if (!d) return sg_error_set(err, SG_ERR_NOMEM, "PNG: out of memory");
    d->data = data;
    d->len = len;
    d->max_pixels = max_pixels;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d->e, png_on_error, png_on_warning);
    if (d->png) d->info = png_create_info_struct(d->png);
    if (!d->png || !d->info) {
        s = sg_error_set(err, SG_ERR_NOMEM, "PNG: cannot create the decoder");
    } else if (png_decode_inner(d, err) != 0) {
        s = d->status;
        if (d->jumped) sg_error_set(err, s, "PNG: %s", d->e.msg);
    }
    png_destroy_read_struct(&d->png, &d->info, NULL);
    free(d->rows);
    if (s == SG_OK) *out = d->img;
    else free(d->img.pixels);
    free(d);
    return s;
}

/* ---- encode --------------------------------------------------------------------------------- */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    const sg_image *img;
    png_structp png;
    png_infop info;
    int nomem;
    png_err_ctx e;
} png_enc;

static void png_write_mem(png_structp png, png_bytep p, png_size_t n) {
    png_enc *c = png_get_io_ptr(png);
    if (n > c->cap - c->len) {
        size_t cap = c->cap ? c->cap : 4096;
        while (n > cap - c->len) {
            if (cap > SIZE_MAX / 2) png_error(png, "output too large");
            cap *= 2;
        }
        uint8_t *nb = realloc(c->buf, cap);
        if (!nb) {
            c->nomem = 1;
            png_error(png, "out of memory");
        }
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

static int png_encode_inner(png_enc *c) {
    if (setjmp(png_jmpbuf(c->png))) return -1;
    const sg_image *img = c->img;
    png_set_write_fn(c->png, c, png_write_mem, png_flush_mem);
    /* zlib level 2: a fraction of the default 6's encode time for slightly larger files
     * (bench/README.md); encoding is most of a request's overhead outside the networks.
     * Deterministic like any level. */
    png_set_compression_level(c->png, 2);
    png_set_IHDR(c->png, c->info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(c->png, c->info);
    for (int y = 0; y < img->h; y++)
        png_write_row(c->png, img->pixels + (size_t)y * (size_t)img->w * 3);
    png_write_end(c->png, c->info);
    return 0;
}

sg_status sg_png_encode(const sg_image *img, uint8_t **out, size_t *out_len, sg_error *err) {
    png_enc *c = calloc(1, sizeof *c);
    if (!c) return sg_error_set(err, SG_ERR_NOMEM, "PNG encode: out of memory");
    c->img = img;
    c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c->e, png_on_error, png_on_warning);
    if (c->png) c->info = png_create_info_struct(c->png);
    sg_status s = SG_OK;
    if (!c->png || !c->info) s = sg_error_set(err, SG_ERR_NOMEM, "PNG encode: no encoder");
    else if (png_encode_inner(c) != 0)
        s = sg_error_set(err, c->nomem ? SG_ERR_NOMEM : SG_ERR_FORMAT, "PNG encode: %s", c->e.msg);
    png_destroy_write_struct(&c->png, &c->info);
    if (s == SG_OK) {
        *out = c->buf;
        *out_len = c->len;
    } else {
        free(c->buf);
    }
    free(c);
    return s;
}
