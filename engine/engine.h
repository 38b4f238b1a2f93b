/* engine/: one loaded model ready to translate photos: the weights source, the configuration,
 * the three networks, the run state (activation arena + conv workspace, planned once), and the
 * per-domain mean styles (computed on first use, then cached). The CLI and the server both drive
 * translation through this API. Not thread-safe: use one engine (or one run state) per worker. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include "../image/image.h"
#include "../styles/styles.h"

#define SG_STYLE_MEAN_DRAWS 10000

typedef struct {
    sg_config cfg;
    sg_weights *w;
    sg_generator gen;
    sg_mapping map;
    sg_style_encoder enc;
    sg_arena arena; /* activations for one image */
    sg_workspace ws;
    float *s_avg;   /* [num_domains, style_dim] */
    uint8_t *s_avg_ready;
} sg_engine;

/* Opens a model file (sg_model_open), derives its configuration and binds every network. */
sg_status sg_engine_open(sg_engine *e, const char *model_path, sg_error *err);
/* Same from an already-open source (owned by the engine from then on, even on failure). */
sg_status sg_engine_init(sg_engine *e, sg_weights *w, const sg_config *cfg, sg_error *err);
void sg_engine_free(sg_engine *e);

/* Style code s[style_dim] from a reference photo of domain y. */
sg_status sg_engine_style_ref(sg_engine *e, const sg_image *ref, sg_fit fit, int y, float *s,
                              sg_error *err);
/* Style code from the latent sampler seeded by seed, truncated towards the domain's mean style
 * by psi (1 = no truncation). */
sg_status sg_engine_style_latent(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                 sg_error *err);
/* The photo translated with style s: out is size×size RGB. */
sg_status sg_engine_translate(sg_engine *e, const sg_image *src, sg_fit fit, const float *s,
                              sg_image *out, sg_error *err);

#endif
