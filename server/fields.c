/* The field vocabulary: every request field of every route, each with one grammar and one error
 * message, checked when the fields are collected. A field the route does not read, a repeat of a
 * field read once, a query parameter without a value or with a NUL in it, and a value outside its
 * grammar are refused with the same 400 on every route, naming the field; a silently ignored
 * typo (`sed=2`) would otherwise be answered 200 with a random seed, which looks like success.
 *
 * Numbers follow JSON's grammar, the whole value and nothing else:
 *   -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * so no spaces, '+', hex, leading zeros, '.5', '1.', inf or nan, all of which strtod would take.
 * Integer fields (seed, quality, frames, fps) take the integer form only: digits, no sign, no
 * fraction or exponent. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum {
    V_IMAGE,
    V_TEXT,
    V_UINT,
    V_UNIT,
    V_STYLE,
    V_FIT,
    V_TOKEN,
    V_BOOL,
    V_RECT,
    V_FACE
} value_kind;

typedef struct {
    const char *name;
    value_kind kind;
    uint64_t lo, hi; /* V_UINT range; V_TEXT, V_TOKEN: longest value */
    const char *grammar;
} vocab;

static const vocab words[] = {
    {"image", V_IMAGE, 0, 0, "a PNG or JPEG file"},
    {"reference", V_IMAGE, 0, 0, "a PNG or JPEG file"},
    {"domain", V_TEXT, 0, 127, "a domain name or index"},
    {"model", V_TEXT, 0, 63, "a model name"},
    {"seed", V_UINT, 0, UINT64_MAX, "an integer in 0..18446744073709551615"},
    {"psi", V_UNIT, 0, 0, "a number in [0, 1]"},
    {"style", V_STYLE, 0, 0, "a JSON array of numbers"},
    {"fit", V_FIT, 0, 0, "crop, stretch or align"},
    {"format", V_TOKEN, 0, 15, "an output format name"},
    {"quality", V_UINT, 1, 100, "an integer in 1..100"},
    {"frames", V_UINT, 0, UINT64_MAX, "an integer"},
    {"fps", V_UINT, 1, 60, "an integer in 1..60"},
    {"header", V_BOOL, 0, 0, "true or false"},
    {"min_score", V_UNIT, 0, 0, "a number in [0, 1]"},
    {"crop", V_RECT, 0, 0, "four integers x,y,w,h (a region of the photo as displayed; w, h >= 1)"},
    {"ref_crop", V_RECT, 0, 0,
     "four integers x,y,w,h (a region of the photo as displayed; w, h >= 1)"},
    {"face", V_FACE, 0, 0, "auto, all or a face index 0..99 (as /v1/detect lists them)"},
    {"ref_face", V_FACE, 0, 0, "auto or a face index 0..99 (as /v1/detect lists them)"},
    {"paste", V_BOOL, 0, 0, "true or false"},
};
#define N_WORDS (sizeof words / sizeof *words)

static const vocab *word(const char *name) {
    for (size_t i = 0; i < N_WORDS; i++)
        if (!strcmp(words[i].name, name)) return &words[i];
    return NULL;
}

/* The JSON number grammar (above) over s[0..n): 1 integer form, 0 other number, -1 not one. */
static int number_syntax(const char *s, size_t n) {
    const char *p = s, *e = s + n;
    if (p < e && *p == '-') p++;
    if (p < e && *p == '0') p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9') p++;
    else return -1;
    int integer = 1;
    if (p < e && *p == '.') {
        if (++p >= e || !(*p >= '0' && *p <= '9')) return -1;
        while (p < e && *p >= '0' && *p <= '9') p++;
        integer = 0;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || !(*p >= '0' && *p <= '9')) return -1;
        while (p < e && *p >= '0' && *p <= '9') p++;
        integer = 0;
    }
    return p == e ? integer : -1;
}

/* An unsigned integer in the integer form (no sign): -1 otherwise or past UINT64_MAX. */
static int parse_uint(const uint8_t *d, size_t n, uint64_t *v) {
    if (n == 0 || n > 20 || d[0] == '-' || number_syntax((const char *)d, n) != 1) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)(d[i] - '0');
        if (x > (UINT64_MAX - k) / 10) return -1;
        x = x * 10 + k;
    }
    *v = x;
    return 0;
}

static int parse_number(const uint8_t *d, size_t n, double *v) {
    char s[64];
    if (n == 0 || n >= sizeof s || number_syntax((const char *)d, n) < 0) return -1;
    memcpy(s, d, n);
    s[n] = 0;
    *v = strtod(s, NULL);
    return isfinite(*v) ? 0 : -1;
}

/* A JSON array of finite numbers and nothing after it (its length is the route's to check). */
static int style_syntax(const uint8_t *d, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return -1;
    memcpy(s, d, n);
    s[n] = 0;
    cJSON *a = cJSON_ParseWithOpts(s, NULL, 1);
    int ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) > 0;
    for (cJSON *x = a ? a->child : NULL; ok && x; x = x->next)
        ok = cJSON_IsNumber(x) && isfinite(x->valuedouble) && fabs(x->valuedouble) < 1e30;
    cJSON_Delete(a);
    free(s);
    return ok ? 0 : -1;
}

static int is(const sg_field *f, const char *v) {
    return f->len == strlen(v) && !memcmp(f->data, v, f->len);
}

static int bad(const sg_field *f, const vocab *w, sg_http_error *e) {
    return sg_http_fail(e, 400, "bad_field", "%s must be %s", f->name, w->grammar);
}

/* The value of f by its field's grammar. */
static int check_value(sg_field *f, const vocab *w, sg_http_error *e) {
    if (w->kind == V_IMAGE) {
        if (sg_image_sniff(f->data, f->len) == SG_FORMAT_UNKNOWN)
            return sg_http_fail(e, 415, "unsupported_media_type", "'%s' is not a PNG or JPEG image",
                                f->name);
        return 0;
    }
    if (memchr(f->data, 0, f->len))
        return sg_http_fail(e, 400, "bad_field", "%s holds a NUL byte: %s must be %s", f->name,
                            f->name, w->grammar);
    if (f->len == 0) return sg_http_fail(e, 400, "bad_field", "%s is empty", f->name);
    char v[48];
    switch (w->kind) {
    case V_RECT:
    case V_FACE:
        if (f->len >= sizeof v) return bad(f, w, e);
        memcpy(v, f->data, f->len), v[f->len] = 0;
        if (w->kind == V_RECT) return sg_rect_parse(v, &f->rect) ? bad(f, w, e) : 0;
        return sg_face_select_parse(v, &f->choice) ? bad(f, w, e) : 0;
    case V_TEXT:
    case V_TOKEN:
        if (f->len > w->hi)
            return sg_http_fail(e, 400, "bad_field", "%s is longer than %d bytes", f->name,
                                (int)w->hi);
        return 0;
    case V_UINT:
        if (parse_uint(f->data, f->len, &f->u) || f->u < w->lo || f->u > w->hi) return bad(f, w, e);
        return 0;
    case V_UNIT:
        if (parse_number(f->data, f->len, &f->number) || !(f->number >= 0 && f->number <= 1))
            return bad(f, w, e);
        return 0;
    case V_STYLE: return style_syntax(f->data, f->len) ? bad(f, w, e) : 0;
    case V_FIT:
        if (f->len >= sizeof v) return bad(f, w, e);
        memcpy(v, f->data, f->len), v[f->len] = 0;
        sg_fit fit;
        if (sg_fit_parse(v, &fit)) return bad(f, w, e);
        f->choice = (int)fit;
        return 0;
    case V_BOOL:
        if (is(f, "true") || is(f, "1")) f->choice = 1;
        else if (is(f, "false") || is(f, "0")) f->choice = 0;
        else return bad(f, w, e);
        return 0;
    default: return 0;
    }
}

/* Levenshtein distance, capped: small names only (field names are under 64 bytes). */
static int distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[m];
}

static int unknown(const char *route, const char *name, const sg_field_use *uses,
                   sg_http_error *e) {
    char list[300] = "", hint[96] = "";
    size_t n = 0;
    const char *close = NULL;
    int best = 3; /* suggest a field at most two edits away */
    for (const sg_field_use *u = uses; u->name; u++) {
        n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                              u == uses ? "" : ", ", u->name);
        int d = distance(name, u->name);
        if (d < best) best = d, close = u->name;
    }
    if (close) snprintf(hint, sizeof hint, "did you mean '%s'? ", close);
    return sg_http_fail(e, 400, "unknown_field", "unknown field '%.64s' for %s (%sfields: %s)",
                        name, route, hint, list);
}

static const sg_field_use *use_of(const sg_field_use *uses, const char *name) {
    for (; uses->name; uses++)
        if (!strcmp(uses->name, name)) return uses;
    return NULL;
}

/* Adds one field: known to the route, not a second of a single field, its value well-formed. */
static int add(sg_fields *out, const char *route, const sg_field_use *uses, const char *name,
               const uint8_t *data, size_t len, int from_query, sg_http_error *e) {
    const sg_field_use *u = use_of(uses, name);
    if (!u) return unknown(route, name, uses, e);
    if (!u->repeat && sg_fields_get(out, u->name))
        return sg_http_fail(e, 400, "repeated_field",
                            "field '%s' is given more than once (%s takes one)", u->name, route);
    if (out->n == SG_MAX_FIELDS)
        return sg_http_fail(e, 413, "too_many_inputs", "more than %d fields", SG_MAX_FIELDS);
    sg_field *f = &out->f[out->n];
    memset(f, 0, sizeof *f);
    f->name = u->name; /* static: outlives the request's strings */
    f->data = data, f->len = len, f->from_query = from_query;
    const vocab *w = word(u->name);
    if (w && check_value(f, w, e)) return -1;
    out->n++;
    return 0;
}

int sg_fields_collect(sg_fields *out, const sg_fields_input *in, const char *route,
                      const sg_field_use *uses, sg_http_error *e) {
    out->n = 0;
    if (in->n_query > SG_MAX_QUERY)
        return sg_http_fail(e, 400, "bad_request", "more than %d query parameters", SG_MAX_QUERY);
    for (int i = 0; in->form && i < in->form->n; i++) {
        const sg_mp_part *p = &in->form->parts[i];
        if (add(out, route, uses, p->name, p->data, p->len, 0, e)) return -1;
    }
    for (int i = 0; i < in->n_query; i++) {
        const char *k = in->query_keys[i], *v = in->query_values[i];
        if (use_of(uses, k) && !in->query_has_value[i])
            return sg_http_fail(e, 400, "bad_field", "field '%s' has no value (%s=VALUE)", k, k);
        if (use_of(uses, k) && in->query_lens[i] != strlen(v))
            return sg_http_fail(e, 400, "bad_field", "%s holds a NUL byte", k);
        if (add(out, route, uses, k, (const uint8_t *)v, in->query_lens[i], 1, e)) return -1;
    }
    if (in->raw && in->raw_field &&
        add(out, route, uses, in->raw_field, in->raw, in->raw_len, 0, e))
        return -1;
    return 0;
}

const sg_field *sg_fields_get(const sg_fields *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->f[i].name, name)) return &f->f[i];
    return NULL;
}

int sg_fields_count(const sg_fields *f, const char *name) {
    int n = 0;
    for (int i = 0; i < f->n; i++) n += !strcmp(f->f[i].name, name);
    return n;
}

void sg_field_text(const sg_field *f, char *out, size_t cap) {
    size_t n = f->len < cap ? f->len : cap - 1;
    memcpy(out, f->data, n);
    out[n] = 0;
}
