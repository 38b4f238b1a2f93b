/* What a photo costs, kept for the next request that brings it (internal.h "the cost cache"):
 * values keyed by a 32-byte digest, held by reference while a worker uses them, least recently
 * used first out when the bytes pass the bound. Never an answer: only inputs to the networks'
 * later stages (an encoded photo, a reference's style code). A list, not a hash table: at the
 * default bound it holds a few thousand entries at most, and a lookup is a memcmp per entry. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *const sg_cache_kind_names[SG_CACHE_KINDS] = {"encoded", "style", "landmarks"};

struct sg_cache_entry {
    sg_cache_entry *prev, *next; /* most recently used first; unlinked once evicted */
    uint8_t key[SG_CACHE_KEY];
    int kind;
    void *value;
    size_t bytes;
    void (*free_fn)(void *);
    int refs;   /* holders: the cache itself while linked, and each worker using it */
    int linked; /* in the list (not yet evicted) */
};

struct sg_cache {
    pthread_mutex_t mu;
    size_t max_bytes, bytes;
    int entries;
    sg_cache_entry *head, *tail;
    sg_cache_stats stats[SG_CACHE_KINDS];
};

sg_cache *sg_cache_new(size_t max_bytes) {
    sg_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->max_bytes = max_bytes;
    return c;
}

static void drop(sg_cache_entry *e) {
    if (--e->refs) return;
    if (e->free_fn) e->free_fn(e->value);
    free(e);
}

static void unlink_entry(sg_cache *c, sg_cache_entry *e) {
    if (e->prev) e->prev->next = e->next;
    else c->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->tail = e->prev;
    e->prev = e->next = NULL;
    e->linked = 0;
    c->bytes -= e->bytes;
    c->entries--;
}

static void push_front(sg_cache *c, sg_cache_entry *e) {
    e->prev = NULL, e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
    e->linked = 1;
    c->bytes += e->bytes;
    c->entries++;
}

void sg_cache_free(sg_cache *c) {
    if (!c) return;
    while (c->head) {
        sg_cache_entry *e = c->head;
        unlink_entry(c, e);
        drop(e); /* a holder's reference outlives the cache only by a bug: not freed then */
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static sg_cache_entry *find(sg_cache *c, const uint8_t key[SG_CACHE_KEY]) {
    for (sg_cache_entry *e = c->head; e; e = e->next)
        if (!memcmp(e->key, key, SG_CACHE_KEY)) return e;
    return NULL;
}

sg_cache_entry *sg_cache_get(sg_cache *c, int kind, const uint8_t key[SG_CACHE_KEY]) {
    if (!c || !c->max_bytes) return NULL;
    pthread_mutex_lock(&c->mu);
    sg_cache_entry *e = find(c, key);
    if (e) { /* to the front, held by the caller */
        unlink_entry(c, e);
        push_front(c, e);
        e->refs++;
        c->stats[kind].hits++;
    } else {
        c->stats[kind].misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

const void *sg_cache_value(const sg_cache_entry *e) { return e->value; }

void sg_cache_release(sg_cache *c, sg_cache_entry *e) {
    if (!e) return;
    pthread_mutex_lock(&c->mu);
    drop(e);
    pthread_mutex_unlock(&c->mu);
}

/* least recently used out until want more bytes fit */
static void evict_for(sg_cache *c, size_t want) {
    while (c->tail && c->bytes + want > c->max_bytes) {
        sg_cache_entry *e = c->tail;
        c->stats[e->kind].evictions++;
        unlink_entry(c, e);
        drop(e);
    }
}

sg_cache_entry *sg_cache_put(sg_cache *c, int kind, const uint8_t key[SG_CACHE_KEY], void *value,
                             size_t bytes, void (*free_fn)(void *)) {
    if (!c || !c->max_bytes || bytes > c->max_bytes) return NULL;
    sg_cache_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->key, key, SG_CACHE_KEY);
    e->kind = kind, e->value = value, e->bytes = bytes, e->free_fn = free_fn;
    e->refs = 2; /* the cache's and the caller's */
    pthread_mutex_lock(&c->mu);
    int stored = !find(c, key); /* another worker stored it first: keep theirs */
    if (stored) {
        evict_for(c, bytes);
        push_front(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    if (stored) return e;
    free(e);
    return NULL;
}

void sg_cache_stats_get(sg_cache *c, sg_cache_stats out[SG_CACHE_KINDS], size_t *bytes,
                        int *entries) {
    memset(out, 0, sizeof(sg_cache_stats) * SG_CACHE_KINDS);
    *bytes = 0, *entries = 0;
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    memcpy(out, c->stats, sizeof c->stats);
    for (int k = 0; k < SG_CACHE_KINDS; k++) out[k].bytes = 0, out[k].entries = 0;
    for (sg_cache_entry *e = c->head; e; e = e->next)
        out[e->kind].bytes += e->bytes, out[e->kind].entries++;
    *bytes = c->bytes, *entries = c->entries;
    pthread_mutex_unlock(&c->mu);
}
