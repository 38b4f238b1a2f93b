/* Error reporting: a status code plus a one-line message, filled in where the failure is found. */
#include "net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

sg_status sg_error_set(sg_error *e, sg_status status, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->status = status;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *sg_status_name(sg_status s) {
    switch (s) {
    case SG_OK: return "ok";
    case SG_ERR_ARG: return "bad argument";
    case SG_ERR_IO: return "I/O error";
    case SG_ERR_FORMAT: return "malformed file";
    case SG_ERR_MISSING: return "missing";
    case SG_ERR_SHAPE: return "shape mismatch";
    case SG_ERR_LIMIT: return "limit exceeded";
    case SG_ERR_NOMEM: return "out of memory";
    case SG_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

/* Debug builds only (SG_ASSERT): a broken invariant is a bug, not an input error. */
void sg_assert_fail(const char *cond, const char *file, int line, const char *func) {
    fprintf(stderr, "internal check failed: %s (%s, %s:%d)\n", cond, func, file, line);
    fflush(stderr);
    abort();
}
