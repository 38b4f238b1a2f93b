/* stargan selftest: run every network this build has on a parity fixture's inputs and compare
 * with its outputs under the fixtures' tolerances (fixtures/README.md). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models.h"

/* bf16 bounds (products rounded to bf16, everything else fp32). Float outputs as a share of
 * max(1, max|ref|), about twice the largest error measured on the three fixtures. The 8-bit
 * generator outputs against the float64 truth: measured 35.6-41 dB, mean 1.5-2.74 levels,
 * max 16-42 (CelebA-HQ the lowest); PyTorch's bf16 autocast on a fixture photo pair gets 35.5
 * dB, mean 2.7, max 26 (bench/README.md, "bf16"). */
#define BF16_MAX         5e-2
#define BF16_MEAN        5e-3
#define BF16_FAN_MAX     3e-2 /* heatmaps: share of max(1, max|ref|) */
#define BF16_FAN_MEAN    4e-3
#define BF16_PSNR        35.0
#define BF16_MEAN_LEVELS 3.0
#define BF16_MAX_LEVELS  64

typedef struct {
    sg_weights *fx; /* the fixture file */
    sg_engine e;
    sg_workspace ws;
    int n, fails;
    sg_precision prec;
    sg_packed_weights *bw; /* bf16: the weights converted once, in use on this thread */
} selftest;

/* One result line; returns 1 when max ≤ fmax·scale and mean ≤ fmean·scale, scale =
 * max(1, max|ref|) (fixtures/README.md). */
static int report_tol(selftest *t, const char *name, const float *ours, const float *ref, size_t n,
                      double fmax, double fmean) {
    double mx = 0, sum = 0, ref_max = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - ref[i]);
        if (!(d <= mx)) mx = d;
        sum += d;
        if (fabs(ref[i]) > ref_max) ref_max = fabs(ref[i]);
    }
    double scale = ref_max > 1 ? ref_max : 1, mean = sum / (double)n;
    double tmax = fmax * scale, tmean = fmean * scale;
    int ok = mx <= tmax && mean <= tmean;
    printf("%s max_abs=%.3e mean_abs=%.3e tol=%.1e/%.1e %s\n", name, mx, mean, tmax, tmean,
           ok ? "ok" : "FAIL");
    t->fails += !ok;
    return ok;
}

static int report(selftest *t, const char *name, const float *ours, const float *ref, size_t n) {
    if (t->prec == SG_PRECISION_BF16) return report_tol(t, name, ours, ref, n, BF16_MAX, BF16_MEAN);
    return report_tol(t, name, ours, ref, n, 1e-3, 1e-4);
}

/* The image as stargan writes it: byte = floor(clamp((x + 1)/2, 0, 1)·255 + 0.5). */
static int to_byte(double x) {
    double v = (x + 1) / 2;
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (int)floor(v * 255 + 0.5);
}

/* <name>_8bit: the 8-bit image of ours against the 8-bit image of the float64 truth, per fixture
 * output: PSNR (peak 255), mean and max |level difference|, under the precision's bounds. */
static void report_levels(selftest *t, const char *name, const float *ours, const float *ref,
                          size_t n) {
    double se = 0, sum = 0;
    int mx = 0;
    for (size_t i = 0; i < n; i++) {
        const int d = abs(to_byte(ours[i]) - to_byte(ref[i]));
        se += (double)d * d, sum += d;
        if (d > mx) mx = d;
    }
    const double psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : INFINITY;
    const int bf = t->prec == SG_PRECISION_BF16;
    const double min_psnr = bf ? BF16_PSNR : 60, max_mean = bf ? BF16_MEAN_LEVELS : 0.01;
    const int max_levels = bf ? BF16_MAX_LEVELS : 1;
    const int ok = psnr >= min_psnr && sum / (double)n <= max_mean && mx <= max_levels;
    printf("%s_8bit psnr=%.2f mean_levels=%.3f max_levels=%d tol=%.1f/%.2f/%d %s\n", name, psnr,
           sum / (double)n, mx, min_psnr, max_mean, max_levels, ok ? "ok" : "FAIL");
    t->fails += !ok;
}

static sg_status get_f32(selftest *t, const char *name, const float **p, sg_error *err, int ndim,
                         int a, int b, int c, int d) {
    return sg_weights_get(t->fx, name, p, err, ndim, a, b, c, d);
}

static sg_status get_labels(selftest *t, const char *name, int *y, sg_error *err) {
    int64_t v[64];
    sg_status st = sg_safetensors_get_i64(t->fx, name, v, (size_t)t->n, err);
    for (int i = 0; !st && i < t->n; i++) {
        if (v[i] < 0 || v[i] >= t->e.cfg.num_domains)
            return sg_error_set(err, SG_ERR_FORMAT, "fixture %s: domain out of range", name);
        y[i] = (int)v[i];
    }
    return st;
}

static sg_status check_styles(selftest *t, sg_error *err) {
    const sg_config *c = &t->e.cfg;
    const float *z, *x_ref, *s_lat, *s_ref;
    int y_trg[64], y_ref[64];
    sg_status st;
    if ((st = get_f32(t, "z", &z, err, 2, t->n, c->latent_dim, 0, 0)) ||
        (st = get_f32(t, "x_ref", &x_ref, err, 4, t->n, 3, c->img_size, c->img_size)) ||
        (st = get_f32(t, "s_latent", &s_lat, err, 2, t->n, c->style_dim, 0, 0)) ||
        (st = get_f32(t, "s_ref", &s_ref, err, 2, t->n, c->style_dim, 0, 0)) ||
        (st = get_labels(t, "y_trg", y_trg, err)) || (st = get_labels(t, "y_ref", y_ref, err)))
        return st;
    size_t ns = (size_t)t->n * c->style_dim;
    float *s = malloc(ns * sizeof(float)), *scratch = malloc(sizeof(float) * 2 * 512 * t->n);
    if (!s || !scratch) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    if (!st) st = sg_mapping_forward(&t->e.map, z, y_trg, t->n, s, scratch, err);
    if (!st) report(t, "s_latent", s, s_lat, ns);
    sg_tensor x = sg_tensor_make((float *)x_ref, t->n, 3, c->img_size, c->img_size);
    sg_arena a = {0}; /* planned for the fixture's batch */
    if (!st) st = sg_arena_init(&a, sg_style_encoder_plan(&t->e.enc, t->n), err);
    if (!st) st = sg_style_encoder_forward(&t->e.enc, &x, y_ref, s, &a, &t->ws, err);
    if (!st) report(t, "s_ref", s, s_ref, ns);
    sg_arena_free(&a);
    free(s), free(scratch);
    return st;
}

static sg_status check_generator(selftest *t, sg_error *err) {
    const sg_config *c = &t->e.cfg;
    const int S = c->img_size;
    const float *x_src, *s[2], *want[2], *m[2] = {0};
    sg_status st;
    if ((st = get_f32(t, "x_src", &x_src, err, 4, t->n, 3, S, S)) ||
        (st = get_f32(t, "s_latent", &s[0], err, 2, t->n, c->style_dim, 0, 0)) ||
        (st = get_f32(t, "s_ref", &s[1], err, 2, t->n, c->style_dim, 0, 0)) ||
        (st = get_f32(t, "out_latent", &want[0], err, 4, t->n, 3, S, S)) ||
        (st = get_f32(t, "out_ref", &want[1], err, 4, t->n, 3, S, S)))
        return st;
    sg_tensor masks[2];
    if (c->w_hpf > 0) {
        sg_shape sh;
        if ((st = t->fx->shape(t->fx, "mask_0", &sh, err))) return st;
        int mh = (int)sh.dims[2];
        if ((st = get_f32(t, "mask_0", &m[0], err, 4, t->n, 1, mh, mh)) ||
            (st = get_f32(t, "mask_1", &m[1], err, 4, t->n, 1, mh, mh)))
            return st;
        for (int i = 0; i < 2; i++) masks[i] = sg_tensor_make((float *)m[i], t->n, 1, mh, mh);
    }
    /* a batch of n: its own arena, planned for that batch */
    sg_arena a;
    const size_t y_n = 3 * (size_t)t->n * S * S; /* y [N, 3, S, S] under the generator */
    if ((st = sg_arena_init(&a, sg_generator_plan(&t->e.gen, t->n) + sg_arena_floats(y_n), err)))
        return st;
    sg_tensor x = sg_tensor_make((float *)x_src, t->n, 3, S, S);
    sg_tensor y = sg_arena_tensor(&a, t->n, 3, S, S);
    static const char *names[2] = {"out_latent", "out_ref"};
    for (int k = 0; k < 2 && !st; k++) {
        st = sg_generator_forward(&t->e.gen, &x, s[k], c->w_hpf > 0 ? masks : NULL, &y, &a, &t->ws,
                                  err);
        if (!st) report(t, names[k], y.data, want[k], sg_tensor_numel(&y));
        if (!st) report_levels(t, names[k], y.data, want[k], sg_tensor_numel(&y));
    }
    sg_arena_free(&a);
    return st;
}

/* fan_heatmaps from x_src (with the engine's face network, if any); mask_0, mask_1 and the
 * landmarks from the fixture's synthetic `heatmaps`, so each stage is checked on its own input. */
static sg_status check_fan(selftest *t, sg_error *err) {
    const int S = t->e.cfg.img_size;
    const float *x_src, *want;
    sg_status st;
    if (!t->e.has_fan) {
        printf("fan_heatmaps skipped: no face network (the model has no fan.* tensors; pass --fan "
               "F)\n");
        return SG_OK;
    }
    if ((st = get_f32(t, "x_src", &x_src, err, 4, t->n, 3, S, S)) ||
        (st = get_f32(t, "fan_heatmaps", &want, err, 4, t->n, SG_FAN_OUT, SG_FAN_HM, SG_FAN_HM)))
        return st;
    sg_arena a;
    size_t hm_n = (size_t)t->n * SG_FAN_OUT * SG_FAN_HM * SG_FAN_HM;
    if ((st = sg_arena_init(&a, sg_fan_plan(&t->e.fan) + sg_arena_floats(hm_n), err))) return st;
    sg_tensor x = sg_tensor_make((float *)x_src, t->n, 3, S, S);
    sg_tensor hm = sg_arena_tensor(&a, t->n, SG_FAN_OUT, SG_FAN_HM, SG_FAN_HM);
    st = sg_fan_forward(&t->e.fan, &x, &hm, &a, &t->ws, err);
    const int bf = t->prec == SG_PRECISION_BF16;
    if (!st)
        report_tol(t, "fan_heatmaps", hm.data, want, hm_n, bf ? BF16_FAN_MAX : 1e-4,
                   bf ? BF16_FAN_MEAN : 1e-5);
    sg_arena_free(&a);
    return st;
}

static sg_status check_masks(selftest *t, const sg_tensor *hm, sg_error *err) {
    const float *want[2];
    const int M = SG_MASK_SIDE;
    sg_status st;
    if ((st = get_f32(t, "mask_0", &want[0], err, 4, t->n, 1, M, M)) ||
        (st = get_f32(t, "mask_1", &want[1], err, 4, t->n, 1, M, M)))
        return st;
    sg_arena a;
    const size_t mask_n = (size_t)t->n * M * M; /* each mask [N, 1, M, M], under the masks' plan */
    if ((st = sg_arena_init(&a, sg_masks_plan() + 2 * sg_arena_floats(mask_n), err))) return st;
    sg_tensor m[2] = {sg_arena_tensor(&a, t->n, 1, M, M), sg_arena_tensor(&a, t->n, 1, M, M)};
    st = sg_masks_from_heatmaps(hm, m, &a, err);
    if (!st) report(t, "mask_0", m[0].data, want[0], sg_tensor_numel(&m[0]));
    if (!st) report(t, "mask_1", m[1].data, want[1], sg_tensor_numel(&m[1]));
    sg_arena_free(&a);
    return st;
}

/* landmarks must equal the fixture's exactly (float32 of the double values) */
static sg_status check_landmarks(selftest *t, const sg_tensor *hm, sg_error *err) {
    const float *want;
    sg_status st = get_f32(t, "landmarks", &want, err, 3, t->n, SG_LANDMARKS, 2, 0);
    if (st) return st;
    size_t n = (size_t)t->n * SG_LANDMARKS * 2, diff = 0;
    double *lm = malloc(n * sizeof(double)), mx = 0;
    if (!lm) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    st = sg_landmarks_from_heatmaps(hm, t->e.cfg.img_size, lm, err);
    for (size_t i = 0; !st && i < n; i++) {
        double d = fabs((double)(float)lm[i] - want[i]);
        diff += (float)lm[i] != want[i];
        if (!(d <= mx)) mx = d;
    }
    if (!st) {
        printf("landmarks max_abs=%.3e differing=%zu tol=exact %s\n", mx, diff,
               diff ? "FAIL" : "ok");
        t->fails += diff != 0;
    }
    free(lm);
    return st;
}

static sg_status check_faces(selftest *t, sg_error *err) {
    sg_shape sh;
    if (t->fx->shape(t->fx, "fan_heatmaps", &sh, NULL) == SG_OK) {
        sg_status st = check_fan(t, err);
        if (st) return st;
    }
    if (t->fx->shape(t->fx, "heatmaps", &sh, NULL) != SG_OK) return SG_OK;
    if (sh.ndim != 4 || sh.dims[0] != t->n || sh.dims[1] < SG_LANDMARKS || sh.dims[2] < 2 ||
        sh.dims[2] > 1024 || sh.dims[3] < 2 || sh.dims[3] > 1024)
        return sg_error_set(err, SG_ERR_FORMAT, "fixture: heatmaps must be [N, 98+, H, W]");
    const float *h;
    sg_status st = t->fx->get(t->fx, "heatmaps", &sh, &h, err);
    sg_tensor hm =
        sg_tensor_make((float *)h, t->n, (int)sh.dims[1], (int)sh.dims[2], (int)sh.dims[3]);
    if (!st) st = check_masks(t, &hm, err);
    if (!st) st = check_landmarks(t, &hm, err);
    return st;
}

/* --images DIR: decode + resize each source photo and compare with x_src / x_ref */
static sg_status check_images(selftest *t, const char *dir, sg_error *err) {
    const char *list = t->fx->meta(t->fx, "source_images");
    const int S = t->e.cfg.img_size;
    cJSON *j = list ? cJSON_Parse(list) : NULL;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 * t->n) {
        cJSON_Delete(j);
        return sg_error_set(err, SG_ERR_FORMAT, "fixture: source_images missing or malformed");
    }
    const float *xs[2];
    sg_status st;
    if ((st = get_f32(t, "x_src", &xs[0], err, 4, t->n, 3, S, S)) ||
        (st = get_f32(t, "x_ref", &xs[1], err, 4, t->n, 3, S, S))) {
        cJSON_Delete(j);
        return st;
    }
    float *buf = malloc(sizeof(float) * 3 * S * S);
    for (int i = 0; i < 2 * t->n && !st && buf; i++) {
        const char *rel = cJSON_GetStringValue(cJSON_GetArrayItem(j, i));
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, rel ? rel : "?");
        sg_image img = {0};
        sg_tensor x = sg_tensor_make(buf, 1, 3, S, S);
        if (!(st = sg_image_load(path, SG_IMAGE_DEFAULT_MAX_PIXELS, 0, &img, err)))
            st = sg_image_to_tensor(&img, SG_FIT_STRETCH, S, &x, 0, err);
        sg_image_free(&img);
        if (st) break;
        const float *ref = xs[i / t->n] + (size_t)(i % t->n) * 3 * S * S;
        double mx = 0;
        for (size_t k = 0; k < (size_t)3 * S * S; k++)
            if (fabs((double)buf[k] - ref[k]) > mx) mx = fabs((double)buf[k] - ref[k]);
        int ok = mx <= 2.0 / 255 + 1e-6;
        printf("image %s max_abs=%.3e levels=%.2f tol=1 level %s\n", rel, mx, mx * 127.5,
               ok ? "ok" : "FAIL");
        t->fails += !ok;
    }
    if (!buf) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    free(buf);
    cJSON_Delete(j);
    return st;
}

static sg_status open_all(selftest *t, const char *fixture, const char *model, const char *fan,
                          sg_error *err) {
    sg_status st = sg_safetensors_open(fixture, &t->fx, err);
    if (st) return st;
    sg_config cfg;
    const char *keys[] = {"img_size",    "style_dim",    "latent_dim",
                          "num_domains", "max_conv_dim", "w_hpf"};
    int *fields[] = {&cfg.img_size,    &cfg.style_dim,    &cfg.latent_dim,
                     &cfg.num_domains, &cfg.max_conv_dim, &cfg.w_hpf};
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < 6; i++) {
        const char *v = t->fx->meta(t->fx, keys[i]);
        if (!v)
            return sg_error_set(err, SG_ERR_FORMAT, "%s: metadata %s missing", fixture, keys[i]);
        *fields[i] = atoi(v);
    }
    if ((st = sg_config_set_domains(&cfg, NULL, err))) return st;
    sg_weights *w = NULL;
    if (model) {
        sg_config got;
        if ((st = cli_open(model, NULL, &w, &got, err))) return st;
        if (got.img_size != cfg.img_size || got.style_dim != cfg.style_dim ||
            got.latent_dim != cfg.latent_dim || got.num_domains != cfg.num_domains ||
            got.max_conv_dim != cfg.max_conv_dim || (got.w_hpf > 0) != (cfg.w_hpf > 0)) {
            sg_weights_free(w);
            return sg_error_set(err, SG_ERR_ARG, "%s: configuration differs from the fixture's",
                                model);
        }
    } else if ((st = sg_spec_v1_open(&w, err))) {
        return st;
    }
    sg_shape sh;
    if ((st = t->fx->shape(t->fx, "x_src", &sh, err))) return st;
    t->n = (int)sh.dims[0];
    if (t->n < 1 || t->n > 64) return sg_error_set(err, SG_ERR_FORMAT, "%s: bad batch", fixture);
    if ((st = sg_workspace_init(&t->ws, SG_WORKSPACE_DEFAULT_FLOATS, err))) {
        sg_weights_free(w);
        return st;
    }
    if ((st = sg_engine_init(&t->e, w, &cfg, err))) return st;
    sg_weights *fw = NULL;
    if (fan && !(st = sg_model_open(fan, &fw, err))) st = sg_engine_set_fan(&t->e, fw, err);
    return st;
}

int cmd_selftest(int argc, char **argv) {
    cli_opt o[] = {
        {"--model", "M", "take the weights from a model file instead of spec v1", NULL},
        {"--fan", "F", "face network weights (fan.* tensors: wing.ckpt or a model file)", NULL},
        {"--images", "DIR", "also check photo preprocessing against x_src / x_ref", NULL},
        {"--precision", "P", "fp32 (exact) or bf16 (bf16 products, checked with bf16 bounds)",
         "fp32"},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    if (cli_parse(argc, argv, o, pos, 1, &np)) return cli_usage_error("selftest", NULL);
    if (cli_get(o, "--help")) {
        cli_usage("selftest",
                  "FIXTURE.io.safetensors [--model M] [--fan F] [--images DIR] [--precision P]", o);
        return 0;
    }
    if (np != 1)
        return cli_usage_error("selftest", "a fixture file FIXTURE.io.safetensors is required");
    selftest t = {0};
    sg_error err = {0};
    const char *images = cli_get(o, "--images");
    const char *prec = cli_get(o, "--precision") ? cli_get(o, "--precision") : "fp32";
    if (sg_precision_parse(prec, &t.prec)) {
        fprintf(stderr, "stargan selftest: --precision must be fp32 or bf16, not %s\n", prec);
        return 2;
    }
    sg_status st = open_all(&t, pos[0], cli_get(o, "--model"), cli_get(o, "--fan"), &err);
    /* fp32 too: the kept Winograd U must give the exact path's results (bytes) */
    if (!st && !(st = sg_packed_weights_init(&t.bw, t.prec, &err))) sg_packed_use(t.bw);
    if (!st) st = check_styles(&t, &err);
    if (!st) st = check_generator(&t, &err);
    if (!st) st = check_faces(&t, &err);
    if (!st && images) st = check_images(&t, images, &err);
    sg_packed_use(NULL);
    sg_packed_weights_free(t.bw);
    if (t.e.w) sg_engine_free(&t.e);
    sg_workspace_free(&t.ws);
    sg_weights_free(t.fx);
    if (st) return cli_fail(&err);
    printf("%s: %d FAIL\n", t.fails ? "FAILED" : "passed", t.fails);
    return t.fails ? 1 : 0;
}
