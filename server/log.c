/* The access log (one logfmt line per request) and daemon messages. Each line is formatted in
 * memory and written with a single write(2), so lines from different threads never interleave. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static int access_fd = 1; /* -1: off */

sg_status sg_log_open(const char *target, sg_error *err) {
    if (!target || !strcmp(target, "-") || !*target) {
        access_fd = 1;
    } else if (!strcmp(target, "off")) {
        access_fd = -1;
    } else {
        int fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return sg_error_set(err, SG_ERR_IO, "access log %s: %s", target, strerror(errno));
        access_fd = fd;
    }
    return SG_OK;
}

void sg_log_close(void) {
    if (access_fd > 2) close(access_fd);
    access_fd = 1;
}

static void write_line(int fd, sg_buf *b) {
    if (fd < 0 || !b->data) return;
    const uint8_t *p = b->data;
    size_t n = b->len;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        p += k;
        n -= (size_t)k;
    }
}

/* RFC 3339 UTC with milliseconds. */
static void timestamp(sg_buf *b) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    sg_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

void sg_log_value(sg_buf *b, const char *v) {
    if (!v || !*v) {
        sg_buf_append(b, "-", 1);
        return;
    }
    int bare = 1;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
            (unsigned char)*p >= 0x7f)
            bare = 0;
    if (bare) {
        sg_buf_append(b, v, strlen(v));
        return;
    }
    sg_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') sg_buf_printf(b, "\\%c", *p);
        else if (*p < ' ' || *p == 0x7f) sg_buf_printf(b, "\\x%02x", *p);
        else sg_buf_append(b, p, 1);
    }
    sg_buf_append(b, "\"", 1);
}

void sg_log_access(const sg_access *a) {
    if (access_fd < 0) return;
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_buf_append(&b, "time=", 5);
    timestamp(&b);
    sg_buf_append(&b, " id=", 4);
    sg_log_value(&b, a->id);
    sg_buf_append(&b, " method=", 8);
    sg_log_value(&b, a->method);
    sg_buf_append(&b, " path=", 6);
    sg_log_value(&b, a->path);
    sg_buf_printf(&b, " status=%d bytes=%llu ms=%.1f model=", a->status,
                  (unsigned long long)a->bytes, sg_now_ms() - a->start_ms);
    sg_log_value(&b, a->model);
    sg_buf_append(&b, " domain=", 8);
    sg_log_value(&b, a->domain);
    sg_buf_append(&b, "\n", 1);
    write_line(access_fd, &b);
    sg_buf_free(&b);
}

void sg_log_msg(const char *level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_buf_append(&b, "time=", 5);
    timestamp(&b);
    sg_buf_printf(&b, " level=%s msg=", level);
    sg_log_value(&b, msg);
    sg_buf_append(&b, "\n", 1);
    write_line(2, &b);
    sg_buf_free(&b);
}
