/* engine/: a photo encoded once (sg_engine_encode) and decoded per style (sg_engine_decode) gives
 * exactly sg_engine_translate's bytes, for the AFHQ layout (w_hpf = 0) and the CelebA-HQ one
 * (w_hpf > 0: the FAN's masks and the high-pass skips travel in the encoded photo), fit crop and
 * align, fp32 with and without packed weights (and bf16 where the CPU runs it); the encoded photo
 * outlives its run's arena and serves another run; one of another configuration is refused. The
 * generator's samples do not depend on their batch, and sg_engine_decode_styles (the decoder's
 * head run for several styles as one batch) gives each style sg_engine_decode's bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define N_STYLES 3

static sg_image load_photo(const char *rel) {
    sg_image img = {0};
    sg_error err = {0};
    if (sg_image_load(tu_fixture_path(rel), 1 << 26, 1, &img, &err)) fail_msg("%s", err.msg);
    return img;
}

static void assert_same_image(const char *what, const sg_image *a, const sg_image *b) {
    assert_int_equal(a->w, b->w);
    assert_int_equal(a->h, b->h);
    if (memcmp(a->pixels, b->pixels, (size_t)a->w * a->h * 3) != 0) {
        size_t diff = 0;
        for (size_t i = 0; i < (size_t)a->w * a->h * 3; i++) diff += a->pixels[i] != b->pixels[i];
        fail_msg("%s: %zu of %zu bytes differ", what, diff, (size_t)a->w * a->h * 3);
    }
}

/* N_STYLES latent styles of different domains and seeds (psi 1: no mean style needed) */
static void make_styles(sg_engine *e, float *s) {
    sg_error err = {0};
    for (int k = 0; k < N_STYLES; k++)
        if (sg_engine_style_latent(e, 100 + (uint64_t)k, k % e->cfg.num_domains, 1.0f,
                                   s + (size_t)k * e->cfg.style_dim, &err))
            fail_msg("%s", err.msg);
}

/* decode(encode(photo), s_k) == translate(photo, s_k) byte for byte, k < N_STYLES; the styles'
 * pictures differ (the style reaches the decoder); the arena is given back by every call */
static void check_equal(sg_engine *e, sg_run *r, const sg_image *photo, sg_fit fit,
                        const char *what) {
    sg_error err = {0};
    float s[N_STYLES * 64];
    assert_true(e->cfg.style_dim <= 64);
    make_styles(e, s);
    sg_encoded *enc = NULL;
    sg_timing t = {0};
    if (sg_engine_encode(e, r, photo, fit, &enc, &t, &err)) fail_msg("%s: %s", what, err.msg);
    assert_int_equal(r->arena.top, 0);
    assert_true(t.encode_ms > 0 && (e->cfg.w_hpf == 0 || t.faces_ms > 0));
    sg_image prev = {0}, want[N_STYLES] = {{0}};
    for (int k = 0; k < N_STYLES; k++) {
        const float *sk = s + (size_t)k * e->cfg.style_dim;
        sg_image got = {0};
        if (sg_engine_translate(e, r, photo, fit, sk, &want[k], &t, &err))
            fail_msg("%s: %s", what, err.msg);
        assert_true(t.generator_ms >= t.encode_ms && t.encode_ms > 0);
        if (sg_engine_decode(e, r, enc, sk, &got, &t, &err)) fail_msg("%s: %s", what, err.msg);
        assert_int_equal(r->arena.top, 0);
        print_message("%s style %d: decode %.1f ms (translate's encoder %.1f ms)\n", what, k,
                      t.generator_ms, t.encode_ms);
        assert_same_image(what, &got, &want[k]);
        if (prev.pixels) assert_true(memcmp(prev.pixels, got.pixels, (size_t)got.w * got.h * 3));
        sg_image_free(&prev);
        prev = got;
    }
    sg_image_free(&prev);
    /* the styles as one batch (the decoder's head batched), and the last alone: the same bytes */
    sg_image many[N_STYLES] = {{0}};
    if (sg_engine_decode_styles(e, r, enc, s, N_STYLES, many, &t, &err))
        fail_msg("%s: %s", what, err.msg);
    assert_int_equal(r->arena.top, 0);
    assert_true(t.generator_ms > 0);
    for (int k = 0; k < N_STYLES; k++) assert_same_image(what, &many[k], &want[k]);
    sg_image_free(&many[N_STYLES - 1]);
    if (sg_engine_decode_styles(e, r, enc, s + (size_t)(N_STYLES - 1) * e->cfg.style_dim, 1,
                                &many[N_STYLES - 1], NULL, &err))
        fail_msg("%s: %s", what, err.msg);
    assert_same_image(what, &many[N_STYLES - 1], &want[N_STYLES - 1]);
    for (int k = 0; k < N_STYLES; k++) sg_image_free(&many[k]), sg_image_free(&want[k]);
    /* no styles, or more than a batch holds: refused, nothing made */
    assert_int_equal(sg_engine_decode_styles(e, r, enc, s, 0, many, NULL, &err), SG_ERR_ARG);
    assert_int_equal(
        sg_engine_decode_styles(e, r, enc, s, SG_ENGINE_MAX_STYLES + 1, many, NULL, &err),
        SG_ERR_ARG);
    assert_null(many[0].pixels);
    sg_encoded_free(enc);
}

static void equal_afhq(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    tu_fixture f;
    tu_fixture_open(&f, "afhq");
    sg_image photo = load_photo("images/afhq/src/cat/flickr_cat_000253.jpg");
    check_equal(&f.e, &f.run, &photo, SG_FIT_CROP, "afhq crop");
    check_equal(&f.e, &f.run, &photo, SG_FIT_STRETCH, "afhq stretch");
    sg_image_free(&photo);
    tu_fixture_close(&f);
}

static void equal_celeba(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    tu_fixture f;
    sg_error err = {0};
    tu_fixture_open(&f, "celeba_hq");
    assert_true(f.e.has_fan && f.e.cfg.w_hpf > 0);
    if (sg_engine_set_mean_landmarks(&f.e, tu_fixture_path("align/lm_mean.npz"), &err))
        fail_msg("%s", err.msg);
    sg_image photo = load_photo("images/celeba_hq/src/female/039913.jpg");
    check_equal(&f.e, &f.run, &photo, SG_FIT_CROP, "celeba_hq crop");
    check_equal(&f.e, &f.run, &photo, SG_FIT_ALIGN, "celeba_hq align");
    sg_image_free(&photo);
    tu_fixture_close(&f);
}

/* the same with the engine's packed weights: fp32 (kept Winograd U), bf16 where it runs */
static void equal_packed(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    static const char *configs[] = {"afhq", "celeba_hq"};
    static const char *photos[] = {"images/afhq/src/dog/flickr_dog_000094.jpg",
                                   "images/celeba_hq/src/male/005735.jpg"};
    for (int c = 0; c < 2; c++)
        for (int p = 0; p < 2; p++) {
            const sg_precision prec = p ? SG_PRECISION_BF16 : SG_PRECISION_FP32;
            if (prec == SG_PRECISION_BF16 && sg_bf16_unsupported()) {
                print_message("bf16 not checked: %s\n", sg_bf16_unsupported());
                continue;
            }
            tu_fixture f;
            sg_error err = {0};
            tu_fixture_open(&f, configs[c]);
            if (sg_engine_set_precision(&f.e, prec, &err)) fail_msg("%s", err.msg);
            sg_image photo = load_photo(photos[c]);
            char what[64];
            snprintf(what, sizeof what, "%s %s", configs[c], sg_precision_name(prec));
            check_equal(&f.e, &f.run, &photo, SG_FIT_CROP, what);
            sg_image_free(&photo);
            tu_fixture_close(&f);
        }
}

/* several photos through sg_engine_decode_many (a batch of requests): each the bytes of its
 * own translation, for both layouts (the CelebA-HQ tails read each photo's masks and skips); a
 * photo of another configuration in the batch is refused */
static void many_photos(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    static const char *configs[] = {"afhq", "celeba_hq"};
    static const char *photos[2][3] = {
        {"images/afhq/src/cat/flickr_cat_000253.jpg", "images/afhq/src/dog/flickr_dog_000094.jpg",
         "images/afhq/src/cat/flickr_cat_000253.jpg"},
        {"images/celeba_hq/src/female/039913.jpg", "images/celeba_hq/src/male/005735.jpg",
         "images/celeba_hq/ref/male/012712.jpg"}};
    sg_encoded *other = NULL;
    for (int c = 0; c < 2; c++) {
        tu_fixture f;
        sg_error err = {0};
        tu_fixture_open(&f, configs[c]);
        float s[N_STYLES * 64];
        make_styles(&f.e, s);
        sg_encoded *enc[3] = {0};
        sg_image want[3] = {{0}}, got[3] = {{0}};
        for (int i = 0; i < 3; i++) {
            sg_image photo = load_photo(photos[c][i]);
            const float *si = s + (size_t)i * f.e.cfg.style_dim;
            assert_int_equal(
                sg_engine_translate(&f.e, &f.run, &photo, SG_FIT_CROP, si, &want[i], NULL, &err),
                SG_OK);
            assert_int_equal(
                sg_engine_encode(&f.e, &f.run, &photo, SG_FIT_CROP, &enc[i], NULL, &err), SG_OK);
            sg_image_free(&photo);
        }
        const sg_encoded *batch[3] = {enc[0], enc[1], enc[2]};
        assert_int_equal(sg_engine_decode_many(&f.e, &f.run, batch, s, 3, got, NULL, &err), SG_OK);
        for (int i = 0; i < 3; i++) assert_same_image(configs[c], &got[i], &want[i]);
        assert_int_equal(f.run.arena.top, 0);
        if (c == 0) other = enc[1], enc[1] = NULL; /* an AFHQ photo for the CelebA-HQ engine */
        else {
            batch[1] = other;
            sg_image none[3] = {{0}};
            assert_int_equal(sg_engine_decode_many(&f.e, &f.run, batch, s, 3, none, NULL, &err),
                             SG_ERR_ARG);
            for (int i = 0; i < 3; i++) assert_null(none[i].pixels);
        }
        for (int i = 0; i < 3; i++)
            sg_encoded_free(enc[i]), sg_image_free(&want[i]), sg_image_free(&got[i]);
        tu_fixture_close(&f);
    }
    sg_encoded_free(other);
}

/* an encoded photo owns its memory: the run that made it translating something else (its
 * arena overwritten) and a second run (another worker) decode it to the same bytes; an engine of
 * another configuration refuses it */
static void reuse(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    tu_fixture f, g;
    sg_error err = {0};
    tu_fixture_open(&f, "celeba_hq");
    sg_image photo = load_photo("images/celeba_hq/src/female/039913.jpg");
    sg_image other = load_photo("images/celeba_hq/ref/male/012712.jpg");
    float s[N_STYLES * 64];
    make_styles(&f.e, s);
    sg_image want = {0}, got = {0}, junk = {0};
    assert_int_equal(sg_engine_translate(&f.e, &f.run, &photo, SG_FIT_CROP, s, &want, NULL, &err),
                     SG_OK);
    sg_encoded *enc = NULL;
    assert_int_equal(sg_engine_encode(&f.e, &f.run, &photo, SG_FIT_CROP, &enc, NULL, &err), SG_OK);
    /* h, three skips and two masks: 256² w_hpf = 1 holds about 14 MiB */
    print_message("encoded photo: %zu bytes\n", sg_encoded_bytes(enc));
    assert_true(sg_encoded_bytes(enc) > ((size_t)14 << 20) && sg_encoded_bytes(enc) < (15 << 20));
    /* the arena overwritten by another photo's translation */
    assert_int_equal(sg_engine_translate(&f.e, &f.run, &other, SG_FIT_CROP, s, &junk, NULL, &err),
                     SG_OK);
    memset(f.run.arena.base, 0x7f, f.run.arena.cap * sizeof(float));
    assert_int_equal(sg_engine_decode(&f.e, &f.run, enc, s, &got, NULL, &err), SG_OK);
    assert_same_image("after the arena was overwritten", &got, &want);
    sg_image_free(&got);
    /* a second run of the same engine */
    sg_run r2;
    assert_int_equal(sg_run_init(&r2, &f.e, &err), SG_OK);
    assert_int_equal(sg_engine_decode(&f.e, &r2, enc, s, &got, NULL, &err), SG_OK);
    assert_same_image("from a second run", &got, &want);
    sg_image_free(&got);
    sg_run_free(&r2);
    /* an engine of another configuration (AFHQ: w_hpf = 0, h 16² not 8²) refuses it */
    tu_fixture_open(&g, "afhq");
    assert_int_equal(sg_engine_decode(&g.e, &g.run, enc, s, &got, NULL, &err), SG_ERR_ARG);
    assert_non_null(strstr(err.msg, "another configuration"));
    assert_null(got.pixels);
    sg_encoded *enc2 = NULL;
    assert_int_equal(sg_engine_encode(&g.e, &g.run, &photo, SG_FIT_CROP, &enc2, NULL, &err), SG_OK);
    assert_true(sg_encoded_bytes(enc2) >= (size_t)512 * 16 * 16 * sizeof(float));
    assert_int_equal(sg_engine_decode(&f.e, &f.run, enc2, s, &got, NULL, &err), SG_ERR_ARG);
    sg_encoded_free(enc2);
    /* alignment without the mean landmarks: an error and no object */
    assert_int_equal(sg_engine_encode(&f.e, &f.run, &photo, SG_FIT_ALIGN, &enc2, NULL, &err),
                     SG_ERR_ARG);
    assert_null(enc2);
    assert_int_equal(f.run.arena.top, 0);
    sg_encoded_free(NULL);
    sg_encoded_free(enc);
    tu_fixture_close(&g);
    sg_image_free(&want), sg_image_free(&junk);
    sg_image_free(&photo), sg_image_free(&other);
    tu_fixture_close(&f);
}

/* The generator's sample k does not depend on its batch: forward on a batch of two photos with
 * two styles (and masks) gives each sample's bytes of its forward alone (the AdaIN fc runs per
 * sample: a GEMM over the batch sums in another order than the GEMV of one). */
static void batch_independent(void **st) {
    (void)st;
    TU_REQUIRE_FIXTURES();
    static const char *configs[] = {"mini", "afhq"};
    for (int c = 0; c < 2; c++) {
        tu_fixture f;
        sg_error err = {0};
        tu_fixture_open(&f, configs[c]);
        const sg_generator *g = &f.e.gen;
        const int S = f.e.cfg.img_size, sd = f.e.cfg.style_dim, M = 2 * S;
        const size_t px = (size_t)3 * S * S, mp = (size_t)M * M;
        float *x = malloc(2 * px * sizeof(float)), *y2 = malloc(2 * px * sizeof(float));
        float *y1 = malloc(2 * px * sizeof(float)), *s = malloc(2 * (size_t)sd * sizeof(float));
        float *m = malloc(4 * mp * sizeof(float)); /* masks[0] [2, 1, M, M], then masks[1] */
        tu_fill_random(x, 2 * px, 1, -1, 1);
        tu_fill_random(s, 2 * (size_t)sd, 2, -1, 1);
        tu_fill_random(m, 4 * mp, 3, 0, 1);
        sg_arena a;
        assert_int_equal(sg_arena_init(&a, sg_generator_plan(g, 2), &err), SG_OK);
        sg_tensor xt = sg_tensor_make(x, 2, 3, S, S), yt = sg_tensor_make(y2, 2, 3, S, S);
        sg_tensor masks[2] = {sg_tensor_make(m, 2, 1, M, M),
                              sg_tensor_make(m + 2 * mp, 2, 1, M, M)};
        const int hpf = f.e.cfg.w_hpf > 0;
        if (sg_generator_forward(g, &xt, s, hpf ? masks : NULL, &yt, &a, &f.run.ws, &err))
            fail_msg("%s", err.msg);
        for (int k = 0; k < 2; k++) {
            sg_tensor xk = sg_tensor_make(x + k * px, 1, 3, S, S),
                      yk = sg_tensor_make(y1 + k * px, 1, 3, S, S);
            sg_tensor mk[2] = {sg_tensor_make(m + k * mp, 1, 1, M, M),
                               sg_tensor_make(m + (2 + k) * mp, 1, 1, M, M)};
            if (sg_generator_forward(g, &xk, s + (size_t)k * sd, hpf ? mk : NULL, &yk, &a,
                                     &f.run.ws, &err))
                fail_msg("%s", err.msg);
        }
        size_t diff = 0;
        for (size_t i = 0; i < 2 * px; i++) diff += memcmp(&y1[i], &y2[i], sizeof(float)) != 0;
        print_message("%s: %zu of %zu floats differ between the batch and the singles\n",
                      configs[c], diff, 2 * px);
        assert_int_equal(diff, 0);
        assert_true(memcmp(y1, y1 + px, px * sizeof(float)) != 0);
        free(x), free(y1), free(y2), free(s), free(m);
        sg_arena_free(&a);
        tu_fixture_close(&f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equal_afhq),        cmocka_unit_test(equal_celeba),
        cmocka_unit_test(equal_packed),      cmocka_unit_test(reuse),
        cmocka_unit_test(batch_independent), cmocka_unit_test(many_photos),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
