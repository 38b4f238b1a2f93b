/* Run-time choice of the CPU-specific kernels: the best instruction set this CPU supports, once.
 * SG_CPU=plain|avx2|avx512 forces one (tests use it to cover every path; an unsupported choice
 * falls back to the best supported one with a warning). The binary itself targets plain x86-64. */
#include "net_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sg_kernels *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

int sg_cpu_supports(const char *name) {
    __builtin_cpu_init();
    if (!strcmp(name, "plain")) return 1;
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
    return 0;
}

static const sg_kernels *by_name(const char *name) {
    if (!strcmp(name, "avx512")) return &sg__kernels_avx512;
    if (!strcmp(name, "avx2")) return &sg__kernels_avx2;
    if (!strcmp(name, "plain")) return &sg__kernels_plain;
    return NULL;
}

static const sg_kernels *best(void) {
    static const char *order[] = {"avx512", "avx2", "plain"};
    for (int i = 0; i < 3; i++)
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
