/* cli/image_opts: the output options of the commands that write an image. */
#ifndef SG_CLI_IMAGE_OPTS_H
#define SG_CLI_IMAGE_OPTS_H
#include "cli.h"

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
