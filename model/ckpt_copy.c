/* Storages copied at open into one aligned arena (ckpt_internal.h).
 *
 * The legacy format writes each storage right after an 8-byte count that follows a pickle of
 * arbitrary length, so float data sit at any offset (in the 2020 release files 3 in 4 storages
 * are misaligned) and the model must be copied before floats can be handed out. Doing that
 * tensor by tensor (malloc + memcpy from the mapping) costs two page faults per 4 KB, the mapped
 * source and the fresh destination: on a virtual machine ten times the time of reading the file.
 * So every copy goes into one arena, one anonymous mapping asked for huge pages and populated in
 * one call, filled with pread in file order (the count before each storage comes in the same
 * read): about the cost of reading the file once, and on a cold cache the reads stream. */
#include "ckpt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23 /* Linux ≥ 5.14; older kernels answer EINVAL, which is ignored */
#endif

/* Below this the arena is a plain allocation (small files, fuzzing): huge pages and populating
 * only pay off for real models. */
#define CK_ARENA_MAP_MIN ((size_t)8 << 20)
#define CK_HUGE          ((size_t)2 << 20)

/* ---- the plan ------------------------------------------------------------------------------- */
static _Thread_local const ck_storage *ck_sort_base;
static int ck_cmp_off(const void *a, const void *b) {
    const ck_storage *x = &ck_sort_base[*(const size_t *)a], *y = &ck_sort_base[*(const size_t *)b];
    return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

static bool ck_is_f32(const ck_storage *c) {
    return strcmp(pk_storage_types[c->type].dtype, "F32") == 0;
}

/* Marks used storages, and copies: legacy F32 ones all (misaligned or not, so the whole model
 * comes in the same sequential pass), zip F32 ones when misaligned. */
static void ck_mark(ck_source *s) {
    for (size_t i = 0; i < s->n_t; i++) {
        ck_storage *c = &s->st[s->t[i].storage];
        c->used = true;
        if (c->data && ck_is_f32(c) && (s->legacy || (uintptr_t)c->data % sizeof(float) != 0))
            c->copy = true;
    }
}

/* s->order: used storages with bytes to read here, by file offset (torch sorts legacy storages
 * by key, not by first use: table order would seek back and forth). */
static sg_status ck_order(ck_source *s, sg_error *err) {
    s->order = malloc((s->n_st + 1) * sizeof *s->order);
    if (!s->order) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    s->n_order = 0;
    for (size_t i = 0; i < s->n_st; i++) {
        ck_storage *c = &s->st[i];
        if (!c->used || !c->data || (!c->copy && c->count_off < 0)) continue;
        c->file_off = (size_t)(c->data - s->file);
        s->order[s->n_order++] = i;
    }
    ck_sort_base = s->st; /* qsort has no context argument; thread-local keeps opens parallel */
    qsort(s->order, s->n_order, sizeof *s->order, ck_cmp_off);
    return SG_OK;
}

/* Slots: 64-byte aligned data, with 8 bytes before each for the legacy count read with it. */
static sg_status ck_slots(ck_source *s, sg_error *err) {
    uint64_t total = 0;
    for (size_t k = 0; k < s->n_order; k++) {
        ck_storage *c = &s->st[s->order[k]];
        if (!c->copy) continue;
        c->slot = (size_t)((total + 8 + 63) / 64 * 64);
        total = c->slot + c->numel * sizeof(float); /* in the file: ≤ its size */
        /* storages of one file never overlap, so their copies cannot outgrow it */
        if (total > (uint64_t)s->size + 72 * (uint64_t)(k + 1))
            return sg_error_set(err, SG_ERR_FORMAT, "%s: storages overlap", s->base.source);
    }
    s->arena_size = (size_t)total;
    return SG_OK;
}

/* ---- the arena ------------------------------------------------------------------------------ */
/* Huge pages, populated, for a model-sized arena. */
static sg_status ck_arena_alloc(ck_source *s, sg_error *err) {
    size_t n = s->arena_size;
    if (n < CK_ARENA_MAP_MIN) {
        s->arena = ck_alloc(n);
        return s->arena ? SG_OK
                        : sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    }
    size_t use = (n + CK_HUGE - 1) / CK_HUGE * CK_HUGE;
    s->arena_map_size = use + CK_HUGE; /* room to start on a huge-page boundary */
    void *m =
        mmap(NULL, s->arena_map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        s->arena_map_size = 0;
        return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    }
    s->arena_map = m;
    s->arena = (uint8_t *)(((uintptr_t)m + CK_HUGE - 1) & ~(uintptr_t)(CK_HUGE - 1));
#ifdef MADV_HUGEPAGE
    madvise(s->arena, use, MADV_HUGEPAGE); /* hints: refused or not, the memory works */
#endif
#ifdef MADV_POPULATE_WRITE
    madvise(s->arena, use, MADV_POPULATE_WRITE);
#endif
    return SG_OK;
}

void ck_arena_free(ck_source *s) {
    if (s->arena_map) munmap(s->arena_map, s->arena_map_size);
    else free(s->arena);
    s->arena = NULL;
    s->arena_map = NULL;
    s->arena_map_size = 0;
}

/* ---- reading -------------------------------------------------------------------------------- */
/* n bytes at off: pread from the file (a memory source: memcpy). */
static sg_status ck_read(ck_source *s, uint8_t *dst, size_t n, size_t off, sg_error *err) {
    if (s->fd < 0) {
        memcpy(dst, s->file + off, n); /* the range was checked against the size */
        return SG_OK;
    }
    while (n) {
        ssize_t k = pread(s->fd, dst, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return sg_error_set(err, SG_ERR_IO, "%s: cannot read: %s", s->base.source,
                                k < 0 ? strerror(errno) : "the file shrank");
        dst += k, n -= (size_t)k, off += (size_t)k;
    }
    return SG_OK;
}

/* One storage: its data into its slot (with the legacy count just before), or the count alone. */
static sg_status ck_read_storage(ck_source *s, ck_storage *c, sg_error *err) {
    uint8_t le[8], *count = le;
    size_t bytes = (size_t)c->numel * sizeof(float);
    sg_status st;
    if (c->copy && c->count_off >= 0)
        st = ck_read(s, count = s->arena + c->slot - 8, 8 + bytes, (size_t)c->count_off, err);
    else if (c->copy) st = ck_read(s, s->arena + c->slot, bytes, c->file_off, err);
    else st = ck_read(s, le, 8, (size_t)c->count_off, err);
    if (st != SG_OK || c->count_off < 0) return st;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | count[i];
    if (n == c->numel) return SG_OK;
    char kb[SG_MSG_NAME_CAP];
    return sg_error_set(err, SG_ERR_FORMAT,
                        "%s: storage %s holds %llu elements, its tensors say %llu", s->base.source,
                        sg_msg_name(c->key, kb, sizeof kb), (unsigned long long)n,
                        (unsigned long long)c->numel);
}

sg_status ck_load_storages(ck_source *s, sg_error *err) {
    ck_mark(s);
    sg_status st = ck_order(s, err);
    if (st == SG_OK) st = ck_slots(s, err);
    if (st == SG_OK && s->arena_size) st = ck_arena_alloc(s, err);
    if (st == SG_OK && s->fd >= 0 && s->n_order) posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (size_t k = 0; k < s->n_order && st == SG_OK; k++)
        st = ck_read_storage(s, &s->st[s->order[k]], err);
    for (size_t k = 0; k < s->n_order && st == SG_OK; k++) {
        ck_storage *c = &s->st[s->order[k]];
        if (c->copy) c->data = s->arena + c->slot;
    }
    return st;
}
