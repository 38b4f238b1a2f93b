/* sg_model_open: picks the source by content, not by extension, so a renamed file still opens:
 * safetensors, or a torch checkpoint (the StarGAN v2 release files). */
#include "model_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* safetensors: a little-endian u64 header length of sane size, then the JSON object's '{'. */
static bool looks_safetensors(const unsigned char *h, size_t n) {
    if (n < 9 || h[8] != '{') return false;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | h[i];
    return len >= 2 && len <= SG_ST_MAX_HEADER;
}

/* torch.save output: a zip archive (PyTorch ≥ 1.6) or a pickle (PROTO 2..5; the legacy format
 * starts with a protocol-2 pickle of its magic number). */
static bool looks_torch(const unsigned char *h, size_t n) {
    return (n >= 4 && memcmp(h, "PK\x03\x04", 4) == 0) ||
           (n >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5);
}

sg_status sg_model_open(const char *path, sg_weights **out, sg_error *err) {
    if (!path || !out) return sg_error_set(err, SG_ERR_ARG, "sg_model_open: NULL argument");
    *out = NULL;
    unsigned char head[16];
    FILE *f = fopen(path, "rb");
    if (!f) return sg_error_set(err, SG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    /* a .safetensors name gets the reader's precise diagnosis even when the content is broken */
    if (looks_safetensors(head, n) || ends_with(path, ".safetensors"))
        return sg_safetensors_open(path, out, err);
    /* likewise a checkpoint's name gets the checkpoint reader's diagnosis */
    if (looks_torch(head, n) || ends_with(path, ".ckpt") || ends_with(path, ".pth") ||
        ends_with(path, ".pt"))
        return sg_ckpt_open(path, out, err);
    return sg_error_set(err, SG_ERR_FORMAT,
                        "%s: not a safetensors model file nor a torch checkpoint", path);
}
