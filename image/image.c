/* image/: format sniffing, decode dispatch, file load/save. The codecs live in image_png.c and
 * image_jpeg.c, EXIF in image_exif.c, resampling in image_resize.c, tensors in image_tensor.c. */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A photo file larger than this is refused before reading it (no real photo is near it). */
#define SG_IMAGE_MAX_FILE_BYTES ((size_t)256 << 20)

sg_image_format sg_image_sniff(const uint8_t *data, size_t len) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!data) return SG_FORMAT_UNKNOWN;
    if (len >= 8 && memcmp(data, png_sig, 8) == 0) return SG_FORMAT_PNG;
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return SG_FORMAT_JPEG;
    return SG_FORMAT_UNKNOWN;
}

sg_image_format sg_image_format_from_path(const char *path) {
    if (!path) return SG_FORMAT_UNKNOWN;
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return SG_FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".png") == 0) return SG_FORMAT_PNG;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0) return SG_FORMAT_JPEG;
    return SG_FORMAT_UNKNOWN;
}

int sg_fit_parse(const char *s, sg_fit *fit) {
    if (!s) return -1;
    if (!strcmp(s, "crop")) *fit = SG_FIT_CROP;
    else if (!strcmp(s, "stretch")) *fit = SG_FIT_STRETCH;
    else if (!strcmp(s, "align")) *fit = SG_FIT_ALIGN;
    else return -1;
    return 0;
}

int sg_image_format_parse(const char *s, sg_image_format *fmt) {
    if (!s) return -1;
    if (!strcasecmp(s, "png")) *fmt = SG_FORMAT_PNG;
    else if (!strcasecmp(s, "jpeg") || !strcasecmp(s, "jpg")) *fmt = SG_FORMAT_JPEG;
    else return -1;
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* JPEG: the first start-of-frame marker (SOF0..SOF15 but DHT, JPG and DAC), walking the
 * segments by their lengths. */
static int jpeg_dims(const uint8_t *d, size_t n, int64_t *w, int64_t *h) {
    size_t p = 2;
    while (p + 4 <= n) {
        if (d[p] != 0xFF) return -1;
        uint8_t m = d[p + 1];
        if (m == 0xFF) { /* fill byte */
            p++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            p += 2;
            continue;
        }
        size_t seg = (size_t)d[p + 2] << 8 | d[p + 3];
        if (seg < 2) return -1;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (p + 9 > n) return -1;
            *h = (int64_t)d[p + 5] << 8 | d[p + 6];
            *w = (int64_t)d[p + 7] << 8 | d[p + 8];
            return 0;
        }
        if (m == 0xD9 || m == 0xDA) return -1; /* no frame header before the data */
        p += 2 + seg;
    }
    return -1;
}

static int header_dims(const uint8_t *data, size_t len, int64_t *w, int64_t *h) {
    switch (sg_image_sniff(data, len)) {
    case SG_FORMAT_PNG:
        if (len < 24 || memcmp(data + 12, "IHDR", 4)) return -1;
        *w = be32(data + 16), *h = be32(data + 20);
        return 0;
    case SG_FORMAT_JPEG: return jpeg_dims(data, len, w, h);
    default: return -1;
    }
}

int sg_image_dims(const uint8_t *data, size_t len, int64_t *w, int64_t *h) {
    /* a PNG header may claim 2^32-1 by 2^32-1: the sides are checked before anyone multiplies */
    if (header_dims(data, len, w, h)) return -1;
    return *w <= 0 || *h <= 0 || *w > SG_IMAGE_MAX_SIDE || *h > SG_IMAGE_MAX_SIDE ? -1 : 0;
}

sg_status sg_image_check_dims(int64_t w, int64_t h, int64_t max_pixels, const char *what,
                              sg_error *err) {
    if (w <= 0 || h <= 0)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: empty image (%lldx%lld)", what, (long long)w,
                            (long long)h);
    if (w > SG_IMAGE_MAX_SIDE || h > SG_IMAGE_MAX_SIDE)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: %lldx%lld exceeds the %d pixel side limit",
                            what, (long long)w, (long long)h, SG_IMAGE_MAX_SIDE);
    if (w * h > max_pixels)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: %lldx%lld exceeds the %lld pixel limit", what,
                            (long long)w, (long long)h, (long long)max_pixels);
    return SG_OK;
}

sg_status sg_image_alloc(sg_image *out, int w, int h, sg_error *err) {
    out->pixels = malloc((size_t)w * (size_t)h * 3);
    if (!out->pixels) return sg_error_set(err, SG_ERR_NOMEM, "cannot allocate a %dx%d image", w, h);
    out->w = w;
    out->h = h;
    return SG_OK;
}

void sg_image_free(sg_image *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
    img->w = img->h = 0;
}

sg_status sg_image_decode(const uint8_t *data, size_t len, int64_t max_pixels, int apply_exif,
                          sg_image *out, sg_error *err) {
    if (!out) return sg_error_set(err, SG_ERR_ARG, "image decode: no output image");
    out->pixels = NULL;
    out->w = out->h = 0;
    if (!data || len == 0) return sg_error_set(err, SG_ERR_FORMAT, "image decode: empty input");
    switch (sg_image_sniff(data, len)) {
    case SG_FORMAT_PNG: return sg_png_decode(data, len, max_pixels, out, err);
    case SG_FORMAT_JPEG: return sg_jpeg_decode(data, len, max_pixels, apply_exif, out, err);
    default: break;
    }
    return sg_error_set(err, SG_ERR_FORMAT, "image decode: not a PNG or JPEG file");
}

/* Reads a whole file into a malloc'd buffer, refusing files over SG_IMAGE_MAX_FILE_BYTES. */
static sg_status read_file(const char *path, uint8_t **buf, size_t *len, sg_error *err) {
    sg_file_info st;
    int fd = sg_file_open_regular(path, &st, err); /* a FIFO is refused, not waited on */
    if (fd < 0) return err ? err->status : SG_ERR_IO;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return sg_error_set(err, SG_ERR_NOMEM, "%s: %s", path, strerror(errno));
    }
    if ((uint64_t)st.size > SG_IMAGE_MAX_FILE_BYTES) {
        fclose(f);
        return sg_error_set(err, SG_ERR_LIMIT, "%s: %lld bytes exceeds the %zu byte limit", path,
                            (long long)st.size, SG_IMAGE_MAX_FILE_BYTES);
    }
    size_t n = (size_t)st.size;
    *buf = malloc(n ? n : 1);
    if (!*buf) {
        fclose(f);
        return sg_error_set(err, SG_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = fread(*buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(*buf);
        *buf = NULL;
        return sg_error_set(err, SG_ERR_IO, "%s: short read", path);
    }
    *len = n;
    return SG_OK;
}

sg_status sg_image_load(const char *path, int64_t max_pixels, int apply_exif, sg_image *out,
                        sg_error *err) {
    if (!path || !out) return sg_error_set(err, SG_ERR_ARG, "image load: no path or output");
    out->pixels = NULL;
    out->w = out->h = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    sg_status s = read_file(path, &buf, &len, err);
    if (s != SG_OK) return s;
    s = sg_image_decode(buf, len, max_pixels, apply_exif, out, err);
    free(buf);
    if (s != SG_OK && err) {
        /* prefix the file name so the one-line message says which input was bad */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        sg_error_set(err, s, "%s: %s", path, msg);
    }
    return s;
}

sg_status sg_image_encode(const sg_image *img, sg_image_format fmt, int quality, uint8_t **out,
                          size_t *out_len, sg_error *err) {
    if (!out || !out_len) return sg_error_set(err, SG_ERR_ARG, "image encode: no output");
    *out = NULL;
    *out_len = 0;
    if (!img || !img->pixels || img->w <= 0 || img->h <= 0 || img->w > SG_IMAGE_MAX_SIDE ||
        img->h > SG_IMAGE_MAX_SIDE)
        return sg_error_set(err, SG_ERR_ARG, "image encode: invalid image");
    if (fmt == SG_FORMAT_PNG) return sg_png_encode(img, out, out_len, err);
    if (fmt == SG_FORMAT_JPEG) {
        if (quality < 1 || quality > 100)
            return sg_error_set(err, SG_ERR_ARG, "JPEG quality %d outside 1..100", quality);
        return sg_jpeg_encode(img, quality, out, out_len, err);
    }
    return sg_error_set(err, SG_ERR_ARG, "image encode: unknown format");
}

/* Creates "<path>.tmp<pid>.<n>" exclusively (mode 0666 less the umask, like a plain fopen). */
static int open_temp(const char *path, char *tmp, size_t cap) {
    for (int n = 0; n < 100; n++) {
        snprintf(tmp, cap, "%s.tmp%ld.%d", path, (long)getpid(), n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes to a temporary file beside path, then renames it over path, so that a reader never
 * sees a half-written image and a failed save leaves any previous file intact. */
static sg_status write_atomic(const char *path, const uint8_t *buf, size_t len, sg_error *err) {
    char tmp[4096];
    if (strlen(path) + 32 > sizeof tmp)
        return sg_error_set(err, SG_ERR_ARG, "output path too long");
    int fd = open_temp(path, tmp, sizeof tmp);
    if (fd < 0) return sg_error_set(err, SG_ERR_IO, "%s: %s", path, strerror(errno));
    int bad = write_all(fd, buf, len);
    int saved = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        unlink(tmp);
        return sg_error_set(err, SG_ERR_IO, "%s: %s", path, strerror(saved));
    }
    return SG_OK;
}

sg_status sg_image_save(const sg_image *img, const char *path, int quality, sg_error *err) {
    if (!path) return sg_error_set(err, SG_ERR_ARG, "image save: no path");
    sg_image_format fmt = sg_image_format_from_path(path);
    if (fmt == SG_FORMAT_UNKNOWN)
        return sg_error_set(err, SG_ERR_ARG, "%s: extension is not .png, .jpg or .jpeg", path);
    uint8_t *buf = NULL;
    size_t len = 0;
    sg_status s = sg_image_encode(img, fmt, quality, &buf, &len, err);
    if (s != SG_OK) return s;
    s = write_atomic(path, buf, len, err);
    free(buf);
    return s;
}
