/* stargan convert: a release checkpoint (or any model source) to a safetensors model file that
 * maps in place and starts instantly. The networks are bound through a recorder first, so every
 * tensor they need is checked (name, shape, dtype) and only those are written; the face network
 * comes from --fan (wing.ckpt) or from the model itself: every F32 `fan.*` tensor of that source
 * (a checkpoint source already leaves out the layers of a larger FAN; counters are not F32). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    sg_named_tensor *t;
    size_t n, cap;
} tensor_list;

static sg_status list_add(tensor_list *l, const char *name, const sg_shape *shape,
                          const float *data, sg_error *err) {
    for (size_t i = 0; i < l->n; i++) /* a few hundred names: linear is fine */
        if (strcmp(l->t[i].name, name) == 0) return SG_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        sg_named_tensor *p = realloc(l->t, cap * sizeof *p);
        if (!p) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        l->t = p;
        l->cap = cap;
    }
    l->t[l->n++] = (sg_named_tensor){name, *shape, data};
    return SG_OK;
}

/* ---- face network: names first (each has no error channel), then their data ---------------- */
typedef struct {
    char **names;
    sg_shape *shapes;
    size_t n, cap;
    int oom;
} fan_names;

static int collect_fan(void *ctx, const char *name, const sg_shape *shape) {
    fan_names *f = ctx;
    if (strncmp(name, "fan.", 4) != 0) return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 512;
        char **n = realloc(f->names, cap * sizeof *n);
        if (n) f->names = n;
        sg_shape *s = n ? realloc(f->shapes, cap * sizeof *s) : NULL;
        if (s) f->shapes = s;
        if (!n || !s) return f->oom = 1;
        f->cap = cap;
    }
    f->names[f->n] = strdup(name);
    f->shapes[f->n] = *shape;
    if (!f->names[f->n]) return f->oom = 1;
    f->n++;
    return 0;
}

static void fan_names_free(fan_names *f) {
    for (size_t i = 0; i < f->n; i++) free(f->names[i]);
    free(f->names);
    free(f->shapes);
}

/* Adds every F32 fan.* tensor of w (non-F32 counters are skipped: `get` refuses their dtype). */
static sg_status add_fan(tensor_list *l, sg_weights *w, fan_names *f, size_t *count,
                         sg_error *err) {
    sg_shape sh;
    sg_error e = {0};
    if (w->shape(w, "fan.conv1.conv.weight", &sh, &e) != SG_OK)
        return sg_error_set(err, SG_ERR_MISSING,
                            "%s: no face network (tensor fan.conv1.conv.weight missing)",
                            w->source);
    w->each(w, collect_fan, f);
    if (f->oom) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->n; i++) {
        const float *data;
        sg_status st = w->get(w, f->names[i], &f->shapes[i], &data, &e);
        if (st == SG_ERR_SHAPE) continue; /* the listed shape: only the dtype can differ */
        if (st != SG_OK) return sg_error_set(err, st, "%s", e.msg);
        if ((st = list_add(l, f->names[i], &f->shapes[i], data, err)) != SG_OK) return st;
        ++*count;
    }
    return SG_OK;
}

/* ---- the networks --------------------------------------------------------------------------- */
typedef struct {
    const char *model, *fan, *domains, *out;
    sg_weights *w, *fw, *rec;
    sg_engine e;
    int bound;
    sg_config cfg;
    tensor_list list;
    fan_names fn;
    size_t n_fan;
} convert;

/* Opens the model, derives its configuration and binds every network through a recorder. */
static sg_status bind_model(convert *c, sg_error *err) {
    sg_status st = sg_model_open(c->model, &c->w, err);
    if (!st) st = sg_config_derive(c->w, &c->cfg, err);
    if (!st && c->domains) st = sg_config_set_domains(&c->cfg, c->domains, err);
    if (!st) st = sg_recorder_open(c->w, &c->rec, err);
    if (st) return st;
    st = sg_engine_init(&c->e, c->rec, &c->cfg, err); /* owns rec from here, even on failure */
    c->rec = NULL;
    if (st) return st;
    c->bound = 1;
    size_t n;
    const sg_recorded *r = sg_recorder_list(c->e.w, &n);
    for (size_t i = 0; i < n && !st; i++)
        st = list_add(&c->list, r[i].name, &r[i].shape, r[i].data, err);
    return st;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static sg_status write_out(convert *c, sg_error *err) {
    char domains[SG_MAX_DOMAINS * 33] = "", weights[600];
    for (int d = 0; c->model && d < c->cfg.num_domains; d++) {
        if (d) strcat(domains, ",");
        strcat(domains, c->cfg.domains[d]);
    }
    snprintf(weights, sizeof weights, "converted from %s%s%s", c->model ? base_name(c->model) : "",
             c->model && c->fan ? " and " : "", c->fan ? base_name(c->fan) : "");
    const char *meta[] = {"weights", weights, "domains", domains};
    sg_status st = sg_safetensors_write(c->out, c->list.t, c->list.n, meta, c->model ? 2 : 1, err);
    if (st) return st;
    printf("wrote %s: %zu tensors (%zu of the face network)\n", c->out, c->list.n, c->n_fan);
    if (c->model) printf("domains %s\n", domains);
    if (c->model && c->cfg.w_hpf > 0 && !c->n_fan)
        fprintf(stderr,
                "stargan convert: note: this model uses face masks (w_hpf %d); give "
                "--fan wing.ckpt to include the face network\n",
                c->cfg.w_hpf);
    return SG_OK;
}

/* ---- the face detector ---------------------------------------------------------------------- */
/* Binds the detector through a recorder over any source (a TensorFlow.js manifest with its
 * shards, or a detector file), so exactly its tensors are checked and written. */
static sg_status run_detector(const char *src, const char *out, sg_error *err) {
    sg_weights *w = NULL, *rec = NULL;
    sg_detector d = {0};
    sg_status st = sg_model_open(src, &w, err);
    if (!st) st = sg_recorder_open(w, &rec, err);
    if (!st) st = sg_detector_init(&d, rec, err);
    tensor_list l = {0};
    size_t n = 0;
    const sg_recorded *r = st ? NULL : sg_recorder_list(rec, &n);
    for (size_t i = 0; i < n && !st; i++) st = list_add(&l, r[i].name, &r[i].shape, r[i].data, err);
    char origin[600];
    snprintf(origin, sizeof origin,
             "face-api.js ssd_mobilenetv1 (@vladmandic/face-api, MIT licence), converted from %s",
             base_name(src));
    const char *meta[] = {"weights", origin, "network", "detector"};
    if (!st) st = sg_safetensors_write(out, l.t, l.n, meta, 2, err);
    if (!st)
        printf("wrote %s: %zu tensors, %zu parameters (the face detector)\n", out, l.n, d.params);
    free(l.t);
    sg_detector_free(&d);
    sg_weights_free(rec);
    sg_weights_free(w);
    return st;
}

static sg_status run(convert *c, sg_error *err) {
    sg_status st = c->model ? bind_model(c, err) : SG_OK;
    if (!st && c->fan) st = sg_model_open(c->fan, &c->fw, err);
    sg_weights *fan = c->fw ? c->fw : (c->model && c->cfg.has_fan ? c->w : NULL);
    if (!st && fan) st = add_fan(&c->list, fan, &c->fn, &c->n_fan, err);
    if (!st) st = write_out(c, err);
    return st;
}

int cmd_convert(int argc, char **argv) {
    cli_opt o[] = {
        {"--model", "X.ckpt", "release checkpoint (100000_nets_ema.ckpt) or any model file", NULL},
        {"--fan", "wing.ckpt", "face network weights to include", NULL},
        {"--domains", "a,b,..",
         "domain names (default: " SG_RELEASE_DOMAINS_CELEBA_HQ
         " for 2 domains, " SG_RELEASE_DOMAINS_AFHQ " for 3, else domain0..)",
         NULL},
        {"--detector", "MANIFEST.json",
         "the face detector: face-api.js's ssd_mobilenetv1_model-weights_manifest.json (its .bin "
         "beside it) to a detector file",
         NULL},
        {"--out", "M.safetensors", "output model file", NULL},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("convert", NULL);
    if (cli_get(o, "--help")) {
        cli_usage(
            "convert",
            "--model X.ckpt [--fan wing.ckpt] [--domains a,b,..] --out M.safetensors\n"
            "       stargan convert --fan wing.ckpt --out F.safetensors   (face network only)\n"
            "       stargan convert --detector MANIFEST.json --out detector.safetensors",
            o);
        return 0;
    }
    if (!cli_get(o, "--out")) return cli_usage_error("convert", "--out is required");
    if (cli_get(o, "--detector")) {
        if (cli_get(o, "--model") || cli_get(o, "--fan"))
            return cli_usage_error("convert", "--detector makes a file of its own");
        sg_error err = {0};
        return run_detector(cli_get(o, "--detector"), cli_get(o, "--out"), &err) ? cli_fail(&err)
                                                                                 : 0;
    }
    if (!cli_get(o, "--model") && !cli_get(o, "--fan"))
        return cli_usage_error("convert", "--model, --fan or --detector is required");
    convert c = {.model = cli_get(o, "--model"),
                 .fan = cli_get(o, "--fan"),
                 .domains = cli_get(o, "--domains"),
                 .out = cli_get(o, "--out")};
    sg_error err = {0};
    sg_status st = run(&c, &err);
    /* data pointers in the list point into the sources: free those last */
    free(c.list.t);
    fan_names_free(&c.fn);
    if (c.bound) sg_engine_free(&c.e); /* frees the recorder */
    sg_weights_free(c.rec);
    sg_weights_free(c.w);
    sg_weights_free(c.fw);
    return st ? cli_fail(&err) : 0;
}
