/* bench/encode: one photo into K styles (a grid row, a video's frames, a sample grid) two ways,
 * alternated within each rep (the order swapping every rep), median of the reps:
 *   translate: K sg_engine_translate calls (fit, [FAN masks,] encoder and decoder, K times);
 *   encode+decode: one sg_engine_encode and K sg_engine_decode calls;
 *   encode+styles: one sg_engine_encode and sg_engine_decode_styles on up to
 *                  SG_ENGINE_MAX_STYLES styles at a time (the decoder's head batched);
 * every picture of the three compared byte for byte (a mismatch exits 1). With --batch B it also
 * times the generator's decoder on a batch of B copies of the encoded state with B styles against
 * B single decodes, and says whether their floats are bitwise equal (engine/ does not batch: see
 * bench/README.md "Encoder once per photo").
 *
 * usage: bench_encode [--model M.safetensors | --config afhq|celeba_hq] [--src IMG] [--styles K]
 *                     [--reps N] [--fit crop|stretch|align --mean LM.npz] [--precision fp32|bf16]
 *                     [--batch B]
 * Without --model the configuration's spec-v1 weights are built in memory (AFHQ: 256², w_hpf 0;
 * the default); without --src the photo is a 320×256 LCG pattern. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "bench_util.h"

static const char *fit_names[] = {"crop", "stretch", "align"}; /* sg_fit's order */

#define MAX_STYLES 64
#define MAX_REPS   50

typedef struct {
    const char *model, *config, *src, *mean;
    int styles, reps, batch;
    sg_fit fit;
    sg_precision prec;
} options;

static int die(const char *what, const sg_error *err) {
    fprintf(stderr, "bench_encode: %s: %s\n", what, err->msg);
    return 1;
}

/* The engine of the model file, or of the named configuration's spec-v1 weights */
static sg_status open_engine(sg_engine *e, const options *o, sg_error *err) {
    if (o->model) return sg_engine_open(e, o->model, NULL, err);
    sg_config cfg = {.img_size = 256, .style_dim = 64, .latent_dim = 16, .max_conv_dim = 512};
    const int celeba = !strcmp(o->config, "celeba_hq");
    if (!celeba && strcmp(o->config, "afhq"))
        return sg_error_set(err, SG_ERR_ARG, "--config must be afhq or celeba_hq");
    cfg.num_domains = celeba ? 2 : 3, cfg.w_hpf = celeba, cfg.has_fan = celeba;
    sg_weights *w;
    sg_status st = sg_config_set_domains(&cfg, NULL, err);
    if (!st) st = sg_spec_v1_open(&w, err);
    if (!st) st = sg_engine_init(e, w, &cfg, err);
    return st;
}

static sg_image lcg_photo(int w, int h) {
    sg_image img = {malloc((size_t)w * h * 3), w, h};
    unsigned s = 12345;
    for (size_t i = 0; img.pixels && i < (size_t)w * h * 3; i++) {
        s = s * 1664525u + 1013904223u;
        img.pixels[i] = (uint8_t)((s >> 24) / 2 + (i / 3 % (size_t)w) / 4); /* noise on a ramp */
    }
    return img;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* K translates into out[0..K) (freed first); its time */
static double run_translate(const sg_engine *e, sg_run *r, const sg_image *src, const options *o,
                            const float *s, sg_image *out, sg_error *err) {
    const double t0 = bench_now_ms();
    for (int k = 0; k < o->styles; k++) {
        sg_image_free(&out[k]);
        if (sg_engine_translate(e, r, src, o->fit, s + (size_t)k * e->cfg.style_dim, &out[k], NULL,
                                err))
            return -1;
    }
    return bench_now_ms() - t0;
}

/* one encode and K decodes into out[0..K); its time, the encode's in *enc_ms */
static double run_encode_decode(const sg_engine *e, sg_run *r, const sg_image *src,
                                const options *o, const float *s, sg_image *out, double *enc_ms,
                                sg_error *err) {
    const double t0 = bench_now_ms();
    sg_encoded *enc = NULL;
    if (sg_engine_encode(e, r, src, o->fit, &enc, NULL, err)) return -1;
    *enc_ms = bench_now_ms() - t0;
    for (int k = 0; k < o->styles; k++) {
        sg_image_free(&out[k]);
        if (sg_engine_decode(e, r, enc, s + (size_t)k * e->cfg.style_dim, &out[k], NULL, err)) {
            sg_encoded_free(enc);
            return -1;
        }
    }
    sg_encoded_free(enc);
    return bench_now_ms() - t0;
}

/* one encode and sg_engine_decode_styles over chunks of the K styles */
static double run_encode_styles(const sg_engine *e, sg_run *r, const sg_image *src,
                                const options *o, const float *s, sg_image *out, sg_error *err) {
    const double t0 = bench_now_ms();
    sg_encoded *enc = NULL;
    if (sg_engine_encode(e, r, src, o->fit, &enc, NULL, err)) return -1;
    for (int k = 0; k < o->styles; k += SG_ENGINE_MAX_STYLES) {
        const int n = o->styles - k < SG_ENGINE_MAX_STYLES ? o->styles - k : SG_ENGINE_MAX_STYLES;
        for (int i = 0; i < n; i++) sg_image_free(&out[k + i]);
        if (sg_engine_decode_styles(e, r, enc, s + (size_t)k * e->cfg.style_dim, n, &out[k], NULL,
                                    err)) {
            sg_encoded_free(enc);
            return -1;
        }
    }
    sg_encoded_free(enc);
    return bench_now_ms() - t0;
}

static int same_images(const sg_image *a, const sg_image *b, int n) {
    for (int k = 0; k < n; k++)
        if (a[k].w != b[k].w || a[k].h != b[k].h ||
            memcmp(a[k].pixels, b[k].pixels, (size_t)a[k].w * a[k].h * 3))
            return 0;
    return 1;
}

static int compare(const sg_engine *e, sg_run *r, const sg_image *src, const options *o,
                   const float *s) {
    sg_image a[MAX_STYLES] = {{0}}, b[MAX_STYLES] = {{0}}, c[MAX_STYLES] = {{0}};
    double ta[MAX_REPS], tb[MAX_REPS], tc[MAX_REPS], te[MAX_REPS], enc_ms = 0;
    sg_error err = {0};
    int rc = 0;
    for (int rep = -1; rep < o->reps && !rc; rep++) { /* rep -1: warm-up */
        double x = 0, y = 0, z = 0;
        for (int i = 0; i < 3; i++) /* the order rotates every rep */
            switch ((rep + 3 + i) % 3) {
            case 0: x = run_translate(e, r, src, o, s, a, &err); break;
            case 1: y = run_encode_decode(e, r, src, o, s, b, &enc_ms, &err); break;
            default: z = run_encode_styles(e, r, src, o, s, c, &err);
            }
        if (x < 0 || y < 0 || z < 0) rc = die("translate", &err);
        else if (!same_images(a, b, o->styles) || !same_images(a, c, o->styles)) {
            fprintf(stderr,
                    "bench_encode: encode+decode or encode+styles differs from translate\n");
            rc = 1;
        } else if (rep >= 0) ta[rep] = x, tb[rep] = y, tc[rep] = z, te[rep] = enc_ms;
    }
    if (!rc) {
        const double mt = median(ta, o->reps), mb = median(tb, o->reps), me = median(te, o->reps),
                     mc = median(tc, o->reps);
        printf("%d x translate:        %8.1f ms (%.1f ms per style)\n", o->styles, mt,
               mt / o->styles);
        printf("1 encode + %d decodes: %8.1f ms (encode %.1f ms, %.1f ms per decode)\n", o->styles,
               mb, me, (mb - me) / o->styles);
        printf("1 encode + styles %d at a time: %8.1f ms\n", SG_ENGINE_MAX_STYLES, mc);
        printf("ratio translate / encode+decode: %.2fx, translate / encode+styles: %.2fx, "
               "encode+decode / encode+styles: %.2fx  (bytes identical: yes)\n",
               mt / mb, mt / mc, mb / mc);
    }
    for (int k = 0; k < o->styles; k++)
        sg_image_free(&a[k]), sg_image_free(&b[k]), sg_image_free(&c[k]);
    return rc;
}

/* The decoder on n copies of one photo's state with n styles, as one batch and as n batches of 1
 * (w_hpf = 0 only: no masks to replicate); times (median) and whether the floats are equal. */
static int batch_decode(const sg_engine *e, sg_run *r, const sg_image *src, const options *o,
                        const float *s) {
    const sg_generator *g = &e->gen;
    const int n = o->batch, S = e->cfg.img_size, sd = e->cfg.style_dim;
    if (e->cfg.w_hpf > 0 || o->fit == SG_FIT_ALIGN || n < 2 || n > o->styles) {
        fprintf(stderr, "bench_encode: --batch needs w_hpf = 0, crop or stretch, 2..styles\n");
        return 2;
    }
    sg_error err = {0};
    sg_arena a;
    sg_generator_state one, many;
    const size_t plane = (size_t)3 * S * S;
    if (sg_arena_init(&a,
                      sg_generator_encode_plan(g, 1) + sg_generator_state_floats(g, n) +
                          sg_generator_decode_plan(g, n),
                      &err))
        return die("arena", &err);
    float *x = malloc(plane * sizeof(float)), *y1 = malloc(n * plane * sizeof(float)),
          *yn = malloc(n * plane * sizeof(float));
    sg_tensor xt = sg_tensor_make(x, 1, 3, S, S);
    sg_generator_state_shape(g, n, &many);
    many.h = sg_arena_tensor(&a, n, many.h.c, many.h.h, many.h.w); /* [n, C, s, s] */
    if (sg_image_to_tensor(src, o->fit, S, &xt, 0, &err) ||
        sg_generator_encode(g, &xt, &one, &a, &r->ws, &err))
        return die("encode", &err);
    const size_t hn = sg_tensor_numel(&one.h);
    for (int i = 0; i < n; i++) memcpy(many.h.data + i * hn, one.h.data, hn * sizeof(float));
    double t1[MAX_REPS], tn[MAX_REPS];
    for (int rep = -1; rep < o->reps; rep++) {
        double t0 = bench_now_ms();
        for (int i = 0; i < n; i++) {
            sg_tensor y = sg_tensor_make(y1 + i * plane, 1, 3, S, S);
            if (sg_generator_decode(g, &one, s + (size_t)i * sd, NULL, &y, &a, &r->ws, &err))
                return die("decode", &err);
        }
        double t2 = bench_now_ms();
        sg_tensor y = sg_tensor_make(yn, n, 3, S, S);
        if (sg_generator_decode(g, &many, s, NULL, &y, &a, &r->ws, &err))
            return die("decode batch", &err);
        if (rep >= 0) t1[rep] = t2 - t0, tn[rep] = bench_now_ms() - t2;
    }
    size_t diff = 0;
    for (size_t i = 0; i < n * plane; i++) diff += memcmp(&y1[i], &yn[i], sizeof(float)) != 0;
    printf("generator decoder, %d single decodes: %8.1f ms; one batch of %d: %8.1f ms (%.2fx); "
           "floats differing: %zu of %zu\n",
           n, median(t1, o->reps), n, median(tn, o->reps),
           median(t1, o->reps) / median(tn, o->reps), diff, n * plane);
    free(x), free(y1), free(yn);
    sg_arena_free(&a);
    return 0;
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.config = "afhq", .styles = 8, .reps = 5, .fit = SG_FIT_CROP};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[++i] : "";
        if (!strcmp(k, "--model")) o->model = v;
        else if (!strcmp(k, "--config")) o->config = v;
        else if (!strcmp(k, "--src")) o->src = v;
        else if (!strcmp(k, "--mean")) o->mean = v;
        else if (!strcmp(k, "--styles")) o->styles = atoi(v);
        else if (!strcmp(k, "--reps")) o->reps = atoi(v);
        else if (!strcmp(k, "--batch")) o->batch = atoi(v);
        else if (!strcmp(k, "--fit") && !sg_fit_parse(v, &o->fit)) continue;
        else if (!strcmp(k, "--precision") && !sg_precision_parse(v, &o->prec)) continue;
        else return fprintf(stderr, "bench_encode: bad argument %s %s\n", k, v), 0;
    }
    if (o->styles < 1 || o->styles > MAX_STYLES || o->reps < 1 || o->reps > MAX_REPS)
        return fprintf(stderr, "bench_encode: --styles 1..%d, --reps 1..%d\n", MAX_STYLES,
                       MAX_REPS),
               0;
    return 1;
}

int main(int argc, char **argv) {
    options o;
    if (!parse(argc, argv, &o)) return 2;
    sg_engine e;
    sg_run r;
    sg_error err = {0};
    if (open_engine(&e, &o, &err)) return die("model", &err);
    if (o.mean && sg_engine_set_mean_landmarks(&e, o.mean, &err)) return die("--mean", &err);
    if (sg_engine_set_precision(&e, o.prec, &err)) /* weights packed, as the server's engines */
        return die("--precision", &err);
    if (sg_run_init(&r, &e, &err)) return die("run", &err);
    sg_image src = {0};
    if (o.src ? sg_image_load(o.src, 1 << 26, 1, &src, &err) != SG_OK
              : !(src = lcg_photo(320, 256)).pixels)
        return die("--src", &err);
    float s[MAX_STYLES * 64];
    if (e.cfg.style_dim > 64) return fprintf(stderr, "bench_encode: style_dim > 64\n"), 2;
    for (int k = 0; k < o.styles; k++)
        if (sg_engine_style_latent(&e, 1 + (uint64_t)k, k % e.cfg.num_domains, 1.0f,
                                   s + (size_t)k * e.cfg.style_dim, &err))
            return die("style", &err);
    printf("%s %d² w_hpf=%d, %s, fit %s, %d styles, median of %d reps, cpu path %s\n",
           o.model ? o.model : o.config, e.cfg.img_size, e.cfg.w_hpf, sg_precision_name(o.prec),
           fit_names[o.fit], o.styles, o.reps, sg_cpu_path());
    int rc = compare(&e, &r, &src, &o, s);
    if (!rc && o.batch) rc = batch_decode(&e, &r, &src, &o, s);
    sg_image_free(&src);
    sg_run_free(&r);
    sg_engine_free(&e);
    return rc;
}
