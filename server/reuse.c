/* What a request reuses (internal.h "reuse"): a photo's encoding, from the cost cache or made
 * here, and a reference photo's style code. Keys are SHA-256 of what determines the value: the
 * kind, the model generation and name, and the square the network sees (img_size², fitted or
 * aligned: a photo uploaded again, or cut the same way, gives the same square), plus for a style
 * its domain; the FAN's landmarks are kept under the square the FAN sees (the photo stretched to
 * img_size², before the alignment they make). The values are inputs to the networks' later stages, never an answer: a new seed
 * is always a new translation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* SHA-256 of "kind gen model extra" and the square's own digest */
static void key_of(const sg_request *r, int kind, const char *extra, const sg_image *sq,
                   uint8_t key[SG_CACHE_KEY]) {
    uint8_t px[32];
    sg_sha256(sq->pixels, (size_t)sq->w * sq->h * 3, px);
    char head[256];
    int n = snprintf(head, sizeof head, "%d %d %s %s %dx%d ", kind, r->gen_id, r->model->name,
                     extra, sq->w, sq->h);
    uint8_t buf[256 + 32];
    memcpy(buf, head, (size_t)n);
    memcpy(buf + n, px, 32);
    sg_sha256(buf, (size_t)n + 32, key);
}

static void count(sg_request *r, int kind, int hit) {
    if (hit) r->cache_hits[kind]++;
    else r->cache_misses[kind]++;
}

static void free_encoded(void *v) { sg_encoded_free(v); }

sg_status sg_reuse_encode(sg_request *r, sg_run *run, const sg_image *sq, sg_held_encoded *h,
                          sg_timing *t, sg_error *err) {
    *h = (sg_held_encoded){0};
    uint8_t key[SG_CACHE_KEY];
    if (r->cache) {
        key_of(r, SG_CACHE_ENCODED, "", sq, key);
        if ((h->entry = sg_cache_get(r->cache, SG_CACHE_ENCODED, key))) {
            count(r, SG_CACHE_ENCODED, 1);
            return SG_OK;
        }
        count(r, SG_CACHE_ENCODED, 0);
    }
    sg_encoded *enc = NULL;
    sg_timing one = {0}; /* the engine sets its fields: added up here */
    sg_status st = sg_engine_encode(&r->model->engine, run, sq, SG_FIT_STRETCH, &enc, &one, err);
    if (t) t->faces_ms += one.faces_ms, t->encode_ms += one.encode_ms;
    if (st) return st;
    if (r->cache)
        h->entry =
            sg_cache_put(r->cache, SG_CACHE_ENCODED, key, enc, sg_encoded_bytes(enc), free_encoded);
    if (!h->entry) h->own = enc; /* not stored: this request's alone */
    return SG_OK;
}

const sg_encoded *sg_held_encoded_get(const sg_held_encoded *h) {
    return h->entry ? sg_cache_value(h->entry) : h->own;
}

void sg_held_encoded_release(sg_request *r, sg_held_encoded *h) {
    sg_cache_release(r->cache, h->entry);
    sg_encoded_free(h->own);
    *h = (sg_held_encoded){0};
}

static void free_small(void *v) { free(v); }

/* A small value (a style code, landmarks: bytes long) under key copied into out: 1 on a hit.
 * Counted either way. */
static int small_get(sg_request *r, int kind, const uint8_t key[SG_CACHE_KEY], void *out,
                     size_t bytes) {
    sg_cache_entry *x = sg_cache_get(r->cache, kind, key);
    count(r, kind, x != NULL);
    if (x) memcpy(out, sg_cache_value(x), bytes), sg_cache_release(r->cache, x);
    return x != NULL;
}

/* A copy of v (bytes long) stored under key; not stored when out of memory or refused */
static void small_put(sg_request *r, int kind, const uint8_t key[SG_CACHE_KEY], const void *v,
                      size_t bytes) {
    void *copy = malloc(bytes);
    if (!copy) return;
    memcpy(copy, v, bytes);
    sg_cache_entry *x = sg_cache_put(r->cache, kind, key, copy, bytes, free_small);
    if (x) sg_cache_release(r->cache, x);
    else free(copy);
}

/* sg_landmark_store over the cost cache (ctx: the request; memo: the square's key, made by get
 * for its put); nothing kept without a cache */
_Static_assert(sizeof(((sg_landmark_store *)0)->memo) == SG_CACHE_KEY, "memo holds a key");
static int landmarks_get(sg_landmark_store *k, const sg_image *sq, double *lm) {
    sg_request *r = k->ctx;
    if (!r->cache) return 0;
    key_of(r, SG_CACHE_LANDMARKS, "", sq, k->memo);
    return small_get(r, SG_CACHE_LANDMARKS, k->memo, lm, sizeof(double) * 2 * SG_LANDMARKS);
}

static void landmarks_put(sg_landmark_store *k, const double *lm) {
    sg_request *r = k->ctx;
    if (r->cache) small_put(r, SG_CACHE_LANDMARKS, k->memo, lm, sizeof(double) * 2 * SG_LANDMARKS);
}

sg_landmark_store sg_reuse_landmarks(sg_request *r) {
    return (sg_landmark_store){.get = landmarks_get, .put = landmarks_put, .ctx = r};
}

sg_status sg_reuse_align(sg_request *r, sg_run *run, const sg_image *photo, sg_image *aligned,
                         sg_error *err) {
    sg_landmark_store keep = sg_reuse_landmarks(r);
    return sg_engine_align_kept(&r->model->engine, run, photo, &keep, aligned, NULL, err);
}

sg_status sg_reuse_style(sg_request *r, sg_run *run, const sg_image *sq, int domain, float *s,
                         sg_error *err) {
    const sg_engine *e = &r->model->engine;
    const size_t bytes = sizeof(float) * (size_t)e->cfg.style_dim;
    uint8_t key[SG_CACHE_KEY];
    char dom[16];
    snprintf(dom, sizeof dom, "y%d", domain);
    if (r->cache) {
        key_of(r, SG_CACHE_STYLE, dom, sq, key);
        if (small_get(r, SG_CACHE_STYLE, key, s, bytes)) return SG_OK;
    }
    sg_status st = sg_engine_style_ref(e, run, sq, SG_FIT_STRETCH, domain, s, err);
    if (!st && r->cache) small_put(r, SG_CACHE_STYLE, key, s, bytes);
    return st;
}
