/* stargan make-model: a model file with spec-v1 weights for any configuration, holding exactly
 * the tensors the networks bind (for tests, benchmarks and trying the service without the
 * release weights). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models.h"

static int override(const cli_opt *o, const char *name, int *field) {
    const char *v = cli_get(o, name);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < 0 || x > 1 << 20) {
        fprintf(stderr, "stargan make-model: %s must be a non-negative integer\n", name);
        return -1;
    }
    *field = (int)x;
    return 0;
}

static sg_status write_model(const sg_config *cfg, const char *out, sg_error *err) {
    sg_weights *spec = NULL, *rec = NULL;
    sg_engine e;
    sg_status st = sg_spec_v1_open(&spec, err);
    if (!st) st = sg_recorder_open(spec, &rec, err);
    if (!st) st = sg_engine_init(&e, rec, cfg, err); /* binds every tensor through rec */
    if (st) {
        sg_weights_free(spec);
        return st;
    }
    size_t n;
    const sg_recorded *list = sg_recorder_list(rec, &n);
    sg_named_tensor *t = calloc(n ? n : 1, sizeof *t);
    char domains[SG_MAX_DOMAINS * 33] = "";
    for (int d = 0; d < cfg->num_domains; d++) {
        if (d) strcat(domains, ",");
        strcat(domains, cfg->domains[d]);
    }
    const char *meta[] = {"domains", domains, "weights", "spec-v1"};
    if (!t) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; t && i < n; i++)
        t[i] = (sg_named_tensor){list[i].name, list[i].shape, list[i].data};
    if (!st) st = sg_safetensors_write(out, t, n, meta, 2, err);
    if (!st) printf("wrote %s: %zu tensors\n", out, n);
    free(t);
    sg_engine_free(&e); /* frees rec */
    sg_weights_free(spec);
    return st;
}

int cmd_make_model(int argc, char **argv) {
    cli_opt o[] = {
        {"--config", "NAME", "afhq, celeba_hq or mini", "afhq"},
        {"--img-size", "S", "override: image side (power of two, 64..1024)", NULL},
        {"--style-dim", "N", "override: style code length", NULL},
        {"--latent-dim", "N", "override: latent code length", NULL},
        {"--num-domains", "N", "override: number of domains", NULL},
        {"--max-conv-dim", "N", "override: channel cap", NULL},
        {"--w-hpf", "N", "override: 0, or > 0 for the face high-pass path", NULL},
        {"--domains", "a,b,..", "domain names", NULL},
        {"--out", "M.safetensors", "output file", NULL},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    sg_config cfg;
    sg_error err = {0};
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("make-model", NULL);
    if (cli_get(o, "--help"))
        return cli_usage("make-model", "[--config NAME] [overrides] --out M.safetensors", o), 0;
    if (!cli_get(o, "--out")) return cli_usage_error("make-model", "--out is required");
    if (cli_preset(cli_get(o, "--config"), &cfg, &err))
        return cli_usage_error("make-model", "%s", err.msg);
    int nd = cfg.num_domains;
    if (override(o, "--img-size", &cfg.img_size) || override(o, "--style-dim", &cfg.style_dim) ||
        override(o, "--latent-dim", &cfg.latent_dim) ||
        override(o, "--num-domains", &cfg.num_domains) ||
        override(o, "--max-conv-dim", &cfg.max_conv_dim) || override(o, "--w-hpf", &cfg.w_hpf))
        return cli_usage_error("make-model", NULL);
    const char *domains = cli_get(o, "--domains");
    if ((domains || cfg.num_domains != nd) && sg_config_set_domains(&cfg, domains, &err))
        return cli_fail(&err);
    if (sg_config_check(&cfg, &err) || write_model(&cfg, cli_get(o, "--out"), &err))
        return cli_fail(&err);
    return 0;
}
