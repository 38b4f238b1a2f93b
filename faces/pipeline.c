/* The face steps chained for callers (engine, CLI): photo → square → landmarks → aligned photo. */
#include <string.h>

#include "faces.h"

size_t sg_face_landmarks_plan(const sg_fan *f, int side) {
    /* the photo as a tensor [1, 3, S, S] and the heatmaps [1, 99, 64, 64] under the FAN's plan */
    return sg_arena_floats(3 * (size_t)side * side) +
           sg_arena_floats((size_t)SG_FAN_OUT * SG_FAN_HM * SG_FAN_HM) + sg_fan_plan(f);
}

sg_status sg_face_landmarks(const sg_fan *f, const sg_image *img, double *lm, sg_arena *a,
                            sg_workspace *ws, sg_error *err) {
    const int S = img->w;
    if (img->w != img->h || S < 1)
        return sg_error_set(err, SG_ERR_ARG, "landmarks: the photo must be square (got %dx%d)",
                            img->w, img->h);
    const size_t mark = sg_arena_mark(a);
    sg_tensor x = sg_arena_tensor(a, 1, 3, S, S);                           /* [1, 3, S, S] */
    sg_tensor hm = sg_arena_tensor(a, 1, SG_FAN_OUT, SG_FAN_HM, SG_FAN_HM); /* [1, 99, 64, 64] */
    sg_status st = SG_OK;
    if (!x.data || !hm.data) st = sg_error_set(err, SG_ERR_NOMEM, "activation plan too small");
    if (!st) st = sg_image_to_tensor(img, SG_FIT_STRETCH, S, &x, 0, err);
    if (!st) st = sg_fan_forward(f, &x, &hm, a, ws, err);
    if (!st) st = sg_landmarks_from_heatmaps(&hm, S, lm, err);
    sg_arena_reset(a, mark);
    return st;
}

sg_status sg_face_square(const sg_image *photo, int side, sg_image *out, sg_error *err) {
    return sg_image_resize(photo, 0, 0, photo->w, photo->h, side, side, out, err);
}

void sg_landmarks_to_square(double *lm, int w, int h, int side) {
    for (int i = 0; i < SG_LANDMARKS; i++) {
        lm[2 * i] *= (double)side / w;
        lm[2 * i + 1] *= (double)side / h;
    }
}
