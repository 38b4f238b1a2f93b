/* Test helper: open a parity fixture and build its networks with spec-v1 weights. */
#ifndef SG_TEST_FIXTURE_H
#define SG_TEST_FIXTURE_H
#include "../engine/engine.h"
#include "testutil.h"

typedef struct {
    sg_weights *fx; /* the io file */
    sg_engine e;    /* networks on spec-v1 weights, configuration from the io metadata */
    sg_run run;     /* one image's run state (its workspace serves batches too) */
    int n;          /* batch of the fixture */
} tu_fixture;

/* Opens fixtures/<name>.io.safetensors; returns 0 on success. Fails the test on errors. */
int tu_fixture_open(tu_fixture *f, const char *name);
void tu_fixture_close(tu_fixture *f);
/* F32 tensor of the io file by name (fails the test when absent). */
const float *tu_fixture_get(tu_fixture *f, const char *name, size_t *numel);
/* The fixtures' match rule: max ≤ 1e-3·max(1, max|ref|), mean ≤ 1e-4·max(1, max|ref|). */
void tu_assert_fixture_match(const char *what, const float *ours, const float *ref, size_t n);
#endif
