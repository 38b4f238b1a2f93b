/* Shared test helpers: fixture location, skipping, tolerance checks, random data. */
#ifndef SG_TESTUTIL_H
#define SG_TESTUTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../net/net.h"

/* Skips that ctest can see. cmocka's skip() marks the test SKIPPED but leaves the exit status at
 * 0, so ctest would say "Passed" for a binary that checked nothing; every test binary counts
 * its skips here (skip() is redefined to count, so no skip goes unseen) and ends with
 * TU_RUN_TESTS, whose exit status ctest reads: 1 when a test failed, else 77 (SKIP_RETURN_CODE:
 * ctest says "Skipped") when one was skipped, else 0. */
extern int tu_skips;
#undef skip
#define skip() (tu_skips++, _skip(__FILE__, __LINE__))
int tu_exit_status(int failed);
#define TU_RUN_TESTS(tests, setup, teardown)                                                       \
    tu_exit_status(cmocka_run_group_tests(tests, setup, teardown))

/* The fixtures folder (env SG_FIXTURES overrides the build-time path), or NULL when absent. */
const char *tu_fixtures(void);
/* Builds "<fixtures>/<rel>" into a static buffer; NULL when fixtures are absent. */
const char *tu_fixture_path(const char *rel);
/* Inside a cmocka test: prints "skipped: <why>" and skips the test when fixtures are absent. */
#define TU_REQUIRE_FIXTURES()                                                                      \
    do {                                                                                           \
        if (!tu_fixtures()) {                                                                      \
            print_message(                                                                         \
                "skipped: fixtures not found (set SG_FIXTURES or place ../shared/fixtures)\n");    \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Runs fn(ctx) in a child process. Debug builds: asserts the child dies of a failed SG_ASSERT
 * (SIGABRT, "internal check failed" and want on stderr). Release (NDEBUG): asserts it returns
 * normally, the check compiled out; fn must then be harmless. */
void tu_expect_check_fails(void (*fn)(void *), void *ctx, const char *want);

/* A network's activation plan checked after its forward passes on arena a (initialised with
 * planned floats): the arena is empty again (every stage gave back what it took) and the plan is
 * the peak up to slack floats. Plans mirror the allocations in order and count 16 floats of
 * alignment per allocation (the arena rounds each up to 16), so they are over the peak by less
 * than 16 floats per allocation of the largest stage: TU_PLAN_SLACK bounds that. */
void tu_assert_plan(const char *what, const sg_arena *a, size_t planned, size_t slack);
#define TU_PLAN_SLACK ((size_t)1024)

/* The whole file at path (asserted to open and read), NUL-terminated one past *n; free() it. */
uint8_t *tu_read_file(const char *path, size_t *n);

/* Deterministic uniform floats in [lo, hi) (xorshift, seeded). */
void tu_fill_random(float *x, size_t n, uint64_t seed, float lo, float hi);
/* max |a - b| and mean |a - b| in double */
void tu_diff(const float *a, const float *b, size_t n, double *max_abs, double *mean_abs);
double tu_max_abs(const float *a, size_t n);
/* asserts max|a-b| <= tol_max and mean <= tol_mean, printing the name on failure */
void tu_assert_close(const char *what, const float *a, const float *b, size_t n, double tol_max,
                     double tol_mean);

/* One line of fixtures/names/<config>.txt: "name dtype shape", shape AxBxC or "scalar". */
typedef struct {
    char name[256], dtype[16];
    int ndim;
    int64_t dims[8];
} tu_name;
/* Every line of that list (*count of them; free() the array). Asserts the file opens: call
 * after TU_REQUIRE_FIXTURES(). */
tu_name *tu_read_names(const char *config, size_t *count);
#endif
