/* The kernels of kern_template.h built for avx512 (target flags set per file in CMakeLists.txt):
 * 16-float vectors, GEMM blocks of 8 rows × 2 vectors. */
#define SG_KNAME    avx512
#define SG_KSTR     "avx512"
#define SG_VL       16
#define SG_MR       8
#define SG_NV       2
#define SG_OWN_GEMM 1
#include "kern_template.h"
