#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tu_skips;

int tu_exit_status(int failed) {
    if (failed) return 1; /* never 77, and never a count that wraps to 0 */
    if (tu_skips) {
        printf("%d test(s) skipped: exit status 77 (ctest: Skipped)\n", tu_skips);
        return 77;
    }
    return 0;
}

const char *tu_fixtures(void) {
    static char dir[1024];
    const char *env = getenv("SG_FIXTURES");
    const char *d = env && *env ? env : SG_FIXTURES;
    struct stat st;
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/README.md", d);
    if (stat(probe, &st) != 0) return NULL;
    snprintf(dir, sizeof dir, "%s", d);
    return dir;
}

const char *tu_fixture_path(const char *rel) {
    static char path[2048];
    const char *d = tu_fixtures();
    if (!d) return NULL;
    snprintf(path, sizeof path, "%s/%s", d, rel);
    return path;
}

void tu_fill_random(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) / 16777216.0);
    }
}

void tu_diff(const float *a, const float *b, size_t n, double *max_abs, double *mean_abs) {
    double mx = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= mx)) mx = d; /* NaN propagates as max */
        sum += d;
    }
    *max_abs = mx;
    *mean_abs = n ? sum / (double)n : 0;
}

double tu_max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

void tu_assert_close(const char *what, const float *a, const float *b, size_t n, double tol_max,
                     double tol_mean) {
    double mx, mean;
    tu_diff(a, b, n, &mx, &mean);
    if (!(mx <= tol_max && mean <= tol_mean)) {
        print_error("%s: max_abs=%g (tol %g) mean_abs=%g (tol %g)\n", what, mx, tol_max, mean,
                    tol_mean);
        fail();
    }
}

tu_name *tu_read_names(const char *config, size_t *count) {
    char rel[128];
    snprintf(rel, sizeof rel, "names/%s.txt", config);
    FILE *f = fopen(tu_fixture_path(rel), "r");
    assert_non_null(f);
    size_t cap = 1024, n = 0;
    tu_name *e = calloc(cap, sizeof *e);
    assert_non_null(e);
    char shape[128];
    while (n < cap && fscanf(f, "%255s %15s %127s", e[n].name, e[n].dtype, shape) == 3) {
        char *p = shape;
        while (strcmp(shape, "scalar") != 0 && *p && e[n].ndim < 8) {
            e[n].dims[e[n].ndim++] = strtoll(p, &p, 10);
            if (*p == 'x') p++;
        }
        n++;
    }
    assert_true(feof(f)); /* the whole list fitted */
    fclose(f);
    *count = n;
    return e;
}

void tu_expect_check_fails(void (*fn)(void *), void *ctx, const char *want) {
    char path[] = "/tmp/sg_check_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, 2);
        fn(ctx);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char msg[1024] = "";
    ssize_t got = pread(fd, msg, sizeof msg - 1, 0);
    msg[got > 0 ? got : 0] = 0;
    close(fd);
    unlink(path);
#ifdef NDEBUG
    (void)want;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("Release child: %s", msg);
#else
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT || !strstr(msg, want) ||
        !strstr(msg, "internal check failed"))
        fail_msg("wanted a failed check naming '%s', child status 0x%x: %s", want, status, msg);
    print_message("%s", msg);
#endif
}

void tu_assert_plan(const char *what, const sg_arena *a, size_t planned, size_t slack) {
    print_message(
        "%s plan: %zu floats planned, peak %zu (%+.3f%%), top %zu\n", what, planned, a->peak,
        planned ? 100.0 * ((double)planned - (double)a->peak) / (double)a->peak : 0.0, a->top);
    if (a->top != 0) fail_msg("%s: %zu floats still allocated after the pass", what, a->top);
    if (planned > a->peak && planned - a->peak > slack)
        fail_msg("%s: plan %zu is %zu floats over the peak %zu (slack %zu)", what, planned,
                 planned - a->peak, a->peak, slack);
}

uint8_t *tu_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    p[len] = 0;
    *n = (size_t)len;
    return p;
}
