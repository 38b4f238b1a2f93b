/* The job store of `Prefer: respond-async` (RFC 7240). A job is an admitted request (an exec)
 * whose answer, when it ends, is kept here as its result instead of being sent: the same status,
 * headers and bytes the synchronous request would have answered. Jobs live in memory, under one
 * lock: a list bounded by --max-jobs, their uploads and results bounded by --job-store-bytes
 * (new jobs are refused while it is full), finished ones dropped --job-ttl after they ended
 * (swept on every use of the store, /metrics scrapes included). A job made with an API key is
 * visible to that key only: to any other it does not exist (404). */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

struct sg_job {
    char id[33];
    uint8_t owner[32];
    int has_owner;
    sg_job_state state;
    int total, done; /* steps; done is read from the exec while it runs */
    int cancel_asked;
    sg_exec *x; /* while queued or running */
    sg_answer answer;
    double finished_ms;
    int64_t bytes;
    sg_job *next;
};

static const char *const state_names[] = {"queued", "running", "done", "failed", "cancelled"};

void sg_jobs_init(sg_jobs *j, int max_jobs, int64_t max_bytes, double ttl_s) {
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    j->max_jobs = max_jobs, j->max_bytes = max_bytes, j->ttl_ms = ttl_s * 1000;
}

static void job_free(sg_job *job) {
    sg_answer_free(&job->answer);
    free(job);
}

void sg_jobs_free(sg_jobs *j) {
    for (sg_job *job = j->head, *n; job; job = n) n = job->next, job_free(job);
    j->head = NULL;
    pthread_mutex_destroy(&j->mu);
}

static int finished(const sg_job *job) { return job->state >= SG_JOB_DONE && !job->x; }

/* Unlinks finished jobs past their TTL (caller holds mu). */
static void sweep_locked(sg_jobs *j, double now) {
    for (sg_job **pp = &j->head; *pp;) {
        sg_job *job = *pp;
        if (finished(job) && now - job->finished_ms > j->ttl_ms) {
            *pp = job->next;
            j->n--, j->bytes -= job->bytes;
            job_free(job);
        } else pp = &job->next;
    }
}

/* The job id for owner (NULL: requests without keys see only jobs made without keys). */
static sg_job *find_locked(sg_jobs *j, const char *id, const uint8_t *owner) {
    for (sg_job *job = j->head; job; job = job->next) {
        if (strcmp(job->id, id)) continue;
        if (job->has_owner != !!owner || (owner && memcmp(job->owner, owner, 32))) return NULL;
        return job;
    }
    return NULL;
}

static int not_found(const char *id, sg_http_error *e) {
    return sg_http_fail(e, 404, "no_such_job", "no job '%.40s' (expired, deleted, or never made)",
                        id);
}

/* The exec of a job ended: its answer becomes the job's result (on the worker's thread). */
static void job_finished(sg_exec *x) {
    sg_jobs *j = &x->s->jobs;
    sg_job *job = x->owner;
    pthread_mutex_lock(&j->mu);
    job->answer = x->answer;
    memset(&x->answer, 0, sizeof x->answer);
    if (job->cancel_asked || x->outcome == SG_EXEC_CANCELLED || x->outcome == SG_EXEC_STOPPING)
        job->state = SG_JOB_CANCELLED;
    else job->state = job->answer.status == 200 ? SG_JOB_DONE : SG_JOB_FAILED;
    j->bytes -= job->bytes;
    job->bytes = (int64_t)(job->answer.len + job->answer.headers.len);
    j->bytes += job->bytes;
    job->finished_ms = sg_now_ms();
    job->done = atomic_load(&x->steps_done);
    job->x = NULL;
    j->finished[job->state]++;
    pthread_mutex_unlock(&j->mu);
    sg_exec_free(x);
}

static void new_id(char id[33]) {
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) /* never short for 16 bytes; be safe */
        for (size_t i = 0; i < sizeof r; i++) r[i] = (uint8_t)(sg_now_ms() * 7919 + (double)i);
    for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", r[i]);
}

int sg_jobs_add(sg_jobs *j, sg_exec *x, const uint8_t *owner, char id[33], sg_http_error *e) {
    sg_job *job = calloc(1, sizeof *job);
    if (!job) return sg_http_fail(e, 503, "out_of_memory", "out of memory");
    pthread_mutex_lock(&j->mu);
    sweep_locked(j, sg_now_ms());
    int64_t bytes = (int64_t)x->body.len;
    int r = 0;
    if (j->n >= j->max_jobs)
        r = sg_http_fail(e, 503, "too_many_jobs",
                         "the server holds --max-jobs (%d) jobs; retry later", j->max_jobs);
    else if (j->bytes + bytes > j->max_bytes)
        r = sg_http_fail(e, 503, "job_store_full",
                         "the jobs' uploads and results fill --job-store-bytes; retry later");
    if (r) {
        j->refused++;
        pthread_mutex_unlock(&j->mu);
        free(job);
        return r;
    }
    do new_id(job->id);
    while (find_locked(j, job->id, owner)); /* 2^-128: never, but cheap to rule out */
    memcpy(id, job->id, 33);
    if (owner) memcpy(job->owner, owner, 32), job->has_owner = 1;
    job->state = SG_JOB_QUEUED;
    job->total = x->rq.n_steps;
    job->x = x;
    job->bytes = bytes;
    job->next = j->head;
    j->head = job;
    j->n++, j->bytes += bytes, j->created++;
    x->finished = job_finished;
    x->owner = job;
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* The state as clients see it: a queued job a worker has taken is running. */
static sg_job_state job_state(const sg_job *job) {
    if (job->x && job->state == SG_JOB_QUEUED && atomic_load(&job->x->started))
        return SG_JOB_RUNNING;
    return job->state;
}

static void state_doc(const sg_job *job, sg_buf *out) {
    int done = job->x ? atomic_load(&job->x->steps_done) : job->done;
    sg_job_state st = job_state(job);
    sg_buf_printf(out, "{\"id\":\"%s\",\"state\":\"%s\",\"progress\":{\"done\":%d,\"total\":%d}",
                  job->id, state_names[st], done, job->total);
    if (st == SG_JOB_FAILED && job->answer.len) /* the error document, {"error":{...}} */
        sg_buf_printf(out, ",%.*s", (int)job->answer.len - 2, (const char *)job->answer.body + 1);
    sg_buf_append(out, "}\n", 2);
}

int sg_jobs_status(sg_jobs *j, const char *id, const uint8_t *owner, sg_buf *out,
                   sg_http_error *e) {
    pthread_mutex_lock(&j->mu);
    sweep_locked(j, sg_now_ms());
    sg_job *job = find_locked(j, id, owner);
    if (job) state_doc(job, out);
    pthread_mutex_unlock(&j->mu);
    return job ? 0 : not_found(id, e);
}

int sg_jobs_result(sg_jobs *j, const char *id, const uint8_t *owner, sg_answer *copy,
                   sg_http_error *e) {
    int r = 0;
    pthread_mutex_lock(&j->mu);
    sweep_locked(j, sg_now_ms());
    sg_job *job = find_locked(j, id, owner);
    if (!job) r = not_found(id, e);
    else if (job->x)
        r = sg_http_fail(e, 409, "job_not_done", "job '%s' has not finished: see /v1/jobs/%s", id,
                         id);
    else if (job->state == SG_JOB_CANCELLED)
        r = sg_http_fail(e, 409, "cancelled", "job '%s' was cancelled", id);
    if (!r) {
        const sg_answer *a = &job->answer;
        copy->status = a->status, copy->content_type = a->content_type, copy->len = a->len;
        copy->body = malloc(a->len ? a->len : 1);
        if (copy->body && a->len) memcpy(copy->body, a->body, a->len);
        if (!copy->body ||
            (a->headers.len && sg_buf_append(&copy->headers, a->headers.data, a->headers.len)))
            r = sg_http_fail(e, 503, "out_of_memory", "out of memory");
    }
    pthread_mutex_unlock(&j->mu);
    return r;
}

int sg_jobs_delete(sg_jobs *j, const char *id, const uint8_t *owner, sg_buf *out,
                   sg_http_error *e) {
    pthread_mutex_lock(&j->mu);
    sweep_locked(j, sg_now_ms());
    sg_job **pp = &j->head;
    while (*pp && *pp != find_locked(j, id, owner)) pp = &(*pp)->next;
    sg_job *job = *pp;
    int r = job ? 0 : not_found(id, e);
    if (job && job->x) { /* running or queued: no further step starts; the record stays */
        job->cancel_asked = 1;
        job->state = SG_JOB_CANCELLED;
        atomic_store(&job->x->cancel, 1);
        state_doc(job, out);
        r = 1;
    } else if (job) {
        *pp = job->next;
        j->n--, j->bytes -= job->bytes;
        job_free(job);
    }
    pthread_mutex_unlock(&j->mu);
    return r;
}

void sg_jobs_stats_get(sg_jobs *j, sg_jobs_stats *st) {
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&j->mu);
    sweep_locked(j, sg_now_ms());
    for (sg_job *job = j->head; job; job = job->next) st->by_state[job_state(job)]++;
    st->held = j->n, st->bytes = j->bytes, st->max_bytes = j->max_bytes;
    st->created = j->created, st->refused = j->refused;
    memcpy(st->finished, j->finished, sizeof st->finished);
    pthread_mutex_unlock(&j->mu);
}
