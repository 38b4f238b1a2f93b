/* multipart/form-data (RFC 7578 over RFC 2046) on a complete body. The body was streamed into a
 * buffer bounded by --max-body, so parsing it whole costs no more memory than a streaming
 * parser would (each part is a view into the body, never a copy) and the code stays simple
 * enough to fuzz exhaustively. Part data are binary: only the delimiter "\r\n--boundary" ends
 * them. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define MP_MAX_BOUNDARY    70 /* RFC 2046 */
#define MP_MAX_HEADER_LINE 1024

/* Past a parameter value at v: a quoted string (with \-escapes) or a token up to ';'. */
static const char *skip_value(const char *v) {
    if (*v != '"') return v + strcspn(v, ";");
    for (v++; *v && *v != '"'; v++)
        if (*v == '\\' && v[1]) v++;
    return *v ? v + 1 : v;
}

/* The value of parameter key (case-insensitive) in a header value "type; k=v; k2="v2"", or NULL.
 * Parameters are walked one by one (RFC 2183 / RFC 7578), so a ';' or "name=" inside a quoted
 * value (filename="; name=x") is part of that value, never a parameter. */
static const char *find_param(const char *s, const char *key) {
    size_t k = strlen(key);
    const char *p = strchr(s, ';');
    while (p) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t') q++;
        size_t n = strcspn(q, "=; \t");
        const char *eq = q + n;
        while (*eq == ' ' || *eq == '\t') eq++;
        if (*eq != '=') {
            p = strchr(q, ';');
            continue;
        }
        const char *v = eq + 1;
        while (*v == ' ' || *v == '\t') v++;
        if (n == k && !strncasecmp(q, key, k)) return v;
        const char *end = skip_value(v);
        p = strchr(end, ';');
    }
    return NULL;
}

/* A parameter value, quoted ("a\"b") or a bare token, copied into out. -1 when too long. */
static int param_value(const char *v, char *out, size_t cap) {
    size_t n = 0;
    if (*v == '"') {
        for (v++; *v && *v != '"'; v++) {
            if (*v == '\\' && v[1]) v++;
            if (n + 1 >= cap) return -1;
            out[n++] = *v;
        }
        if (*v != '"') return -1;
    } else {
        for (; *v && *v != ';' && *v != ' ' && *v != '\t'; v++) {
            if (n + 1 >= cap) return -1;
            out[n++] = *v;
        }
    }
    out[n] = 0;
    return 0;
}

sg_status sg_multipart_boundary(const char *content_type, char *out, size_t cap, sg_error *err) {
    const char *ct = content_type ? content_type : "";
    while (*ct == ' ') ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) || (ct[19] && ct[19] != ';' && ct[19] != ' '))
        return sg_error_set(err, SG_ERR_ARG, "not multipart/form-data");
    const char *v = find_param(ct, "boundary");
    char b[MP_MAX_BOUNDARY + 2];
    if (!v || param_value(v, b, sizeof b) || !b[0] || strlen(b) > MP_MAX_BOUNDARY ||
        strlen(b) + 1 > cap)
        return sg_error_set(err, SG_ERR_FORMAT, "multipart/form-data without a valid boundary");
    memcpy(out, b, strlen(b) + 1);
    return SG_OK;
}

/* One header line of a part (without its CRLF), NUL-terminated in line. */
static sg_status part_header(sg_mp_part *p, char *line, int *has_name, sg_error *err) {
    char *colon = strchr(line, ':');
    if (!colon) return sg_error_set(err, SG_ERR_FORMAT, "multipart: malformed part header");
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (!strcasecmp(line, "Content-Disposition")) {
        if (strncasecmp(v, "form-data", 9))
            return sg_error_set(err, SG_ERR_FORMAT, "multipart: part is not form-data");
        const char *n = find_param(v, "name"), *f = find_param(v, "filename");
        if (!n || param_value(n, p->name, sizeof p->name) || !p->name[0])
            return sg_error_set(err, SG_ERR_FORMAT, "multipart: part without a usable name");
        *has_name = 1;
        if (f) {
            p->is_file = 1;
            if (param_value(f, p->filename, sizeof p->filename)) p->filename[0] = 0;
        }
    } else if (!strcasecmp(line, "Content-Type")) {
        size_t n = strcspn(v, "; \t");
        if (n >= sizeof p->content_type) n = sizeof p->content_type - 1;
        memcpy(p->content_type, v, n);
        p->content_type[n] = 0;
    }
    return SG_OK;
}

/* The header block starting at *pos (ends with an empty line); *pos moves past it. */
static sg_status part_headers(const uint8_t *b, size_t len, size_t *pos, sg_mp_part *p,
                              sg_error *err) {
    int has_name = 0;
    for (;;) {
        const uint8_t *eol = memchr(b + *pos, '\n', len - *pos);
        if (!eol) return sg_error_set(err, SG_ERR_FORMAT, "multipart: truncated part headers");
        size_t n = (size_t)(eol - (b + *pos));
        size_t start = *pos;
        *pos += n + 1;
        if (n && b[start + n - 1] == '\r') n--;
        if (n == 0) break;
        if (n >= MP_MAX_HEADER_LINE)
            return sg_error_set(err, SG_ERR_FORMAT, "multipart: part header too long");
        char line[MP_MAX_HEADER_LINE];
        memcpy(line, b + start, n);
        line[n] = 0;
        if (memchr(line, 0, n))
            return sg_error_set(err, SG_ERR_FORMAT, "multipart: NUL in a part header");
        sg_status st = part_header(p, line, &has_name, err);
        if (st) return st;
    }
    if (!has_name)
        return sg_error_set(err, SG_ERR_FORMAT, "multipart: part without Content-Disposition");
    return SG_OK;
}

/* After a delimiter: "--" ends the body; else optional padding then a line break. Returns 1 at
 * the end, 0 before another part, -1 on malformed input. */
static int after_delimiter(const uint8_t *b, size_t len, size_t *pos) {
    if (len - *pos >= 2 && b[*pos] == '-' && b[*pos + 1] == '-') return 1;
    while (*pos < len && (b[*pos] == ' ' || b[*pos] == '\t')) (*pos)++;
    if (*pos < len && b[*pos] == '\r') (*pos)++;
    if (*pos >= len || b[*pos] != '\n') return -1;
    (*pos)++;
    return 0;
}

sg_status sg_multipart_parse(const uint8_t *body, size_t len, const char *boundary,
                             sg_mp_form *form, sg_error *err) {
    memset(form, 0, sizeof *form);
    char delim[MP_MAX_BOUNDARY + 5]; /* "\r\n--" boundary */
    size_t bl = strlen(boundary);
    if (bl == 0 || bl > MP_MAX_BOUNDARY)
        return sg_error_set(err, SG_ERR_FORMAT, "multipart: bad boundary");
    size_t dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    /* the first delimiter may open the body (no CRLF before it) */
    size_t pos;
    if (len >= dl - 2 && !memcmp(body, delim + 2, dl - 2)) {
        pos = dl - 2;
    } else {
        const uint8_t *d = len >= dl ? memmem(body, len, delim, dl) : NULL;
        if (!d) return sg_error_set(err, SG_ERR_FORMAT, "multipart: boundary not found");
        pos = (size_t)(d - body) + dl;
    }
    for (;;) {
        int r = after_delimiter(body, len, &pos);
        if (r < 0) return sg_error_set(err, SG_ERR_FORMAT, "multipart: malformed delimiter line");
        if (r > 0) return SG_OK;
        if (form->n >= SG_MP_MAX_PARTS)
            return sg_error_set(err, SG_ERR_LIMIT, "multipart: more than %d parts",
                                SG_MP_MAX_PARTS);
        sg_mp_part *p = &form->parts[form->n];
        sg_status st = part_headers(body, len, &pos, p, err);
        if (st) return st;
        const uint8_t *d = len - pos >= dl ? memmem(body + pos, len - pos, delim, dl) : NULL;
        if (!d)
            return sg_error_set(err, SG_ERR_FORMAT,
                                "multipart: truncated body (no closing boundary)");
        p->data = body + pos;
        p->len = (size_t)(d - (body + pos));
        pos = (size_t)(d - body) + dl;
        form->n++;
    }
}

const sg_mp_part *sg_multipart_get(const sg_mp_form *form, const char *name) {
    for (int i = 0; form && i < form->n; i++)
        if (!strcmp(form->parts[i].name, name)) return &form->parts[i];
    return NULL;
}
