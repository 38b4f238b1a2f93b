/* The models a server answers with: every --model NAME=PATH (sharing --fan), or, when none is
 * named, the built-in demo: spec-v1 weights in the AFHQ layout, so a fresh machine can run the
 * service and its clients end to end. Its pictures are noise, which the log, /v1/models and
 * /metrics all say. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static char *models_json(const sg_srv_models *ms, int generation);

/* The AFHQ configuration (docs/networks.md, "Configuration"): 256 px, style 64, latent 16, no face
 * masks. */
static sg_status demo_engine(sg_engine *e, sg_error *err) {
    sg_config cfg = {.img_size = 256,
                     .style_dim = 64,
                     .latent_dim = 16,
                     .num_domains = 3,
                     .max_conv_dim = 512,
                     .w_hpf = 0};
    sg_weights *w = NULL;
    sg_status st = sg_config_set_domains(&cfg, SG_RELEASE_DOMAINS_AFHQ, err);
    if (!st) st = sg_config_check(&cfg, err);
    if (!st) st = sg_spec_v1_open(&w, err);
    /* generates every tensor now, not at the first request */
    if (!st) st = sg_engine_init(e, w, &cfg, err);
    return st;
}

static sg_status load_one(sg_srv_model *m, const sg_srv_config *c, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st;
    m->file.size = m->fan_file.size = -1;
    if (m->demo) {
        sg_log_msg("warn", "no --model given: serving the built-in DEMO model (spec-v1 weights, "
                           "AFHQ layout, domains cat/dog/wild). Its output is NOISE until real "
                           "weights are named with --model NAME=PATH or STARGAN_MODEL");
        st = demo_engine(&m->engine, err);
    } else {
        /* private copies, not mappings: a file replaced or truncated under the server changes
         * nothing until a reload (SIGHUP), and cannot kill it with SIGBUS */
        st = sg_engine_load(&m->engine, m->path, c->fan[0] ? c->fan : NULL, &m->file,
                            c->fan[0] ? &m->fan_file : NULL, err);
    }
    /* mean landmarks are only of use (and only loaded) where there is a face network */
    if (!st && c->mean[0] && m->engine.has_fan &&
        (st = sg_engine_set_mean_landmarks(&m->engine, c->mean, err)))
        sg_engine_free(&m->engine);
    sg_precision prec = SG_PRECISION_FP32;
    if (!st && !sg_precision_parse(c->precision, &prec) &&
        (st = sg_engine_set_precision(&m->engine, prec, err))) /* weights packed here, once */
        sg_engine_free(&m->engine);
    if (st) return st;
    m->loaded = 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    m->loaded_at = (double)now.tv_sec + now.tv_nsec / 1e9;
    const sg_config *k = &m->engine.cfg;
    sg_log_msg("info",
               "model %s loaded in %.0f ms: %d px, %d domains, style %d, latent %d%s%s, "
               "precision %s",
               m->name, sg_now_ms() - t0, k->img_size, k->num_domains, k->style_dim, k->latent_dim,
               k->w_hpf > 0 ? ", face masks" : "",
               sg_srv_model_has_faces(m) ? ", face network" : "",
               sg_precision_name(m->engine.precision));
    return SG_OK;
}

/* The face detector, shared by every model: --detector, else the default file when present. */
static sg_status load_detector(sg_srv_models *ms, const sg_srv_config *c, sg_error *err) {
    const char *path = sg_detector_path(c->detector);
    if (!path) {
        sg_log_msg("info", "no face detector (%s): /v1/detect and face= answer 501",
                   strcmp(c->detector, "none") ? "no --detector and no " SG_DETECTOR_DEFAULT
                                               : "--detector none");
        return SG_OK;
    }
    double t0 = sg_now_ms();
    if (!(ms->detector = calloc(1, sizeof *ms->detector)))
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    sg_status st = sg_face_detector_load(ms->detector, path, err);
    if (st) {
        free(ms->detector);
        ms->detector = NULL;
        return st;
    }
    sg_log_msg("info", "face detector loaded in %.0f ms from %s (%zu parameters)", sg_now_ms() - t0,
               path, ms->detector->net.params);
    return SG_OK;
}

sg_status sg_srv_models_load(sg_srv_models *ms, const sg_srv_config *c, sg_error *err) {
    int n = c->n_models ? c->n_models : 1;
    ms->m = calloc((size_t)n, sizeof *ms->m);
    ms->n = 0;
    if (!ms->m) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        sg_srv_model *m = &ms->m[i];
        if (c->n_models) {
            snprintf(m->name, sizeof m->name, "%s", c->models[i].name);
            snprintf(m->path, sizeof m->path, "%s", c->models[i].path);
        } else {
            snprintf(m->name, sizeof m->name, "demo");
            m->demo = 1;
        }
        sg_status st = load_one(m, c, err);
        if (st) return st;
        ms->n = i + 1;
    }
    return load_detector(ms, c, err);
}

void sg_srv_models_free(sg_srv_models *ms) {
    for (int i = 0; i < ms->n; i++)
        if (ms->m[i].loaded) sg_engine_free(&ms->m[i].engine);
    if (ms->detector) sg_face_detector_free(ms->detector);
    free(ms->detector);
    ms->detector = NULL;
    free(ms->m);
    ms->m = NULL;
    ms->n = 0;
}

sg_srv_model *sg_srv_models_find(sg_srv_models *ms, const char *name) {
    if (ms->n == 0) return NULL;
    if (!name || !*name) return &ms->m[0];
    for (int i = 0; i < ms->n; i++)
        if (!strcmp(ms->m[i].name, name)) return &ms->m[i];
    return NULL;
}

int sg_srv_model_has_faces(const sg_srv_model *m) { return m->engine.has_fan; }

int sg_srv_model_can_align(const sg_srv_model *m) {
    return m->engine.has_fan && m->engine.has_mean_lm;
}

/* UTC, ISO 8601 with milliseconds */
static void iso_time(double t, char *out, size_t cap) {
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", base, (int)((t - (double)sec) * 1000) % 1000);
}

static cJSON *file_json(const char *path, const sg_file_info *f) {
    cJSON *o = cJSON_CreateObject();
    if (path) cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "size", (double)f->size);
    char when[40];
    iso_time((double)(f->mtime_ns / 1000000000) + (double)(f->mtime_ns % 1000000000) / 1e9, when,
             sizeof when);
    cJSON_AddStringToObject(o, "mtime", when);
    return o;
}

static cJSON *model_json(const sg_srv_model *m, int is_default) {
    const sg_config *k = &m->engine.cfg;
    cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateArray(), *fits = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddBoolToObject(o, "default", is_default);
    cJSON_AddBoolToObject(o, "demo", m->demo);
    cJSON_AddNumberToObject(o, "img_size", k->img_size);
    for (int i = 0; i < k->num_domains; i++)
        cJSON_AddItemToArray(d, cJSON_CreateString(k->domains[i]));
    cJSON_AddItemToObject(o, "domains", d);
    cJSON_AddNumberToObject(o, "style_dim", k->style_dim);
    cJSON_AddNumberToObject(o, "latent_dim", k->latent_dim);
    cJSON_AddNumberToObject(o, "max_conv_dim", k->max_conv_dim);
    cJSON_AddBoolToObject(o, "face_masks", k->w_hpf > 0);
    cJSON_AddBoolToObject(o, "face_network", sg_srv_model_has_faces(m));
    cJSON_AddStringToObject(o, "precision", sg_precision_name(m->engine.precision));
    cJSON_AddItemToArray(fits, cJSON_CreateString("crop"));
    cJSON_AddItemToArray(fits, cJSON_CreateString("stretch"));
    if (sg_srv_model_can_align(m)) cJSON_AddItemToArray(fits, cJSON_CreateString("align"));
    cJSON_AddItemToObject(o, "fits", fits);
    if (m->file.size >= 0) cJSON_AddItemToObject(o, "file", file_json(m->path, &m->file));
    if (m->fan_file.size >= 0) cJSON_AddItemToObject(o, "fan_file", file_json(NULL, &m->fan_file));
    char when[40];
    iso_time(m->loaded_at, when, sizeof when);
    cJSON_AddStringToObject(o, "loaded_at", when);
    return o;
}

char *sg_srv_models_json(const sg_srv_models *ms) { return models_json(ms, 0); }

static char *models_json(const sg_srv_models *ms, int generation) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    int demo = 0;
    for (int i = 0; i < ms->n; i++) {
        cJSON_AddItemToArray(arr, model_json(&ms->m[i], i == 0));
        demo |= ms->m[i].demo;
    }
    cJSON_AddItemToObject(root, "models", arr);
    cJSON_AddBoolToObject(root, "demo", demo);
    if (generation) cJSON_AddNumberToObject(root, "generation", generation);
    if (demo)
        cJSON_AddStringToObject(root, "note",
                                "demo model: deterministic spec-v1 weights, the output is "
                                "noise; start the server with --model NAME=PATH");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(sg_buf *o, const char *key, const char *v) {
    sg_buf_printf(o, "%s=\"", key);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') sg_buf_printf(o, "\\%c", *v);
        else if (*v == '\n') sg_buf_append(o, "\\n", 2);
        else sg_buf_append(o, v, 1);
    }
    sg_buf_append(o, "\"", 1);
}

sg_status sg_srv_models_metrics(const sg_srv_models *ms, sg_buf *o) {
    for (int i = 0; i < ms->n; i++) {
        const sg_srv_model *m = &ms->m[i];
        const sg_config *k = &m->engine.cfg;
        char domains[SG_MAX_DOMAINS * 33] = "";
        for (int d = 0; d < k->num_domains; d++) {
            if (d) strcat(domains, ",");
            strcat(domains, k->domains[d]);
        }
        sg_buf_append(o, "stargan_model_info{", 19);
        label(o, "model", m->name);
        sg_buf_printf(o, ",img_size=\"%d\",style_dim=\"%d\",latent_dim=\"%d\",", k->img_size,
                      k->style_dim, k->latent_dim);
        label(o, "domains", domains);
        sg_buf_printf(o, ",demo=\"%s\",face_masks=\"%s\",face_network=\"%s\",precision=\"%s\"} 1\n",
                      m->demo ? "true" : "false", k->w_hpf > 0 ? "true" : "false",
                      sg_srv_model_has_faces(m) ? "true" : "false",
                      sg_precision_name(m->engine.precision));
    }
    return SG_OK;
}

/* ---- generations ---------------------------------------------------------------------------- */
static void gen_free(sg_srv_gen *g) {
    for (int i = 0; i < g->n_runs; i++) sg_run_free(&g->runs[i]);
    free(g->runs);
    sg_srv_models_free(&g->models);
    free(g->json);
    sg_buf_free(&g->metrics);
    free(g);
}

sg_status sg_srv_gen_load(sg_srv_gen **out, const sg_srv_config *c, int id, sg_error *err) {
    *out = NULL;
    sg_srv_gen *g = calloc(1, sizeof *g);
    if (!g) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    atomic_init(&g->refs, 1);
    g->id = id;
    sg_buf_init(&g->metrics, 0);
    sg_status st = sg_srv_models_load(&g->models, c, err);
    int n = c->workers * g->models.n;
    if (!st && !(g->runs = calloc((size_t)(n ? n : 1), sizeof *g->runs)))
        st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < n; i++) {
        st = sg_run_init(&g->runs[i], &g->models.m[i % g->models.n].engine, err);
        if (!st && g->models.detector) /* detection runs on the default model's run states */
            st = sg_run_reserve(&g->runs[i], sg_detector_plan(&g->models.detector->net), err);
        if (!st) g->n_runs = i + 1;
    }
    if (!st && (!(g->json = models_json(&g->models, id)) ||
                sg_srv_models_metrics(&g->models, &g->metrics)))
        st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    if (st) {
        gen_free(g);
        return st;
    }
    *out = g;
    return SG_OK;
}

void sg_srv_gen_acquire(sg_srv_gen *g) { atomic_fetch_add(&g->refs, 1); }

void sg_srv_gen_release(sg_srv_gen *g) {
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) gen_free(g);
}

sg_run *sg_srv_gen_run(sg_srv_gen *g, int worker, const sg_srv_model *m) {
    return &g->runs[(size_t)worker * (size_t)g->models.n + (size_t)(m - g->models.m)];
}
