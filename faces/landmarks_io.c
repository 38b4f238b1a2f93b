/* Landmark files: the release's mean landmarks (celeba_lm_mean.npz: a zip holding mean.npy) and
 * user landmarks (JSON). Both come from outside, so every length and field is checked before it
 * is used and any surprise is an error naming the file, never a crash or a guess. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "faces.h"

#define NPY_MAGIC    "\x93NUMPY"
#define NPY_MAX_DIMS 8

/* ---- .npy header: a Python dict literal ----------------------------------------------------- */
typedef struct {
    const char *p, *end;
} cursor;

typedef struct {
    char descr[8];
    int fortran, have_descr, have_fortran, have_shape, ndim;
    long dims[NPY_MAX_DIMS];
} npy_header;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) return c->p++, 1;
    return 0;
}

/* A quoted string ('...' or "...") without escapes, into out (cap bytes). */
static int quoted(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = 0;
    return 1;
}

static int word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* (d0, d1, ...) with an optional trailing comma; each dimension 0..10^9 */
static int shape_tuple(cursor *c, npy_header *h) {
    if (!eat(c, '(')) return 0;
    h->ndim = 0;
    for (;;) {
        if (eat(c, ')')) return 1;
        skip_ws(c);
        long v = 0;
        int digits = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 10)
            v = v * 10 + (*c->p++ - '0'), digits++;
        if (!digits || v > 1000000000L || h->ndim >= NPY_MAX_DIMS) return 0;
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 longs */
        h->dims[h->ndim++] = v;
        if (!eat(c, ',')) return eat(c, ')');
    }
}

static int header_entry(cursor *c, npy_header *h) {
    char key[32];
    if (!quoted(c, key, sizeof key) || !eat(c, ':')) return 0;
    if (!strcmp(key, "descr") && !h->have_descr)
        return h->have_descr = quoted(c, h->descr, sizeof h->descr);
    if (!strcmp(key, "fortran_order") && !h->have_fortran) {
        h->have_fortran = 1;
        if (word(c, "False")) return h->fortran = 0, 1;
        if (word(c, "True")) return h->fortran = 1, 1;
        return 0;
    }
    if (!strcmp(key, "shape") && !h->have_shape) return h->have_shape = shape_tuple(c, h);
    return 0; /* unknown or repeated key */
}

static int parse_header(const char *text, size_t len, npy_header *h) {
    cursor c = {text, text + len};
    memset(h, 0, sizeof *h);
    if (!eat(&c, '{')) return 0;
    while (!eat(&c, '}')) {
        if (!header_entry(&c, h)) return 0;
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return 0;
            break;
        }
    }
    skip_ws(&c);
    return c.p == c.end && h->have_descr && h->have_fortran && h->have_shape;
}

/* ---- .npy ----------------------------------------------------------------------------------- */
static double read_le(const uint8_t *p, int size) {
    uint64_t u = 0;
    for (int i = size - 1; i >= 0; i--) u = u << 8 | p[i];
    if (size == 4) {
        uint32_t v = (uint32_t)u;
        float f;
        memcpy(&f, &v, 4);
        return f;
    }
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Magic, version and header length → the header text and where the data start. */
static sg_status npy_preamble(const uint8_t *b, size_t size, const char *label, size_t *hstart,
                              size_t *hlen, sg_error *err) {
    if (size < 10 || memcmp(b, NPY_MAGIC, 6) != 0)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: not an .npy array (bad magic)", label);
    int major = b[6];
    if (major < 1 || major > 3)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: .npy version %d.%d not supported", label,
                            major, b[7]);
    *hstart = major == 1 ? 10 : 12;
    if (size < *hstart) return sg_error_set(err, SG_ERR_FORMAT, "%s: truncated .npy header", label);
    *hlen = major == 1 ? (size_t)(b[8] | b[9] << 8)
                       : (size_t)((uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
                                  (uint32_t)b[11] << 24);
    if (*hlen > SG_NPY_MAX_HEADER)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: .npy header of %zu bytes (limit %d)", label,
                            *hlen, SG_NPY_MAX_HEADER);
    if (*hlen > size - *hstart)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: truncated .npy header", label);
    return SG_OK;
}

sg_status sg_npy_read_landmarks(const void *data, size_t size, const char *label, double *mean,
                                sg_error *err) {
    const uint8_t *b = data;
    size_t hstart = 0, hlen = 0;
    sg_status st = npy_preamble(b, size, label, &hstart, &hlen, err);
    if (st) return st;
    npy_header h;
    if (!parse_header((const char *)b + hstart, hlen, &h))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: malformed .npy header", label);
    int item = !strcmp(h.descr, "<f4") ? 4 : !strcmp(h.descr, "<f8") ? 8 : 0;
    if (!item)
        return sg_error_set(err, SG_ERR_SHAPE, "%s: dtype '%s', expected '<f4' or '<f8'", label,
                            h.descr);
    if (h.fortran)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: Fortran-ordered array not supported",
                            label);
    if (h.ndim != 2 || h.dims[0] != SG_LANDMARKS || h.dims[1] != 2)
        return sg_error_set(err, SG_ERR_SHAPE, "%s: shape must be (98, 2)", label);
    size_t need = (size_t)SG_LANDMARKS * 2 * item, off = hstart + hlen;
    if (size - off != need)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %zu data bytes, expected %zu", label,
                            size - off, need);
    for (int i = 0; i < 2 * SG_LANDMARKS; i++) {
        mean[i] = read_le(b + off + (size_t)i * item, item);
        if (!isfinite(mean[i]) || fabs(mean[i]) > 1e6)
            return sg_error_set(err, SG_ERR_FORMAT, "%s: value %d is not a finite coordinate",
                                label, i);
    }
    return SG_OK;
}

/* ---- .npz: a zip of .npy entries (model/'s zip reader) ------------------------------------- */
/* An .npy entry larger than this is not the (98, 2) array. */
#define NPZ_MAX_ENTRY ((uint64_t)1 << 20)

sg_status sg_npz_read_landmarks(const void *data, size_t size, const char *key, const char *label,
                                double *mean, sg_error *err) {
    if (size >= 6 && memcmp(data, NPY_MAGIC, 6) == 0) /* a bare .npy is accepted too */
        return sg_npy_read_landmarks(data, size, label, mean, err);
    zip_t *z;
    sg_status st = sg_zip_open_memory(data, size, label, &z, err);
    if (st) return st;
    char entry[64];
    snprintf(entry, sizeof entry, "%s.npy", key);
    zip_int64_t idx = zip_name_locate(z, entry, 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    st = idx < 0 ? sg_error_set(err, SG_ERR_MISSING, "%s: no array '%s' in the .npz", label, key)
                 : sg_zip_entry_load(z, idx, size, label, NPZ_MAX_ENTRY, &buf, &len, err);
    if (!st) {
        char sub[300];
        snprintf(sub, sizeof sub, "%s:%s", label, entry);
        st = sg_npy_read_landmarks(buf, len, sub, mean, err);
    }
    free(buf);
    zip_discard(z);
    return st;
}

/* ---- files ---------------------------------------------------------------------------------- */
static sg_status slurp(const char *path, size_t limit, char **out, size_t *len, sg_error *err) {
    int fd = sg_file_open_regular(path, NULL, err); /* a FIFO is refused, not waited on */
    if (fd < 0) return err ? err->status : SG_ERR_IO;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return sg_error_set(err, SG_ERR_IO, "%s: cannot open", path);
    }
    char *buf = malloc(limit + 1);
    size_t n = buf ? fread(buf, 1, limit + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    if (bad || n > limit) {
        free(buf);
        return sg_error_set(err, bad ? SG_ERR_IO : SG_ERR_LIMIT, "%s: %s", path,
                            bad ? "read error" : "file too large");
    }
    buf[n] = 0;
    *out = buf, *len = n;
    return SG_OK;
}

sg_status sg_mean_landmarks_load(const char *path, double *mean, sg_error *err) {
    char *buf;
    size_t len;
    sg_status st = slurp(path, SG_NPZ_MAX_BYTES, &buf, &len, err);
    if (st) return st;
    st = sg_npz_read_landmarks(buf, len, "mean", path, mean, err);
    free(buf);
    return st;
}

/* ---- JSON ----------------------------------------------------------------------------------- */
sg_status sg_landmarks_parse_json(const char *text, size_t len, const char *label, double *lm,
                                  sg_error *err) {
    if (len > SG_LANDMARKS_JSON_MAX)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: landmarks file too large", label);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    while (j && end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (j && end < text + len) { /* text after the array: not what was meant */
        cJSON_Delete(j);
        return sg_error_set(err, SG_ERR_FORMAT, "%s: text after the JSON array", label);
    }
    sg_status st = SG_OK;
    int n = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;
    if (n != SG_LANDMARKS)
        st = sg_error_set(err, SG_ERR_FORMAT,
                          n < 0 ? "%s: expected a JSON array of 98 [x, y] pairs"
                                : "%s: expected 98 [x, y] pairs, got %d",
                          label, n);
    int i = 0;
    for (cJSON *p = j ? j->child : NULL; !st && p; p = p->next, i++) {
        cJSON *x = cJSON_GetArrayItem(p, 0), *y = cJSON_GetArrayItem(p, 1);
        if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || !cJSON_IsNumber(x) ||
            !cJSON_IsNumber(y) || !isfinite(x->valuedouble) || !isfinite(y->valuedouble) ||
            fabs(x->valuedouble) > 1e6 || fabs(y->valuedouble) > 1e6)
            st = sg_error_set(err, SG_ERR_FORMAT,
                              "%s: point %d is not a pair of finite numbers "
                              "[x, y]",
                              label, i);
        else lm[2 * i] = x->valuedouble, lm[2 * i + 1] = y->valuedouble;
    }
    cJSON_Delete(j);
    return st;
}

sg_status sg_landmarks_load_json(const char *path, double *lm, sg_error *err) {
    char *buf;
    size_t len;
    sg_status st = slurp(path, SG_LANDMARKS_JSON_MAX, &buf, &len, err);
    if (st) return st;
    st = sg_landmarks_parse_json(buf, len, path, lm, err);
    free(buf);
    return st;
}
