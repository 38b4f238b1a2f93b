/* stargan translate: one photo to one domain, with a reference photo's style or a seeded one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || !*s || *end || s[0] == '-') return -1;
    *v = x;
    return 0;
}

static int parse_psi(const char *s, float *psi) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= 0.0 && v <= 1.0)) return -1;
    *psi = (float)v;
    return 0;
}

/* What the options ask for, checked before anything heavy runs. */
typedef struct {
    const char *model, *src, *domain, *ref, *out, *fan, *mean;
    uint64_t seed;
    float psi;
    sg_fit fit;
    int quality;
    int64_t max_pixels;
} request;

static int check_request(const cli_opt *o, request *r) {
    r->model = cli_get(o, "--model"), r->src = cli_get(o, "--src");
    r->domain = cli_get(o, "--domain"), r->ref = cli_get(o, "--ref"), r->out = cli_get(o, "--out");
    r->fan = cli_get(o, "--fan"), r->mean = cli_get(o, "--mean");
    const char *seed = cli_get(o, "--seed"), *fit = cli_get(o, "--fit");
    const char *need[] = {"--model", "--src", "--domain", "--out"};
    for (int i = 0; i < 4; i++)
        if (!cli_get(o, need[i])) {
            fprintf(stderr, "stargan translate: %s is required\n", need[i]);
            return -1;
        }
    if (!r->ref == !seed) {
        fprintf(stderr, "stargan translate: give exactly one of --ref IMG or --seed N\n");
        return -1;
    }
    if (seed && parse_u64(seed, &r->seed)) {
        fprintf(stderr, "stargan translate: --seed must be a non-negative integer\n");
        return -1;
    }
    if (parse_psi(cli_get(o, "--psi"), &r->psi)) {
        fprintf(stderr, "stargan translate: --psi must be a number in [0, 1]\n");
        return -1;
    }
    if (r->ref && strcmp(cli_get(o, "--psi"), "1") != 0) {
        fprintf(stderr, "stargan translate: --psi applies to --seed only\n");
        return -1;
    }
    if (strcmp(fit, "crop") && strcmp(fit, "stretch") && strcmp(fit, "align")) {
        fprintf(stderr, "stargan translate: --fit must be crop, stretch or align\n");
        return -1;
    }
    r->fit = !strcmp(fit, "crop")      ? SG_FIT_CROP
             : !strcmp(fit, "stretch") ? SG_FIT_STRETCH
                                       : SG_FIT_ALIGN;
    if (r->fit == SG_FIT_ALIGN && !r->mean) {
        fprintf(stderr, "stargan translate: --fit align needs --mean celeba_lm_mean.npz\n");
        return -1;
    }
    return cli_image_opts("translate", o, &r->quality, &r->max_pixels);
}

static sg_status run(const request *r, sg_error *err) {
    sg_engine e;
    sg_run run;
    sg_image src = {0}, ref = {0}, out = {0};
    sg_status st = sg_engine_open(&e, r->model, r->fan, err);
    if (st) return st;
    if ((r->mean && (st = sg_engine_set_mean_landmarks(&e, r->mean, err))) ||
        (st = sg_run_init(&run, &e, err))) {
        sg_engine_free(&e);
        return st;
    }
    float *s = calloc((size_t)e.cfg.style_dim, sizeof(float));
    int y = sg_config_domain(&e.cfg, r->domain);
    if (!s) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    else if (y < 0) st = sg_error_set(err, SG_ERR_ARG, "unknown domain '%s'", r->domain);
    if (!st) st = sg_image_load(r->src, r->max_pixels, 1, &src, err);
    if (!st && r->ref) st = sg_image_load(r->ref, r->max_pixels, 1, &ref, err);
    if (!st && r->ref) st = sg_engine_style_ref(&e, &run, &ref, r->fit, y, s, err);
    if (!st && !r->ref) st = sg_engine_style_latent(&e, r->seed, y, r->psi, s, err);
    if (!st) st = sg_engine_translate(&e, &run, &src, r->fit, s, &out, NULL, err);
    if (!st) st = sg_image_save(&out, r->out, r->quality, err);
    sg_image_free(&src), sg_image_free(&ref), sg_image_free(&out);
    free(s);
    sg_run_free(&run);
    sg_engine_free(&e);
    return st;
}

int cmd_translate(int argc, char **argv) {
    cli_opt o[] = {
        {"--model", "M", "model file (.safetensors) or release checkpoint (.ckpt)", NULL},
        {"--src", "IMG", "photo to translate (PNG or JPEG)", NULL},
        {"--domain", "NAME|INDEX", "target domain", NULL},
        {"--ref", "IMG", "reference photo of the target domain (its style)", NULL},
        {"--seed", "N", "latent-guided: seed of the portable latent sampler", NULL},
        {"--psi", "P", "truncation towards the domain's mean style, in [0, 1]", "1"},
        {"--out", "OUT", "output .png, .jpg or .jpeg", NULL},
        {"--fit", "MODE", "crop (centre), stretch, or align (the face; needs --mean)", "crop"},
        {"--fan", "F", "face network (wing.ckpt or a model file with fan.* tensors)", NULL},
        {"--mean", "LM.npz", "mean face landmarks for --fit align (celeba_lm_mean.npz)", NULL},
        CLI_IMAGE_OPTS,
        {0},
    };
    const char *pos[1];
    int np;
    request r = {0};
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("translate", NULL);
    if (cli_get(o, "--help")) {
        cli_usage("translate",
                  "--model M --src IMG --domain D (--ref IMG | --seed N [--psi P]) --out OUT "
                  "[--fit crop|stretch|align] [--fan F] [--mean LM.npz]",
                  o);
        return 0;
    }
    if (check_request(o, &r)) return cli_usage_error("translate", NULL);
    sg_error err = {0};
    if (run(&r, &err)) return cli_fail(&err);
    return 0;
}
