/* The face detector as processes load it: one per process, whatever the models. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

static const char *explicit_or_none(const char *p) { return strcmp(p, "none") ? p : NULL; }

const char *sg_detector_path(const char *given) {
    if (given && given[0]) return explicit_or_none(given);
    const char *env = getenv(SG_DETECTOR_ENV);
    if (env && env[0]) return explicit_or_none(env);
    return access(SG_DETECTOR_DEFAULT, R_OK) == 0 ? SG_DETECTOR_DEFAULT : NULL;
}

sg_status sg_face_detector_load(sg_face_detector *d, const char *path, sg_error *err) {
    memset(d, 0, sizeof *d);
    sg_status st = sg_model_load(path, &d->w, NULL, err);
    if (!st) st = sg_detector_init(&d->net, d->w, err);
    if (st) sg_face_detector_free(d);
    return st;
}

void sg_face_detector_free(sg_face_detector *d) {
    sg_detector_free(&d->net);
    sg_weights_free(d->w);
    d->w = NULL;
}
