/* A tiny persistent thread pool for net/'s own loops (Winograd tiles): sg__parallel runs
 * fn(ctx, task, thread) for task < ntasks on up to sg__threads() threads (the caller is thread 0).
 * Workers start on first use; between jobs they spin briefly, then sleep on a condition
 * variable. One job at a time: a caller that finds the pool busy (another request on another
 * thread) runs its tasks itself, so concurrent requests never oversubscribe the cores; and
 * callers that declare their requests (sg_net_user_enter/leave: the server's workers) all run
 * alone while more than one is in flight. OpenBLAS is set to one thread when the pool starts:
 * every GEMM is split over the pool instead (gemm.c). SG_THREADS=n overrides the thread count
 * (default: online CPUs, at most 8). */
#include "net_internal.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 8
#define SPIN_NS     200000 /* a waiting thread spins this long before it sleeps (see spin_until) */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int nthreads;
    atomic_long generation; /* bumped per job */
    atomic_int running;     /* workers still on the current job */
    atomic_int sleepers;    /* workers blocked on wake */
    void (*fn)(void *, int, int);
    void *ctx;
    int ntasks;
    atomic_int next;
    atomic_flag busy;
    atomic_int users; /* sg_net_user_enter - leave: requests in flight on other threads */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER,
          .busy = ATOMIC_FLAG_INIT}; /* the rest 0 until start */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void drain(int thread) {
    for (int t; (t = atomic_fetch_add(&pool.next, 1)) < pool.ntasks;) pool.fn(pool.ctx, t, thread);
}

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Spin until done() or SPIN_NS pass; returns done(). A network is hundreds of parallel ops with
 * short serial gaps between them: waking a sleeping thread costs a futex call and, on these VMs,
 * an interrupt (visible in perf: bench/README.md), so a thread that just finished waits for the
 * next job awake for a moment; then it sleeps, so an idle daemon costs nothing. */
static inline void cpu_relax(void) { /* the spin-wait hint: PAUSE, YIELD */
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static int spin_until(int (*done)(long), long arg) {
    const long t0 = now_ns();
    for (int i = 0;; i++) {
        if (done(arg)) return 1;
        cpu_relax();
        if ((i & 63) == 63 && now_ns() - t0 > SPIN_NS) return done(arg);
    }
}

static int new_job(long seen) { return atomic_load(&pool.generation) != seen; }
static int job_done(long unused) { return (void)unused, atomic_load(&pool.running) == 0; }

static void *worker(void *arg) {
    const int id = (int)(intptr_t)arg;
    long seen = 0;
    for (;;) {
        if (!spin_until(new_job, seen)) {
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while (!new_job(seen)) pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = atomic_load(&pool.generation);
        drain(id);
        const int was = atomic_fetch_sub(&pool.running, 1);
        SG_ASSERT(was >= 1); /* every worker is counted in once per job */
        if (was == 1) {      /* the last one out tells the caller */
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
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
    SG_ASSERT(ntasks >= 0 && fn);
    const int nt = sg__threads();
    /* several requests in flight: each runs on its own thread alone (see sg_net_user_enter) */
    if (nt == 1 || ntasks < 2 || atomic_load(&pool.users) > 1 ||
        atomic_flag_test_and_set(&pool.busy)) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0); /* serial, thread slot 0 */
        return;
    }
    pool.fn = fn, pool.ctx = ctx, pool.ntasks = ntasks;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.running, nt - 1);
    atomic_fetch_add(&pool.generation, 1); /* publishes the job (seq_cst) */
    if (atomic_load(&pool.sleepers) > 0) { /* a worker that checked before the bump sleeps */
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    drain(0);
    if (!spin_until(job_done, 0)) {
        pthread_mutex_lock(&pool.lock);
        while (!job_done(0)) pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    /* every task was taken (each thread leaves drain() only when next has passed ntasks) */
    SG_ASSERT(atomic_load(&pool.next) >= ntasks && atomic_load(&pool.running) == 0);
    atomic_flag_clear(&pool.busy);
}

void sg_net_user_enter(void) { atomic_fetch_add(&pool.users, 1); }
void sg_net_user_leave(void) {
    const int was = atomic_fetch_sub(&pool.users, 1);
    SG_ASSERT(was >= 1); /* a leave without its enter */
    (void)was;
}

void sg_net_parallel(int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx) {
    sg__parallel(ntasks, fn, ctx);
}
