/* Shared by the subcommands: model presets, opening a model or spec-v1 weights, the image
 * output options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"

/* The three reference configurations (fixtures/README.md). */
static const struct {
    const char *name;
    sg_config cfg;
    const char *domains;
} presets[] = {
    {"afhq", {256, 64, 16, 3, 512, 0, 0, {{0}}}, SG_RELEASE_DOMAINS_AFHQ},
    {"celeba_hq", {256, 64, 16, 2, 512, 1, 0, {{0}}}, SG_RELEASE_DOMAINS_CELEBA_HQ},
    {"mini", {64, 16, 8, 2, 64, 1, 0, {{0}}}, "female,male"},
};

sg_status cli_preset(const char *name, sg_config *cfg, sg_error *err) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (strcmp(name, presets[i].name) == 0) {
            *cfg = presets[i].cfg;
            return sg_config_set_domains(cfg, presets[i].domains, err);
        }
    return sg_error_set(err, SG_ERR_ARG, "unknown configuration '%s' (afhq, celeba_hq, mini)",
                        name);
}

sg_status cli_open(const char *model, const char *preset, sg_weights **w, sg_config *cfg,
                   sg_error *err) {
    sg_status st;
    *w = NULL;
    if (model) {
        if ((st = sg_model_open(model, w, err))) return st;
        if ((st = sg_config_derive(*w, cfg, err))) {
            sg_weights_free(*w);
            *w = NULL;
        }
        return st;
    }
    if (!preset)
        return sg_error_set(err, SG_ERR_ARG,
                            "give --model M (or --config NAME for spec-v1 weights)");
    if ((st = cli_preset(preset, cfg, err))) return st;
    return sg_spec_v1_open(w, err);
}

sg_status cli_open_engine(const char *model, const char *preset, sg_engine *e, sg_error *err) {
    sg_weights *w;
    sg_config cfg;
    sg_status st = cli_open(model, preset, &w, &cfg, err);
    return st ? st : sg_engine_init(e, w, &cfg, err);
}

int cli_image_opts(const char *cmd, const cli_opt *o, int *quality, int64_t *max_pixels) {
    const char *out = cli_get(o, "--out"), *q = cli_get(o, "--quality");
    const char *mp = cli_get(o, "--max-pixels");
    char *end;
    long qv = strtol(q, &end, 10);
    if (!*q || *end || qv < 1 || qv > 100) {
        fprintf(stderr, "stargan %s: --quality must be in 1..100\n", cmd);
        return -1;
    }
    long long mv = strtoll(mp, &end, 10);
    if (!*mp || *end || mv < 1) {
        fprintf(stderr, "stargan %s: --max-pixels must be a positive number\n", cmd);
        return -1;
    }
    /* a batch (--out-dir) names its outputs itself */
    if (!(!out && cli_get(o, "--out-dir")) &&
        (!out || sg_image_format_from_path(out) == SG_FORMAT_UNKNOWN)) {
        fprintf(stderr, "stargan %s: --out must end in .png, .jpg or .jpeg\n", cmd);
        return -1;
    }
    *quality = (int)qv, *max_pixels = mv;
    return 0;
}
