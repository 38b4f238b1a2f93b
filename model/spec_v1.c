/* Spec-v1 weights (docs/networks.md "Spec-v1 weights"): every tensor is a pure function of its
 * full name and shape, so tests and the CLI can build any configuration's networks without a
 * download. The values must match the Python reference bit for bit: each is computed in double
 * and rounded once to float, with the product and the sum kept as separate roundings (no fused
 * multiply-add). */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float sg_hpf_kernel[9] = {-1, -1, -1, -1, 8, -1, -1, -1, -1};

/* u_i in [-1, 1) for i = 1..: splitmix64 at seed + i·golden, top 24 bits. */
static inline double spec_u(uint64_t seed, uint64_t i) {
    uint64_t t = seed + i * 0x9E3779B97F4A7C15ull;
    t = (t ^ (t >> 30)) * 0xBF58476D1CE4E5B9ull;
    t = (t ^ (t >> 27)) * 0x94D049BB133111EBull;
    t = t ^ (t >> 31);
    return (double)(t >> 40) / 8388608.0 - 1.0; /* exact: 24-bit integer over 2^23 */
}

void sg_spec_v1_uniform(const char *name, size_t n, double *u) {
    uint64_t seed = sg_fnv1a64(name);
    for (size_t i = 0; i < n; i++) u[i] = spec_u(seed, (uint64_t)i + 1);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

typedef enum { RULE_RANDOM, RULE_HPF, RULE_COUNTER, RULE_NONE } spec_rule;

/* The first matching rule of the spec, with (offset, scale) for random tensors. */
static spec_rule spec_rule_of(const char *name, const sg_shape *shape, double *off, double *scale) {
    if (ends_with(name, "num_batches_tracked")) return RULE_COUNTER;
    if (strcmp(name, "generator.hpf.filter") == 0) return RULE_HPF;
    *off = 0.0;
    if (ends_with(name, "running_mean")) {
        *scale = 0.1;
    } else if (ends_with(name, "running_var")) {
        *off = 1.0, *scale = 0.25;
    } else if (ends_with(name, ".bias")) {
        *scale = 0.1;
    } else if (ends_with(name, ".weight") && shape->ndim == 1) { /* a norm's scale */
        *off = 1.0, *scale = 0.1;
    } else if (ends_with(name, ".weight")) {
        uint64_t fan_in = 1; /* product of all dims but the first (numel already checked) */
        for (int i = 1; i < shape->ndim; i++) fan_in *= (uint64_t)shape->dims[i];
        *scale = fan_in ? sqrt(6.0 / (double)fan_in) : 0.0; /* fan_in 0: no elements anyway */
    } else {
        return RULE_NONE;
    }
    return RULE_RANDOM;
}

static void spec_fill_random(const char *name, uint64_t n, double off, double scale, float *out) {
    uint64_t seed = sg_fnv1a64(name);
    for (uint64_t i = 0; i < n; i++) {
        /* volatile: the product is rounded to double before the sum even where the compiler
         * would fuse them (GNU C modes contract across statements); the reference rounds twice */
        volatile double p = scale * spec_u(seed, i + 1);
        out[i] = (float)(off + p);
    }
}

sg_status sg_spec_v1_fill(const char *name, const sg_shape *shape, float *out, sg_error *err) {
    if (!name || !shape || !out) return sg_error_set(err, SG_ERR_ARG, "spec-v1: NULL argument");
    char nm[SG_MSG_NAME_CAP], sh[SG_SHAPE_STR_CAP];
    sg_msg_name(name, nm, sizeof nm);
    uint64_t n;
    if (!sg_shape_numel(shape, &n))
        return sg_error_set(err, SG_ERR_ARG, "spec-v1: tensor %s: invalid shape %s", nm,
                            sg_shape_str(shape, sh, sizeof sh));
    double off = 0, scale = 0;
    switch (spec_rule_of(name, shape, &off, &scale)) {
    case RULE_RANDOM: spec_fill_random(name, n, off, scale, out); return SG_OK;
    case RULE_HPF:
        if (n != 9)
            return sg_error_set(err, SG_ERR_SHAPE, "spec-v1: tensor %s: shape %s, expected [3,3]",
                                nm, sg_shape_str(shape, sh, sizeof sh));
        memcpy(out, sg_hpf_kernel, sizeof sg_hpf_kernel);
        return SG_OK;
    case RULE_COUNTER:
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "spec-v1: tensor %s: a counter, not a float tensor", nm);
    default:
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "spec-v1: tensor %s: no spec-v1 rule", nm);
    }
}

/* ---- the on-demand source ------------------------------------------------------------------- */
typedef struct {
    char *name;
    sg_shape shape;
    float *data;
} spec_entry;

typedef struct {
    sg_weights base; /* first, so an sg_weights* is a spec_source* */
    spec_entry *e;   /* generation order */
    size_t n, cap;
    sg_namemap map;
} spec_source;

static sg_status spec_shape(sg_weights *w, const char *name, sg_shape *shape, sg_error *err) {
    (void)shape;
    char nm[SG_MSG_NAME_CAP];
    return sg_error_set(err, SG_ERR_UNSUPPORTED,
                        "%s: tensor %s: shapes are known only when a tensor is asked for",
                        w->source, sg_msg_name(name ? name : "(null)", nm, sizeof nm));
}

/* Appends a generated tensor (takes ownership of data and name on success). */
static sg_status spec_add(spec_source *s, char *name, const sg_shape *shape, float *data,
                          sg_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        spec_entry *e = realloc(s->e, cap * sizeof *e);
        if (!e) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
        s->e = e;
        s->cap = cap;
    }
    if (sg_namemap_put(&s->map, name, s->n) < 0)
        return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    s->e[s->n++] = (spec_entry){name, *shape, data};
    return SG_OK;
}

/* Generates name at shape `want` and keeps it. */
static sg_status spec_generate(spec_source *s, const char *name, const sg_shape *want,
                               const float **data, sg_error *err) {
    uint64_t n;
    char nm[SG_MSG_NAME_CAP], sh[SG_SHAPE_STR_CAP];
    if (!sg_shape_numel(want, &n) || n > SIZE_MAX / sizeof(float) - 1)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: tensor %s: shape %s too large", s->base.source,
                            sg_msg_name(name, nm, sizeof nm), sg_shape_str(want, sh, sizeof sh));
    float *buf = malloc(((size_t)n + 1) * sizeof *buf); /* +1: never malloc(0) */
    char *copy = strdup(name);
    sg_status st =
        buf && copy ? SG_OK : sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    if (st == SG_OK) st = sg_spec_v1_fill(name, want, buf, err);
    if (st == SG_OK) st = spec_add(s, copy, want, buf, err);
    if (st != SG_OK) {
        free(buf);
        free(copy);
        return st;
    }
    *data = buf;
    return SG_OK;
}

static sg_status spec_get(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                          sg_error *err) {
    spec_source *s = (spec_source *)w;
    if (!name || !want || !data)
        return sg_error_set(err, SG_ERR_ARG, "%s: NULL argument", w->source);
    size_t i;
    if (!sg_namemap_get(&s->map, name, &i)) return spec_generate(s, name, want, data, err);
    /* asked before: the same data, so every user of a tensor sees one buffer */
    sg_status st = sg_tensor_check(w, name, "F32", &s->e[i].shape, want, data, err);
    if (st == SG_OK) *data = s->e[i].data;
    return st;
}

static void spec_each(sg_weights *w, int (*fn)(void *, const char *, const sg_shape *), void *ctx) {
    spec_source *s = (spec_source *)w;
    for (size_t i = 0; i < s->n; i++)
        if (fn(ctx, s->e[i].name, &s->e[i].shape)) return;
}

static const char *spec_meta(sg_weights *w, const char *key) {
    (void)w, (void)key;
    return NULL;
}

static void spec_free(sg_weights *w) {
    spec_source *s = (spec_source *)w;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].name);
        free(s->e[i].data);
    }
    free(s->e);
    sg_namemap_free(&s->map);
    free(s);
}

sg_status sg_spec_v1_open(sg_weights **out, sg_error *err) {
    if (!out) return sg_error_set(err, SG_ERR_ARG, "spec-v1: NULL argument");
    spec_source *s = calloc(1, sizeof *s);
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "spec-v1: out of memory");
    s->base.shape = spec_shape;
    s->base.get = spec_get;
    s->base.each = spec_each;
    s->base.meta = spec_meta;
    s->base.free = spec_free;
    snprintf(s->base.source, sizeof s->base.source, "spec-v1");
    *out = &s->base;
    return SG_OK;
}
