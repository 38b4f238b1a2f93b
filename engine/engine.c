#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

double sg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* model_info NULL: the files are mapped (sg_model_open); else read into private memory
 * (sg_model_load) and described in model_info / fan_info. */
static sg_status engine_open(sg_engine *e, const char *model_path, const char *fan_path,
                             sg_file_info *model_info, sg_file_info *fan_info, sg_error *err) {
    memset(e, 0, sizeof *e);
    sg_weights *w = NULL, *fan = NULL;
    sg_config cfg;
    sg_status st = model_info ? sg_model_load(model_path, &w, model_info, err)
                              : sg_model_open(model_path, &w, err);
    if (st) return st;
    if ((st = sg_config_derive(w, &cfg, err)) ||
        (fan_path && (st = model_info ? sg_model_load(fan_path, &fan, fan_info, err)
                                      : sg_model_open(fan_path, &fan, err)))) {
        sg_weights_free(w);
        return st;
    }
    if ((st = sg_engine_init(e, w, &cfg, err))) {
        sg_weights_free(fan);
        return st;
    }
    if (fan && (st = sg_engine_set_fan(e, fan, err))) {
        sg_engine_free(e);
        return st;
    }
    if (cfg.w_hpf > 0 && !e->has_fan) {
        sg_engine_free(e);
        return sg_error_set(err, SG_ERR_MISSING,
                            "model %s uses face masks (w_hpf=%d) but has no "
                            "face network: pass --fan wing.ckpt",
                            model_path, cfg.w_hpf);
    }
    return SG_OK;
}

sg_status sg_engine_open(sg_engine *e, const char *model_path, const char *fan_path,
                         sg_error *err) {
    return engine_open(e, model_path, fan_path, NULL, NULL, err);
}

sg_status sg_engine_load(sg_engine *e, const char *model_path, const char *fan_path,
                         sg_file_info *model_info, sg_file_info *fan_info, sg_error *err) {
    sg_file_info mi, fi;
    return engine_open(e, model_path, fan_path, model_info ? model_info : &mi,
                       fan_info ? fan_info : &fi, err);
}

/* The face network from the model itself, when the configuration calls for it and the source
 * has it; a source without `fan.*` tensors leaves has_fan 0. */
static sg_status bind_model_fan(sg_engine *e, sg_weights *w, const sg_config *cfg, sg_error *err) {
    if (cfg->w_hpf <= 0 && !cfg->has_fan) return SG_OK;
    sg_error e2 = {0};
    sg_status st = sg_fan_init(&e->fan, w, &e2);
    if (st == SG_OK) e->has_fan = 1;
    if (st == SG_OK || (st == SG_ERR_MISSING && !cfg->has_fan)) return SG_OK;
    return sg_error_set(err, st, "%s", e2.msg); /* present but broken: say so */
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
        (st = sg_style_encoder_init(&e->enc, cfg, w, err)) ||
        (st = bind_model_fan(e, w, cfg, err))) {
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

sg_status sg_engine_set_fan(sg_engine *e, sg_weights *fan_w, sg_error *err) {
    sg_weights_free(e->fan_w);
    e->fan_w = fan_w;
    e->has_fan = 0;
    sg_status st = sg_fan_init(&e->fan, fan_w, err);
    e->has_fan = st == SG_OK;
    return st;
}

sg_status sg_engine_set_mean_landmarks(sg_engine *e, const char *path, sg_error *err) {
    sg_status st = sg_mean_landmarks_load(path, e->mean_lm, err);
    e->has_mean_lm = st == SG_OK;
    return st;
}

void sg_engine_free(sg_engine *e) {
    sg_packed_weights_free(e->packed);
    sg_mapping_free(&e->map);
    sg_style_encoder_free(&e->enc);
    free(e->s_avg);
    free(e->s_avg_ready);
    sg_weights_free(e->w);
    sg_weights_free(e->fan_w);
    pthread_mutex_destroy(&e->s_avg_lock);
    memset(e, 0, sizeof *e);
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Arena floats of the largest call on a run state. The calls and their stages run one after
 * another, each giving back what it used: --fit align (landmarks, then the warp) before the
 * rest; the style encoder on the reference [1, 3, S, S]; a translate holds the input [1, 3, S, S]
 * and, with face masks, the two masks [1, 1, 256, 256] under the FAN's heatmaps and the masks'
 * scratch, then under the generator: its encoder, or its state under the output [1, 3, S, S]
 * and its decoder (sg_engine_encode and sg_engine_decode each do a part of that). */
static size_t run_plan(const sg_engine *e) {
    const size_t S = (size_t)e->cfg.img_size, img = sg_arena_floats(3 * S * S);
    size_t plan = img + sg_style_encoder_plan(&e->enc, 1);
    size_t gen =
        max_size(sg_generator_encode_plan(&e->gen, 1), sg_generator_state_floats(&e->gen, 1) + img +
                                                           sg_generator_decode_plan(&e->gen, 1));
    if (e->has_fan) {
        plan = max_size(plan, sg_face_landmarks_plan(&e->fan, (int)S));
        plan = max_size(plan, sg_align_plan((int)S));
        if (e->cfg.w_hpf > 0) {
            const size_t hm = sg_arena_floats((size_t)SG_FAN_OUT * SG_FAN_HM * SG_FAN_HM);
            const size_t faces = hm + max_size(sg_fan_plan(&e->fan), sg_masks_plan());
            gen = 2 * sg_arena_floats((size_t)SG_MASK_SIDE * SG_MASK_SIDE) + max_size(faces, gen);
        }
    }
    return max_size(plan, img + gen);
}

sg_status sg_run_init(sg_run *r, const sg_engine *e, sg_error *err) {
    memset(r, 0, sizeof *r);
    sg_status st = sg_arena_init(&r->arena, run_plan(e), err);
    if (!st) st = sg_workspace_init(&r->ws, SG_WORKSPACE_DEFAULT_FLOATS, err);
    if (st) sg_run_free(r);
    return st;
}

sg_status sg_run_reserve(sg_run *r, size_t floats, sg_error *err) {
    if (r->arena.cap >= floats) return SG_OK;
    sg_arena_free(&r->arena);
    return sg_arena_init(&r->arena, floats, err);
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

static sg_status align_ready(const sg_engine *e, sg_error *err) {
    if (!e->has_fan)
        return sg_error_set(err, SG_ERR_ARG,
                            "--fit align needs a face network: pass --fan wing.ckpt");
    if (!e->has_mean_lm)
        return sg_error_set(err, SG_ERR_ARG,
                            "--fit align needs the mean landmarks: pass --mean "
                            "celeba_lm_mean.npz");
    return SG_OK;
}

/* aligned = sq (the photo stretched to img_size²) aligned by lm, which the FAN finds first
 * unless have_lm */
static sg_status align_square_impl(const sg_engine *e, sg_run *r, const sg_image *sq, double *lm,
                                   int have_lm, sg_image *aligned, double *mat, sg_error *err) {
    memset(aligned, 0, sizeof *aligned);
    sg_status st = align_ready(e, err);
    if (!st && (sq->w != e->cfg.img_size || sq->h != e->cfg.img_size))
        st = sg_error_set(err, SG_ERR_SHAPE, "align: the square is %dx%d, not img_size²", sq->w,
                          sq->h);
    if (!st && !have_lm) st = sg_face_landmarks(&e->fan, sq, lm, &r->arena, &r->ws, err);
    if (!st) st = sg_face_align(sq, lm, e->mean_lm, aligned, mat, &r->arena, err);
    return st;
}

/* photo aligned: the FAN's landmarks of its square (looked up in keep first, put there when
 * found; keep may be NULL), the similarity map into mat (may be NULL) */
static sg_status run_align_impl(const sg_engine *e, sg_run *r, const sg_image *photo,
                                sg_landmark_store *keep, sg_image *aligned, double *mat,
                                sg_error *err) {
    memset(aligned, 0, sizeof *aligned);
    sg_status st = align_ready(e, err);
    if (st) return st;
    sg_image sq = {0};
    double lm[2 * SG_LANDMARKS];
    st = sg_face_square(photo, e->cfg.img_size, &sq, err);
    const int have = !st && keep && keep->get(keep, &sq, lm);
    if (!st) st = align_square_impl(e, r, &sq, lm, have, aligned, mat, err);
    if (!st && !have && keep) keep->put(keep, lm);
    sg_image_free(&sq);
    return st;
}

/* The photo the networks see: aligned first for SG_FIT_ALIGN (then stretched, a no-op at
 * img_size²), else the photo itself with the caller's fit. */
static sg_status fit_photo(const sg_engine *e, sg_run *r, const sg_image *photo, sg_fit *fit,
                           sg_image *aligned, const sg_image **use, sg_error *err) {
    *use = photo;
    memset(aligned, 0, sizeof *aligned);
    if (*fit != SG_FIT_ALIGN) return SG_OK;
    sg_status st = run_align_impl(e, r, photo, NULL, aligned, NULL, err);
    *use = aligned, *fit = SG_FIT_STRETCH;
    return st;
}

static sg_status run_style_ref_impl(const sg_engine *e, sg_run *r, const sg_image *ref, sg_fit fit,
                                    int y, float *s, sg_error *err) {
    sg_status st = check_domain(e, y, err);
    if (st) return st;
    const int S = e->cfg.img_size;
    sg_image aligned;
    const sg_image *img;
    if ((st = fit_photo(e, r, ref, &fit, &aligned, &img, err))) return st;
    size_t mark = sg_arena_mark(&r->arena);
    sg_tensor x = sg_arena_tensor(&r->arena, 1, 3, S, S); /* [1, 3, S, S] */
    if (!x.data) st = sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    if (!st) st = sg_image_to_tensor(img, fit, S, &x, 0, err);
    if (!st) st = sg_style_encoder_forward(&e->enc, &x, &y, s, &r->arena, &r->ws, err);
    sg_arena_reset(&r->arena, mark);
    sg_image_free(&aligned);
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

static sg_status run_style_latent_impl(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                       sg_error *err) {
    sg_status st = check_domain(e, y, err);
    if (st) return st;
    if (!(psi >= 0.0f && psi <= 1.0f))
        return sg_error_set(err, SG_ERR_ARG, "psi must be in [0, 1]");
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

/* masks[0..1] [1, 1, 256, 256] (arena) from the FAN on x [1, 3, S, S] */
static sg_status face_masks(const sg_engine *e, sg_run *r, const sg_tensor *x, sg_tensor masks[2],
                            sg_error *err) {
    const int M = SG_MASK_SIDE;
    masks[0] = sg_arena_tensor(&r->arena, 1, 1, M, M);
    masks[1] = sg_arena_tensor(&r->arena, 1, 1, M, M);
    const size_t mark = sg_arena_mark(&r->arena);
    sg_tensor hm = sg_arena_tensor(&r->arena, 1, SG_FAN_OUT, SG_FAN_HM, SG_FAN_HM);
    if (!masks[0].data || !masks[1].data || !hm.data)
        return sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    sg_status st = sg_fan_forward(&e->fan, x, &hm, &r->arena, &r->ws, err);
    if (!st) st = sg_masks_from_heatmaps(&hm, masks, &r->arena, err);
    sg_arena_reset(&r->arena, mark); /* the heatmaps; the masks stay */
    return st;
}

/* ---- the translation: the photo encoded (fit, masks, the generator's encoder), then decoded
 * with a style; sg_engine_translate keeps the encoded state in the arena, sg_engine_encode copies
 * it out (sg_encoded) for any number of sg_engine_decode calls ------------------------------- */
struct sg_encoded {
    sg_generator_state st; /* views into mem: h [1, C, s, s], the skips [1, C_k, side, side] */
    sg_tensor masks[2];    /* [1, 1, 256, 256] each into mem (w_hpf > 0), else data NULL */
    float *mem;
    size_t bytes; /* mem and this struct */
};

/* The photo's generator state and masks in the run's arena, left above its former top (the
 * caller resets): the fit (or alignment), x [1, 3, S, S], the FAN's masks (w_hpf > 0), the
 * encoder. */
static sg_status encode_impl(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                             sg_generator_state *st, sg_tensor masks[2], sg_timing *t,
                             sg_error *err) {
    const int S = e->cfg.img_size, hpf = e->cfg.w_hpf > 0;
    memset(masks, 0, 2 * sizeof *masks);
    if (t) t->faces_ms = t->encode_ms = 0;
    if (hpf && !e->has_fan)
        return sg_error_set(err, SG_ERR_MISSING,
                            "this model uses face masks (w_hpf=%d) but has "
                            "no face network: pass --fan wing.ckpt",
                            e->cfg.w_hpf);
    double t0 = sg_now_ms();
    sg_image aligned;
    const sg_image *img;
    sg_status rc = fit_photo(e, r, src, &fit, &aligned, &img, err);
    if (rc) return rc;
    sg_tensor x = sg_arena_tensor(&r->arena, 1, 3, S, S); /* [1, 3, S, S] */
    if (!x.data) rc = sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    if (!rc) rc = sg_image_to_tensor(img, fit, S, &x, 0, err);
    if (!rc && hpf) rc = face_masks(e, r, &x, masks, err);
    double t1 = sg_now_ms();
    if (t) t->faces_ms = (hpf || img != src) ? t1 - t0 : 0;
    if (!rc) rc = sg_generator_encode(&e->gen, &x, st, &r->arena, &r->ws, err);
    if (t) t->encode_ms = sg_now_ms() - t1;
    sg_image_free(&aligned);
    return rc;
}

/* out = the decoder on st with style s [style_dim] (and the masks, w_hpf > 0), through y [1, 3,
 * S, S] in the arena; leaves the arena as it found it */
static sg_status decode_impl(const sg_engine *e, sg_run *r, const sg_generator_state *st,
                             const sg_tensor masks[2], const float *s, sg_image *out, sg_timing *t,
                             sg_error *err) {
    const int S = e->cfg.img_size;
    const double t0 = sg_now_ms();
    const size_t mark = sg_arena_mark(&r->arena);
    sg_tensor y = sg_arena_tensor(&r->arena, 1, 3, S, S);
    sg_status rc = y.data ? SG_OK : sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    if (!rc)
        rc = sg_generator_decode(&e->gen, st, s, e->cfg.w_hpf > 0 ? masks : NULL, &y, &r->arena,
                                 &r->ws, err);
    if (t) t->generator_ms = sg_now_ms() - t0;
    if (!rc) rc = sg_image_from_tensor(&y, 0, out, err);
    sg_arena_reset(&r->arena, mark);
    return rc;
}

static sg_status run_translate_impl(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                                    const float *s, sg_image *out, sg_timing *t, sg_error *err) {
    const size_t mark = sg_arena_mark(&r->arena);
    sg_generator_state st;
    sg_tensor masks[2];
    sg_status rc = encode_impl(e, r, src, fit, &st, masks, t, err);
    if (!rc) rc = decode_impl(e, r, &st, masks, s, out, t, err);
    if (t) t->generator_ms = (rc ? 0 : t->generator_ms) + t->encode_ms; /* the whole generator */
    sg_arena_reset(&r->arena, mark);
    return rc;
}

/* A tensor's data copied to *dst, the view moved there; *dst advanced (none when absent). */
static void copy_out(sg_tensor *v, float **dst) {
    if (!v->data) return;
    const size_t numel = sg_tensor_numel(v);
    memcpy(*dst, v->data, numel * sizeof(float));
    v->data = *dst, *dst += numel;
}

/* *out = a heap copy of the state and masks (views into the arena) */
static sg_status encoded_copy(const sg_generator_state *st, const sg_tensor masks[2],
                              sg_encoded **out, sg_error *err) {
    sg_encoded *enc = calloc(1, sizeof *enc);
    if (!enc) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    enc->st = *st, enc->masks[0] = masks[0], enc->masks[1] = masks[1];
    sg_tensor *v[] = {&enc->st.h,       &enc->st.skip[0], &enc->st.skip[1],
                      &enc->st.skip[2], &enc->masks[0],   &enc->masks[1]};
    size_t floats = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        floats += v[i]->data ? sg_tensor_numel(v[i]) : 0;
    float *p = enc->mem = malloc(floats * sizeof(float));
    if (!p) {
        free(enc);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory (%zu bytes for an encoded photo)",
                            floats * sizeof(float));
    }
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) copy_out(v[i], &p);
    enc->bytes = sizeof *enc + floats * sizeof(float);
    *out = enc;
    return SG_OK;
}

static sg_status run_encode_impl(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                                 sg_encoded **out, sg_timing *t, sg_error *err) {
    *out = NULL;
    const size_t mark = sg_arena_mark(&r->arena);
    sg_generator_state st;
    sg_tensor masks[2];
    sg_status rc = encode_impl(e, r, src, fit, &st, masks, t, err);
    if (!rc) rc = encoded_copy(&st, masks, out, err);
    sg_arena_reset(&r->arena, mark);
    return rc;
}

static int same_shape(const sg_tensor *a, const sg_tensor *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

/* enc was encoded by an engine of e's configuration: the state's shapes, the masks with w_hpf */
static sg_status encoded_check(const sg_engine *e, const sg_encoded *enc, sg_error *err) {
    sg_generator_state want;
    sg_generator_state_shape(&e->gen, 1, &want);
    int ok = same_shape(&enc->st.h, &want.h);
    for (int k = 0; k < SG_GEN_SKIPS; k++) ok = ok && same_shape(&enc->st.skip[k], &want.skip[k]);
    const sg_tensor m = sg_tensor_make(NULL, 1, 1, SG_MASK_SIDE, SG_MASK_SIDE);
    for (int i = 0; i < 2 && e->cfg.w_hpf > 0; i++)
        ok = ok && enc->masks[i].data && same_shape(&enc->masks[i], &m);
    if (!ok)
        return sg_error_set(err, SG_ERR_ARG,
                            "the encoded photo was made by a model of another configuration");
    return SG_OK;
}

static sg_status run_decode_impl(const sg_engine *e, sg_run *r, const sg_encoded *enc,
                                 const float *s, sg_image *out, sg_timing *t, sg_error *err) {
    sg_status rc =
        enc ? encoded_check(e, enc, err) : sg_error_set(err, SG_ERR_ARG, "no encoded photo");
    if (!rc) rc = decode_impl(e, r, &enc->st, enc->masks, s, out, t, err);
    return rc;
}

/* The arena floats decode_styles_impl needs for k styles: h repeated and the head's output,
 * under the head's plan and then the output and a tail (sg_generator_decode_plan). */
static size_t styles_plan(const sg_engine *e, int k) {
    const size_t S = (size_t)e->cfg.img_size;
    sg_generator_state st;
    sg_tensor head;
    sg_generator_state_shape(&e->gen, k, &st);
    sg_generator_head_shape(&e->gen, k, &head);
    const size_t held =
        sg_arena_floats(sg_tensor_numel(&st.h)) + sg_arena_floats(sg_tensor_numel(&head));
    return held + max_size(sg_generator_head_plan(&e->gen, k),
                           sg_arena_floats(3 * S * S) + sg_generator_decode_plan(&e->gen, 1));
}

/* out[i] = enc[i] decoded with style i, i < k: the head as one batch, the tails one by one */
static sg_status decode_many_impl(const sg_engine *e, sg_run *r, const sg_encoded *const *enc,
                                  const float *s, int k, sg_image *out, sg_timing *t,
                                  sg_error *err) {
    const int S = e->cfg.img_size, sd = e->cfg.style_dim;
    sg_status rc = k < 1 || k > SG_ENGINE_MAX_STYLES
                       ? sg_error_set(err, SG_ERR_ARG, "%d styles in one decode (1 to %d)", k,
                                      SG_ENGINE_MAX_STYLES)
                       : SG_OK;
    for (int i = 0; !rc && i < k; i++)
        rc = enc[i] ? encoded_check(e, enc[i], err)
                    : sg_error_set(err, SG_ERR_ARG, "no encoded photo");
    if (rc) return rc;
    const size_t mark = sg_arena_mark(&r->arena);
    if (mark == 0 && (rc = sg_run_reserve(r, styles_plan(e, k), err))) return rc;
    const double t0 = sg_now_ms();
    sg_tensor head, h = enc[0]->st.h; /* the photos' h [1, C, s, s] stacked: [k, C, s, s] */
    const size_t hn = sg_tensor_numel(&h);
    sg_generator_head_shape(&e->gen, k, &head);
    h.n = k, h.data = sg_arena_alloc(&r->arena, hn * k);
    head.data = sg_arena_alloc(&r->arena, sg_tensor_numel(&head));
    if (!h.data || !head.data) rc = sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    for (int i = 0; !rc && i < k; i++)
        memcpy(h.data + hn * i, enc[i]->st.h.data, hn * sizeof(float));
    if (!rc) rc = sg_generator_decode_head(&e->gen, &h, s, &head, &r->arena, &r->ws, err);
    const size_t one = sg_tensor_numel(&head) / k, tail_mark = sg_arena_mark(&r->arena);
    for (int i = 0; !rc && i < k; i++) {
        sg_tensor hi = head, y = sg_arena_tensor(&r->arena, 1, 3, S, S);
        hi.n = 1, hi.data = head.data + one * i;
        if (!y.data) rc = sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
        if (!rc)
            rc = sg_generator_decode_tail(&e->gen, &enc[i]->st, &hi, s + (size_t)sd * i,
                                          e->cfg.w_hpf > 0 ? enc[i]->masks : NULL, &y, &r->arena,
                                          &r->ws, err);
        if (!rc) rc = sg_image_from_tensor(&y, 0, &out[i], err);
        sg_arena_reset(&r->arena, tail_mark);
    }
    if (t) t->generator_ms = sg_now_ms() - t0;
    if (rc)
        for (int i = 0; i < k; i++) sg_image_free(&out[i]);
    sg_arena_reset(&r->arena, mark);
    return rc;
}

size_t sg_encoded_bytes(const sg_encoded *enc) { return enc ? enc->bytes : 0; }

void sg_encoded_free(sg_encoded *enc) {
    if (!enc) return;
    free(enc->mem);
    free(enc);
}

/* ---- precision: every entry point runs its networks with the engine's packed weights in use on
 * the calling thread (NULL: plain fp32), and puts the caller's setting back ------------------------ */
sg_status sg_engine_style_ref(const sg_engine *e, sg_run *r, const sg_image *ref, sg_fit fit, int y,
                              float *s, sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_style_ref_impl(e, r, ref, fit, y, s, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_style_latent(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                 sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_style_latent_impl(e, seed, y, psi, s, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_translate(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                              const float *s, sg_image *out, sg_timing *t, sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_translate_impl(e, r, src, fit, s, out, t, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_encode(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                           sg_encoded **out, sg_timing *t, sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_encode_impl(e, r, src, fit, out, t, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_decode(const sg_engine *e, sg_run *r, const sg_encoded *enc, const float *s,
                           sg_image *out, sg_timing *t, sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_decode_impl(e, r, enc, s, out, t, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_decode_styles(const sg_engine *e, sg_run *r, const sg_encoded *enc,
                                  const float *s, int k, sg_image *out, sg_timing *t,
                                  sg_error *err) {
    const sg_encoded *same[SG_ENGINE_MAX_STYLES];
    for (int i = 0; i < k && i < SG_ENGINE_MAX_STYLES; i++) same[i] = enc;
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = decode_many_impl(e, r, same, s, k, out, t, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_decode_many(const sg_engine *e, sg_run *r, const sg_encoded *const *enc,
                                const float *s, int k, sg_image *out, sg_timing *t, sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = decode_many_impl(e, r, enc, s, k, out, t, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_align(const sg_engine *e, sg_run *r, const sg_image *photo, sg_image *aligned,
                          sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_align_impl(e, r, photo, NULL, aligned, NULL, err);
    sg_packed_use(old);
    return st;
}
sg_status sg_engine_align_kept(const sg_engine *e, sg_run *r, const sg_image *photo,
                               sg_landmark_store *keep, sg_image *aligned, double mat[9],
                               sg_error *err) {
    sg_packed_weights *old = sg_packed_use(e->packed);
    const sg_status st = run_align_impl(e, r, photo, keep, aligned, mat, err);
    sg_packed_use(old);
    return st;
}

/* A mid-grey photo through every network the engine has (style encoder, mapping network and
 * mean style, FAN, generator): each layer's weights are packed once, here at load. */
static sg_status warm_up(sg_engine *e, sg_error *err) {
    const int S = e->cfg.img_size;
    sg_run r;
    sg_image img = {0}, out = {0};
    sg_status st = sg_run_init(&r, e, err);
    if (st) return st;
    img.w = img.h = S, img.pixels = malloc((size_t)3 * S * S);
    float *s = malloc(sizeof(float) * (size_t)e->cfg.style_dim);
    if (!img.pixels || !s) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    else memset(img.pixels, 128, (size_t)3 * S * S);
    if (!st) st = sg_engine_style_ref(e, &r, &img, SG_FIT_CROP, 0, s, err);
    if (!st) st = sg_engine_style_latent(e, 1, 0, 1.0f, s, err);
    if (!st && (e->cfg.w_hpf <= 0 || e->has_fan))
        st = sg_engine_translate(e, &r, &img, SG_FIT_CROP, s, &out, NULL, err);
    if (!st && e->has_fan && e->cfg.w_hpf <= 0) { /* a FAN the generator does not call */
        sg_packed_weights *old = sg_packed_use(e->packed);
        double lm[2 * SG_LANDMARKS];
        st = sg_face_landmarks(&e->fan, &img, lm, &r.arena, &r.ws, err);
        sg_packed_use(old);
    }
    sg_image_free(&out);
    free(img.pixels), free(s);
    sg_run_free(&r);
    return st;
}

sg_status sg_engine_set_precision(sg_engine *e, sg_precision p, sg_error *err) {
    sg_packed_weights_free(e->packed);
    e->packed = NULL, e->precision = SG_PRECISION_FP32;
    sg_status st = sg_packed_weights_init(&e->packed, p, err);
    if (!st) e->precision = p, st = warm_up(e, err);
    if (st) {
        sg_packed_weights_free(e->packed);
        e->packed = NULL, e->precision = SG_PRECISION_FP32;
    }
    return st;
}
