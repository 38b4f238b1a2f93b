/* Mapping a model file read-only (model_internal.h sg_file_map). */
#include "model_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

sg_status sg_file_map(const char *path, const uint8_t **data, size_t *size, int *fd_out,
                      sg_error *err) {
    *data = NULL;
    *size = 0;
    sg_file_info sb;
    int fd = sg_file_open_regular(path, &sb, err); /* a FIFO is refused, not waited on */
    if (fd < 0) return err ? err->status : SG_ERR_IO;
    sg_status st = SG_OK;
    if (sb.size > 0) { /* mmap of 0 bytes fails; the parsers report the truncation */
        void *p = mmap(NULL, (size_t)sb.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            st = sg_error_set(err, SG_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        } else {
            *data = p;
            *size = (size_t)sb.size;
        }
    }
    if (st == SG_OK && fd_out) *fd_out = fd;
    else close(fd);
    return st;
}
