/* Per-op-family time accounting (sg_profile_* in net.h). Off by default: one branch per op. When
 * on, each op family adds its wall time and nominal FLOPs; not thread-safe by design (profiling
 * runs one request at a time). */
#include "net_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int enabled;
static double ms[SG_PROF_N], flops[SG_PROF_N];
static long calls[SG_PROF_N];
static const char *names[SG_PROF_N] = {"conv3x3 winograd (total)",
                                       "  winograd weight transform",
                                       "  winograd input transform",
                                       "  winograd GEMMs",
                                       "  winograd output transform",
                                       "conv tap-shifted GEMM",
                                       "conv im2col+GEMM",
                                       "conv 1x1 (GEMM)",
                                       "conv direct loops",
                                       "conv up2 (phase GEMMs)",
                                       "conv depthwise",
                                       "norms (IN/AdaIN/BN)",
                                       "elementwise",
                                       "resample/pool/concat",
                                       "linear"};

void sg_profile_enable(int on) { enabled = on; }
void sg_profile_reset(void) {
    memset(ms, 0, sizeof ms), memset(flops, 0, sizeof flops), memset(calls, 0, sizeof calls);
}

double sg__prof_now(void) {
    if (!enabled) return 0.0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void sg__prof_add(int family, double t0, double nominal_flops) {
    if (!enabled) return;
    ms[family] += sg__prof_now() - t0;
    flops[family] += nominal_flops;
    calls[family]++;
}

void sg_profile_print(FILE *f, double peak_gflops) {
    fprintf(f, "%-30s %6s %10s %9s %8s\n", "op family", "calls", "ms", "GFLOP/s", "%peak");
    for (int i = 0; i < SG_PROF_N; i++) {
        if (!calls[i]) continue;
        double g = ms[i] > 0 ? flops[i] / (ms[i] * 1e6) : 0;
        if (flops[i] > 0)
            fprintf(f, "%-30s %6ld %10.2f %9.1f %7.0f%%\n", names[i], calls[i], ms[i], g,
                    peak_gflops > 0 ? 100 * g / peak_gflops : 0);
        else fprintf(f, "%-30s %6ld %10.2f\n", names[i], calls[i], ms[i]);
    }
}
