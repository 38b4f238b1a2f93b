/* stargan info: what a model is: configuration, domains, parameters and GFLOPs per network. */
#include <stdio.h>

#include "cli.h"
#include "models.h"

static void print_info(const char *source, const sg_engine *e) {
    const sg_config *c = &e->cfg;
    printf("model        %s\n", source);
    printf("img_size     %d\nstyle_dim    %d\nlatent_dim   %d\nnum_domains  %d\n", c->img_size,
           c->style_dim, c->latent_dim, c->num_domains);
    printf("max_conv_dim %d\nw_hpf        %d\nface network %s\n", c->max_conv_dim, c->w_hpf,
           c->has_fan ? "present" : "absent");
    printf("domains     ");
    for (int d = 0; d < c->num_domains; d++) printf(" %d=%s", d, c->domains[d]);
    printf("\n%-16s %12s %14s\n", "network", "parameters", "GFLOP/image");
    printf("%-16s %12zu %14.3f\n", "generator", e->gen.params, sg_generator_flops(&e->gen) / 1e9);
    printf("%-16s %12zu %14.3f\n", "mapping_network", e->map.params,
           sg_mapping_flops(&e->map) / 1e9);
    printf("%-16s %12zu %14.3f\n", "style_encoder", e->enc.params,
           sg_style_encoder_flops(&e->enc) / 1e9);
}

int cmd_info(int argc, char **argv) {
    cli_opt o[] = {
        {"--model", "M", "model file", NULL},
        {"--config", "NAME", "instead of --model: spec-v1 weights of afhq, celeba_hq or mini",
         NULL},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("info", NULL);
    if (cli_get(o, "--help")) return cli_usage("info", "--model M", o), 0;
    if (!cli_get(o, "--model") && !cli_get(o, "--config"))
        return cli_usage_error("info", "--model is required (or --config NAME)");
    sg_error err = {0};
    sg_engine e;
    if (cli_open_engine(cli_get(o, "--model"), cli_get(o, "--config"), &e, &err))
        return cli_fail(&err);
    print_info(e.w->source, &e);
    sg_engine_free(&e);
    return 0;
}
