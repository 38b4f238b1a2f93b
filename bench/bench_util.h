/* The small helpers the bench programs share: a monotonic clock, an order for qsort on doubles
 * (medians), and deterministic pseudo-random inputs. Header-only: each bench is one file. */
#ifndef SG_BENCH_UTIL_H
#define SG_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* qsort order of doubles, ascending */
static inline int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n floats in [-0.5, 0.5) from an LCG seeded by seed (malloc'd; NULL when out of memory) */
static inline float *bench_rnd(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n && p; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    return p;
}

#endif
