/* One inference request. Parsing (on the HTTP thread) checks every field and the image format
 * from its first bytes, so a bad request is a 4xx before it takes a queue slot; running (on a
 * worker) decodes, computes the style, translates and encodes exactly as `stargan translate`
 * does, so the same inputs give the same bytes. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "server.h"

int sg_http_fail(sg_http_error *e, int status, const char *code, const char *fmt, ...) {
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void sg_http_from_status(sg_http_error *e, const sg_error *err) {
    const char *m = err->msg[0] ? err->msg : sg_status_name(err->status);
    switch (err->status) {
    case SG_ERR_ARG: sg_http_fail(e, 400, "bad_request", "%s", m); break;
    case SG_ERR_LIMIT: sg_http_fail(e, 413, "too_large", "%s", m); break;
    case SG_ERR_FORMAT: sg_http_fail(e, 422, "undecodable_image", "%s", m); break;
    case SG_ERR_UNSUPPORTED: sg_http_fail(e, 501, "not_implemented", "%s", m); break;
    case SG_ERR_NOMEM: sg_http_fail(e, 503, "out_of_memory", "%s", m); break;
    default: sg_http_fail(e, 500, "internal", "%s", m); break;
    }
}

/* ---- fields --------------------------------------------------------------------------------- */
/* A text field (form part, else query parameter) copied into out: 1 present, 0 absent. */
static int field(const sg_task_input *in, const char *name, char *out, size_t cap,
                 sg_http_error *e) {
    const sg_mp_part *p = sg_multipart_get(in->form, name);
    if (p) {
        if (p->len >= cap || memchr(p->data, 0, p->len))
            return sg_http_fail(e, 400, "bad_field", "field '%s' is too long or not text", name);
        memcpy(out, p->data, p->len);
        out[p->len] = 0;
        return 1;
    }
    const char *q = in->query ? in->query(in->query_ctx, name) : NULL;
    if (!q) return 0;
    if (strlen(q) >= cap) return sg_http_fail(e, 400, "bad_field", "field '%s' is too long", name);
    memcpy(out, q, strlen(q) + 1);
    return 1;
}

/* An image: a form part, or the raw body for "image". 415 unless it is PNG or JPEG. */
static int image_field(const sg_task_input *in, const char *name, const uint8_t **data, size_t *len,
                       sg_http_error *e) {
    const sg_mp_part *p = sg_multipart_get(in->form, name);
    *data = NULL;
    *len = 0;
    if (p) *data = p->data, *len = p->len;
    else if (in->raw_image && in->raw_field && !strcmp(name, in->raw_field))
        *data = in->raw_image, *len = in->raw_len;
    if (!*data) return 0;
    if (sg_image_sniff(*data, *len) == SG_FORMAT_UNKNOWN)
        return sg_http_fail(e, 415, "unsupported_media_type", "'%s' is not a PNG or JPEG image",
                            name);
    return 1;
}

/* One number grammar for every numeric field: JSON's, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * the whole field, nothing else (no spaces, '+', hex, inf or nan, which strtod would take).
 * Returns the length of its integer part's digits when the number is an integer (no fraction,
 * no exponent), 0 when it has a fraction or an exponent, -1 when it is not a number. */
static int number_syntax(const char *s) {
    const char *p = s;
    if (*p == '-') p++;
    const char *digits = p;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9') p++;
    else return -1;
    int n = (int)(p - digits), integer = 1;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') p++;
        integer = 0;
    }
    if (*p == 'e' || *p == 'E') {
        if (*++p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') p++;
        integer = 0;
    }
    return *p ? -1 : integer ? n : 0;
}

static int parse_number(const char *s, double *v) {
    if (number_syntax(s) < 0) return -1;
    *v = strtod(s, NULL);
    return isfinite(*v) ? 0 : -1;
}

/* A non-negative integer in the same grammar (its integer form, no sign). */
static int parse_u64(const char *s, uint64_t *v) {
    if (s[0] == '-' || number_syntax(s) <= 0) return -1;
    errno = 0;
    unsigned long long x = strtoull(s, NULL, 10);
    if (errno) return -1;
    *v = x;
    return 0;
}

/* Seeds drawn by the server stay below 2^53 so a JavaScript client can hand them back intact. */
static uint64_t random_seed(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)(sg_now_ms() * 1e3);
    return x & ((1ull << 53) - 1);
}

static int parse_style(sg_task *t, const char *json, sg_http_error *e) {
    int dim = t->model->engine.cfg.style_dim;
    cJSON *a = cJSON_ParseWithOpts(json, NULL, 1); /* nothing but spaces after the array */
    int ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == dim;
    t->style = ok ? calloc((size_t)dim, sizeof(float)) : NULL;
    for (int i = 0; ok && t->style && i < dim; i++) {
        cJSON *v = cJSON_GetArrayItem(a, i);
        ok = cJSON_IsNumber(v) && isfinite(v->valuedouble) && fabs(v->valuedouble) < 1e30;
        if (ok) t->style[i] = (float)v->valuedouble;
    }
    cJSON_Delete(a);
    if (!ok)
        return sg_http_fail(e, 400, "bad_field", "style must be a JSON array of %d numbers", dim);
    if (!t->style) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    return 0;
}

/* The output format: `format`, else the first of image/png, image/jpeg named by Accept. */
static int parse_format(sg_task *t, const sg_task_input *in, sg_http_error *e) {
    char v[16];
    int r = field(in, "format", v, sizeof v, e);
    if (r < 0) return -1;
    if (r) {
        if (!strcasecmp(v, "png")) t->format = SG_FORMAT_PNG;
        else if (!strcasecmp(v, "jpeg") || !strcasecmp(v, "jpg")) t->format = SG_FORMAT_JPEG;
        else return sg_http_fail(e, 400, "bad_field", "format must be png or jpeg");
        return 0;
    }
    t->format = SG_FORMAT_PNG;
    if (in->accept) {
        const char *png = strcasestr(in->accept, "image/png");
        const char *jpg = strcasestr(in->accept, "image/jpeg");
        if (!jpg) jpg = strcasestr(in->accept, "image/jpg");
        if (jpg && (!png || jpg < png)) t->format = SG_FORMAT_JPEG;
    }
    return 0;
}

static int parse_fit(sg_task *t, const sg_task_input *in, sg_http_error *e) {
    char v[16];
    int r = field(in, "fit", v, sizeof v, e);
    t->fit = SG_FIT_CROP;
    if (r <= 0) return r;
    if (!strcmp(v, "crop")) t->fit = SG_FIT_CROP;
    else if (!strcmp(v, "stretch")) t->fit = SG_FIT_STRETCH;
    else if (!strcmp(v, "align")) t->fit = SG_FIT_ALIGN;
    else return sg_http_fail(e, 400, "bad_field", "fit must be crop, stretch or align");
    if (t->fit == SG_FIT_ALIGN && !sg_srv_model_has_faces(t->model))
        return sg_http_fail(
            e, 422, "no_face_network",
            "fit=align needs a face network: model '%s' has none (start the server with --fan)",
            t->model->name);
    if (t->fit == SG_FIT_ALIGN && !sg_srv_model_can_align(t->model))
        return sg_http_fail(e, 422, "no_mean_landmarks",
                            "fit=align needs the mean face landmarks (start the server with --mean "
                            "celeba_lm_mean.npz)");
    return 0;
}

static int parse_model_domain(sg_task *t, const sg_task_input *in, sg_srv_models *ms,
                              sg_http_error *e) {
    char v[128];
    int r = field(in, "model", v, sizeof v, e);
    if (r < 0) return -1;
    t->model = sg_srv_models_find(ms, r ? v : NULL);
    if (!t->model)
        return sg_http_fail(e, 404, "unknown_model", "no model named '%s' (see /v1/models)", v);
    if ((r = field(in, "domain", v, sizeof v, e)) <= 0)
        return r < 0 ? -1 : sg_http_fail(e, 400, "missing_field", "domain is required");
    t->domain = sg_config_domain(&t->model->engine.cfg, v);
    if (t->domain < 0) return sg_form_domain_error(t->model, v, e);
    return 0;
}

/* reference | style | seed (+ psi), exactly one; seed is the default, drawn at random. */
static int parse_style_source(sg_task *t, const sg_task_input *in, sg_http_error *e) {
    char seed[32], psi[32];
    size_t cap = (size_t)t->model->engine.cfg.style_dim * 32 + 64;
    char *style = malloc(cap);
    if (!style) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    int has_ref = image_field(in, "reference", &t->ref, &t->ref_len, e);
    int has_seed = has_ref < 0 ? -1 : field(in, "seed", seed, sizeof seed, e);
    int has_psi = has_seed < 0 ? -1 : field(in, "psi", psi, sizeof psi, e);
    int has_style = has_psi < 0 ? -1 : field(in, "style", style, cap, e);
    int r = has_style < 0 ? -1 : 0;
    if (!r && has_ref + has_seed + has_style > 1)
        r = sg_http_fail(e, 400, "bad_request", "give only one of reference, seed and style");
    else if (!r && has_psi && (has_ref || has_style))
        r = sg_http_fail(e, 400, "bad_request",
                         "psi applies to seed (latent-guided) requests only");
    if (!r && has_style) {
        t->mode = SG_STYLE_GIVEN;
        r = parse_style(t, style, e);
    } else if (!r && has_ref) {
        t->mode = SG_STYLE_REF;
    } else if (!r) {
        t->mode = SG_STYLE_SEED;
        t->psi = 1.0f;
        if (has_seed && parse_u64(seed, &t->seed))
            r = sg_http_fail(e, 400, "bad_field", "seed must be a non-negative integer");
        if (!has_seed) t->seed = random_seed(), t->seed_random = 1;
        double p = 1.0;
        if (!r && has_psi && (parse_number(psi, &p) || !(p >= 0.0 && p <= 1.0)))
            r = sg_http_fail(e, 400, "bad_field", "psi must be a number in [0, 1]");
        t->psi = (float)p;
    }
    free(style);
    return r;
}

static int parse_output(sg_task *t, const sg_task_input *in, sg_http_error *e) {
    char q[16];
    t->quality = 90;
    if (parse_format(t, in, e)) return -1;
    int r = field(in, "quality", q, sizeof q, e);
    if (r < 0) return -1;
    if (r) {
        uint64_t v = 0;
        if (parse_u64(q, &v) || v < 1 || v > 100)
            return sg_http_fail(e, 400, "bad_field", "quality must be an integer in 1..100");
        t->quality = (int)v;
    }
    return 0;
}

int sg_task_parse(sg_task *t, sg_task_kind kind, const sg_task_input *in, sg_srv_models *ms,
                  int64_t max_pixels, sg_http_error *e) {
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->max_pixels = max_pixels;
    static const char *const translate_fields[] = {"image",  "domain",  "reference", "seed",
                                                   "psi",    "style",   "model",     "fit",
                                                   "format", "quality", NULL};
    static const char *const style_fields[] = {"domain", "reference", "seed", "psi",
                                               "style",  "model",     "fit",  NULL};
    if (sg_form_check(in, kind == SG_TASK_STYLE ? "/v1/style" : "/v1/translate",
                      kind == SG_TASK_STYLE ? style_fields : translate_fields, NULL, e))
        return -1;
    if (parse_model_domain(t, in, ms, e) || parse_style_source(t, in, e) || parse_fit(t, in, e))
        return -1;
    if (kind == SG_TASK_STYLE) {
        if (t->mode == SG_STYLE_GIVEN)
            return sg_http_fail(e, 400, "bad_request",
                                "style is an output of /v1/style, not an input");
        return 0;
    }
    if (parse_output(t, in, e)) return -1;
    int r = image_field(in, "image", &t->image, &t->image_len, e);
    if (r == 0)
        return sg_http_fail(e, 400, "missing_field", "image is required (a PNG or JPEG file)");
    return r < 0 ? -1 : 0;
}

/* ---- run ------------------------------------------------------------------------------------ */
static sg_status decode(sg_task *t, const uint8_t *d, size_t n, sg_image *img, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st = sg_image_decode(d, n, t->max_pixels, 1, img, err);
    t->stage_ms[SG_STAGE_DECODE] += sg_now_ms() - t0;
    return st;
}

static sg_status compute_style(sg_task *t, sg_run *run, float *s, sg_error *err) {
    sg_engine *e = &t->model->engine;
    sg_image ref = {0};
    sg_status st = SG_OK;
    if (t->mode == SG_STYLE_REF) st = decode(t, t->ref, t->ref_len, &ref, err);
    double t0 = sg_now_ms();
    if (!st && t->mode == SG_STYLE_REF)
        st = sg_engine_style_ref(e, run, &ref, t->fit, t->domain, s, err);
    if (!st && t->mode == SG_STYLE_SEED)
        st = sg_engine_style_latent(e, t->seed, t->domain, t->psi, s, err);
    if (!st && t->mode == SG_STYLE_GIVEN) memcpy(s, t->style, (size_t)e->cfg.style_dim * sizeof *s);
    t->stage_ms[SG_STAGE_STYLE] = sg_now_ms() - t0;
    sg_image_free(&ref);
    return st;
}

/* {"model":...,"domain":...,"style":[...]}: %.9g round-trips every float exactly. */
static sg_status style_json(sg_task *t, const float *s, sg_error *err) {
    sg_buf b;
    sg_buf_init(&b, 0);
    cJSON *name = cJSON_CreateString(t->model->name);
    cJSON *dom = cJSON_CreateString(t->model->engine.cfg.domains[t->domain]);
    char *n = cJSON_PrintUnformatted(name), *d = cJSON_PrintUnformatted(dom);
    sg_buf_printf(&b, "{\"model\":%s,\"domain\":%s,\"style\":[", n ? n : "null", d ? d : "null");
    for (int i = 0; i < t->model->engine.cfg.style_dim; i++)
        sg_buf_printf(&b, "%s%.9g", i ? "," : "", s[i]);
    sg_buf_append(&b, "]}", 2);
    cJSON_free(n), cJSON_free(d), cJSON_Delete(name), cJSON_Delete(dom);
    t->out = (uint8_t *)sg_buf_take(&b, &t->out_len);
    return t->out ? SG_OK : sg_error_set(err, SG_ERR_NOMEM, "out of memory");
}

static sg_status translate(sg_task *t, sg_run *run, const float *s, sg_error *err) {
    sg_image src = {0}, out = {0};
    sg_timing tm = {0};
    sg_status st = decode(t, t->image, t->image_len, &src, err);
    if (!st) st = sg_engine_translate(&t->model->engine, run, &src, t->fit, s, &out, &tm, err);
    t->stage_ms[SG_STAGE_FACES] = tm.faces_ms;
    t->stage_ms[SG_STAGE_GENERATOR] = tm.generator_ms;
    sg_image_free(&src);
    double t0 = sg_now_ms();
    if (!st) st = sg_image_encode(&out, t->format, t->quality, &t->out, &t->out_len, err);
    t->stage_ms[SG_STAGE_ENCODE] = sg_now_ms() - t0;
    sg_image_free(&out);
    return st;
}

void sg_task_run(sg_task *t, sg_run *run) {
    sg_error err = {0};
    float *s = calloc((size_t)t->model->engine.cfg.style_dim, sizeof(float));
    sg_status st =
        s ? compute_style(t, run, s, &err) : sg_error_set(&err, SG_ERR_NOMEM, "out of memory");
    if (!st && t->kind == SG_TASK_STYLE) st = style_json(t, s, &err);
    if (!st && t->kind == SG_TASK_TRANSLATE) st = translate(t, run, s, &err);
    free(s);
    if (st) {
        free(t->out);
        t->out = NULL;
        t->out_len = 0;
        sg_http_from_status(&t->error, &err);
    }
}

void sg_task_free(sg_task *t) {
    free(t->style);
    free(t->out);
    t->style = NULL;
    t->out = NULL;
}

const char *sg_task_content_type(const sg_task *t) {
    if (t->kind == SG_TASK_STYLE) return "application/json";
    return t->format == SG_FORMAT_JPEG ? "image/jpeg" : "image/png";
}
