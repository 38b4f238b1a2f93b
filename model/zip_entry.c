/* Zip entries through libzip, for the readers of zip-based formats: torch zip checkpoints
 * (ckpt_zip.c) and faces/' .npz. The archive comes from outside, so an entry's sizes are checked
 * against the archive before anything is allocated for it, and every read goes to the entry's
 * end so libzip checks its CRC. */
#include "model_internal.h"

#include <stdlib.h>
#include <zip.h>

/* Deflate cannot expand data more than about 1032:1: a bigger claim is a lie (zip bomb). */
#define SG_ZIP_MAX_RATIO 1100

/* The entry's raw name made safe for a message (or "?"). */
static const char *entry_name(zip_t *z, int64_t idx, char *buf, size_t cap) {
    const char *name = zip_get_name(z, (zip_uint64_t)idx, ZIP_FL_ENC_RAW);
    return sg_msg_name(name ? name : "?", buf, cap);
}

sg_status sg_zip_open_memory(const void *data, size_t size, const char *label, zip_t **out,
                             sg_error *err) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
    *out = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    sg_status st = SG_OK;
    if (!*out) {
        st = sg_error_set(err, SG_ERR_FORMAT, "%s: not a readable zip archive: %s", label,
                          zip_error_strerror(&ze));
        if (src) zip_source_free(src); /* the archive owns it only once opened */
    }
    zip_error_fini(&ze);
    return st;
}

sg_status sg_zip_entry_stat(zip_t *z, int64_t idx, uint64_t archive_size, const char *label,
                            sg_zip_entry *e, sg_error *err) {
    char nm[SG_MSG_NAME_CAP];
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(z, (zip_uint64_t)idx, 0, &zs) != 0)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: %s", label,
                            entry_name(z, idx, nm, sizeof nm), zip_strerror(z));
    const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((zs.valid & need) != need)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: sizes unknown", label,
                            entry_name(z, idx, nm, sizeof nm));
    if ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "%s: %s is encrypted", label,
                            entry_name(z, idx, nm, sizeof nm));
    bool stored = zs.comp_method == ZIP_CM_STORE;
    if (zs.comp_size > archive_size || (stored && zs.size != zs.comp_size) ||
        zs.size / SG_ZIP_MAX_RATIO > zs.comp_size + 4096)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: implausible sizes", label,
                            entry_name(z, idx, nm, sizeof nm));
    e->size = zs.size;
    e->stored = stored;
    return SG_OK;
}

sg_status sg_zip_entry_read(zip_t *z, int64_t idx, const char *label, void *buf, uint64_t n,
                            sg_error *err) {
    char nm[SG_MSG_NAME_CAP];
    zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)idx, 0);
    if (!f)
        return sg_error_set(err, SG_ERR_FORMAT, "%s: %s: %s", label,
                            entry_name(z, idx, nm, sizeof nm), zip_strerror(z));
    uint8_t extra;
    zip_int64_t got = n ? zip_fread(f, buf, n) : 0;
    zip_int64_t more = got == (zip_int64_t)n ? zip_fread(f, &extra, 1) : 0;
    sg_status st = SG_OK;
    if (got < 0 || more < 0)
        st = sg_error_set(err, SG_ERR_FORMAT, "%s: %s: %s", label,
                          entry_name(z, idx, nm, sizeof nm), zip_file_strerror(f));
    else if (got != (zip_int64_t)n || more != 0)
        st = sg_error_set(err, SG_ERR_FORMAT, "%s: %s: size differs from the directory's", label,
                          entry_name(z, idx, nm, sizeof nm));
    if (zip_fclose(f) != 0 && st == SG_OK)
        st = sg_error_set(err, SG_ERR_FORMAT, "%s: %s is corrupt", label,
                          entry_name(z, idx, nm, sizeof nm));
    return st;
}

sg_status sg_zip_entry_load(zip_t *z, int64_t idx, uint64_t archive_size, const char *label,
                            uint64_t limit, uint8_t **buf, size_t *n, sg_error *err) {
    char nm[SG_MSG_NAME_CAP];
    sg_zip_entry e;
    *buf = NULL;
    *n = 0;
    sg_status st = sg_zip_entry_stat(z, idx, archive_size, label, &e, err);
    if (st != SG_OK) return st;
    if (e.size > limit)
        return sg_error_set(err, SG_ERR_LIMIT, "%s: %s of %llu bytes exceeds the limit of %llu",
                            label, entry_name(z, idx, nm, sizeof nm), (unsigned long long)e.size,
                            (unsigned long long)limit);
    *buf = malloc(e.size ? (size_t)e.size : 1);
    if (!*buf) return sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", label);
    st = sg_zip_entry_read(z, idx, label, *buf, e.size, err);
    if (st != SG_OK) {
        free(*buf);
        *buf = NULL;
        return st;
    }
    *n = (size_t)e.size;
    return SG_OK;
}
