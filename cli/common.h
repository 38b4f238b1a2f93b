#ifndef SG_CLI_COMMON_H
#define SG_CLI_COMMON_H
#include "cli.h"

/* One of the reference configurations by name (afhq, celeba_hq, mini), with its domain names. */
sg_status cli_preset(const char *name, sg_config *cfg, sg_error *err);
/* A model file (configuration derived from it), or spec-v1 weights for a preset. */
sg_status cli_open(const char *model, const char *preset, sg_weights **w, sg_config *cfg,
                   sg_error *err);
/* cli_open, then every network bound into e (which owns the weights from then on). */
sg_status cli_open_engine(const char *model, const char *preset, sg_engine *e, sg_error *err);

/* The option rows and checks the image-writing commands (translate, align) share: --out names a
 * .png, .jpg or .jpeg, --quality is 1..100, --max-pixels a positive count. cli_image_opts prints
 * "stargan CMD: ..." and returns -1 when one is wrong. */
#define CLI_IMAGE_OPTS                                                                             \
    {"--quality", "Q", "JPEG quality 1..100", "90"},                                               \
        {"--max-pixels", "N", "refuse photos with more pixels", "40000000"}, {                     \
        "--help", NULL, "show this help", NULL                                                     \
    }
int cli_image_opts(const char *cmd, const cli_opt *o, int *quality, int64_t *max_pixels);
#endif
