/* The zip torch.save format (PyTorch ≥ 1.6): <prefix>/data.pkl (the object; tensors reference
 * storages by persistent id), <prefix>/data/<key> (each storage's raw bytes), and version files.
 * The prefix is the archive's single top folder, named after the file it was saved to.
 *
 * libzip validates the archive and reads data.pkl. Storages are not read at all when they can
 * be used in place: torch stores them uncompressed and pads local headers so the data start at a
 * multiple of 64 bytes, so the data offset (found by walking the central directory, which libzip
 * does not expose) gives a pointer into the mapped file. Anything else (compressed, or a central
 * directory this walk does not follow) is read through libzip on first use. */
#include "ckpt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CK_NO_OFFSET UINT64_MAX
/* data.pkl of a state dict is tens of KB; 256 MB is generous and bounds the allocation. */
#define CK_MAX_PICKLE ((uint64_t)256 << 20)

static uint64_t rd(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- central directory walk (only to find where stored data start) ------------------------- */
/* The central directory's offset and entry count from the end records; false when absent. */
static bool zc_directory(const uint8_t *f, size_t size, uint64_t *off, uint64_t *count) {
    if (size < 22) return false;
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t i = size - 22 + 1; i-- > lo;) {
        if (rd(f + i, 4) != 0x06054b50 || i + 22 + rd(f + i + 20, 2) > size) continue;
        *count = rd(f + i + 10, 2);
        *off = rd(f + i + 16, 4);
        if (*count != 0xFFFF && *off != 0xFFFFFFFF) return true;
        /* zip64: the locator sits just before, pointing at the zip64 end record */
        if (i < 20 || rd(f + i - 20, 4) != 0x07064b50) return false;
        uint64_t e = rd(f + i - 20 + 8, 8);
        if (e > size || size - e < 56 || rd(f + e, 4) != 0x06064b50) return false;
        *count = rd(f + e + 32, 8);
        *off = rd(f + e + 48, 8);
        return true;
    }
    return false;
}

typedef struct {
    const uint8_t *name;
    size_t name_len;
    uint64_t csize, lho; /* compressed size, local header offset */
    size_t next;         /* offset of the following central entry */
} zc_entry;

/* zip64 extra field (id 1): 64-bit values for the fields that hold 0xFFFFFFFF, in order. */
static void zc_zip64(const uint8_t *x, size_t xl, uint64_t usize, zc_entry *e) {
    const uint8_t *end = x + xl;
    while (end - x >= 4) {
        size_t id = (size_t)rd(x, 2), len = (size_t)rd(x + 2, 2);
        if (len > (size_t)(end - x) - 4) return;
        const uint8_t *y = x + 4, *ye = y + len;
        if (id == 1) {
            if (usize == 0xFFFFFFFF && ye - y >= 8) y += 8;
            if (e->csize == 0xFFFFFFFF && ye - y >= 8) e->csize = rd(y, 8), y += 8;
            if (e->lho == 0xFFFFFFFF && ye - y >= 8) e->lho = rd(y, 8);
            return;
        }
        x = ye;
    }
}

static bool zc_read_entry(const uint8_t *f, size_t size, size_t p, zc_entry *e) {
    if (p > size || size - p < 46 || rd(f + p, 4) != 0x02014b50) return false;
    size_t nl = (size_t)rd(f + p + 28, 2), xl = (size_t)rd(f + p + 30, 2),
           cl = (size_t)rd(f + p + 32, 2);
    if (size - p - 46 < nl + xl + cl) return false;
    e->name = f + p + 46;
    e->name_len = nl;
    e->csize = rd(f + p + 20, 4);
    e->lho = rd(f + p + 42, 4);
    zc_zip64(f + p + 46 + nl, xl, rd(f + p + 24, 4), e);
    e->next = p + 46 + nl + xl + cl;
    return true;
}

/* Data offset of an entry from its local header, or CK_NO_OFFSET. */
static uint64_t zc_data(const uint8_t *f, size_t size, const zc_entry *e) {
    uint64_t h = e->lho;
    if (h > size || size - h < 30 || rd(f + h, 4) != 0x04034b50) return CK_NO_OFFSET;
    uint64_t d = h + 30 + rd(f + h + 26, 2) + rd(f + h + 28, 2);
    return d <= size && size - d >= e->csize ? d : CK_NO_OFFSET;
}

/* Every entry's local header is read (by libzip's consistency check and for the data offsets),
 * one page each all over the file: on a cold cache, one synchronous read after another. Asking
 * for all those pages first lets the reads overlap. Only a hint, only for a mapped file. */
static void zc_prefetch(ck_source *s) {
    uint64_t cd, count;
    if (!s->mapped || !zc_directory(s->file, s->size, &cd, &count) || cd > s->size) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t p = (size_t)cd;
    for (uint64_t i = 0; i < count; i++) {
        zc_entry e;
        if (!zc_read_entry(s->file, s->size, p, &e)) return;
        if (e.lho < s->size) {
            uintptr_t a = ((uintptr_t)s->file + (uintptr_t)e.lho) & ~(page - 1);
            uintptr_t end = (uintptr_t)s->file + s->size;
            size_t len = end - a < 2 * page ? (size_t)(end - a) : (size_t)(2 * page);
            madvise((void *)a, len, MADV_WILLNEED);
        }
        p = e.next;
    }
}

/* off[i] = data offset of libzip's entry i (its index is the central directory order; the name
 * is checked too), or CK_NO_OFFSET wherever the walk disagrees with libzip. */
static void zc_offsets(ck_source *s, uint64_t n, uint64_t *off) {
    uint64_t cd, count;
    for (uint64_t i = 0; i < n; i++) off[i] = CK_NO_OFFSET;
    if (!zc_directory(s->file, s->size, &cd, &count) || count != n || cd > s->size) return;
    size_t p = (size_t)cd;
    for (uint64_t i = 0; i < n; i++) {
        zc_entry e;
        if (!zc_read_entry(s->file, s->size, p, &e)) return;
        const char *name = zip_get_name(s->zip, i, ZIP_FL_ENC_RAW);
        if (name && strlen(name) == e.name_len && memcmp(name, e.name, e.name_len) == 0)
            off[i] = zc_data(s->file, s->size, &e);
        p = e.next;
    }
}

/* ---- entries through libzip (zip_entry.c) -------------------------------------------------- */
sg_status ck_zip_read(ck_source *s, ck_storage *c, sg_error *err) {
    uint64_t bytes = c->numel * (uint64_t)pk_storage_types[c->type].itemsize;
    char nm[SG_MSG_NAME_CAP];
    if (c->zip_index < 0 || !s->zip)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: storage %s has no data", s->base.source,
                            sg_msg_name(c->key, nm, sizeof nm));
    sg_status st = ck_budget(s, bytes, err);
    if (st != SG_OK) return st;
    c->owned = ck_alloc((size_t)bytes);
    if (!c->owned) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    st = sg_zip_entry_read(s->zip, c->zip_index, s->base.source, c->owned, bytes, err);
    if (st != SG_OK) {
        free(c->owned);
        c->owned = NULL;
        return st;
    }
    c->data = c->owned;
    return SG_OK;
}

/* ---- the archive ---------------------------------------------------------------------------- */
static sg_status ck_zip_open(ck_source *s, sg_error *err) {
    zc_prefetch(s);
    return sg_zip_open_memory(s->file, s->size, s->base.source, &s->zip, err);
}

/* The top folder every entry of a torch archive lives in, with its '/'. */
static sg_status ck_zip_prefix(ck_source *s, char *prefix, size_t cap, sg_error *err) {
    const char *first =
        zip_get_num_entries(s->zip, 0) > 0 ? zip_get_name(s->zip, 0, ZIP_FL_ENC_RAW) : NULL;
    const char *slash = first ? strchr(first, '/') : NULL;
    if (!slash || (size_t)(slash - first) + 2 > cap)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: a zip archive but not a torch checkpoint (no top folder with "
                            "data.pkl)",
                            s->base.source);
    memcpy(prefix, first, (size_t)(slash - first) + 1);
    prefix[slash - first + 1] = '\0';
    return SG_OK;
}

static zip_int64_t ck_locate(ck_source *s, const char *prefix, const char *rest) {
    char name[2 * 1024 + 16];
    snprintf(name, sizeof name, "%s%s", prefix, rest);
    return zip_name_locate(s->zip, name, ZIP_FL_ENC_RAW);
}

/* data.pkl into a fresh buffer (*pkl, *n) */
static sg_status ck_zip_pickle(ck_source *s, const char *prefix, uint8_t **pkl, size_t *n,
                               sg_error *err) {
    zip_int64_t idx = ck_locate(s, prefix, "data.pkl");
    char pf[SG_MSG_NAME_CAP];
    if (idx < 0)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: a zip archive without %sdata.pkl: not a torch checkpoint (a "
                            "download to unpack first?)",
                            s->base.source, sg_msg_name(prefix, pf, sizeof pf));
    /* a compressed data.pkl may not unpack to more than the file's own size (and 1 MiB): real
     * ones are a small part of it, and so the reader's memory stays a multiple of the file */
    uint64_t limit = (uint64_t)s->size + ((uint64_t)1 << 20);
    if (limit > CK_MAX_PICKLE) limit = CK_MAX_PICKLE;
    return sg_zip_entry_load(s->zip, idx, s->size, s->base.source, limit, pkl, n, err);
}

/* An optional <prefix>byteorder entry (newer PyTorch) must say "little". */
static sg_status ck_zip_byteorder(ck_source *s, const char *prefix, sg_error *err) {
    zip_int64_t idx = ck_locate(s, prefix, "byteorder");
    if (idx < 0) return SG_OK;
    sg_zip_entry e;
    uint8_t b[16];
    sg_status st = sg_zip_entry_stat(s->zip, idx, s->size, s->base.source, &e, err);
    if (st == SG_OK && e.size == 6) st = sg_zip_entry_read(s->zip, idx, s->base.source, b, 6, err);
    if (st == SG_OK && (e.size != 6 || memcmp(b, "little", 6) != 0))
        st = sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: byteorder is not little-endian",
                          s->base.source);
    return st;
}

/* Finds <prefix>data/<key>: in place when stored (off[] known), else read later by index. */
static sg_status ck_zip_storage(ck_source *s, const char *prefix, ck_storage *c,
                                const uint64_t *off, sg_error *err) {
    char rest[1024 + 8], nm[SG_MSG_NAME_CAP], pf[SG_MSG_NAME_CAP];
    snprintf(rest, sizeof rest, "data/%s", c->key);
    zip_int64_t idx = ck_locate(s, prefix, rest);
    if (idx < 0)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: storage %s is referenced but the archive has no %sdata/%s",
                            s->base.source, sg_msg_name(c->key, nm, sizeof nm),
                            sg_msg_name(prefix, pf, sizeof pf), nm);
    sg_zip_entry e;
    sg_status st = sg_zip_entry_stat(s->zip, idx, s->size, s->base.source, &e, err);
    if (st != SG_OK) return st;
    uint64_t bytes = c->numel * (uint64_t)pk_storage_types[c->type].itemsize;
    if (e.size != bytes)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: storage %s: entry of %llu bytes, its tensors say %llu",
                            s->base.source, sg_msg_name(c->key, nm, sizeof nm),
                            (unsigned long long)e.size, (unsigned long long)bytes);
    if (e.stored && off[idx] != CK_NO_OFFSET) c->data = s->file + off[idx];
    else c->zip_index = idx;
    return SG_OK;
}

static sg_status ck_zip_storages(ck_source *s, const char *prefix, sg_error *err) {
    zip_int64_t n = zip_get_num_entries(s->zip, 0);
    uint64_t *off = malloc(((size_t)n + 1) * sizeof *off); /* n ≤ entries libzip could parse */
    if (!off) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", s->base.source);
    zc_offsets(s, (uint64_t)n, off);
    sg_status st = SG_OK;
    for (size_t i = 0; i < s->n_st && st == SG_OK; i++)
        st = ck_zip_storage(s, prefix, &s->st[i], off, err);
    free(off);
    return st;
}

sg_status ck_zip_load(ck_source *s, pk_arena *a, pk_value **root, uint8_t **pkl, sg_error *err) {
    char prefix[1024], label[sizeof s->base.source + 16];
    size_t n = 0, used;
    sg_status st = ck_zip_open(s, err);
    if (st == SG_OK) st = ck_zip_prefix(s, prefix, sizeof prefix, err);
    if (st == SG_OK) st = ck_zip_byteorder(s, prefix, err);
    if (st == SG_OK) st = ck_zip_pickle(s, prefix, pkl, &n, err);
    snprintf(label, sizeof label, "%s: data.pkl", s->base.source);
    if (st == SG_OK) st = pk_load(a, *pkl, n, label, 0, root, &used, err);
    if (st == SG_OK) st = ck_storages_from_pids(s, a, err);
    if (st == SG_OK) st = ck_zip_storages(s, prefix, err);
    return st;
}
