/* faces/: the FAN, masks and landmarks against the fixtures (mini, celeba_hq); the mask steps and
 * the landmark sub-pixel rule by hand on tiny synthetic heatmaps; the engine's face path (masks
 * computed from the photo, a w_hpf model without a face network refused, --fan from a file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"

#define M  SG_MASK_SIDE
#define HM SG_FAN_HM

/* ---- fixtures ------------------------------------------------------------------------------- */
static void fan_fixture(const char *config) {
    TU_REQUIRE_FIXTURES();
    tu_fixture f;
    tu_fixture_open(&f, config);
    assert_true(f.e.has_fan); /* spec-v1 serves fan.* */
    const int S = f.e.cfg.img_size, n = f.n;
    const float *x = tu_fixture_get(&f, "x_src", NULL);
    size_t nh;
    const float *want = tu_fixture_get(&f, "fan_heatmaps", &nh);
    assert_int_equal(nh, (size_t)n * SG_FAN_OUT * HM * HM);
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, sg_fan_plan(&f.e.fan), &err), SG_OK);
    float *hm = malloc(nh * sizeof(float));
    sg_tensor xt = sg_tensor_make((float *)x, n, 3, S, S),
              ht = sg_tensor_make(hm, n, SG_FAN_OUT, HM, HM);
    double scale = tu_max_abs(want, nh), mx, mean;
    scale = scale > 1 ? scale : 1;
    /* every CPU path this machine has */
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) continue;
        assert_int_equal(sg_fan_forward(&f.e.fan, &xt, &ht, &a, &f.run.ws, &err), SG_OK);
        tu_diff(hm, want, nh, &mx, &mean);
        print_message("%s %s fan_heatmaps max_abs=%.3e mean_abs=%.3e (tol %.1e / %.1e)\n", config,
                      paths[pi], mx, mean, 1e-4 * scale, 1e-5 * scale);
        tu_assert_close("fan_heatmaps", hm, want, nh, 1e-4 * scale, 1e-5 * scale);
    }
    sg_cpu_force(NULL);
    tu_assert_plan("fan", &a, sg_fan_plan(&f.e.fan), TU_PLAN_SLACK);
    assert_true(sg_fan_flops(&f.e.fan) > 17e9 && sg_fan_flops(&f.e.fan) < 18e9);
    free(hm);
    sg_arena_free(&a);
    tu_fixture_close(&f);
}

static void fan_mini(void **st) {
    (void)st;
    fan_fixture("mini");
}
static void fan_celeba(void **st) {
    (void)st;
    fan_fixture("celeba_hq");
}

static void masks_landmarks_fixture(const char *config) {
    TU_REQUIRE_FIXTURES();
    tu_fixture f;
    tu_fixture_open(&f, config);
    const int n = f.n;
    const float *h = tu_fixture_get(&f, "heatmaps", NULL);
    const float *want0 = tu_fixture_get(&f, "mask_0", NULL),
                *want1 = tu_fixture_get(&f, "mask_1", NULL);
    size_t nl;
    const float *want_lm = tu_fixture_get(&f, "landmarks", &nl);
    sg_tensor hm = sg_tensor_make((float *)h, n, SG_LANDMARKS, HM, HM);
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, sg_masks_plan(), &err), SG_OK);
    float *m = malloc(sizeof(float) * 2 * n * M * M);
    sg_tensor masks[2] = {sg_tensor_make(m, n, 1, M, M),
                          sg_tensor_make(m + (size_t)n * M * M, n, 1, M, M)};
    assert_int_equal(sg_masks_from_heatmaps(&hm, masks, &a, &err), SG_OK);
    tu_assert_fixture_match("mask_0", masks[0].data, want0, (size_t)n * M * M);
    tu_assert_fixture_match("mask_1", masks[1].data, want1, (size_t)n * M * M);
    tu_assert_plan("masks", &a, sg_masks_plan(), TU_PLAN_SLACK);
    double *lm = malloc(nl * sizeof(double));
    assert_int_equal(sg_landmarks_from_heatmaps(&hm, f.e.cfg.img_size, lm, &err), SG_OK);
    for (size_t i = 0; i < nl; i++) assert_true((float)lm[i] == want_lm[i]); /* exactly */
    free(lm), free(m);
    sg_arena_free(&a);
    tu_fixture_close(&f);
}

static void masks_mini(void **st) {
    (void)st;
    masks_landmarks_fixture("mini");
}
static void masks_celeba(void **st) {
    (void)st;
    masks_landmarks_fixture("celeba_hq");
}

/* ---- masks by hand -------------------------------------------------------------------------- */
/* One delta of value 1 at (r0, c0) of a 64² plane, upsampled ×4 with align_corners true, is the
 * separable hat max(0, 1 - |i·63/255 - r0|)·max(0, 1 - |j·63/255 - c0|); then threshold and
 * min-max normalisation (min 0). */
static void delta_plane(int r0, int c0, double *p) {
    double mx = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            double hy = 1 - fabs(i * 63.0 / 255 - r0), hx = 1 - fabs(j * 63.0 / 255 - c0);
            double v = (hy > 0 ? hy : 0) * (hx > 0 ? hx : 0);
            p[i * M + j] = v < 0.1 ? 0 : v;
            if (p[i * M + j] > mx) mx = p[i * M + j];
        }
    for (int i = 0; i < M * M; i++) p[i] /= mx + 1e-6;
}

/* masks of a heatmap whose only non-zero value is 1 at (r0, c0) of channel ch */
static void masks_of_delta(int ch, int r0, int c0, float *m0, float *m1) {
    float *h = calloc((size_t)SG_FAN_OUT * HM * HM, sizeof(float));
    h[((size_t)ch * HM + r0) * HM + c0] = 1.0f;
    sg_tensor hm = sg_tensor_make(h, 1, SG_FAN_OUT, HM, HM); /* 99 channels: the last ignored */
    sg_tensor masks[2] = {sg_tensor_make(m0, 1, 1, M, M), sg_tensor_make(m1, 1, 1, M, M)};
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, sg_masks_plan(), &err), SG_OK);
    assert_int_equal(sg_masks_from_heatmaps(&hm, masks, &a, &err), SG_OK);
    sg_arena_free(&a);
    free(h);
}

/* expected plane: rows moved by `down` (out[r] = p[r - down]) to the power pw, plus optionally
 * a second copy moved by down2 (power 1), clamped to 1 */
static void expect_shifted(const double *p, int down, int pw, int down2, double *e) {
    for (int r = 0; r < M; r++)
        for (int c = 0; c < M; c++) {
            double v = pow(p[((r - down + M) % M) * M + c], pw);
            if (down2) v += p[((r - down2 + M) % M) * M + c];
            e[r * M + c] = v > 1 ? 1 : v;
        }
}

static void assert_plane(const char *what, const float *got, const double *want) {
    double mx = 0;
    for (int i = 0; i < M * M; i++) { /* not fmax(): GCC 12's aarch64 vectoriser crashes on it */
        const double d = fabs(got[i] - want[i]);
        if (d > mx) mx = d;
    }
    if (mx > 1e-5) fail_msg("%s: max diff %g", what, mx);
}

static void masks_by_hand(void **st) {
    (void)st;
    float *m0 = malloc(sizeof(float) * M * M), *m1 = malloc(sizeof(float) * M * M);
    double *p = malloc(sizeof(double) * M * M), *e = malloc(sizeof(double) * M * M);
    double *zero = calloc(M * M, sizeof(double));
    delta_plane(30, 20, p);
    /* eye centre 96: kept as is in both masks */
    masks_of_delta(96, 30, 20, m0, m1);
    expect_shifted(p, 0, 1, 0, e);
    assert_plane("96 mask0", m0, e), assert_plane("96 mask1", m1, e);
    /* zeroed channels: 0..7, 25..32, 33, 46, 76, 82 */
    static const int zeroed[] = {0, 7, 25, 32, 33, 46, 76, 82};
    for (size_t k = 0; k < sizeof zeroed / sizeof *zeroed; k++) {
        masks_of_delta(zeroed[k], 30, 20, m0, m1);
        assert_plane("zeroed mask0", m0, zero), assert_plane("zeroed mask1", m1, zero);
    }
    /* eyebrow 40: shift -7 (the blob moves 7 rows down), squared; not in mask1 */
    masks_of_delta(40, 30, 20, m0, m1);
    expect_shifted(p, 7, 2, 0, e);
    assert_plane("eyebrow mask0", m0, e), assert_plane("eyebrow mask1", m1, zero);
    /* chin 10: cubed, no shift; not in mask1 */
    masks_of_delta(10, 30, 20, m0, m1);
    expect_shifted(p, 0, 3, 0, e);
    assert_plane("chin mask0", m0, e), assert_plane("chin mask1", m1, zero);
    /* nostril 56: shift +8 (8 rows up), ^4; in both */
    masks_of_delta(56, 30, 20, m0, m1);
    expect_shifted(p, -8, 4, 0, e);
    assert_plane("nostril mask0", m0, e), assert_plane("nostril mask1", m1, e);
    /* upper lip 78: shift -8, ^4; lower lip 84: +8, ^4; inner lip 90: -2, ^3: mask0 only */
    masks_of_delta(78, 30, 20, m0, m1);
    expect_shifted(p, 8, 4, 0, e);
    assert_plane("upper lip mask0", m0, e), assert_plane("upper lip mask1", m1, zero);
    masks_of_delta(84, 30, 20, m0, m1);
    expect_shifted(p, -8, 4, 0, e);
    assert_plane("lower lip mask0", m0, e);
    masks_of_delta(90, 30, 20, m0, m1);
    expect_shifted(p, 2, 3, 0, e);
    assert_plane("inner lip mask0", m0, e), assert_plane("inner lip mask1", m1, zero);
    /* nose 53: shift +4; in both */
    masks_of_delta(53, 30, 20, m0, m1);
    expect_shifted(p, -4, 1, 0, e);
    assert_plane("nose mask0", m0, e), assert_plane("nose mask1", m1, e);
    /* eye 62: shift(-8)^3 + shift(-24): two blobs, 8 and 24 rows down; in both */
    masks_of_delta(62, 30, 20, m0, m1);
    expect_shifted(p, 8, 3, 24, e);
    assert_plane("eye mask0", m0, e), assert_plane("eye mask1", m1, e);
    /* wrap-around: an eyebrow blob on the bottom rows comes back at the top */
    delta_plane(62, 20, p);
    masks_of_delta(40, 62, 20, m0, m1);
    expect_shifted(p, 7, 2, 0, e);
    assert_true(m0[2 * M + 81] > 0.1f); /* row 2 (column 81 ≈ 20·255/63) holds part of it */
    assert_plane("eyebrow wrap", m0, e);
    /* all values under 0.1: nothing survives */
    float *h = calloc((size_t)SG_LANDMARKS * HM * HM, sizeof(float));
    for (size_t i = 0; i < (size_t)SG_LANDMARKS * HM * HM; i++) h[i] = 0.05f;
    sg_tensor hm = sg_tensor_make(h, 1, SG_LANDMARKS, HM, HM);
    sg_tensor masks[2] = {sg_tensor_make(m0, 1, 1, M, M), sg_tensor_make(m1, 1, 1, M, M)};
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, sg_masks_plan(), &err), SG_OK);
    assert_int_equal(sg_masks_from_heatmaps(&hm, masks, &a, &err), SG_OK);
    assert_plane("below threshold", m0, zero);
    /* a NaN anywhere in a kept channel turns the mask to 0 (not NaN) */
    h[96 * HM * HM + 5] = NAN;
    h[96 * HM * HM + 100] = 0.9f;
    assert_int_equal(sg_masks_from_heatmaps(&hm, masks, &a, &err), SG_OK);
    assert_plane("nan mask0", m0, zero);
    /* wrong shapes are errors */
    sg_tensor few = sg_tensor_make(h, 1, 97, HM, HM);
    assert_int_equal(sg_masks_from_heatmaps(&few, masks, &a, &err), SG_ERR_SHAPE);
    sg_tensor small[2] = {sg_tensor_make(m0, 1, 1, 64, 64), masks[1]};
    assert_int_equal(sg_masks_from_heatmaps(&hm, small, &a, &err), SG_ERR_SHAPE);
    sg_arena tiny;
    assert_int_equal(sg_arena_init(&tiny, 1000, &err), SG_OK);
    assert_int_equal(sg_masks_from_heatmaps(&hm, masks, &tiny, &err), SG_ERR_NOMEM);
    sg_arena_free(&tiny), sg_arena_free(&a);
    free(h), free(m0), free(m1), free(p), free(e), free(zero);
}

/* ---- landmarks by hand ---------------------------------------------------------------------- */
static void landmarks_by_hand(void **st) {
    (void)st;
    float *h = calloc((size_t)SG_LANDMARKS * HM * HM, sizeof(float));
    float *c0 = h, *c1 = h + HM * HM, *c2 = h + 2 * HM * HM, *c3 = h + 3 * HM * HM;
    /* channel 0: max at (r 10, c 20); right > left: dx +0.25; below < above: dy -0.25 */
    c0[10 * HM + 20] = 5, c0[10 * HM + 21] = 2, c0[10 * HM + 19] = 1;
    c0[11 * HM + 20] = 1, c0[9 * HM + 20] = 3;
    /* channel 1: two equal maxima: the first in row-major order wins; equal neighbours: 0 */
    c1[30 * HM + 40] = 7, c1[31 * HM + 2] = 7;
    /* channel 2: max on the border column: no nudge */
    c2[12 * HM + 0] = 1, c2[13 * HM + 0] = 0.5f;
    /* channel 3: all equal (zero): the first cell */
    (void)c3;
    sg_tensor hm = sg_tensor_make(h, 1, SG_LANDMARKS, HM, HM);
    double lm[2 * SG_LANDMARKS];
    sg_error err = {0};
    assert_int_equal(sg_landmarks_from_heatmaps(&hm, 256, lm, &err), SG_OK);
    assert_true(lm[0] == (20 + 0.5 + 0.25) * 4 && lm[1] == (10 + 0.5 - 0.25) * 4);
    assert_true(lm[2] == 40.5 * 4 && lm[3] == 30.5 * 4);
    assert_true(lm[4] == 0.5 * 4 && lm[5] == 12.5 * 4);
    assert_true(lm[6] == 0.5 * 4 && lm[7] == 0.5 * 4);
    /* side 64 (the mini configuration): quarter pixels */
    assert_int_equal(sg_landmarks_from_heatmaps(&hm, 64, lm, &err), SG_OK);
    assert_true(lm[0] == 20.75 && lm[1] == 10.25);
    sg_tensor few = sg_tensor_make(h, 1, 50, HM, HM);
    assert_int_equal(sg_landmarks_from_heatmaps(&few, 256, lm, &err), SG_ERR_SHAPE);
    free(h);
}

/* ---- FAN input checks and planning ---------------------------------------------------------- */
static void fan_errors(void **st) {
    (void)st;
    sg_weights *w;
    sg_error err = {0};
    sg_fan fan;
    assert_int_equal(sg_spec_v1_open(&w, &err), SG_OK);
    assert_int_equal(sg_fan_init(&fan, w, &err), SG_OK);
    assert_true(fan.params > 6000000 && fan.params < 6500000);
    float x[3 * 8 * 8] = {0}, hm[SG_FAN_OUT];
    sg_tensor xt = sg_tensor_make(x, 1, 3, 8, 8), bad = sg_tensor_make(hm, 1, SG_FAN_OUT, 1, 1);
    sg_arena tiny;
    sg_workspace ws;
    assert_int_equal(sg_arena_init(&tiny, 1024, &err), SG_OK);
    assert_int_equal(sg_workspace_init(&ws, 1024, &err), SG_OK);
    assert_int_equal(sg_fan_forward(&fan, &xt, &bad, &tiny, &ws, &err), SG_ERR_SHAPE);
    float *h = malloc(sizeof(float) * SG_FAN_OUT * HM * HM);
    sg_tensor ht = sg_tensor_make(h, 1, SG_FAN_OUT, HM, HM);
    assert_int_equal(sg_fan_forward(&fan, &xt, &ht, &tiny, &ws, &err), SG_ERR_NOMEM);
    free(h);
    sg_workspace_free(&ws), sg_arena_free(&tiny);
    sg_weights_free(w);
}

/* ---- engine --------------------------------------------------------------------------------- */
static const char *tmp_path(const char *name) {
    static char p[1024];
    char dir[900];
    snprintf(dir, sizeof dir, "%s/test_faces_tmp", SG_BUILD_DIR);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* the mini configuration as a model file; with or without its fan.* tensors */
static void write_mini(const char *path, int with_fan) {
    sg_config cfg = {.img_size = 64,
                     .style_dim = 16,
                     .latent_dim = 8,
                     .num_domains = 2,
                     .max_conv_dim = 64,
                     .w_hpf = 1};
    sg_error err = {0};
    sg_weights *spec, *rec;
    sg_engine e;
    assert_int_equal(sg_config_set_domains(&cfg, "female,male", &err), SG_OK);
    assert_int_equal(sg_spec_v1_open(&spec, &err), SG_OK);
    assert_int_equal(sg_recorder_open(spec, &rec, &err), SG_OK);
    assert_int_equal(sg_engine_init(&e, rec, &cfg, &err), SG_OK);
    size_t n, k = 0;
    const sg_recorded *list = sg_recorder_list(rec, &n);
    sg_named_tensor *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++)
        if (with_fan || strncmp(list[i].name, "fan.", 4) != 0)
            t[k++] = (sg_named_tensor){list[i].name, list[i].shape, list[i].data};
    const char *meta[] = {"domains", "female,male"};
    assert_int_equal(sg_safetensors_write(path, t, k, meta, 1, &err), SG_OK);
    free(t);
    sg_engine_free(&e);
    sg_weights_free(spec);
}

static sg_image test_photo(int w, int h) {
    sg_image img = {malloc((size_t)w * h * 3), w, h};
    for (int i = 0; i < w * h * 3; i++) img.pixels[i] = (uint8_t)((i * 37 + i / 91) % 251);
    return img;
}

static void engine_face_path(void **st) {
    (void)st;
    char with[1024], without[1024];
    snprintf(with, sizeof with, "%s", tmp_path("mini_fan.safetensors"));
    snprintf(without, sizeof without, "%s", tmp_path("mini_nofan.safetensors"));
    write_mini(with, 1);
    write_mini(without, 0);
    sg_engine e;
    sg_error err = {0};
    /* refused at open, with the way out in the message */
    assert_int_equal(sg_engine_open(&e, without, NULL, &err), SG_ERR_MISSING);
    assert_non_null(strstr(err.msg, "no face network"));
    assert_non_null(strstr(err.msg, "--fan"));
    /* the face network from a separate file */
    assert_int_equal(sg_engine_open(&e, without, with, &err), SG_OK);
    assert_true(e.has_fan);
    sg_run run;
    assert_int_equal(sg_run_init(&run, &e, &err), SG_OK);
    sg_image src = test_photo(80, 64), out = {0}, out2 = {0};
    float s[16];
    assert_int_equal(sg_engine_style_latent(&e, 1, 1, 1.0f, s, &err), SG_OK);
    sg_timing t = {0};
    assert_int_equal(sg_engine_translate(&e, &run, &src, SG_FIT_CROP, s, &out, &t, &err), SG_OK);
    assert_true(out.w == 64 && out.h == 64 && t.faces_ms > 0 && t.generator_ms > 0);
    tu_assert_plan("translate run", &run.arena, run.arena.cap, TU_PLAN_SLACK);
    /* alignment needs the mean landmarks */
    assert_int_equal(sg_engine_translate(&e, &run, &src, SG_FIT_ALIGN, s, &out2, &t, &err),
                     SG_ERR_ARG);
    assert_non_null(strstr(err.msg, "--mean"));
    sg_image_free(&out);
    sg_run_free(&run);
    sg_engine_free(&e);
    /* the same model with its own fan.* tensors gives the same picture */
    assert_int_equal(sg_engine_open(&e, with, NULL, &err), SG_OK);
    assert_int_equal(sg_run_init(&run, &e, &err), SG_OK);
    assert_int_equal(sg_engine_translate(&e, &run, &src, SG_FIT_CROP, s, &out2, NULL, &err), SG_OK);
    sg_image_free(&out2);
    /* a missing mean file is an error naming it */
    assert_int_equal(sg_engine_set_mean_landmarks(&e, tmp_path("no-such.npz"), &err), SG_ERR_IO);
    assert_non_null(strstr(err.msg, "no-such.npz"));
    sg_run_free(&run);
    sg_engine_free(&e);
    sg_image_free(&src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fan_mini),      cmocka_unit_test(fan_celeba),
        cmocka_unit_test(masks_mini),    cmocka_unit_test(masks_celeba),
        cmocka_unit_test(masks_by_hand), cmocka_unit_test(landmarks_by_hand),
        cmocka_unit_test(fan_errors),    cmocka_unit_test(engine_face_path),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
