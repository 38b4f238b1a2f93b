/* faces/detect*.c: the face detector. By hand: the input's padding and TF bilinear, the
 * suppression rule, the JSON answer. Against face-api.js (tests/data/detect/, made by
 * tests/tools/detect_ref): the network's raw scores and boxes, and the faces of real photos,
 * EXIF-rotated ones included; skipped (visibly) without the detector (scripts/get-detector.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../faces/faces.h"
#include "testutil.h"

/* ---- by hand -------------------------------------------------------------------------------- */
/* A 3×1 photo (255, 0, 255 in every channel) to a 2×2 input: padded to 3×3 with zeros below,
 * src = dst·1.5: column 0 reads pixel 0, column 1 halfway between pixels 1 and 2; row 1 halfway
 * between two padding rows. */
static void test_input_tf(void **state) {
    (void)state;
    uint8_t px[9] = {255, 255, 255, 0, 0, 0, 255, 255, 255};
    sg_image img = {.pixels = px, .w = 3, .h = 1};
    float out[12];
    sg_tensor t = sg_tensor_make(out, 1, 3, 2, 2);
    sg_error err = {0};
    assert_int_equal(sg_image_to_tensor_tf(&img, &t, &err), SG_OK);
    for (int c = 0; c < 3; c++) {
        assert_true(out[4 * c + 0] == 1.0f);  /* 255/127.5 - 1 */
        assert_true(out[4 * c + 1] == 0.0f);  /* (0 + 255)/2 */
        assert_true(out[4 * c + 2] == -1.0f); /* padding */
        assert_true(out[4 * c + 3] == -1.0f);
    }
    /* portrait: the padding goes to the right */
    img.w = 1, img.h = 3;
    assert_int_equal(sg_image_to_tensor_tf(&img, &t, &err), SG_OK);
    assert_true(out[0] == 1.0f && out[1] == -1.0f && out[2] == 0.0f && out[3] == -1.0f);
    sg_tensor bad = sg_tensor_make(out, 1, 3, 2, 1);
    assert_int_equal(sg_image_to_tensor_tf(&img, &bad, &err), SG_ERR_SHAPE);
}

static void set_box(float *b, int i, float y0, float x0, float y1, float x1) {
    b[4 * i] = y0, b[4 * i + 1] = x0, b[4 * i + 2] = y1, b[4 * i + 3] = x1;
}

/* IoU > 0.5 suppresses, exactly 0.5 does not; min_score is strict; equal scores keep anchor
 * order; max_out stops the list. */
static void test_nms(void **state) {
    (void)state;
    float *b = calloc(4 * SG_DET_ANCHORS, sizeof *b), *s = calloc(SG_DET_ANCHORS, sizeof *s);
    int sel[8];
    set_box(b, 10, 0, 0, 1, 1), s[10] = 0.9f;    /* kept */
    set_box(b, 11, 0, 0, 1, 0.9f), s[11] = 0.8f; /* IoU 0.9 with 10: dropped */
    set_box(b, 12, 0, 0, 0.5f, 1), s[12] = 0.7f; /* IoU 0.5 with 10: kept */
    set_box(b, 20, 2, 2, 3, 3), s[20] = 0.6f;    /* ties: 5 before 20 */
    set_box(b, 5, 4, 4, 5, 5), s[5] = 0.6f;      /* */
    set_box(b, 30, 6, 6, 7, 7), s[30] = 0.5f;    /* not > 0.5 */
    set_box(b, 31, 6, 6, 6, 7), s[31] = 0.95f;   /* empty box: IoU 0 with everything */
    int n = sg_detector_nms(b, s, 0.5f, 8, sel);
    assert_int_equal(n, 5);
    const int want[] = {31, 10, 12, 5, 20};
    for (int i = 0; i < n; i++) assert_int_equal(sel[i], want[i]);
    assert_int_equal(sg_detector_nms(b, s, 0.5f, 2, sel), 2);
    assert_int_equal(sg_detector_nms(b, s, 0.99f, 8, sel), 0);
    free(b), free(s);
}

static void test_json(void **state) {
    (void)state;
    sg_face_box f[2] = {{10.04, 20.06, 30, 40.5, 0.98766f}, {0, 1, 2, 3, 0.5f}};
    char buf[SG_DET_JSON_MAX];
    size_t n = sg_faces_json(f, 2, 640, 480, buf, sizeof buf);
    assert_string_equal(buf,
                        "{\"width\":640,\"height\":480,\"faces\":[{\"box\":[10.0,20.1,30.0,"
                        "40.5],\"score\":0.9877},{\"box\":[0.0,1.0,2.0,3.0],\"score\":0.5000}]}");
    assert_int_equal(n, strlen(buf));
    assert_true(sg_faces_json(f, 0, 1, 1, buf, sizeof buf) ==
                strlen("{\"width\":1,\"height\":1,\"faces\":[]}"));
    char small[8];
    assert_true(sg_faces_json(f, 2, 640, 480, small, sizeof small) == n); /* the length it needs */
}

/* ---- against face-api.js -------------------------------------------------------------------- */
typedef struct {
    sg_weights *w;
    sg_detector d;
    sg_arena a;
    sg_workspace ws;
} det_env;

static char det_path[1200];

/* The detector of scripts/get-detector.sh (or $STARGAN_DETECTOR); 0 when absent (skip). */
static int det_open(det_env *e) {
    const char *env = getenv("STARGAN_DETECTOR");
    snprintf(det_path, sizeof det_path, "%s",
             env && env[0] ? env : SG_SOURCE_DIR "/models/detector.safetensors");
    if (!(env && env[0]) && access(det_path, R_OK)) /* the package alone: its manifest */
        snprintf(det_path, sizeof det_path, "%s",
                 SG_SOURCE_DIR
                 "/models/face-api/model/ssd_mobilenetv1_model-weights_manifest.json");
    sg_error err = {0};
    if (access(det_path, R_OK)) return 0;
    assert_int_equal(sg_model_open(det_path, &e->w, &err), SG_OK);
    assert_int_equal(sg_detector_init(&e->d, e->w, &err), SG_OK);
    assert_int_equal(sg_arena_init(&e->a, sg_detector_plan(&e->d), &err), SG_OK);
    assert_int_equal(sg_workspace_init(&e->ws, SG_WORKSPACE_DEFAULT_FLOATS, &err), SG_OK);
    return 1;
}

static void det_close(det_env *e) {
    sg_workspace_free(&e->ws);
    sg_arena_free(&e->a);
    sg_detector_free(&e->d);
    sg_weights_free(e->w);
}

#define REQUIRE_DETECTOR(e)                                                                        \
    do {                                                                                           \
        if (!det_open(e)) {                                                                        \
            print_message("skipped: no detector at %s (scripts/get-detector.sh)\n", det_path);     \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static cJSON *read_json(const char *path) {
    size_t n;
    uint8_t *text = tu_read_file(path, &n);
    cJSON *j = cJSON_ParseWithLength((const char *)text, n);
    free(text);
    assert_non_null(j);
    return j;
}

/* The photo a fixture names: the package's demo photos (models/face-api/demo/, from
 * scripts/get-detector.sh) or one of ours. 0 when absent. */
static int fixture_photo(const cJSON *fx, sg_image *img) {
    const cJSON *src = cJSON_GetObjectItem(fx, "source");
    const char *file = cJSON_GetObjectItem(src, "file")->valuestring;
    char path[1400];
    const char *demo = strstr(file, "/demo/");
    if (demo) snprintf(path, sizeof path, "%s/models/face-api%s", SG_SOURCE_DIR, demo);
    else snprintf(path, sizeof path, "%s/%s", SG_SOURCE_DIR, file);
    if (access(path, R_OK)) return 0;
    sg_error err = {0};
    assert_int_equal(sg_image_load(path, 100000000, 1, img, &err), SG_OK);
    return 1;
}

static double box_iou(const double *a, const double *b) {
    double ix = fmin(a[0] + a[2], b[0] + b[2]) - fmax(a[0], b[0]);
    double iy = fmin(a[1] + a[3], b[1] + b[3]) - fmax(a[1], b[1]);
    double inter = ix > 0 && iy > 0 ? ix * iy : 0;
    return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/* Every face of the fixture (min score 0.3) found with IoU ≥ 0.95 and |Δscore| ≤ 0.01, and no
 * other face: each of ours is matched to the reference's best overlapping one. */
static void check_faces(det_env *e, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/data/detect/%s.json", SG_SOURCE_DIR, name);
    cJSON *fx = read_json(path);
    sg_image img = {0};
    if (!fixture_photo(fx, &img)) {
        print_message("%s: photo absent (scripts/get-detector.sh fetches the package)\n", name);
        cJSON_Delete(fx);
        fail_msg("%s: the fixture's photo is missing", name);
    }
    assert_int_equal(img.w, cJSON_GetObjectItem(fx, "width")->valueint);
    assert_int_equal(img.h, cJSON_GetObjectItem(fx, "height")->valueint);
    sg_face_box got[SG_DET_MAX_FACES];
    int n;
    sg_error err = {0};
    assert_int_equal(
        sg_detect_faces(&e->d, &img, 0.3f, got, SG_DET_MAX_FACES, &n, &e->a, &e->ws, &err), SG_OK);
    const cJSON *faces = cJSON_GetObjectItem(fx, "faces");
    assert_int_equal(n, cJSON_GetArraySize(faces));
    double worst_iou = 1, worst_ds = 0;
    for (int i = 0; i < n; i++) {
        double g[4] = {got[i].x, got[i].y, got[i].w, got[i].h}, best = 0, ds = 1;
        for (const cJSON *f = faces->child; f; f = f->next) {
            double r[4];
            for (int k = 0; k < 4; k++)
                r[k] = cJSON_GetArrayItem(cJSON_GetObjectItem(f, "box"), k)->valuedouble;
            double iou = box_iou(g, r);
            if (iou > best)
                best = iou, ds = fabs(got[i].score - cJSON_GetObjectItem(f, "score")->valuedouble);
        }
        worst_iou = fmin(worst_iou, best), worst_ds = fmax(worst_ds, ds);
    }
    print_message("%s: %d faces, worst IoU %.4f, worst |dscore| %.5f\n", name, n, worst_iou,
                  worst_ds);
    assert_true(worst_iou >= 0.95 && worst_ds <= 0.01);
    sg_image_free(&img);
    cJSON_Delete(fx);
}

static void test_faces_of_photos(void **state) {
    (void)state;
    det_env e = {0};
    REQUIRE_DETECTOR(&e);
    static const char *names[] = {"sample1", "sample2", "sample3", "sample4",
                                  "sample5", "sample6", "exif6",   "noface"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_faces(&e, names[i]);
    tu_assert_plan("detector", &e.a, sg_detector_plan(&e.d), TU_PLAN_SLACK);
    det_close(&e);
}

/* The network's 5118 scores and decoded boxes against the reference's, on every CPU path. */
static void check_raw(det_env *e, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/data/detect/%s.json", SG_SOURCE_DIR, name);
    cJSON *fx = read_json(path);
    sg_image img = {0};
    if (!fixture_photo(fx, &img)) fail_msg("%s: the fixture's photo is missing", name);
    const cJSON *raw = cJSON_GetObjectItem(fx, "raw");
    const cJSON *rs = cJSON_GetObjectItem(raw, "scores"), *rb = cJSON_GetObjectItem(raw, "boxes");
    assert_int_equal(cJSON_GetArraySize(rs), SG_DET_ANCHORS);
    float *x = malloc(3 * SG_DET_INPUT * SG_DET_INPUT * sizeof *x);
    float *enc = malloc(4 * SG_DET_ANCHORS * sizeof *enc), *score = malloc(SG_DET_ANCHORS * 4);
    sg_tensor t = sg_tensor_make(x, 1, 3, SG_DET_INPUT, SG_DET_INPUT);
    sg_error err = {0};
    assert_int_equal(sg_image_to_tensor_tf(&img, &t, &err), SG_OK);
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int p = 0; p < 4; p++) {
        if (sg_cpu_force(paths[p])) continue;
        assert_int_equal(sg_detector_forward(&e->d, &t, enc, score, &e->a, &e->ws, &err), SG_OK);
        sg_detector_decode(&e->d, enc);
        double ds = 0, db = 0;
        int i = 0;
        for (const cJSON *s = rs->child, *b = rb->child; s && b; s = s->next, b = b->next, i++) {
            ds = fmax(ds, fabs(score[i] - s->valuedouble));
            for (int k = 0; k < 4; k++)
                db = fmax(db, fabs(enc[4 * i + k] - cJSON_GetArrayItem(b, k)->valuedouble));
        }
        print_message("%s %s: max |dscore| %.2e, max |dbox| %.2e (of the padded square)\n", name,
                      paths[p], ds, db);
        assert_true(ds <= 1e-3 && db <= 1e-3);
    }
    sg_cpu_force(NULL);
    free(x), free(enc), free(score);
    sg_image_free(&img);
    cJSON_Delete(fx);
}

static void test_raw_outputs(void **state) {
    (void)state;
    det_env e = {0};
    REQUIRE_DETECTOR(&e);
    check_raw(&e, "sample1");
    check_raw(&e, "noface");
    det_close(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_tf),
        cmocka_unit_test(test_nms),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_raw_outputs),
        cmocka_unit_test(test_faces_of_photos),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
