/* faces/detect*.c: the face detector. By hand: the input's padding and TF bilinear, the
 * suppression rule, the JSON answer. Against face-api.js (tests/data/detect/*.json, made by
 * tests/tools/detect_ref): the network's raw scores and boxes, and the faces of real photos,
 * EXIF-rotated ones included; skipped (visibly) without the detector (scripts/get-detector.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    sg_face_box f[2] = {{10.04, 20.06, 30, 40.5, 0.98765f}, {0, 1, 2, 3, 0.5f}};
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_tf),
        cmocka_unit_test(test_nms),
        cmocka_unit_test(test_json),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
