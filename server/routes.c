/* The routes as descriptions: which fields each reads (and which repeat), and how its fields,
 * already checked by the vocabulary (fields.c), combine into a request (request.c runs it).
 * Parsing runs on the HTTP thread and does no heavy work: images are only sniffed, and their
 * sizes read from their headers to size the work. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "internal.h"

/* ---- shared pieces ------------------------------------------------------------------------ */
/* Seeds drawn by the server stay below 2^53 so a JavaScript client can hand them back intact. */
static uint64_t random_seed(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)(sg_now_ms() * 1e3);
    return x & ((1ull << 53) - 1);
}

static int domain_error(const sg_srv_model *m, const char *v, sg_http_error *e) {
    const sg_config *c = &m->engine.cfg;
    char list[SG_MAX_DOMAINS * 8 + 32];
    size_t n = 0;
    list[0] = 0;
    for (int i = 0; i < c->num_domains && i < SG_MAX_DOMAINS && n + 1 < sizeof list; i++) {
        int k = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", c->domains[i]);
        if (k < 0 || (size_t)k >= sizeof list - n) { /* cut at a whole name, never past the end */
            list[n] = 0;
            snprintf(list + n, sizeof list - n, "%s", n + 5 < sizeof list ? ", ..." : "");
            break;
        }
        n += (size_t)k;
    }
    return sg_http_fail(e, 400, "unknown_domain",
                        "model '%s' has no domain '%.64s' (its domains: %.200s; or an index 0..%d)",
                        m->name, v, list, c->num_domains - 1);
}

static int domain_of(const sg_srv_model *m, const sg_field *f, int *d, sg_http_error *e) {
    char v[128];
    sg_field_text(f, v, sizeof v);
    *d = sg_config_domain(&m->engine.cfg, v);
    return *d < 0 ? domain_error(m, v, e) : 0;
}

/* The photo's pixels from its header, added to the work (the limit when unknown or over it);
 * returned as read (0: unknown, the decoder will say why). */
static int64_t image_dims(sg_request *r, const uint8_t *d, size_t n) {
    int64_t w, h;
    int unknown = sg_image_dims(d, n, &w, &h) != SG_OK;
    int64_t px = unknown || w * h > r->max_pixels ? r->max_pixels : w * h;
    r->decode_pixels += px;
    return unknown ? 0 : px;
}

/* A style array of exactly the model's style_dim numbers (its grammar was checked). */
static int style_of(const sg_request *r, const sg_field *f, float **out, sg_http_error *e) {
    int dim = r->model->engine.cfg.style_dim;
    char *s = malloc(f->len + 1);
    if (!s) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    memcpy(s, f->data, f->len);
    s[f->len] = 0;
    cJSON *a = cJSON_Parse(s);
    free(s);
    if (cJSON_GetArraySize(a) != dim) {
        cJSON_Delete(a);
        return sg_http_fail(e, 400, "bad_field", "style must be a JSON array of %d numbers", dim);
    }
    float *v = calloc((size_t)dim, sizeof *v);
    int i = 0;
    for (cJSON *x = a->child; v && x; x = x->next) v[i++] = (float)x->valuedouble;
    cJSON_Delete(a);
    if (!v) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    *out = v;
    return 0;
}

/* fit, checked against what the model has */
static int fit_of(sg_request *r, const sg_fields *f, sg_http_error *e) {
    const sg_field *x = sg_fields_get(f, "fit");
    r->fit = x ? (sg_fit)x->choice : SG_FIT_CROP;
    if (r->fit == SG_FIT_ALIGN && !sg_srv_model_has_faces(r->model))
        return sg_http_fail(
            e, 422, "no_face_network",
            "fit=align needs a face network: model '%s' has none (start the server with --fan)",
            r->model->name);
    if (r->fit == SG_FIT_ALIGN && !sg_srv_model_can_align(r->model))
        return sg_http_fail(e, 422, "no_mean_landmarks",
                            "fit=align needs the mean face landmarks (start the server with --mean "
                            "celeba_lm_mean.npz)");
    return 0;
}

/* psi: only with seeds (latent-guided styles) */
static int psi_of(sg_request *r, const sg_fields *f, int has_seed, sg_http_error *e) {
    const sg_field *x = sg_fields_get(f, "psi");
    r->psi = x ? (float)x->number : 1.0f;
    if (x && !has_seed)
        return sg_http_fail(e, 400, "bad_request",
                            "psi applies to seed (latent-guided) styles only");
    return 0;
}

/* An output format: `format`, else the first of the two kinds Accept names, else the first.
 * quality applies to JPEG only, whichever way JPEG was chosen. */
static int output_of(sg_request *r, const sg_fields *f, const char *accept, int video,
                     sg_http_error *e) {
    const sg_field *x = sg_fields_get(f, "format"), *q = sg_fields_get(f, "quality");
    const char *types[2] = {video ? "video/mp4" : "image/png", video ? "image/webp" : "image/jpeg"};
    sg_out_format fmts[2] = {video ? SG_OUT_MP4 : SG_OUT_PNG, video ? SG_OUT_WEBP : SG_OUT_JPEG};
    r->format = fmts[0];
    if (x) {
        char v[16];
        sg_field_text(x, v, sizeof v);
        sg_image_format img;
        int vid = sg_video_format_parse(v);
        if (video && vid >= 0) r->format = vid == SG_VIDEO_WEBP ? SG_OUT_WEBP : SG_OUT_MP4;
        else if (!video && !sg_image_format_parse(v, &img))
            r->format = img == SG_FORMAT_JPEG ? SG_OUT_JPEG : SG_OUT_PNG;
        else
            return sg_http_fail(e, 400, "bad_field", "format must be %s",
                                video ? "mp4 or webp" : "png or jpeg");
    } else if (accept) {
        const char *a = strcasestr(accept, types[0]), *b = strcasestr(accept, types[1]);
        if (!video && !b) b = strcasestr(accept, "image/jpg");
        if (b && (!a || b < a)) r->format = fmts[1];
    }
    r->quality = q ? (int)q->u : 90;
    if (q && r->format != SG_OUT_JPEG)
        return sg_http_fail(e, 400, "bad_request", "quality applies to JPEG output only");
    return 0;
}

/* The style of a one-style request: reference | style | seed (+ psi), at most one; seed is the
 * default, drawn at random. */
static int one_style(sg_request *r, const sg_fields *f, sg_http_error *e) {
    const sg_field *ref = sg_fields_get(f, "reference"), *seed = sg_fields_get(f, "seed"),
                   *style = sg_fields_get(f, "style");
    sg_style_src *c = &r->cols[0];
    r->n_cols = 1;
    c->domain = r->domain;
    if (!!ref + !!seed + !!style > 1)
        return sg_http_fail(e, 400, "bad_request", "give only one of reference, seed and style");
    if (psi_of(r, f, !ref && !style, e)) return -1;
    if (style) {
        c->mode = SG_STYLE_GIVEN;
        return style_of(r, style, &c->style, e);
    }
    if (ref) {
        c->mode = SG_STYLE_REF, c->ref = ref->data, c->ref_len = ref->len;
        image_dims(r, ref->data, ref->len);
        return 0;
    }
    c->mode = SG_STYLE_SEED;
    if (seed) c->seed = seed->u;
    else c->seed = random_seed(), r->seed_random = 1;
    return 0;
}

static int required_domain(sg_request *r, const sg_fields *f, sg_http_error *e) {
    const sg_field *d = sg_fields_get(f, "domain");
    if (!d) return sg_http_fail(e, 400, "missing_field", "domain is required");
    return domain_of(r->model, d, &r->domain, e);
}

/* crop= / face= (of the sources) and ref_crop= / ref_face= (of the reference), and paste= */
static int region_of(sg_request *r, const sg_fields *f, const char *crop, const char *face,
                     sg_region_ask *q, sg_http_error *e) {
    const sg_field *c = sg_fields_get(f, crop), *x = sg_fields_get(f, face);
    if (c && x) return sg_http_fail(e, 400, "bad_request", "give %s or %s, not both", crop, face);
    if (c) q->mode = SG_REGION_CROP, q->crop = c->rect;
    if (!x) return 0;
    q->mode = SG_REGION_FACE, q->face = x->choice;
    if (!r->detector)
        return sg_http_fail(e, 501, "no_detector",
                            "%s= needs the face detector: this server runs without one (start it "
                            "with --detector); give %s=x,y,w,h instead",
                            face, crop);
    if (r->model->engine.cfg.w_hpf > 0 && !sg_srv_model_can_align(r->model))
        return sg_http_fail(e, 422, "no_mean_landmarks",
                            "%s= on a face model aligns the face: start the server with --fan and "
                            "--mean celeba_lm_mean.npz",
                            face);
    return 0;
}

static int regions_of(sg_request *r, const sg_fields *f, int one_photo, sg_http_error *e) {
    const sg_field *p = sg_fields_get(f, "paste");
    r->paste = p ? p->choice : 0;
    if (region_of(r, f, "crop", "face", &r->region, e) ||
        region_of(r, f, "ref_crop", "ref_face", &r->ref_region, e))
        return -1;
    if (r->ref_region.mode == SG_REGION_FACE && r->ref_region.face == SG_FACE_ALL)
        return sg_http_fail(e, 400, "bad_field", "ref_face must be auto or an index (one face)");
    if (r->ref_region.mode && !sg_fields_get(f, "reference"))
        return sg_http_fail(e, 400, "bad_request", "ref_crop and ref_face apply to a reference");
    if (r->region.mode == SG_REGION_FACE && r->region.face == SG_FACE_ALL && !one_photo)
        return sg_http_fail(e, 400, "bad_field",
                            "face=all applies to /v1/translate: a grid or video translates one "
                            "region per photo (face=auto or an index, or crop=)");
    if (r->region.mode == SG_REGION_FACE && r->region.face == SG_FACE_ALL && !r->paste)
        return sg_http_fail(e, 400, "bad_request",
                            "face=all translates every face into one answer: give paste=true");
    if (r->paste && !r->region.mode && r->fit == SG_FIT_ALIGN)
        return sg_http_fail(e, 400, "bad_request",
                            "paste with fit=align needs the region: give face= or crop=");
    return 0;
}

/* paste= on a grid: every cell is a whole photo, so the answer is at least (columns + header) ×
 * (rows + header) times the largest photo; over --max-pixels it is refused before any work (the
 * exact size, once the photos are decoded, is checked again). A video's frame is the photo. */
static int paste_bound(const sg_request *r, sg_http_error *e) {
    if (!r->paste || r->kind != SG_KIND_GRID) return 0;
    int64_t big = sg_request_largest_source(r, 0);
    int hy = r->header && r->cols[0].mode == SG_STYLE_REF;
    int64_t px = (int64_t)(r->n_cols + r->header) * (r->n_src + hy) * big;
    if (px <= r->max_pixels) return 0;
    return sg_http_fail(e, 413, "too_large",
                        "paste=true makes every cell the whole photo: this grid would be at least "
                        "%lld pixels, over this server's --max-pixels of %lld; send smaller photos "
                        "or fewer columns, or leave out paste",
                        (long long)px, (long long)r->max_pixels);
}

/* image fields, in order, as sources */
static int sources(sg_request *r, const sg_fields *f, int max_rows, sg_http_error *e) {
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->f[i].name, "image")) continue;
        if (r->n_src == max_rows)
            return sg_http_fail(e, 413, "too_many_inputs", "at most %d image field(s)", max_rows);
        r->src[r->n_src] = f->f[i].data;
        r->src_len[r->n_src] = f->f[i].len;
        r->src_pixels[r->n_src++] = image_dims(r, f->f[i].data, f->f[i].len);
    }
    if (!r->n_src)
        return sg_http_fail(e, 400, "missing_field", "image is required (a PNG or JPEG file)");
    return 0;
}

/* ---- the routes ----------------------------------------------------------------------------- */
static int parse_translate(sg_request *r, const sg_fields *f, const char *accept,
                           const sg_request_limits *lim, sg_http_error *e) {
    (void)lim;
    if (required_domain(r, f, e) || one_style(r, f, e) || fit_of(r, f, e) ||
        output_of(r, f, accept, 0, e) || sources(r, f, 1, e) || regions_of(r, f, 1, e))
        return -1;
    r->n_steps = 1;
    return 0;
}

static int parse_style(sg_request *r, const sg_fields *f, const char *accept,
                       const sg_request_limits *lim, sg_http_error *e) {
    (void)accept, (void)lim;
    if (required_domain(r, f, e) || one_style(r, f, e) || fit_of(r, f, e)) return -1;
    r->format = SG_OUT_JSON;
    r->n_steps = 1;
    return 0;
}

/* /v1/interpolate: a video through two or more waypoints (reference, seed or style fields, in
 * order) of one domain. */
static int parse_video(sg_request *r, const sg_fields *f, const char *accept,
                       const sg_request_limits *lim, sg_http_error *e) {
    if (required_domain(r, f, e)) return -1;
    int has_seed = 0;
    for (int i = 0; i < f->n; i++) {
        const sg_field *x = &f->f[i];
        int ref = !strcmp(x->name, "reference"), seed = !strcmp(x->name, "seed"),
            style = !strcmp(x->name, "style");
        if (!ref && !seed && !style) continue;
        if (r->n_cols == SG_REQ_MAX_COLS)
            return sg_http_fail(e, 413, "too_many_inputs", "at most %d waypoints", SG_REQ_MAX_COLS);
        sg_style_src *w = &r->cols[r->n_cols++];
        w->domain = r->domain;
        if (ref) {
            w->mode = SG_STYLE_REF, w->ref = x->data, w->ref_len = x->len;
            image_dims(r, x->data, x->len);
        } else if (seed) {
            w->mode = SG_STYLE_SEED, w->seed = x->u, has_seed = 1;
        } else {
            w->mode = SG_STYLE_GIVEN;
            if (style_of(r, x, &w->style, e)) return -1;
        }
    }
    if (r->n_cols < 2)
        return sg_http_fail(e, 400, "missing_field",
                            "give two or more waypoints: repeated reference, seed or style fields, "
                            "in the order to pass through");
    const sg_field *fr = sg_fields_get(f, "frames"), *fps = sg_fields_get(f, "fps");
    r->fps = fps ? (int)fps->u : 12;
    if (psi_of(r, f, has_seed, e) || fit_of(r, f, e) || output_of(r, f, accept, 1, e) ||
        sources(r, f, 1, e) || regions_of(r, f, 0, e))
        return -1;
    uint64_t frames = fr ? fr->u : 24;
    if (frames > (uint64_t)lim->max_frames)
        return sg_http_fail(e, 413, "too_many_frames",
                            "frames=%llu is over this server's --max-frames of %d",
                            (unsigned long long)frames, lim->max_frames);
    if (frames < 2 || frames < (uint64_t)r->n_cols)
        return sg_http_fail(e, 400, "bad_field",
                            "frames must be at least 2 and at least the number of waypoints (%d)",
                            r->n_cols);
    r->frames = (int)frames;
    r->n_steps = r->n_src + r->n_cols + r->frames;
    return 0;
}

/* The grid's columns: references (one domain, or one per reference) or seeds × domains. */
static int grid_columns(sg_request *r, const sg_fields *f, sg_http_error *e) {
    const sg_config *c = &r->model->engine.cfg;
    int n_ref = sg_fields_count(f, "reference"), n_dom = sg_fields_count(f, "domain"),
        n_seed = sg_fields_count(f, "seed");
    if (n_ref && n_seed)
        return sg_http_fail(e, 400, "bad_request",
                            "give reference photos or seeds as the grid's columns, not both");
    if (n_ref && n_dom != 1 && n_dom != n_ref)
        return sg_http_fail(e, 400, n_dom ? "bad_request" : "missing_field",
                            "with references, give one domain (for every column) or one per "
                            "reference, in order");
    int doms[SG_REQ_MAX_COLS], nd = 0;
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->f[i].name, "domain")) {
            if (nd == SG_REQ_MAX_COLS)
                return sg_http_fail(e, 413, "too_many_inputs", "at most %d domains",
                                    SG_REQ_MAX_COLS);
            if (domain_of(r->model, &f->f[i], &doms[nd++], e)) return -1;
        }
    int cols = n_ref ? n_ref : (nd ? nd : c->num_domains) * (n_seed ? n_seed : 1);
    if (cols > SG_REQ_MAX_COLS)
        return sg_http_fail(e, 413, "too_many_cells", "at most %d columns (here %d)",
                            SG_REQ_MAX_COLS, cols);
    int k = 0;
    if (n_ref) {
        for (int i = 0; i < f->n; i++) {
            if (strcmp(f->f[i].name, "reference")) continue;
            r->cols[k] = (sg_style_src){.mode = SG_STYLE_REF,
                                        .domain = doms[n_dom == 1 ? 0 : k],
                                        .ref = f->f[i].data,
                                        .ref_len = f->f[i].len};
            image_dims(r, f->f[i].data, f->f[i].len);
            k++;
        }
    } else {
        uint64_t seeds[SG_REQ_MAX_COLS];
        int ns = 0;
        for (int i = 0; i < f->n && ns < SG_REQ_MAX_COLS; i++)
            if (!strcmp(f->f[i].name, "seed")) seeds[ns++] = f->f[i].u;
        if (!ns) seeds[ns++] = random_seed(), r->seed_random = 1;
        if (!nd)
            for (int y = 0; y < c->num_domains && nd < SG_REQ_MAX_COLS; y++) doms[nd++] = y;
        for (int di = 0; di < nd; di++)
            for (int si = 0; si < ns; si++)
                r->cols[k++] =
                    (sg_style_src){.mode = SG_STYLE_SEED, .domain = doms[di], .seed = seeds[si]};
    }
    r->n_cols = cols;
    return 0;
}

static int parse_grid(sg_request *r, const sg_fields *f, const char *accept,
                      const sg_request_limits *lim, sg_http_error *e) {
    if (sources(r, f, SG_REQ_MAX_ROWS, e) || grid_columns(r, f, e)) return -1;
    if ((int64_t)r->n_cols * r->n_src > lim->max_cells)
        return sg_http_fail(e, 413, "too_many_cells",
                            "%d x %d cells is over this server's --max-cells of %d", r->n_src,
                            r->n_cols, lim->max_cells);
    const sg_field *h = sg_fields_get(f, "header");
    r->header = h ? h->choice : 1;
    if (psi_of(r, f, r->cols[0].mode == SG_STYLE_SEED, e) || fit_of(r, f, e) ||
        output_of(r, f, accept, 0, e) || regions_of(r, f, 0, e) || paste_bound(r, e))
        return -1;
    r->n_steps = r->n_src + r->n_cols + r->n_src * r->n_cols;
    return 0;
}

/* /v1/detect: the faces of one photo. */
static int parse_detect(sg_request *r, const sg_fields *f, const char *accept,
                        const sg_request_limits *lim, sg_http_error *e) {
    (void)accept, (void)lim;
    if (!r->detector)
        return sg_http_fail(e, 501, "no_detector",
                            "this server runs without a face detector (start it with --detector; "
                            "scripts/get-detector.sh makes one)");
    const sg_field *m = sg_fields_get(f, "min_score");
    r->min_score = m ? (float)m->number : 0.5f;
    if (sources(r, f, 1, e)) return -1;
    r->format = SG_OUT_JSON;
    r->n_steps = 1;
    return 0;
}

#define ONCE(n)                                                                                    \
    { n, 0 }
#define REPEAT(n)                                                                                  \
    { n, 1 }
static const sg_field_use translate_fields[] = {
    ONCE("image"),  ONCE("domain"),   ONCE("reference"), ONCE("seed"),
    ONCE("psi"),    ONCE("style"),    ONCE("model"),     ONCE("fit"),
    ONCE("format"), ONCE("quality"),  ONCE("crop"),      ONCE("face"),
    ONCE("paste"),  ONCE("ref_crop"), ONCE("ref_face"),  {NULL, 0}};
static const sg_field_use style_fields[] = {ONCE("domain"), ONCE("reference"), ONCE("seed"),
                                            ONCE("psi"),    ONCE("model"),     ONCE("fit"),
                                            {NULL, 0}};
static const sg_field_use video_fields[] = {
    ONCE("image"),  ONCE("domain"), REPEAT("reference"), REPEAT("seed"), REPEAT("style"),
    ONCE("psi"),    ONCE("model"),  ONCE("fit"),         ONCE("frames"), ONCE("fps"),
    ONCE("format"), ONCE("crop"),   ONCE("face"),        ONCE("paste"),  {NULL, 0}};
static const sg_field_use grid_fields[] = {
    REPEAT("image"), REPEAT("reference"), REPEAT("domain"), REPEAT("seed"),  ONCE("psi"),
    ONCE("model"),   ONCE("fit"),         ONCE("format"),   ONCE("quality"), ONCE("header"),
    ONCE("crop"),    ONCE("face"),        ONCE("paste"),    {NULL, 0}};

static const sg_field_use detect_fields[] = {ONCE("image"), ONCE("min_score"), {NULL, 0}};

const sg_route_desc sg_routes[] = {
    {.path = "/v1/translate",
     .id = SG_ROUTE_TRANSLATE,
     .fields = translate_fields,
     .raw_field = "image",
     .kind = SG_KIND_TRANSLATE,
     .parse = parse_translate},
    {.path = "/v1/style",
     .id = SG_ROUTE_STYLE,
     .fields = style_fields,
     .raw_field = "reference",
     .kind = SG_KIND_STYLE,
     .parse = parse_style},
    {.path = "/v1/interpolate",
     .id = SG_ROUTE_INTERPOLATE,
     .fields = video_fields,
     .raw_field = "image",
     .kind = SG_KIND_VIDEO,
     .parse = parse_video},
    {.path = "/v1/grid",
     .id = SG_ROUTE_GRID,
     .fields = grid_fields,
     .raw_field = "image",
     .kind = SG_KIND_GRID,
     .parse = parse_grid},
    {.path = "/v1/detect",
     .id = SG_ROUTE_DETECT,
     .fields = detect_fields,
     .raw_field = "image",
     .kind = SG_KIND_DETECT,
     .parse = parse_detect},
    {.path = "/v1/models", .id = SG_ROUTE_MODELS},
    {.path = "/healthz", .id = SG_ROUTE_HEALTHZ},
    {.path = "/readyz", .id = SG_ROUTE_READYZ},
    {.path = "/metrics", .id = SG_ROUTE_METRICS},
};
const int sg_n_routes = sizeof sg_routes / sizeof *sg_routes;

const sg_route_desc *sg_route_find(const char *path) {
    for (int i = 0; i < sg_n_routes; i++)
        if (!strcmp(sg_routes[i].path, path)) return &sg_routes[i];
    return NULL;
}

int sg_request_parse(sg_request *r, const sg_route_desc *d, const sg_fields_input *in,
                     const char *accept, sg_srv_models *ms, const sg_request_limits *lim,
                     sg_http_error *e) {
    memset(r, 0, sizeof *r);
    r->kind = d->kind;
    r->max_pixels = lim->max_pixels;
    sg_fields *f = malloc(sizeof *f);
    if (!f) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    int bad = sg_fields_collect(f, in, d->path, d->fields, e);
    const sg_field *m = bad ? NULL : sg_fields_get(f, "model");
    char name[64] = "";
    if (m) sg_field_text(m, name, sizeof name);
    if (!bad && !(r->model = sg_srv_models_find(ms, m ? name : NULL)))
        bad = sg_http_fail(e, 404, "unknown_model", "no model named '%s' (see /v1/models)", name);
    r->detector = ms->detector;
    if (!bad) bad = d->parse(r, f, accept, lim, e);
    free(f);
    if (bad && !e->status) /* a parser that failed without saying why: never a status-0 answer */
        sg_http_fail(e, 500, "internal", "the request could not be read");
    if (!bad && sg_request_work(r) > lim->max_work)
        bad = sg_http_fail(e, 413, "too_much_work",
                           "this request is %lld pixels of work (runs x img_size^2, and a "
                           "1/128 of the photos' pixels), over the server's --max-work of %lld",
                           (long long)sg_request_work(r), (long long)lim->max_work);
    return bad;
}
