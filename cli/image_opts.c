/* The image output options of the commands that write one image (translate, align):
 * image_opts.h. */
#include "image_opts.h"

#include <stdio.h>
#include <stdlib.h>

int cli_image_opts(const char *cmd, const cli_opt *o, int *quality, int64_t *max_pixels) {
    const char *out = cli_get(o, "--out"), *q = cli_get(o, "--quality");
    const char *mp = cli_get(o, "--max-pixels");
    char *end;
    long qv = strtol(q, &end, 10);
    if (!*q || *end || qv < 1 || qv > 100) {
        fprintf(stderr, "stargan %s: --quality must be in 1..100\n", cmd);
        return -1;
    }
    long long mv = strtoll(mp, &end, 10);
    if (!*mp || *end || mv < 1) {
        fprintf(stderr, "stargan %s: --max-pixels must be a positive number\n", cmd);
        return -1;
    }
    /* a batch (--out-dir) names its outputs itself */
    if (!(!out && cli_get(o, "--out-dir")) &&
        (!out || sg_image_format_from_path(out) == SG_FORMAT_UNKNOWN)) {
        fprintf(stderr, "stargan %s: --out must end in .png, .jpg or .jpeg\n", cmd);
        return -1;
    }
    *quality = (int)qv, *max_pixels = mv;
    return 0;
}
