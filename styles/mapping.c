/* MappingNetwork (docs/networks.md "MappingNetwork"): z → shared MLP → per-domain head → s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "styles.h"

#define H SG_MAPPING_HIDDEN

/* "<name>.weight" [out, in] and "<name>.bias" [out] */
static sg_status bind_linear(sg_weights *w, const char *name, int out, int in, const float **wt,
                             const float **b, size_t *params, sg_error *err) {
    const sg_weight_spec spec[] = {{"weight", wt, 2, {out, in}}, {"bias", b, 1, {out}}};
    return sg_weights_bind(w, name, spec, SG_SPEC_COUNT(spec), params, err);
}

sg_status sg_mapping_init(sg_mapping *m, const sg_config *cfg, sg_weights *w, sg_error *err) {
    memset(m, 0, sizeof *m);
    m->latent_dim = cfg->latent_dim, m->style_dim = cfg->style_dim;
    m->num_domains = cfg->num_domains;
    char name[96];
    sg_status st;
    for (int l = 0; l < 4; l++) {
        snprintf(name, sizeof name, "mapping_network.shared.%d", 2 * l);
        if ((st = bind_linear(w, name, H, l ? H : m->latent_dim, &m->shared_w[l], &m->shared_b[l],
                              &m->params, err)))
            return st;
    }
    size_t heads = (size_t)m->num_domains * 4;
    m->unshared_w = calloc(heads, sizeof *m->unshared_w);
    m->unshared_b = calloc(heads, sizeof *m->unshared_b);
    if (!m->unshared_w || !m->unshared_b) {
        sg_mapping_free(m);
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    for (int d = 0; d < m->num_domains; d++)
        for (int l = 0; l < 4; l++) {
            snprintf(name, sizeof name, "mapping_network.unshared.%d.%d", d, 2 * l);
            int out = l == 3 ? m->style_dim : H;
            if ((st = bind_linear(w, name, out, H, &m->unshared_w[d * 4 + l],
                                  &m->unshared_b[d * 4 + l], &m->params, err))) {
                sg_mapping_free(m);
                return st;
            }
        }
    return SG_OK;
}

void sg_mapping_free(sg_mapping *m) {
    free(m->unshared_w);
    free(m->unshared_b);
    m->unshared_w = m->unshared_b = NULL;
}

double sg_mapping_flops(const sg_mapping *m) {
    /* shared once, plus one head (each sample uses its own domain's head) */
    return 2.0 * ((double)m->latent_dim * H + 6.0 * H * H + (double)H * m->style_dim);
}

sg_status sg_mapping_forward(const sg_mapping *m, const float *z, const int *y, int n, float *s,
                             float *scratch, sg_error *err) {
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= m->num_domains)
            return sg_error_set(err, SG_ERR_ARG, "domain %d out of range [0, %d)", y[i],
                                m->num_domains);
    float *a = scratch, *b = scratch + (size_t)n * H; /* [N, 512] each */
    sg_linear(z, n, m->latent_dim, m->shared_w[0], m->shared_b[0], H, a);
    sg_relu(a, (size_t)n * H);
    for (int l = 1; l < 4; l++) {
        sg_linear(a, n, H, m->shared_w[l], m->shared_b[l], H, b);
        sg_relu(b, (size_t)n * H);
        float *t = a;
        a = b;
        b = t;
    }
    /* heads: runs of samples with the same domain share one GEMM */
    for (int i = 0; i < n;) {
        int j = i, d = y[i];
        while (j < n && y[j] == d) j++;
        int rows = j - i;
        float *u = a + (size_t)i * H, *v = b + (size_t)i * H;
        for (int l = 0; l < 3; l++) {
            sg_linear(u, rows, H, m->unshared_w[d * 4 + l], m->unshared_b[d * 4 + l], H, v);
            sg_relu(v, (size_t)rows * H);
            float *t = u;
            u = v;
            v = t;
        }
        sg_linear(u, rows, H, m->unshared_w[d * 4 + 3], m->unshared_b[d * 4 + 3], m->style_dim,
                  s + (size_t)i * m->style_dim);
        i = j;
    }
    return SG_OK;
}
