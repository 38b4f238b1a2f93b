/* engine/: a loaded model ready to translate photos, split llama2.c-style into
 *   sg_engine: read-only after open: the weights source, the configuration, the networks, and the
 *              per-domain mean styles (computed on first use under a lock, then cached);
 *   sg_run:    one worker's run state: the activation arena and conv workspace, planned once from
 *              the configuration and reused for every request.
 * Any number of threads may share one engine, each with its own sg_run. The CLI and the server
 * both drive translation through this API. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include <pthread.h>

#include "../image/image.h"
#include "../styles/styles.h"

#define SG_STYLE_MEAN_DRAWS 10000

typedef struct {
    sg_config cfg;
    sg_weights *w;
    sg_weights *fan_w; /* a separate face-network source (--fan), or NULL */
    sg_generator gen;
    sg_mapping map;
    sg_style_encoder enc;
    float *s_avg; /* [num_domains, style_dim] */
    uint8_t *s_avg_ready;
    pthread_mutex_t s_avg_lock;
} sg_engine;

typedef struct {
    sg_arena arena; /* activations for one image */
    sg_workspace ws;
} sg_run;

/* Milliseconds spent per stage by the last call that filled it (NULL: not measured). */
typedef struct {
    double faces_ms, style_ms, generator_ms;
} sg_timing;

/* Opens a model file (sg_model_open), derives its configuration and binds every network.
 * fan_path (may be NULL) names a separate source of the face network's `fan.*` tensors (a model
 * file or wing.ckpt); otherwise they are looked for in the model itself. */
sg_status sg_engine_open(sg_engine *e, const char *model_path, const char *fan_path,
                         sg_error *err);
/* Same from an already-open source (owned by the engine from then on, even on failure). */
sg_status sg_engine_init(sg_engine *e, sg_weights *w, const sg_config *cfg, sg_error *err);
void sg_engine_free(sg_engine *e);

/* A run state sized for this engine's networks on one image. */
sg_status sg_run_init(sg_run *r, const sg_engine *e, sg_error *err);
void sg_run_free(sg_run *r);

/* Style code s[style_dim] from a reference photo of domain y. */
sg_status sg_engine_style_ref(const sg_engine *e, sg_run *r, const sg_image *ref, sg_fit fit,
                              int y, float *s, sg_error *err);
/* Style code from the latent sampler seeded by seed, truncated towards the domain's mean style
 * by psi (1 = no truncation). The first psi < 1 call for a domain computes its mean style. */
sg_status sg_engine_style_latent(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                 sg_error *err);
/* The photo translated with style s: out is img_size × img_size RGB. t may be NULL. */
sg_status sg_engine_translate(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                              const float *s, sg_image *out, sg_timing *t, sg_error *err);

double sg_now_ms(void); /* monotonic clock */

#endif
