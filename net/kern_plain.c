/* The kernels of kern_template.h built for plain (target flags set per file in CMakeLists.txt):
 * 4-float vectors, GEMM blocks of 4 rows × 3 vectors. */
#define SG_KNAME    plain
#define SG_KSTR     "plain"
#define SG_VL       4
#define SG_MR       4
#define SG_NV       3
#define SG_OWN_GEMM 0
#include "kern_template.h"
