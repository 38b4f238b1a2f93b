/* The bounded job queue. Admission is decided up front (reserve) so an overloaded server says
 * 503 before reading a body into a queue it cannot serve; the workers pop in FIFO order; a
 * reaper thread answers jobs whose deadline passed while they waited, so a client hears back at
 * its --timeout rather than whenever a worker frees up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

typedef struct {
    sg_queue *q;
    int index;
} worker_arg;

sg_status sg_queue_init(sg_queue *q, int workers, int cap, sg_error *err) {
    memset(q, 0, sizeof *q);
    if (workers < 1 || cap < 0) return sg_error_set(err, SG_ERR_ARG, "queue: bad sizes");
    q->workers = workers;
    q->cap = cap;
    q->max_batch = 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timed waits use sg_now_ms() times */
    pthread_cond_init(&q->idle, &ca);
    pthread_cond_init(&q->reap, &ca);
    pthread_cond_init(&q->more, &ca);
    pthread_condattr_destroy(&ca);
    q->threads = calloc((size_t)workers, sizeof *q->threads);
    if (!q->threads) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    return SG_OK;
}

/* Removes and returns the head, or NULL. Caller holds mu. */
static sg_qitem *pop_locked(sg_queue *q) {
    sg_qitem *j = q->head;
    SG_ASSERT(!j == !q->tail && !j == (q->waiting == 0));
    if (j) {
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        q->waiting--;
    }
    return j;
}

/* The counts' invariants (caller holds mu): every waiting or running job was admitted, no more
 * run than there are workers, admissions stay within workers + queue. */
static void check_locked(const sg_queue *q) {
    SG_ASSERT(q->waiting >= 0 && q->running >= 0 && q->running <= q->workers * q->max_batch);
    SG_ASSERT(q->waiting + q->running <= q->admitted);
    SG_ASSERT(q->admitted <= q->workers + q->cap);
    (void)q;
}

static void finish_locked(sg_queue *q) {
    SG_ASSERT(q->admitted > 0); /* one finish per admission */
    q->admitted--;
    check_locked(q);
    if (q->admitted == 0) pthread_cond_broadcast(&q->idle);
}

static void abstime_ms(double ms, struct timespec *ts) {
    ts->tv_sec = (time_t)(ms / 1000);
    ts->tv_nsec = (long)((ms - (double)ts->tv_sec * 1000) * 1e6);
    if (ts->tv_nsec < 0) ts->tv_nsec = 0;
    if (ts->tv_nsec >= 1000000000L) ts->tv_nsec = 999999999L;
}

/* Moves waiting items of b[0]'s batch key into b (queue order) until it holds q->max_batch;
 * returns how many it holds. Caller holds mu. */
static int gather_locked(sg_queue *q, sg_qitem **b, int n) {
    for (sg_qitem **pp = &q->head, *prev = NULL; *pp && n < q->max_batch;) {
        sg_qitem *j = *pp;
        if (j->batch_key != b[0]->batch_key) {
            prev = j, pp = &j->next;
            continue;
        }
        *pp = j->next;
        if (q->tail == j) q->tail = prev;
        q->waiting--, q->running++;
        b[n++] = j;
    }
    return n;
}

/* b[0] and what of its batch waits, waiting up to batch_wait_ms for more (caller holds mu) */
static int batch_locked(sg_queue *q, sg_qitem **b) {
    int n = 1;
    if (!b[0]->batch_key || q->max_batch < 2) return n;
    n = gather_locked(q, b, n);
    if (n >= q->max_batch || q->batch_wait_ms <= 0) return n;
    struct timespec ts;
    abstime_ms(sg_now_ms() + q->batch_wait_ms, &ts);
    while (n < q->max_batch && !q->stopping &&
           pthread_cond_timedwait(&q->more, &q->mu, &ts) != ETIMEDOUT)
        n = gather_locked(q, b, n);
    return gather_locked(q, b, n);
}

/* The items of b whose deadline passed before a worker reached them (before the reaper saw
 * them) moved to the end, counted; returns how many are left to run. Caller holds mu. */
static int split_late_locked(sg_queue *q, sg_qitem **b, int n) {
    const double now = sg_now_ms();
    int live = 0;
    sg_qitem *late[SG_QUEUE_MAX_BATCH];
    int n_late = 0;
    for (int i = 0; i < n; i++)
        if (b[i]->deadline_ms > 0 && now > b[i]->deadline_ms) late[n_late++] = b[i];
        else b[live++] = b[i];
    for (int i = 0; i < n_late; i++) b[live + i] = late[i];
    q->expired += n_late;
    return live;
}

static void *worker_main(void *p) {
    worker_arg a = *(worker_arg *)p;
    free(p);
    sg_queue *q = a.q;
    sg_qitem *b[SG_QUEUE_MAX_BATCH];
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping) pthread_cond_wait(&q->work, &q->mu);
        if (!(b[0] = pop_locked(q))) break; /* stopping and empty */
        q->running++;
        const int n = batch_locked(q, b), live = split_late_locked(q, b, n);
        check_locked(q);
        pthread_mutex_unlock(&q->mu);
        for (int i = live; i < n; i++) b[i]->dropped(b[i], 0);
        if (live) {              /* the jobs may be freed from here on */
            sg_net_user_enter(); /* concurrent requests: one core each (net.h) */
            if (live == 1) b[0]->run(b[0], a.index);
            else b[0]->run_batch(b, live, a.index);
            sg_net_user_leave();
        }
        pthread_mutex_lock(&q->mu);
        for (int i = 0; i < n; i++) q->running--, finish_locked(q);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Unlinks every waiting job whose deadline passed into a list, counted in *n (caller holds mu). */
static sg_qitem *expire_locked(sg_queue *q, double now, double *next_deadline, int *n) {
    sg_qitem *expired = NULL, **pp = &q->head, *prev = NULL;
    *next_deadline = 0;
    *n = 0;
    while (*pp) {
        sg_qitem *j = *pp;
        if (j->deadline_ms > 0 && j->deadline_ms <= now) {
            *pp = j->next;
            q->waiting--;
            q->expired++;
            j->next = expired;
            expired = j;
            (*n)++;
            continue;
        }
        if (j->deadline_ms > 0 && (*next_deadline == 0 || j->deadline_ms < *next_deadline))
            *next_deadline = j->deadline_ms;
        prev = j;
        pp = &j->next;
    }
    q->tail = prev;
    return expired;
}

static void *reaper_main(void *p) {
    sg_queue *q = p;
    pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        double next;
        int n_expired;
        sg_qitem *expired = expire_locked(q, sg_now_ms(), &next, &n_expired);
        if (expired) { /* answer outside the lock: dropped() resumes a connection */
            pthread_mutex_unlock(&q->mu);
            /* a job is gone once dropped() returns (its connection may complete and free it at
             * once): the link is read before, and the slots are released by count, not by a
             * second walk over the list */
            for (sg_qitem *j = expired, *n; j; j = n) {
                n = j->next;
                j->dropped(j, 0);
            }
            pthread_mutex_lock(&q->mu);
            for (int i = 0; i < n_expired; i++) finish_locked(q);
            continue;
        }
        if (next > 0) {
            struct timespec ts;
            abstime_ms(next, &ts);
            pthread_cond_timedwait(&q->reap, &q->mu, &ts);
        } else {
            pthread_cond_wait(&q->reap, &q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

void sg_queue_set_batch(sg_queue *q, int max_batch, double wait_ms) {
    q->max_batch = max_batch < 1                    ? 1
                   : max_batch > SG_QUEUE_MAX_BATCH ? SG_QUEUE_MAX_BATCH
                                                    : max_batch;
    q->batch_wait_ms = wait_ms > 0 ? wait_ms : 0;
}

sg_status sg_queue_start(sg_queue *q, sg_error *err) {
    for (int i = 0; i < q->workers; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        *a = (worker_arg){q, i};
        if (pthread_create(&q->threads[i], NULL, worker_main, a)) {
            free(a);
            return sg_error_set(err, SG_ERR_NOMEM, "cannot start worker thread %d", i);
        }
        q->started = i + 1;
    }
    if (pthread_create(&q->reaper, NULL, reaper_main, q))
        return sg_error_set(err, SG_ERR_NOMEM, "cannot start the reaper thread");
    q->started |= 1 << 30;
    return SG_OK;
}

int sg_queue_reserve(sg_queue *q) {
    pthread_mutex_lock(&q->mu);
    int ok = !q->stopping && !q->draining && q->admitted < q->workers + q->cap;
    if (ok) q->admitted++;
    else q->rejected++;
    check_locked(q);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void sg_queue_release(sg_queue *q) {
    pthread_mutex_lock(&q->mu);
    finish_locked(q);
    pthread_mutex_unlock(&q->mu);
}

void sg_queue_push(sg_queue *q, sg_qitem *j) {
    pthread_mutex_lock(&q->mu);
    j->next = NULL;
    if (q->tail) q->tail->next = j;
    else q->head = j;
    q->tail = j;
    q->waiting++;
    check_locked(q); /* pushed jobs were reserved first */
    pthread_cond_signal(&q->work);
    if (j->batch_key) pthread_cond_broadcast(&q->more);
    if (j->deadline_ms > 0) pthread_cond_signal(&q->reap);
    pthread_mutex_unlock(&q->mu);
}

void sg_queue_stats(sg_queue *q, int *waiting, int *running, int *admitted, long *rejected,
                    long *expired) {
    pthread_mutex_lock(&q->mu);
    if (waiting) *waiting = q->waiting;
    if (running) *running = q->running;
    if (admitted) *admitted = q->admitted;
    if (rejected) *rejected = q->rejected;
    if (expired) *expired = q->expired;
    pthread_mutex_unlock(&q->mu);
}

void sg_queue_drain_and_stop(sg_queue *q, double timeout_s) {
    if (!q->threads) return;
    struct timespec ts;
    abstime_ms(sg_now_ms() + timeout_s * 1000, &ts);
    pthread_mutex_lock(&q->mu);
    q->draining = 1; /* no new admissions */
    while (q->admitted > 0 && q->started)
        if (pthread_cond_timedwait(&q->idle, &q->mu, &ts) == ETIMEDOUT) break;
    /* past the grace: what still waits is answered "shutting down" */
    sg_qitem *left = q->head;
    int n_left = q->waiting;
    q->head = q->tail = NULL;
    q->waiting = 0;
    q->stopping = 1;
    pthread_cond_broadcast(&q->work);
    pthread_cond_broadcast(&q->reap);
    pthread_cond_broadcast(&q->more);
    pthread_mutex_unlock(&q->mu);
    for (sg_qitem *j = left, *n; j; j = n) {
        n = j->next;
        j->dropped(j, 1);
    }
    pthread_mutex_lock(&q->mu);
    q->admitted -= n_left;
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < (q->started & ((1 << 30) - 1)); i++) pthread_join(q->threads[i], NULL);
    if (q->started & (1 << 30)) pthread_join(q->reaper, NULL);
    q->started = 0;
}

void sg_queue_free(sg_queue *q) {
    if (!q->threads) return;
    if (q->started) sg_queue_drain_and_stop(q, 0);
    free(q->threads);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->reap);
    pthread_cond_destroy(&q->more);
    pthread_mutex_destroy(&q->mu);
    memset(q, 0, sizeof *q);
}

int sg_queue_requeue(sg_queue *q, sg_qitem *j) {
    pthread_mutex_lock(&q->mu);
    int ok = !q->stopping;
    if (ok) {
        q->admitted++; /* the running slot is released after run returns */
        j->next = NULL;
        if (q->tail) q->tail->next = j;
        else q->head = j;
        q->tail = j;
        q->waiting++;
        pthread_cond_signal(&q->work);
        if (j->deadline_ms > 0) pthread_cond_signal(&q->reap);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}
