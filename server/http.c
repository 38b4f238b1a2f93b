/* The HTTP transport, on libmicrohttpd with one internal epoll thread: routing, uploads into
 * bounded buffers, CORS, keys, and sending answers. That thread decodes nothing and runs no
 * network: a POST's fields are parsed here (routes.c) and its work handed to the queue
 * (dispatch.c). A synchronous request is suspended while it waits and runs, and resumed by
 * whoever ends its work; with `Prefer: respond-async` it is answered 202 at once and its work
 * becomes a job (jobs.c). */
#include <ctype.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "../web/web.h"

#define RETRY_AFTER "1"
/* bytes past --max-body that are still read (and dropped) so the client sees the 413 */
#define DISCARD_SLACK ((int64_t)1 << 20)
#define JOBS_PREFIX   "/v1/jobs/"

enum { BODY_NONE, BODY_RAW, BODY_MULTIPART };

/* The bytes of an answer as libmicrohttpd takes them, counted: a connection dropped before the
 * end is logged with what was written to its socket. Shared by the response and the request
 * (freed by the last of the two). */
typedef struct {
    uint8_t *data;
    size_t len;
    atomic_size_t sent;
    atomic_int refs;
} body_src;

typedef struct {
    sg_server *s;
    struct MHD_Connection *conn;
    const sg_route_desc *desc; /* NULL: jobs, web assets, unknown */
    sg_route route;
    char id[48], method[16], path[256];
    double t0;
    int body_kind;
    char boundary[80];
    sg_buf body;
    int overflow;
    size_t discarded;
    sg_http_error early; /* answered once the upload has been read */
    sg_conn *wc;         /* the connection's watchdog entry (NULL: untracked) */
    int rejected;        /* answered 503 "overloaded": counted once the answer is sent */
    int deferred;        /* a request without a body, answered on the next call */
    sg_exec *x;          /* a synchronous request's work, from its push to its completion */
    atomic_int done;     /* x ended: its answer is ready */
    int counted_active;
    uint8_t owner[32]; /* the API key's digest */
    int has_owner;
    const char *qk[SG_MAX_QUERY], *qv[SG_MAX_QUERY];
    size_t ql[SG_MAX_QUERY];
    int qhas[SG_MAX_QUERY], nq;
    int status;
    uint64_t bytes;
    body_src *src; /* the answer's bytes, counted as they are written */
    char model[64], domain[32];
} req;

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
    MHD_add_response_header(
        resp, "Access-Control-Expose-Headers",
        "X-Request-Id, X-Seed, X-Model, X-Grid, X-Grid-Columns, X-Frames, "
        "X-Fps, X-Faces, Server-Timing, Retry-After, Location, Preference-Applied");
}

static void src_release(body_src *b) {
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) free(b->data), free(b);
}

static ssize_t src_read(void *cls, uint64_t pos, char *buf, size_t max) {
    body_src *b = cls;
    if (pos >= b->len) return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = b->len - (size_t)pos < max ? b->len - (size_t)pos : max;
    memcpy(buf, b->data + pos, n);
    atomic_store(&b->sent, (size_t)pos + n);
    return (ssize_t)n;
}

static void src_free(void *cls) { src_release(cls); }

/* Queues a response (takes ownership of data, malloc'd) with the headers every answer carries;
 * pairs: "Name\0Value\0" (npairs bytes), extra: NULL-terminated name/value pairs. */
static enum MHD_Result send_answer(req *r, int status, const char *type, void *data, size_t len,
                                   const uint8_t *pairs, size_t npairs, const char *const *extra) {
    body_src *b = calloc(1, sizeof *b);
    if (!b) {
        free(data);
        return MHD_NO;
    }
    b->data = data, b->len = len;
    atomic_store(&b->refs, 2); /* the response's and r's */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(len, 64 * 1024, src_read, b, src_free);
    if (!resp) {
        src_release(b), src_release(b);
        return MHD_NO;
    }
    src_release(r->src);
    r->src = b;
    if (type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (size_t i = 0; pairs && i < npairs;) {
        const char *n = (const char *)pairs + i, *v = n + strlen(n) + 1;
        MHD_add_response_header(resp, n, v);
        i += strlen(n) + strlen(v) + 2;
    }
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
    return send_answer(r, status, type, copy, copy ? strlen(copy) : 0, NULL, 0, extra);
}

/* An answer built by a worker, the job store or here (its body is taken). */
static enum MHD_Result respond_answer(req *r, sg_answer *a, const char *const *extra) {
    uint8_t *body = a->body;
    a->body = NULL;
    return send_answer(r, a->status, a->content_type, body, a->len, a->headers.data, a->headers.len,
                       extra);
}

static enum MHD_Result respond_error(req *r, const sg_http_error *e, const char *const *extra) {
    sg_answer a = {0};
    sg_buf_init(&a.headers, 0);
    sg_answer_error(&a, e);
    enum MHD_Result ret = respond_answer(r, &a, extra);
    sg_answer_free(&a);
    return ret;
}

static enum MHD_Result fail(req *r, int status, const char *code, const char *msg,
                            const char *const *extra) {
    sg_http_error e;
    sg_http_fail(&e, status, code, "%s", msg);
    return respond_error(r, &e, extra);
}

/* ---- GET routes ----------------------------------------------------------------------------- */
static int queue_has_room(sg_server *s) {
    int admitted = 0;
    if (!s->queue_ok) return 0;
    sg_queue_stats(&s->queue, NULL, NULL, &admitted, NULL, NULL);
    return admitted < s->cfg.workers + s->cfg.queue;
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
    sg_metrics_gauges g;
    sg_srv_gen *gen;
    sg_server_gauges(r->s, &g, &gen);
    sg_buf out;
    sg_buf_init(&out, 0);
    sg_status st = sg_metrics_render(&r->s->metrics, &g, &out);
    sg_srv_gen_release(gen);
    if (st) {
        sg_buf_free(&out);
        return fail(r, 500, "internal", "cannot render metrics", NULL);
    }
    size_t n;
    char *text = sg_buf_take(&out, &n);
    return send_answer(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, n, NULL, 0, NULL);
}

static enum MHD_Result route_get(req *r) {
    switch (r->route) {
    case SG_ROUTE_HEALTHZ:
        return respond_text(r, 200, "application/json", "{\"status\":\"ok\"}\n", NULL);
    case SG_ROUTE_READYZ: return route_readyz(r);
    case SG_ROUTE_METRICS: return route_metrics(r);
    case SG_ROUTE_MODELS: {
        if (!atomic_load(&r->s->ready)) return fail(r, 503, "loading", "models are loading", NULL);
        sg_srv_gen *g = sg_server_gen(r->s);
        enum MHD_Result ret = respond_text(r, 200, "application/json", g->json, NULL);
        sg_srv_gen_release(g);
        return ret;
    }
    default: return fail(r, 404, "not_found", "no such route", NULL);
    }
}

/* ---- jobs: /v1/jobs/ID[/result] ------------------------------------------------------------- */
/* The id of a jobs path (32 lowercase hex digits) and whether it asks for /result; -1 if none. */
static int job_path(const char *path, char id[33], int *result) {
    if (strncmp(path, JOBS_PREFIX, strlen(JOBS_PREFIX))) return -1;
    const char *p = path + strlen(JOBS_PREFIX);
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i])) return -1;
    memcpy(id, p, 32), id[32] = 0;
    *result = !strcmp(p + 32, "/result");
    return *result || !p[32] ? 0 : -1;
}

static enum MHD_Result route_job(req *r) {
    char id[33];
    int result = 0;
    job_path(r->path, id, &result);
    const uint8_t *owner = r->has_owner ? r->owner : NULL;
    sg_http_error e = {0};
    sg_buf doc;
    sg_buf_init(&doc, 0);
    int k = 0;
    if (!strcmp(r->method, "DELETE")) {
        if (result) return fail(r, 405, "method_not_allowed", "DELETE /v1/jobs/ID", NULL);
        k = sg_jobs_delete(&r->s->jobs, id, owner, &doc, &e);
        if (k == 0) return sg_buf_free(&doc), respond_text(r, 204, NULL, "", NULL);
    } else if (result) {
        sg_answer a = {0};
        sg_buf_init(&a.headers, 0);
        enum MHD_Result ret;
        if (sg_jobs_result(&r->s->jobs, id, owner, &a, &e)) ret = respond_error(r, &e, NULL);
        else ret = respond_answer(r, &a, NULL);
        sg_answer_free(&a);
        return ret;
    } else {
        k = sg_jobs_status(&r->s->jobs, id, owner, &doc, &e) ? -1 : 1;
    }
    if (k < 0) return sg_buf_free(&doc), respond_error(r, &e, NULL);
    size_t n;
    char *text = sg_buf_take(&doc, &n);
    int cancelled = !strcmp(r->method, "DELETE");
    return send_answer(r, cancelled ? 202 : 200, "application/json", text, n, NULL, 0, NULL);
}

/* ---- auth, CORS preflight, request ids ------------------------------------------------------ */
static enum MHD_Result preflight(req *r, const char *allow) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Allow", allow);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    const char *origin = header(r, "Origin");
    if (origin_allowed(r->s, origin)) {
        int any = !strcmp(r->s->cfg.cors_origin, "*");
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", any ? "*" : origin);
        if (!any) MHD_add_response_header(resp, "Vary", "Origin");
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, Accept, Prefer, X-Request-Id");
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

/* Prefer: respond-async (RFC 7240: comma-separated preferences, parameters after ';'). */
static int wants_async(req *r) {
    const char *p = header(r, "Prefer");
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        size_t n = strcspn(p, ",; \t=");
        if (n == 13 && !strncasecmp(p, "respond-async", 13)) return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

/* ---- POST: body, fields, admission ---------------------------------------------------------- */
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
     * connection before it reads the answer: then the body is read (and discarded) first.
     * A declared body beyond what receive() is willing to discard is answered at once: reading
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
        sg_metrics_count(&s->metrics, SG_COUNT_UPLOADS_REFUSED);
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

/* Query parameters with their decoded lengths (a %00 makes the length exceed the C string) and
 * whether they had a value at all. */
static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size) {
    (void)kind, (void)key_size;
    req *r = cls;
    if (r->nq < SG_MAX_QUERY) {
        r->qk[r->nq] = key, r->qv[r->nq] = value ? value : "";
        r->ql[r->nq] = value ? value_size : 0, r->qhas[r->nq] = value != NULL;
    }
    r->nq++; /* past SG_MAX_QUERY: refused by sg_fields_collect */
    return MHD_YES;
}

/* A synchronous request's work ended (on a worker or the reaper): resume its connection. */
static void conn_finished(sg_exec *x) {
    req *r = x->owner;
    atomic_store(&r->done, 1);
    MHD_resume_connection(r->conn); /* the last touch: MHD may answer from here on */
}

static int client_fd(req *r) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Parses the fields into x's request and admits it; -1 with e set. */
static int admit(req *r, sg_exec *x, sg_http_error *e) {
    sg_server *s = r->s;
    sg_mp_form *form = calloc(1, sizeof *form);
    sg_error err;
    if (!form) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    int bad = 0;
    if (r->body_kind == BODY_MULTIPART &&
        sg_multipart_parse(x->body.data ? x->body.data : (const uint8_t *)"", x->body.len,
                           r->boundary, form, &err))
        bad = sg_http_fail(e, 400, "bad_multipart", "%s", err.msg);
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, collect_query, r);
    sg_fields_input in = {.form = form,
                          .n_query = r->nq,
                          .query_keys = r->qk,
                          .query_values = r->qv,
                          .query_lens = r->ql,
                          .query_has_value = r->qhas,
                          .raw_field = r->desc->raw_field};
    if (r->body_kind == BODY_RAW) in.raw = x->body.data, in.raw_len = x->body.len;
    sg_request_limits lim = {.max_frames = s->cfg.max_frames,
                             .max_cells = s->cfg.max_cells,
                             .max_work = s->cfg.max_work,
                             .max_pixels = s->cfg.max_pixels};
    x->gen = sg_server_gen(s); /* held until the work ends: a reload cannot free its model */
    if (!bad)
        bad = sg_request_parse(&x->rq, r->desc, &in, header(r, MHD_HTTP_HEADER_ACCEPT),
                               &x->gen->models, &lim, e);
    free(form);
    x->rq.cache = s->cfg.cache_bytes ? s->cache : NULL, x->rq.gen_id = x->gen->id;
    if (x->rq.model) snprintf(r->model, sizeof r->model, "%s", x->rq.model->name);
    if (!bad && x->rq.kind != SG_KIND_GRID) /* a grid's domains go unlogged */
        snprintf(r->domain, sizeof r->domain, "%s", x->rq.model->engine.cfg.domains[x->rq.domain]);
    if (!bad && sg_exec_admit(x, e)) {
        bad = -1;
        if (e->status == 503) r->rejected = 1;
    }
    return bad;
}

/* The whole body is in: parse, admit, and run it synchronously (suspending) or as a job. */
static enum MHD_Result complete_post(req *r) {
    sg_server *s = r->s;
    if (r->early.status) return respond_error(r, &r->early, NULL);
    sg_exec *x = sg_exec_new(s, &r->body);
    if (!x) return fail(r, 503, "out_of_memory", "out of memory", NULL);
    sg_http_error e = {0};
    char id[33];
    int async = wants_async(r);
    if (admit(r, x, &e) ||
        (async && sg_jobs_add(&s->jobs, x, r->has_owner ? r->owner : NULL, id, &e))) {
        sg_exec_free(x);
        return respond_error(r, &e, NULL);
    }
    if (async) {
        sg_buf doc;
        sg_buf_init(&doc, 0);
        sg_buf_printf(&doc,
                      "{\"id\":\"%s\",\"state\":\"queued\",\"progress\":{\"done\":0,\"total\":%d}}"
                      "\n",
                      id, x->rq.n_steps);
        char loc[64];
        snprintf(loc, sizeof loc, JOBS_PREFIX "%s", id);
        sg_exec_push(x); /* x belongs to the job from here on */
        size_t n;
        char *text = sg_buf_take(&doc, &n);
        const char *extra[] = {"Location", loc, "Preference-Applied", "respond-async", NULL};
        return send_answer(r, 202, "application/json", text, n, NULL, 0, extra);
    }
    x->finished = conn_finished;
    x->owner = r;
    x->client_fd = client_fd(r);
    r->x = x;
    r->counted_active = 1;
    sg_server_active_add(s, 1);
    MHD_suspend_connection(r->conn); /* before the push: a worker may resume it at once */
    sg_exec_push(x);
    return MHD_YES;
}

/* After the work ended and resumed the connection. */
static enum MHD_Result answer_exec(req *r) {
    sg_exec *x = r->x;
    if (x->outcome == SG_EXEC_CLIENT_GONE) {
        r->status = 499; /* the client left: nothing to send, the connection is closed */
        return MHD_NO;
    }
    return respond_answer(r, &x->answer, NULL);
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
    if (!strcmp(r->method, "OPTIONS")) return preflight(r, "GET, HEAD, OPTIONS");
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        const char *allow[] = {"Allow", "GET, HEAD, OPTIONS", NULL};
        return fail(r, 405, "method_not_allowed", "method not allowed on this route", allow);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    add_cors(r, resp);
    r->status = 200;
    r->bytes = a->len;
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* RFC 9112: HTTP/1.1 without Host is a 400; so is a body framed twice (Content-Length and
 * Transfer-Encoding): one of the two would be believed, and a proxy in front may believe the
 * other (request smuggling). */
static int framing_error(req *r, const char *version) {
    if (!strcmp(version, MHD_HTTP_VERSION_1_1) && !header(r, MHD_HTTP_HEADER_HOST))
        return sg_http_fail(&r->early, 400, "bad_request", "HTTP/1.1 requires a Host header");
    if (header(r, MHD_HTTP_HEADER_CONTENT_LENGTH) && header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return sg_http_fail(&r->early, 400, "bad_request",
                            "Content-Length and Transfer-Encoding together");
    return 0;
}

static int authorized(req *r) {
    if (!r->s->keys.n) return 1;
    r->has_owner = sg_keys_check(&r->s->keys, header(r, MHD_HTTP_HEADER_AUTHORIZATION), r->owner);
    return r->has_owner;
}

/* Routing. Public: the page's files, the health probes and CORS preflights (browsers send them
 * without credentials). With API keys, every other request needs one before anything else is
 * said, so routes cannot be listed without a key (an unknown path answers 401, not 404). */
static enum MHD_Result begin(req *r, const char *version) {
    if (framing_error(r, version)) return respond_error(r, &r->early, NULL);
    char id[33];
    int result;
    r->desc = sg_route_find(r->path);
    if (r->desc) r->route = r->desc->id;
    int jobs = !r->desc && job_path(r->path, id, &result) == 0;
    if (jobs) r->route = SG_ROUTE_JOBS;
    const sg_web_asset *asset = !r->desc && !jobs ? sg_web_find(r->path) : NULL;
    if (asset) return web_asset(r, asset);
    int post = r->desc && r->desc->fields;
    const char *allow = post   ? "POST, OPTIONS"
                        : jobs ? (result ? "GET, HEAD, OPTIONS" : "GET, HEAD, DELETE, OPTIONS")
                               : "GET, HEAD, OPTIONS";
    int known = r->desc || jobs;
    if (known && !strcmp(r->method, "OPTIONS")) return preflight(r, allow);
    if (r->route != SG_ROUTE_HEALTHZ && r->route != SG_ROUTE_READYZ && !authorized(r)) {
        const char *www[] = {"WWW-Authenticate", "Bearer realm=\"stargan\"", NULL};
        return fail(r, 401, "unauthorized",
                    "a valid API key is required (Authorization: Bearer KEY)", www);
    }
    if (!known) return fail(r, 404, "not_found", "no such route", NULL);
    int is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    int ok = post ? !strcmp(r->method, "POST")
                  : is_get || (jobs && !result && !strcmp(r->method, "DELETE"));
    if (!ok) {
        const char *h[] = {"Allow", allow, NULL};
        return fail(r, 405, "method_not_allowed", "method not allowed on this route", h);
    }
    if (post) return begin_post(r);
    return jobs ? route_job(r) : route_get(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
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
         * complete: requests without a body (probes, /metrics scrapes, jobs) are answered on the
         * next call instead, so they keep the connection alive */
        if (strcmp(method, "POST")) {
            r->deferred = 1;
            return MHD_YES;
        }
        return begin(r, version);
    }
    if (r->deferred) {
        if (*upload_size) { /* a body where none belongs: dropped, within a 413's bound */
            r->discarded += *upload_size;
            *upload_size = 0;
            return r->discarded > (size_t)(r->s->cfg.max_body + DISCARD_SLACK) ? MHD_NO : MHD_YES;
        }
        r->deferred = 0;
        return begin(r, version);
    }
    if (*upload_size) {
        enum MHD_Result ret = receive(r, upload, *upload_size);
        *upload_size = 0;
        return ret;
    }
    if (atomic_load(&r->done)) return answer_exec(r);
    sg_watchdog_phase(&r->s->wd, r->wc, SG_CONN_BUSY); /* the whole body is in */
    if (r->status) return MHD_YES;                     /* answered early; MHD is finishing */
    return complete_post(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)conn;
    sg_server *s = cls;
    req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    int status = r->status ? r->status : 499; /* 499: the client went away before the answer */
    uint64_t bytes = r->bytes;
    /* an answer cut short (the client stopped reading and was dropped): what reached the socket */
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->src) bytes = atomic_load(&r->src->sent);
    if (status == 499) bytes = 0;
    sg_access a = {.start_ms = r->t0,
                   .id = r->id,
                   .method = r->method,
                   .path = r->path,
                   .model = r->model,
                   .domain = r->domain,
                   .status = status,
                   .bytes = bytes};
    sg_log_access(&a);
    sg_metrics_request(&s->metrics, r->route, status, sg_now_ms() - r->t0);
    /* "answered 503": a client that hung up before its answer was sent is not counted */
    if (r->rejected && status == 503 && why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sg_metrics_count(&s->metrics, SG_COUNT_REJECTED);
    sg_watchdog_phase(&s->wd, r->wc, SG_CONN_HEADERS); /* keep-alive: the next request's */
    sg_exec_free(r->x);
    if (r->counted_active) sg_server_active_add(s, -1);
    src_release(r->src);
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

sg_status sg_http_start(sg_server *s, int fd, int v6, sg_error *err) {
    const sg_srv_config *c = &s->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
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
    return SG_OK;
}
