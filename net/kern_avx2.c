/* The kernels of kern_template.h built for avx2 (target flags set per file in CMakeLists.txt):
 * 8-float vectors, GEMM blocks of 4 rows × 3 vectors. */
#define SG_KNAME    avx2
#define SG_KSTR     "avx2"
#define SG_VL       8
#define SG_MR       4
#define SG_NV       3
#define SG_OWN_GEMM 0
#include "kern_template.h"
