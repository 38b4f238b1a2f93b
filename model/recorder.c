/* Recorder: a transparent wrapper that remembers every tensor the networks fetched (name, shape,
 * data pointer) in first-asked order, so a model file can be written with exactly those tensors
 * (e.g. exporting a spec-v1 model). shape/each/meta are the inner source's. */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sg_weights base; /* first, so an sg_weights* is a rec_source* */
    sg_weights *inner;
    sg_recorded *r;
    size_t n, cap;
    sg_namemap seen;
} rec_source;

static sg_status rec_shape(sg_weights *w, const char *name, sg_shape *shape, sg_error *err) {
    sg_weights *in = ((rec_source *)w)->inner;
    return in->shape(in, name, shape, err);
}

/* Records one tensor; a failure to record is reported (an export would silently lack it). */
static sg_status rec_add(rec_source *s, const char *name, const sg_shape *shape, const float *data,
                         sg_error *err) {
    size_t i;
    if (sg_namemap_get(&s->seen, name, &i)) return SG_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        sg_recorded *r = realloc(s->r, cap * sizeof *r);
        if (!r) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
        s->r = r;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy || sg_namemap_put(&s->seen, copy, s->n) < 0) {
        free(copy);
        return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    }
    s->r[s->n++] = (sg_recorded){copy, *shape, data};
    return SG_OK;
}

static sg_status rec_get(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                         sg_error *err) {
    rec_source *s = (rec_source *)w;
    sg_status st = s->inner->get(s->inner, name, want, data, err);
    return st == SG_OK ? rec_add(s, name, want, *data, err) : st;
}

static void rec_each(sg_weights *w, int (*fn)(void *, const char *, const sg_shape *), void *ctx) {
    sg_weights *in = ((rec_source *)w)->inner;
    in->each(in, fn, ctx);
}

static const char *rec_meta(sg_weights *w, const char *key) {
    sg_weights *in = ((rec_source *)w)->inner;
    return in->meta(in, key);
}

static void rec_free(sg_weights *w) {
    rec_source *s = (rec_source *)w;
    for (size_t i = 0; i < s->n; i++) free(s->r[i].name);
    free(s->r);
    sg_namemap_free(&s->seen);
    free(s);
}

sg_status sg_recorder_open(sg_weights *inner, sg_weights **out, sg_error *err) {
    if (!inner || !out) return sg_error_set(err, SG_ERR_ARG, "recorder: NULL argument");
    rec_source *s = calloc(1, sizeof *s);
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", inner->source);
    s->inner = inner;
    s->base.shape = rec_shape;
    s->base.get = rec_get;
    s->base.each = rec_each;
    s->base.meta = rec_meta;
    s->base.free = rec_free;
    /* messages from the inner source name it; ours do too */
    snprintf(s->base.source, sizeof s->base.source, "%s", inner->source);
    *out = &s->base;
    return SG_OK;
}

const sg_recorded *sg_recorder_list(sg_weights *rec, size_t *count) {
    if (!rec || rec->get != rec_get) { /* not a recorder: nothing recorded */
        if (count) *count = 0;
        return NULL;
    }
    rec_source *s = (rec_source *)rec;
    if (count) *count = s->n;
    return s->r;
}
