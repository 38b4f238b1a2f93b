/* Fuzz target: the request fields of every inference route over arbitrary multipart bodies
 * (boundary "b"): strict field checks, numbers, style arrays, waypoints, grid columns and the
 * size limits, the regions (crop, face, paste, ref_crop, ref_face), for /v1/translate, /v1/style,
 * /v1/interpolate, /v1/grid and /v1/detect. The first byte picks the route (bits 0-1 and 3),
 * whether the rest is also offered as the query string (bit 2; key=value lines), and whether
 * the server has a face detector (bit 4: a stand-in, parsing never runs it). The
 * model is a configuration only: parsing never runs a network. A refusal must carry a 4xx or 5xx
 * status, code and message; an accepted media request must be within the limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/internal.h"

static sg_srv_model model;
static sg_srv_models models = {&model, 1, NULL};
static sg_face_detector detector; /* only its presence matters to parsing */

static void setup(void) {
    static int done;
    if (done) return;
    done = 1;
    sg_error err;
    snprintf(model.name, sizeof model.name, "m");
    sg_config *c = &model.engine.cfg;
    c->img_size = 64, c->style_dim = 4, c->latent_dim = 2, c->num_domains = 3, c->max_conv_dim = 64;
    if (sg_config_set_domains(c, "cat,dog,wild", &err)) abort();
}

static void check_error(int r, const sg_http_error *e) {
    if (r && (e->status < 400 || e->status > 599 || !e->code[0] || !e->msg[0])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    setup();
    int route = ((data[0] & 3) | (data[0] >> 1 & 4)) % 5, with_query = data[0] & 4;
    models.detector = data[0] & 16 ? &detector : NULL;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    sg_mp_form form;
    sg_error err;
    if (sg_multipart_parse(body, len, "b", &form, &err)) form.n = 0;
    /* query parameters: "key=value" lines of the input, NUL-free; a line without '=' is a key
     * without a value (`?seed`) */
    char *q = with_query ? malloc(len + 1) : NULL;
    const char *keys[SG_MAX_QUERY + 4], *values[SG_MAX_QUERY + 4];
    size_t lens[SG_MAX_QUERY + 4];
    int has[SG_MAX_QUERY + 4], nq = 0;
    if (q) {
        memcpy(q, body, len);
        q[len] = 0;
        for (char *line = strtok(q, "\n"); line && nq < SG_MAX_QUERY + 4;
             line = strtok(NULL, "\n")) {
            char *eq = strchr(line, '=');
            if (eq) *eq = 0;
            keys[nq] = line, values[nq] = eq ? eq + 1 : "";
            lens[nq] = strlen(values[nq]), has[nq++] = eq != NULL;
        }
    }
    static const char *const paths[] = {"/v1/translate", "/v1/style", "/v1/interpolate", "/v1/grid",
                                        "/v1/detect"};
    const sg_route_desc *d = sg_route_find(paths[route]);
    sg_fields_input in = {.form = &form,
                          .n_query = nq,
                          .query_keys = keys,
                          .query_values = values,
                          .query_lens = lens,
                          .query_has_value = has,
                          .raw_field = d->raw_field};
    sg_request_limits lim = {
        .max_frames = 50, .max_cells = 20, .max_work = 64 * 64 * 60, .max_pixels = 1000000};
    sg_http_error e = {0};
    sg_request r;
    int ret = sg_request_parse(&r, d, &in, "image/webp, image/jpeg", &models, &lim, &e);
    check_error(ret, &e);
    if (!ret && (sg_request_work(&r) > lim.max_work || (r.kind != SG_KIND_DETECT && r.n_cols < 1) ||
                 r.n_steps < 1 || (r.kind != SG_KIND_STYLE && r.n_src < 1) ||
                 (r.kind == SG_KIND_VIDEO && (r.frames > 50 || r.frames < r.n_cols)) ||
                 (r.kind == SG_KIND_GRID && r.n_src * r.n_cols > 20)))
        abort();
    if (!ret) {
        sg_buf h;
        sg_buf_init(&h, 0);
        if (sg_request_headers(&r, 1.0, &h)) abort();
        sg_buf_free(&h);
    }
    sg_request_free(&r);
    free(q);
    return 0;
}
