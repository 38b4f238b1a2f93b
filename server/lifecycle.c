/* The server's lifecycle: start (listen, the watchdog, the HTTP daemon), load (models, workers),
 * reload (a new generation of models beside the current one), drain, stop and free; and the
 * gauges of /metrics, read from each module's own stats call. */
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

sg_srv_gen *sg_server_gen(sg_server *s) {
    pthread_mutex_lock(&s->gen_mu);
    sg_srv_gen *g = s->gen;
    if (g) sg_srv_gen_acquire(g);
    pthread_mutex_unlock(&s->gen_mu);
    return g;
}

void sg_server_active_add(sg_server *s, int d) {
    pthread_mutex_lock(&s->mu);
    s->active += d;
    if (s->active == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

void sg_server_gauges(sg_server *s, sg_metrics_gauges *g, sg_srv_gen **gen) {
    memset(g, 0, sizeof *g);
    long rejected, expired;
    if (s->queue_ok)
        sg_queue_stats(&s->queue, &g->queue_waiting, &g->running, &g->admitted, &rejected,
                       &expired);
    g->capacity = s->cfg.workers + s->cfg.queue;
    g->workers = s->cfg.workers;
    g->ready = atomic_load(&s->ready) && !atomic_load(&s->stopping) && !atomic_load(&s->draining) &&
               g->admitted < g->capacity;
    sg_watchdog_stats(&s->wd, &g->connections, &g->uploads, &g->dropped_headers, &g->dropped_body);
    sg_work_stats(&s->work, &g->work_used, &g->work_cap);
    sg_jobs_stats_get(&s->jobs, &g->jobs);
    int entries;
    sg_cache_stats_get(s->cache, g->cache, &g->cache_bytes, &entries);
    g->cache_cap = (size_t)s->cfg.cache_bytes;
    *gen = atomic_load(&s->ready) ? sg_server_gen(s) : NULL;
    g->model_info = *gen ? sg_buf_str(&(*gen)->metrics) : NULL;
}

sg_status sg_server_start(sg_server **out, const sg_srv_config *c, sg_error *err) {
    sg_server *s = calloc(1, sizeof *s);
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    *out = s;
    s->cfg = *c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->gen_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timed waits use sg_now_ms() times */
    pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);
    sg_metrics_init(&s->metrics);
    sg_work_init(&s->work, c->max_work);
    sg_jobs_init(&s->jobs, c->max_jobs, c->job_store_bytes, c->job_ttl_s);
    if (!(s->cache = sg_cache_new((size_t)c->cache_bytes)))
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    if (getrandom(&s->id_prefix, sizeof s->id_prefix, 0) != sizeof s->id_prefix)
        s->id_prefix = (uint32_t)getpid();
    sg_status st = sg_keys_load(&s->keys, c->api_key_file, err);
    if (st) return st;
    if (s->keys.n)
        sg_log_msg("info", "API keys required (%d loaded) on every route but /healthz and /readyz",
                   s->keys.n);
    int fd = -1, v6 = 0;
    char url[128];
    if ((st = sg_srv_listen(c->listen, &fd, &v6, url, sizeof url, err))) return st;
    sg_watchdog_init(&s->wd, c->header_timeout_s, (double)c->body_min_rate, c->body_grace_s);
    s->wd_ok = 1;
    if ((st = sg_watchdog_start(&s->wd, err))) return st;
    if ((st = sg_http_start(s, fd, v6, err))) return st;
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
    sg_queue_set_batch(&s->queue, s->cfg.max_batch, s->cfg.batch_wait_ms);
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
        sg_metrics_count(&s->metrics, SG_COUNT_RELOADS_FAILED);
        sg_log_msg("error", "reload failed, still serving generation %d: %s", id - 1, err->msg);
        return st;
    }
    pthread_mutex_lock(&s->gen_mu);
    sg_srv_gen *old = s->gen;
    s->gen = g;
    pthread_mutex_unlock(&s->gen_mu);
    int held = atomic_load(&old->refs) - 1;
    sg_srv_gen_release(old); /* freed now, or by the last request still running on it */
    sg_metrics_count(&s->metrics, SG_COUNT_RELOADS_OK);
    sg_log_msg("info",
               "reloaded in %.0f ms: generation %d serves new requests; generation %d is freed "
               "when its %d in-flight request(s) end",
               sg_now_ms() - t0, id, id - 1, held > 0 ? held : 0);
    return SG_OK;
}

/* Waits until every synchronous request handed to the queue has been answered, or until
 * deadline_ms. */
static void wait_answered(sg_server *s, double deadline_ms) {
    struct timespec ts = {(time_t)(deadline_ms / 1000), 0};
    ts.tv_nsec = (long)((deadline_ms - (double)ts.tv_sec * 1000) * 1e6);
    pthread_mutex_lock(&s->mu);
    while (s->active > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &ts) == ETIMEDOUT) break;
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
               "stopping: no new connections; finishing in-flight and queued work and jobs "
               "(grace %gs)",
               s->cfg.grace_s);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    double t0 = sg_now_ms();
    if (s->queue_ok) sg_queue_drain_and_stop(&s->queue, s->cfg.grace_s);
    /* every request has been answered to MHD; give the responses a moment to be sent */
    wait_answered(s, sg_now_ms() + 5000);
    MHD_stop_daemon(s->d);
    s->d = NULL;
    sg_log_msg("info", "stopped after %.0f ms", sg_now_ms() - t0);
}

void sg_server_free(sg_server *s) {
    if (!s) return;
    if (s->d) sg_server_stop(s);
    if (s->queue_ok) sg_queue_free(&s->queue);
    sg_jobs_free(&s->jobs);                 /* no job runs: the queue has stopped */
    sg_srv_gen_release(s->gen);             /* every request has completed: the last reference */
    sg_cache_free(s->cache);                /* likewise: no request holds an entry */
    if (s->wd_ok) sg_watchdog_free(&s->wd); /* after MHD: no connection is left to close */
    sg_keys_free(&s->keys);
    sg_metrics_free(&s->metrics);
    sg_work_free(&s->work);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->gen_mu);
    free(s);
}
