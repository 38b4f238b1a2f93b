/* PyTorch checkpoints as an sg_weights source: the StarGAN v2 release files as they are.
 *
 * A release checkpoint is torch.save of a dict whose entries `generator`, `mapping_network` and
 * `style_encoder` are state dicts (other entries, such as a step counter, a discriminator or
 * optimiser state, are ignored); the face network's wing.ckpt is {'state_dict': ...}. That
 * layout (entries, prefixes, face-network keys to drop, domain names) is release.c's. Tensors
 * are exposed as `<entry>.<key>` (`fan.<key>` for a state_dict file), without any DataParallel
 * `module.` prefix. Both torch.save formats are read (ckpt_legacy.c, ckpt_zip.c); wherever the
 * storages are tagged (`cuda:0` ...) they load on the CPU.
 *
 * A tensor is a view (storage, offset, shape, strides) over a storage's bytes. In the zip format
 * those are used in place: torch aligns entries to 64 bytes, so `get` hands out pointers into
 * the mapped file and opening reads no tensor data. The legacy format packs storages back to
 * back after pickles of any length, so its storages are read at open, in one pass, into an
 * aligned arena (ckpt_copy.c), as are zip entries that happen to be misaligned. Strided views
 * get a copy per tensor and compressed zip entries one per storage, at their first get. */
#include "ckpt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error                                                                                             \
    "checkpoint storages are little-endian and handed out in place: a little-endian host is required"
#endif

/* Longest storage key or tensor key accepted: torch's are a few dozen bytes. */
#define CK_MAX_KEY 1024

void *ck_alloc(size_t n) {
    size_t r = (n + 63) / 64 * 64;
    if (r < n) return NULL;
    return aligned_alloc(64, r ? r : 64);
}

/* Copies made at get (strided views, compressed entries) may overlap: many views of one storage
 * each get their own. Their total is bounded by a multiple of the file's size, so a small
 * hostile file cannot make a reader allocate gigabytes. */
sg_status ck_budget(ck_source *s, uint64_t bytes, sg_error *err) {
    uint64_t limit = 4 * (uint64_t)s->size + ((uint64_t)16 << 20);
    if (bytes <= limit && s->lazy_bytes <= limit - bytes) {
        s->lazy_bytes += bytes;
        return SG_OK;
    }
    return sg_error_set(err, SG_ERR_LIMIT,
                        "%s: copies of strided or compressed tensors would exceed %llu bytes",
                        s->base.source, (unsigned long long)limit);
}

static sg_status ck_nomem(ck_source *s, sg_error *err) {
    return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
}

/* A pickle string as a one-line-safe, NUL-terminated message fragment. */
static const char *ck_msg_span(const pk_value *v, char *buf, size_t cap) {
    char tmp[SG_MSG_NAME_CAP];
    size_t n = v->u.s.n < sizeof tmp - 1 ? v->u.s.n : sizeof tmp - 1;
    memcpy(tmp, v->u.s.p, n);
    tmp[n] = '\0';
    return sg_msg_name(tmp, buf, cap);
}

/* ---- storages from persistent ids ------------------------------------------------------------
 * ('storage', torch.<X>Storage, key, location, numel[, view]) with view None or
 * (view_key, offset, size) in the legacy format. The location is ignored: all loads on the CPU. */
ck_storage *ck_storage_find(ck_source *s, const char *key, size_t len) {
    char k[CK_MAX_KEY + 1];
    size_t i;
    if (len > CK_MAX_KEY) return NULL;
    memcpy(k, key, len);
    k[len] = '\0';
    return sg_namemap_get(&s->st_by_key, k, &i) ? &s->st[i] : NULL;
}

static bool ck_key_ok(const pk_value *v) {
    return v->kind == PK_STR && v->u.s.n > 0 && v->u.s.n <= CK_MAX_KEY &&
           !memchr(v->u.s.p, '\0', v->u.s.n);
}

static sg_status ck_storage_add(ck_source *s, const pk_value *key, int type, uint64_t numel,
                                size_t *index, sg_error *err) {
    char kb[SG_MSG_NAME_CAP];
    ck_storage *c = ck_storage_find(s, key->u.s.p, key->u.s.n);
    if (c) {
        if (c->type != type || c->numel != numel)
            return sg_error_set(err, SG_ERR_FORMAT,
                                "%s: storage %s is referenced with two types or sizes",
                                s->base.source, ck_msg_span(key, kb, sizeof kb));
        *index = (size_t)(c - s->st);
        return SG_OK;
    }
    if (s->n_st == s->cap_st) {
        size_t cap = s->cap_st ? 2 * s->cap_st : 64;
        ck_storage *p = realloc(s->st, cap * sizeof *p);
        if (!p) return ck_nomem(s, err);
        s->st = p;
        s->cap_st = cap;
    }
    c = &s->st[s->n_st];
    memset(c, 0, sizeof *c);
    c->key = malloc(key->u.s.n + 1);
    if (!c->key) return ck_nomem(s, err);
    memcpy(c->key, key->u.s.p, key->u.s.n);
    c->key[key->u.s.n] = '\0';
    c->type = type;
    c->numel = numel;
    c->zip_index = -1;
    c->count_off = -1;
    /* the map borrows the key; keys never move (the array may, the strings do not) */
    if (sg_namemap_put(&s->st_by_key, c->key, s->n_st) < 0) {
        free(c->key);
        return ck_nomem(s, err);
    }
    *index = s->n_st++;
    return SG_OK;
}

static sg_status ck_pid_bad(ck_source *s, const char *what, sg_error *err) {
    return sg_error_set(err, SG_ERR_FORMAT, "%s: persistent id: %s", s->base.source, what);
}

/* The optional legacy view (view_key, offset, size) within the storage. */
static sg_status ck_pid_view(ck_source *s, pk_value *pid, const pk_value *view, sg_error *err) {
    const ck_storage *c = &s->st[pid->u.pid.storage];
    pid->u.pid.view_offset = 0;
    pid->u.pid.view_numel = c->numel;
    if (!view || view->kind == PK_NONE) return SG_OK;
    if (view->kind != PK_TUPLE || view->u.seq.n != 3 || view->u.seq.v[1]->kind != PK_INT ||
        view->u.seq.v[2]->kind != PK_INT)
        return ck_pid_bad(s, "view is not (key, offset, size)", err);
    int64_t off = view->u.seq.v[1]->u.i, n = view->u.seq.v[2]->u.i;
    if (off < 0 || n < 0 || (uint64_t)off > c->numel || (uint64_t)n > c->numel - (uint64_t)off)
        return ck_pid_bad(s, "view outside its storage", err);
    pid->u.pid.view_offset = (uint64_t)off;
    pid->u.pid.view_numel = (uint64_t)n;
    return SG_OK;
}

static sg_status ck_pid(ck_source *s, pk_value *pid, sg_error *err) {
    const pk_value *id = pid->u.pid.id;
    if (id->kind != PK_TUPLE || id->u.seq.n < 1 || !pk_is_str(id->u.seq.v[0], "storage"))
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "%s: unsupported pickle content: a persistent id that is not a "
                            "storage (a pickled module?)",
                            s->base.source);
    pk_value *const *v = id->u.seq.v;
    if (id->u.seq.n != 5 && id->u.seq.n != 6)
        return ck_pid_bad(s, "not ('storage', type, key, location, size[, view])", err);
    if (v[1]->kind != PK_GLOBAL || v[1]->u.g.fn != PK_FN_STORAGE)
        return ck_pid_bad(s, "storage type is not a torch storage class", err);
    if (!ck_key_ok(v[2])) return ck_pid_bad(s, "storage key is not a short string", err);
    if (v[3]->kind != PK_STR) return ck_pid_bad(s, "location is not a string", err);
    /* numel × item size must stay representable: 2^60 elements is far beyond any file */
    if (v[4]->kind != PK_INT || v[4]->u.i < 0 || (uint64_t)v[4]->u.i > ((uint64_t)1 << 60))
        return ck_pid_bad(s, "storage size is not a sane element count", err);
    sg_status st =
        ck_storage_add(s, v[2], v[1]->u.g.storage, (uint64_t)v[4]->u.i, &pid->u.pid.storage, err);
    if (st == SG_OK) st = ck_pid_view(s, pid, id->u.seq.n == 6 ? v[5] : NULL, err);
    pid->u.pid.resolved = st == SG_OK;
    return st;
}

sg_status ck_storages_from_pids(ck_source *s, const pk_arena *a, sg_error *err) {
    for (size_t i = 0; i < a->n_pids; i++) {
        if (a->pids[i]->u.pid.resolved) continue;
        sg_status st = ck_pid(s, a->pids[i], err);
        if (st != SG_OK) return st;
    }
    return SG_OK;
}

/* ---- tensors -------------------------------------------------------------------------------- */
/* A tuple of at most SG_MAX_DIMS non-negative ints into out; false otherwise. */
static bool ck_int_tuple(const pk_value *v, int64_t *out, int *n) {
    if (v->kind != PK_TUPLE || v->u.seq.n > SG_MAX_DIMS) return false;
    for (size_t i = 0; i < v->u.seq.n; i++) {
        const pk_value *x = v->u.seq.v[i];
        if (x->kind != PK_INT || x->u.i < 0) return false;
        out[i] = x->u.i;
    }
    *n = (int)v->u.seq.n;
    return true;
}

/* Checks that every element of the view lies in [0, view_numel) and decides contiguity. */
static sg_status ck_view_check(ck_source *s, const char *nm, ck_tensor *t, uint64_t rel,
                               uint64_t view_numel, sg_error *err) {
    uint64_t numel, last = rel, expect = 1;
    char sh[SG_SHAPE_STR_CAP];
    if (!sg_shape_numel(&t->shape, &numel))
        return sg_error_set(err, SG_ERR_FORMAT, "%s: tensor %s: shape %s is too large",
                            s->base.source, nm, sg_shape_str(&t->shape, sh, sizeof sh));
    t->contiguous = true;
    for (int d = t->shape.ndim - 1; d >= 0; d--) {
        uint64_t size = (uint64_t)t->shape.dims[d], step;
        if (size != 1 && (uint64_t)t->stride[d] != expect) t->contiguous = false;
        expect *= size; /* ≤ numel ≤ 2^60 */
        if (size && (__builtin_mul_overflow(size - 1, (uint64_t)t->stride[d], &step) ||
                     __builtin_add_overflow(last, step, &last)))
            last = UINT64_MAX;
    }
    if (rel > view_numel || (numel && last >= view_numel))
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: tensor %s: shape %s at offset %llu reaches past its storage of "
                            "%llu elements",
                            s->base.source, nm, sg_shape_str(&t->shape, sh, sizeof sh),
                            (unsigned long long)rel, (unsigned long long)view_numel);
    /* a strided copy is made at get: only when the file holds that many elements */
    if (!t->contiguous && numel > view_numel)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "%s: tensor %s: a strided view with more elements than its storage",
                            s->base.source, nm);
    return SG_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]), possibly
 * wrapped in _rebuild_parameter(tensor, requires_grad, hooks). */
static sg_status ck_tensor_args(ck_source *s, const char *nm, const pk_value *v, ck_tensor *t,
                                sg_error *err) {
    if (v->kind == PK_CALL && v->u.call.fn == PK_FN_REBUILD_PARAMETER && v->u.call.args->u.seq.n)
        v = v->u.call.args->u.seq.v[0];
    if (v->kind != PK_CALL || v->u.call.fn != PK_FN_REBUILD_TENSOR)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s is %s, not a tensor", s->base.source, nm,
                            pk_kind_name(v));
    const pk_value *a = v->u.call.args;
    int nd = 0, ns = 0;
    if (a->u.seq.n < 4 || a->u.seq.v[0]->kind != PK_PERSID || !a->u.seq.v[0]->u.pid.resolved ||
        a->u.seq.v[1]->kind != PK_INT || a->u.seq.v[1]->u.i < 0 ||
        !ck_int_tuple(a->u.seq.v[2], t->shape.dims, &nd) ||
        !ck_int_tuple(a->u.seq.v[3], t->stride, &ns) || nd != ns)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: tensor %s: not (storage, offset, size, stride) with at most %d "
                            "non-negative dims",
                            s->base.source, nm, SG_MAX_DIMS);
    const pk_value *pid = a->u.seq.v[0];
    t->shape.ndim = nd;
    t->storage = pid->u.pid.storage;
    uint64_t rel = (uint64_t)a->u.seq.v[1]->u.i;
    t->offset = pid->u.pid.view_offset + rel; /* both < 2^63: no overflow; rel checked next */
    return ck_view_check(s, nm, t, rel, pid->u.pid.view_numel, err);
}

static sg_status ck_tensor_push(ck_source *s, ck_tensor *t, sg_error *err) {
    if (s->n_t == s->cap_t) {
        size_t cap = s->cap_t ? 2 * s->cap_t : 128;
        ck_tensor *p = realloc(s->t, cap * sizeof *p);
        if (!p) return ck_nomem(s, err);
        s->t = p;
        s->cap_t = cap;
    }
    s->t[s->n_t++] = *t;
    return SG_OK;
}

/* One state-dict item: key (a str, "module." stripped) → tensor `<prefix>.<key>`. */
static sg_status ck_add_item(ck_source *s, const char *prefix, const pk_value *k, const pk_value *v,
                             bool fan, sg_error *err) {
    if (!ck_key_ok(k))
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: %s: a state-dict key is not a short string without NULs",
                            s->base.source, prefix);
    size_t n = k->u.s.n, pl = strlen(prefix);
    const char *key = k->u.s.p;
    if (n > 7 && memcmp(key, "module.", 7) == 0) key += 7, n -= 7; /* DataParallel */
    ck_tensor t;
    memset(&t, 0, sizeof t);
    t.name = malloc(pl + 1 + n + 1);
    if (!t.name) return ck_nomem(s, err);
    memcpy(t.name, prefix, pl);
    t.name[pl] = '.';
    memcpy(t.name + pl + 1, key, n);
    t.name[pl + 1 + n] = '\0';
    if (fan && sg_release_fan_ignored(t.name + pl + 1)) {
        free(t.name);
        return SG_OK;
    }
    char nm[SG_MSG_NAME_CAP];
    sg_msg_name(t.name, nm, sizeof nm);
    sg_status st = ck_tensor_args(s, nm, v, &t, err);
    if (st == SG_OK) st = ck_tensor_push(s, &t, err);
    if (st != SG_OK) free(t.name);
    return st;
}

static sg_status ck_add_state_dict(ck_source *s, const char *prefix, const pk_value *d, bool fan,
                                   sg_error *err) {
    if (d->kind != PK_DICT)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: entry %s is %s, not a state dict",
                            s->base.source, fan ? "state_dict" : prefix, pk_kind_name(d));
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
        sg_status st = ck_add_item(s, prefix, d->u.seq.v[i], d->u.seq.v[i + 1], fan, err);
        if (st != SG_OK) return st;
    }
    return SG_OK;
}

/* The networks inference needs (release.c); every other entry of a checkpoint is ignored. */
static sg_status ck_tensors_from_root(ck_source *s, const pk_value *root, sg_error *err) {
    if (root->kind != PK_DICT)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: the checkpoint holds %s, not a dict",
                            s->base.source, pk_kind_name(root));
    int found = 0;
    for (size_t i = 0; i + 1 < root->u.seq.n; i += 2)
        for (size_t k = 0; sg_release_net(k); k++)
            if (pk_is_str(root->u.seq.v[i], sg_release_net(k))) {
                sg_status st =
                    ck_add_state_dict(s, sg_release_net(k), root->u.seq.v[i + 1], false, err);
                if (st != SG_OK) return st;
                found++;
            }
    if (found) return SG_OK;
    const pk_value *sd = pk_dict_get(root, SG_RELEASE_FAN_ENTRY);
    if (sd) return ck_add_state_dict(s, SG_RELEASE_FAN_PREFIX, sd, true, err);
    return sg_error_set(err, SG_ERR_FORMAT,
                        "%s: no generator, mapping_network, style_encoder or state_dict entry: "
                        "not a StarGAN v2 checkpoint",
                        s->base.source);
}

/* The two releases' domains (release.c); others get domain0.. from the config. Counts the
 * mapping network's per-domain heads as sg_config_derive does (no more than the releases'). */
static void ck_default_domains(ck_source *s) {
    char name[64];
    int n = 0;
    size_t i;
    while (n <= 3) {
        snprintf(name, sizeof name, "mapping_network.unshared.%d.0.weight", n);
        if (!sg_namemap_get(&s->by_name, name, &i)) break;
        n++;
    }
    s->domains = sg_release_domains(n);
}

/* ---- the sg_weights vtable ------------------------------------------------------------------ */
static sg_status ck_find(ck_source *s, const char *name, ck_tensor **t, sg_error *err) {
    size_t i;
    sg_status st = sg_tensor_find(&s->base, &s->by_name, name, &i, err);
    if (st == SG_OK) *t = &s->t[i];
    return st;
}

static sg_status ck_shape(sg_weights *w, const char *name, sg_shape *shape, sg_error *err) {
    ck_tensor *t;
    sg_status st = ck_find((ck_source *)w, name, &t, err);
    if (st == SG_OK) *shape = t->shape;
    return st;
}

/* Copies a strided view element by element (the source may be unaligned). */
static void ck_gather(float *dst, const uint8_t *src, const ck_tensor *t, uint64_t n) {
    int64_t idx[SG_MAX_DIMS] = {0};
    uint64_t off = 0;
    const int nd = t->shape.ndim;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(&dst[i], src + off * sizeof(float), sizeof(float));
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < t->shape.dims[d]) {
                off += (uint64_t)t->stride[d];
                break;
            }
            off -= (uint64_t)t->stride[d] * (uint64_t)(t->shape.dims[d] - 1);
            idx[d] = 0;
        }
    }
}

static sg_status ck_floats(ck_source *s, ck_tensor *t, const float **data, sg_error *err) {
    ck_storage *c = &s->st[t->storage];
    if (t->copy) {
        *data = t->copy;
        return SG_OK;
    }
    if (!c->data) {
        sg_status st = ck_zip_read(s, c, err);
        if (st != SG_OK) return st;
    }
    const uint8_t *p = c->data + t->offset * sizeof(float);
    if (t->contiguous && (uintptr_t)p % sizeof(float) == 0) {
        *data = (const float *)(const void *)p;
        return SG_OK;
    }
    uint64_t n;
    sg_shape_numel(&t->shape, &n); /* checked at open, ≤ the storage's size */
    sg_status st = ck_budget(s, n * sizeof(float), err);
    if (st != SG_OK) return st;
    t->copy = ck_alloc((size_t)n * sizeof(float));
    if (!t->copy) return ck_nomem(s, err);
    if (t->contiguous) memcpy(t->copy, p, (size_t)n * sizeof(float));
    else ck_gather(t->copy, p, t, n);
    *data = t->copy;
    return SG_OK;
}

static sg_status ck_get(sg_weights *w, const char *name, const sg_shape *want, const float **data,
                        sg_error *err) {
    ck_source *s = (ck_source *)w;
    ck_tensor *t;
    sg_status st = ck_find(s, name, &t, err);
    if (st == SG_OK)
        st = sg_tensor_check(w, name, pk_storage_types[s->st[t->storage].type].dtype, &t->shape,
                             want, data, err);
    return st == SG_OK ? ck_floats(s, t, data, err) : st;
}

static void ck_each(sg_weights *w, int (*fn)(void *, const char *, const sg_shape *), void *ctx) {
    ck_source *s = (ck_source *)w;
    for (size_t i = 0; i < s->n_t; i++)
        if (fn(ctx, s->t[i].name, &s->t[i].shape)) return;
}

static const char *ck_meta(sg_weights *w, const char *key) {
    ck_source *s = (ck_source *)w;
    if (key && strcmp(key, "domains") == 0) return s->domains;
    if (key && strcmp(key, "format") == 0) return s->format;
    return NULL;
}

static void ck_free(sg_weights *w) {
    ck_source *s = (ck_source *)w;
    for (size_t i = 0; i < s->n_t; i++) {
        free(s->t[i].name);
        free(s->t[i].copy);
    }
    for (size_t i = 0; i < s->n_st; i++) {
        free(s->st[i].key);
        free(s->st[i].owned);
    }
    free(s->t);
    free(s->st);
    free(s->order);
    sg_namemap_free(&s->by_name);
    sg_namemap_free(&s->st_by_key);
    ck_arena_free(s);
    if (s->zip) zip_discard(s->zip);
    if (s->fd >= 0) close(s->fd);
    if (s->mapped && s->size) munmap((void *)s->file, s->size);
    free(s);
}

static ck_source *ck_new(const char *label) {
    ck_source *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.shape = ck_shape;
    s->base.get = ck_get;
    s->base.each = ck_each;
    s->base.meta = ck_meta;
    s->base.free = ck_free;
    s->fd = -1;
    snprintf(s->base.source, sizeof s->base.source, "%s", label);
    return s;
}

/* ---- opening -------------------------------------------------------------------------------- */
static sg_status ck_parse(ck_source *s, sg_error *err) {
    pk_arena a = {.limit = pk_file_limit(s->size)}; /* bounded by the file, not the opcodes */
    pk_value *root = NULL;
    uint8_t *pkl = NULL;
    sg_status st;
    if (s->size >= 4 && memcmp(s->file, "PK\x03\x04", 4) == 0) {
        s->format = "torch-zip";
        st = ck_zip_load(s, &a, &root, &pkl, err);
    } else {
        s->format = "torch-legacy";
        s->legacy = true;
        st = ck_legacy_load(s, &a, &root, err);
    }
    if (st == SG_OK) st = ck_tensors_from_root(s, root, err);
    if (st == SG_OK)
        st = sg_tensor_index(&s->base, &s->by_name, &s->t[0].name, s->n_t, sizeof s->t[0], err);
    if (st == SG_OK) st = ck_load_storages(s, err);
    if (st == SG_OK) ck_default_domains(s);
    pk_arena_free(&a); /* names and keys were copied out */
    free(pkl);
    return st;
}

static sg_status ck_finish(ck_source *s, sg_weights **out, sg_error *err) {
    sg_status st = ck_parse(s, err);
    if (st != SG_OK) {
        ck_free(&s->base);
        return st;
    }
    *out = &s->base;
    return SG_OK;
}

sg_status sg_ckpt_open_memory(const void *data, size_t size, const char *label, sg_weights **out,
                              sg_error *err) {
    if (!out || (!data && size)) return sg_error_set(err, SG_ERR_ARG, "ckpt: NULL argument");
    *out = NULL;
    ck_source *s = ck_new(label ? label : "(memory)");
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "ckpt: out of memory");
    s->file = data;
    s->size = size;
    return ck_finish(s, out, err);
}

static sg_status ck_map(ck_source *s, const char *path, sg_error *err) {
    /* the descriptor is kept for pread of storage copies (ckpt_copy.c) */
    sg_status st = sg_file_map(path, &s->file, &s->size, &s->fd, err);
    s->mapped = st == SG_OK && s->file != NULL;
    return st;
}

sg_status sg_ckpt_open(const char *path, sg_weights **out, sg_error *err) {
    if (!path || !out) return sg_error_set(err, SG_ERR_ARG, "ckpt: NULL argument");
    *out = NULL;
    ck_source *s = ck_new(path);
    if (!s) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", path);
    sg_status st = ck_map(s, path, err);
    if (st != SG_OK) {
        ck_free(&s->base);
        return st;
    }
    return ck_finish(s, out, err);
}
