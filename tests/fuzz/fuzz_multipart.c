/* Fuzz target: the multipart/form-data parser over arbitrary bodies. The first byte picks one of
 * a few boundaries (so mutations of a body keep meeting its boundary); every part found must lie
 * inside the body, and the Content-Type boundary reader gets the input as a header too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/internal.h"

static const char *const boundaries[] = {"b", "XyZ", "----WebKitFormBoundary7MA4YWxkTrZu0gW",
                                         "------------------------d74496d66958873e"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *b = boundaries[data[0] % 4];
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    sg_mp_form form;
    sg_error err;
    if (sg_multipart_parse(body, len, b, &form, &err) == SG_OK) {
        for (int i = 0; i < form.n; i++) {
            const sg_mp_part *p = &form.parts[i];
            if (p->data < body || p->data + p->len > body + len || !p->name[0]) abort();
        }
    }
    /* the same bytes as a Content-Type header value */
    char ct[256];
    size_t n = len < sizeof ct - 1 ? len : sizeof ct - 1;
    memcpy(ct, body, n);
    ct[n] = 0;
    char out[80];
    sg_multipart_boundary(ct, out, sizeof out, &err);
    return 0;
}
