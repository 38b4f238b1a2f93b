/* stargan align: a photo aligned onto the CelebA-HQ framing (docs/networks.md "Face
 * alignment"), with landmarks from the FAN (--fan) or from the user's own detector (--landmarks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image_opts.h"

typedef struct {
    const char *src, *out, *mean, *fan, *landmarks;
    int size, quality;
    int64_t max_pixels;
} align_req;

static int check_align(const cli_opt *o, align_req *r) {
    r->src = cli_get(o, "--src"), r->out = cli_get(o, "--out"), r->mean = cli_get(o, "--mean");
    r->fan = cli_get(o, "--fan"), r->landmarks = cli_get(o, "--landmarks");
    char *end;
    long size = strtol(cli_get(o, "--size"), &end, 10);
    const char *need[] = {"--src", "--out", "--mean"};
    for (int i = 0; i < 3; i++)
        if (!cli_get(o, need[i])) {
            fprintf(stderr, "stargan align: %s is required\n", need[i]);
            return -1;
        }
    if (!r->fan == !r->landmarks) {
        fprintf(stderr, "stargan align: give exactly one of --fan F or --landmarks L.json\n");
        return -1;
    }
    if (*end || size < 4 || size > 4096 || size % 2) {
        fprintf(stderr, "stargan align: --size must be an even number in 4..4096\n");
        return -1;
    }
    r->size = (int)size;
    return cli_image_opts("align", o, &r->quality, &r->max_pixels);
}

/* lm [98·2] of the size² square from the FAN named by path */
static sg_status fan_landmarks(const char *path, const sg_image *sq, double *lm, sg_error *err) {
    sg_weights *w = NULL;
    sg_fan fan;
    sg_workspace ws = {0};
    sg_arena fa = {0};
    sg_status st = sg_model_open(path, &w, err);
    if (!st) st = sg_fan_init(&fan, w, err);
    if (!st) st = sg_arena_init(&fa, sg_face_landmarks_plan(&fan, sq->w), err);
    if (!st) st = sg_workspace_init(&ws, SG_WORKSPACE_DEFAULT_FLOATS, err);
    if (!st) st = sg_face_landmarks(&fan, sq, lm, &fa, &ws, err);
    sg_workspace_free(&ws);
    sg_arena_free(&fa);
    sg_weights_free(w);
    return st;
}

static sg_status run_align(const align_req *r, sg_error *err) {
    double mean[2 * SG_LANDMARKS], lm[2 * SG_LANDMARKS];
    sg_image photo = {0}, sq = {0}, out = {0};
    sg_arena a = {0};
    sg_status st = sg_mean_landmarks_load(r->mean, mean, err);
    if (!st && r->landmarks) st = sg_landmarks_load_json(r->landmarks, lm, err);
    if (!st) st = sg_image_load(r->src, r->max_pixels, 1, &photo, err);
    if (!st) st = sg_face_square(&photo, r->size, &sq, err);
    if (!st && r->landmarks) sg_landmarks_to_square(lm, photo.w, photo.h, r->size);
    if (!st && r->fan) st = fan_landmarks(r->fan, &sq, lm, err);
    if (!st) st = sg_arena_init(&a, sg_align_plan(r->size), err);
    if (!st) st = sg_face_align(&sq, lm, mean, &out, NULL, &a, err);
    if (!st) st = sg_image_save(&out, r->out, r->quality, err);
    if (!st) printf("wrote %s (%dx%d)\n", r->out, out.w, out.h);
    sg_arena_free(&a);
    sg_image_free(&photo), sg_image_free(&sq), sg_image_free(&out);
    return st;
}

int cmd_align(int argc, char **argv) {
    cli_opt o[] = {
        {"--src", "IMG", "photo with one face (PNG or JPEG)", NULL},
        {"--out", "OUT", "output .png, .jpg or .jpeg", NULL},
        {"--mean", "LM.npz", "mean face landmarks (the release's celeba_lm_mean.npz)", NULL},
        {"--fan", "F", "landmarks from this face network (wing.ckpt or fan.* tensors)", NULL},
        {"--landmarks", "L.json", "or: 98 [x, y] pairs in the photo's pixels", NULL},
        {"--size", "S", "output side (the model's img_size)", "256"},
        CLI_IMAGE_OPTS,
        {0},
    };
    const char *pos[1];
    int np;
    align_req r = {0};
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("align", NULL);
    if (cli_get(o, "--help")) {
        cli_usage("align",
                  "--src IMG --out OUT --mean LM.npz (--fan F | --landmarks L.json) [--size S]", o);
        return 0;
    }
    if (check_align(o, &r)) return cli_usage_error("align", NULL);
    sg_error err = {0};
    if (run_align(&r, &err)) return cli_fail(&err);
    return 0;
}
