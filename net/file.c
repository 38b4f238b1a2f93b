/* Opening inputs: only regular files, without blocking, and (for the server's models) read into
 * private memory so a file changed or truncated under a running process cannot change what it
 * computes nor kill it with SIGBUS (a mapping of the file would do both). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "is a directory";
    if (S_ISFIFO(m)) return "is a FIFO";
    if (S_ISSOCK(m)) return "is a socket";
    if (S_ISCHR(m) || S_ISBLK(m)) return "is a device";
    return "is something else";
}

static void fill_info(const struct stat *sb, sg_file_info *info) {
    if (!info) return;
    info->size = (int64_t)sb->st_size;
    info->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    info->dev = (uint64_t)sb->st_dev;
    info->ino = (uint64_t)sb->st_ino;
}

int sg_file_open_regular(const char *path, sg_file_info *info, sg_error *err) {
    if (!path) {
        sg_error_set(err, SG_ERR_ARG, "no file name");
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        sg_error_set(err, SG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        sg_error_set(err, SG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        sg_error_set(err, SG_ERR_IO, "%s: %s, not a regular file", path, file_kind(sb.st_mode));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    fill_info(&sb, info);
    return fd;
}

sg_status sg_file_read_private(const char *path, uint64_t max, uint8_t **data, size_t *size,
                               sg_file_info *info, sg_error *err) {
    *data = NULL;
    *size = 0;
    sg_file_info fi;
    int fd = sg_file_open_regular(path, &fi, err);
    if (fd < 0) return err ? err->status : SG_ERR_IO;
    sg_status st = SG_OK;
    size_t n = (size_t)fi.size;
    uint8_t *p = NULL;
    if (max && (uint64_t)fi.size > max) {
        st = sg_error_set(err, SG_ERR_LIMIT, "%s: %lld bytes exceeds the %llu-byte limit", path,
                          (long long)fi.size, (unsigned long long)max);
    } else if (n > 0) {
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) st = sg_error_set(err, SG_ERR_NOMEM, "%s: out of memory", path);
        else p = m;
    }
    for (size_t got = 0; st == SG_OK && got < n;) {
        ssize_t k = pread(fd, p + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) st = sg_error_set(err, SG_ERR_IO, "%s: read error: %s", path, strerror(errno));
        else if (k == 0)
            st = sg_error_set(err, SG_ERR_IO, "%s: changed while being read (now shorter)", path);
        else got += (size_t)k;
    }
    struct stat sb;
    if (st == SG_OK &&
        (fstat(fd, &sb) != 0 || (int64_t)sb.st_size != fi.size ||
         (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec != fi.mtime_ns))
        st = sg_error_set(err, SG_ERR_IO, "%s: changed while being read; try again", path);
    close(fd);
    if (st != SG_OK) {
        sg_file_private_free(p, n);
        return st;
    }
    if (p) mprotect(p, n, PROT_READ); /* read-only from here: what was loaded stays as loaded */
    *data = p;
    *size = n;
    if (info) *info = fi;
    return SG_OK;
}

void sg_file_private_free(uint8_t *data, size_t size) {
    if (data && size) munmap(data, size);
}
