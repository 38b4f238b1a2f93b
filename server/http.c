/* The HTTP side, on libmicrohttpd with one internal epoll thread. That thread only routes,
 * streams uploads into bounded buffers and checks fields: every decode and network runs on the
 * queue's workers. An inference request is suspended while it waits and runs, and resumed by
 * the worker that finishes it (or by the reaper when its deadline passes), so a slow request
 * never blocks the event loop and a slow client never holds a worker. */
#include <cjson/cJSON.h>
#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "../web/web.h"

#define RETRY_AFTER "1"
/* bytes past --max-body that are still read (and dropped) so the client sees the 413 */
#define DISCARD_SLACK ((int64_t)1 << 20)
#define MAX_KEYS      65536
#define MAX_KEY_LEN   4096

struct sg_server {
    sg_srv_config cfg;
    struct MHD_Daemon *d;
    /* the current generation of models (guarded by gen_mu; each request holds the one it started
     * on) */
    pthread_mutex_t gen_mu;
    sg_srv_gen *gen;
    sg_queue queue;
    int queue_ok;
    sg_metrics metrics;
    char **keys;
    int n_keys, cap_keys;
    atomic_long reloads_ok, reloads_failed;
    sg_watchdog wd; /* deadlines for slow clients */
    int wd_ok;
    atomic_long uploads_refused;
    sg_work_budget work; /* long requests (media.c) */
    atomic_int ready, stopping, draining;
    atomic_ulong next_id;
    uint32_t id_prefix;
    pthread_mutex_t mu; /* guards active */
    pthread_cond_t idle;
    int active; /* requests handed to the queue and not yet completed by MHD */
};

enum { BODY_NONE, BODY_RAW, BODY_MULTIPART };

typedef struct {
    sg_server *s;
    struct MHD_Connection *conn;
    sg_route route;
    char id[48], method[16], path[256];
    double t0;
    int body_kind;
    char boundary[80];
    sg_buf body;
    int overflow;
    size_t discarded;
    sg_http_error early; /* answered once the upload has been read */
    sg_job job;
    sg_srv_gen *gen; /* the models this request runs on (a reference), from its parse on */
    sg_conn *wc;     /* the connection's watchdog entry (NULL: untracked) */
    int rejected;    /* answered 503 "overloaded": counted once the answer is sent */
    int deferred;    /* a GET/HEAD/OPTIONS answered on the next call, keeping the connection */
    sg_task task;
    int is_media;
    sg_media media;
    int64_t work; /* taken from the budget */
    const char *qk[SG_MAX_QUERY], *qv[SG_MAX_QUERY];
    int nq;
    int counted_active;
    atomic_int done; /* 1 ran, 2 expired, 3 dropped at shutdown */
    int status;
    uint64_t bytes;
    char model[64], domain[32];
} req;

static const struct {
    const char *path;
    sg_route route;
    int post;
} routes[] = {
    {"/v1/translate", SG_ROUTE_TRANSLATE, 1},
    {"/v1/style", SG_ROUTE_STYLE, 1},
    {"/v1/models", SG_ROUTE_MODELS, 0},
    {"/healthz", SG_ROUTE_HEALTHZ, 0},
    {"/readyz", SG_ROUTE_READYZ, 0},
    {"/metrics", SG_ROUTE_METRICS, 0},
    {"/v1/interpolate", SG_ROUTE_INTERPOLATE, 1},
    {"/v1/grid", SG_ROUTE_GRID, 1},
};

/* ---- responses ------------------------------------------------------------------------------ */
static const char *header(req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Is this Origin allowed by --cors-origin ("*" or a comma-separated list)? */
static int origin_allowed(const sg_server *s, const char *origin) {
    const char *list = s->cfg.cors_origin;
    if (!origin || !*list) return 0;
    if (!strcmp(list, "*")) return 1;
    size_t n = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t k = strcspn(p, ", ");
        if (k == n && !strncmp(p, origin, n)) return 1;
        p += k;
    }
    return 0;
}

static void add_cors(req *r, struct MHD_Response *resp) {
    const char *origin = header(r, "Origin");
    if (!origin_allowed(r->s, origin)) return;
    int any = !strcmp(r->s->cfg.cors_origin, "*");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", any ? "*" : origin);
    if (!any) MHD_add_response_header(resp, "Vary", "Origin");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "X-Request-Id, X-Seed, X-Model, X-Grid, X-Grid-Columns, X-Frames, "
                            "X-Fps, Server-Timing, Retry-After");
}

/* Queues a response (takes ownership of data, malloc'd) with the headers every answer carries;
 * extra: NULL-terminated name/value pairs. */
static enum MHD_Result respond(req *r, int status, const char *type, void *data, size_t len,
                               const char *const *extra) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, data ? data : (void *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (; extra && extra[0]; extra += 2)
        if (extra[1]) MHD_add_response_header(resp, extra[0], extra[1]);
    add_cors(r, resp);
    if (atomic_load(&r->s->stopping) || atomic_load(&r->s->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    r->bytes = len;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result respond_text(req *r, int status, const char *type, const char *text,
                                    const char *const *extra) {
    char *copy = strdup(text);
    return respond(r, status, type, copy, copy ? strlen(copy) : 0, extra);
}

/* {"error":{"code":...,"message":...}}; 503s carry Retry-After. */
static enum MHD_Result respond_error(req *r, const sg_http_error *e, const char *const *extra) {
    cJSON *root = cJSON_CreateObject(), *err = cJSON_CreateObject();
    cJSON_AddStringToObject(err, "code", e->code);
    cJSON_AddStringToObject(err, "message", e->msg);
    cJSON_AddItemToObject(root, "error", err);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    const char *retry[] = {"Retry-After", RETRY_AFTER, NULL};
    if (!extra && e->status == 503) extra = retry;
    size_t n = json ? strlen(json) : 0;
    char *body = json ? malloc(n + 2) : NULL; /* cJSON's buffer may not be plain malloc */
    if (body) memcpy(body, json, n), body[n] = '\n', body[n + 1] = 0;
    cJSON_free(json);
    return respond(r, e->status, "application/json", body, body ? n + 1 : 0, extra);
}

static enum MHD_Result fail(req *r, int status, const char *code, const char *msg,
                            const char *const *extra) {
    sg_http_error e;
    sg_http_fail(&e, status, code, "%s", msg);
    return respond_error(r, &e, extra);
}

/* ---- simple routes -------------------------------------------------------------------------- */
static int queue_has_room(sg_server *s) {
    int admitted = 0;
    if (!s->queue_ok) return 0;
    sg_queue_stats(&s->queue, NULL, NULL, &admitted, NULL, NULL);
    return admitted < s->cfg.workers + s->cfg.queue;
}

/* The current generation, with a reference for the caller. */
static sg_srv_gen *gen_get(sg_server *s) {
    pthread_mutex_lock(&s->gen_mu);
    sg_srv_gen *g = s->gen;
    if (g) sg_srv_gen_acquire(g);
    pthread_mutex_unlock(&s->gen_mu);
    return g;
}

static sg_status render_reloads(sg_server *s, sg_buf *o) {
    int open = 0, uploads = 0;
    long dh = 0, db = 0;
    sg_watchdog_stats(&s->wd, &open, &uploads, &dh, &db);
    sg_buf_printf(o,
                  "# HELP stargan_connections Open client connections.\n"
                  "# TYPE stargan_connections gauge\nstargan_connections %d\n"
                  "# HELP stargan_uploads Connections holding an upload slot (--max-connections).\n"
                  "# TYPE stargan_uploads gauge\nstargan_uploads %d\n"
                  "# HELP stargan_uploads_refused_total Uploads answered 503 because every upload "
                  "slot was taken.\n"
                  "# TYPE stargan_uploads_refused_total counter\nstargan_uploads_refused_total "
                  "%ld\n"
                  "# HELP stargan_slow_clients_dropped_total Connections dropped past a deadline: "
                  "headers (--header-timeout) or body (--body-min-rate).\n"
                  "# TYPE stargan_slow_clients_dropped_total counter\n"
                  "stargan_slow_clients_dropped_total{phase=\"headers\"} %ld\n"
                  "stargan_slow_clients_dropped_total{phase=\"body\"} %ld\n",
                  open, uploads, atomic_load(&s->uploads_refused), dh, db);
    sg_buf_printf(o,
                  "# HELP stargan_model_reloads_total Model reloads (SIGHUP), by result.\n"
                  "# TYPE stargan_model_reloads_total counter\n"
                  "stargan_model_reloads_total{result=\"ok\"} %ld\n"
                  "stargan_model_reloads_total{result=\"failed\"} %ld\n",
                  atomic_load(&s->reloads_ok), atomic_load(&s->reloads_failed));
    return o->data ? SG_OK : SG_ERR_NOMEM;
}

static enum MHD_Result route_readyz(req *r) {
    sg_server *s = r->s;
    if (atomic_load(&s->stopping)) return fail(r, 503, "stopping", "shutting down", NULL);
    if (atomic_load(&s->draining)) return fail(r, 503, "draining", "shutting down soon", NULL);
    if (!atomic_load(&s->ready)) return fail(r, 503, "loading", "models are loading", NULL);
    if (!queue_has_room(s)) return fail(r, 503, "overloaded", "workers and queue are full", NULL);
    return respond_text(r, 200, "application/json", "{\"status\":\"ready\"}\n", NULL);
}

static enum MHD_Result route_metrics(req *r) {
    sg_server *s = r->s;
    sg_metrics_gauges g = {0};
    long rejected, expired;
    if (s->queue_ok)
        sg_queue_stats(&s->queue, &g.queue_waiting, &g.running, &g.admitted, &rejected, &expired);
    g.capacity = s->cfg.workers + s->cfg.queue;
    g.workers = s->cfg.workers;
    g.ready = atomic_load(&s->ready) && !atomic_load(&s->stopping) && !atomic_load(&s->draining) &&
              g.admitted < g.capacity;
    sg_buf out;
    sg_buf_init(&out, 0);
    sg_srv_gen *gen = atomic_load(&s->ready) ? gen_get(s) : NULL;
    sg_status st = sg_metrics_render(&s->metrics, &g, gen ? sg_buf_str(&gen->metrics) : NULL, &out);
    sg_srv_gen_release(gen);
    if (!st) st = render_reloads(s, &out);
    if (st) {
        sg_buf_free(&out);
        return fail(r, 500, "internal", "cannot render metrics", NULL);
    }
    pthread_mutex_lock(&s->work.mu);
    long long used = (long long)s->work.used, cap = (long long)s->work.cap;
    pthread_mutex_unlock(&s->work.mu);
    sg_buf_printf(&out,
                  "# HELP stargan_work_admitted_pixels Work of the admitted /v1/interpolate and "
                  "/v1/grid requests (runs x img_size^2).\n"
                  "# TYPE stargan_work_admitted_pixels gauge\nstargan_work_admitted_pixels %lld\n"
                  "# HELP stargan_work_capacity_pixels --max-work.\n"
                  "# TYPE stargan_work_capacity_pixels gauge\nstargan_work_capacity_pixels %lld\n",
                  used, cap);
    size_t n;
    char *text = sg_buf_take(&out, &n);
    return respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, n, NULL);
}

static enum MHD_Result route_get(req *r) {
    switch (r->route) {
    case SG_ROUTE_HEALTHZ:
        return respond_text(r, 200, "application/json", "{\"status\":\"ok\"}\n", NULL);
    case SG_ROUTE_READYZ: return route_readyz(r);
    case SG_ROUTE_METRICS: return route_metrics(r);
    case SG_ROUTE_MODELS: {
        if (!atomic_load(&r->s->ready)) return fail(r, 503, "loading", "models are loading", NULL);
        sg_srv_gen *g = gen_get(r->s);
        enum MHD_Result ret = respond_text(r, 200, "application/json", g->json, NULL);
        sg_srv_gen_release(g);
        return ret;
    }
    default: return fail(r, 404, "not_found", "no such route", NULL);
    }
}

/* ---- auth, CORS preflight, request ids ------------------------------------------------------ */
static int const_time_eq(const char *a, size_t an, const char *b) {
    size_t bn = strlen(b);
    unsigned char diff = (unsigned char)(an != bn);
    for (size_t i = 0; i < an; i++) diff |= (unsigned char)(a[i] ^ b[i % (bn ? bn : 1)]);
    return diff == 0;
}

/* Health probes stay open (orchestrators do not carry tokens); so does the CORS preflight,
 * which browsers send without credentials. */
static int authorized(req *r) {
    sg_server *s = r->s;
    if (!s->n_keys || r->route == SG_ROUTE_HEALTHZ || r->route == SG_ROUTE_READYZ) return 1;
    const char *h = header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    size_t n = strlen(tok);
    while (n && tok[n - 1] == ' ') n--;
    int ok = 0;
    for (int i = 0; i < s->n_keys; i++) ok |= const_time_eq(tok, n, s->keys[i]);
    return ok;
}

static enum MHD_Result preflight(req *r, int post) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    const char *allow = post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
    MHD_add_response_header(resp, "Allow", allow);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    const char *origin = header(r, "Origin");
    if (origin_allowed(r->s, origin)) {
        int any = !strcmp(r->s->cfg.cors_origin, "*");
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", any ? "*" : origin);
        if (!any) MHD_add_response_header(resp, "Vary", "Origin");
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, Accept, X-Request-Id");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    r->status = 204;
    enum MHD_Result ret = MHD_queue_response(r->conn, 204, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The client's X-Request-Id when it is short and plain, else a fresh one. */
static void request_id(req *r) {
    const char *h = header(r, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;
    int ok = n > 0 && n < sizeof r->id;
    for (size_t i = 0; ok && i < n; i++) ok = isalnum((unsigned char)h[i]) || strchr("-_.:", h[i]);
    if (ok) memcpy(r->id, h, n + 1);
    else
        snprintf(r->id, sizeof r->id, "%08x%08lx", r->s->id_prefix,
                 atomic_fetch_add(&r->s->next_id, 1));
}

/* ---- inference routes ----------------------------------------------------------------------- */
/* Decides how the body will be read; returns -1 with r->early set when it is refused. */
static int body_setup(req *r) {
    sg_server *s = r->s;
    const char *ct = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cl = header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long long len = cl ? atoll(cl) : -1;
    if (len > s->cfg.max_body)
        return sg_http_fail(&r->early, 413, "too_large",
                            "body of %lld bytes is over the %lld-byte limit", len,
                            (long long)s->cfg.max_body);
    sg_error err;
    if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
        if (sg_multipart_boundary(ct, r->boundary, sizeof r->boundary, &err))
            return sg_http_fail(&r->early, 400, "bad_multipart", "%s", err.msg);
        r->body_kind = BODY_MULTIPART;
    } else if (ct && (!strncasecmp(ct, "image/png", 9) || !strncasecmp(ct, "image/jpeg", 10) ||
                      !strncasecmp(ct, "image/jpg", 9) ||
                      !strncasecmp(ct, "application/octet-stream", 24))) {
        r->body_kind = BODY_RAW;
    } else if (ct && *ct && len != 0) {
        return sg_http_fail(&r->early, 415, "unsupported_media_type",
                            "send multipart/form-data, or an image/png or image/jpeg body");
    }
    sg_buf_init(&r->body, (size_t)s->cfg.max_body);
    if (len > 0 && sg_buf_reserve(&r->body, (size_t)len))
        return sg_http_fail(&r->early, 503, "out_of_memory", "cannot buffer the body");
    return 0;
}

static int early_answer_safe(req *r) {
    /* Answering before the body is read is clean only when the client waits for "100 Continue"
     * (or sends nothing); otherwise it is still sending, and closing on it could reset the
     * connection before it reads the answer: then the body is read (and discarded) first. */
    /* A declared body beyond what receive() is willing to discard is answered at once: reading
     * it all would cost more than the risk of a reset. */
    const char *cl = header(r, MHD_HTTP_HEADER_CONTENT_LENGTH), *ex = header(r, "Expect");
    return (cl && atoll(cl) == 0) || (ex && !strcasecmp(ex, "100-continue")) ||
           (cl && atoll(cl) > r->s->cfg.max_body + DISCARD_SLACK);
}

static enum MHD_Result begin_post(req *r) {
    sg_server *s = r->s;
    if (atomic_load(&s->stopping)) sg_http_fail(&r->early, 503, "stopping", "shutting down");
    else if (!atomic_load(&s->ready)) sg_http_fail(&r->early, 503, "loading", "models are loading");
    else if (!queue_has_room(s)) {
        r->rejected = 1;
        sg_http_fail(&r->early, 503, "overloaded", "workers and queue are full; retry later");
    } else if (!sg_watchdog_take_upload(&s->wd, r->wc, s->cfg.max_connections)) {
        atomic_fetch_add(&s->uploads_refused, 1);
        sg_http_fail(&r->early, 503, "busy",
                     "every upload slot (--max-connections) is taken; retry later");
    } else body_setup(r);
    sg_watchdog_phase(&s->wd, r->wc, SG_CONN_BODY);
    if (r->early.status && early_answer_safe(r)) return respond_error(r, &r->early, NULL);
    return MHD_YES;
}

/* Upload bytes: into the bounded body; past the limit they are discarded (up to --max-body +
 * DISCARD_SLACK more, then the connection is dropped) so the client can still read the 413. */
static enum MHD_Result receive(req *r, const char *data, size_t n) {
    sg_watchdog_body(&r->s->wd, r->wc, n);
    if (r->early.status || r->overflow) {
        r->discarded += n;
        return r->discarded > (size_t)(r->s->cfg.max_body + DISCARD_SLACK) ? MHD_NO : MHD_YES;
    }
    sg_status st = sg_buf_append(&r->body, data, n);
    if (st == SG_ERR_LIMIT) {
        r->overflow = 1;
        sg_buf_free(&r->body);
        sg_http_fail(&r->early, 413, "too_large", "body is over the %lld-byte limit",
                     (long long)r->s->cfg.max_body);
    } else if (st) {
        sg_http_fail(&r->early, 503, "out_of_memory", "cannot buffer the body");
    }
    return MHD_YES;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    req *r = cls;
    if (r->nq < SG_MAX_QUERY) r->qk[r->nq] = key, r->qv[r->nq] = value ? value : "";
    r->nq++; /* past SG_MAX_QUERY: refused by sg_form_check */
    return MHD_YES;
}

static const char *query_arg(void *ctx, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, name);
}

static void job_finish(req *r, int how) {
    atomic_store(&r->done, how);
    MHD_resume_connection(r->conn); /* the last touch: MHD may answer and free r from here on */
}

static void job_run(sg_job *j, int worker) {
    req *r = (req *)((char *)j - offsetof(req, job));
    sg_server *s = r->s;
    if (r->is_media) { /* one step, then back to the end of the queue */
        sg_media *md = &r->media;
        if (md->step == 0)
            md->stage_ms[SG_STAGE_QUEUE] = r->task.stage_ms[SG_STAGE_QUEUE] =
                sg_now_ms() - j->enqueued_ms;
        int more = sg_media_step(md, sg_srv_gen_run(r->gen, worker, md->model));
        j->deadline_ms = 0; /* --timeout bounds the wait for a first worker only */
        if (!more) job_finish(r, 1);
        else if (!sg_queue_requeue(&s->queue, j)) job_finish(r, 3);
        return;
    }
    r->task.stage_ms[SG_STAGE_QUEUE] = sg_now_ms() - j->enqueued_ms;
    (void)s;
    sg_task_run(&r->task, sg_srv_gen_run(r->gen, worker, r->task.model));
    job_finish(r, 1);
}

static void job_dropped(sg_job *j, int shutting_down) {
    req *r = (req *)((char *)j - offsetof(req, job));
    r->task.stage_ms[SG_STAGE_QUEUE] = sg_now_ms() - j->enqueued_ms;
    if (r->is_media && r->media.step == 0)
        r->media.stage_ms[SG_STAGE_QUEUE] = r->task.stage_ms[SG_STAGE_QUEUE];
    job_finish(r, shutting_down ? 3 : 2);
}

static void active_add(sg_server *s, int d) {
    pthread_mutex_lock(&s->mu);
    s->active += d;
    if (s->active == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* The whole body is in: parse, validate, and hand the task to the queue (suspending). */
static enum MHD_Result complete_post(req *r) {
    sg_server *s = r->s;
    if (r->early.status) return respond_error(r, &r->early, NULL);
    sg_mp_form form = {0};
    sg_error err;
    if (r->body_kind == BODY_MULTIPART &&
        sg_multipart_parse(r->body.data ? r->body.data : (const uint8_t *)"", r->body.len,
                           r->boundary, &form, &err))
        return fail(r, 400, "bad_multipart", err.msg, NULL);
    sg_task_kind kind = r->route == SG_ROUTE_STYLE ? SG_TASK_STYLE : SG_TASK_TRANSLATE;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_query, r);
    sg_task_input in = {.form = &form,
                        .query = query_arg,
                        .query_ctx = r->conn,
                        .accept = header(r, MHD_HTTP_HEADER_ACCEPT),
                        .raw_field = kind == SG_TASK_STYLE ? "reference" : "image",
                        .query_keys = r->qk,
                        .query_values = r->qv,
                        .n_query = r->nq};
    if (r->body_kind == BODY_RAW) in.raw_image = r->body.data, in.raw_len = r->body.len;
    sg_http_error e = {0};
    r->gen = gen_get(s); /* held until the request completes: a reload cannot free its model */
    int bad;
    if (r->route == SG_ROUTE_INTERPOLATE || r->route == SG_ROUTE_GRID) {
        sg_media_limits lim = {s->cfg.max_frames, s->cfg.max_cells, s->cfg.max_work,
                               s->cfg.max_pixels};
        r->is_media = 1;
        bad = sg_media_parse(&r->media,
                             r->route == SG_ROUTE_GRID ? SG_MEDIA_GRID : SG_MEDIA_INTERPOLATE, &in,
                             &r->gen->models, &lim, &e);
        if (r->media.model) snprintf(r->model, sizeof r->model, "%s", r->media.model->name);
        if (!bad && r->route == SG_ROUTE_INTERPOLATE) /* a grid's domains go unlogged */
            snprintf(r->domain, sizeof r->domain, "%s",
                     r->media.model->engine.cfg.domains[r->media.domain]);
        if (!bad && sg_work_admit(&s->work, sg_media_work(&r->media), &e)) bad = 1;
        else if (!bad) r->work = sg_media_work(&r->media);
        if (bad && e.status == 503) sg_metrics_count_rejected(&s->metrics);
    } else {
        bad = sg_task_parse(&r->task, kind, &in, &r->gen->models, s->cfg.max_pixels, &e);
        if (r->task.model) snprintf(r->model, sizeof r->model, "%s", r->task.model->name);
        if (r->task.model && r->task.domain >= 0 && !bad)
            snprintf(r->domain, sizeof r->domain, "%s",
                     r->task.model->engine.cfg.domains[r->task.domain]);
    }
    if (bad) return respond_error(r, &e, NULL);
    if (!sg_queue_reserve(&s->queue)) {
        r->rejected = 1;
        return fail(r, 503, atomic_load(&s->stopping) ? "stopping" : "overloaded",
                    "workers and queue are full; retry later", NULL);
    }
    r->job = (sg_job){.run = job_run, .dropped = job_dropped, .enqueued_ms = sg_now_ms()};
    if (s->cfg.timeout_s > 0) r->job.deadline_ms = r->job.enqueued_ms + s->cfg.timeout_s * 1000;
    r->counted_active = 1;
    active_add(s, 1);
    MHD_suspend_connection(r->conn); /* before the push: the worker may resume at once */
    sg_queue_push(&s->queue, &r->job);
    return MHD_YES;
}

static void timing_header(const double *ms, double total, char *out, size_t cap) {
    snprintf(out, cap,
             "queue;dur=%.1f, decode;dur=%.1f, faces;dur=%.1f, style;dur=%.1f, generator;dur=%.1f, "
             "encode;dur=%.1f, total;dur=%.1f",
             ms[SG_STAGE_QUEUE], ms[SG_STAGE_DECODE], ms[SG_STAGE_FACES], ms[SG_STAGE_STYLE],
             ms[SG_STAGE_GENERATOR], ms[SG_STAGE_ENCODE], total);
}

static enum MHD_Result answer_media(req *r) {
    sg_media *m = &r->media;
    if (m->error.status) return respond_error(r, &m->error, NULL);
    for (int i = SG_STAGE_DECODE; i < SG_STAGE_COUNT; i++)
        sg_metrics_stage(&r->s->metrics, i, m->stage_ms[i]);
    char timing[320], seeds[400], cols[1600], grid[128], frames[16], fps[16];
    timing_header(m->stage_ms, sg_now_ms() - r->t0, timing, sizeof timing);
    sg_media_headers(m, seeds, sizeof seeds, cols, sizeof cols, grid, sizeof grid);
    snprintf(frames, sizeof frames, "%d", m->frames);
    snprintf(fps, sizeof fps, "%d", m->fps);
    int video = m->kind == SG_MEDIA_INTERPOLATE;
    const char *extra[] = {"Server-Timing",
                           timing,
                           "X-Model",
                           m->model->name,
                           "X-Seed",
                           seeds[0] ? seeds : NULL,
                           "X-Grid",
                           grid[0] ? grid : NULL,
                           "X-Grid-Columns",
                           cols[0] ? cols : NULL,
                           "X-Frames",
                           video ? frames : NULL,
                           "X-Fps",
                           video ? fps : NULL,
                           NULL};
    uint8_t *out = m->out;
    m->out = NULL;
    return respond(r, 200, sg_media_content_type(m), out, m->out_len, extra);
}

/* After the worker (or the reaper) resumed the connection. */
static enum MHD_Result answer_task(req *r) {
    sg_server *s = r->s;
    sg_task *t = &r->task;
    int how = atomic_load(&r->done);
    sg_metrics_stage(&s->metrics, SG_STAGE_QUEUE, t->stage_ms[SG_STAGE_QUEUE]);
    if (how == 2) {
        sg_metrics_count_expired(&s->metrics);
        return fail(r, 503, "timeout", "the request waited longer than --timeout for a worker",
                    NULL);
    }
    if (how == 3) return fail(r, 503, "stopping", "shutting down", NULL);
    if (r->is_media) return answer_media(r);
    if (t->error.status) return respond_error(r, &t->error, NULL);
    for (int i = SG_STAGE_DECODE; i < SG_STAGE_COUNT; i++)
        sg_metrics_stage(&s->metrics, i, t->stage_ms[i]);
    char timing[320], seed[32];
    snprintf(timing, sizeof timing,
             "queue;dur=%.1f, decode;dur=%.1f, faces;dur=%.1f, style;dur=%.1f, generator;dur=%.1f, "
             "encode;dur=%.1f, total;dur=%.1f",
             t->stage_ms[SG_STAGE_QUEUE], t->stage_ms[SG_STAGE_DECODE], t->stage_ms[SG_STAGE_FACES],
             t->stage_ms[SG_STAGE_STYLE], t->stage_ms[SG_STAGE_GENERATOR],
             t->stage_ms[SG_STAGE_ENCODE], sg_now_ms() - r->t0);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
    const char *extra[] = {
        "Server-Timing", timing,         "X-Seed", t->mode == SG_STYLE_SEED ? seed : NULL,
        "X-Model",       t->model->name, NULL};
    uint8_t *out = t->out;
    t->out = NULL;
    return respond(r, 200, sg_task_content_type(t), out, t->out_len, extra);
}

/* ---- dispatch ------------------------------------------------------------------------------- */
static req *req_new(sg_server *s, struct MHD_Connection *conn, const char *url,
                    const char *method) {
    req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->s = s;
    r->conn = conn;
    r->t0 = sg_now_ms();
    r->route = SG_ROUTE_OTHER;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    request_id(r);
    return r;
}

/* The front end's static files (web/, embedded at build time): public, like the page itself. */
static enum MHD_Result web_asset(req *r, const sg_web_asset *a) {
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        const char *allow[] = {"Allow", "GET, HEAD", NULL};
        return fail(r, 405, "method_not_allowed", "method not allowed on this route", allow);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->status = 200;
    r->bytes = a->len;
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result begin(req *r) {
    int post = -1;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (!strcmp(r->path, routes[i].path)) r->route = routes[i].route, post = routes[i].post;
    const sg_web_asset *asset = post < 0 ? sg_web_find(r->path) : NULL;
    if (asset) return web_asset(r, asset);
    if (post < 0) return fail(r, 404, "not_found", "no such route", NULL);
    if (!strcmp(r->method, "OPTIONS")) return preflight(r, post);
    int is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (post ? strcmp(r->method, "POST") != 0 : !is_get) {
        const char *allow[] = {"Allow", post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS", NULL};
        return fail(r, 405, "method_not_allowed", "method not allowed on this route", allow);
    }
    if (!authorized(r)) {
        const char *www[] = {"WWW-Authenticate", "Bearer realm=\"stargan\"", NULL};
        return fail(r, 401, "unauthorized",
                    "a valid API key is required (Authorization: Bearer KEY)", www);
    }
    return post ? begin_post(r) : route_get(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    req *r = *con_cls;
    if (!r) {
        if (!(r = req_new(cls, conn, url, method))) return MHD_NO;
        *con_cls = r;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->wc = ci ? ci->socket_context : NULL;
        /* the headers are in; an upload's body deadline starts in begin_post */
        sg_watchdog_phase(&r->s->wd, r->wc, SG_CONN_BUSY);
        /* libmicrohttpd closes a connection whose answer was queued before the request was
         * complete: GETs (probes, /metrics scrapes) are answered on the next call instead, so
         * they keep the connection alive */
        if (!strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS")) {
            r->deferred = 1;
            return MHD_YES;
        }
        return begin(r);
    }
    if (r->deferred) {
        if (*upload_size) { /* a body on a GET: dropped, within the same bound as a 413's */
            r->discarded += *upload_size;
            *upload_size = 0;
            return r->discarded > (size_t)(r->s->cfg.max_body + DISCARD_SLACK) ? MHD_NO : MHD_YES;
        }
        r->deferred = 0;
        return begin(r);
    }
    if (*upload_size) {
        enum MHD_Result ret = receive(r, upload, *upload_size);
        *upload_size = 0;
        return ret;
    }
    if (atomic_load(&r->done)) return answer_task(r);
    sg_watchdog_phase(&r->s->wd, r->wc, SG_CONN_BUSY); /* the whole body is in */
    if (r->status) return MHD_YES;                     /* answered early; MHD is finishing */
    return complete_post(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)conn; /* a queued answer is logged with its status even if sending it failed */
    sg_server *s = cls;
    req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    int status = r->status ? r->status : 499; /* 499: the client went away before the answer */
    sg_access a = {r->t0, r->id, r->method, r->path, r->model, r->domain, status, r->bytes};
    sg_log_access(&a);
    sg_metrics_request(&s->metrics, r->route, status, sg_now_ms() - r->t0);
    /* "answered 503": a client that hung up before its answer was sent is not counted */
    if (r->rejected && status == 503 && why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sg_metrics_count_rejected(&s->metrics);
    sg_watchdog_phase(&s->wd, r->wc, SG_CONN_HEADERS); /* keep-alive: the next request's */
    if (r->counted_active) active_add(s, -1);
    if (r->work) sg_work_release(&s->work, r->work);
    if (r->is_media) sg_media_free(&r->media);
    sg_task_free(&r->task);
    sg_srv_gen_release(r->gen); /* may free a generation a reload replaced */
    sg_buf_free(&r->body);
    free(r);
}

/* Every connection is tracked by the watchdog from its accept to its close. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    sg_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? sg_watchdog_open(&s->wd, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        sg_watchdog_close(&s->wd, *socket_context);
        *socket_context = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    sg_log_msg("debug", "libmicrohttpd: %s", msg);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */
sg_status sg_srv_parse_listen(const char *listen, struct sockaddr_storage *sa, unsigned *salen,
                              sg_error *err) {
    char host[256] = "", port[16] = "";
    const char *colon = strrchr(listen, ':');
    if (listen[0] == '[') { /* [v6]:port */
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof host)
            return sg_error_set(err, SG_ERR_ARG, "--listen '%s': expected [ADDR]:PORT", listen);
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        snprintf(port, sizeof port, "%s", end + 2);
    } else if (colon) {
        if ((size_t)(colon - listen) >= sizeof host)
            return sg_error_set(err, SG_ERR_ARG, "--listen: host too long");
        memcpy(host, listen, (size_t)(colon - listen));
        snprintf(port, sizeof port, "%s", colon + 1);
    } else {
        snprintf(port, sizeof port, "%s", listen);
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return sg_error_set(err, SG_ERR_ARG, "--listen '%s': bad port", listen);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (rc || !res)
        return sg_error_set(err, SG_ERR_ARG, "--listen '%s': %s", listen, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *salen = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return SG_OK;
}

/* The listening socket, bound and listening here rather than in MHD: a failure then names the
 * address asked for and the reason ("127.0.0.1:9012: Address already in use"; MHD's own message
 * says "port 0" whenever it is handed a socket address), and the address logged is the one
 * bound (the port the kernel picked for port 0). MHD owns the socket once it starts. */
static sg_status bind_listen(const char *listen_arg, const struct sockaddr_storage *sa,
                             unsigned salen, int *fd_out, char *url, size_t url_cap,
                             sg_error *err) {
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0)
        return sg_error_set(err, SG_ERR_IO, "cannot listen on %s: %s", listen_arg, strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->ss_family == AF_INET6) /* as MHD does without MHD_USE_DUAL_STACK */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (bind(fd, (const struct sockaddr *)sa, salen) || listen(fd, SOMAXCONN) ||
        getsockname(fd, (struct sockaddr *)&got, &gl)) {
        int e = errno;
        close(fd);
        return sg_error_set(err, SG_ERR_IO, "cannot listen on %s: %s", listen_arg, strerror(e));
    }
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (got.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&got;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
        port = ntohs(a6->sin6_port);
        snprintf(url, url_cap, "http://[%s]:%u/", host, port);
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&got;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
        port = ntohs(a4->sin_port);
        snprintf(url, url_cap, "http://%s:%u/", host, port);
    }
    *fd_out = fd;
    return SG_OK;
}

static int grow_keys(sg_server *s) {
    int c = s->cap_keys ? 2 * s->cap_keys : 16;
    char **k = realloc(s->keys, (size_t)c * sizeof *k);
    if (!k) return -1;
    s->keys = k;
    s->cap_keys = c;
    return 0;
}

/* One key a line, any length up to MAX_KEY_LEN (read whole: a long line is one key, never two);
 * every key is kept (up to MAX_KEYS, past which the file is refused rather than cut short). */
static sg_status load_keys(sg_server *s, sg_error *err) {
    if (!s->cfg.api_key_file[0]) return SG_OK;
    const char *path = s->cfg.api_key_file;
    sg_error e2;
    int fd = sg_file_open_regular(path, NULL, &e2);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return sg_error_set(err, SG_ERR_IO, "--api-key-file %s",
                            fd >= 0 ? strerror(errno) : e2.msg);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    sg_status st = SG_OK;
    while (!st && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *p = line, *e = line + len;
        while (p < e && isspace((unsigned char)*p)) p++;
        while (e > p && isspace((unsigned char)e[-1])) *--e = 0;
        if (p == e || *p == '#') continue;
        if (memchr(p, 0, (size_t)(e - p)) || e - p > MAX_KEY_LEN)
            st = sg_error_set(err, SG_ERR_ARG,
                              "--api-key-file %s: line %d is not a key (NUL bytes, or over %d "
                              "bytes)",
                              path, lineno, MAX_KEY_LEN);
        else if (s->n_keys == MAX_KEYS)
            st = sg_error_set(err, SG_ERR_LIMIT, "--api-key-file %s: more than %d keys", path,
                              MAX_KEYS);
        else if (s->n_keys == s->cap_keys && grow_keys(s))
            st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        else if (!(s->keys[s->n_keys] = strdup(p)))
            st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        else s->n_keys++;
    }
    free(line);
    if (!st && ferror(f)) st = sg_error_set(err, SG_ERR_IO, "--api-key-file %s: read error", path);
    fclose(f);
    if (st) return st;
    if (!s->n_keys) return sg_error_set(err, SG_ERR_ARG, "--api-key-file %s holds no key", path);
    sg_log_msg("info", "API keys required (%d loaded) on every route but /healthz and /readyz",
               s->n_keys);
    return SG_OK;
}

sg_status sg_server_start(sg_server **out, const sg_srv_config *c, sg_error *err) {
    sg_server *s = calloc(1, sizeof *s);
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    *out = s;
    s->cfg = *c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->gen_mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    sg_metrics_init(&s->metrics);
    sg_work_init(&s->work, c->max_work);
    if (getrandom(&s->id_prefix, sizeof s->id_prefix, 0) != sizeof s->id_prefix)
        s->id_prefix = (uint32_t)getpid();
    struct sockaddr_storage sa;
    unsigned salen;
    sg_status st = load_keys(s, err);
    if (!st) st = sg_srv_parse_listen(c->listen, &sa, &salen, err);
    int fd = -1;
    char url[INET6_ADDRSTRLEN + 32];
    if (!st) st = bind_listen(c->listen, &sa, salen, &fd, url, sizeof url, err);
    if (st) return st;
    sg_watchdog_init(&s->wd, c->header_timeout_s, (double)c->body_min_rate, c->body_grace_s);
    s->wd_ok = 1;
    if ((st = sg_watchdog_start(&s->wd, err))) return st;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                            mhd_log, NULL, /* first, to catch all */
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(c->client_timeout_s + 0.5),
                            MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)(c->max_connections + c->reserved_connections),
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024, MHD_OPTION_END);
    if (!s->d) /* the socket is left open: MHD may have closed it already, and the process ends */
        return sg_error_set(err, SG_ERR_IO, "cannot start the HTTP daemon on %s", c->listen);
    sg_log_msg("info", "listening on %s", url);
    return SG_OK;
}

sg_status sg_server_load(sg_server *s, sg_error *err) {
    sg_srv_gen *g;
    sg_status st = sg_srv_gen_load(&g, &s->cfg, 1, err);
    if (st) return st;
    s->gen = g; /* no request reads it before ready is set */
    if ((st = sg_queue_init(&s->queue, s->cfg.workers, s->cfg.queue, err))) return st;
    s->queue_ok = 1;
    if ((st = sg_queue_start(&s->queue, err))) return st;
    atomic_store(&s->ready, 1);
    sg_log_msg("info", "ready: %d model(s), %d worker(s), queue %d, timeout %gs", g->models.n,
               s->cfg.workers, s->cfg.queue, s->cfg.timeout_s);
    return SG_OK;
}

sg_status sg_server_reload(sg_server *s, sg_error *err) {
    if (!atomic_load(&s->ready) || atomic_load(&s->stopping))
        return sg_error_set(err, SG_ERR_ARG, "not serving yet (or stopping): nothing reloaded");
    double t0 = sg_now_ms();
    int id = s->gen->id + 1; /* only this thread replaces s->gen */
    sg_log_msg("info", "reloading the model files (generation %d) beside the current ones", id);
    sg_srv_gen *g;
    sg_status st = sg_srv_gen_load(&g, &s->cfg, id, err);
    if (st) {
        atomic_fetch_add(&s->reloads_failed, 1);
        sg_log_msg("error", "reload failed, still serving generation %d: %s", id - 1, err->msg);
        return st;
    }
    pthread_mutex_lock(&s->gen_mu);
    sg_srv_gen *old = s->gen;
    s->gen = g;
    pthread_mutex_unlock(&s->gen_mu);
    int held = atomic_load(&old->refs) - 1;
    sg_srv_gen_release(old); /* freed now, or by the last request still running on it */
    atomic_fetch_add(&s->reloads_ok, 1);
    sg_log_msg("info",
               "reloaded in %.0f ms: generation %d serves new requests; generation %d is freed "
               "when its %d in-flight request(s) end",
               sg_now_ms() - t0, id, id - 1, held > 0 ? held : 0);
    return SG_OK;
}

/* Waits until every request handed to the queue has been answered, or until deadline. */
static void wait_answered(sg_server *s, double deadline_ms) {
    pthread_mutex_lock(&s->mu);
    while (s->active > 0 && sg_now_ms() < deadline_ms) {
        pthread_mutex_unlock(&s->mu);
        usleep(20 * 1000);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void sg_server_drain(sg_server *s) {
    if (!s || atomic_exchange(&s->draining, 1)) return;
    sg_log_msg("info", "draining: /readyz says 503, still serving for %gs (--drain-delay)",
               s->cfg.drain_delay_s);
}

void sg_server_stop(sg_server *s) {
    if (!s || !s->d || atomic_exchange(&s->stopping, 1)) return;
    sg_log_msg("info",
               "stopping: no new connections; finishing in-flight and queued work (grace %gs)",
               s->cfg.grace_s);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    double t0 = sg_now_ms();
    if (s->queue_ok) sg_queue_drain_and_stop(&s->queue, s->cfg.grace_s);
    /* every job has been answered to MHD; give the responses a moment to be sent */
    wait_answered(s, sg_now_ms() + 5000);
    MHD_stop_daemon(s->d);
    s->d = NULL;
    sg_log_msg("info", "stopped after %.0f ms", sg_now_ms() - t0);
}

void sg_server_free(sg_server *s) {
    if (!s) return;
    if (s->d) sg_server_stop(s);
    if (s->queue_ok) sg_queue_free(&s->queue);
    sg_srv_gen_release(s->gen);             /* every request has completed: the last reference */
    if (s->wd_ok) sg_watchdog_free(&s->wd); /* after MHD: no connection is left to close */
    for (int i = 0; i < s->n_keys; i++) free(s->keys[i]);
    free(s->keys);
    sg_metrics_free(&s->metrics);
    sg_work_free(&s->work);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->gen_mu);
    free(s);
}
