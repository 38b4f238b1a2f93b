/* Style sampling: a portable latent sampler, mean style, truncation.
 *
 * Latent stream (documented so that a seed gives the same z on every machine):
 *   state = seed; next() = splitmix64: state += 0x9E3779B97F4A7C15; t = state;
 *   t = (t ^ (t >> 30))·0xBF58476D1CE4E5B9; t = (t ^ (t >> 27))·0x94D049BB133111EB; t ^ (t >> 31).
 *   u = ((next() >> 11) + 0.5) / 2^53, in (0, 1), in double.
 *   For each pair k: u1, u2 = two successive u; r = sqrt(-2·ln u1);
 *   z[2k] = r·cos(2π·u2), z[2k+1] = r·sin(2π·u2) (Box-Muller), rounded once to float.
 * Only IEEE double arithmetic and libm's sqrt/log/cos/sin are involved (the last three round
 * below float precision on any conforming libm, so the float results agree across machines). */
#include <math.h>
#include <stdlib.h>

#include "styles.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t t = (*state += 0x9E3779B97F4A7C15ull);
    t = (t ^ (t >> 30)) * 0xBF58476D1CE4E5B9ull;
    t = (t ^ (t >> 27)) * 0x94D049BB133111EBull;
    return t ^ (t >> 31);
}

static double uniform_open(uint64_t *state) {
    return ((double)(splitmix64(state) >> 11) + 0.5) / 9007199254740992.0;
}

void sg_latent_sample(uint64_t seed, float *z, int n) {
    uint64_t st = seed;
    for (int k = 0; k < n; k += 2) {
        double u1 = uniform_open(&st), u2 = uniform_open(&st);
        double r = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
        z[k] = (float)(r * cos(a));
        if (k + 1 < n) z[k + 1] = (float)(r * sin(a));
    }
}

/* s_avg draws use seeds SG_SAVG_SEED_BASE + k, so they never collide with small user seeds */
#define SG_SAVG_SEED_BASE 0x5AF6000000000000ull
#define BATCH             250

sg_status sg_style_mean(const sg_mapping *m, int y, int draws, float *s_avg, sg_error *err) {
    if (draws <= 0) return sg_error_set(err, SG_ERR_ARG, "style mean: draws must be > 0");
    float *z = malloc(sizeof(float) * BATCH * (size_t)m->latent_dim);
    float *s = malloc(sizeof(float) * BATCH * (size_t)m->style_dim);
    float *scratch = malloc(sizeof(float) * 2 * BATCH * SG_MAPPING_HIDDEN);
    int *ys = malloc(sizeof(int) * BATCH);
    double *acc = calloc((size_t)m->style_dim, sizeof(double));
    sg_status st = SG_OK;
    if (!z || !s || !scratch || !ys || !acc) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < BATCH && st == SG_OK; i++) ys[i] = y;
    for (int k = 0; k < draws && st == SG_OK; k += BATCH) {
        int b = draws - k < BATCH ? draws - k : BATCH;
        for (int i = 0; i < b; i++)
            sg_latent_sample(SG_SAVG_SEED_BASE + (uint64_t)(k + i), z + (size_t)i * m->latent_dim,
                             m->latent_dim);
        st = sg_mapping_forward(m, z, ys, b, s, scratch, err);
        for (int i = 0; i < b && st == SG_OK; i++)
            for (int j = 0; j < m->style_dim; j++) acc[j] += s[(size_t)i * m->style_dim + j];
    }
    for (int j = 0; j < m->style_dim && st == SG_OK; j++) s_avg[j] = (float)(acc[j] / draws);
    free(z), free(s), free(scratch), free(ys), free(acc);
    return st;
}

void sg_style_truncate(float *s, const float *s_avg, int dim, float psi) {
    for (int j = 0; j < dim; j++) s[j] = s_avg[j] + psi * (s[j] - s_avg[j]);
}
