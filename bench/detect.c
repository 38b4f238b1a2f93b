/* bench/detect: the face detector's whole detect stage (sg_detect_faces: the photo padded and
 * resized to 512², the network, decoding, NMS, boxes), the same scope as face-api.js's
 * locateFaces that tests/tools/detect_ref/bench.mjs times, on a decoded photo (decoding untimed),
 * plus the network alone on a 512² input. Prints one line of JSON: median and min ms over N runs
 * after W warm-up runs, for net/'s pool (SG_THREADS sets its size) and for one thread.
 * --profile: then the network's op families over --runs more runs on the pool (sg_profile).
 * usage: bench_detect DETECTOR IMG [--runs N] [--warmup W] [--profile] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "bench_util.h"

typedef struct {
    sg_face_detector d;
    sg_arena a;
    sg_workspace ws;
    sg_image img;
} bench;

/* one run: the whole detect stage (net = 0) or the network alone */
static double run(bench *b, int net, float *x, float *enc, float *score) {
    sg_error err = {0};
    sg_face_box faces[SG_DET_MAX_FACES];
    int n;
    double t0 = sg_now_ms();
    sg_status st;
    if (net) {
        sg_tensor t = sg_tensor_make(x, 1, 3, SG_DET_INPUT, SG_DET_INPUT);
        st = sg_detector_forward(&b->d.net, &t, enc, score, &b->a, &b->ws, &err);
    } else {
        st = sg_detect_faces(&b->d.net, &b->img, 0.5f, faces, SG_DET_MAX_FACES, &n, &b->a, &b->ws,
                             &err);
    }
    if (st) fprintf(stderr, "bench_detect: %s\n", err.msg), exit(1);
    return sg_now_ms() - t0;
}

static void stats(double *v, int n, double *med, double *min) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, *min = v[0];
}

int main(int argc, char **argv) {
    int runs = 20, warmup = 3, profile = 0;
    const char *pos[2];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (np < 2) pos[np++] = argv[i];
    }
    if (np != 2 || runs < 1 || warmup < 0) {
        fprintf(stderr, "usage: bench_detect DETECTOR IMG [--runs N] [--warmup W] [--profile]\n");
        return 2;
    }
    bench b = {0};
    sg_error err = {0};
    if (sg_face_detector_load(&b.d, pos[0], &err) ||
        sg_arena_init(&b.a, sg_detector_plan(&b.d.net), &err) ||
        sg_workspace_init(&b.ws, SG_WORKSPACE_DEFAULT_FLOATS, &err) ||
        sg_image_load(pos[1], 100000000, 1, &b.img, &err)) {
        fprintf(stderr, "bench_detect: %s\n", err.msg);
        return 1;
    }
    float *x = malloc(3 * SG_DET_INPUT * SG_DET_INPUT * sizeof *x);
    float *enc = malloc(4 * SG_DET_ANCHORS * sizeof *enc), *score = malloc(SG_DET_ANCHORS * 4);
    sg_tensor t = sg_tensor_make(x, 1, 3, SG_DET_INPUT, SG_DET_INPUT);
    sg_image_to_tensor_tf(&b.img, &t, &err);
    double *v = malloc((size_t)runs * 4 * sizeof *v), med[4], min[4];
    /* modes: detect on the pool, network on the pool, detect on one thread, network on one */
    for (int m = 0; m < 4; m++) {
        if (m == 2) sg_net_user_enter(), sg_net_user_enter(); /* two users: ops stay serial */
        for (int i = 0; i < warmup; i++) run(&b, m % 2, x, enc, score);
        for (int i = 0; i < runs; i++) v[m * runs + i] = run(&b, m % 2, x, enc, score);
        stats(v + m * runs, runs, &med[m], &min[m]);
    }
    sg_net_user_leave(), sg_net_user_leave();
    printf("{\"image\":\"%dx%d\",\"cpu\":\"%s\",\"runs\":%d,"
           "\"detect_ms\":[%.1f,%.1f],\"net_ms\":[%.1f,%.1f],"
           "\"detect_1thread_ms\":[%.1f,%.1f],\"net_1thread_ms\":[%.1f,%.1f]}\n",
           b.img.w, b.img.h, sg_cpu_path(), runs, med[0], min[0], med[1], min[1], med[2], min[2],
           med[3], min[3]);
    if (profile) {
        sg_profile_reset();
        sg_profile_enable(1);
        for (int i = 0; i < runs; i++) run(&b, 1, x, enc, score);
        sg_profile_enable(0);
        sg_profile_print(stderr, 0);
    }
    free(x), free(enc), free(score), free(v);
    sg_image_free(&b.img);
    sg_workspace_free(&b.ws);
    sg_arena_free(&b.a);
    sg_face_detector_free(&b.d);
    return 0;
}
