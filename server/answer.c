/* HTTP errors and answers: the status and JSON of a failure, and an answer built once (on the
 * worker) so a synchronous request and a job's result send the same status, headers and bytes. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int sg_http_fail(sg_http_error *e, int status, const char *code, const char *fmt, ...) {
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void sg_http_from_status(sg_http_error *e, const sg_error *err) {
    const char *m = err->msg[0] ? err->msg : sg_status_name(err->status);
    switch (err->status) {
    case SG_ERR_ARG: sg_http_fail(e, 400, "bad_request", "%s", m); break;
    case SG_ERR_LIMIT: sg_http_fail(e, 413, "too_large", "%s", m); break;
    case SG_ERR_FORMAT: sg_http_fail(e, 422, "undecodable_image", "%s", m); break;
    case SG_ERR_UNSUPPORTED: sg_http_fail(e, 501, "not_implemented", "%s", m); break;
    case SG_ERR_NOMEM: sg_http_fail(e, 503, "out_of_memory", "%s", m); break;
    default: sg_http_fail(e, 500, "internal", "%s", m); break;
    }
}

void sg_answer_free(sg_answer *a) {
    sg_buf_free(&a->headers);
    free(a->body);
    a->body = NULL;
    a->len = 0;
}

sg_status sg_answer_error(sg_answer *a, const sg_http_error *e) {
    cJSON *root = cJSON_CreateObject(), *err = cJSON_CreateObject();
    cJSON_AddStringToObject(err, "code", e->code);
    cJSON_AddStringToObject(err, "message", e->msg);
    cJSON_AddItemToObject(root, "error", err);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t n = json ? strlen(json) : 0;
    a->status = e->status;
    a->content_type = "application/json";
    a->body = json ? malloc(n + 2) : NULL; /* cJSON's buffer may not be plain malloc */
    if (a->body) memcpy(a->body, json, n), a->body[n] = '\n', a->body[n + 1] = 0;
    a->len = a->body ? n + 1 : 0;
    cJSON_free(json);
    if (e->status == 503) {
        sg_buf_append(&a->headers, "Retry-After", 12);
        sg_buf_append(&a->headers, "1", 2);
    }
    return a->body ? SG_OK : SG_ERR_NOMEM;
}
