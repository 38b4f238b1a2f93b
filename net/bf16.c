/* bf16 precision: its names and which CPUs run it (net.h "precision"). The products are in
 * kern_bf16.c and kern_wino2_bf16.c; winograd.c and gemm.c call them when the calling thread has
 * a bf16 set of packed weights in use (packed.c). */
#include <string.h>

#include "net_internal.h"

const char *sg_precision_name(sg_precision p) { return p == SG_PRECISION_BF16 ? "bf16" : "fp32"; }

int sg_precision_parse(const char *s, sg_precision *p) {
    if (s && !strcmp(s, "fp32")) *p = SG_PRECISION_FP32;
    else if (s && !strcmp(s, "bf16")) *p = SG_PRECISION_BF16;
    else return -1;
    return 0;
}

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1UL << 14)
#endif

const char *sg_bf16_unsupported(void) {
    if (!(getauxval(AT_HWCAP2) & HWCAP2_BF16))
        return "this CPU has no BF16 instructions (BFDOT, Armv8.6): bf16 needs the bf16 feature "
               "(AWS Graviton 3 and later, Apple M2 and later); use --precision fp32";
    if (strcmp(sg_cpu_path(), "neon") != 0)
        return "bf16 runs on the neon kernel path, and SG_CPU selects another one";
    return NULL;
}

const char *sg_bf16_path(void) { return sg_bf16_unsupported() ? "none" : "neon_bf16"; }
#else
const char *sg_bf16_unsupported(void) {
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
          sg_cpu_supports("avx512")))
        return "this CPU has no AVX512-BF16 (VDPBF16PS): bf16 needs avx512_bf16 (AMD Zen 4 and "
               "later, Intel Cooper Lake / Sapphire Rapids and later); use --precision fp32";
    if (strcmp(sg_cpu_path(), "avx512") != 0)
        return "bf16 runs on the avx512 kernel path, and SG_CPU selects another one";
    return NULL;
}

const char *sg_bf16_path(void) { return sg_bf16_unsupported() ? "none" : "avx512_bf16"; }
#endif
