/* The kernels of kern_template.h built for aarch64 Advanced SIMD (NEON, with fused multiply-add;
 * flags set per file in CMakeLists.txt): 4-float vectors, GEMM blocks of 8 rows × 3 vectors (24
 * accumulators of the 32 vector registers). The GEMM itself stays OpenBLAS's (own_gemm 0): no
 * arm64 machine was at hand to measure which is faster (bench/README.md). */
#define SG_KNAME    neon
#define SG_KSTR     "neon"
#define SG_VL       4
#define SG_MR       8
#define SG_NV       3
#define SG_OWN_GEMM 0
#include "kern_template.h"
