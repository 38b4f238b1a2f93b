/* Run-time choice of the CPU-specific kernels: the best instruction set this CPU supports, once.
 * x86-64: avx512, avx2 or plain (SSE2); aarch64: neon (Advanced SIMD, with FMA) or plain (the
 * template built without contraction). SG_CPU=<name> forces one (tests use it to cover every
 * path; an unsupported choice falls back to the best supported one with a warning). The binary
 * itself targets the architecture's baseline (x86-64, armv8-a). */
#include "net_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#endif

static const sg_kernels *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static const char *const order[] = {"avx512", "avx2", "plain"};
#elif defined(__aarch64__)
static const char *const order[] = {"neon", "plain"};
#else
#error "net/: no kernels for this architecture (x86-64 and aarch64 are built)"
#endif
#define NORDER (int)(sizeof order / sizeof order[0])

int sg_cpu_supports(const char *name) {
    if (!strcmp(name, "plain")) return 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#elif defined(__aarch64__)
    if (!strcmp(name, "neon")) return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#endif
    return 0;
}

static const sg_kernels *by_name(const char *name) {
    if (!strcmp(name, "plain")) return &sg__kernels_plain;
#if defined(__x86_64__)
    if (!strcmp(name, "avx512")) return &sg__kernels_avx512;
    if (!strcmp(name, "avx2")) return &sg__kernels_avx2;
#elif defined(__aarch64__)
    if (!strcmp(name, "neon")) return &sg__kernels_neon;
#endif
    return NULL;
}

int sg__kernels_index(const sg_kernels *k) {
    for (int i = 0; i < NORDER; i++)
        if (by_name(order[i]) == k) return NORDER - 1 - i;
    return 0;
}

static const sg_kernels *best(void) {
    for (int i = 0; i < NORDER; i++)
        if (sg_cpu_supports(order[i])) return by_name(order[i]);
    return &sg__kernels_plain;
}

static void choose(void) {
    const char *want = getenv("SG_CPU");
    chosen = best();
    if (want && *want) {
        if (by_name(want) && sg_cpu_supports(want)) chosen = by_name(want);
        else fprintf(stderr, "SG_CPU=%s is not supported here; using %s\n", want, chosen->name);
    }
}

const sg_kernels *sg__kernels(void) {
    pthread_once(&once, choose);
    return chosen;
}

const char *sg_cpu_path(void) { return sg__kernels()->name; }

int sg_cpu_force(const char *name) {
    pthread_once(&once, choose);
    if (!name) {
        chosen = best();
        return 0;
    }
    if (!by_name(name) || !sg_cpu_supports(name)) return -1;
    chosen = by_name(name);
    return 0;
}
