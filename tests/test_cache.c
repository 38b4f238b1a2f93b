/* server/cache.c: the cost cache's bound, LRU order, held entries surviving eviction, the
 * counters, and many threads at once (run under ThreadSanitizer by scripts/sanitize.sh tsan). */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../server/internal.h"

static int freed; /* values freed by free_value */
static pthread_mutex_t freed_mu = PTHREAD_MUTEX_INITIALIZER;

static void free_value(void *v) {
    pthread_mutex_lock(&freed_mu);
    freed++;
    pthread_mutex_unlock(&freed_mu);
    free(v);
}

static void key_of(int i, uint8_t k[SG_CACHE_KEY]) {
    memset(k, 0, SG_CACHE_KEY);
    memcpy(k, &i, sizeof i);
}

static int *value(int i) {
    int *v = malloc(sizeof *v);
    *v = i;
    return v;
}

/* put i (bytes) and release the caller's hold at once; 0 when stored */
static int put(sg_cache *c, int kind, int i, size_t bytes) {
    uint8_t k[SG_CACHE_KEY];
    key_of(i, k);
    int *v = value(i);
    sg_cache_entry *e = sg_cache_put(c, kind, k, v, bytes, free_value);
    if (!e) {
        free(v);
        return -1;
    }
    sg_cache_release(c, e);
    return 0;
}

static int has(sg_cache *c, int i) {
    uint8_t k[SG_CACHE_KEY];
    key_of(i, k);
    sg_cache_entry *e = sg_cache_get(c, SG_CACHE_ENCODED, k);
    int ok = e && *(const int *)sg_cache_value(e) == i;
    sg_cache_release(c, e);
    return ok;
}

static void test_lru_bound(void **state) {
    (void)state;
    freed = 0;
    sg_cache *c = sg_cache_new(300);
    assert_int_equal(put(c, SG_CACHE_ENCODED, 1, 100), 0);
    assert_int_equal(put(c, SG_CACHE_ENCODED, 2, 100), 0);
    assert_int_equal(put(c, SG_CACHE_STYLE, 3, 100), 0);
    assert_true(has(c, 1)); /* 1 is now the most recent: 2 goes first */
    assert_int_equal(put(c, SG_CACHE_ENCODED, 4, 100), 0);
    assert_false(has(c, 2));
    assert_true(has(c, 1)), assert_true(has(c, 3)), assert_true(has(c, 4));
    assert_int_equal(freed, 1);
    assert_int_equal(put(c, SG_CACHE_ENCODED, 5, 250), 0); /* room for it alone */
    assert_true(has(c, 5));
    assert_false(has(c, 1) || has(c, 3) || has(c, 4));
    assert_int_equal(freed, 4);
    assert_int_equal(put(c, SG_CACHE_ENCODED, 6, 301), -1); /* larger than the cache */
    assert_int_equal(put(c, SG_CACHE_ENCODED, 5, 10), -1);  /* the key is there already */
    sg_cache_stats st[SG_CACHE_KINDS];
    size_t bytes;
    int n;
    sg_cache_stats_get(c, st, &bytes, &n);
    assert_int_equal(bytes, 250), assert_int_equal(n, 1);
    assert_int_equal(st[SG_CACHE_ENCODED].entries, 1);
    assert_int_equal(st[SG_CACHE_ENCODED].bytes, 250);
    assert_int_equal(st[SG_CACHE_ENCODED].evictions, 3); /* 2, 1, 4 */
    assert_int_equal(st[SG_CACHE_STYLE].evictions, 1);   /* 3 */
    /* the getter's kind counts (has() looks 3 up as encoded): hits 1, 1, 3, 4, 5; misses 2,
     * then 1, 3, 4 */
    assert_int_equal(st[SG_CACHE_ENCODED].hits, 5);
    assert_int_equal(st[SG_CACHE_ENCODED].misses, 4);
    sg_cache_free(c);
    assert_int_equal(freed, 5);
}

static void test_held_survives_eviction(void **state) {
    (void)state;
    freed = 0;
    sg_cache *c = sg_cache_new(100);
    uint8_t k[SG_CACHE_KEY];
    key_of(7, k);
    sg_cache_entry *mine = sg_cache_put(c, SG_CACHE_ENCODED, k, value(7), 100, free_value);
    assert_non_null(mine);
    assert_int_equal(put(c, SG_CACHE_ENCODED, 8, 100), 0); /* evicts 7, which is still held */
    assert_false(has(c, 7));
    assert_int_equal(freed, 0);
    assert_int_equal(*(const int *)sg_cache_value(mine), 7);
    sg_cache_release(c, mine);
    assert_int_equal(freed, 1);
    sg_cache_free(c);
    assert_int_equal(freed, 2);
}

static void test_off(void **state) {
    (void)state;
    sg_cache *c = sg_cache_new(0);
    assert_int_equal(put(c, SG_CACHE_ENCODED, 1, 1), -1);
    assert_false(has(c, 1));
    sg_cache_free(c);
    assert_false(has(NULL, 1)); /* no cache at all */
}

/* four threads storing, reading and releasing overlapping keys in a small cache: the counters
 * add up, the bound holds, every value is freed exactly once */
typedef struct {
    sg_cache *c;
    int seed;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    uint32_t x = (uint32_t)a->seed * 2654435761u + 1;
    for (int n = 0; n < 4000; n++) {
        x = x * 1664525u + 1013904223u;
        int i = (int)(x >> 24) % 40;
        uint8_t k[SG_CACHE_KEY];
        key_of(i, k);
        sg_cache_entry *e = sg_cache_get(a->c, SG_CACHE_ENCODED, k);
        if (e) {
            if (*(const int *)sg_cache_value(e) != i) abort();
            sg_cache_release(a->c, e);
        } else {
            int *v = value(i);
            e = sg_cache_put(a->c, SG_CACHE_ENCODED, k, v, 10 + (size_t)i, free_value);
            if (!e) free(v);
            else if (*(const int *)sg_cache_value(e) != i) abort();
            sg_cache_release(a->c, e);
        }
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    freed = 0;
    sg_cache *c = sg_cache_new(300);
    pthread_t t[4];
    worker_arg a[4];
    for (int i = 0; i < 4; i++)
        a[i] = (worker_arg){c, i}, pthread_create(&t[i], NULL, worker, &a[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    sg_cache_stats st[SG_CACHE_KINDS];
    size_t bytes;
    int n;
    sg_cache_stats_get(c, st, &bytes, &n);
    assert_int_equal(st[SG_CACHE_ENCODED].hits + st[SG_CACHE_ENCODED].misses, 4 * 4000);
    assert_true(bytes <= 300);
    int stored = (int)(st[SG_CACHE_ENCODED].evictions) + n;
    sg_cache_free(c);
    assert_int_equal(freed, stored);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_bound),
        cmocka_unit_test(test_held_survives_eviction),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_threads),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
