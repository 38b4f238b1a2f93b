/* Deadlines for slow clients (server.h, "watchdog"). One thread wakes every 100 ms and walks the
 * open connections; the list is bounded by the connection limit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"

#define SCAN_MS 100

void sg_watchdog_init(sg_watchdog *w, double header_s, double min_rate, double grace_s) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->header_s = header_s;
    w->min_rate = min_rate;
    w->grace_s = grace_s;
}

/* The deadline check of one connection (caller holds mu). */
static int overdue(const sg_watchdog *w, const sg_conn *c, double now) {
    double t = (now - c->since_ms) / 1000;
    if (c->phase == SG_CONN_HEADERS) return w->header_s > 0 && t > w->header_s;
    if (c->phase == SG_CONN_BODY)
        return w->min_rate > 0 && t > w->grace_s && (double)c->body_bytes < w->min_rate * t;
    return 0; /* answering: the queue's --timeout and MHD's idle timeout apply */
}

int sg_watchdog_scan(sg_watchdog *w, double now) {
    int n = 0;
    pthread_mutex_lock(&w->mu);
    for (sg_conn *c = w->head; c; c = c->next) {
        if (c->dropped || !overdue(w, c, now)) continue;
        c->dropped = 1;
        if (c->phase == SG_CONN_HEADERS) w->dropped_headers++;
        else w->dropped_body++;
        /* the event loop sees the hang-up and closes the connection; its close notification
         * takes mu, so fd cannot have been closed and reused under us */
        shutdown(c->fd, SHUT_RDWR);
        n++;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

static void *watchdog_main(void *p) {
    sg_watchdog *w = p;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += SCAN_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop) break;
        pthread_mutex_unlock(&w->mu);
        sg_watchdog_scan(w, sg_now_ms());
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sg_status sg_watchdog_start(sg_watchdog *w, sg_error *err) {
    if (pthread_create(&w->thread, NULL, watchdog_main, w))
        return sg_error_set(err, SG_ERR_NOMEM, "cannot start the watchdog thread");
    w->started = 1;
    return SG_OK;
}

void sg_watchdog_stop(sg_watchdog *w) {
    if (!w->started) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = 0;
}

void sg_watchdog_free(sg_watchdog *w) {
    sg_watchdog_stop(w);
    pthread_mutex_lock(&w->mu);
    for (sg_conn *c = w->head, *n; c; c = n) n = c->next, free(c);
    w->head = NULL;
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

sg_conn *sg_watchdog_open(sg_watchdog *w, int fd) {
    sg_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL; /* untracked: only MHD's own timeout applies to it */
    c->fd = fd;
    c->phase = SG_CONN_HEADERS;
    c->since_ms = sg_now_ms();
    pthread_mutex_lock(&w->mu);
    c->next = w->head;
    if (w->head) w->head->prev = c;
    w->head = c;
    w->n++;
    pthread_mutex_unlock(&w->mu);
    return c;
}

void sg_watchdog_close(sg_watchdog *w, sg_conn *c) {
    if (!c) return;
    pthread_mutex_lock(&w->mu);
    if (c->prev) c->prev->next = c->next;
    else w->head = c->next;
    if (c->next) c->next->prev = c->prev;
    w->n--;
    if (c->upload) w->uploads--;
    pthread_mutex_unlock(&w->mu);
    free(c);
}

void sg_watchdog_phase(sg_watchdog *w, sg_conn *c, sg_conn_phase p) {
    if (!c) return;
    pthread_mutex_lock(&w->mu);
    c->phase = p;
    c->since_ms = sg_now_ms();
    if (p == SG_CONN_BODY) c->body_bytes = 0;
    if (p == SG_CONN_HEADERS && c->upload) c->upload = 0, w->uploads--;
    pthread_mutex_unlock(&w->mu);
}

int sg_watchdog_take_upload(sg_watchdog *w, sg_conn *c, int max) {
    if (!c) return 1;
    pthread_mutex_lock(&w->mu);
    int ok = c->upload || w->uploads < max;
    if (ok && !c->upload) c->upload = 1, w->uploads++;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void sg_watchdog_body(sg_watchdog *w, sg_conn *c, size_t n) {
    if (!c) return;
    pthread_mutex_lock(&w->mu);
    c->body_bytes += n;
    pthread_mutex_unlock(&w->mu);
}

void sg_watchdog_stats(sg_watchdog *w, int *open, int *uploads, long *dropped_headers,
                       long *dropped_body) {
    pthread_mutex_lock(&w->mu);
    if (open) *open = w->n;
    if (uploads) *uploads = w->uploads;
    if (dropped_headers) *dropped_headers = w->dropped_headers;
    if (dropped_body) *dropped_body = w->dropped_body;
    pthread_mutex_unlock(&w->mu);
}
