/* Fuzz target: the request fields of every inference route over arbitrary multipart bodies
 * (boundary "b"): strict field checks, numbers, style arrays, waypoints, grid columns and the
 * size limits, for /v1/translate, /v1/style, /v1/interpolate and /v1/grid. The first byte picks
 * the route and whether the rest is also offered as the query string (key=value lines). The
 * model is a configuration only: parsing never runs a network. A refusal must carry a 4xx or 5xx
 * status, code and message; an accepted media request must be within the limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/server.h"

static sg_srv_model model;
static sg_srv_models models = {&model, 1};

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
    int route = data[0] & 3, with_query = data[0] & 4;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    sg_mp_form form;
    sg_error err;
    if (sg_multipart_parse(body, len, "b", &form, &err)) form.n = 0;
    /* query parameters: "key=value" lines of the input, NUL-free */
    char *q = with_query ? malloc(len + 1) : NULL;
    const char *keys[SG_MAX_QUERY + 4], *values[SG_MAX_QUERY + 4];
    int nq = 0;
    if (q) {
        memcpy(q, body, len);
        q[len] = 0;
        for (char *line = strtok(q, "\n"); line && nq < SG_MAX_QUERY + 4;
             line = strtok(NULL, "\n")) {
            char *eq = strchr(line, '=');
            if (!eq) continue;
            *eq = 0;
            keys[nq] = line, values[nq++] = eq + 1;
        }
    }
    sg_task_input in = {.form = &form,
                        .query_keys = keys,
                        .query_values = values,
                        .n_query = nq,
                        .accept = "image/webp, image/jpeg"};
    sg_http_error e = {0};
    if (route < 2) {
        sg_task t;
        int r =
            sg_task_parse(&t, route ? SG_TASK_STYLE : SG_TASK_TRANSLATE, &in, &models, 1000000, &e);
        check_error(r, &e);
        sg_task_free(&t);
    } else {
        sg_media m;
        sg_media_limits lim = {
            .max_frames = 50, .max_cells = 20, .max_work = 64 * 64 * 60, .max_pixels = 1000000};
        int r = sg_media_parse(&m, route == 2 ? SG_MEDIA_INTERPOLATE : SG_MEDIA_GRID, &in, &models,
                               &lim, &e);
        check_error(r, &e);
        if (!r && (sg_media_work(&m) > lim.max_work || m.n_cols < 1 || m.n_src < 1 ||
                   (m.kind == SG_MEDIA_INTERPOLATE && (m.frames > 50 || m.frames < m.n_cols)) ||
                   (m.kind == SG_MEDIA_GRID && m.n_src * m.n_cols > 20)))
            abort();
        if (!r) {
            char seeds[400], cols[1600], grid[128];
            sg_media_headers(&m, seeds, sizeof seeds, cols, sizeof cols, grid, sizeof grid);
        }
        sg_media_free(&m);
    }
    free(q);
    return 0;
}
