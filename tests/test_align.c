/* faces/ alignment: the similarity transform by hand, a photo moved by a known rotation / scale /
 * shift brought back onto the mean landmarks, the fixture's worked case, and hostile mean-landmark
 * (.npz/.npy) and landmark (.json) files. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "../faces/faces.h"
#include "testutil.h"

#define NL SG_LANDMARKS

/* A plausible mean face in 256-pixel units: eyes (60..75 around 96 and 97), mouth ends 76, 82,
 * everything else on an oval around them. */
static void synth_mean(double *M) {
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < NL; i++) {
        double a = 2 * pi * i / NL;
        M[2 * i] = 128 + 72 * cos(a), M[2 * i + 1] = 136 + 90 * sin(a);
    }
    for (int k = 0; k < 8; k++) {
        double a = 2 * pi * k / 8;
        M[2 * (60 + k)] = 96 + 9 * cos(a), M[2 * (60 + k) + 1] = 112 + 4 * sin(a);
        M[2 * (68 + k)] = 160 + 9 * cos(a), M[2 * (68 + k) + 1] = 112 + 4 * sin(a);
    }
    M[2 * 96] = 96, M[2 * 96 + 1] = 112, M[2 * 97] = 160, M[2 * 97 + 1] = 112;
    M[2 * 76] = 104, M[2 * 76 + 1] = 180, M[2 * 82] = 152, M[2 * 82 + 1] = 180;
}

/* L = s·Rot(phi)·(M - c) + c + t */
static void move(const double *M, double s, double phi, double cx, double cy, double tx, double ty,
                 double *L) {
    double c = cos(phi), sn = sin(phi);
    for (int i = 0; i < NL; i++) {
        double x = M[2 * i] - cx, y = M[2 * i + 1] - cy;
        L[2 * i] = s * (c * x - sn * y) + cx + tx;
        L[2 * i + 1] = s * (sn * x + c * y) + cy + ty;
    }
}

static void assert_matrix(const double *got, const double *want, double tol) {
    for (int i = 0; i < 9; i++)
        if (!(fabs(got[i] - want[i]) <= tol * fmax(1, fabs(want[i]))))
            fail_msg("matrix[%d] = %.12g, expected %.12g", i, got[i], want[i]);
}

/* ---- the transform -------------------------------------------------------------------------- */
static void matrix_by_hand(void **st) {
    (void)st;
    double M[2 * NL], L[2 * NL], mat[9];
    sg_error err = {0};
    synth_mean(M);
    /* identical sets: the identity */
    assert_int_equal(sg_align_matrix(M, M, mat, &err), SG_OK);
    const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_matrix(mat, id, 1e-12);
    /* a pure shift: shifted back */
    move(M, 1, 0, 0, 0, 7.5, -3, L);
    assert_int_equal(sg_align_matrix(L, M, mat, &err), SG_OK);
    const double sh[9] = {1, 0, -7.5, 0, 1, 3, 0, 0, 1};
    assert_matrix(mat, sh, 1e-12);
    /* L = A·M + t with A = 1.25·Rot(20°): the map is A⁻¹(p - t) = 0.8·Rot(-20°)·p - A⁻¹t */
    const double s = 1.25, phi = 20 * 3.14159265358979323846 / 180, tx = 30, ty = -12;
    move(M, s, phi, 0, 0, tx, ty, L);
    assert_int_equal(sg_align_matrix(L, M, mat, &err), SG_OK);
    double c = cos(phi) / s, sn = sin(phi) / s;
    const double want[9] = {c, sn, -(c * tx + sn * ty), -sn, c, -(-sn * tx + c * ty), 0, 0, 1};
    assert_matrix(mat, want, 1e-9);
    /* degenerate or non-finite landmarks are errors */
    double D[2 * NL];
    for (int i = 0; i < 2 * NL; i++) D[i] = 5;
    assert_int_equal(sg_align_matrix(D, M, mat, &err), SG_ERR_ARG);
    memcpy(D, M, sizeof D);
    D[7] = NAN;
    assert_int_equal(sg_align_matrix(D, M, mat, &err), SG_ERR_ARG);
}

/* ---- a photo moved by a known transform comes back ------------------------------------------ */
static const int key_points[4] = {96, 97, 76, 82};

/* S² grey photo with a Gaussian dot (sigma 2 px) at each key landmark of L */
static sg_image dotted_photo(int S, const double *L) {
    sg_image img = {malloc((size_t)S * S * 3), S, S};
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double v = 60;
            for (int k = 0; k < 4; k++) {
                double dx = x - L[2 * key_points[k]], dy = y - L[2 * key_points[k] + 1];
                v += 180 * exp(-(dx * dx + dy * dy) / (2 * 2.0 * 2.0));
            }
            for (int c = 0; c < 3; c++)
                img.pixels[((size_t)y * S + x) * 3 + c] = (uint8_t)lround(v);
        }
    return img;
}

/* centroid of (value - 60)+ in a window of radius r around (cx, cy), channel 0 */
static void dot_centroid(const sg_image *img, double cx, double cy, int r, double *ox, double *oy) {
    double sw = 0, sx = 0, sy = 0;
    for (int y = (int)cy - r; y <= (int)cy + r; y++)
        for (int x = (int)cx - r; x <= (int)cx + r; x++) {
            if (x < 0 || y < 0 || x >= img->w || y >= img->h) continue;
            double v = img->pixels[((size_t)y * img->w + x) * 3] - 60.0;
            if (v <= 2) continue;
            sw += v, sx += v * x, sy += v * y;
        }
    *ox = sw > 0 ? sx / sw : -1e9, *oy = sw > 0 ? sy / sw : -1e9;
}

static void warp_brings_back(void **st) {
    (void)st;
    const int S = 256;
    double M[2 * NL], L[2 * NL], mat[9];
    synth_mean(M);
    move(M, 0.8, 15 * 3.14159265358979323846 / 180, 128, 128, 12, -8, L);
    sg_image photo = dotted_photo(S, L), out = {0};
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, sg_align_plan(S), &err), SG_OK);
    assert_int_equal(sg_face_align(&photo, L, M, &out, mat, &a, &err), SG_OK);
    assert_true(out.w == S && out.h == S);
    tu_assert_plan("align", &a, sg_align_plan(S), TU_PLAN_SLACK);
    for (int k = 0; k < 4; k++) {
        double x, y, mx = M[2 * key_points[k]], my = M[2 * key_points[k] + 1];
        dot_centroid(&out, mx, my, 10, &x, &y);
        print_message("landmark %d: at (%.2f, %.2f), mean (%.2f, %.2f)\n", key_points[k], x, y, mx,
                      my);
        assert_true(hypot(x - mx, y - my) < 1.0);
    }
    /* the map in padded coordinates takes L + S/2 onto M */
    for (int k = 0; k < 4; k++) {
        int i = key_points[k];
        double px = L[2 * i] + S / 2, py = L[2 * i + 1] + S / 2;
        assert_true(fabs(mat[0] * px + mat[1] * py + mat[2] - M[2 * i]) < 1e-9);
        assert_true(fabs(mat[3] * px + mat[4] * py + mat[5] - M[2 * i + 1]) < 1e-9);
    }
    sg_image_free(&out);
    /* the same at S = 64 (mean scaled by 64/256, no blur): dots still land within a pixel */
    double L64[2 * NL];
    for (int i = 0; i < 2 * NL; i++) L64[i] = L[i] / 4;
    sg_image small = dotted_photo(64, L64);
    assert_int_equal(sg_face_align(&small, L64, M, &out, NULL, &a, &err), SG_OK);
    assert_true(out.w == 64);
    for (int k = 0; k < 4; k++) {
        double x, y, mx = M[2 * key_points[k]] / 4, my = M[2 * key_points[k] + 1] / 4;
        dot_centroid(&out, mx, my, 5, &x, &y);
        assert_true(hypot(x - mx, y - my) < 1.0);
    }
    sg_image_free(&out), sg_image_free(&small);
    /* bad inputs */
    sg_image odd = {photo.pixels, 255, 255}, rect = {photo.pixels, 256, 128};
    assert_int_equal(sg_face_align(&odd, L, M, &out, NULL, &a, &err), SG_ERR_ARG);
    assert_int_equal(sg_face_align(&rect, L, M, &out, NULL, &a, &err), SG_ERR_ARG);
    sg_arena tiny;
    assert_int_equal(sg_arena_init(&tiny, 1000, &err), SG_OK);
    assert_int_equal(sg_face_align(&photo, L, M, &out, NULL, &tiny, &err), SG_ERR_NOMEM);
    assert_null(out.pixels);
    sg_arena_free(&tiny), sg_arena_free(&a);
    sg_image_free(&photo);
}

/* ---- the fixture's worked case -------------------------------------------------------------- */
static void read_matrix_json(const char *path, double *m) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf), *rows = cJSON_GetObjectItem(j, "matrix");
    assert_int_equal(cJSON_GetArraySize(rows), 3);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            m[3 * r + c] = cJSON_GetArrayItem(cJSON_GetArrayItem(rows, r), c)->valuedouble;
    assert_int_equal(cJSON_GetObjectItem(j, "pad")->valueint, 128);
    cJSON_Delete(j);
}

static void align_fixture(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    char p[5][1024];
    const char *names[5] = {"src.png", "landmarks.json", "lm_mean.npz", "expected.png",
                            "matrix.json"};
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "align/%s", names[i]);
        snprintf(p[i], sizeof p[i], "%s", tu_fixture_path(rel));
    }
    sg_image src, exp, out;
    double lm[2 * NL], mean[2 * NL], mat[9], want[9];
    sg_error err = {0};
    if (sg_image_load(p[0], 1 << 24, 0, &src, &err) || sg_landmarks_load_json(p[1], lm, &err) ||
        sg_mean_landmarks_load(p[2], mean, &err) || sg_image_load(p[3], 1 << 24, 0, &exp, &err))
        fail_msg("%s", err.msg);
    read_matrix_json(p[4], want);
    sg_arena a;
    assert_int_equal(sg_arena_init(&a, sg_align_plan(src.w), &err), SG_OK);
    assert_int_equal(sg_face_align(&src, lm, mean, &out, mat, &a, &err), SG_OK);
    assert_matrix(mat, want, 1e-6);
    /* where the source is not padding: the inverse map of the pixel lands inside the photo */
    const int S = src.w;
    double det = mat[0] * mat[4] - mat[1] * mat[3];
    size_t n = 0, within = 0;
    double sum = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double u = x - mat[2], v = y - mat[5];
            double sx = (mat[4] * u - mat[1] * v) / det - S / 2,
                   sy = (-mat[3] * u + mat[0] * v) / det - S / 2;
            if (sx < 0 || sy < 0 || sx > S - 1 || sy > S - 1) continue;
            for (int c = 0; c < 3; c++) {
                size_t i = ((size_t)y * S + x) * 3 + c;
                int d = abs((int)out.pixels[i] - (int)exp.pixels[i]);
                sum += d, n++, within += d <= 8;
            }
        }
    print_message("align fixture: %zu values, mean |diff| %.4f levels, %.4f%% within 8\n", n,
                  sum / n, 100.0 * within / n);
    assert_true(n > 100000);
    assert_true(sum / n <= 1.0);
    assert_true(within >= 0.99 * n);
    sg_image_free(&src), sg_image_free(&exp), sg_image_free(&out);
    sg_arena_free(&a);
}

/* ---- hostile mean-landmark files ------------------------------------------------------------ */
/* An .npy of `count` values of `item` bytes after the given header dict (version major). */
static size_t make_npy(uint8_t *buf, int major, const char *dict, int item, int count,
                       double fill) {
    size_t pre = major == 1 ? 10 : 12, hlen = strlen(dict);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major, buf[7] = 0;
    if (major == 1) buf[8] = (uint8_t)hlen, buf[9] = (uint8_t)(hlen >> 8);
    else
        for (int i = 0; i < 4; i++) buf[8 + i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + pre, dict, hlen);
    uint8_t *d = buf + pre + hlen;
    for (int i = 0; i < count; i++) {
        double v = fill + i;
        if (item == 4) {
            float f = (float)v;
            memcpy(d + 4 * i, &f, 4);
        } else {
            memcpy(d + 8 * i, &v, 8);
        }
    }
    return pre + hlen + (size_t)count * item;
}

static const char *tmp_path(const char *name) {
    static char p[1024];
    char dir[900];
    snprintf(dir, sizeof dir, "%s/test_align_tmp", SG_BUILD_DIR);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* zips the blob as entry `entry` into a file, reads the file back into *out */
static size_t zip_blob(const uint8_t *blob, size_t len, const char *entry, uint8_t **out) {
    const char *path = tmp_path("t.npz");
    int ze;
    remove(path);
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(z);
    zip_source_t *s = zip_source_buffer(z, blob, len, 0);
    assert_true(zip_file_add(z, entry, s, ZIP_FL_OVERWRITE) >= 0);
    assert_int_equal(zip_close(z), 0);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n);
    assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

#define DICT(descr, fortran, shape)                                                                \
    "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }          \n"

static sg_status read_npz_of(const uint8_t *npy, size_t len, const char *entry, double *mean,
                             sg_error *err) {
    uint8_t *z;
    size_t n = zip_blob(npy, len, entry, &z);
    sg_status st = sg_npz_read_landmarks(z, n, "mean", "t.npz", mean, err);
    free(z);
    return st;
}

static void npz_hostile(void **st) {
    (void)st;
    static uint8_t npy[8192];
    double mean[2 * NL];
    sg_error err = {0};
    size_t n;
    /* valid: f4 and f8, zipped or bare */
    n = make_npy(npy, 1, DICT("<f4", "False", "(98, 2)"), 4, 196, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_OK);
    assert_true(mean[0] == 1.0 && mean[195] == 196.0);
    assert_int_equal(sg_npz_read_landmarks(npy, n, "mean", "bare", mean, &err), SG_OK);
    n = make_npy(npy, 2, "{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(98,2)}\n", 8, 196,
                 0.5);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_OK);
    assert_true(mean[1] == 1.5);
    /* truncated: the npy (data short) and the zip itself */
    n = make_npy(npy, 1, DICT("<f4", "False", "(98, 2)"), 4, 195, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_FORMAT);
    n = make_npy(npy, 1, DICT("<f4", "False", "(98, 2)"), 4, 196, 1.0);
    uint8_t *z;
    size_t zn = zip_blob(npy, n, "mean.npy", &z);
    for (size_t cut = 0; cut < zn; cut += zn / 7 + 1)
        assert_int_not_equal(sg_npz_read_landmarks(z, cut, "mean", "cut", mean, &err), SG_OK);
    z[zn / 2] ^= 0x55; /* a flipped byte in the stored data: the CRC catches it */
    assert_int_not_equal(sg_npz_read_landmarks(z, zn, "mean", "flip", mean, &err), SG_OK);
    free(z);
    /* wrong shape, dtype, order */
    n = make_npy(npy, 1, DICT("<f4", "False", "(97, 2)"), 4, 194, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_SHAPE);
    assert_non_null(strstr(err.msg, "(98, 2)"));
    n = make_npy(npy, 1, DICT("<f4", "False", "(196,)"), 4, 196, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_SHAPE);
    n = make_npy(npy, 1, DICT("<i4", "False", "(98, 2)"), 4, 196, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_SHAPE);
    assert_non_null(strstr(err.msg, "<i4"));
    n = make_npy(npy, 1, DICT(">f4", "False", "(98, 2)"), 4, 196, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_SHAPE);
    n = make_npy(npy, 1, DICT("<f4", "True", "(98, 2)"), 4, 196, 1.0);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "Fortran"));
    /* malformed headers: unknown key, missing key, garbage, bad magic, version 4 */
    static const char *bad_dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (98, 2), 'x': 1}\n",
        "{'descr': '<f4', 'shape': (98, 2)}\n",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (98, 2)}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (98, 2)} trailing\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (98, 2, 1, 1, 1, 1, 1, 1, 1, 1)}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 2)}\n",
        "not a dict",
        "",
    };
    for (size_t i = 0; i < sizeof bad_dicts / sizeof *bad_dicts; i++) {
        n = make_npy(npy, 1, bad_dicts[i], 4, 196, 1.0);
        assert_int_equal(sg_npy_read_landmarks(npy, n, "bad", mean, &err), SG_ERR_FORMAT);
    }
    n = make_npy(npy, 1, DICT("<f4", "False", "(98, 2)"), 4, 196, 1.0);
    npy[1] = 'X';
    assert_int_equal(sg_npy_read_landmarks(npy, n, "magic", mean, &err), SG_ERR_FORMAT);
    npy[1] = 'N', npy[6] = 4;
    assert_int_equal(sg_npy_read_landmarks(npy, n, "v4", mean, &err), SG_ERR_UNSUPPORTED);
    /* a huge header length: refused before anything is read */
    n = make_npy(npy, 2, DICT("<f4", "False", "(98, 2)"), 4, 196, 1.0);
    npy[8] = npy[9] = npy[10] = 0xff, npy[11] = 0x7f;
    assert_int_equal(sg_npy_read_landmarks(npy, n, "huge", mean, &err), SG_ERR_LIMIT);
    npy[9] = npy[10] = npy[11] = 0, npy[8] = 0xf0; /* 240 bytes: past the end of a short file */
    assert_int_equal(sg_npy_read_landmarks(npy, 100, "short", mean, &err), SG_ERR_FORMAT);
    /* NaN and infinite values */
    n = make_npy(npy, 1, DICT("<f8", "False", "(98, 2)"), 8, 196, 1.0);
    double nan = NAN;
    memcpy(npy + n - 8, &nan, 8);
    assert_int_equal(read_npz_of(npy, n, "mean.npy", mean, &err), SG_ERR_FORMAT);
    /* no `mean` entry in the archive; not a zip at all */
    n = make_npy(npy, 1, DICT("<f4", "False", "(98, 2)"), 4, 196, 1.0);
    assert_int_equal(read_npz_of(npy, n, "other.npy", mean, &err), SG_ERR_MISSING);
    assert_int_equal(sg_npz_read_landmarks("PK\3\4junk", 9, "mean", "junk", mean, &err),
                     SG_ERR_FORMAT);
    assert_int_equal(sg_mean_landmarks_load(tmp_path("missing.npz"), mean, &err), SG_ERR_IO);
}

/* ---- hostile landmark JSON ------------------------------------------------------------------ */
/* "[[0,1],[2,3],...]" with `count` pairs, the pair at `bad_at` replaced by `bad` */
static char *pairs_json(int count, int bad_at, const char *bad) {
    char *s = malloc(64 * (size_t)(count + 1) + 64), *p = s;
    *p++ = '[';
    for (int i = 0; i < count; i++) {
        if (i) *p++ = ',';
        if (i == bad_at) p += sprintf(p, "%s", bad);
        else p += sprintf(p, "[%d.5,%d]", i, 2 * i);
    }
    *p++ = ']', *p = 0;
    return s;
}

static sg_status parse(const char *text, double *lm, sg_error *err) {
    return sg_landmarks_parse_json(text, strlen(text), "lm.json", lm, err);
}

static void json_hostile(void **st) {
    (void)st;
    double lm[2 * NL];
    sg_error err = {0};
    char *s = pairs_json(98, -1, NULL);
    assert_int_equal(parse(s, lm, &err), SG_OK);
    assert_true(lm[0] == 0.5 && lm[1] == 0 && lm[194] == 97.5 && lm[195] == 194);
    free(s);
    s = pairs_json(97, -1, NULL);
    assert_int_equal(parse(s, lm, &err), SG_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "got 97"));
    free(s);
    s = pairs_json(99, -1, NULL);
    assert_int_equal(parse(s, lm, &err), SG_ERR_FORMAT);
    free(s);
    static const char *bad_pairs[] = {"[\"a\",1]", "[1]",      "[1,2,3]",           "[NaN,1]",
                                      "[1e999,1]", "[null,1]", "{\"x\":1,\"y\":2}", "3",
                                      "[[1],2]",   "[true,1]"};
    for (size_t i = 0; i < sizeof bad_pairs / sizeof *bad_pairs; i++) {
        s = pairs_json(98, 40, bad_pairs[i]);
        assert_int_equal(parse(s, lm, &err), SG_ERR_FORMAT);
        free(s);
    }
    assert_int_equal(parse("{\"landmarks\": []}", lm, &err), SG_ERR_FORMAT);
    assert_int_equal(parse("[[1,2],", lm, &err), SG_ERR_FORMAT);
    assert_int_equal(parse("", lm, &err), SG_ERR_FORMAT);
    assert_int_equal(sg_landmarks_load_json(tmp_path("missing.json"), lm, &err), SG_ERR_IO);
    /* the fixture's file reads */
    if (tu_fixtures()) {
        assert_int_equal(sg_landmarks_load_json(tu_fixture_path("align/landmarks.json"), lm, &err),
                         SG_OK);
        assert_true(lm[0] > 10 && lm[0] < 11);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix_by_hand), cmocka_unit_test(warp_brings_back),
        cmocka_unit_test(align_fixture),  cmocka_unit_test(npz_hostile),
        cmocka_unit_test(json_hostile),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
