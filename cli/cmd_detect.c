/* stargan detect: the faces of a photo (docs/networks.md "The face detector"), as JSON on
 * stdout: {"width":W,"height":H,"faces":[{"box":[x,y,w,h],"score":s},...]} in the pixels of the
 * photo as displayed (EXIF orientation applied), by descending score. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static sg_status run_detect(const char *src, const char *detector, float min_score,
                            int64_t max_pixels, sg_error *err) {
    sg_face_detector d = {0};
    sg_arena a = {0};
    sg_workspace ws = {0};
    sg_image img = {0};
    sg_face_box faces[SG_DET_MAX_FACES];
    int n = 0;
    sg_status st = sg_face_detector_load(&d, detector, err);
    if (!st) st = sg_image_load(src, max_pixels, 1, &img, err);
    if (!st) st = sg_arena_init(&a, sg_detector_plan(&d.net), err);
    if (!st) st = sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, err);
    if (!st)
        st = sg_detect_faces(&d.net, &img, min_score, faces, SG_DET_MAX_FACES, &n, &a, &ws, err);
    if (!st) {
        char json[SG_DET_JSON_MAX];
        sg_faces_json(faces, n, img.w, img.h, json, sizeof json);
        printf("%s\n", json);
    }
    sg_image_free(&img);
    sg_workspace_free(&ws);
    sg_arena_free(&a);
    sg_face_detector_free(&d);
    return st;
}

int cmd_detect(int argc, char **argv) {
    cli_opt o[] = {
        {"--src", "IMG", "photo (PNG or JPEG)", NULL},
        {"--min-score", "S", "faces scoring above S, in [0, 1]", "0.5"},
        {"--detector", "D",
         "detector file (default: $STARGAN_DETECTOR, else " SG_DETECTOR_DEFAULT ")", NULL},
        {"--max-pixels", "N", "refuse photos with more pixels", "40000000"},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("detect", NULL);
    if (cli_get(o, "--help")) {
        cli_usage("detect", "--src IMG [--min-score S] [--detector D]", o);
        return 0;
    }
    if (!cli_get(o, "--src")) return cli_usage_error("detect", "--src is required");
    char *end;
    double s = strtod(cli_get(o, "--min-score"), &end);
    if (*end || !(s >= 0 && s <= 1))
        return cli_usage_error("detect", "--min-score must be in [0, 1]");
    long long max_pixels = strtoll(cli_get(o, "--max-pixels"), &end, 10);
    if (*end || max_pixels < 1) return cli_usage_error("detect", "--max-pixels must be positive");
    const char *det = sg_detector_path(cli_get(o, "--detector"));
    if (!det)
        return cli_usage_error("detect", "no face detector: give --detector D, set "
                                         "STARGAN_DETECTOR, or run scripts/get-detector.sh");
    sg_error err = {0};
    return run_detect(cli_get(o, "--src"), det, (float)s, max_pixels, &err) ? cli_fail(&err) : 0;
}
