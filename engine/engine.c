#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

double sg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

sg_status sg_engine_open(sg_engine *e, const char *model_path, const char *fan_path,
                         sg_error *err) {
    memset(e, 0, sizeof *e);
    sg_weights *w = NULL, *fan = NULL;
    sg_config cfg;
    sg_status st = sg_model_open(model_path, &w, err);
    if (st) return st;
    if ((st = sg_config_derive(w, &cfg, err)) || (fan_path && (st = sg_model_open(fan_path, &fan, err)))) {
        sg_weights_free(w);
        return st;
    }
    if ((st = sg_engine_init(e, w, &cfg, err))) {
        sg_weights_free(fan);
        return st;
    }
    e->fan_w = fan;
    return SG_OK;
}

sg_status sg_engine_init(sg_engine *e, sg_weights *w, const sg_config *cfg, sg_error *err) {
    memset(e, 0, sizeof *e);
    e->w = w;
    e->cfg = *cfg;
    pthread_mutex_init(&e->s_avg_lock, NULL);
    size_t nd = (size_t)cfg->num_domains;
    sg_status st;
    if ((st = sg_generator_init(&e->gen, cfg, w, err)) ||
        (st = sg_mapping_init(&e->map, cfg, w, err)) ||
        (st = sg_style_encoder_init(&e->enc, cfg, w, err))) {
        sg_engine_free(e);
        return st;
    }
    e->s_avg = calloc(nd * (size_t)cfg->style_dim, sizeof(float));
    e->s_avg_ready = calloc(nd, 1);
    if (!e->s_avg || !e->s_avg_ready) {
        sg_engine_free(e);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    return SG_OK;
}

void sg_engine_free(sg_engine *e) {
    sg_mapping_free(&e->map);
    sg_style_encoder_free(&e->enc);
    free(e->s_avg);
    free(e->s_avg_ready);
    sg_weights_free(e->w);
    sg_weights_free(e->fan_w);
    pthread_mutex_destroy(&e->s_avg_lock);
    memset(e, 0, sizeof *e);
}

sg_status sg_run_init(sg_run *r, const sg_engine *e, sg_error *err) {
    memset(r, 0, sizeof *r);
    const size_t S = (size_t)e->cfg.img_size;
    size_t gen = sg_generator_plan(&e->gen, 1), enc = sg_style_encoder_plan(&e->enc, 1);
    /* the larger network plan, plus the input and output tensors */
    sg_status st = sg_arena_init(&r->arena, (gen > enc ? gen : enc) + 2 * 3 * S * S + 64, err);
    if (!st) st = sg_workspace_init(&r->ws, SG_WORKSPACE_DEFAULT_FLOATS, err);
    if (st) sg_run_free(r);
    return st;
}

void sg_run_free(sg_run *r) {
    sg_arena_free(&r->arena);
    sg_workspace_free(&r->ws);
}

static sg_status check_domain(const sg_engine *e, int y, sg_error *err) {
    if (y < 0 || y >= e->cfg.num_domains)
        return sg_error_set(err, SG_ERR_ARG, "domain %d out of range [0, %d)", y,
                            e->cfg.num_domains);
    return SG_OK;
}

sg_status sg_engine_style_ref(const sg_engine *e, sg_run *r, const sg_image *ref, sg_fit fit,
                              int y, float *s, sg_error *err) {
    sg_status st = check_domain(e, y, err);
    if (st) return st;
    const int S = e->cfg.img_size;
    size_t mark = sg_arena_mark(&r->arena);
    sg_tensor x = sg_arena_tensor(&r->arena, 1, 3, S, S); /* [1, 3, S, S] */
    if (!x.data) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    st = sg_image_to_tensor(ref, fit, S, &x, 0, err);
    if (!st) st = sg_style_encoder_forward(&e->enc, &x, &y, s, &r->arena, &r->ws, err);
    sg_arena_reset(&r->arena, mark);
    return st;
}

/* The domain's mean style, computed once (the first caller computes, others wait). */
static sg_status style_mean(sg_engine *e, int y, const float **avg, sg_error *err) {
    sg_status st = SG_OK;
    float *p = e->s_avg + (size_t)y * e->cfg.style_dim;
    pthread_mutex_lock(&e->s_avg_lock);
    if (!e->s_avg_ready[y]) {
        st = sg_style_mean(&e->map, y, SG_STYLE_MEAN_DRAWS, p, err);
        e->s_avg_ready[y] = st == SG_OK;
    }
    pthread_mutex_unlock(&e->s_avg_lock);
    *avg = p;
    return st;
}

sg_status sg_engine_style_latent(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                 sg_error *err) {
    sg_status st = check_domain(e, y, err);
    if (st) return st;
    if (!(psi >= 0.0f && psi <= 1.0f)) return sg_error_set(err, SG_ERR_ARG, "psi must be in [0, 1]");
    if (e->cfg.latent_dim > SG_MAPPING_HIDDEN)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "latent_dim %d too large", e->cfg.latent_dim);
    float z[SG_MAPPING_HIDDEN], scratch[2 * SG_MAPPING_HIDDEN];
    sg_latent_sample(seed, z, e->cfg.latent_dim);
    if ((st = sg_mapping_forward(&e->map, z, &y, 1, s, scratch, err))) return st;
    if (psi == 1.0f) return SG_OK;
    const float *avg;
    if ((st = style_mean(e, y, &avg, err))) return st;
    sg_style_truncate(s, avg, e->cfg.style_dim, psi);
    return SG_OK;
}

sg_status sg_engine_translate(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                              const float *s, sg_image *out, sg_timing *t, sg_error *err) {
    const int S = e->cfg.img_size;
    if (e->cfg.w_hpf > 0)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "this model (w_hpf %d) needs face masks from the FAN network, which "
                            "this build does not compute yet", e->cfg.w_hpf);
    size_t mark = sg_arena_mark(&r->arena);
    sg_tensor x = sg_arena_tensor(&r->arena, 1, 3, S, S);
    sg_tensor y = sg_arena_tensor(&r->arena, 1, 3, S, S);
    if (!x.data || !y.data) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    sg_status st = sg_image_to_tensor(src, fit, S, &x, 0, err);
    double t0 = sg_now_ms();
    if (!st) st = sg_generator_forward(&e->gen, &x, s, NULL, &y, &r->arena, &r->ws, err);
    if (t) t->generator_ms = sg_now_ms() - t0;
    if (!st) st = sg_image_from_tensor(&y, 0, out, err);
    sg_arena_reset(&r->arena, mark);
    return st;
}
