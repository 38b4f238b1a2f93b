/* generator/: the generator against the fixtures (fed the fixtures' masks for w_hpf configs),
 * activation planning for other configurations, and input errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../styles/styles.h"
#include "fixture.h"

static void check_generator(const char *config) {
    TU_REQUIRE_FIXTURES();
    tu_fixture f;
    tu_fixture_open(&f, config);
    const int S = f.e.cfg.img_size, n = f.n;
    size_t nx;
    const float *x = tu_fixture_get(&f, "x_src", &nx);
    sg_tensor masks[2], *mp = NULL;
    if (f.e.cfg.w_hpf > 0) {
        size_t nm;
        const float *m0 = tu_fixture_get(&f, "mask_0", &nm),
                    *m1 = tu_fixture_get(&f, "mask_1", NULL);
        int side = (int)lround(sqrt((double)(nm / (size_t)n)));
        masks[0] = sg_tensor_make((float *)m0, n, 1, side, side);
        masks[1] = sg_tensor_make((float *)m1, n, 1, side, side);
        mp = masks;
    }
    sg_arena a;
    sg_error err = {0};
    assert_int_equal(sg_arena_init(&a, sg_generator_plan(&f.e.gen, n), &err), SG_OK);
    float *out = calloc(nx, sizeof(float));
    sg_tensor xt = sg_tensor_make((float *)x, n, 3, S, S), yt = sg_tensor_make(out, n, 3, S, S);
    const char *styles[2] = {"s_latent", "s_ref"}, *outs[2] = {"out_latent", "out_ref"};
    /* every CPU path of net/'s kernels (Winograd, norms) this machine can run */
    static const char *paths[] = {"plain", "avx2", "avx512", "neon"};
    for (int pi = 0; pi < 4; pi++) {
        if (sg_cpu_force(paths[pi])) continue;
        print_message("cpu path %s\n", paths[pi]);
        for (int k = 0; k < 2; k++) {
            const float *s = tu_fixture_get(&f, styles[k], NULL),
                        *want = tu_fixture_get(&f, outs[k], NULL);
            assert_int_equal(sg_generator_forward(&f.e.gen, &xt, s, mp, &yt, &a, &f.run.ws, &err),
                             SG_OK);
            tu_assert_fixture_match(outs[k], out, want, nx);
        }
    }
    sg_cpu_force(NULL);
    tu_assert_plan(config, &a, sg_generator_plan(&f.e.gen, n), TU_PLAN_SLACK);
    free(out);
    sg_arena_free(&a);
    tu_fixture_close(&f);
}

static void generator_mini(void **st) {
    (void)st;
    check_generator("mini");
}
static void generator_afhq(void **st) {
    (void)st;
    check_generator("afhq");
}
static void generator_celeba(void **st) {
    (void)st;
    check_generator("celeba_hq");
}

/* Any configuration the spec allows runs within its plan: build one from spec-v1 weights, run a
 * forward on random data and check the output is finite and the arena never overflowed. */
static void run_config(int img, int style, int latent, int domains, int cap, int w_hpf) {
    sg_config cfg = {.img_size = img,
                     .style_dim = style,
                     .latent_dim = latent,
                     .num_domains = domains,
                     .max_conv_dim = cap,
                     .w_hpf = w_hpf};
    sg_error err = {0};
    sg_weights *w;
    sg_engine e;
    assert_int_equal(sg_config_set_domains(&cfg, NULL, &err), SG_OK);
    assert_int_equal(sg_spec_v1_open(&w, &err), SG_OK);
    sg_run run;
    if (sg_engine_init(&e, w, &cfg, &err) || sg_run_init(&run, &e, &err)) fail_msg("%s", err.msg);
    const int n = 2;
    size_t img_n = (size_t)n * 3 * img * img;
    float *x = malloc(img_n * sizeof(float)), *y = malloc(img_n * sizeof(float));
    float *m = malloc((size_t)n * img * img * sizeof(float)), s[2 * 64];
    tu_fill_random(x, img_n, 1, -1, 1);
    tu_fill_random(s, (size_t)n * style, 2, -1, 1);
    for (size_t i = 0; i < (size_t)n * img * img; i++) m[i] = (float)(i % 3) / 2;
    sg_tensor xt = sg_tensor_make(x, n, 3, img, img), yt = sg_tensor_make(y, n, 3, img, img);
    sg_tensor masks[2] = {sg_tensor_make(m, n, 1, img, img), sg_tensor_make(m, n, 1, img, img)};
    sg_arena a;
    assert_int_equal(sg_arena_init(&a, sg_generator_plan(&e.gen, n), &err), SG_OK);
    if (sg_generator_forward(&e.gen, &xt, s, w_hpf ? masks : NULL, &yt, &a, &run.ws, &err))
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < img_n; i++) assert_true(isfinite(y[i]));
    tu_assert_plan("generator", &a, sg_generator_plan(&e.gen, n), TU_PLAN_SLACK);
    assert_true(sg_generator_flops(&e.gen) > 0);
    /* the style encoder of the same configuration, within its plan */
    sg_arena b;
    int ys[2] = {0, domains - 1};
    assert_int_equal(sg_arena_init(&b, sg_style_encoder_plan(&e.enc, n), &err), SG_OK);
    if (sg_style_encoder_forward(&e.enc, &xt, ys, s, &b, &run.ws, &err)) fail_msg("%s", err.msg);
    for (int i = 0; i < n * style; i++) assert_true(isfinite(s[i]));
    tu_assert_plan("style encoder", &b, sg_style_encoder_plan(&e.enc, n), TU_PLAN_SLACK);
    sg_arena_free(&a), sg_arena_free(&b);
    free(x), free(y), free(m);
    sg_run_free(&run);
    sg_engine_free(&e);
}

static void other_configs(void **st) {
    (void)st;
    run_config(64, 8, 4, 1, 32, 0);    /* one domain, small cap */
    run_config(128, 24, 12, 4, 96, 0); /* cap not a power of two */
    run_config(128, 16, 8, 2, 64, 1);  /* masks at 32 and 64 */
}

static void bad_inputs(void **st) {
    (void)st;
    sg_config cfg = {.img_size = 64,
                     .style_dim = 16,
                     .latent_dim = 8,
                     .num_domains = 2,
                     .max_conv_dim = 64,
                     .w_hpf = 1};
    sg_error err = {0};
    sg_weights *w;
    sg_engine e;
    assert_int_equal(sg_config_set_domains(&cfg, NULL, &err), SG_OK);
    assert_int_equal(sg_spec_v1_open(&w, &err), SG_OK);
    sg_run run;
    assert_int_equal(sg_engine_init(&e, w, &cfg, &err), SG_OK);
    assert_int_equal(sg_run_init(&run, &e, &err), SG_OK);
    float x[3 * 64 * 64] = {0}, y[3 * 64 * 64], s[16] = {0};
    sg_tensor xt = sg_tensor_make(x, 1, 3, 64, 64), yt = sg_tensor_make(y, 1, 3, 64, 64);
    /* w_hpf > 0 without masks */
    assert_int_equal(sg_generator_forward(&e.gen, &xt, s, NULL, &yt, &run.arena, &run.ws, &err),
                     SG_ERR_ARG);
    /* wrong input size */
    sg_tensor small = sg_tensor_make(x, 1, 3, 32, 32);
    assert_int_equal(sg_generator_forward(&e.gen, &small, s, NULL, &yt, &run.arena, &run.ws, &err),
                     SG_ERR_SHAPE);
    /* an arena smaller than the plan is an error, not an overflow */
    sg_arena tiny;
    assert_int_equal(sg_arena_init(&tiny, 1024, &err), SG_OK);
    float m[64 * 64] = {0};
    sg_tensor masks[2] = {sg_tensor_make(m, 1, 1, 64, 64), sg_tensor_make(m, 1, 1, 64, 64)};
    assert_int_equal(sg_generator_forward(&e.gen, &xt, s, masks, &yt, &tiny, &run.ws, &err),
                     SG_ERR_NOMEM);
    sg_arena_free(&tiny);
    /* an image size the spec does not allow */
    sg_config bad = cfg;
    bad.img_size = 96;
    sg_generator g;
    assert_int_not_equal(sg_generator_init(&g, &bad, e.w, &err), SG_OK);
    sg_run_free(&run);
    sg_engine_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generator_mini),   cmocka_unit_test(generator_afhq),
        cmocka_unit_test(generator_celeba), cmocka_unit_test(other_configs),
        cmocka_unit_test(bad_inputs),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
