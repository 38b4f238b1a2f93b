/* A growable byte buffer with a hard cap: uploads never grow past --max-body, and the text
 * builders (JSON, metrics, log lines) share the same code. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void sg_buf_init(sg_buf *b, size_t max) {
    memset(b, 0, sizeof *b);
    b->max = max;
}

void sg_buf_free(sg_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes plus a NUL terminator; grows by doubling (capped at max + 1). */
sg_status sg_buf_reserve(sg_buf *b, size_t n) {
    if (b->max && (n > b->max || b->len > b->max - n)) return SG_ERR_LIMIT;
    size_t need = b->len + n + 1;
    if (need <= b->cap) return SG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max && cap > b->max + 1) cap = b->max + 1;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return SG_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return SG_OK;
}

sg_status sg_buf_append(sg_buf *b, const void *p, size_t n) {
    sg_status st = sg_buf_reserve(b, n);
    if (st) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return SG_OK;
}

sg_status sg_buf_printf(sg_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return SG_ERR_ARG;
    if ((size_t)n < sizeof small) return sg_buf_append(b, small, (size_t)n);
    sg_status st = sg_buf_reserve(b, (size_t)n);
    if (st) return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SG_OK;
}

const char *sg_buf_str(sg_buf *b) { return b->data ? (const char *)b->data : ""; }

char *sg_buf_take(sg_buf *b, size_t *len) {
    if (!b->data && sg_buf_reserve(b, 0)) return NULL;
    b->data[b->len] = 0;
    char *p = (char *)b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
