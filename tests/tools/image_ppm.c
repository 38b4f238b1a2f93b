/* image_ppm: a photo as the project's own decoder sees it, written as a binary PPM (P6, maxval
 * 255), so the face detector's reference (tests/tools/detect_ref) reads exactly the pixels our C
 * detector gets: sg_image_load with the JPEG EXIF orientation applied (as the server and CLI do).
 *   image_ppm [--no-exif] [--resize WxH] IMG [OUT.ppm]   (no OUT or "-": stdout)
 * --resize: Pillow BILINEAR resize of the decoded photo to W×H (sg_image_resize), for timing
 * inputs of a given size. Exit 0, or 1 with one line on stderr; 2 for a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../image/image.h"

static int usage(void) {
    fprintf(stderr, "usage: image_ppm [--no-exif] [--resize WxH] IMG [OUT.ppm]\n");
    return 2;
}

int main(int argc, char **argv) {
    int exif = 1, rw = 0, rh = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--no-exif")) {
            exif = 0;
        } else if (!strcmp(argv[i], "--resize") && i + 1 < argc) {
            char x;
            if (sscanf(argv[++i], "%d%c%d", &rw, &x, &rh) != 3 || x != 'x' || rw <= 0 || rh <= 0)
                return usage();
        } else {
            return usage();
        }
    }
    if (argc - i < 1 || argc - i > 2) return usage();
    const char *in = argv[i], *out = argc - i == 2 ? argv[i + 1] : "-";

    sg_error err = {0};
    sg_image img = {0};
    if (sg_image_load(in, SG_IMAGE_DEFAULT_MAX_PIXELS, exif, &img, &err) != SG_OK) {
        fprintf(stderr, "image_ppm: %s\n", err.msg);
        return 1;
    }
    if (rw) {
        sg_image big = {0};
        if (sg_image_resize(&img, 0, 0, img.w, img.h, rw, rh, &big, &err) != SG_OK) {
            fprintf(stderr, "image_ppm: %s\n", err.msg);
            sg_image_free(&img);
            return 1;
        }
        sg_image_free(&img);
        img = big;
    }
    FILE *f = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!f) {
        perror(out);
        sg_image_free(&img);
        return 1;
    }
    size_t n = (size_t)img.w * img.h * 3;
    int bad = fprintf(f, "P6\n%d %d\n255\n", img.w, img.h) < 0 || fwrite(img.pixels, 1, n, f) != n;
    bad |= f == stdout ? fflush(f) != 0 : fclose(f) != 0;
    sg_image_free(&img);
    if (bad) {
        fprintf(stderr, "image_ppm: cannot write %s\n", out);
        return 1;
    }
    return 0;
}
