/* A tiny persistent thread pool for net/'s own loops (Winograd tiles): sg__parallel runs
 * fn(ctx, task, thread) for task < ntasks on up to sg__threads() threads (the caller is thread 0).
 * Workers start on first use and sleep on a condition variable between jobs. One job at a time:
 * a caller that finds the pool busy (another request on another thread) runs its tasks itself,
 * so concurrent requests never oversubscribe the cores; and callers that declare their requests
 * (sg_net_user_enter/leave: the server's workers) all run alone while more than one is in flight. OpenBLAS is set to one thread when the
 * pool starts: every GEMM is split over the pool instead (gemm.c). SG_THREADS=n overrides the thread count
 * (default: online CPUs, at most 8). */
#include "conv_internal.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 8

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int nthreads;
    long generation; /* bumped per job */
    int running;     /* workers still on the current job */
    void (*fn)(void *, int, int);
    void *ctx;
    int ntasks;
    atomic_int next;
    atomic_flag busy;
    atomic_int users; /* sg_net_user_enter - leave: requests in flight on other threads */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, 0, 0, NULL, NULL, 0, 0, ATOMIC_FLAG_INIT, 0};
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void drain(int thread) {
    for (int t; (t = atomic_fetch_add(&pool.next, 1)) < pool.ntasks;) pool.fn(pool.ctx, t, thread);
}

static void *worker(void *arg) {
    const int id = (int)(intptr_t)arg;
    long seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        pthread_mutex_unlock(&pool.lock);
        drain(id);
        pthread_mutex_lock(&pool.lock);
        if (--pool.running == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

static void start(void) {
    const char *s = getenv("SG_THREADS");
    long n = s && atoi(s) > 0 ? atoi(s) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    /* one threading model: BLAS calls run inside our tasks, single-threaded (OpenBLAS's own
     * threads would spin after each call and compete with the pool) */
    openblas_set_num_threads(1);
    pool.nthreads = 1;
    for (int i = 1; i < n; i++) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, worker, (void *)(intptr_t)i) == 0) pool.nthreads++;
        pthread_attr_destroy(&a);
    }
}

int sg__threads(void) {
    pthread_once(&once, start);
    return pool.nthreads;
}

void sg__parallel(int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx) {
    const int nt = sg__threads();
    /* several requests in flight: each runs on its own thread alone (see sg_net_user_enter) */
    if (nt == 1 || ntasks < 2 || atomic_load(&pool.users) > 1 ||
        atomic_flag_test_and_set(&pool.busy)) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0); /* serial, thread slot 0 */
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn, pool.ctx = ctx, pool.ntasks = ntasks;
    atomic_store(&pool.next, 0);
    pool.running = nt - 1;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    drain(0);
    pthread_mutex_lock(&pool.lock);
    while (pool.running > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    atomic_flag_clear(&pool.busy);
}

void sg_net_user_enter(void) { atomic_fetch_add(&pool.users, 1); }
void sg_net_user_leave(void) { atomic_fetch_sub(&pool.users, 1); }

int sg_net_threads(void) { return sg__threads(); }
void sg_net_parallel(int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx) {
    sg__parallel(ntasks, fn, ctx);
}
