/* stargan bench: median time and effective GFLOP/s of each network on one image, the machine's
 * sgemm rate at a conv-like shape measured in the same run, and the peak resident memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "cli.h"
#include "models.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
    sg_engine *e;
    sg_run *r;
    sg_tensor x, y, masks[2], hm; /* hm [1, 99, 64, 64]: FAN output */
    float *s, *z, *scratch;
    int y_dom;
} bench_io;

static sg_status run_net(bench_io *b, int which, sg_error *err) {
    sg_engine *e = b->e;
    switch (which) {
    case 0:
        return sg_generator_forward(&e->gen, &b->x, b->s, e->cfg.w_hpf > 0 ? b->masks : NULL, &b->y,
                                    &b->r->arena, &b->r->ws, err);
    case 1:
        return sg_style_encoder_forward(&e->enc, &b->x, &b->y_dom, b->s, &b->r->arena, &b->r->ws,
                                        err);
    case 3: return sg_fan_forward(&e->fan, &b->x, &b->hm, &b->r->arena, &b->r->ws, err);
    default: return sg_mapping_forward(&e->map, b->z, &b->y_dom, 1, b->s, b->scratch, err);
    }
}

static sg_status bench_nets(sg_engine *e, int runs, sg_error *err) {
    const int S = e->cfg.img_size;
    sg_run run;
    sg_status st = sg_run_init(&run, e, err);
    if (st) return st;
    bench_io b = {.e = e, .r = &run};
    size_t img = 3 * (size_t)S * S, plane = (size_t)S * S;
    size_t hm_n = (size_t)SG_FAN_OUT * SG_FAN_HM * SG_FAN_HM;
    float *mem = calloc(2 * img + 2 * plane + 1024 + 4 * 512 + hm_n, sizeof(float));
    if (!mem) {
        sg_run_free(&run);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    b.x = sg_tensor_make(mem, 1, 3, S, S), b.y = sg_tensor_make(mem + img, 1, 3, S, S);
    for (int i = 0; i < 2; i++) b.masks[i] = sg_tensor_make(mem + 2 * img + i * plane, 1, 1, S, S);
    b.s = mem + 2 * img + 2 * plane, b.z = b.s + 512, b.scratch = b.z + 512;
    b.hm = sg_tensor_make(b.scratch + 2 * 512 + 1024, 1, SG_FAN_OUT, SG_FAN_HM, SG_FAN_HM);
    for (size_t i = 0; i < img; i++) mem[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    for (size_t i = 0; i < 2 * plane; i++) b.masks[0].data[i] = 0.5f;
    sg_latent_sample(1, b.z, e->cfg.latent_dim);
    st = sg_mapping_forward(&e->map, b.z, &b.y_dom, 1, b.s, b.scratch, err);
    /* the face network (FAN, 256² input) when the model has one */
    static const char *names[4] = {"generator", "style_encoder", "mapping_network", "fan"};
    double flops[4] = {sg_generator_flops(&e->gen), sg_style_encoder_flops(&e->enc),
                       sg_mapping_flops(&e->map), e->has_fan ? sg_fan_flops(&e->fan) : 0};
    double *t = malloc(sizeof(double) * (size_t)runs);
    for (int k = 0; k < (e->has_fan ? 4 : 3) && !st && t; k++) {
        st = run_net(&b, k, err); /* warm-up: page in the weights */
        for (int r = 0; r < runs && !st; r++) {
            double t0 = sg_now_ms();
            st = run_net(&b, k, err);
            t[r] = sg_now_ms() - t0;
        }
        if (st) break;
        double med = median(t, runs);
        printf("%s median_ms=%.2f gflops=%.1f\n", names[k], med, flops[k] / (med * 1e6));
    }
    free(t);
    free(mem);
    sg_run_free(&run);
    return st;
}

/* cblas_sgemm at the shape of a 3×3 conv 256→256 at 64×64: M=256, N=4096, K=2304 */
static void bench_sgemm(int runs) {
    const int M = 256, N = 4096, K = 2304;
    float *A = calloc((size_t)M * K, 4), *B = calloc((size_t)K * N, 4),
          *C = calloc((size_t)M * N, 4);
    if (!A || !B || !C) return;
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)(i % 5) * 0.1f;
    double *t = malloc(sizeof(double) * (size_t)runs);
    sg_gemm(M, N, K, A, K, B, N, C, N, 0);
    for (int r = 0; r < runs && t; r++) {
        double t0 = sg_now_ms();
        sg_gemm(M, N, K, A, K, B, N, C, N, 0);
        t[r] = sg_now_ms() - t0;
    }
    if (t)
        printf("sgemm gflops=%.1f (M=%d N=%d K=%d)\n", 2.0 * M * N * K / (median(t, runs) * 1e6), M,
               N, K);
    free(t), free(A), free(B), free(C);
}

/* Read both files into memory once: the timed request then starts from encoded bytes, as a
 * service request does. */
static uint8_t *slurp(const char *path, size_t *len) {
    int fd = sg_file_open_regular(path, NULL, NULL); /* a FIFO is refused, not waited on */
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (fd >= 0 && !f) close(fd);
    uint8_t *b = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n)) && fread(b, 1, (size_t)n, f) != (size_t)n)
        free(b), b = NULL;
    if (b) *len = (size_t)n;
    if (f) fclose(f);
    return b;
}

typedef struct {
    double decode, style, faces, generator, encode, total;
} req_times;

/* One reference-guided request through the engine API: decode src and ref, style code of ref
 * (style encoder), translate src (FAN masks when w_hpf > 0, generator), encode PNG. */
static sg_status one_request(sg_engine *e, sg_run *r, const uint8_t *sb, size_t sl,
                             const uint8_t *rb, size_t rl, req_times *t, sg_error *err) {
    sg_image src = {0}, ref = {0}, out = {0};
    float s[512];
    sg_timing tm = {0};
    uint8_t *png = NULL;
    size_t png_len = 0;
    double t0 = sg_now_ms(), t1;
    if (e->cfg.style_dim > 512) return sg_error_set(err, SG_ERR_UNSUPPORTED, "style_dim > 512");
    sg_status st = sg_image_decode(sb, sl, 40000000, 1, &src, err);
    if (!st) st = sg_image_decode(rb, rl, 40000000, 1, &ref, err);
    t1 = sg_now_ms(), t->decode = t1 - t0;
    if (!st) st = sg_engine_style_ref(e, r, &ref, SG_FIT_CROP, 1 % e->cfg.num_domains, s, err);
    t->style = sg_now_ms() - t1;
    if (!st) st = sg_engine_translate(e, r, &src, SG_FIT_CROP, s, &out, &tm, err);
    t->faces = tm.faces_ms, t->generator = tm.generator_ms, t1 = sg_now_ms();
    if (!st) st = sg_image_encode(&out, SG_FORMAT_PNG, 90, &png, &png_len, err);
    t->encode = sg_now_ms() - t1, t->total = sg_now_ms() - t0;
    free(png);
    sg_image_free(&src), sg_image_free(&ref), sg_image_free(&out);
    return st;
}

/* request_ms: median over runs of one_request (after a warm-up), with its stages. */
static sg_status bench_request(sg_engine *e, const char *src, const char *ref, int runs,
                               sg_error *err) {
    size_t sl = 0, rl = 0;
    uint8_t *sb = slurp(src, &sl), *rb = slurp(ref, &rl);
    sg_run run;
    sg_status st = !sb || !rb ? sg_error_set(err, SG_ERR_IO, "cannot read %s or %s", src, ref)
                              : sg_run_init(&run, e, err);
    req_times t[64], w;
    if (runs > 64) runs = 64;
    if (!st) {
        st = one_request(e, &run, sb, sl, rb, rl, &w, err); /* warm-up */
        double tot[64];
        for (int i = 0; i < runs && !st; i++) {
            st = one_request(e, &run, sb, sl, rb, rl, &t[i], err);
            tot[i] = t[i].total;
        }
        if (!st) {
            const double med = median(tot, runs);
            int m = 0;
            while (t[m].total != med && m + 1 < runs) m++; /* the median run's stages */
            printf("request_ms=%.2f decode=%.1f style=%.1f faces=%.1f generator=%.1f encode=%.1f\n",
                   med, t[m].decode, t[m].style, t[m].faces, t[m].generator, t[m].encode);
        }
        sg_run_free(&run);
    }
    free(sb), free(rb);
    return st;
}

int cmd_bench(int argc, char **argv) {
    cli_opt o[] = {
        {"--model", "M", "model file", NULL},
        {"--config", "NAME", "instead of --model: spec-v1 weights of afhq, celeba_hq or mini",
         NULL},
        {"--runs", "N", "timed runs per network (after one warm-up)", "5"},
        {"--src", "IMG",
         "with --ref: also time whole reference-guided requests on these photos "
         "(decode, style, faces, generator, PNG encode): request_ms=",
         NULL},
        {"--ref", "IMG", "reference photo for --src", NULL},
        {"--precision", "P", "fp32 (exact) or bf16 (bf16 products: AVX512-BF16, Arm BF16)", "fp32"},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    if (cli_parse(argc, argv, o, pos, 0, &np)) return cli_usage_error("bench", NULL);
    if (cli_get(o, "--help"))
        return cli_usage("bench", "--model M [--runs N] [--precision fp32|bf16]", o), 0;
    if (!cli_get(o, "--model") && !cli_get(o, "--config"))
        return cli_usage_error("bench", "--model is required (or --config NAME)");
    char *end;
    long runs = strtol(cli_get(o, "--runs"), &end, 10);
    if (*end || runs < 1 || runs > 1000)
        return cli_usage_error("bench", "--runs must be a number in 1..1000");
    if (!cli_get(o, "--src") != !cli_get(o, "--ref"))
        return cli_usage_error("bench", "--src and --ref go together");
    sg_error err = {0};
    sg_engine e;
    sg_precision prec;
    if (sg_precision_parse(cli_get(o, "--precision"), &prec)) {
        fprintf(stderr, "stargan bench: --precision must be fp32 or bf16\n");
        return 2;
    }
    if (cli_open_engine(cli_get(o, "--model"), cli_get(o, "--config"), &e, &err))
        return cli_fail(&err);
    const double tp = sg_now_ms();
    sg_status st = sg_engine_set_precision(&e, prec, &err);
    if (st) {
        sg_engine_free(&e);
        return cli_fail(&err);
    }
    printf("precision=%s path=%s\n", sg_precision_name(prec),
           prec == SG_PRECISION_BF16 ? sg_bf16_path() : sg_cpu_path());
    printf("pack_ms=%.1f packed_weights_mb=%.1f\n", sg_now_ms() - tp,
           sg_packed_weights_bytes(e.packed) / 1048576.0);
    sg_packed_weights *old = sg_packed_use(e.packed); /* the networks run directly below */
    st = bench_nets(&e, (int)runs, &err);
    sg_packed_use(old);
    if (!st && cli_get(o, "--src"))
        st = bench_request(&e, cli_get(o, "--src"), cli_get(o, "--ref"), (int)runs, &err);
    if (!st) bench_sgemm((int)runs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mb=%ld\n", ru.ru_maxrss / 1024);
    sg_engine_free(&e);
    return st ? cli_fail(&err) : 0;
}
