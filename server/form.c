/* Strict request fields. A request whose fields the route does not know, or that repeats a field
 * the route reads once, is refused with 400 naming the field: a silently ignored typo (`sed=2`)
 * would otherwise be answered 200 with a random seed, which looks like success. Form parts and
 * query parameters are one namespace: the same name in both counts as a repeat. */
#include <string.h>

#include "server.h"

static int in_list(const char *const *list, const char *name) {
    for (; list && *list; list++)
        if (!strcmp(*list, name)) return 1;
    return 0;
}

/* Levenshtein distance, capped: small names only (field names are under 64 bytes). */
static int distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[m];
}

static int unknown(const char *route, const char *name, const char *const *fields,
                   sg_http_error *e) {
    char list[300] = "", hint[96] = "";
    size_t n = 0;
    const char *close = NULL;
    int best = 3; /* suggest a field at most two edits away */
    for (const char *const *f = fields; *f; f++) {
        n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                              f == fields ? "" : ", ", *f);
        int d = distance(name, *f);
        if (d < best) best = d, close = *f;
    }
    if (close) snprintf(hint, sizeof hint, "did you mean '%s'? ", close);
    return sg_http_fail(e, 400, "unknown_field", "unknown field '%.64s' for %s (%sfields: %s)",
                        name, route, hint, list);
}

int sg_form_check(const sg_task_input *in, const char *route, const char *const *fields,
                  const char *const *repeatable, sg_http_error *e) {
    /* every name once: form parts, then query parameters, then the raw body's field */
    const char *names[SG_MP_MAX_PARTS + SG_MAX_QUERY + 1];
    int n = 0;
    for (int i = 0; in->form && i < in->form->n; i++) names[n++] = in->form->parts[i].name;
    if (in->n_query > SG_MAX_QUERY)
        return sg_http_fail(e, 400, "bad_request", "more than %d query parameters", SG_MAX_QUERY);
    for (int i = 0; i < in->n_query; i++) names[n++] = in->query_keys[i];
    if (in->raw_image && in->raw_field) names[n++] = in->raw_field;
    for (int i = 0; i < n; i++) {
        if (!in_list(fields, names[i])) return unknown(route, names[i], fields, e);
        if (in_list(repeatable, names[i])) continue;
        for (int k = 0; k < i; k++)
            if (!strcmp(names[k], names[i]))
                return sg_http_fail(e, 400, "repeated_field",
                                    "field '%s' is given more than once (%s takes one)", names[i],
                                    route);
    }
    return 0;
}

int sg_form_domain_error(const sg_srv_model *m, const char *v, sg_http_error *e) {
    char list[300] = "";
    size_t n = 0;
    const sg_config *c = &m->engine.cfg;
    for (int i = 0; i < c->num_domains && i < SG_MAX_DOMAINS; i++)
        n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                              i ? ", " : "", c->domains[i]);
    return sg_http_fail(e, 400, "unknown_domain",
                        "model '%s' has no domain '%.64s' (its domains: %s; or an index 0..%d)",
                        m->name, v, list, c->num_domains - 1);
}
