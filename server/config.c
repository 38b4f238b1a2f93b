/* The option table: every setting is a flag and an environment variable (STARGAN_ + the flag in
 * upper case, '-' → '_'), parsed by the same code, so the two can never drift apart. Precedence:
 * default < environment < command line. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum { K_STR, K_INT, K_BYTES, K_PIXELS, K_SECONDS, K_MODEL, K_HELP, K_PROBE } opt_kind;

typedef struct {
    const char *flag, *arg, *def, *help;
    opt_kind kind;
    size_t off, size;
    int lo, hi; /* K_INT range; sizes: lo the least (0 where 0 means off) */
} opt;

#define F(field) offsetof(sg_srv_config, field), sizeof(((sg_srv_config *)0)->field)

static const opt opts[] = {
    {"--listen", "HOST:PORT", "127.0.0.1:8080", "address to serve on ([::]:8080 for IPv6)", K_STR,
     F(listen), 0, 0},
    {"--model", "NAME=PATH", "",
     "a model (release .ckpt or model file); repeatable; env: comma-separated; none = built-in "
     "demo",
     K_MODEL, F(models), 0, 0},
    {"--fan", "PATH", "",
     "face network weights (wing.ckpt or model file) for masks and --fit align", K_STR, F(fan), 0,
     0},
    {"--detector", "PATH", "",
     "face detector for /v1/detect and face= (a file of stargan convert --detector, or the "
     "TensorFlow.js manifest); default " SG_DETECTOR_DEFAULT " when present; none = off",
     K_STR, F(detector), 0, 0},
    {"--mean", "PATH", "", "mean CelebA-HQ landmarks (celeba_lm_mean.npz) for fit=align", K_STR,
     F(mean), 0, 0},
    {"--workers", "N", "2",
     "inference threads: requests run at once (2: best throughput on 2 cores; a lone request still "
     "uses every core)",
     K_INT, F(workers), 1, 256},
    {"--queue", "N", "8", "requests that may wait beyond the busy workers (then 503)", K_INT,
     F(queue), 0, 100000},
    {"--max-body", "BYTES", "16M", "largest request body (K/M/G = KiB/MiB/GiB)", K_BYTES,
     F(max_body), 1, 0},
    {"--max-pixels", "N", "40M", "largest image, width x height (K/M = 10^3/10^6)", K_PIXELS,
     F(max_pixels), 1, 0},
    {"--max-frames", "N", "120", "most frames in one /v1/interpolate (then 413)", K_INT,
     F(max_frames), 2, 100000},
    {"--max-cells", "N", "64", "most cells in one /v1/grid (then 413)", K_INT, F(max_cells), 1,
     100000},
    {"--max-work", "PIXELS", "32M",
     "long work admitted at once: frames and cells x img_size^2 (and 1/128 of the photos' "
     "decoded pixels), summed over the running and waiting /v1/interpolate and /v1/grid "
     "requests (past it: 503; one request alone: 413)",
     K_PIXELS, F(max_work), 1, 0},
    {"--job-ttl", "SECONDS", "600",
     "a finished job (Prefer: respond-async) keeps its result this long", K_SECONDS, F(job_ttl_s),
     0, 0},
    {"--max-jobs", "N", "64", "jobs held at once, queued, running or finished (then 503)", K_INT,
     F(max_jobs), 1, 1000000},
    {"--job-store-bytes", "BYTES", "512M",
     "memory the jobs' uploads and results may hold (then 503)", K_BYTES, F(job_store_bytes), 1, 0},
    {"--cache-bytes", "BYTES", "256M",
     "memory for what recent photos cost (their encoder output and masks, reference photos' "
     "style codes, aligned photos' landmarks), least recently used out first; never answers (0 = "
     "off)",
     K_BYTES, F(cache_bytes), 0, 0},
    {"--max-batch", "N", "1",
     "plain translations of one model a worker takes from the queue and runs as one batch (the "
     "decoder's low-resolution head shared; the same bytes; 1 = none)",
     K_INT, F(max_batch), 1, SG_QUEUE_MAX_BATCH},
    {"--batch-wait", "MS", "0",
     "how long a worker holding fewer than --max-batch translations waits for more (0 = it takes "
     "only what already waits)",
     K_INT, F(batch_wait_ms), 0, 1000},
    {"--timeout", "SECONDS", "60", "longest a request may wait for a worker, then 503 (0 = none)",
     K_SECONDS, F(timeout_s), 0, 0},
    {"--client-timeout", "SECONDS", "30",
     "idle or stalled client connections are closed after this", K_SECONDS, F(client_timeout_s), 0,
     0},
    {"--header-timeout", "SECONDS", "10",
     "a request's headers must arrive within this (from the connection, or the previous answer); "
     "slower clients are dropped",
     K_SECONDS, F(header_timeout_s), 0, 0},
    {"--body-min-rate", "BYTES", "1K",
     "after --body-grace, an upload must have averaged this many bytes a second, or it is "
     "dropped (0 = no minimum)",
     K_BYTES, F(body_min_rate), 0, 0},
    {"--body-grace", "SECONDS", "5", "time an upload may take before --body-min-rate applies",
     K_SECONDS, F(body_grace_s), 0, 0},
    {"--reserved-connections", "N", "8",
     "connections beyond --max-connections that uploads may not take: probes, /metrics and "
     "other GETs still get through while every upload slot is held",
     K_INT, F(reserved_connections), 0, 65536},
    {"--grace", "SECONDS", "30", "on SIGTERM/SIGINT: time to finish in-flight and queued work",
     K_SECONDS, F(grace_s), 0, 0},
    {"--drain-delay", "SECONDS", "5",
     "on SIGTERM: /readyz says 503 and serving goes on this long, so balancers stop routing here; "
     "then the --grace stop (0 = none)",
     K_SECONDS, F(drain_delay_s), 0, 0},
    {"--max-connections", "N", "64",
     "concurrent uploads (POST bodies; memory bound: this x --max-body); GETs may also use "
     "--reserved-connections more",
     K_INT, F(max_connections), 1, 65536},
    {"--cors-origin", "ORIGINS", "",
     "allowed browser origins: * or a comma-separated list (empty = no CORS)", K_STR,
     F(cors_origin), 0, 0},
    {"--api-key-file", "PATH", "",
     "file of bearer tokens, one a line: required on every route but /healthz, /readyz", K_STR,
     F(api_key_file), 0, 0},
    {"--precision", "fp32|bf16", "fp32",
     "products of every conv and linear layer: fp32 (exact) or bf16 (needs AVX512-BF16)", K_STR,
     F(precision), 0, 0},
    {"--access-log", "PATH", "-", "access log: - (stdout), off, or a file", K_STR, F(access_log), 0,
     0},
    {"--healthcheck", "[URL]", NULL,
     "probe URL (default: /healthz on --listen) and exit 0 when healthy", K_PROBE, F(healthcheck),
     0, 0},
    {"--help", NULL, NULL, "show this help", K_HELP, F(help), 0, 0},
};
#define N_OPTS (sizeof opts / sizeof *opts)

/* "--max-body" → "STARGAN_MAX_BODY" */
static void env_name(const opt *o, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "STARGAN_");
    for (const char *p = o->flag + 2; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = 0;
}

sg_status sg_srv_parse_size(const char *s, int binary, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) return SG_ERR_ARG;
    double k = binary ? 1024.0 : 1000.0, mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = k, end++; break;
    case 'M': mul = k * k, end++; break;
    case 'G': mul = k * k * k, end++; break;
    default: break;
    }
    if (binary && toupper((unsigned char)*end) == 'I') end++; /* "16MiB" */
    if (toupper((unsigned char)*end) == 'B') end++;
    if (*end || v * mul > 9.0e18) return SG_ERR_ARG;
    *out = (int64_t)llround(v * mul);
    return SG_OK;
}

/* NAME=PATH, or PATH (name: the file name without its extension). */
static sg_status add_model(sg_srv_config *c, const char *v, size_t n, const char *who,
                           sg_error *err) {
    if (c->n_models >= SG_SRV_MAX_MODELS)
        return sg_error_set(err, SG_ERR_ARG, "%s: at most %d models", who, SG_SRV_MAX_MODELS);
    sg_srv_model_arg *m = &c->models[c->n_models];
    const char *eq = memchr(v, '=', n);
    const char *path = eq ? eq + 1 : v;
    size_t plen = n - (size_t)(path - v);
    if (plen == 0 || plen >= sizeof m->path)
        return sg_error_set(err, SG_ERR_ARG, "%s: '%.*s' is not NAME=PATH", who, (int)n, v);
    memcpy(m->path, path, plen);
    m->path[plen] = 0;
    const char *name = v;
    size_t nlen = eq ? (size_t)(eq - v) : 0;
    if (!eq) { /* basename without extension */
        const char *slash = strrchr(m->path, '/');
        name = slash ? slash + 1 : m->path;
        const char *dot = strchr(name, '.');
        nlen = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    }
    if (nlen == 0 || nlen >= sizeof m->name)
        return sg_error_set(err, SG_ERR_ARG, "%s: bad model name in '%.*s'", who, (int)n, v);
    for (size_t i = 0; i < nlen; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return sg_error_set(err, SG_ERR_ARG,
                                "%s: model name '%.*s' may use only A-Z a-z 0-9 . _ -", who,
                                (int)nlen, name);
    memcpy(m->name, name, nlen);
    m->name[nlen] = 0;
    for (int i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i].name, m->name))
            return sg_error_set(err, SG_ERR_ARG, "%s: model name '%s' given twice", who, m->name);
    c->n_models++;
    return SG_OK;
}

/* The environment form of --model: entries separated by commas or white space. */
static sg_status add_models_list(sg_srv_config *c, const char *v, const char *who, sg_error *err) {
    while (*v) {
        size_t n = strcspn(v, ", \t\n");
        if (n) {
            sg_status st = add_model(c, v, n, who, err);
            if (st) return st;
        }
        v += n + (v[n] != 0);
    }
    return SG_OK;
}

static sg_status set_value(sg_srv_config *c, const opt *o, const char *v, int from_env,
                           const char *who, sg_error *err) {
    void *field = (char *)c + o->off;
    int64_t x;
    char *end;
    switch (o->kind) {
    case K_STR:
    case K_PROBE:
        if (strlen(v) >= o->size) return sg_error_set(err, SG_ERR_ARG, "%s: value too long", who);
        memcpy(field, v, strlen(v) + 1);
        return SG_OK;
    case K_INT:
        errno = 0;
        x = strtoll(v, &end, 10);
        if (!*v || *end || errno || x < o->lo || x > o->hi)
            return sg_error_set(err, SG_ERR_ARG, "%s: '%s' is not an integer in %d..%d", who, v,
                                o->lo, o->hi);
        *(int *)field = (int)x;
        return SG_OK;
    case K_BYTES:
    case K_PIXELS:
        if (sg_srv_parse_size(v, o->kind == K_BYTES, &x) || x < o->lo)
            return sg_error_set(err, SG_ERR_ARG, "%s: '%s' is not a size (e.g. 16M)", who, v);
        *(int64_t *)field = x;
        return SG_OK;
    case K_SECONDS: {
        double d = strtod(v, &end);
        if (!*v || *end || !(d >= 0 && d <= 1e6))
            return sg_error_set(err, SG_ERR_ARG, "%s: '%s' is not a number of seconds", who, v);
        *(double *)field = d;
        return SG_OK;
    }
    case K_MODEL:
        return from_env ? add_models_list(c, v, who, err) : add_model(c, v, strlen(v), who, err);
    case K_HELP: *(int *)field = 1; return SG_OK;
    }
    return SG_ERR_ARG;
}

static void defaults(sg_srv_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].def && opts[i].def[0])
            set_value(c, &opts[i], opts[i].def, 0, opts[i].flag, NULL);
}

static sg_status load_env(sg_srv_config *c, sg_error *err) {
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        if (o->kind == K_HELP || o->kind == K_PROBE) continue;
        char name[64];
        env_name(o, name, sizeof name);
        const char *v = getenv(name);
        if (!v || !*v) continue;
        sg_status st = set_value(c, o, v, 1, name, err);
        if (st) return st;
    }
    return SG_OK;
}

static const opt *find_flag(const char *arg, size_t n) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].flag) == n && !strncmp(opts[i].flag, arg, n)) return &opts[i];
    return NULL;
}

static sg_status load_argv(sg_srv_config *c, int argc, char **argv, sg_error *err) {
    int models_from_flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t n = eq && !strncmp(a, "--", 2) ? (size_t)(eq - a) : strlen(a);
        const opt *o = find_flag(a, n);
        if (!o) return sg_error_set(err, SG_ERR_ARG, "unknown option '%s' (see --help)", a);
        const char *v = eq && n < strlen(a) ? eq + 1 : NULL;
        if (o->kind == K_HELP) {
            c->help = 1;
            continue;
        }
        if (o->kind == K_PROBE && !v) /* optional argument: a following URL */
            v = i + 1 < argc && !strncmp(argv[i + 1], "http://", 7) ? argv[++i] : "default";
        if (!v && i + 1 >= argc) return sg_error_set(err, SG_ERR_ARG, "%s needs a value", o->flag);
        if (!v) v = argv[++i];
        if (o->kind == K_MODEL && !models_from_flags++) c->n_models = 0; /* flags replace env */
        sg_status st = set_value(c, o, v, 0, o->flag, err);
        if (st) return st;
    }
    return SG_OK;
}

sg_status sg_srv_config_load(sg_srv_config *c, int argc, char **argv, sg_error *err) {
    defaults(c);
    sg_status st = load_env(c, err);
    if (!st) st = load_argv(c, argc, argv, err);
    sg_precision p;
    if (!st && sg_precision_parse(c->precision, &p))
        st = sg_error_set(err, SG_ERR_ARG, "--precision must be fp32 or bf16, not '%s'",
                          c->precision);
    return st;
}

void sg_srv_config_usage(FILE *f) {
    fprintf(f, "usage: stargan-server [options]\n"
               "Serves StarGAN v2 translation over HTTP. Every option is also an environment\n"
               "variable (shown below); the command line wins.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        char head[64], env[64] = "";
        snprintf(head, sizeof head, "%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
        if (o->kind != K_HELP && o->kind != K_PROBE) env_name(o, env, sizeof env);
        fprintf(f, "  %-28s %s\n", head, o->help);
        if (env[0])
            fprintf(f, "  %-28s env %s%s%s%s\n", "", env, o->def ? ", default " : "",
                    o->def && o->def[0] ? o->def : (o->def ? "(none)" : ""), "");
    }
}
