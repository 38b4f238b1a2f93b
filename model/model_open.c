/* sg_model_open: picks the source by content, not by extension, so a renamed file still opens
 * and a release checkpoint gets a clear "not supported yet" instead of a JSON error. */
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

/* torch.save output: a zip archive (PyTorch ≥ 1.6) or a pickle (protocol 2, legacy format). */
static bool looks_torch(const unsigned char *h, size_t n) {
    return (n >= 4 && memcmp(h, "PK\x03\x04", 4) == 0) || (n >= 2 && h[0] == 0x80 && h[1] == 2);
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
    /* a .ckpt loader will plug in here through the same sg_weights vtable */
    return sg_error_set(err, looks_torch(head, n) ? SG_ERR_UNSUPPORTED : SG_ERR_FORMAT,
                        "%s: not a safetensors model file (release .ckpt files are not supported "
                        "yet)",
                        path);
}
