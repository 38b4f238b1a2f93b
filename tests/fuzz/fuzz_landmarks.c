/* Fuzz target: the user-landmarks JSON parser (98 [x, y] pairs) over arbitrary bytes, then the
 * alignment transform from whatever parsed (degenerate sets must be errors, never NaN maps). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../faces/faces.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    double lm[2 * SG_LANDMARKS], mat[9];
    sg_error err;
    if (sg_landmarks_parse_json((const char *)data, size, "fuzz", lm, &err) != SG_OK) return 0;
    for (int i = 0; i < 2 * SG_LANDMARKS; i++)
        if (!isfinite(lm[i])) abort();
    double ref[2 * SG_LANDMARKS]; /* the set onto itself shifted: any valid set must map */
    for (int i = 0; i < 2 * SG_LANDMARKS; i++) ref[i] = lm[i] + 1;
    if (sg_align_matrix(lm, ref, mat, &err) == SG_OK)
        for (int i = 0; i < 9; i++)
            if (!isfinite(mat[i])) abort();
    return 0;
}
