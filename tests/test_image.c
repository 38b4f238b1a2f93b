/* image/: decoding as Pillow's convert('RGB'), EXIF orientation, Pillow's BILINEAR resize, tensor
 * conversions, encoders, and hostile inputs. Expected bytes come from Pillow 9.4 (see
 * tests/data/images/gen.py); the fixture tests compare the whole preprocessing with the
 * reference's x_src / x_ref tensors. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../image/image.h"
#include "../image/image_internal.h"

/* ---- helpers -------------------------------------------------------------------------------- */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *len = (size_t)n;
    return buf;
}

static const char *data_path(const char *name) {
    static char p[2048];
    snprintf(p, sizeof p, "%s/tests/data/images/%s", SG_SOURCE_DIR, name);
    return p;
}

static uint8_t *data_file(const char *name, size_t *len) {
    uint8_t *b = slurp(data_path(name), len);
    if (!b) fail_msg("missing test file %s", data_path(name));
    return b;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m) m = d;
    }
    return m;
}

/* Decodes <name>.<ext> and compares it with <name>.rgb (Pillow's pixels) within tol levels. */
static void check_decode(const char *name, const char *ext, int apply_exif, int tol) {
    char f[256], r[256];
    snprintf(f, sizeof f, "%s.%s", name, ext);
    snprintf(r, sizeof r, "%s.rgb", name);
    size_t len, rlen;
    uint8_t *data = data_file(f, &len), *want = data_file(r, &rlen);
    sg_image img;
    sg_error err = {0};
    sg_status s = sg_image_decode(data, len, SG_IMAGE_DEFAULT_MAX_PIXELS, apply_exif, &img, &err);
    if (s != SG_OK) fail_msg("%s: %s", f, err.msg);
    assert_int_equal((size_t)img.w * img.h * 3, rlen);
    int d = max_diff(img.pixels, want, rlen);
    if (d > tol) fail_msg("%s: max diff %d levels > %d", f, d, tol);
    sg_image_free(&img);
    free(data);
    free(want);
}

/* The pattern gen.py's pattern() builds. */
static void make_pattern(sg_image *img, int w, int h) {
    sg_error err;
    assert_int_equal(sg_image_alloc(img, w, h, &err), SG_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img->pixels[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)((x * 37 + y * 91 + c * 53 + x * y * 7) % 256);
}

static void image_from_bytes(sg_image *img, const uint8_t *px, int w, int h) {
    sg_error err;
    assert_int_equal(sg_image_alloc(img, w, h, &err), SG_OK);
    memcpy(img->pixels, px, (size_t)w * h * 3);
}

/* ---- a tiny safetensors reader (test code only: strstr on the JSON header) ------------------ */
typedef struct {
    uint8_t *buf;
    size_t len;
    char *header; /* NUL-terminated copy */
    size_t data_start;
} st_file;

static int st_open(st_file *st, const char *path) {
    memset(st, 0, sizeof *st);
    st->buf = slurp(path, &st->len);
    if (!st->buf || st->len < 8) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | st->buf[i];
    if (n > st->len - 8) return 0;
    st->header = malloc(n + 1);
    memcpy(st->header, st->buf + 8, n);
    st->header[n] = 0;
    st->data_start = 8 + n;
    return 1;
}

static void st_close(st_file *st) {
    free(st->buf);
    free(st->header);
}

/* F32 data of a tensor by name, or NULL. Checks the byte count against `numel`. */
static const float *st_f32(const st_file *st, const char *name, size_t numel) {
    char key[128];
    snprintf(key, sizeof key, "\"%s\"", name);
    for (const char *p = strstr(st->header, key); p; p = strstr(p + 1, key)) {
        const char *q = p + strlen(key);
        while (*q == ' ') q++;
        if (*q != ':' || (p > st->header && p[-1] == '\\')) continue;
        const char *end = strchr(q, '}');
        const char *dt = strstr(q, "\"dtype\"");
        const char *off = strstr(q, "\"data_offsets\"");
        if (!end || !dt || !off || off > end || !strstr(dt, "\"F32\"")) return NULL;
        unsigned long long a, b;
        if (sscanf(strchr(off, '[') + 1, "%llu , %llu", &a, &b) != 2) return NULL;
        if (b - a != numel * 4 || st->data_start + b > st->len) return NULL;
        return (const float *)(st->buf + st->data_start + a);
    }
    return NULL;
}

/* The i-th path of the metadata's source_images JSON list (stored as an escaped string). */
static int st_source_image(const st_file *st, int i, char *out, size_t cap) {
    const char *p = strstr(st->header, "\"source_images\"");
    if (!p || !(p = strchr(p, '['))) return 0;
    for (int k = 0; k <= i; k++) {
        p = strstr(p, "\\\"");
        if (!p) return 0;
        p += 2;
        const char *e = strstr(p, "\\\"");
        if (!e) return 0;
        if (k == i) {
            snprintf(out, cap, "%.*s", (int)(e - p), p);
            return 1;
        }
        p = e + 2;
    }
    return 0;
}

/* ---- 1. fixtures: decode + stretch-resize reproduces x_src / x_ref -------------------------- */
static void check_fixture(const char *config) {
    TU_REQUIRE_FIXTURES();
    char rel[256];
    snprintf(rel, sizeof rel, "%s.io.safetensors", config);
    st_file st;
    if (!st_open(&st, tu_fixture_path(rel))) fail_msg("cannot read %s", rel);
    const char *xs = strstr(st.header, "\"x_src\"");
    int size = 0;
    const char *shape = xs ? strstr(xs, "\"shape\"") : NULL;
    if (!shape || sscanf(strchr(shape, '[') + 1, "2 , 3 , %d", &size) != 1) fail_msg("x_src shape");
    size_t numel = (size_t)2 * 3 * size * size, per = numel / 2;
    const float *want[2] = {st_f32(&st, "x_src", numel), st_f32(&st, "x_ref", numel)};
    assert_non_null(want[0]);
    assert_non_null(want[1]);
    float *got = malloc(sizeof *got * per);
    for (int i = 0; i < 4; i++) {
        char src[256], path[512];
        if (!st_source_image(&st, i, src, sizeof src)) fail_msg("source_images[%d]", i);
        snprintf(path, sizeof path, "images/%s", src);
        sg_image img;
        sg_error err = {0};
        /* the reference loads with Image.open(...).convert('RGB'): no EXIF transpose */
        if (sg_image_load(tu_fixture_path(path), SG_IMAGE_DEFAULT_MAX_PIXELS, 0, &img, &err))
            fail_msg("%s", err.msg);
        sg_tensor t = sg_tensor_make(got, 1, 3, size, size);
        assert_int_equal(sg_image_to_tensor(&img, SG_FIT_STRETCH, size, &t, 0, &err), SG_OK);
        const float *ref = want[i / 2] + (size_t)(i % 2) * per;
        double mx = 0;
        size_t exact = 0;
        for (size_t k = 0; k < per; k++) {
            double d = fabs((double)got[k] - ref[k]);
            if (d > mx) mx = d;
            exact += got[k] == ref[k];
        }
        print_message("%s %s[%d] %s (%dx%d -> %d): max diff %.3f levels, %zu/%zu values exact\n",
                      config, i < 2 ? "x_src" : "x_ref", i % 2, src, img.w, img.h, size, mx * 127.5,
                      exact, per);
        if (mx > 2.0 / 255 + 1e-6) fail_msg("%s: more than one 8-bit level off", src);
        sg_image_free(&img);
    }
    free(got);
    st_close(&st);
}

static void test_fixture_mini(void **state) {
    (void)state;
    check_fixture("mini");
}
static void test_fixture_afhq(void **state) {
    (void)state;
    check_fixture("afhq");
}
static void test_fixture_celeba_hq(void **state) {
    (void)state;
    check_fixture("celeba_hq");
}

/* ---- 2. resize and decode, against Pillow's bytes ------------------------------------------- */
static void check_resize(const uint8_t *in, int w, int h, int ow, int oh, const uint8_t *want) {
    sg_image img, out;
    sg_error err;
    image_from_bytes(&img, in, w, h);
    assert_int_equal(sg_image_resize(&img, 0, 0, w, h, ow, oh, &out, &err), SG_OK);
    assert_memory_equal(out.pixels, want, (size_t)ow * oh * 3);
    sg_image_free(&img);
    sg_image_free(&out);
}

static void test_resize_small(void **state) {
    (void)state;
    static const uint8_t a[] = {0, 100, 255, 255, 50, 0};
    static const uint8_t a4[] = {0, 100, 255, 64, 88, 191, 191, 63, 64, 255, 50, 0};
    check_resize(a, 2, 1, 4, 1, a4);
    static const uint8_t a52[] = {0, 100, 255, 25, 95, 230, 128, 75, 128, 230, 55, 25, 255, 50, 0,
                                  0, 100, 255, 25, 95, 230, 128, 75, 128, 230, 55, 25, 255, 50, 0};
    check_resize(a, 2, 1, 5, 2, a52);
    static const uint8_t b[] = {0, 100, 255, 255, 50, 0, 10, 20, 30, 200, 201, 202};
    static const uint8_t b2[] = {111, 67, 114, 126, 102, 99};
    check_resize(b, 4, 1, 2, 1, b2);
    static const uint8_t c[] = {0,  0,  0,  90, 90, 90, 255, 255, 255, 10, 20, 30, 40, 50,
                                60, 70, 80, 90, 1,  2,  3,   4,   5,   6,  7,  8,  9};
    static const uint8_t c1[] = {50, 55, 59};
    check_resize(c, 3, 3, 1, 1, c1);
    static const uint8_t d[] = {0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255};
    static const uint8_t d3[] = {0,   0,   0,   128, 128, 128, 255, 255, 255, 128, 0, 0, 128, 64,
                                 128, 128, 128, 255, 255, 0,   0,   128, 0,   128, 0, 0, 255};
    check_resize(d, 2, 2, 3, 3, d3);
    check_resize(d, 2, 2, 2, 2, d); /* same size: a copy */
}

static void check_resize_file(const char *name, int ow, int oh, const float *box, const int *crop) {
    sg_image img, out;
    sg_error err = {0};
    make_pattern(&img, 37, 23);
    sg_status s;
    if (box) s = sg_image_resize_box(&img, box, ow, oh, &out, &err);
    else if (crop)
        s = sg_image_resize(&img, crop[0], crop[1], crop[2], crop[3], ow, oh, &out, &err);
    else s = sg_image_resize(&img, 0, 0, 37, 23, ow, oh, &out, &err);
    if (s != SG_OK) fail_msg("%s: %s", name, err.msg);
    size_t len;
    uint8_t *want = data_file(name, &len);
    assert_int_equal(len, (size_t)ow * oh * 3);
    if (memcmp(out.pixels, want, len) != 0)
        fail_msg("%s differs from Pillow by up to %d levels", name,
                 max_diff(out.pixels, want, len));
    free(want);
    sg_image_free(&img);
    sg_image_free(&out);
}

static void test_resize_pillow_cases(void **state) {
    (void)state;
    check_resize_file("rs_37x23_16x16.rgb", 16, 16, NULL, NULL);
    check_resize_file("rs_37x23_50x40.rgb", 50, 40, NULL, NULL);
    check_resize_file("rs_37x23_37x9.rgb", 37, 9, NULL, NULL);
    check_resize_file("rs_37x23_11x23.rgb", 11, 23, NULL, NULL);
    static const float box[4] = {2.5f, 1.25f, 30.75f, 20.0f};
    check_resize_file("rs_37x23_box.rgb", 13, 17, box, NULL);
    static const int crop[4] = {7, 0, 23, 23}; /* Pillow crop box (7, 0, 30, 23) */
    check_resize_file("rs_37x23_crop.rgb", 9, 9, NULL, crop);
}

static void test_resize_errors(void **state) {
    (void)state;
    sg_image img, out;
    sg_error err;
    make_pattern(&img, 8, 6);
    assert_int_equal(sg_image_resize(&img, 0, 0, 9, 6, 4, 4, &out, &err), SG_ERR_ARG);
    assert_null(out.pixels);
    assert_int_equal(sg_image_resize(&img, -1, 0, 4, 4, 4, 4, &out, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_resize(&img, 0, 0, 8, 6, 0, 4, &out, &err), SG_ERR_ARG);
    float bad[4] = {0, 0, 9, 6}, nan_box[4] = {NAN, 0, 8, 6};
    assert_int_equal(sg_image_resize_box(&img, bad, 4, 4, &out, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_resize_box(&img, nan_box, 4, 4, &out, &err), SG_ERR_ARG);
    sg_image_free(&img);
}

static void test_png_variants(void **state) {
    (void)state;
    static const char *names[] = {"png_grey8", "png_grey2",      "png_grey_trns",  "png_la8",
                                  "png_la16",  "png_pal8",       "png_pal4_trns",  "png_rgba8",
                                  "png_rgb16", "png_rgb8_adam7", "png_pal2_adam7", "png_grey16"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_decode(names[i], "png", 1, 0);
}

static void test_jpeg_variants(void **state) {
    (void)state;
    /* same libjpeg-turbo settings as Pillow: exact here; 2 levels of slack for other builds */
    check_decode("jpg_grey", "jpg", 1, 2);
    check_decode("jpg_cmyk", "jpg", 1, 2);
    check_decode("jpg_progressive", "jpg", 1, 2);
    check_decode("jpg_444", "jpg", 1, 2);
}

/* ---- 3. EXIF orientation -------------------------------------------------------------------- */
/* The colour of the quadrant that contains pixel (x, y), as an index 0..3 (TL, TR, BL, BR of the
 * stored 32×16 picture: red, green, blue, yellow). */
static int quadrant_of(const sg_image *img, int x, int y) {
    const uint8_t *p = img->pixels + ((size_t)y * img->w + x) * 3;
    static const int ref[4][3] = {{230, 30, 30}, {30, 220, 40}, {40, 40, 230}, {240, 240, 60}};
    int best = 0, bd = 1 << 30;
    for (int q = 0; q < 4; q++) {
        int d = abs(p[0] - ref[q][0]) + abs(p[1] - ref[q][1]) + abs(p[2] - ref[q][2]);
        if (d < bd) bd = d, best = q;
    }
    return best;
}

static void test_exif_orientations(void **state) {
    (void)state;
    /* which stored quadrant lands in the output's TL, TR, BL, BR corners, per orientation */
    static const int corners[9][4] = {{0},          {0, 1, 2, 3}, {1, 0, 3, 2},
                                      {3, 2, 1, 0}, {2, 3, 0, 1}, {0, 2, 1, 3},
                                      {2, 0, 3, 1}, {3, 1, 2, 0}, {1, 3, 0, 2}};
    for (int o = 1; o <= 8; o++) {
        char name[32], file[40];
        snprintf(name, sizeof name, "jpg_exif_%d", o);
        snprintf(file, sizeof file, "%s.jpg", name);
        check_decode(name, "jpg", 1, 2);
        size_t len;
        uint8_t *data = data_file(file, &len);
        sg_image img;
        sg_error err;
        assert_int_equal(sg_image_decode(data, len, 1 << 20, 1, &img, &err), SG_OK);
        int swap = o >= 5;
        assert_int_equal(img.w, swap ? 16 : 32);
        assert_int_equal(img.h, swap ? 32 : 16);
        int got[4] = {quadrant_of(&img, 2, 2), quadrant_of(&img, img.w - 3, 2),
                      quadrant_of(&img, 2, img.h - 3), quadrant_of(&img, img.w - 3, img.h - 3)};
        for (int k = 0; k < 4; k++) assert_int_equal(got[k], corners[o][k]);
        sg_image_free(&img);
        /* apply_exif = 0 keeps the stored orientation */
        assert_int_equal(sg_image_decode(data, len, 1 << 20, 0, &img, &err), SG_OK);
        assert_int_equal(img.w, 32);
        assert_int_equal(quadrant_of(&img, 2, 2), 0);
        sg_image_free(&img);
        free(data);
    }
}

/* Builds "Exif\0\0" + a TIFF header of the given order + IFD0 at `ifd` with the given entries. */
static size_t exif_blob(uint8_t *b, int big, uint32_t ifd, uint32_t n, const uint16_t *tags,
                        const uint16_t *types, const uint32_t *counts, const uint32_t *vals,
                        int entries) {
    memcpy(b, "Exif\0\0", 6);
    uint8_t *t = b + 6;
    memcpy(t, big ? "MM\0*" : "II*\0", 4);
#define PUT16(p, v)                                                                                \
    (big ? ((p)[0] = (uint8_t)((v) >> 8), (p)[1] = (uint8_t)(v))                                   \
         : ((p)[1] = (uint8_t)((v) >> 8), (p)[0] = (uint8_t)(v)))
#define PUT32(p, v) (PUT16((p) + (big ? 2 : 0), (v)&0xFFFF), PUT16((p) + (big ? 0 : 2), (v) >> 16))
    PUT32(t + 4, ifd);
    size_t end = 8;
    if (ifd == 8) {
        PUT16(t + 8, n);
        for (int i = 0; i < entries; i++) {
            uint8_t *e = t + 10 + 12 * i;
            PUT16(e, tags[i]);
            PUT16(e + 2, types[i]);
            PUT32(e + 4, counts[i]);
            memset(e + 8, 0, 4);
            if (types[i] == 3) PUT16(e + 8, vals[i]);
            else if (types[i] == 1) e[8] = (uint8_t)vals[i];
            else PUT32(e + 8, vals[i]);
        }
        end = 10 + 12 * (size_t)entries;
    }
#undef PUT16
#undef PUT32
    return 6 + end;
}

static void test_exif_parser(void **state) {
    (void)state;
    uint8_t b[256];
    uint16_t tag[3] = {0x010F, 0x0112, 0x0112}, sh[3] = {2, 3, 3};
    uint32_t one[3] = {1, 1, 1}, v[3] = {0, 6, 3};
    for (int big = 0; big <= 1; big++) {
        size_t n = exif_blob(b, big, 8, 2, tag, sh, one, v, 2);
        assert_int_equal(sg_exif_orientation(b, n), 6);
        /* truncations anywhere: never a crash, orientation only once the entry is whole */
        for (size_t k = 0; k < n; k++) assert_int_equal(sg_exif_orientation(b, k), 0);
        /* a later duplicate wins (Pillow's dict) */
        n = exif_blob(b, big, 8, 3, tag, sh, one, v, 3);
        assert_int_equal(sg_exif_orientation(b, n), 3);
    }
    size_t n;
    /* entry count claims 65535 entries: stops at the end of the segment */
    n = exif_blob(b, 0, 8, 0xFFFF, tag, sh, one, v, 2);
    assert_int_equal(sg_exif_orientation(b, n), 6);
    /* IFD offset past the end, or huge (wrapping) */
    n = exif_blob(b, 1, 0xFFFFFFF0u, 1, tag, sh, one, v, 2);
    assert_int_equal(sg_exif_orientation(b, n), 0);
    n = exif_blob(b, 0, 200, 1, tag, sh, one, v, 2);
    assert_int_equal(sg_exif_orientation(b, n), 0);
    /* IFD pointing at the TIFF header itself (a "loop"): read as garbage, no orientation */
    n = exif_blob(b, 0, 8, 2, tag, sh, one, v, 2);
    b[6 + 4] = 0;
    assert_int_equal(sg_exif_orientation(b, n), 0);
    /* value out of range, count 2, unknown type, LONG and BYTE types */
    uint16_t t1[1] = {0x0112}, ty[1] = {3}, tl[1] = {4}, tb[1] = {1}, tr[1] = {5};
    uint32_t c1[1] = {1}, c2[1] = {2}, v9[1] = {9}, v8[1] = {8};
    assert_int_equal(sg_exif_orientation(b, exif_blob(b, 0, 8, 1, t1, ty, c1, v9, 1)), 0);
    assert_int_equal(sg_exif_orientation(b, exif_blob(b, 1, 8, 1, t1, ty, c2, v8, 1)), 0);
    assert_int_equal(sg_exif_orientation(b, exif_blob(b, 1, 8, 1, t1, tr, c1, v8, 1)), 0);
    assert_int_equal(sg_exif_orientation(b, exif_blob(b, 1, 8, 1, t1, tl, c1, v8, 1)), 8);
    assert_int_equal(sg_exif_orientation(b, exif_blob(b, 0, 8, 1, t1, tb, c1, v8, 1)), 8);
    /* bad byte-order mark, wrong prefix, NULL */
    n = exif_blob(b, 0, 8, 1, t1, ty, c1, v8, 1);
    b[6] = 'X';
    assert_int_equal(sg_exif_orientation(b, n), 0);
    assert_int_equal(sg_exif_orientation((const uint8_t *)"Exif\0", 5), 0);
    assert_int_equal(sg_exif_orientation(NULL, 0), 0);
}

/* A hostile APP1 spliced into a real JPEG: decodes, with no rotation. */
static void test_exif_hostile_jpeg(void **state) {
    (void)state;
    size_t len;
    uint8_t *jpg = data_file("jpg_grey.jpg", &len);
    static const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x16, 'E',  'x',  'i',  'f',
                                   0,    0,    'M',  'M',  0,    '*',  0xFF, 0xFF,
                                   0xFF, 0xF0, 0xFF, 0xFF, 0x01, 0x12, 0,    3};
    uint8_t *m = malloc(len + sizeof app1);
    memcpy(m, jpg, 2);
    memcpy(m + 2, app1, sizeof app1);
    memcpy(m + 2 + sizeof app1, jpg + 2, len - 2);
    sg_image img;
    sg_error err = {0};
    sg_status s = sg_image_decode(m, len + sizeof app1, 1 << 20, 1, &img, &err);
    if (s != SG_OK) fail_msg("%s", err.msg);
    assert_int_equal(img.w, 20);
    assert_int_equal(img.h, 12);
    sg_image_free(&img);
    free(m);
    free(jpg);
}

/* ---- 4. encoders ---------------------------------------------------------------------------- */
static void test_roundtrip(void **state) {
    (void)state;
    sg_image img, back;
    sg_error err = {0};
    make_pattern(&img, 37, 23);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sg_image_encode(&img, SG_FORMAT_PNG, 0, &buf, &len, &err), SG_OK);
    assert_int_equal(sg_image_sniff(buf, len), SG_FORMAT_PNG);
    assert_int_equal(sg_image_decode(buf, len, 1 << 20, 1, &back, &err), SG_OK);
    assert_int_equal(back.w, 37);
    assert_int_equal(back.h, 23);
    assert_memory_equal(back.pixels, img.pixels, (size_t)37 * 23 * 3);
    sg_image_free(&back);
    free(buf);

    /* JPEG of a smooth picture (the pattern is all edges: too hard for a close check) */
    sg_image smooth;
    assert_int_equal(sg_image_alloc(&smooth, 64, 48, &err), SG_OK);
    for (int i = 0; i < 64 * 48; i++)
        for (int c = 0; c < 3; c++)
            smooth.pixels[i * 3 + c] = (uint8_t)(40 + (i % 64) * 2 + (i / 64) + c * 20);
    assert_int_equal(sg_image_encode(&smooth, SG_FORMAT_JPEG, 95, &buf, &len, &err), SG_OK);
    assert_int_equal(sg_image_sniff(buf, len), SG_FORMAT_JPEG);
    assert_int_equal(sg_image_decode(buf, len, 1 << 20, 1, &back, &err), SG_OK);
    assert_int_equal(back.w, 64);
    int d = max_diff(back.pixels, smooth.pixels, (size_t)64 * 48 * 3);
    print_message("JPEG q95 round trip: max diff %d levels\n", d);
    assert_true(d <= 8);
    sg_image_free(&back);
    free(buf);
    assert_int_equal(sg_image_encode(&smooth, SG_FORMAT_JPEG, 0, &buf, &len, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_encode(&smooth, SG_FORMAT_JPEG, 101, &buf, &len, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_encode(&smooth, SG_FORMAT_UNKNOWN, 90, &buf, &len, &err), SG_ERR_ARG);

    /* save / load through files */
    char dir[] = "/tmp/sg_test_image_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/out.PNG", dir);
    assert_int_equal(sg_image_save(&img, p, 90, &err), SG_OK);
    assert_int_equal(sg_image_load(p, 1 << 20, 1, &back, &err), SG_OK);
    assert_memory_equal(back.pixels, img.pixels, (size_t)37 * 23 * 3);
    sg_image_free(&back);
    unlink(p);
    snprintf(p, sizeof p, "%s/out.jpeg", dir);
    assert_int_equal(sg_image_save(&smooth, p, 90, &err), SG_OK);
    assert_int_equal(sg_image_load(p, 1 << 20, 1, &back, &err), SG_OK);
    assert_int_equal(back.h, 48);
    sg_image_free(&back);
    unlink(p);
    snprintf(p, sizeof p, "%s/out.gif", dir);
    assert_int_equal(sg_image_save(&img, p, 90, &err), SG_ERR_ARG);
    snprintf(p, sizeof p, "%s/missing/out.png", dir);
    assert_int_equal(sg_image_save(&img, p, 90, &err), SG_ERR_IO);
    assert_int_equal(sg_image_load(p, 1 << 20, 1, &back, &err), SG_ERR_IO);
    rmdir(dir);
    sg_image_free(&img);
    sg_image_free(&smooth);
}

/* The one grammar of fit and format names (CLI and server), and image sizes from headers alone,
 * equal to what decoding gives (before EXIF rotation: the pixel count is the same). */
static void test_names_and_dims(void **state) {
    (void)state;
    sg_fit fit;
    sg_image_format fmt;
    assert_int_equal(sg_fit_parse("crop", &fit), 0), assert_int_equal(fit, SG_FIT_CROP);
    assert_int_equal(sg_fit_parse("stretch", &fit), 0), assert_int_equal(fit, SG_FIT_STRETCH);
    assert_int_equal(sg_fit_parse("align", &fit), 0), assert_int_equal(fit, SG_FIT_ALIGN);
    assert_int_equal(sg_fit_parse("Crop", &fit), -1);
    assert_int_equal(sg_fit_parse("crop ", &fit), -1);
    assert_int_equal(sg_fit_parse(NULL, &fit), -1);
    assert_int_equal(sg_image_format_parse("PNG", &fmt), 0), assert_int_equal(fmt, SG_FORMAT_PNG);
    assert_int_equal(sg_image_format_parse("jpg", &fmt), 0), assert_int_equal(fmt, SG_FORMAT_JPEG);
    assert_int_equal(sg_image_format_parse("jpeg", &fmt), 0);
    assert_int_equal(sg_image_format_parse("gif", &fmt), -1);
    assert_int_equal(sg_image_format_parse("", &fmt), -1);
    static const char *files[] = {"png_rgb8_adam7.png", "png_rgb16.png", "jpg_exif_6.jpg",
                                  "jpg_progressive.jpg", "jpg_cmyk.jpg"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        size_t len;
        uint8_t *d = data_file(files[f], &len);
        int64_t w = 0, h = 0;
        sg_image img = {0};
        sg_error err;
        assert_int_equal(sg_image_dims(d, len, &w, &h), 0);
        assert_int_equal(sg_image_decode(d, len, SG_IMAGE_DEFAULT_MAX_PIXELS, 0, &img, &err),
                         SG_OK);
        assert_int_equal(w, img.w);
        assert_int_equal(h, img.h);
        sg_image_free(&img);
        assert_int_equal(sg_image_dims(d, 12, &w, &h), -1); /* before the size */
        free(d);
    }
    int64_t w, h;
    assert_int_equal(sg_image_dims((const uint8_t *)"GIF89a......", 12, &w, &h), -1);
    /* a JPEG whose segments run past the data: no size, no read past the end */
    static const uint8_t cut[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x40, 0x00, 0x4A, 0x46};
    assert_int_equal(sg_image_dims(cut, sizeof cut, &w, &h), -1);
    /* a PNG header claiming 2^32-1 by 2^32-1 (the fuzzer's find: w * h overflowed), or 0 wide */
    uint8_t png[24] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                       0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    memset(png + 16, 0xFF, 8);
    assert_int_equal(sg_image_dims(png, sizeof png, &w, &h), -1);
    memset(png + 16, 0, 8);
    png[23] = 1;
    assert_int_equal(sg_image_dims(png, sizeof png, &w, &h), -1);
    png[19] = 1;
    assert_int_equal(sg_image_dims(png, sizeof png, &w, &h), 0);
    assert_true(w == 1 && h == 1);
}

static void test_sniff_and_paths(void **state) {
    (void)state;
    assert_int_equal(sg_image_format_from_path("a/b.JPG"), SG_FORMAT_JPEG);
    assert_int_equal(sg_image_format_from_path("x.jpeg"), SG_FORMAT_JPEG);
    assert_int_equal(sg_image_format_from_path("x.png"), SG_FORMAT_PNG);
    assert_int_equal(sg_image_format_from_path("x.png/y"), SG_FORMAT_UNKNOWN);
    assert_int_equal(sg_image_format_from_path("png"), SG_FORMAT_UNKNOWN);
    assert_int_equal(sg_image_format_from_path(NULL), SG_FORMAT_UNKNOWN);
    assert_int_equal(sg_image_sniff((const uint8_t *)"\xFF\xD8\xFF", 3), SG_FORMAT_JPEG);
    assert_int_equal(sg_image_sniff((const uint8_t *)"\x89PNG\r\n\x1a", 7), SG_FORMAT_UNKNOWN);
}

/* ---- 5. errors and hostile input ------------------------------------------------------------ */
static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Signature + IHDR (8-bit RGB) claiming w×h, with a valid CRC, and nothing else. */
static size_t png_header_only(uint8_t *b, uint32_t w, uint32_t h) {
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    be32(b + 16, w);
    be32(b + 20, h);
    memcpy(b + 24, "\x08\x02\x00\x00\x00", 5);
    be32(b + 29, crc32_png(b + 12, 17));
    return 33;
}

static sg_status decode_status(const uint8_t *d, size_t n, int64_t max_pixels, sg_error *err) {
    sg_image img = {(uint8_t *)1, 7, 7};
    sg_status s = sg_image_decode(d, n, max_pixels, 1, &img, err);
    if (s == SG_OK) sg_image_free(&img);
    else {
        assert_null(img.pixels); /* cleared on failure */
        assert_int_equal(err->status, s);
        assert_true(strlen(err->msg) > 0 && !strchr(err->msg, '\n'));
    }
    return s;
}

static void test_errors(void **state) {
    (void)state;
    sg_error err;
    uint8_t b[64];
    /* header-only PNG over the limits: refused from the header, before any allocation */
    size_t n = png_header_only(b, 100000, 100000);
    assert_int_equal(decode_status(b, n, SG_IMAGE_DEFAULT_MAX_PIXELS, &err), SG_ERR_LIMIT);
    n = png_header_only(b, 60000, 60000);
    assert_int_equal(decode_status(b, n, SG_IMAGE_DEFAULT_MAX_PIXELS, &err), SG_ERR_LIMIT);
    n = png_header_only(b, 2000, 1000);
    assert_int_equal(decode_status(b, n, 1999999, &err), SG_ERR_LIMIT);
    assert_int_equal(decode_status(b, n, 2000000, &err), SG_ERR_FORMAT); /* passes, then no IDAT */
    n = png_header_only(b, 0, 10);
    assert_int_equal(decode_status(b, n, 100, &err), SG_ERR_FORMAT);
    /* bad CRC */
    n = png_header_only(b, 4, 4);
    b[30] ^= 1;
    assert_int_equal(decode_status(b, n, 100, &err), SG_ERR_FORMAT);
    /* garbage, empty, NULL */
    assert_int_equal(decode_status((const uint8_t *)"GIF89a....", 10, 100, &err), SG_ERR_FORMAT);
    assert_int_equal(decode_status(b, 0, 100, &err), SG_ERR_FORMAT);
    assert_int_equal(decode_status(NULL, 10, 100, &err), SG_ERR_FORMAT);
    assert_int_equal(decode_status((const uint8_t *)"\x89PNG\r\n\x1a\n", 8, 100, &err),
                     SG_ERR_FORMAT);
    assert_int_equal(decode_status((const uint8_t *)"\xFF\xD8\xFF\xE0", 4, 100, &err),
                     SG_ERR_FORMAT);

    /* truncations of real files */
    static const char *files[] = {"png_rgb8_adam7.png", "png_rgb16.png", "jpg_exif_6.jpg",
                                  "jpg_progressive.jpg", "jpg_cmyk.jpg"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        size_t len;
        uint8_t *d = data_file(files[f], &len);
        for (int k = 1; k <= 4; k++)
            assert_int_equal(decode_status(d, len * (size_t)k / 5, 1 << 20, &err), SG_ERR_FORMAT);
        /* JPEG SOF rewritten to claim 60000×60000 */
        if (strstr(files[f], "jpg_exif_6")) {
            for (size_t i = 2; i + 8 < len; i++) {
                if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
                    d[i + 5] = 0xEA, d[i + 6] = 0x60, d[i + 7] = 0xEA, d[i + 8] = 0x60;
                    break;
                }
            }
            assert_int_equal(decode_status(d, len, SG_IMAGE_DEFAULT_MAX_PIXELS, &err),
                             SG_ERR_LIMIT);
            /* and a file that ends right after that SOF: still a limit error, not truncation */
            for (size_t i = 2; i + 8 < len; i++)
                if (d[i] == 0xFF && d[i + 1] == 0xC0) {
                    assert_int_equal(decode_status(d, i + 19, SG_IMAGE_DEFAULT_MAX_PIXELS, &err),
                                     SG_ERR_LIMIT);
                    break;
                }
        }
        free(d);
    }
    /* over the pixel limit by one */
    size_t len;
    uint8_t *d = data_file("jpg_exif_1.jpg", &len);
    assert_int_equal(decode_status(d, len, 32 * 16 - 1, &err), SG_ERR_LIMIT);
    assert_int_equal(decode_status(d, len, 32 * 16, &err), SG_OK);
    free(d);
    sg_image img;
    assert_int_equal(sg_image_load("/nonexistent/x.png", 100, 1, &img, &err), SG_ERR_IO);
    assert_int_equal(sg_image_load(SG_SOURCE_DIR "/tests", 100, 1, &img, &err), SG_ERR_IO);
}

/* ---- tensors -------------------------------------------------------------------------------- */
static void test_tensor_conversions(void **state) {
    (void)state;
    sg_image img, back;
    sg_error err = {0};
    make_pattern(&img, 5, 3);
    float buf[2 * 3 * 3 * 3];
    sg_tensor t = sg_tensor_make(buf, 2, 3, 3, 3);
    /* crop: the centred 3×3 square at x0 = 1; same size, so the pixels pass unchanged */
    assert_int_equal(sg_image_to_tensor(&img, SG_FIT_CROP, 3, &t, 1, &err), SG_OK);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) {
                float v = (float)img.pixels[((size_t)y * 5 + x + 1) * 3 + c] / 255.0f;
                assert_true(buf[27 + c * 9 + y * 3 + x] == (v - 0.5f) / 0.5f);
            }
    assert_int_equal(sg_image_from_tensor(&t, 1, &back, &err), SG_OK);
    for (int y = 0; y < 3; y++)
        assert_memory_equal(back.pixels + y * 9, img.pixels + (y * 5 + 1) * 3, 9);
    sg_image_free(&back);
    /* stretch */
    assert_int_equal(sg_image_to_tensor(&img, SG_FIT_STRETCH, 3, &t, 0, &err), SG_OK);
    /* shape / index errors */
    sg_tensor bad = sg_tensor_make(buf, 1, 1, 3, 3);
    assert_int_equal(sg_image_to_tensor(&img, SG_FIT_CROP, 3, &bad, 0, &err), SG_ERR_SHAPE);
    assert_int_equal(sg_image_to_tensor(&img, SG_FIT_CROP, 4, &t, 0, &err), SG_ERR_SHAPE);
    assert_int_equal(sg_image_to_tensor(&img, SG_FIT_CROP, 3, &t, 2, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_from_tensor(&t, -1, &back, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_from_tensor(&bad, 0, &back, &err), SG_ERR_SHAPE);
    sg_image_free(&img);

    /* rounding: floor(clamp((x+1)/2)·255 + 0.5); NaN -> 0 */
    static const float in[] = {-1.0f,
                               1.0f,
                               0.0f,
                               NAN,
                               2.0f,
                               -5.0f,
                               INFINITY,
                               -INFINITY,
                               1.2f / 255 - 1.0f,
                               0.8f / 255 - 1.0f,
                               1.0f - 1.2f / 255};
    static const uint8_t want[] = {0, 255, 128, 0, 255, 0, 255, 0, 1, 0, 254};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        float px[3] = {in[i], in[i], in[i]};
        sg_tensor one = sg_tensor_make(px, 1, 3, 1, 1);
        assert_int_equal(sg_image_from_tensor(&one, 0, &back, &err), SG_OK);
        if (back.pixels[0] != want[i])
            fail_msg("from_tensor(%g) = %d, want %d", in[i], back.pixels[0], want[i]);
        sg_image_free(&back);
    }
}

/* ---- regions and paste-back ----------------------------------------------------------------- */
static void test_rect_grammar(void **state) {
    (void)state;
    sg_rect r;
    assert_int_equal(sg_rect_parse("1,2,3,4", &r), 0);
    assert_true(r.x == 1 && r.y == 2 && r.w == 3 && r.h == 4);
    assert_int_equal(sg_rect_parse("0,0,1,1", &r), 0);
    const char *bad[] = {"",         "1,2,3",    "1,2,3,4,5",        "1,2,0,4",  "1,2,3,0",
                         "-1,2,3,4", "+1,2,3,4", " 1,2,3,4",         "1,2,3,4 ", "1.5,2,3,4",
                         "1,,3,4",   "a,b,c,d",  "1000000000,0,1,1", "1,2,3,4,", "0x1,2,3,4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (sg_rect_parse(bad[i], &r) == 0) fail_msg("'%s' parsed", bad[i]);
}

static void test_rect_square(void **state) {
    (void)state;
    /* centred on the region, side = grow x the larger side */
    sg_rect q = sg_rect_square((sg_rect){100, 100, 40, 20}, 1.0, 1000, 800);
    assert_true(q.x == 100 && q.y == 90 && q.w == 40 && q.h == 40);
    q = sg_rect_square((sg_rect){100, 100, 40, 20}, 3.0, 1000, 800);
    assert_true(q.w == 120 && q.h == 120 && q.x == 60 && q.y == 50);
    /* moved, not shrunk, to stay inside; at most the shorter side */
    q = sg_rect_square((sg_rect){0, 790, 50, 10}, 1.0, 1000, 800);
    assert_true(q.x == 0 && q.y == 750 && q.w == 50);
    q = sg_rect_square((sg_rect){0, 0, 1000, 800}, 3.0, 1000, 800);
    assert_true(q.w == 800 && q.h == 800 && q.x == 100 && q.y == 0);
    assert_true(sg_rect_inside((sg_rect){0, 0, 10, 10}, 10, 10));
    assert_false(sg_rect_inside((sg_rect){1, 0, 10, 10}, 10, 10));
}

static void fill_pattern(sg_image *img, int seed) {
    for (size_t i = 0; i < (size_t)img->w * img->h * 3; i++)
        img->pixels[i] = (uint8_t)((i * 7 + (size_t)seed * 31) % 251);
}

/* Outside the region nothing changes; from the feather band in, the translation exactly (1:1 when
 * it has the region's size); the band blends; a map that is the identity pastes the same. */
static void test_paste_exactness(void **state) {
    (void)state;
    sg_error err = {0};
    sg_image photo, t, a, b;
    assert_int_equal(sg_image_alloc(&photo, 97, 61, &err), SG_OK);
    assert_int_equal(sg_image_alloc(&t, 40, 40, &err), SG_OK);
    fill_pattern(&photo, 1), fill_pattern(&t, 2);
    const sg_rect r = {30, 11, 40, 40};
    const int band = sg_feather_band(r);
    assert_int_equal(band, 5);
    assert_int_equal(sg_image_crop(&photo, (sg_rect){0, 0, 97, 61}, &a, &err), SG_OK);
    assert_int_equal(sg_image_paste(&a, &t, r, &err), SG_OK);
    int blended = 0;
    for (int y = 0; y < photo.h; y++)
        for (int x = 0; x < photo.w; x++) {
            const uint8_t *p = photo.pixels + ((size_t)y * photo.w + x) * 3;
            const uint8_t *q = a.pixels + ((size_t)y * photo.w + x) * 3;
            int u = x - r.x, v = y - r.y, in = u >= 0 && v >= 0 && u < r.w && v < r.h;
            int d = in ? (u < v ? u : v) : 0;
            if (in && r.w - 1 - u < d) d = r.w - 1 - u;
            if (in && r.h - 1 - v < d) d = r.h - 1 - v;
            if (!in) assert_memory_equal(p, q, 3);
            else if (d >= band) assert_memory_equal(q, t.pixels + ((size_t)v * t.w + u) * 3, 3);
            else blended += memcmp(p, q, 3) != 0;
        }
    assert_true(blended > 0);
    /* the same through the identity map */
    const double id[6] = {1, 0, 0, 0, 1, 0};
    assert_int_equal(sg_image_crop(&photo, (sg_rect){0, 0, 97, 61}, &b, &err), SG_OK);
    assert_int_equal(sg_image_paste_warp(&b, &t, r, id, &err), SG_OK);
    for (int y = 0; y < photo.h; y++)
        for (int x = 0; x < photo.w; x++) {
            int u = x - r.x, v = y - r.y;
            int inner = u >= band && v >= band && u < r.w - band && v < r.h - band;
            int out = u < 0 || v < 0 || u >= r.w || v >= r.h;
            const size_t k = ((size_t)y * photo.w + x) * 3;
            if (out) assert_memory_equal(photo.pixels + k, b.pixels + k, 3);
            if (inner) assert_memory_equal(a.pixels + k, b.pixels + k, 3);
        }
    /* another size is resized to the region: still nothing outside it changes */
    sg_image small;
    assert_int_equal(sg_image_alloc(&small, 16, 16, &err), SG_OK);
    fill_pattern(&small, 3);
    sg_image_free(&a);
    assert_int_equal(sg_image_crop(&photo, (sg_rect){0, 0, 97, 61}, &a, &err), SG_OK);
    assert_int_equal(sg_image_paste(&a, &small, r, &err), SG_OK);
    for (int y = 0; y < photo.h; y++)
        for (int x = 0; x < photo.w; x++)
            if (x < r.x || y < r.y || x >= r.x + r.w || y >= r.y + r.h)
                assert_memory_equal(photo.pixels + ((size_t)y * photo.w + x) * 3,
                                    a.pixels + ((size_t)y * photo.w + x) * 3, 3);
    assert_int_equal(sg_image_paste(&a, &small, (sg_rect){90, 0, 16, 16}, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_crop(&photo, (sg_rect){90, 0, 16, 16}, &b, &err), SG_ERR_ARG);
    sg_image_free(&photo), sg_image_free(&t), sg_image_free(&a), sg_image_free(&b);
    sg_image_free(&small);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_dims),  cmocka_unit_test(test_fixture_mini),
        cmocka_unit_test(test_fixture_afhq),    cmocka_unit_test(test_fixture_celeba_hq),
        cmocka_unit_test(test_resize_small),    cmocka_unit_test(test_resize_pillow_cases),
        cmocka_unit_test(test_resize_errors),   cmocka_unit_test(test_png_variants),
        cmocka_unit_test(test_jpeg_variants),   cmocka_unit_test(test_exif_orientations),
        cmocka_unit_test(test_exif_parser),     cmocka_unit_test(test_exif_hostile_jpeg),
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_sniff_and_paths),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_tensor_conversions),
        cmocka_unit_test(test_rect_grammar),    cmocka_unit_test(test_rect_square),
        cmocka_unit_test(test_paste_exactness),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
