/* The long-work budget: the sum of the admitted grids' and videos' work stays within --max-work,
 * so a burst of long requests is refused (503) rather than queued for minutes, and one request
 * larger than the whole budget is refused for good (413). */
#include "internal.h"

void sg_work_init(sg_work_budget *b, int64_t cap) {
    pthread_mutex_init(&b->mu, NULL);
    b->cap = cap;
    b->used = 0;
}

void sg_work_free(sg_work_budget *b) { pthread_mutex_destroy(&b->mu); }

int sg_work_admit(sg_work_budget *b, int64_t cost, sg_http_error *e) {
    if (cost > b->cap)
        return sg_http_fail(e, 413, "too_much_work",
                            "this request is %lld pixels of work (runs x img_size^2, and a "
                            "1/128 of the photos' pixels), over the server's --max-work of "
                            "%lld",
                            (long long)cost, (long long)b->cap);
    pthread_mutex_lock(&b->mu);
    int ok = b->used + cost <= b->cap;
    if (ok) b->used += cost;
    pthread_mutex_unlock(&b->mu);
    if (!ok)
        return sg_http_fail(e, 503, "overloaded",
                            "other long requests fill --max-work; retry later");
    return 0;
}

void sg_work_release(sg_work_budget *b, int64_t cost) {
    pthread_mutex_lock(&b->mu);
    b->used -= cost;
    if (b->used < 0) b->used = 0;
    pthread_mutex_unlock(&b->mu);
}

void sg_work_stats(sg_work_budget *b, int64_t *used, int64_t *cap) {
    pthread_mutex_lock(&b->mu);
    *used = b->used, *cap = b->cap;
    pthread_mutex_unlock(&b->mu);
}
