/* styles/: the style codes. MappingNetwork (z → s per domain), StyleEncoder (image → s per
 * domain), the portable latent sampler, and truncation towards the mean style. */
#ifndef SG_STYLES_H
#define SG_STYLES_H

#include "../generator/generator.h"

#define SG_MAPPING_HIDDEN 512

typedef struct {
    int latent_dim, style_dim, num_domains;
    const float *shared_w[4], *shared_b[4]; /* [512, latent] then [512, 512] ×3 */
    const float **unshared_w, **unshared_b; /* [num_domains·4]: [512,512] ×3, [style, 512] */
    size_t params;
} sg_mapping;

sg_status sg_mapping_init(sg_mapping *m, const sg_config *cfg, sg_weights *w, sg_error *err);
void sg_mapping_free(sg_mapping *m);
double sg_mapping_flops(const sg_mapping *m);
/* s[N, style] = unshared[y[i]](shared(z[N, latent])). scratch: 2·N·512 floats. */
sg_status sg_mapping_forward(const sg_mapping *m, const float *z, const int *y, int n, float *s,
                             float *scratch, sg_error *err);

typedef struct {
    int img_size, style_dim, num_domains, dim_in, n_blocks, dim_out;
    const float *conv0_w, *conv0_b; /* [dim_in, 3, 3, 3] */
    sg_resblk blocks[SG_MAX_BLOCKS];
    const float *conv_last_w, *conv_last_b; /* [dim_out, dim_out, 4, 4] */
    const float **unshared_w, **unshared_b; /* per domain [style, dim_out] */
    size_t params;
} sg_style_encoder;

sg_status sg_style_encoder_init(sg_style_encoder *e, const sg_config *cfg, sg_weights *w,
                                sg_error *err);
void sg_style_encoder_free(sg_style_encoder *e);
size_t sg_style_encoder_plan(const sg_style_encoder *e, int n);
double sg_style_encoder_flops(const sg_style_encoder *e);
/* s[N, style] = E(x[N, 3, S, S], y). */
sg_status sg_style_encoder_forward(const sg_style_encoder *e, const sg_tensor *x, const int *y,
                                   float *s, sg_arena *a, sg_workspace *ws, sg_error *err);

/* Portable latent sampler: z ~ N(0, 1) from a documented generator, so a seed gives the same z
 * on every machine. Stream: splitmix64 over (seed, counter); pairs of uniforms → Box-Muller in
 * double. See styles/sample.c for the exact definition. */
void sg_latent_sample(uint64_t seed, float *z, int n);

/* Mean style over `draws` latent draws (the service uses 10,000) for domain y: s_avg[style].
 * Draw k uses sg_latent_sample with seed 0x5AF6000000000000 + k (see styles/sample.c). */
sg_status sg_style_mean(const sg_mapping *m, int y, int draws, float *s_avg, sg_error *err);
/* s = s_avg + psi·(s - s_avg) */
void sg_style_truncate(float *s, const float *s_avg, int dim, float psi);

#endif
