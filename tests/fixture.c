#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_fixture_open(tu_fixture *f, const char *name) {
    memset(f, 0, sizeof *f);
    char rel[128];
    snprintf(rel, sizeof rel, "%s.io.safetensors", name);
    sg_error err = {0};
    if (sg_safetensors_open(tu_fixture_path(rel), &f->fx, &err)) fail_msg("%s", err.msg);
    sg_config cfg = {0};
    const char *keys[] = {"img_size",    "style_dim",    "latent_dim",
                          "num_domains", "max_conv_dim", "w_hpf"};
    int *fields[] = {&cfg.img_size,    &cfg.style_dim,    &cfg.latent_dim,
                     &cfg.num_domains, &cfg.max_conv_dim, &cfg.w_hpf};
    for (int i = 0; i < 6; i++) {
        const char *v = f->fx->meta(f->fx, keys[i]);
        assert_non_null(v);
        *fields[i] = atoi(v);
    }
    sg_weights *w;
    if (sg_config_set_domains(&cfg, NULL, &err) || sg_spec_v1_open(&w, &err) ||
        sg_engine_init(&f->e, w, &cfg, &err) || sg_run_init(&f->run, &f->e, &err))
        fail_msg("%s", err.msg);
    sg_shape sh;
    assert_int_equal(f->fx->shape(f->fx, "x_src", &sh, &err), SG_OK);
    f->n = (int)sh.dims[0];
    return 0;
}

void tu_fixture_close(tu_fixture *f) {
    sg_run_free(&f->run);
    sg_engine_free(&f->e);
    sg_weights_free(f->fx);
}

const float *tu_fixture_get(tu_fixture *f, const char *name, size_t *numel) {
    sg_shape sh;
    sg_error err = {0};
    const float *p = NULL;
    if (f->fx->shape(f->fx, name, &sh, &err) || f->fx->get(f->fx, name, &sh, &p, &err))
        fail_msg("fixture tensor %s: %s", name, err.msg);
    size_t n = 1;
    for (int i = 0; i < sh.ndim; i++) n *= (size_t)sh.dims[i];
    if (numel) *numel = n;
    return p;
}

void tu_assert_fixture_match(const char *what, const float *ours, const float *ref, size_t n) {
    double scale = tu_max_abs(ref, n);
    if (scale < 1) scale = 1;
    double mx, mean;
    tu_diff(ours, ref, n, &mx, &mean);
    print_message("%s max_abs=%.3e mean_abs=%.3e (tol %.1e / %.1e)\n", what, mx, mean, 1e-3 * scale,
                  1e-4 * scale);
    tu_assert_close(what, ours, ref, n, 1e-3 * scale, 1e-4 * scale);
}
