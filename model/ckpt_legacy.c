/* The legacy torch.save format (before PyTorch 1.6; the 2020 StarGAN v2 release):
 *   pickle: the magic number 0x1950a86a20f9469cfc6c
 *   pickle: the format version, 1001
 *   pickle: sys_info {'protocol_version', 'little_endian', 'type_sizes'}
 *   pickle: the object; tensors reference storages by persistent id
 *   pickle: the list of storage keys, in the order their data follow
 *   per key: u64 little-endian element count, then count × item size raw bytes.
 * Storages are only located here (pointers into the file), never copied. */
#include "ckpt_internal.h"

#include <stdio.h>
#include <string.h>

/* PROTO 2, LONG1 of 10 bytes (the magic number, little-endian), STOP */
static const uint8_t ck_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                   0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
#define CK_LEGACY_VERSION 1001

typedef struct {
    ck_source *s;
    pk_arena *a;
    size_t pos;
} ck_reader;

static sg_status ck_next_pickle(ck_reader *r, pk_value **v, sg_error *err) {
    size_t used = 0;
    sg_status st = pk_load(r->a, r->s->file + r->pos, r->s->size - r->pos, r->s->base.source,
                           r->pos, v, &used, err);
    r->pos += used;
    return st;
}

/* The version and sys_info pickles: only little-endian files of format 1001 are read. */
static sg_status ck_preamble(ck_reader *r, sg_error *err) {
    const char *src = r->s->base.source;
    if (r->s->size < sizeof ck_magic || memcmp(r->s->file, ck_magic, sizeof ck_magic) != 0)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: not a torch checkpoint (neither a zip archive nor a pickle "
                            "starting with torch's magic number)",
                            src);
    r->pos = sizeof ck_magic;
    pk_value *v;
    sg_status st = ck_next_pickle(r, &v, err);
    if (st != SG_OK) return st;
    if (v->kind != PK_INT || v->u.i != CK_LEGACY_VERSION)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "%s: legacy torch.save format version is not %d", src,
                            CK_LEGACY_VERSION);
    if ((st = ck_next_pickle(r, &v, err)) != SG_OK) return st;
    if (v->kind != PK_DICT)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: sys_info is %s, not a dict", src,
                            pk_kind_name(v));
    const pk_value *le = pk_dict_get(v, "little_endian");
    if (le && (le->kind != PK_BOOL || !le->u.i))
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: saved on a big-endian machine", src);
    return SG_OK;
}

/* One storage's record at r->pos: its bytes must fit in the file. The element count before
 * them is checked when the storage is read (ck_load_storages): reading it here would touch a
 * page per storage all over the file, slow on a cold cache. */
static sg_status ck_place(ck_reader *r, const pk_value *key, sg_error *err) {
    ck_source *s = r->s;
    char kb[SG_MSG_NAME_CAP], k[SG_MSG_NAME_CAP];
    size_t n = key->u.s.n < sizeof k - 1 ? key->u.s.n : sizeof k - 1;
    memcpy(k, key->u.s.p, n);
    k[n] = '\0';
    sg_msg_name(k, kb, sizeof kb);
    ck_storage *c = ck_storage_find(s, key->u.s.p, key->u.s.n);
    if (!c)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: storage %s is stored but never referenced",
                            s->base.source, kb);
    if (c->stored)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: storage %s is stored twice", s->base.source,
                            kb);
    if (s->size - r->pos < 8)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: truncated at storage %s (byte %zu)",
                            s->base.source, kb, r->pos);
    c->count_off = (int64_t)r->pos;
    r->pos += 8;
    uint64_t bytes = c->numel * (uint64_t)pk_storage_types[c->type].itemsize; /* ≤ 2^63 */
    if (bytes > s->size - r->pos)
        return sg_error_set(err, SG_ERR_FORMAT,
                            "%s: truncated: storage %s needs %llu bytes at byte %zu, the file "
                            "has %zu",
                            s->base.source, kb, (unsigned long long)bytes, r->pos, s->size);
    c->data = s->file + r->pos;
    c->stored = true;
    r->pos += (size_t)bytes;
    return SG_OK;
}

static sg_status ck_place_all(ck_reader *r, sg_error *err) {
    pk_value *keys;
    ck_source *s = r->s;
    sg_status st = ck_next_pickle(r, &keys, err);
    if (st != SG_OK) return st;
    if (keys->kind != PK_LIST)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: the storage key list is %s", s->base.source,
                            pk_kind_name(keys));
    for (size_t i = 0; i < keys->u.seq.n; i++) {
        const pk_value *k = keys->u.seq.v[i];
        if (k->kind != PK_STR)
            return sg_error_set(err, SG_ERR_FORMAT, "%s: a storage key is %s, not a str",
                                s->base.source, pk_kind_name(k));
        if ((st = ck_place(r, k, err)) != SG_OK) return st;
    }
    for (size_t i = 0; i < s->n_st; i++)
        if (!s->st[i].stored) {
            char kb[SG_MSG_NAME_CAP];
            return sg_error_set(err, SG_ERR_FORMAT,
                                "%s: storage %s is referenced but not in the file", s->base.source,
                                sg_msg_name(s->st[i].key, kb, sizeof kb));
        }
    return SG_OK;
}

sg_status ck_legacy_load(ck_source *s, pk_arena *a, pk_value **root, sg_error *err) {
    ck_reader r = {s, a, 0};
    sg_status st = ck_preamble(&r, err);
    if (st == SG_OK) st = ck_next_pickle(&r, root, err);
    if (st == SG_OK) st = ck_storages_from_pids(s, a, err);
    if (st == SG_OK) st = ck_place_all(&r, err);
    return st;
}
