/* Request counters and latency histograms, rendered as Prometheus text. One mutex: updates are a
 * handful of additions per request, far below anything the networks cost. */
#include <string.h>

#include "internal.h"

const char *const sg_route_names[SG_ROUTE_COUNT] = {
    "translate",   "style", "models", "healthz", "readyz", "metrics",
    "interpolate", "grid",  "detect", "jobs",    "other"};
const char *const sg_stage_names[SG_STAGE_COUNT] = {"queue",     "decode", "faces",  "style",
                                                    "generator", "encode", "detect", "paste"};

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

void sg_metrics_count(sg_metrics *m, sg_counter c) {
    pthread_mutex_lock(&m->mu);
    m->counters[c]++;
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_batch(sg_metrics *m, int n) {
    if (n < 1 || n > SG_QUEUE_MAX_BATCH) return;
    pthread_mutex_lock(&m->mu);
    m->batches[n]++;
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
    header(o, "stargan_batch_size", "histogram",
           "Plain translations a worker ran as one batch (--max-batch), per batch.");
    uint64_t cum = 0, sum = 0;
    for (int n = 1; n <= SG_QUEUE_MAX_BATCH; n++) {
        cum += m->batches[n], sum += m->batches[n] * (uint64_t)n;
        sg_buf_printf(o, "stargan_batch_size_bucket{le=\"%d\"} %llu\n", n, (unsigned long long)cum);
    }
    sg_buf_printf(o,
                  "stargan_batch_size_bucket{le=\"+Inf\"} %llu\nstargan_batch_size_sum %llu\n"
                  "stargan_batch_size_count %llu\n",
                  (unsigned long long)cum, (unsigned long long)sum, (unsigned long long)cum);
    header(o, "stargan_stage_duration_seconds", "histogram",
           "Time per stage of inference requests (queue wait, decode, faces, style, generator, "
           "encode).");
    for (int s = 0; s < SG_STAGE_COUNT; s++)
        hist_lines(o, "stargan_stage_duration_seconds", "stage", sg_stage_names[s],
                   &m->stage_latency[s]);
}

static void gauge(sg_buf *o, const char *name, const char *help, long long v) {
    header(o, name, "gauge", help);
    sg_buf_printf(o, "%s %lld\n", name, v);
}

static void counter(sg_buf *o, const char *name, const char *help, unsigned long long v) {
    header(o, name, "counter", help);
    sg_buf_printf(o, "%s %llu\n", name, v);
}

static void render_queue(sg_buf *o, const sg_metrics *m, const sg_metrics_gauges *g) {
    gauge(o, "stargan_queue_depth", "Requests waiting for a worker.", g->queue_waiting);
    gauge(o, "stargan_in_flight", "Requests running on a worker.", g->running);
    gauge(o, "stargan_admitted", "Inference requests admitted and not yet answered.", g->admitted);
    gauge(o, "stargan_capacity", "Requests admitted at most (workers + queue).", g->capacity);
    gauge(o, "stargan_workers", "Inference threads.", g->workers);
    gauge(o, "stargan_ready", "1 when models are loaded and the queue has room.", g->ready);
    counter(o, "stargan_rejected_total",
            "Requests answered 503 because workers and queue (or --max-work) were full.",
            m->counters[SG_COUNT_REJECTED]);
    counter(o, "stargan_expired_total", "Requests answered 503 after waiting past --timeout.",
            m->counters[SG_COUNT_EXPIRED]);
    counter(o, "stargan_client_gone_total",
            "Requests whose remaining work was stopped because their client left (logged 499).",
            m->counters[SG_COUNT_CLIENT_GONE]);
    gauge(o, "stargan_work_admitted_pixels",
          "Work of the admitted /v1/interpolate and /v1/grid requests (runs x img_size^2, and a "
          "1/128 of the photos' pixels).",
          (long long)g->work_used);
    gauge(o, "stargan_work_capacity_pixels", "--max-work.", (long long)g->work_cap);
}

static void render_connections(sg_buf *o, const sg_metrics *m, const sg_metrics_gauges *g) {
    gauge(o, "stargan_connections", "Open client connections.", g->connections);
    gauge(o, "stargan_uploads", "Connections holding an upload slot (--max-connections).",
          g->uploads);
    counter(o, "stargan_uploads_refused_total",
            "Uploads answered 503 because every upload slot was taken.",
            m->counters[SG_COUNT_UPLOADS_REFUSED]);
    header(o, "stargan_slow_clients_dropped_total", "counter",
           "Connections dropped past a deadline: headers (--header-timeout) or body "
           "(--body-min-rate).");
    sg_buf_printf(o,
                  "stargan_slow_clients_dropped_total{phase=\"headers\"} %ld\n"
                  "stargan_slow_clients_dropped_total{phase=\"body\"} %ld\n",
                  g->dropped_headers, g->dropped_body);
    header(o, "stargan_model_reloads_total", "counter", "Model reloads (SIGHUP), by result.");
    sg_buf_printf(o,
                  "stargan_model_reloads_total{result=\"ok\"} %llu\n"
                  "stargan_model_reloads_total{result=\"failed\"} %llu\n",
                  (unsigned long long)m->counters[SG_COUNT_RELOADS_OK],
                  (unsigned long long)m->counters[SG_COUNT_RELOADS_FAILED]);
}

static void render_jobs(sg_buf *o, const sg_jobs_stats *j) {
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    header(o, "stargan_jobs", "gauge", "Jobs held (Prefer: respond-async), by state.");
    for (int i = 0; i <= SG_JOB_CANCELLED; i++)
        sg_buf_printf(o, "stargan_jobs{state=\"%s\"} %d\n", names[i], j->by_state[i]);
    header(o, "stargan_jobs_finished_total", "counter", "Jobs that ended, by final state.");
    for (int i = SG_JOB_DONE; i <= SG_JOB_CANCELLED; i++)
        sg_buf_printf(o, "stargan_jobs_finished_total{state=\"%s\"} %llu\n", names[i],
                      (unsigned long long)j->finished[i]);
    counter(o, "stargan_jobs_created_total", "Jobs made.", j->created);
    counter(o, "stargan_jobs_refused_total",
            "Jobs refused (503): --max-jobs or --job-store-bytes reached.", j->refused);
    gauge(o, "stargan_job_store_bytes", "Bytes the jobs' uploads and results hold.",
          (long long)j->bytes);
    gauge(o, "stargan_job_store_capacity_bytes", "--job-store-bytes.", (long long)j->max_bytes);
}

static void render_cache(sg_buf *o, const sg_metrics_gauges *g) {
    static const struct {
        const char *name, *type, *help;
    } rows[] = {
        {"stargan_cache_hits_total", "counter",
         "Cost-cache lookups that found the value, by kind."},
        {"stargan_cache_misses_total", "counter", "Cost-cache lookups that computed it, by kind."},
        {"stargan_cache_evictions_total", "counter", "Values the bound pushed out, by kind."},
        {"stargan_cache_entries", "gauge", "Values held now, by kind."},
        {"stargan_cache_kind_bytes", "gauge", "Bytes held now, by kind."},
    };
    for (int r = 0; r < 5; r++) {
        header(o, rows[r].name, rows[r].type, rows[r].help);
        for (int k = 0; k < SG_CACHE_KINDS; k++) {
            const sg_cache_stats *c = &g->cache[k];
            unsigned long long v = r == 0   ? c->hits
                                   : r == 1 ? c->misses
                                   : r == 2 ? c->evictions
                                   : r == 3 ? (unsigned long long)c->entries
                                            : (unsigned long long)c->bytes;
            sg_buf_printf(o, "%s{kind=\"%s\"} %llu\n", rows[r].name, sg_cache_kind_names[k], v);
        }
    }
    gauge(o, "stargan_cache_bytes", "Bytes the cost cache holds.", (long long)g->cache_bytes);
    gauge(o, "stargan_cache_capacity_bytes", "--cache-bytes.", (long long)g->cache_cap);
}

sg_status sg_metrics_render(sg_metrics *m, const sg_metrics_gauges *g, sg_buf *out) {
    pthread_mutex_lock(&m->mu);
    render_requests(out, m);
    render_queue(out, m, g);
    render_connections(out, m, g);
    header(out, "stargan_uptime_seconds", "gauge", "Seconds since the server started.");
    sg_buf_printf(out, "stargan_uptime_seconds %.3f\n", sg_now_ms() / 1000 - m->started_s);
    pthread_mutex_unlock(&m->mu);
    render_jobs(out, &g->jobs);
    render_cache(out, g);
    if (g->model_info && *g->model_info) {
        header(out, "stargan_model_info", "gauge", "Loaded models (value 1), described by labels.");
        sg_buf_append(out, g->model_info, strlen(g->model_info));
    }
    return out->data ? SG_OK : SG_ERR_NOMEM;
}
