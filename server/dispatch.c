/* Admitted requests on the queue. An exec runs one step of its request per turn on a worker and
 * goes back to the end of the queue while steps remain, so translations that arrived meanwhile
 * run in between. Before each step it looks whether it should stop: cancelled (DELETE of its job,
 * or shutdown), or, for a synchronous request, its client has hung up (the socket reports the
 * peer's close). When it ends, however it ends, its answer is built here, once, its work budget
 * is returned, and its owner is told: the connection (resumed to send the answer) or the job
 * (which keeps the answer as its result). */
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

sg_exec *sg_exec_new(sg_server *s, sg_buf *body) {
    sg_exec *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->s = s;
    x->client_fd = -1;
    x->t0 = sg_now_ms();
    x->body = *body;
    sg_buf_init(body, body->max); /* the exec owns the bytes the request's views point into */
    sg_buf_init(&x->answer.headers, 0);
    return x;
}

int sg_exec_admit(sg_exec *x, sg_http_error *e) {
    sg_server *s = x->s;
    if (x->rq.kind == SG_KIND_GRID || x->rq.kind == SG_KIND_VIDEO) {
        int64_t w = sg_request_work(&x->rq);
        if (sg_work_admit(&s->work, w, e)) return -1;
        x->work = w;
    }
    if (!sg_queue_reserve(&s->queue)) {
        sg_work_release(&s->work, x->work);
        x->work = 0;
        return sg_http_fail(e, 503, atomic_load(&s->stopping) ? "stopping" : "overloaded",
                            "workers and queue are full; retry later");
    }
    x->reserved = 1;
    return 0;
}

void sg_exec_free(sg_exec *x) {
    if (!x) return;
    if (x->reserved && !x->pushed) sg_queue_release(&x->s->queue);
    if (x->work) sg_work_release(&x->s->work, x->work);
    sg_request_free(&x->rq);
    sg_answer_free(&x->answer);
    sg_srv_gen_release(x->gen); /* may free a generation a reload replaced */
    sg_buf_free(&x->body);
    free(x);
}

/* Has the peer closed its end? (A client that gives up closes; none half-closes and waits.) */
static int client_gone(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void stage_metrics(sg_exec *x) {
    sg_metrics *m = &x->s->metrics;
    sg_metrics_stage(m, SG_STAGE_QUEUE, x->rq.stage_ms[SG_STAGE_QUEUE]);
    if (x->answer.status != 200) return;
    for (int i = SG_STAGE_DECODE; i < SG_STAGE_COUNT; i++)
        sg_metrics_stage(m, (sg_stage)i, x->rq.stage_ms[i]);
}

/* The answer of an exec that ended with outcome. */
static void build_answer(sg_exec *x, sg_exec_outcome how) {
    sg_answer *a = &x->answer;
    sg_http_error e = {0};
    switch (how) {
    case SG_EXEC_EXPIRED:
        sg_metrics_count(&x->s->metrics, SG_COUNT_EXPIRED);
        sg_http_fail(&e, 503, "timeout", "the request waited longer than --timeout for a worker");
        break;
    case SG_EXEC_STOPPING: sg_http_fail(&e, 503, "stopping", "shutting down"); break;
    case SG_EXEC_CANCELLED: sg_http_fail(&e, 409, "cancelled", "the job was cancelled"); break;
    case SG_EXEC_CLIENT_GONE:
        sg_metrics_count(&x->s->metrics, SG_COUNT_CLIENT_GONE);
        a->status = 499; /* logged; nothing is sent */
        return;
    default: e = x->rq.error; break;
    }
    if (e.status) {
        sg_answer_error(a, &e);
        return;
    }
    a->status = 200;
    a->content_type = sg_request_content_type(&x->rq);
    a->body = x->rq.out, a->len = x->rq.out_len;
    x->rq.out = NULL;
    sg_request_headers(&x->rq, sg_now_ms() - x->t0, &a->headers);
}

/* The end: the answer, the budget back, the owner told (the last touch of x). */
static void end(sg_exec *x, sg_exec_outcome how) {
    build_answer(x, how);
    stage_metrics(x);
    sg_work_release(&x->s->work, x->work);
    x->work = 0;
    x->outcome = how;
    x->finished(x);
}

static sg_exec *exec_of(sg_qitem *it) { return (sg_exec *)((char *)it - offsetof(sg_exec, item)); }

/* Its queue wait noted; 0 when it ended here instead (cancelled, or its client gone) */
static int exec_start(sg_exec *x) {
    if (!atomic_exchange(&x->started, 1))
        x->rq.stage_ms[SG_STAGE_QUEUE] = sg_now_ms() - x->item.enqueued_ms;
    if (atomic_load(&x->cancel)) return end(x, SG_EXEC_CANCELLED), 0;
    if (client_gone(x->client_fd)) return end(x, SG_EXEC_CLIENT_GONE), 0;
    return 1;
}

static void exec_run(sg_qitem *it, int worker) {
    sg_exec *x = exec_of(it);
    if (!exec_start(x)) return;
    if (it->batch_key) sg_metrics_batch(&x->s->metrics, 1);
    int more = sg_request_step(&x->rq, sg_srv_gen_run(x->gen, worker, x->rq.model));
    atomic_fetch_add(&x->steps_done, 1);
    it->deadline_ms = 0; /* --timeout bounds the wait for a first worker only */
    if (!more) end(x, SG_EXEC_DONE);
    else if (!sg_queue_requeue(&x->s->queue, it)) end(x, SG_EXEC_STOPPING);
}

/* Plain translations of one model (their batch_key), their one step together */
static void exec_run_batch(sg_qitem **its, int n, int worker) {
    sg_exec *xs[SG_QUEUE_MAX_BATCH];
    sg_request *rs[SG_QUEUE_MAX_BATCH];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (exec_start(exec_of(its[i]))) xs[m] = exec_of(its[i]), rs[m] = &xs[m]->rq, m++;
    if (!m) return;
    sg_metrics_batch(&xs[0]->s->metrics, m);
    sg_request_step_batch(rs, m, sg_srv_gen_run(xs[0]->gen, worker, xs[0]->rq.model));
    for (int i = 0; i < m; i++) {
        atomic_fetch_add(&xs[i]->steps_done, 1);
        end(xs[i], SG_EXEC_DONE);
    }
}

static void exec_dropped(sg_qitem *it, int shutting_down) {
    sg_exec *x = (sg_exec *)((char *)it - offsetof(sg_exec, item));
    if (!atomic_load(&x->started)) x->rq.stage_ms[SG_STAGE_QUEUE] = sg_now_ms() - it->enqueued_ms;
    end(x, shutting_down ? SG_EXEC_STOPPING : SG_EXEC_EXPIRED);
}

void sg_exec_push(sg_exec *x) {
    sg_server *s = x->s;
    x->item = (sg_qitem){.run = exec_run,
                         .dropped = exec_dropped,
                         .run_batch = exec_run_batch,
                         .enqueued_ms = sg_now_ms()};
    /* a plain translation may share a worker's batch with others of its model (a generation's
     * model: never one of another generation or precision) */
    if (s->cfg.max_batch > 1 && sg_request_batchable(&x->rq)) x->item.batch_key = x->rq.model;
    if (s->cfg.timeout_s > 0) x->item.deadline_ms = x->item.enqueued_ms + s->cfg.timeout_s * 1000;
    x->pushed = 1;
    sg_queue_push(&s->queue, &x->item);
}
