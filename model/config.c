/* The model configuration. Checkpoints do not store hyper-parameters, so they are derived from
 * tensor shapes (docs/networks.md "Configuration"). */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ranges a configuration may take: the spec's img_size rule, and generous caps on the rest that
 * still reject garbage (a corrupt shape must not plan a multi-GB arena). */
#define SG_CFG_MAX_DIM  4096
#define SG_CFG_MAX_CONV 8192

static bool is_pow2_img(long v) { return v >= 64 && v <= 1024 && (v & (v - 1)) == 0; }

static int ilog2(int v) {
    int l = 0;
    while (v > 1) v >>= 1, l++;
    return l;
}

/* ---- shape probes --------------------------------------------------------------------------- */
/* Shape of a tensor that must exist with ndim dims; errors name the source and the tensor. */
static sg_status need(sg_weights *w, const char *name, int ndim, sg_shape *s, sg_error *err) {
    sg_status st = w->shape(w, name, s, err);
    if (st == SG_ERR_MISSING)
        return sg_error_set(err, st, "%s: tensor %s missing", w->source, name);
    if (st != SG_OK) return st;
    if (s->ndim != ndim) {
        char sh[SG_SHAPE_STR_CAP];
        return sg_error_set(err, SG_ERR_SHAPE, "%s: tensor %s: shape %s, expected %d dims",
                            w->source, name, sg_shape_str(s, sh, sizeof sh), ndim);
    }
    return SG_OK;
}

/* 1 present, 0 absent, <0 (negated status) on another error. A missing tensor is an answer
 * here, not an error, so its message (if the source writes one) does not reach err. */
static int present(sg_weights *w, const char *name, sg_error *err) {
    sg_shape s;
    sg_error e = {0};
    sg_status st = w->shape(w, name, &s, &e);
    if (st == SG_OK || st == SG_ERR_MISSING) return st == SG_OK;
    sg_error_set(err, st, "%s", e.msg);
    return -(int)st;
}

/* Counts fmt(i) tensors for i = 0, 1, ... until one is missing (at most max + 1 probes). */
static sg_status count_probe(sg_weights *w, const char *fmt, int max, int *count, sg_error *err) {
    char name[128];
    for (int i = 0; i <= max; i++) {
        snprintf(name, sizeof name, fmt, i);
        int p = present(w, name, err);
        if (p < 0) return (sg_status)-p;
        if (!p) {
            *count = i;
            return SG_OK;
        }
    }
    return sg_error_set(err, SG_ERR_LIMIT, "%s: more than %d tensors like %s", w->source, max, fmt);
}

/* A dimension used as a hyper-parameter, range-checked with the tensor named. */
static sg_status dim_param(sg_weights *w, const char *name, const sg_shape *s, int axis, int64_t lo,
                           int64_t hi, int *out, sg_error *err) {
    int64_t v = s->dims[axis];
    if (v < lo || v > hi)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "%s: tensor %s: dim %d is %lld, outside [%lld, %lld]", w->source, name,
                            axis, (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return SG_OK;
}

/* ---- derivation ----------------------------------------------------------------------------- */
static sg_status derive_mapping(sg_weights *w, sg_config *c, sg_error *err) {
    sg_shape s;
    sg_status st = count_probe(w, "mapping_network.unshared.%d.0.weight", SG_MAX_DOMAINS,
                               &c->num_domains, err);
    if (st != SG_OK) return st;
    if (c->num_domains == 0)
        return sg_error_set(err, SG_ERR_MISSING,
                            "%s: tensor mapping_network.unshared.0.0.weight missing", w->source);
    const char *style = "mapping_network.unshared.0.6.weight";
    const char *shared = "mapping_network.shared.0.weight";
    if ((st = need(w, style, 2, &s, err)) != SG_OK ||
        (st = dim_param(w, style, &s, 0, 1, SG_CFG_MAX_DIM, &c->style_dim, err)) != SG_OK ||
        (st = need(w, shared, 2, &s, err)) != SG_OK)
        return st;
    return dim_param(w, shared, &s, 1, 1, SG_CFG_MAX_DIM, &c->latent_dim, err);
}

/* img_size = 2^14 / dim_in, dim_in = rows of from_rgb. */
static sg_status derive_img(sg_weights *w, sg_config *c, sg_error *err) {
    const char *rgb = "generator.from_rgb.weight";
    sg_shape s;
    sg_status st = need(w, rgb, 4, &s, err);
    if (st != SG_OK) return st;
    int64_t d = s.dims[0];
    if (d <= 0 || 16384 % d != 0 || !is_pow2_img((long)(16384 / d)))
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "%s: tensor %s: %lld rows do not give an img_size 2^14/rows that is a "
                            "power of two in [64, 1024]",
                            w->source, rgb, (long long)d);
    c->img_size = (int)(16384 / d);
    return SG_OK;
}

/* Encode blocks: down = count - 2 is log2(img) - 3 with the high-pass (w_hpf 1), log2(img) - 4
 * without. max_conv_dim = the widest encode output (conv2 rows): from_rgb/encode.0's input may
 * be wider than the cap (dim_in = 2^14/img_size, e.g. 256 channels in the mini config). */
static sg_status derive_encode(sg_weights *w, sg_config *c, sg_error *err) {
    int n_enc;
    sg_status st = count_probe(w, "generator.encode.%d.conv1.weight", 64, &n_enc, err);
    if (st != SG_OK) return st;
    int l = ilog2(c->img_size), down = n_enc - 2;
    if (down != l - 3 && down != l - 4)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "%s: tensor generator.encode.%d.conv1.weight: %d encode blocks, "
                            "expected %d or %d for img_size %d",
                            w->source, n_enc > 0 ? n_enc - 1 : 0, n_enc, l - 2, l - 1, c->img_size);
    c->w_hpf = down == l - 3;
    c->max_conv_dim = 0;
    for (int i = 0; i < n_enc; i++) {
        char name[64];
        sg_shape s;
        int rows = 0;
        snprintf(name, sizeof name, "generator.encode.%d.conv2.weight", i);
        if ((st = need(w, name, 4, &s, err)) != SG_OK ||
            (st = dim_param(w, name, &s, 0, 1, SG_CFG_MAX_CONV, &rows, err)) != SG_OK)
            return st;
        if (rows > c->max_conv_dim) c->max_conv_dim = rows;
    }
    return SG_OK;
}

static sg_status derive_domains(sg_weights *w, sg_config *c, sg_error *err) {
    const char *csv = w->meta(w, "domains");
    sg_error e = {0};
    if (sg_config_set_domains(c, csv, &e) == SG_OK) return SG_OK;
    return sg_error_set(err, e.status, "%s: metadata domains: %s", w->source, e.msg);
}

sg_status sg_config_derive(sg_weights *w, sg_config *cfg, sg_error *err) {
    if (!w || !cfg) return sg_error_set(err, SG_ERR_ARG, "sg_config_derive: NULL argument");
    sg_config c;
    memset(&c, 0, sizeof c);
    sg_status st = derive_mapping(w, &c, err);
    if (st == SG_OK) st = derive_img(w, &c, err);
    if (st == SG_OK) st = derive_encode(w, &c, err);
    if (st == SG_OK) {
        int p = present(w, "fan.conv1.conv.weight", err);
        if (p < 0) st = (sg_status)-p;
        c.has_fan = p > 0;
    }
    if (st == SG_OK) st = derive_domains(w, &c, err);
    if (st == SG_OK) st = sg_config_check(&c, err);
    if (st == SG_OK) *cfg = c;
    return st;
}

/* ---- checks and domains --------------------------------------------------------------------- */
static sg_status check_range(const char *what, int v, int lo, int hi, sg_error *err) {
    if (v >= lo && v <= hi) return SG_OK;
    return sg_error_set(err, SG_ERR_ARG, "config: %s = %d, expected %d..%d", what, v, lo, hi);
}

/* A domain name: non-empty, at most 31 bytes, no control bytes or commas (names travel as CSV). */
static bool domain_name_ok(const char *s, size_t len) {
    if (len == 0 || len > 31) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == ',' || s[i] == 0x7f) return false;
    return true;
}

static sg_status check_domains(const sg_config *c, sg_error *err) {
    for (int i = 0; i < c->num_domains; i++) {
        size_t len = strnlen(c->domains[i], sizeof c->domains[i]);
        if (len == sizeof c->domains[i] || !domain_name_ok(c->domains[i], len))
            return sg_error_set(err, SG_ERR_ARG, "config: domain %d has an invalid name", i);
        for (int j = 0; j < i; j++)
            if (strcmp(c->domains[i], c->domains[j]) == 0)
                return sg_error_set(err, SG_ERR_ARG, "config: domain name %s appears twice",
                                    c->domains[i]);
    }
    return SG_OK;
}

sg_status sg_config_check(const sg_config *c, sg_error *err) {
    if (!c) return sg_error_set(err, SG_ERR_ARG, "config: NULL");
    sg_status st = SG_OK;
    if (!is_pow2_img(c->img_size))
        st =
            sg_error_set(err, SG_ERR_ARG,
                         "config: img_size = %d, expected a power of two in 64..1024", c->img_size);
    if (st == SG_OK) st = check_range("style_dim", c->style_dim, 1, SG_CFG_MAX_DIM, err);
    if (st == SG_OK) st = check_range("latent_dim", c->latent_dim, 1, SG_CFG_MAX_DIM, err);
    if (st == SG_OK) st = check_range("num_domains", c->num_domains, 1, SG_MAX_DOMAINS, err);
    if (st == SG_OK) st = check_range("max_conv_dim", c->max_conv_dim, 1, SG_CFG_MAX_CONV, err);
    if (st == SG_OK) st = check_range("w_hpf", c->w_hpf, 0, 1, err);
    if (st == SG_OK) st = check_range("has_fan", c->has_fan, 0, 1, err);
    if (st == SG_OK) st = check_domains(c, err);
    return st;
}

/* Splits csv into names (surrounding spaces trimmed); the count must be cfg->num_domains. */
static sg_status parse_domains(const char *csv, int want, char (*names)[32], sg_error *err) {
    char q[SG_MSG_NAME_CAP]; /* csv made safe for a one-line message */
    sg_msg_name(csv, q, sizeof q);
    int n = 0;
    for (const char *p = csv;; n++) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        while (p < end && *p == ' ') p++;
        while (end > p && end[-1] == ' ') end--;
        if (n >= want)
            return sg_error_set(err, SG_ERR_ARG, "more than %d domain names in \"%s\"", want, q);
        if (!domain_name_ok(p, (size_t)(end - p)))
            return sg_error_set(err, SG_ERR_ARG,
                                "domain name %d in \"%s\" is empty, longer than 31 bytes or "
                                "holds control bytes",
                                n, q);
        memcpy(names[n], p, (size_t)(end - p));
        names[n][end - p] = '\0';
        for (int j = 0; j < n; j++)
            if (strcmp(names[j], names[n]) == 0)
                return sg_error_set(err, SG_ERR_ARG, "domain name %s appears twice", names[n]);
        if (!comma) break;
        p = comma + 1;
    }
    if (n + 1 != want)
        return sg_error_set(err, SG_ERR_ARG, "%d domain names in \"%s\", the model has %d", n + 1,
                            q, want);
    return SG_OK;
}

sg_status sg_config_set_domains(sg_config *cfg, const char *csv, sg_error *err) {
    if (!cfg) return sg_error_set(err, SG_ERR_ARG, "config: NULL");
    if (cfg->num_domains < 1 || cfg->num_domains > SG_MAX_DOMAINS)
        return sg_error_set(err, SG_ERR_ARG, "config: num_domains = %d, expected 1..%d",
                            cfg->num_domains, SG_MAX_DOMAINS);
    char names[SG_MAX_DOMAINS][32];
    memset(names, 0, sizeof names);
    if (!csv || !*csv) {
        for (int i = 0; i < cfg->num_domains; i++)
            snprintf(names[i], sizeof names[i], "domain%d", i);
    } else {
        sg_status st = parse_domains(csv, cfg->num_domains, names, err);
        if (st != SG_OK) return st; /* cfg unchanged */
    }
    memcpy(cfg->domains, names, sizeof names);
    return SG_OK;
}

int sg_config_domain(const sg_config *cfg, const char *s) {
    if (!cfg || !s || !*s) return -1;
    for (int i = 0; i < cfg->num_domains && i < SG_MAX_DOMAINS; i++)
        if (strcmp(cfg->domains[i], s) == 0) return i;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 4) return -1; /* digits only, no sign, short */
        v = v * 10 + (*p - '0');
    }
    return v < cfg->num_domains ? (int)v : -1;
}
