/* Request counters and latency histograms, rendered as Prometheus text. One mutex: updates are a
 * handful of additions per request, far below anything the networks cost. */
#include <string.h>

#include "server.h"

const char *const sg_route_names[SG_ROUTE_COUNT] = {
    "translate", "style", "models", "healthz", "readyz", "metrics", "interpolate", "grid", "other"};
const char *const sg_stage_names[SG_STAGE_COUNT] = {"queue", "decode",    "faces",
                                                    "style", "generator", "encode"};

/* Upper bounds in seconds: from a fast decode to a large image on a slow CPU. */
static const double bucket_le[SG_HIST_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void sg_metrics_init(sg_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->started_s = sg_now_ms() / 1000;
}

void sg_metrics_free(sg_metrics *m) { pthread_mutex_destroy(&m->mu); }

static void hist_add(sg_hist *h, double ms) {
    double s = ms / 1000;
    int i = 0;
    while (i < SG_HIST_BUCKETS && s > bucket_le[i]) i++;
    h->counts[i]++;
    h->n++;
    h->sum_s += s;
}

void sg_metrics_request(sg_metrics *m, sg_route r, int status, double ms) {
    if ((unsigned)r >= SG_ROUTE_COUNT) r = SG_ROUTE_OTHER;
    if (status < 0 || status >= 600) status = 0;
    pthread_mutex_lock(&m->mu);
    m->requests[r][status]++;
    hist_add(&m->route_latency[r], ms);
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_stage(sg_metrics *m, sg_stage s, double ms) {
    if ((unsigned)s >= SG_STAGE_COUNT) return;
    pthread_mutex_lock(&m->mu);
    hist_add(&m->stage_latency[s], ms);
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_count_rejected(sg_metrics *m) {
    pthread_mutex_lock(&m->mu);
    m->rejected++;
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_count_expired(sg_metrics *m) {
    pthread_mutex_lock(&m->mu);
    m->expired++;
    pthread_mutex_unlock(&m->mu);
}

static void header(sg_buf *o, const char *name, const char *type, const char *help) {
    sg_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Cumulative buckets, _sum and _count for one labelled series. */
static void hist_lines(sg_buf *o, const char *name, const char *label, const char *value,
                       const sg_hist *h) {
    uint64_t cum = 0;
    for (int i = 0; i <= SG_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        if (i < SG_HIST_BUCKETS)
            sg_buf_printf(o, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value,
                          bucket_le[i], (unsigned long long)cum);
        else
            sg_buf_printf(o, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value,
                          (unsigned long long)cum);
    }
    sg_buf_printf(o, "%s_sum{%s=\"%s\"} %.6f\n%s_count{%s=\"%s\"} %llu\n", name, label, value,
                  h->sum_s, name, label, value, (unsigned long long)h->n);
}

static void render_requests(sg_buf *o, const sg_metrics *m) {
    header(o, "stargan_http_requests_total", "counter",
           "HTTP requests answered, by route and status.");
    for (int r = 0; r < SG_ROUTE_COUNT; r++)
        for (int s = 0; s < 600; s++)
            if (m->requests[r][s])
                sg_buf_printf(o, "stargan_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                              sg_route_names[r], s, (unsigned long long)m->requests[r][s]);
    header(o, "stargan_http_request_duration_seconds", "histogram",
           "Time from the request's arrival to its answer, by route.");
    for (int r = 0; r < SG_ROUTE_COUNT; r++)
        if (r <= SG_ROUTE_STYLE || m->route_latency[r].n) /* inference routes always shown */
            hist_lines(o, "stargan_http_request_duration_seconds", "route", sg_route_names[r],
                       &m->route_latency[r]);
    header(o, "stargan_stage_duration_seconds", "histogram",
           "Time per stage of inference requests (queue wait, decode, faces, style, generator, "
           "encode).");
    for (int s = 0; s < SG_STAGE_COUNT; s++)
        hist_lines(o, "stargan_stage_duration_seconds", "stage", sg_stage_names[s],
                   &m->stage_latency[s]);
}

static void render_gauges(sg_buf *o, const sg_metrics *m, const sg_metrics_gauges *g) {
    header(o, "stargan_queue_depth", "gauge", "Requests waiting for a worker.");
    sg_buf_printf(o, "stargan_queue_depth %d\n", g->queue_waiting);
    header(o, "stargan_in_flight", "gauge", "Requests running on a worker.");
    sg_buf_printf(o, "stargan_in_flight %d\n", g->running);
    header(o, "stargan_admitted", "gauge", "Inference requests admitted and not yet answered.");
    sg_buf_printf(o, "stargan_admitted %d\n", g->admitted);
    header(o, "stargan_capacity", "gauge", "Requests admitted at most (workers + queue).");
    sg_buf_printf(o, "stargan_capacity %d\n", g->capacity);
    header(o, "stargan_workers", "gauge", "Inference threads.");
    sg_buf_printf(o, "stargan_workers %d\n", g->workers);
    header(o, "stargan_ready", "gauge", "1 when models are loaded and the queue has room.");
    sg_buf_printf(o, "stargan_ready %d\n", g->ready);
    header(o, "stargan_rejected_total", "counter",
           "Requests answered 503 because workers and queue were full.");
    sg_buf_printf(o, "stargan_rejected_total %llu\n", (unsigned long long)m->rejected);
    header(o, "stargan_expired_total", "counter",
           "Requests answered 503 after waiting past --timeout.");
    sg_buf_printf(o, "stargan_expired_total %llu\n", (unsigned long long)m->expired);
    header(o, "stargan_uptime_seconds", "gauge", "Seconds since the server started.");
    sg_buf_printf(o, "stargan_uptime_seconds %.3f\n", sg_now_ms() / 1000 - m->started_s);
}

sg_status sg_metrics_render(sg_metrics *m, const sg_metrics_gauges *g, const char *model_info,
                            sg_buf *out) {
    pthread_mutex_lock(&m->mu);
    render_requests(out, m);
    render_gauges(out, m, g);
    pthread_mutex_unlock(&m->mu);
    if (model_info && *model_info) {
        header(out, "stargan_model_info", "gauge", "Loaded models (value 1), described by labels.");
        sg_buf_append(out, model_info, strlen(model_info));
    }
    return out->data ? SG_OK : SG_ERR_NOMEM;
}
