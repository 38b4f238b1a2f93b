/* Opening a command's model (a model file, or spec-v1 weights for a preset configuration) and
 * finding its domains by name (models.h). */
#include "models.h"

#include <stdio.h>
#include <string.h>

/* The three reference configurations (docs/networks.md "Configuration"). */
static const struct {
    const char *name;
    sg_config cfg;
    const char *domains;
} presets[] = {
    {"afhq",
     {.img_size = 256,
      .style_dim = 64,
      .latent_dim = 16,
      .num_domains = 3,
      .max_conv_dim = 512,
      .w_hpf = 0},
     SG_RELEASE_DOMAINS_AFHQ},
    {"celeba_hq",
     {.img_size = 256,
      .style_dim = 64,
      .latent_dim = 16,
      .num_domains = 2,
      .max_conv_dim = 512,
      .w_hpf = 1},
     SG_RELEASE_DOMAINS_CELEBA_HQ},
    {"mini",
     {.img_size = 64,
      .style_dim = 16,
      .latent_dim = 8,
      .num_domains = 2,
      .max_conv_dim = 64,
      .w_hpf = 1},
     "female,male"},
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

sg_status cli_domain(const sg_config *cfg, const char *name, const char *what, int *y,
                     sg_error *err) {
    *y = sg_config_domain(cfg, name);
    if (*y >= 0) return SG_OK;
    char list[512] = "";
    size_t off = 0;
    for (int i = 0; i < cfg->num_domains && off < sizeof list - 40; i++)
        off +=
            (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", cfg->domains[i]);
    if (off >= sizeof list - 40) snprintf(list + off, sizeof list - off, ", ...");
    return sg_error_set(err, SG_ERR_ARG, "%s%sunknown domain '%s' (this model's domains: %s)",
                        what ? what : "", what ? ": " : "", name, list);
}
