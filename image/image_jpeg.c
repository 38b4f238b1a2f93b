/* JPEG decode/encode with libjpeg(-turbo). libjpeg's default error handler calls exit(): we
 * install one that records the message and longjmps back into the function that called
 * setjmp. All state that the error path frees lives in a heap context struct, never in locals
 * modified after setjmp. Decoding uses the library defaults that Pillow uses (JDCT_ISLOW, fancy
 * upsampling), so the pixels match Pillow's bit for bit. */
#include "image_internal.h"

#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h> /* message codes and ERREXIT */

/* A progressive JPEG may hold thousands of tiny scans that each cost a pass over the
 * coefficients; libjpeg-turbo advises capping them for untrusted input. */
#define SG_JPEG_MAX_SCANS 1000

typedef struct {
    struct jpeg_error_mgr pub; /* first: libjpeg casts cinfo->err to this struct */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are silent (libjpeg would print them), except running out of data: libjpeg then
 * pads with grey and carries on, where Pillow refuses a truncated file. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

static void jpeg_err_init(jpeg_err *e) {
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_on_error;
    e->pub.emit_message = jpeg_on_message;
    e->msg[0] = 0;
}

/* ---- decode --------------------------------------------------------------------------------- */
typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    struct jpeg_progress_mgr progress;
    int64_t max_pixels;
    sg_image img;
    uint8_t *cmyk_row;
    sg_status status; /* why jpeg_decode_inner failed */
    int jumped;       /* libjpeg raised an error (message in err.msg) */
} jpeg_dec;

static void jpeg_on_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > SG_JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d scans", SG_JPEG_MAX_SCANS);
        longjmp(e->jb, 1);
    }
}

/* The first APP1 "Exif\0\0" segment's orientation (Pillow keeps the first one too). */
static int jpeg_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 6) continue;
        if (memcmp(m->data, "Exif\0\0", 6) == 0)
            return sg_exif_orientation(m->data, m->data_length);
    }
    return 0;
}

/* Output colour space as Pillow picks it: 1 component -> grey, 3 -> RGB, 4 -> CMYK (YCCK is
 * converted to CMYK by libjpeg), anything else refused. */
static sg_status jpeg_pick_colorspace(j_decompress_ptr c, sg_error *err) {
    switch (c->jpeg_color_space) {
    case JCS_GRAYSCALE: c->out_color_space = JCS_GRAYSCALE; return SG_OK;
    case JCS_YCbCr:
    case JCS_RGB: c->out_color_space = JCS_RGB; return SG_OK;
    case JCS_CMYK:
    case JCS_YCCK: c->out_color_space = JCS_CMYK; return SG_OK;
    default: break;
    }
    return sg_error_set(err, SG_ERR_UNSUPPORTED, "JPEG: unsupported colour space (%d components)",
                        c->num_components);
}

/* Pillow reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts to RGB with
 * v = (255 - k) - (c·(255 - k)) / 255, rounded as its MULDIV255 macro. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w) {
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        int k = 255 - in[3], nk = 255 - k;
        for (int ch = 0; ch < 3; ch++) {
            int c = 255 - in[ch];
            int t = c * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            out[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* Grey rows were read into the first w bytes of each 3·w row: replicate from the end. */
static void grey_row_to_rgb(uint8_t *row, int w) {
    for (int x = w - 1; x >= 0; x--) memset(row + 3 * x, row[x], 3);
}

static void jpeg_read_rows(jpeg_dec *d) {
    j_decompress_ptr c = &d->cinfo;
    while (c->output_scanline < c->output_height) {
        uint8_t *row = d->img.pixels + (size_t)c->output_scanline * (size_t)d->img.w * 3;
        JSAMPROW dst = d->cmyk_row ? d->cmyk_row : row;
        if (jpeg_read_scanlines(c, &dst, 1) != 1) break;
        if (d->cmyk_row) cmyk_row_to_rgb(d->cmyk_row, row, d->img.w);
        else if (c->out_color_space == JCS_GRAYSCALE) grey_row_to_rgb(row, d->img.w);
    }
}

static sg_status jpeg_alloc_output(jpeg_dec *d, sg_error *err) {
    j_decompress_ptr c = &d->cinfo;
    if ((int)c->output_width != d->img.w || (int)c->output_height != d->img.h)
        return sg_error_set(err, SG_ERR_FORMAT, "JPEG: unexpected output size");
    sg_status s = sg_image_alloc(&d->img, d->img.w, d->img.h, err);
    if (s == SG_OK && c->out_color_space == JCS_CMYK) {
        d->cmyk_row = malloc((size_t)d->img.w * 4);
        if (!d->cmyk_row) s = sg_error_set(err, SG_ERR_NOMEM, "JPEG: out of memory");
    }
    return s;
}

/* All libjpeg calls happen here, under the jump buffer. */
static int jpeg_decode_inner(jpeg_dec *d, const uint8_t *data, size_t len, int apply_exif,
                             sg_error *err) {
    j_decompress_ptr c = &d->cinfo;
    if (setjmp(d->err.jb)) {
        d->status = SG_ERR_FORMAT;
        d->jumped = 1;
        return -1;
    }
    jpeg_create_decompress(c);
    c->progress = &d->progress;
    jpeg_mem_src(c, data, (unsigned long)len);
    if (apply_exif) jpeg_save_markers(c, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(c, TRUE);
    d->status = sg_image_check_dims(c->image_width, c->image_height, d->max_pixels, "JPEG", err);
    if (d->status == SG_OK) d->status = jpeg_pick_colorspace(c, err);
    if (d->status != SG_OK) return -1;
    c->dct_method = JDCT_ISLOW;
    c->do_fancy_upsampling = TRUE;
    d->img.w = (int)c->image_width;
    d->img.h = (int)c->image_height;
    jpeg_start_decompress(c);
    d->status = jpeg_alloc_output(d, err);
    if (d->status != SG_OK) return -1;
    jpeg_read_rows(d);
    if (c->output_scanline < c->output_height) {
        d->status = sg_error_set(err, SG_ERR_FORMAT, "JPEG: image data ended early");
        return -1;
    }
    d->status = apply_exif ? sg_image_orient(&d->img, jpeg_orientation(c), err) : SG_OK;
    return d->status == SG_OK ? 0 : -1;
}

static sg_status over_limit(const jpeg_dec *d, sg_error *err, sg_status s) {
    sg_error tmp;
    if (sg_image_check_dims(d->cinfo.image_width, d->cinfo.image_height, d->max_pixels, "JPEG",
                            &tmp) != SG_ERR_LIMIT)
        return s;
    if (err) *err = tmp;
    return SG_ERR_LIMIT;
}

sg_status sg_jpeg_decode(const uint8_t *data, size_t len, int64_t max_pixels, int apply_exif,
                         sg_image *out, sg_error *err) {
    jpeg_dec *d = calloc(1, sizeof *d);
    if (!d) return sg_error_set(err, SG_ERR_NOMEM, "JPEG: out of memory");
    d->max_pixels = max_pixels;
    d->cinfo.err = &d->err.pub;
    jpeg_err_init(&d->err);
    d->progress.progress_monitor = jpeg_on_progress;
    sg_status s = SG_OK;
    if (jpeg_decode_inner(d, data, len, apply_exif, err) != 0) {
        s = d->status;
        if (d->jumped) {
            /* a libjpeg-turbo build without 12-bit support reports such files as errors */
            int precision = d->err.pub.msg_code == JERR_BAD_PRECISION;
            s = precision ? SG_ERR_UNSUPPORTED : SG_ERR_FORMAT;
            sg_error_set(err, s, "JPEG: %s", d->err.msg);
            /* a truncated header whose SOF already claimed too large an image: say so, as
             * for PNG, rather than "premature end" */
            if (d->cinfo.image_width && d->cinfo.image_height) s = over_limit(d, err, s);
        }
    }
    jpeg_destroy_decompress(&d->cinfo); /* safe after an error: frees all libjpeg memory */
    free(d->cmyk_row);
    if (s == SG_OK) *out = d->img;
    else free(d->img.pixels);
    free(d);
    return s;
}

/* ---- encode --------------------------------------------------------------------------------- */
/* A growable memory destination of our own: jpeg_mem_dest's internal buffer leaks when
 * compression fails halfway (jpeg_destroy does not free it). */
typedef struct {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
} mem_dest;

static void dest_init(j_compress_ptr c) { (void)c; }

static boolean dest_grow(j_compress_ptr c) {
    mem_dest *m = (mem_dest *)c->dest;
    size_t cap = m->cap * 2;
    uint8_t *nb = cap > m->cap ? realloc(m->buf, cap) : NULL;
    if (!nb) ERREXIT1(c, JERR_OUT_OF_MEMORY, 10);
    m->buf = nb;
    m->pub.next_output_byte = nb + m->cap; /* only called when the buffer is full */
    m->pub.free_in_buffer = cap - m->cap;
    m->cap = cap;
    return TRUE;
}

static void dest_term(j_compress_ptr c) { (void)c; }

typedef struct {
    struct jpeg_compress_struct cinfo;
    jpeg_err err;
    mem_dest dest;
} jpeg_enc;

static int jpeg_encode_inner(jpeg_enc *e, const sg_image *img, int quality) {
    j_compress_ptr c = &e->cinfo;
    if (setjmp(e->err.jb)) return -1;
    jpeg_create_compress(c);
    e->dest.pub.init_destination = dest_init;
    e->dest.pub.empty_output_buffer = dest_grow;
    e->dest.pub.term_destination = dest_term;
    e->dest.pub.next_output_byte = e->dest.buf;
    e->dest.pub.free_in_buffer = e->dest.cap;
    c->dest = &e->dest.pub;
    c->image_width = (JDIMENSION)img->w;
    c->image_height = (JDIMENSION)img->h;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c); /* 4:2:0 chroma subsampling, baseline Huffman tables */
    jpeg_set_quality(c, quality, TRUE);
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = img->pixels + (size_t)c->next_scanline * (size_t)img->w * 3;
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return 0;
}

sg_status sg_jpeg_encode(const sg_image *img, int quality, uint8_t **out, size_t *out_len,
                         sg_error *err) {
    jpeg_enc *e = calloc(1, sizeof *e);
    if (e) {
        e->dest.cap = 65536;
        e->dest.buf = malloc(e->dest.cap);
    }
    if (!e || !e->dest.buf) {
        free(e);
        return sg_error_set(err, SG_ERR_NOMEM, "JPEG encode: out of memory");
    }
    e->cinfo.err = &e->err.pub;
    jpeg_err_init(&e->err);
    sg_status s = SG_OK;
    if (jpeg_encode_inner(e, img, quality) != 0)
        s = sg_error_set(err,
                         e->err.pub.msg_code == JERR_OUT_OF_MEMORY ? SG_ERR_NOMEM : SG_ERR_FORMAT,
                         "JPEG encode: %s", e->err.msg);
    if (s == SG_OK) {
        *out = e->dest.buf;
        *out_len = e->dest.cap - e->dest.pub.free_in_buffer;
    } else {
        free(e->dest.buf);
    }
    jpeg_destroy_compress(&e->cinfo);
    free(e);
    return s;
}
