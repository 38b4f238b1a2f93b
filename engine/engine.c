#include "engine.h"

#include <stdlib.h>
#include <string.h>

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

sg_status sg_engine_open(sg_engine *e, const char *model_path, sg_error *err) {
    memset(e, 0, sizeof *e);
    sg_weights *w = NULL;
    sg_config cfg;
    sg_status st = sg_model_open(model_path, &w, err);
    if (st) return st;
    if ((st = sg_config_derive(w, &cfg, err))) {
        sg_weights_free(w);
        return st;
    }
    return sg_engine_init(e, w, &cfg, err);
}

static sg_status init_state(sg_engine *e, sg_error *err) {
    const int S = e->cfg.img_size;
    /* one image: the larger network plan, plus the input and output tensors */
    size_t plan = max_sz(sg_generator_plan(&e->gen, 1), sg_style_encoder_plan(&e->enc, 1));
    sg_status st = sg_arena_init(&e->arena, plan + 2 * 3 * (size_t)S * S + 64, err);
    if (st) return st;
    if ((st = sg_workspace_init(&e->ws, SG_WORKSPACE_DEFAULT_FLOATS, err))) return st;
    size_t nd = (size_t)e->cfg.num_domains;
    e->s_avg = calloc(nd * (size_t)e->cfg.style_dim, sizeof(float));
    e->s_avg_ready = calloc(nd, 1);
    if (!e->s_avg || !e->s_avg_ready) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    return SG_OK;
}

sg_status sg_engine_init(sg_engine *e, sg_weights *w, const sg_config *cfg, sg_error *err) {
    memset(e, 0, sizeof *e);
    e->w = w;
    e->cfg = *cfg;
    sg_status st;
    if ((st = sg_generator_init(&e->gen, cfg, w, err)) ||
        (st = sg_mapping_init(&e->map, cfg, w, err)) ||
        (st = sg_style_encoder_init(&e->enc, cfg, w, err)) || (st = init_state(e, err))) {
        sg_engine_free(e);
        return st;
    }
    return SG_OK;
}

void sg_engine_free(sg_engine *e) {
    sg_mapping_free(&e->map);
    sg_style_encoder_free(&e->enc);
    sg_arena_free(&e->arena);
    sg_workspace_free(&e->ws);
    free(e->s_avg);
    free(e->s_avg_ready);
    sg_weights_free(e->w);
    memset(e, 0, sizeof *e);
}

static sg_status check_domain(const sg_engine *e, int y, sg_error *err) {
    if (y < 0 || y >= e->cfg.num_domains)
        return sg_error_set(err, SG_ERR_ARG, "domain %d out of range [0, %d)", y,
                            e->cfg.num_domains);
    return SG_OK;
}

sg_status sg_engine_style_ref(sg_engine *e, const sg_image *ref, sg_fit fit, int y, float *s,
                              sg_error *err) {
    sg_status st = check_domain(e, y, err);
    if (st) return st;
    const int S = e->cfg.img_size;
    size_t mark = sg_arena_mark(&e->arena);
    sg_tensor x = sg_arena_tensor(&e->arena, 1, 3, S, S); /* [1, 3, S, S] */
    if (!x.data) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    st = sg_image_to_tensor(ref, fit, S, &x, 0, err);
    if (!st) st = sg_style_encoder_forward(&e->enc, &x, &y, s, &e->arena, &e->ws, err);
    sg_arena_reset(&e->arena, mark);
    return st;
}

sg_status sg_engine_style_latent(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                 sg_error *err) {
    sg_status st = check_domain(e, y, err);
    if (st) return st;
    const int D = e->cfg.style_dim;
    float z[SG_MAPPING_HIDDEN];
    float scratch[2 * SG_MAPPING_HIDDEN];
    if (e->cfg.latent_dim > SG_MAPPING_HIDDEN)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "latent_dim %d too large", e->cfg.latent_dim);
    sg_latent_sample(seed, z, e->cfg.latent_dim);
    if ((st = sg_mapping_forward(&e->map, z, &y, 1, s, scratch, err))) return st;
    if (psi == 1.0f) return SG_OK;
    float *avg = e->s_avg + (size_t)y * D;
    if (!e->s_avg_ready[y]) {
        if ((st = sg_style_mean(&e->map, y, SG_STYLE_MEAN_DRAWS, avg, err))) return st;
        e->s_avg_ready[y] = 1;
    }
    sg_style_truncate(s, avg, D, psi);
    return SG_OK;
}

sg_status sg_engine_translate(sg_engine *e, const sg_image *src, sg_fit fit, const float *s,
                              sg_image *out, sg_error *err) {
    const int S = e->cfg.img_size;
    if (e->cfg.w_hpf > 0)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "this model (w_hpf %d) needs face masks from the FAN network, which "
                            "this build does not compute yet", e->cfg.w_hpf);
    size_t mark = sg_arena_mark(&e->arena);
    sg_tensor x = sg_arena_tensor(&e->arena, 1, 3, S, S);
    sg_tensor y = sg_arena_tensor(&e->arena, 1, 3, S, S);
    if (!x.data || !y.data) return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    sg_status st = sg_image_to_tensor(src, fit, S, &x, 0, err);
    if (!st) st = sg_generator_forward(&e->gen, &x, s, NULL, &y, &e->arena, &e->ws, err);
    if (!st) st = sg_image_from_tensor(&y, 0, out, err);
    sg_arena_reset(&e->arena, mark);
    return st;
}
