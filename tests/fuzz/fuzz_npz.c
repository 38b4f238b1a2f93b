/* Fuzz target: the mean-landmarks reader over arbitrary bytes: as an .npz (zip, entry mean.npy;
 * a bare .npy is accepted too) and straight as an .npy. Any outcome but a crash, a leak or an
 * out-of-bounds read is fine; on success the 196 values must be finite. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../faces/faces.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    double mean[2 * SG_LANDMARKS];
    sg_error err;
    if (sg_npz_read_landmarks(data, size, "mean", "fuzz", mean, &err) == SG_OK)
        for (int i = 0; i < 2 * SG_LANDMARKS; i++)
            if (!isfinite(mean[i])) abort();
    if (sg_npy_read_landmarks(data, size, "fuzz", mean, &err) == SG_OK)
        for (int i = 0; i < 2 * SG_LANDMARKS; i++)
            if (!isfinite(mean[i])) abort();
    return 0;
}
