/* /v1/interpolate and /v1/grid: many generator runs for one answer. Parsing (HTTP thread) checks
 * every field strictly and sizes the work; running (workers) is split into steps: one per style
 * (decoding a reference and running the style encoder), then one per frame or cell, the last one
 * also encoding. Each cell is computed exactly as /v1/translate computes the same inputs (same
 * decode, fit, style and generator calls), so a grid's cells are the bytes /v1/translate and
 * `stargan translate` answer. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "server.h"
#include "../image/image.h"

/* ---- the work budget ------------------------------------------------------------------------ */
void sg_work_init(sg_work_budget *b, int64_t cap) {
    pthread_mutex_init(&b->mu, NULL);
    b->cap = cap;
    b->used = 0;
}

void sg_work_free(sg_work_budget *b) { pthread_mutex_destroy(&b->mu); }

int sg_work_admit(sg_work_budget *b, int64_t cost, sg_http_error *e) {
    if (cost > b->cap)
        return sg_http_fail(e, 413, "too_much_work",
                            "this request is %lld pixels of work (frames or cells x img_size^2), "
                            "over the server's --max-work of %lld",
                            (long long)cost, (long long)b->cap);
    pthread_mutex_lock(&b->mu);
    int ok = b->used + cost <= b->cap;
    if (ok) b->used += cost;
    pthread_mutex_unlock(&b->mu);
    if (!ok)
        return sg_http_fail(e, 503, "overloaded",
                            "other long requests fill --max-work; retry later");
    return 0;
}

void sg_work_release(sg_work_budget *b, int64_t cost) {
    pthread_mutex_lock(&b->mu);
    b->used -= cost;
    if (b->used < 0) b->used = 0;
    pthread_mutex_unlock(&b->mu);
}

/* ---- fields --------------------------------------------------------------------------------- */
/* The request's fields in order: form parts, then query parameters, then a raw image body. */
typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
    int is_file;
} item;

typedef struct {
    item it[SG_MP_MAX_PARTS + SG_MAX_QUERY + 1];
    int n;
} items;

static void collect(const sg_task_input *in, items *l) {
    l->n = 0;
    for (int i = 0; in->form && i < in->form->n; i++) {
        const sg_mp_part *p = &in->form->parts[i];
        l->it[l->n++] = (item){p->name, p->data, p->len, p->is_file};
    }
    for (int i = 0; i < in->n_query && i < SG_MAX_QUERY; i++)
        l->it[l->n++] = (item){in->query_keys[i], (const uint8_t *)in->query_values[i],
                               strlen(in->query_values[i]), 0};
    if (in->raw_image && in->raw_field)
        l->it[l->n++] = (item){in->raw_field, in->raw_image, in->raw_len, 1};
}

static const item *find(const items *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->it[i].name, name)) return &l->it[i];
    return NULL;
}

static int count(const items *l, const char *name) {
    int n = 0;
    for (int i = 0; i < l->n; i++) n += !strcmp(l->it[i].name, name);
    return n;
}

/* A text value copied into out (NUL-terminated). */
static int text(const item *it, char *out, size_t cap, sg_http_error *e) {
    if (it->len >= cap || memchr(it->data, 0, it->len))
        return sg_http_fail(e, 400, "bad_field", "field '%s' is too long or not text", it->name);
    memcpy(out, it->data, it->len);
    out[it->len] = 0;
    return 0;
}

/* Plain decimal digits only: no sign, space, or anything after. */
static int parse_uint(const char *s, uint64_t max, uint64_t *v) {
    uint64_t x = 0;
    if (!*s || strlen(s) > 20) return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    if (x > max) return -1;
    *v = x;
    return 0;
}

static int int_field(const items *l, const char *name, int lo, int hi, int def, int *out,
                     sg_http_error *e) {
    const item *it = find(l, name);
    char v[24];
    uint64_t x;
    *out = def;
    if (!it) return 0;
    if (text(it, v, sizeof v, e)) return -1;
    if (parse_uint(v, (uint64_t)hi, &x) || (int64_t)x < lo)
        return sg_http_fail(e, 400, "bad_field", "%s must be an integer in %d..%d", name, lo, hi);
    *out = (int)x;
    return 0;
}

static int image_item(const item *it, sg_http_error *e) {
    if (sg_image_sniff(it->data, it->len) == SG_FORMAT_UNKNOWN)
        return sg_http_fail(e, 415, "unsupported_media_type", "'%s' is not a PNG or JPEG image",
                            it->name);
    return 0;
}

static uint64_t random_seed(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)(sg_now_ms() * 1e3);
    return x & ((1ull << 53) - 1); /* a JavaScript number holds it exactly */
}

/* A JSON array of exactly dim finite numbers and nothing after it. */
static int style_array(const item *it, int dim, float **out, sg_http_error *e) {
    char *s = malloc(it->len + 1);
    if (!s) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    memcpy(s, it->data, it->len);
    s[it->len] = 0;
    const char *end = NULL;
    cJSON *a = memchr(it->data, 0, it->len) ? NULL : cJSON_ParseWithOpts(s, &end, 1);
    int ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == dim;
    float *v = ok ? calloc((size_t)dim, sizeof *v) : NULL;
    int i = 0;
    for (cJSON *x = a ? a->child : NULL; ok && v && x; x = x->next, i++) {
        ok = cJSON_IsNumber(x) && isfinite(x->valuedouble) && fabs(x->valuedouble) < 1e30;
        if (ok) v[i] = (float)x->valuedouble;
    }
    cJSON_Delete(a);
    free(s);
    if (!ok) {
        free(v);
        return sg_http_fail(e, 400, "bad_field",
                            "style must be a JSON array of %d numbers (and nothing after it)", dim);
    }
    if (!v) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    *out = v;
    return 0;
}

static int model_field(sg_media *m, const items *l, sg_srv_models *ms, sg_http_error *e) {
    const item *it = find(l, "model");
    char v[128] = "";
    if (it && text(it, v, sizeof v, e)) return -1;
    m->model = sg_srv_models_find(ms, it ? v : NULL);
    if (!m->model)
        return sg_http_fail(e, 404, "unknown_model", "no model named '%s' (see /v1/models)", v);
    return 0;
}

static int domain_of(sg_media *m, const item *it, int *d, sg_http_error *e) {
    char v[128];
    if (text(it, v, sizeof v, e)) return -1;
    *d = sg_config_domain(&m->model->engine.cfg, v);
    return *d < 0 ? sg_form_domain_error(m->model, v, e) : 0;
}

static int fit_field(sg_media *m, const items *l, sg_http_error *e) {
    const item *it = find(l, "fit");
    char v[16];
    m->fit = SG_FIT_CROP;
    if (!it) return 0;
    if (text(it, v, sizeof v, e)) return -1;
    if (!strcmp(v, "crop")) m->fit = SG_FIT_CROP;
    else if (!strcmp(v, "stretch")) m->fit = SG_FIT_STRETCH;
    else if (!strcmp(v, "align")) m->fit = SG_FIT_ALIGN;
    else return sg_http_fail(e, 400, "bad_field", "fit must be crop, stretch or align");
    if (m->fit == SG_FIT_ALIGN && !sg_srv_model_can_align(m->model))
        return sg_http_fail(e, 422, "no_face_network",
                            "fit=align needs a face network and the mean landmarks (start the "
                            "server with --fan and --mean)");
    return 0;
}

static int psi_field(sg_media *m, const items *l, int has_seed, sg_http_error *e) {
    const item *it = find(l, "psi");
    char v[32], *end;
    m->psi = 1.0f;
    if (!it) return 0;
    if (!has_seed)
        return sg_http_fail(e, 400, "bad_request",
                            "psi applies to seed (latent-guided) styles only");
    if (text(it, v, sizeof v, e)) return -1;
    double p = strtod(v, &end);
    if (!*v || *end || !(p >= 0.0 && p <= 1.0) || strchr(" \t\n+", v[0]))
        return sg_http_fail(e, 400, "bad_field", "psi must be a number in [0, 1]");
    m->psi = (float)p;
    return 0;
}

static int seed_item(const item *it, uint64_t *seed, sg_http_error *e) {
    char v[32];
    if (text(it, v, sizeof v, e)) return -1;
    if (parse_uint(v, UINT64_MAX, seed))
        return sg_http_fail(e, 400, "bad_field", "seed must be a non-negative integer ('%s')", v);
    return 0;
}

/* `format`, else Accept (the first of the two kinds it names), else the first of kinds. */
static int format_field(sg_media *m, const items *l, const sg_task_input *in, int video,
                        sg_http_error *e) {
    const item *it = find(l, "format");
    const char *names[2] = {video ? "mp4" : "png", video ? "webp" : "jpeg"};
    const char *types[2] = {video ? "video/mp4" : "image/png", video ? "image/webp" : "image/jpeg"};
    sg_media_format fmts[2] = {video ? SG_MEDIA_MP4 : SG_MEDIA_PNG,
                               video ? SG_MEDIA_WEBP : SG_MEDIA_JPEG};
    m->format = fmts[0];
    if (it) {
        char v[16];
        if (text(it, v, sizeof v, e)) return -1;
        if (!strcasecmp(v, names[0])) m->format = fmts[0];
        else if (!strcasecmp(v, names[1]) || (!video && !strcasecmp(v, "jpg"))) m->format = fmts[1];
        else
            return sg_http_fail(e, 400, "bad_field", "format must be %s or %s", names[0], names[1]);
        return 0;
    }
    if (in->accept) {
        const char *a = strcasestr(in->accept, types[0]), *b = strcasestr(in->accept, types[1]);
        if (b && (!a || b < a)) m->format = fmts[1];
    }
    return 0;
}

static int sources(sg_media *m, const items *l, int max_rows, sg_http_error *e) {
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->it[i].name, "image")) continue;
        if (m->n_src == max_rows)
            return sg_http_fail(e, 413, "too_many_inputs", "at most %d image field(s)", max_rows);
        if (image_item(&l->it[i], e)) return -1;
        m->src[m->n_src] = l->it[i].data;
        m->src_len[m->n_src++] = l->it[i].len;
    }
    if (!m->n_src)
        return sg_http_fail(e, 400, "missing_field", "image is required (a PNG or JPEG file)");
    return 0;
}

static const char *const interp_fields[] = {"image", "domain", "reference", "seed", "style",  "psi",
                                            "model", "fit",    "frames",    "fps",  "format", NULL};
static const char *const interp_repeat[] = {"reference", "seed", "style", NULL};
static const char *const grid_fields[] = {"image", "reference", "domain",  "seed",   "psi", "model",
                                          "fit",   "format",    "quality", "header", NULL};
static const char *const grid_repeat[] = {"image", "reference", "domain", "seed", NULL};

static int parse_interpolate(sg_media *m, const items *l, const sg_task_input *in,
                             const sg_media_limits *lim, sg_http_error *e) {
    const item *d = find(l, "domain");
    if (!d) return sg_http_fail(e, 400, "missing_field", "domain is required");
    if (domain_of(m, d, &m->domain, e)) return -1;
    int dim = m->model->engine.cfg.style_dim, has_seed = 0;
    for (int i = 0; i < l->n; i++) {
        const item *it = &l->it[i];
        int ref = !strcmp(it->name, "reference"), seed = !strcmp(it->name, "seed"),
            style = !strcmp(it->name, "style");
        if (!ref && !seed && !style) continue;
        if (m->n_cols == SG_MEDIA_MAX_COLS)
            return sg_http_fail(e, 413, "too_many_inputs", "at most %d waypoints",
                                SG_MEDIA_MAX_COLS);
        sg_media_style *w = &m->cols[m->n_cols++];
        w->domain = m->domain;
        if (ref) {
            if (image_item(it, e)) return -1;
            w->mode = SG_STYLE_REF, w->ref = it->data, w->ref_len = it->len;
        } else if (seed) {
            w->mode = SG_STYLE_SEED, has_seed = 1;
            if (seed_item(it, &w->seed, e)) return -1;
        } else {
            w->mode = SG_STYLE_GIVEN;
            if (style_array(it, dim, &w->style, e)) return -1;
        }
    }
    if (m->n_cols < 2)
        return sg_http_fail(e, 400, "missing_field",
                            "give two or more waypoints: repeated reference, seed or style fields, "
                            "in the order to pass through");
    if (psi_field(m, l, has_seed, e) || fit_field(m, l, e) ||
        int_field(l, "fps", 1, 60, 12, &m->fps, e) || format_field(m, l, in, 1, e) ||
        sources(m, l, 1, e))
        return -1;
    const item *f = find(l, "frames");
    char v[24];
    uint64_t x = 24;
    if (f && (text(f, v, sizeof v, e) || parse_uint(v, UINT64_MAX, &x)))
        return e->status ? -1 : sg_http_fail(e, 400, "bad_field", "frames must be an integer");
    if (x > (uint64_t)lim->max_frames)
        return sg_http_fail(e, 413, "too_many_frames",
                            "frames=%llu is over this server's --max-frames of %d",
                            (unsigned long long)x, lim->max_frames);
    if (x < 2 || x < (uint64_t)m->n_cols)
        return sg_http_fail(e, 400, "bad_field",
                            "frames must be at least 2 and at least the number of waypoints (%d)",
                            m->n_cols);
    m->frames = (int)x;
    m->n_steps = m->n_cols + m->frames;
    return 0;
}

static int parse_grid(sg_media *m, const items *l, const sg_task_input *in,
                      const sg_media_limits *lim, sg_http_error *e) {
    const sg_config *c = &m->model->engine.cfg;
    int n_ref = count(l, "reference"), n_dom = count(l, "domain"), n_seed = count(l, "seed");
    if (sources(m, l, SG_MEDIA_MAX_ROWS, e)) return -1;
    if (n_ref && n_seed)
        return sg_http_fail(e, 400, "bad_request",
                            "give reference photos or seeds as the grid's columns, not both");
    if (n_ref && n_dom != 1 && n_dom != n_ref)
        return sg_http_fail(e, 400, n_dom ? "bad_request" : "missing_field",
                            "with references, give one domain (for every column) or one per "
                            "reference, in order");
    int doms[SG_MAX_DOMAINS + SG_MEDIA_MAX_COLS], nd = 0;
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->it[i].name, "domain")) {
            if (nd == SG_MEDIA_MAX_COLS)
                return sg_http_fail(e, 413, "too_many_inputs", "at most %d domains",
                                    SG_MEDIA_MAX_COLS);
            if (domain_of(m, &l->it[i], &doms[nd++], e)) return -1;
        }
    int cols = n_ref ? n_ref : (nd ? nd : c->num_domains) * (n_seed ? n_seed : 1);
    if (cols > SG_MEDIA_MAX_COLS)
        return sg_http_fail(e, 413, "too_many_cells", "at most %d columns (here %d)",
                            SG_MEDIA_MAX_COLS, cols);
    if ((int64_t)cols * m->n_src > lim->max_cells)
        return sg_http_fail(e, 413, "too_many_cells",
                            "%d x %d cells is over this server's --max-cells of %d", m->n_src, cols,
                            lim->max_cells);
    if (n_ref) {
        int k = 0;
        for (int i = 0; i < l->n; i++) {
            if (strcmp(l->it[i].name, "reference")) continue;
            if (image_item(&l->it[i], e)) return -1;
            m->cols[k] = (sg_media_style){.mode = SG_STYLE_REF,
                                          .domain = doms[n_dom == 1 ? 0 : k],
                                          .ref = l->it[i].data,
                                          .ref_len = l->it[i].len};
            k++;
        }
    } else {
        uint64_t seeds[SG_MEDIA_MAX_COLS];
        int ns = 0;
        for (int i = 0; i < l->n; i++)
            if (!strcmp(l->it[i].name, "seed") && seed_item(&l->it[i], &seeds[ns++], e)) return -1;
        if (!ns) seeds[ns++] = random_seed(), m->seed_random = 1;
        if (!nd)
            for (int y = 0; y < c->num_domains; y++) doms[nd++] = y;
        int k = 0;
        for (int di = 0; di < nd; di++)
            for (int si = 0; si < ns; si++)
                m->cols[k++] =
                    (sg_media_style){.mode = SG_STYLE_SEED, .domain = doms[di], .seed = seeds[si]};
    }
    m->n_cols = cols;
    m->header = 1;
    const item *h = find(l, "header");
    if (h) {
        char v[8];
        if (text(h, v, sizeof v, e)) return -1;
        if (!strcmp(v, "true") || !strcmp(v, "1")) m->header = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "0")) m->header = 0;
        else return sg_http_fail(e, 400, "bad_field", "header must be true or false");
    }
    if (psi_field(m, l, !n_ref, e) || fit_field(m, l, e) || format_field(m, l, in, 0, e) ||
        int_field(l, "quality", 1, 100, 90, &m->quality, e))
        return -1;
    if (find(l, "quality") && m->format != SG_MEDIA_JPEG)
        return sg_http_fail(e, 400, "bad_request", "quality applies to format=jpeg only");
    m->n_steps = m->n_cols + m->n_src * m->n_cols;
    return 0;
}

int sg_media_parse(sg_media *m, sg_media_kind kind, const sg_task_input *in, sg_srv_models *ms,
                   const sg_media_limits *lim, sg_http_error *e) {
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->max_pixels = lim->max_pixels;
    m->quality = 90;
    int grid = kind == SG_MEDIA_GRID;
    if (sg_form_check(in, grid ? "/v1/grid" : "/v1/interpolate", grid ? grid_fields : interp_fields,
                      grid ? grid_repeat : interp_repeat, e))
        return -1;
    items *l = malloc(sizeof *l);
    if (!l) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    collect(in, l);
    int r = model_field(m, l, ms, e);
    if (!r) r = grid ? parse_grid(m, l, in, lim, e) : parse_interpolate(m, l, in, lim, e);
    free(l);
    if (!r && sg_media_work(m) > lim->max_work)
        r = sg_http_fail(e, 413, "too_much_work",
                         "this request is %lld pixels of work (frames or cells x img_size^2), "
                         "over the server's --max-work of %lld",
                         (long long)sg_media_work(m), (long long)lim->max_work);
    return r;
}

int64_t sg_media_work(const sg_media *m) {
    if (!m->model) return 0;
    int64_t s = m->model->engine.cfg.img_size, runs = m->n_steps;
    for (int i = 0; i < m->n_cols; i++) runs -= m->cols[i].mode != SG_STYLE_REF; /* no network */
    return runs * s * s;
}

/* ---- run ------------------------------------------------------------------------------------ */
/* The photo as the model sees it: centre square or whole photo resized (as sg_image_to_tensor
 * does), or aligned. */
static sg_status fitted(const sg_media *m, sg_run *run, const sg_image *img, sg_image *out,
                        sg_error *err) {
    int s = m->model->engine.cfg.img_size;
    if (m->fit == SG_FIT_ALIGN) return sg_engine_align(&m->model->engine, run, img, out, err);
    return sg_image_fit(img, m->fit, s, out, err);
}

/* Grid layout: with header, the sources are column 0 and (reference grids) the references row 0;
 * cells follow edge to edge, so cell (r, c) is the square at ((c + hx)·S, (r + hy)·S). */
static void grid_origin(const sg_media *m, int *hx, int *hy) {
    *hx = m->header;
    *hy = m->header && m->n_cols && m->cols[0].mode == SG_STYLE_REF;
}

static void blit(sg_media *m, const sg_image *img, int gx, int gy) {
    int s = m->model->engine.cfg.img_size;
    sg_image_blit(&m->canvas, img, gx * s, gy * s);
}

/* The grid's canvas (white where no cell goes), or the video writer (frames come in order). */
static sg_status start_output(sg_media *m, sg_error *err) {
    int s = m->model->engine.cfg.img_size, hx, hy;
    if (m->kind == SG_MEDIA_INTERPOLATE)
        return sg_video_open(&m->video, NULL,
                             m->format == SG_MEDIA_WEBP ? SG_VIDEO_WEBP : SG_VIDEO_MP4, s, s,
                             m->fps, err);
    grid_origin(m, &hx, &hy);
    static const uint8_t white[3] = {255, 255, 255};
    return sg_image_create(&m->canvas, s * (m->n_cols + hx), s * (m->n_src + hy), white, err);
}

static sg_status decode(sg_media *m, const uint8_t *d, size_t n, sg_image *img, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st = sg_image_decode(d, n, m->max_pixels, 1, img, err);
    m->stage_ms[SG_STAGE_DECODE] += sg_now_ms() - t0;
    return st;
}

/* Step 0: decode the sources (and place them in the header column); then style k. */
static sg_status style_step(sg_media *m, sg_run *run, int k, sg_error *err) {
    sg_engine *eng = &m->model->engine;
    sg_media_style *c = &m->cols[k];
    int hx, hy;
    grid_origin(m, &hx, &hy);
    sg_status st = SG_OK;
    if (k == 0) {
        st = start_output(m, err);
        for (int i = 0; !st && i < m->n_src; i++) {
            st = decode(m, m->src[i], m->src_len[i], &m->srcs[i], err);
            sg_image f = {0};
            if (!st && m->kind == SG_MEDIA_GRID && hx &&
                !(st = fitted(m, run, &m->srcs[i], &f, err)))
                blit(m, &f, 0, i + hy);
            sg_image_free(&f);
        }
    }
    if (st || c->mode == SG_STYLE_GIVEN) return st;
    if (!(c->style = calloc((size_t)eng->cfg.style_dim, sizeof(float))))
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    sg_image ref = {0}, f = {0};
    if (c->mode == SG_STYLE_REF) st = decode(m, c->ref, c->ref_len, &ref, err);
    double t0 = sg_now_ms();
    if (!st && c->mode == SG_STYLE_REF)
        st = sg_engine_style_ref(eng, run, &ref, m->fit, c->domain, c->style, err);
    if (!st && c->mode == SG_STYLE_SEED)
        st = sg_engine_style_latent(eng, c->seed, c->domain, m->psi, c->style, err);
    m->stage_ms[SG_STAGE_STYLE] += sg_now_ms() - t0;
    if (!st && m->kind == SG_MEDIA_GRID && hy && !(st = fitted(m, run, &ref, &f, err)))
        blit(m, &f, k + hx, 0);
    sg_image_free(&f);
    sg_image_free(&ref);
    return st;
}

/* The style of frame f: waypoints evenly spaced over the frames, linear in between. */
static void frame_style(const sg_media *m, int f, int dim, float *s) {
    double t = (double)f * (m->n_cols - 1) / (m->frames - 1);
    int k = (int)floor(t);
    if (k > m->n_cols - 2) k = m->n_cols - 2;
    float u = (float)(t - k);
    const float *a = m->cols[k].style, *b = m->cols[k + 1].style;
    for (int i = 0; i < dim; i++) s[i] = (1.0f - u) * a[i] + u * b[i];
}

static sg_status unit_step(sg_media *m, sg_run *run, int u, sg_error *err) {
    sg_engine *eng = &m->model->engine;
    int dim = eng->cfg.style_dim, row = 0, col = 0, hx, hy;
    float *s = NULL;
    const float *style;
    if (m->kind == SG_MEDIA_INTERPOLATE) {
        if (!(s = malloc((size_t)dim * sizeof *s)))
            return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        frame_style(m, u, dim, s);
        style = s;
    } else {
        row = u / m->n_cols, col = u % m->n_cols;
        style = m->cols[col].style;
    }
    sg_image out = {0};
    sg_timing tm = {0};
    sg_status st = sg_engine_translate(eng, run, &m->srcs[row], m->fit, style, &out, &tm, err);
    m->stage_ms[SG_STAGE_FACES] += tm.faces_ms;
    m->stage_ms[SG_STAGE_GENERATOR] += tm.generator_ms;
    grid_origin(m, &hx, &hy);
    double t0 = sg_now_ms();
    if (!st && m->kind == SG_MEDIA_INTERPOLATE) st = sg_video_add_frame(m->video, &out, err);
    m->stage_ms[SG_STAGE_ENCODE] += sg_now_ms() - t0;
    if (!st && m->kind == SG_MEDIA_GRID) blit(m, &out, col + hx, row + hy);
    sg_image_free(&out);
    free(s);
    return st;
}

static sg_status encode(sg_media *m, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st;
    if (m->kind == SG_MEDIA_GRID) {
        st =
            sg_image_encode(&m->canvas, m->format == SG_MEDIA_JPEG ? SG_FORMAT_JPEG : SG_FORMAT_PNG,
                            m->quality, &m->out, &m->out_len, err);
    } else {
        st = sg_video_finish(m->video, &m->out, &m->out_len, err);
    }
    m->stage_ms[SG_STAGE_ENCODE] += sg_now_ms() - t0;
    return st;
}

int sg_media_step(sg_media *m, sg_run *run) {
    sg_error err = {0};
    int k = m->step++;
    sg_status st =
        k < m->n_cols ? style_step(m, run, k, &err) : unit_step(m, run, k - m->n_cols, &err);
    if (!st && m->step == m->n_steps) st = encode(m, &err);
    if (st) {
        free(m->out);
        m->out = NULL;
        m->out_len = 0;
        sg_http_from_status(&m->error, &err);
        return 0;
    }
    return m->step < m->n_steps;
}

void sg_media_free(sg_media *m) {
    for (int i = 0; i < m->n_cols; i++) free(m->cols[i].style), m->cols[i].style = NULL;
    for (int i = 0; i < m->n_src; i++) sg_image_free(&m->srcs[i]);
    sg_image_free(&m->canvas);
    sg_video_free(m->video);
    m->video = NULL;
    free(m->out);
    m->out = NULL;
}

const char *sg_media_content_type(const sg_media *m) {
    switch (m->format) {
    case SG_MEDIA_JPEG: return "image/jpeg";
    case SG_MEDIA_MP4: return "video/mp4";
    case SG_MEDIA_WEBP: return "image/webp";
    default: return "image/png";
    }
}

void sg_media_headers(const sg_media *m, char *seeds, size_t seeds_cap, char *cols, size_t cols_cap,
                      char *grid, size_t grid_cap) {
    size_t n = 0, k = 0;
    const sg_config *c = &m->model->engine.cfg;
    seeds[0] = cols[0] = grid[0] = 0;
    for (int i = 0; i < m->n_cols; i++) {
        const sg_media_style *s = &m->cols[i];
        int seen = 0; /* each seed once, in order */
        for (int j = 0; j < i; j++)
            seen |= m->cols[j].mode == SG_STYLE_SEED && m->cols[j].seed == s->seed;
        if (s->mode == SG_STYLE_SEED && !seen && n < seeds_cap)
            n += (size_t)snprintf(seeds + n, seeds_cap - n, "%s%llu", n ? "," : "",
                                  (unsigned long long)s->seed);
        if (m->kind != SG_MEDIA_GRID || k >= cols_cap) continue;
        if (s->mode == SG_STYLE_SEED)
            k += (size_t)snprintf(cols + k, cols_cap - k, "%s%s;seed=%llu", i ? ", " : "",
                                  c->domains[s->domain], (unsigned long long)s->seed);
        else
            k += (size_t)snprintf(cols + k, cols_cap - k, "%s%s;reference=%d", i ? ", " : "",
                                  c->domains[s->domain], i);
    }
    if (m->kind == SG_MEDIA_GRID) {
        int hx, hy;
        grid_origin(m, &hx, &hy);
        snprintf(grid, grid_cap, "rows=%d cols=%d cell=%d x0=%d y0=%d", m->n_src, m->n_cols,
                 c->img_size, hx * c->img_size, hy * c->img_size);
    }
}
