/* stargan translate: photos to one domain, with a reference photo's style or a seeded one. One
 * photo (--src, --out), or a batch (--src-dir and/or several --src, --out-dir): each file in
 * turn with the same style, a progress bar, a summary; a file that fails is reported and skipped,
 * and the exit status says whether any did. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image_opts.h"
#include "models.h"
#include "photo_dirs.h"
#include "progress.h"

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || !*s || *end || s[0] == '-') return -1;
    *v = x;
    return 0;
}

static int parse_psi(const char *s, float *psi) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= 0.0 && v <= 1.0)) return -1;
    *psi = (float)v;
    return 0;
}

/* What the options ask for, checked before anything heavy runs. */
typedef struct {
    const char *model, *src, *domain, *ref, *out, *fan, *mean, *src_dir, *out_dir;
    cli_list srcs;          /* every --src, in order, then --src-dir's photos */
    int batch;              /* --out-dir: outputs named after the sources */
    sg_image_format format; /* of a batch's outputs */
    uint64_t seed;
    float psi;
    sg_fit fit;
    int quality;
    int64_t max_pixels;
    sg_precision precision;
    sg_region_ask region; /* --crop, --face */
    int paste;            /* --paste */
    const char *detector; /* --face: the detector's file */
} request;

/* --crop, --face, --paste, --detector: the region of each photo, as the server's fields */
static int check_region(const cli_opt *o, request *r) {
    const char *crop = cli_get(o, "--crop"), *face = cli_get(o, "--face");
    r->paste = cli_get(o, "--paste") != NULL;
    if (crop && face) {
        fprintf(stderr, "stargan translate: give --crop or --face, not both\n");
        return -1;
    }
    if (crop && sg_rect_parse(crop, &r->region.crop)) {
        fprintf(stderr, "stargan translate: --crop must be four integers x,y,w,h (w, h >= 1)\n");
        return -1;
    }
    if (crop) r->region.mode = SG_REGION_CROP;
    if (face && sg_face_select_parse(face, &r->region.face)) {
        fprintf(stderr, "stargan translate: --face must be auto, all or a face index 0..99\n");
        return -1;
    }
    if (face) r->region.mode = SG_REGION_FACE;
    if (face && r->region.face == SG_FACE_ALL && !r->paste) {
        fprintf(stderr, "stargan translate: --face all translates every face into one photo: "
                        "give --paste\n");
        return -1;
    }
    if (r->paste && !r->region.mode && r->fit == SG_FIT_ALIGN) {
        fprintf(stderr, "stargan translate: --paste with --fit align needs --face or --crop\n");
        return -1;
    }
    r->detector = face ? sg_detector_path(cli_get(o, "--detector")) : NULL;
    if (face && !r->detector) {
        fprintf(stderr, "stargan translate: --face needs the face detector: give --detector D, "
                        "set STARGAN_DETECTOR, or run scripts/get-detector.sh\n");
        return -1;
    }
    return 0;
}

static int check_request(const cli_opt *o, request *r) {
    r->model = cli_get(o, "--model"), r->src = cli_get(o, "--src");
    r->domain = cli_get(o, "--domain"), r->ref = cli_get(o, "--ref"), r->out = cli_get(o, "--out");
    r->fan = cli_get(o, "--fan"), r->mean = cli_get(o, "--mean");
    r->src_dir = cli_get(o, "--src-dir"), r->out_dir = cli_get(o, "--out-dir");
    const char *seed = cli_get(o, "--seed"), *fit = cli_get(o, "--fit");
    r->batch = r->out_dir != NULL;
    const char *need[] = {"--model", "--domain"};
    for (int i = 0; i < 2; i++)
        if (!cli_get(o, need[i])) {
            fprintf(stderr, "stargan translate: %s is required\n", need[i]);
            return -1;
        }
    if (!r->src && !r->src_dir) {
        fprintf(stderr, "stargan translate: --src (or --src-dir) is required\n");
        return -1;
    }
    if (!r->out && !r->out_dir) {
        fprintf(stderr, "stargan translate: --out (or --out-dir) is required\n");
        return -1;
    }
    if (r->out && r->out_dir) {
        fprintf(stderr, "stargan translate: give --out (one photo) or --out-dir (a batch)\n");
        return -1;
    }
    if (!r->batch && (r->src_dir || r->srcs.n > 1)) {
        fprintf(stderr, "stargan translate: several photos need --out-dir\n");
        return -1;
    }
    const char *fmt = cli_get(o, "--format");
    if (sg_image_format_parse(fmt, &r->format)) {
        fprintf(stderr, "stargan translate: --format must be png or jpg\n");
        return -1;
    }
    if (sg_precision_parse(cli_get(o, "--precision"), &r->precision)) {
        fprintf(stderr, "stargan translate: --precision must be fp32 or bf16\n");
        return -1;
    }
    if (!r->ref == !seed) {
        fprintf(stderr, "stargan translate: give exactly one of --ref IMG or --seed N\n");
        return -1;
    }
    if (seed && parse_u64(seed, &r->seed)) {
        fprintf(stderr, "stargan translate: --seed must be a non-negative integer\n");
        return -1;
    }
    if (parse_psi(cli_get(o, "--psi"), &r->psi)) {
        fprintf(stderr, "stargan translate: --psi must be a number in [0, 1]\n");
        return -1;
    }
    if (r->ref && strcmp(cli_get(o, "--psi"), "1") != 0) {
        fprintf(stderr, "stargan translate: --psi applies to --seed only\n");
        return -1;
    }
    if (sg_fit_parse(fit, &r->fit)) {
        fprintf(stderr, "stargan translate: --fit must be crop, stretch or align\n");
        return -1;
    }
    if (r->fit == SG_FIT_ALIGN && !r->mean) {
        fprintf(stderr, "stargan translate: --fit align needs --mean celeba_lm_mean.npz\n");
        return -1;
    }
    if (check_region(o, r)) return -1;
    return cli_image_opts("translate", o, &r->quality, &r->max_pixels);
}

/* "dir/<name without its extension>.png|jpg" */
static char *batch_out(const request *r, const char *src) {
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) n = (size_t)(dot - base);
    char name[1024];
    snprintf(name, sizeof name, "%.*s.%s", (int)(n < 1000 ? n : 1000), base,
             r->format == SG_FORMAT_JPEG ? "jpg" : "png");
    return cli_join(r->out_dir, name);
}

/* Every output path, checked for clashes (cat.jpg and cat.png) before any work. */
static sg_status plan_outputs(const request *r, cli_list *outs, sg_error *err) {
    sg_status st = SG_OK;
    for (int i = 0; !st && i < r->srcs.n; i++) {
        char *p = batch_out(r, r->srcs.items[i]);
        st = p ? cli_list_add(outs, p, err) : sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        free(p);
        for (int j = 0; !st && j < i; j++)
            if (!strcmp(outs->items[j], outs->items[i]))
                st = sg_error_set(err, SG_ERR_ARG, "%s and %s would both be written to %s",
                                  r->srcs.items[j], r->srcs.items[i], outs->items[i]);
    }
    return st;
}

/* One photo to its output with style s (its region with --crop/--face; pasted with --paste). */
static sg_status one(const request *r, sg_engine *e, const sg_face_detector *d, sg_run *run,
                     const float *s, const char *src, const char *out, sg_error *err) {
    sg_image img = {0}, res = {0}, canvas = {0};
    sg_rect sq[SG_DET_MAX_FACES];
    int n = 0;
    sg_status st = sg_image_load(src, r->max_pixels, 1, &img, err);
    if (!st && !r->region.mode && !r->paste)
        st = sg_engine_translate(e, run, &img, r->fit, s, &res, NULL, err);
    else if (!st)
        st = sg_engine_translate_regions(e, d, run, &img, &r->region, r->fit, s, &res,
                                         r->paste ? &canvas : NULL, sq, SG_DET_MAX_FACES, &n, NULL,
                                         NULL, err);
    if (!st) st = sg_image_save(r->paste ? &canvas : &res, out, r->quality, err);
    sg_image_free(&img), sg_image_free(&res), sg_image_free(&canvas);
    return st;
}

/* Returns the status of the run; *failed counts the batch's photos that failed. */
static sg_status run(request *r, int *failed, sg_error *err) {
    sg_engine e;
    sg_run run;
    sg_image ref = {0};
    cli_list outs = {0};
    sg_face_detector det = {0};
    *failed = 0;
    sg_status st = r->detector ? sg_face_detector_load(&det, r->detector, err) : SG_OK;
    if (!st) st = sg_engine_open(&e, r->model, r->fan, err);
    if (st) {
        sg_face_detector_free(&det);
        return st;
    }
    if ((r->mean && (st = sg_engine_set_mean_landmarks(&e, r->mean, err))) ||
        (r->precision != SG_PRECISION_FP32 &&
         (st = sg_engine_set_precision(&e, r->precision, err))) || /* one request: fp32 keeps
                                                                     * nothing */
        (st = sg_run_init(&run, &e, err)) ||
        (r->detector && (st = sg_run_reserve(&run, sg_detector_plan(&det.net), err)))) {
        sg_engine_free(&e);
        sg_face_detector_free(&det);
        return st;
    }
    const sg_face_detector *d = r->detector ? &det : NULL;
    float *s = calloc((size_t)e.cfg.style_dim, sizeof(float));
    int y = -1;
    if (!s) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    else st = cli_domain(&e.cfg, r->domain, NULL, &y, err);
    if (!st && r->src_dir) st = cli_list_dir(r->src_dir, &r->srcs, NULL, err);
    if (!st && r->batch && r->srcs.n == 0)
        st = sg_error_set(err, SG_ERR_ARG, "%s: no photos (.png, .jpg, .jpeg)", r->src_dir);
    if (!st && r->batch) st = plan_outputs(r, &outs, err);
    if (!st && r->batch) st = cli_mkdirs(r->out_dir, err);
    if (!st && r->ref) st = sg_image_load(r->ref, r->max_pixels, 1, &ref, err);
    if (!st && r->ref) st = sg_engine_style_ref(&e, &run, &ref, r->fit, y, s, err);
    if (!st && !r->ref) st = sg_engine_style_latent(&e, r->seed, y, r->psi, s, err);
    if (!st && !r->batch) st = one(r, &e, d, &run, s, r->srcs.items[0], r->out, err);
    if (!st && r->batch) {
        cli_progress p;
        double t0 = sg_now_ms();
        cli_progress_start(&p, r->srcs.n);
        for (int i = 0; i < r->srcs.n; i++) {
            const char *src = r->srcs.items[i], *base = strrchr(src, '/');
            cli_progress_step(&p, 0, base ? base + 1 : src);
            sg_error e1 = {0};
            if (one(r, &e, d, &run, s, src, outs.items[i], &e1)) {
                (*failed)++;
                const char *msg = e1.msg[0] ? e1.msg : sg_status_name(e1.status);
                int named = !strncmp(msg, src, strlen(src)); /* decode errors name the file */
                cli_progress_note(&p, "stargan translate: %s%s%s (skipped)", named ? "" : src,
                                  named ? "" : ": ", msg);
            }
            cli_progress_step(&p, 1, NULL);
        }
        cli_progress_end(&p);
        fprintf(stderr,
                "stargan translate: %d of %d photo%s translated into %s in %.1f s, %d failed\n",
                r->srcs.n - *failed, r->srcs.n, r->srcs.n == 1 ? "" : "s", r->out_dir,
                (sg_now_ms() - t0) / 1000.0, *failed);
    }
    sg_image_free(&ref);
    cli_list_free(&outs);
    free(s);
    sg_run_free(&run);
    sg_engine_free(&e);
    sg_face_detector_free(&det);
    return st;
}

int cmd_translate(int argc, char **argv) {
    cli_opt o[] = {
        {"--model", "M", "model file (.safetensors) or release checkpoint (.ckpt)", NULL},
        {"--src", "IMG", "photo to translate (PNG or JPEG)", NULL},
        {"--domain", "NAME|INDEX", "target domain", NULL},
        {"--ref", "IMG", "reference photo of the target domain (its style)", NULL},
        {"--seed", "N", "latent-guided: seed of the portable latent sampler", NULL},
        {"--psi", "P", "truncation towards the domain's mean style, in [0, 1]", "1"},
        {"--out", "OUT", "output .png, .jpg or .jpeg", NULL},
        {"--src-dir", "D", "batch: every photo in D (.png, .jpg, .jpeg)", NULL},
        {"--out-dir", "O", "batch: outputs O/<source name>.png|jpg (created)", NULL},
        {"--format", "FMT", "batch: png or jpg", "png"},
        {"--fit", "MODE", "crop (centre), stretch, or align (the face; needs --mean)", "crop"},
        {"--fan", "F", "face network (wing.ckpt or a model file with fan.* tensors)", NULL},
        {"--mean", "LM.npz", "mean face landmarks for --fit align (celeba_lm_mean.npz)", NULL},
        {"--precision", "P", "fp32 (exact) or bf16 (bf16 products: AVX512-BF16, Arm BF16)", "fp32"},
        {"--crop", "X,Y,W,H", "translate this region of the photo (made square around it)", NULL},
        {"--face", "auto|N|all",
         "translate a detected face: the best, the N-th (as stargan detect lists them), or all "
         "(with --paste)",
         NULL},
        {"--paste", NULL, "write the whole photo with the translated region put back", NULL},
        {"--detector", "D",
         "face detector for --face (default: $STARGAN_DETECTOR, else " SG_DETECTOR_DEFAULT ")",
         NULL},
        CLI_IMAGE_OPTS,
        {0},
    };
    const char *pos[1];
    int np, failed = 0;
    request r = {0};
    sg_error err = {0};
    /* --src may repeat: cli_parse keeps the last, the batch takes them all */
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--src") && cli_list_add(&r.srcs, argv[++i], &err))
            return cli_fail(&err);
    int bad = cli_parse(argc, argv, o, pos, 0, &np);
    if (!bad && cli_get(o, "--help")) {
        cli_usage(
            "translate",
            "--model M (--src IMG --out OUT | --src-dir D|--src IMG... --out-dir O) --domain D "
            "(--ref IMG | --seed N [--psi P]) [--fit crop|stretch|align] [--fan F] "
            "[--mean LM.npz] [--precision fp32|bf16] [--crop X,Y,W,H | --face auto|N|all] "
            "[--paste] [--detector D]",
            o);
        cli_list_free(&r.srcs);
        return 0;
    }
    if (bad || check_request(o, &r)) {
        cli_list_free(&r.srcs);
        return cli_usage_error("translate", NULL);
    }
    sg_status st = run(&r, &failed, &err);
    cli_list_free(&r.srcs);
    if (st) return cli_fail(&err);
    return failed ? 1 : 0;
}
