/* cli/models: a command's model: a model file or a preset's spec-v1 weights, opened and bound,
 * and its domains looked up by name. */
#ifndef SG_CLI_MODELS_H
#define SG_CLI_MODELS_H
#include "cli.h"

/* One of the reference configurations by name (afhq, celeba_hq, mini), with its domain names. */
sg_status cli_preset(const char *name, sg_config *cfg, sg_error *err);
/* A model file (configuration derived from it), or spec-v1 weights for a preset. */
sg_status cli_open(const char *model, const char *preset, sg_weights **w, sg_config *cfg,
                   sg_error *err);
/* cli_open, then every network bound into e (which owns the weights from then on). */
sg_status cli_open_engine(const char *model, const char *preset, sg_engine *e, sg_error *err);

/* The domain called name (or numbered): *y. Else SG_ERR_ARG "unknown domain 'x' (this model's
 * domains: cat, dog, wild)". what, when not NULL, prefixes the message (e.g. a folder). */
sg_status cli_domain(const sg_config *cfg, const char *name, const char *what, int *y,
                     sg_error *err);
#endif
