/* model/: spec-v1 values, safetensors read/write, hostile files, recorder, config derivation. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/model.h"

/* ---- helpers -------------------------------------------------------------------------------- */
static char tmpdir[1024];

static const char *tmp_path(const char *name) {
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_model_tmp", SG_BUILD_DIR);
    mkdir(tmpdir, 0755);
    return 0;
}

static sg_shape shp(int ndim, ...) {
    sg_shape s = {.ndim = ndim};
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) s.dims[i] = va_arg(ap, int);
    va_end(ap);
    return s;
}

static size_t numel(const sg_shape *s) {
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= (size_t)s->dims[i];
    return n;
}

/* Writes u64 LE len(header) + header + data as a file in tmpdir; returns its path. */
static const char *write_raw(const char *name, const char *header, const void *data, size_t n) {
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t len = strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(len >> (8 * i));
    assert_int_equal(fwrite(le, 1, 8, f), 8);
    assert_int_equal(fwrite(header, 1, len, f), len);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

static const char *write_bytes(const char *name, const void *data, size_t n) {
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

static void assert_contains(const char *msg, const char *part) {
    if (!strstr(msg, part)) {
        print_error("message \"%s\" lacks \"%s\"\n", msg, part);
        fail();
    }
}

/* Opening path must fail with status st and a message naming the file and `part`. */
static void expect_open_error(const char *path, sg_status st, const char *part) {
    sg_weights *w = (sg_weights *)1;
    sg_error err = {0};
    sg_status got = sg_safetensors_open(path, &w, &err);
    if (got != st) print_error("%s: status %d, expected %d (%s)\n", path, got, st, err.msg);
    assert_int_equal(got, st);
    assert_null(w);
    assert_int_equal(err.status, st);
    assert_null(strchr(err.msg, '\n'));
    assert_contains(err.msg, path);
    if (part) assert_contains(err.msg, part);
}

/* A names list (fixtures/names/<config>.txt): float32 tensors only. */
typedef struct {
    char name[256];
    sg_shape shape;
} name_entry;

static name_entry *read_names(const char *config, size_t *count) {
    size_t all, n = 0;
    tu_name *t = tu_read_names(config, &all);
    name_entry *e = calloc(all ? all : 1, sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < all; i++) {
        if (strcmp(t[i].dtype, "float32") != 0) continue;
        snprintf(e[n].name, sizeof e[n].name, "%s", t[i].name);
        e[n].shape.ndim = t[i].ndim;
        memcpy(e[n].shape.dims, t[i].dims, sizeof t[i].dims);
        n++;
    }
    free(t);
    *count = n;
    return e;
}

static const name_entry *find_name(const name_entry *e, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) return &e[i];
    return NULL;
}

/* ---- spec v1 -------------------------------------------------------------------------------- */
static void test_spec_v1_uniform_known(void **state) {
    (void)state;
    /* values from tools/refimpl spec_v1_uniform / spec_v1 */
    const double want[4] = {-0x1.57adbcp-1, 0x1.851c58p-1, -0x1.df6facp-1, 0x1.d05bcp-3};
    double u[4];
    sg_spec_v1_uniform("input.z", 4, u);
    for (int i = 0; i < 4; i++) assert_true(u[i] == want[i]);
    const float wf[3] = {-0x1.b11d06p-6f, -0x1.c81906p-6f, -0x1.23d30ap-6f};
    sg_shape s = shp(4, 256, 256, 3, 3);
    float *v = malloc(numel(&s) * sizeof *v);
    assert_int_equal(sg_spec_v1_fill("generator.encode.0.conv1.weight", &s, v, NULL), SG_OK);
    assert_memory_equal(v, wf, sizeof wf);
    free(v);
}

static void test_spec_v1_rules(void **state) {
    (void)state;
    float v[64];
    sg_error err = {0};
    sg_shape k = shp(2, 3, 3);
    const float hpf[9] = {-1, -1, -1, -1, 8, -1, -1, -1, -1};
    assert_int_equal(sg_spec_v1_fill("generator.hpf.filter", &k, v, &err), SG_OK);
    assert_memory_equal(v, hpf, sizeof hpf);
    sg_shape s0 = shp(0);
    assert_int_equal(sg_spec_v1_fill("fan.bn1.num_batches_tracked", &s0, v, &err),
                     SG_ERR_UNSUPPORTED);
    assert_contains(err.msg, "fan.bn1.num_batches_tracked");
    sg_shape s = shp(1, 64);
    assert_int_equal(sg_spec_v1_fill("generator.something", &s, v, &err), SG_ERR_UNSUPPORTED);
    assert_contains(err.msg, "generator.something");
    /* ranges: offset ± scale */
    struct {
        const char *name;
        double lo, hi;
    } r[] = {{"fan.bn1.running_var", 0.75, 1.25},
             {"fan.bn1.running_mean", -0.1, 0.1},
             {"generator.to_rgb.0.weight", 0.9, 1.1},
             {"generator.to_rgb.0.bias", -0.1, 0.1}};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        assert_int_equal(sg_spec_v1_fill(r[i].name, &s, v, &err), SG_OK);
        for (int j = 0; j < 64; j++) assert_true(v[j] >= r[i].lo && v[j] <= r[i].hi);
    }
}

/* each() callback: collects names (up to 64). */
typedef struct {
    char names[64][128];
    sg_shape shapes[64];
    int n;
} name_list;

static int collect(void *ctx, const char *name, const sg_shape *shape) {
    name_list *l = ctx;
    if (l->n >= 64) return 1;
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
    l->shapes[l->n++] = *shape;
    return 0;
}

/* The fixture holds the first 16 flattened values of six tensors at the mini shapes. */
static void test_spec_v1_fixture(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    size_t n;
    name_entry *names = read_names("mini", &n);
    sg_weights *chk;
    sg_error err = {0};
    assert_int_equal(
        sg_safetensors_open(tu_fixture_path("ckpt/spec_v1_check.safetensors"), &chk, &err), SG_OK);
    name_list l = {.n = 0};
    chk->each(chk, collect, &l);
    assert_int_equal(l.n, 6);
    for (int i = 0; i < l.n; i++) {
        const name_entry *e = find_name(names, n, l.names[i]);
        assert_non_null(e);
        float *v = malloc(numel(&e->shape) * sizeof *v);
        const float *want;
        assert_int_equal(sg_spec_v1_fill(e->name, &e->shape, v, &err), SG_OK);
        assert_int_equal(sg_weights_get(chk, e->name, &want, &err, 1, 16), SG_OK);
        if (memcmp(v, want, 16 * sizeof *v) != 0) {
            print_error("%s differs from spec_v1_check\n", e->name);
            fail();
        }
        free(v);
    }
    sg_weights_free(chk);
    free(names);
}

static void test_spec_v1_source(void **state) {
    (void)state;
    sg_weights *w;
    sg_error err = {0};
    assert_int_equal(sg_spec_v1_open(&w, &err), SG_OK);
    const float *a, *b;
    assert_int_equal(sg_weights_get(w, "generator.from_rgb.weight", &a, &err, 4, 8, 3, 3, 3),
                     SG_OK);
    assert_int_equal(sg_weights_get(w, "generator.from_rgb.bias", &b, &err, 1, 8), SG_OK);
    const float *again;
    assert_int_equal(sg_weights_get(w, "generator.from_rgb.weight", &again, &err, 4, 8, 3, 3, 3),
                     SG_OK);
    assert_ptr_equal(a, again);
    float ref[8 * 27];
    sg_shape s = shp(4, 8, 3, 3, 3);
    sg_spec_v1_fill("generator.from_rgb.weight", &s, ref, NULL);
    assert_memory_equal(a, ref, sizeof ref);
    /* same name, other shape: refused, naming the tensor */
    assert_int_equal(sg_weights_get(w, "generator.from_rgb.weight", &again, &err, 4, 4, 3, 3, 3),
                     SG_ERR_SHAPE);
    assert_contains(err.msg, "generator.from_rgb.weight");
    assert_int_equal(sg_weights_get(w, "fan.bn1.num_batches_tracked", &again, &err, 0),
                     SG_ERR_UNSUPPORTED);
    sg_shape got;
    assert_int_equal(w->shape(w, "generator.from_rgb.weight", &got, &err), SG_ERR_UNSUPPORTED);
    assert_null(w->meta(w, "domains"));
    name_list l = {.n = 0};
    w->each(w, collect, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "generator.from_rgb.weight");
    assert_string_equal(l.names[1], "generator.from_rgb.bias");
    sg_weights_free(w);
}

static void test_recorder(void **state) {
    (void)state;
    sg_weights *spec, *rec;
    sg_error err = {0};
    assert_int_equal(sg_spec_v1_open(&spec, &err), SG_OK);
    assert_int_equal(sg_recorder_open(spec, &rec, &err), SG_OK);
    const float *a, *b, *c;
    assert_int_equal(sg_weights_get(rec, "x.bias", &a, &err, 1, 5), SG_OK);
    assert_int_equal(sg_weights_get(rec, "x.weight", &b, &err, 2, 3, 4), SG_OK);
    assert_int_equal(sg_weights_get(rec, "x.bias", &c, &err, 1, 5), SG_OK); /* once */
    assert_int_equal(sg_weights_get(rec, "x.nope", &c, &err, 1, 5), SG_ERR_UNSUPPORTED);
    size_t n;
    const sg_recorded *r = sg_recorder_list(rec, &n);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].name, "x.bias");
    assert_ptr_equal(r[0].data, a);
    assert_int_equal(r[0].shape.ndim, 1);
    assert_int_equal(r[0].shape.dims[0], 5);
    assert_string_equal(r[1].name, "x.weight");
    assert_ptr_equal(r[1].data, b);
    assert_int_equal(r[1].shape.dims[1], 4);
    sg_shape s;
    assert_int_equal(rec->shape(rec, "x.bias", &s, &err), SG_ERR_UNSUPPORTED); /* inner's */
    assert_null(sg_recorder_list(spec, &n));                                   /* not a recorder */
    assert_int_equal(n, 0);
    sg_weights_free(rec);
    sg_weights_free(spec); /* inner outlives the recorder */
}

/* ---- safetensors round trip ----------------------------------------------------------------- */
static void test_write_read_roundtrip(void **state) {
    (void)state;
    float a[2 * 3 * 4], b[7], sc[1] = {42.5f};
    tu_fill_random(a, 24, 1, -2, 2);
    tu_fill_random(b, 7, 2, -2, 2);
    sg_named_tensor t[] = {{"zeta.weight", shp(3, 2, 3, 4), a},
                           {"alpha.bias", shp(1, 7), b},
                           {"mid.scalar", shp(0), sc},
                           {"empty", shp(2, 0, 5), NULL}};
    const char *meta[] = {"domains", "cat,dog", "note", "quote \" and \\ and \xc3\xa9"};
    const char *path = tmp_path("rt.safetensors");
    sg_error err = {0};
    assert_int_equal(sg_safetensors_write(path, t, 4, meta, 2, &err), SG_OK);
    assert_int_equal(access(tmp_path("rt.safetensors.tmp"), F_OK), -1); /* renamed */
    /* data section starts 64-byte aligned */
    FILE *f = fopen(path, "rb");
    unsigned char le[8];
    assert_int_equal(fread(le, 1, 8, f), 8);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | le[i];
    assert_int_equal((8 + hlen) % 64, 0);

    sg_weights *w;
    assert_int_equal(sg_model_open(path, &w, &err), SG_OK);
    assert_string_equal(w->meta(w, "domains"), "cat,dog");
    assert_string_equal(w->meta(w, "note"), meta[3]);
    assert_null(w->meta(w, "absent"));
    const float *p;
    assert_int_equal(sg_weights_get(w, "zeta.weight", &p, &err, 3, 2, 3, 4), SG_OK);
    assert_memory_equal(p, a, sizeof a);
    assert_int_equal((uintptr_t)p % 4, 0);
    assert_int_equal(sg_weights_get(w, "alpha.bias", &p, &err, 1, 7), SG_OK);
    assert_memory_equal(p, b, sizeof b);
    assert_int_equal(sg_weights_get(w, "mid.scalar", &p, &err, 0), SG_OK);
    assert_true(p[0] == 42.5f);
    assert_int_equal(sg_weights_get(w, "empty", &p, &err, 2, 0, 5), SG_OK);
    name_list l = {.n = 0};
    w->each(w, collect, &l);
    assert_int_equal(l.n, 4); /* written sorted by name */
    assert_string_equal(l.names[0], "alpha.bias");
    assert_string_equal(l.names[3], "zeta.weight");
    sg_shape s;
    assert_int_equal(w->shape(w, "zeta.weight", &s, &err), SG_OK);
    assert_int_equal(s.ndim, 3);
    assert_int_equal(s.dims[2], 4);
    assert_int_equal(w->shape(w, "nope", &s, &err), SG_ERR_MISSING);
    sg_weights_free(w);
}

static void test_write_errors(void **state) {
    (void)state;
    float a[2] = {1, 2};
    sg_error err = {0};
    sg_named_tensor dup[] = {{"x", shp(1, 2), a}, {"x", shp(1, 2), a}};
    assert_int_equal(sg_safetensors_write(tmp_path("dup.safetensors"), dup, 2, NULL, 0, &err),
                     SG_ERR_ARG);
    assert_contains(err.msg, "x given twice");
    sg_named_tensor nodata[] = {{"y", shp(1, 2), NULL}};
    assert_int_equal(sg_safetensors_write(tmp_path("nd.safetensors"), nodata, 1, NULL, 0, &err),
                     SG_ERR_ARG);
    sg_named_tensor neg[] = {{"y", shp(1, -2), a}};
    assert_int_equal(sg_safetensors_write(tmp_path("neg.safetensors"), neg, 1, NULL, 0, &err),
                     SG_ERR_ARG);
    const char *dupmeta[] = {"k", "1", "k", "2"};
    assert_int_equal(sg_safetensors_write(tmp_path("dm.safetensors"), NULL, 0, dupmeta, 2, &err),
                     SG_ERR_ARG);
    assert_int_equal(sg_safetensors_write("/nonexistent-dir/x.safetensors", dup, 1, NULL, 0, &err),
                     SG_ERR_IO);
    assert_contains(err.msg, "/nonexistent-dir/x.safetensors");
    assert_int_equal(access(tmp_path("dup.safetensors"), F_OK), -1); /* nothing left behind */
}

/* A header whose length is not a multiple of 4 puts F32 data off alignment: get copies it. */
static void test_unaligned_data(void **state) {
    (void)state;
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                      "\"n\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[12,28]}}";
    assert_true((8 + strlen(hdr)) % 4 != 0);
    unsigned char data[28];
    const float fv[3] = {1.5f, -2.25f, 3.0f};
    const int64_t iv[2] = {7, -3};
    memcpy(data, fv, 12);
    memcpy(data + 12, iv, 16);
    const char *path = write_raw("unaligned.safetensors", hdr, data, sizeof data);
    sg_weights *w;
    sg_error err = {0};
    assert_int_equal(sg_safetensors_open(path, &w, &err), SG_OK);
    const float *p, *q;
    assert_int_equal(sg_weights_get(w, "a", &p, &err, 1, 3), SG_OK);
    assert_int_equal((uintptr_t)p % 4, 0);
    assert_memory_equal(p, fv, sizeof fv);
    assert_int_equal(sg_weights_get(w, "a", &q, &err, 1, 3), SG_OK);
    assert_ptr_equal(p, q); /* copied once */
    int64_t got[2];
    assert_int_equal(sg_safetensors_get_i64(w, "n", got, 2, &err), SG_OK);
    assert_memory_equal(got, iv, sizeof iv);
    assert_int_equal(sg_safetensors_get_i64(w, "n", got, 3, &err), SG_ERR_SHAPE);
    assert_int_equal(sg_safetensors_get_i64(w, "a", got, 3, &err), SG_ERR_SHAPE);
    assert_contains(err.msg, "dtype F32, expected I64");
    /* the I64 tensor asked as F32 */
    assert_int_equal(sg_weights_get(w, "n", &p, &err, 1, 2), SG_ERR_SHAPE);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "tensor n: dtype I64, expected F32");
    sg_weights_free(w);
}

static void test_fixture_labels(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    sg_weights *w;
    sg_error err = {0};
    assert_int_equal(sg_safetensors_open(tu_fixture_path("mini.io.safetensors"), &w, &err), SG_OK);
    int64_t y[2];
    assert_int_equal(sg_safetensors_get_i64(w, "y_trg", y, 2, &err), SG_OK);
    assert_true(y[0] >= 0 && y[0] < 2 && y[1] >= 0 && y[1] < 2);
    assert_string_equal(w->meta(w, "img_size"), "64");
    const float *z;
    assert_int_equal(sg_weights_get(w, "z", &z, &err, 2, 2, 8), SG_OK);
    double u[16];
    sg_spec_v1_uniform("input.z", 16, u);
    for (int i = 0; i < 16; i++) assert_true(z[i] == (float)(sqrt(3.0) * u[i]));
    sg_weights_free(w);
}

/* ---- hostile files -------------------------------------------------------------------------- */
static void test_bad_files_prefix(void **state) {
    (void)state;
    expect_open_error(write_bytes("empty.safetensors", "", 0), SG_ERR_FORMAT,
                      "truncated (file is 0 bytes)");
    expect_open_error(write_bytes("five.safetensors", "\x10\0\0\0\0", 5), SG_ERR_FORMAT,
                      "truncated (file is 5 bytes)");
    unsigned char big[100] = {0xd2, 0x04}; /* claims 1234 bytes */
    expect_open_error(write_bytes("claims.safetensors", big, sizeof big), SG_ERR_FORMAT,
                      "header claims 1234 bytes but the file has 100");
    unsigned char huge[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    expect_open_error(write_bytes("huge.safetensors", huge, sizeof huge), SG_ERR_FORMAT,
                      "header claims");
    /* a header over the limit inside a (sparse) file that is big enough */
    const char *sparse = tmp_path("sparse.safetensors");
    int fd = open(sparse, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    unsigned char lim[8] = {0, 0, 0, 0x07}; /* 112 MiB */
    assert_int_equal(write(fd, lim, 8), 8);
    assert_int_equal(ftruncate(fd, (off_t)120 << 20), 0);
    close(fd);
    expect_open_error(sparse, SG_ERR_LIMIT, "exceeds the limit");
    unlink(sparse);
    expect_open_error(tmp_path("does-not-exist.safetensors"), SG_ERR_IO, "cannot open");
    expect_open_error(tmpdir, SG_ERR_IO, "not a regular file");
}

static void test_bad_files_json(void **state) {
    (void)state;
    expect_open_error(write_raw("nojson.safetensors", "hello", NULL, 0), SG_ERR_FORMAT,
                      "not valid JSON");
    expect_open_error(write_raw("emptyhdr.safetensors", "", NULL, 0), SG_ERR_FORMAT,
                      "not valid JSON");
    expect_open_error(write_raw("array.safetensors", "[1,2]", NULL, 0), SG_ERR_FORMAT,
                      "not a JSON object");
    expect_open_error(write_raw("trail.safetensors", "{} x", NULL, 0), SG_ERR_FORMAT,
                      "bytes after the JSON");
    expect_open_error(write_raw("meta.safetensors", "{\"__metadata__\":{\"k\":1}}", NULL, 0),
                      SG_ERR_FORMAT, "__metadata__ value of k is not a string");
    expect_open_error(write_raw("entry.safetensors", "{\"t\":5}", NULL, 0), SG_ERR_FORMAT,
                      "tensor t: entry is not an object");
    /* padding spaces after the JSON are fine */
    sg_weights *w;
    assert_int_equal(
        sg_safetensors_open(write_raw("pad.safetensors", "{}     ", NULL, 0), &w, NULL), SG_OK);
    sg_weights_free(w);
}

static void test_bad_files_tensors(void **state) {
    (void)state;
    static const unsigned char zeros[64];
    static const struct {
        const char *file, *header;
        sg_status st;
        const char *part;
    } c[] = {
        {"nooffs", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[2]}}", SG_ERR_FORMAT,
         "tensor w.x: data_offsets missing"},
        {"range", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1000]}}",
         SG_ERR_FORMAT, "tensor w.x: data_offsets [0,1000] outside the data section (64 bytes)"},
        {"reversed", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
         SG_ERR_FORMAT, "tensor w.x: data_offsets"},
        {"size", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}",
         SG_ERR_FORMAT, "tensor w.x: data_offsets [0,12] hold 12 bytes, but F32 [2,2] needs 16"},
        {"neg", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
         SG_ERR_FORMAT, "tensor w.x: shape has a dimension"},
        {"frac", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
         SG_ERR_FORMAT, "tensor w.x: shape has a dimension"},
        {"bigdim", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}",
         SG_ERR_FORMAT, "tensor w.x: shape has a dimension"},
        {"overflow",
         "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
         "\"data_offsets\":[0,4]}}",
         SG_ERR_FORMAT, "tensor w.x: shape [4294967296,4294967296,16] is too large"},
        {"ndim",
         "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
         SG_ERR_LIMIT, "tensor w.x: 9 dims"},
        {"noshape", "{\"w.x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", SG_ERR_FORMAT,
         "tensor w.x: shape missing"},
        {"nodtype", "{\"w.x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", SG_ERR_FORMAT,
         "tensor w.x: dtype missing"},
        {"dtype", "{\"w.x\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         SG_ERR_UNSUPPORTED, "tensor w.x: unknown dtype Q7"},
        {"dup",
         "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"w.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         SG_ERR_FORMAT, "tensor w.x appears twice"},
        {"overlap",
         "{\"w.a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"w.b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
         SG_ERR_FORMAT, "overlaps tensor"},
        {"offs3", "{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
         SG_ERR_FORMAT, "tensor w.x: data_offsets missing or not [begin, end]"},
        {"ctrl", "{\"w\\nx\":{\"dtype\":\"F32\",\"shape\":[1]}}", SG_ERR_FORMAT,
         "tensor w?x: data_offsets"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad_%s.safetensors", c[i].file);
        expect_open_error(write_raw(name, c[i].header, zeros, sizeof zeros), c[i].st, c[i].part);
    }
}

static void test_get_errors(void **state) {
    (void)state;
    float d[4] = {1, 2, 3, 4};
    sg_named_tensor t[] = {{"generator.from_rgb.weight", shp(4, 1, 1, 2, 2), d}};
    const char *path = tmp_path("model.safetensors");
    sg_error err = {0};
    assert_int_equal(sg_safetensors_write(path, t, 1, NULL, 0, &err), SG_OK);
    sg_weights *w;
    assert_int_equal(sg_safetensors_open(path, &w, &err), SG_OK);
    const float *p;
    assert_int_equal(sg_weights_get(w, "generator.from_rgb.weight", &p, &err, 4, 2, 1, 2, 2),
                     SG_ERR_SHAPE);
    assert_contains(err.msg, path);
    assert_contains(err.msg,
                    "tensor generator.from_rgb.weight: shape [1,1,2,2], expected [2,1,2,2]");
    assert_int_equal(sg_weights_get(w, "generator.encode.0.conv1.weight", &p, &err, 1, 4),
                     SG_ERR_MISSING);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "tensor generator.encode.0.conv1.weight missing");
    int64_t y[4];
    sg_weights *spec;
    assert_int_equal(sg_spec_v1_open(&spec, &err), SG_OK);
    assert_int_equal(sg_safetensors_get_i64(spec, "x", y, 4, &err), SG_ERR_ARG);
    sg_weights_free(spec);
    assert_int_equal(sg_safetensors_get_i64(w, "nope", y, 4, &err), SG_ERR_MISSING);
    sg_weights_free(w);
}

static void test_model_open_sniff(void **state) {
    (void)state;
    sg_weights *w = NULL;
    sg_error err = {0};
    const char *txt = write_bytes("notes.txt", "hello, this is not a model file", 31);
    assert_int_equal(sg_model_open(txt, &w, &err), SG_ERR_FORMAT);
    assert_contains(err.msg, txt);
    assert_contains(err.msg, "not a safetensors model file");
    assert_int_equal(sg_model_open(tmp_path("missing.ckpt"), &w, &err), SG_ERR_IO);
    /* a renamed safetensors file is recognised by content */
    const char *st = write_raw("renamed.bin", "{\"__metadata__\":{\"a\":\"b\"}}", NULL, 0);
    assert_int_equal(sg_model_open(st, &w, &err), SG_OK);
    assert_string_equal(w->meta(w, "a"), "b");
    sg_weights_free(w);
    /* a broken .safetensors gets the reader's diagnosis */
    const char *five = write_bytes("short.safetensors", "abcde", 5);
    assert_int_equal(sg_model_open(five, &w, &err), SG_ERR_FORMAT);
    assert_contains(err.msg, "truncated (file is 5 bytes)");
}

/* sg_model_open picks the release-checkpoint reader by content, in both torch.save formats, and
 * the configuration derives from it like from a model file */
static void test_model_open_ckpt(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    const char *files[] = {"ckpt/mini_nets_ema.legacy.ckpt", "ckpt/mini_nets_ema.zip.ckpt"};
    const char *formats[] = {"torch-legacy", "torch-zip"};
    for (int i = 0; i < 2; i++) {
        sg_weights *w = NULL;
        sg_error err = {0};
        sg_config cfg;
        assert_int_equal(sg_model_open(tu_fixture_path(files[i]), &w, &err), SG_OK);
        assert_non_null(w->meta(w, "format"));
        assert_string_equal(w->meta(w, "format"), formats[i]);
        assert_int_equal(sg_config_derive(w, &cfg, &err), SG_OK);
        assert_int_equal(cfg.img_size, 64);
        assert_int_equal(cfg.max_conv_dim, 64);
        assert_int_equal(cfg.w_hpf, 1);
        sg_weights_free(w);
    }
}

/* ---- configuration -------------------------------------------------------------------------- */
/* Writes a spec-v1 model of a names list, opens it and derives its configuration. */
static void derive_from_names(const char *config, const char *domains, sg_config *cfg) {
    size_t n;
    name_entry *names = read_names(config, &n);
    sg_named_tensor *t = calloc(n, sizeof *t);
    sg_error err = {0};
    for (size_t i = 0; i < n; i++) {
        float *v = malloc((numel(&names[i].shape) + 1) * sizeof *v);
        assert_int_equal(sg_spec_v1_fill(names[i].name, &names[i].shape, v, &err), SG_OK);
        t[i] = (sg_named_tensor){names[i].name, names[i].shape, v};
    }
    char file[64];
    snprintf(file, sizeof file, "%s.spec.safetensors", config);
    const char *path = tmp_path(file);
    const char *meta[] = {"domains", domains};
    assert_int_equal(sg_safetensors_write(path, t, n, meta, domains ? 1 : 0, &err), SG_OK);
    for (size_t i = 0; i < n; i++) free((void *)t[i].data);
    free(t);
    sg_weights *w;
    assert_int_equal(sg_model_open(path, &w, &err), SG_OK);
    /* every tensor reads back as spec v1 (spot check: the first and the last) */
    const float *p;
    const name_entry *last = &names[n - 1];
    float *want = malloc((numel(&last->shape) + 1) * sizeof *want);
    sg_spec_v1_fill(last->name, &last->shape, want, NULL);
    assert_int_equal(w->get(w, last->name, &last->shape, &p, &err), SG_OK);
    assert_memory_equal(p, want, numel(&last->shape) * sizeof *p);
    free(want);
    sg_status st = sg_config_derive(w, cfg, &err);
    if (st != SG_OK) print_error("%s\n", err.msg);
    assert_int_equal(st, SG_OK);
    sg_weights_free(w);
    unlink(path); /* hundreds of MB: do not leave them in the build folder */
    free(names);
}

/* The derived configuration must equal the io fixture's metadata. */
static void check_against_fixture(const char *config, const sg_config *c) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s.io.safetensors", config);
    sg_weights *fx;
    assert_int_equal(sg_safetensors_open(tu_fixture_path(rel), &fx, NULL), SG_OK);
    const char *keys[] = {"img_size",    "style_dim",    "latent_dim",
                          "num_domains", "max_conv_dim", "w_hpf"};
    const int got[] = {c->img_size,    c->style_dim,    c->latent_dim,
                       c->num_domains, c->max_conv_dim, c->w_hpf};
    for (int i = 0; i < 6; i++) {
        const char *v = fx->meta(fx, keys[i]);
        assert_non_null(v);
        if (atoi(v) != got[i])
            print_error("%s: %s = %d, fixture says %s\n", config, keys[i], got[i], v);
        assert_int_equal(atoi(v), got[i]);
    }
    sg_weights_free(fx);
}

static void test_config_mini(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    sg_config c;
    derive_from_names("mini", NULL, &c);
    check_against_fixture("mini", &c);
    assert_int_equal(c.img_size, 64);
    assert_int_equal(c.style_dim, 16);
    assert_int_equal(c.latent_dim, 8);
    assert_int_equal(c.num_domains, 2);
    assert_int_equal(c.max_conv_dim, 64);
    assert_int_equal(c.w_hpf, 1);
    assert_int_equal(c.has_fan, 1);
    assert_string_equal(c.domains[0], "domain0");
    assert_string_equal(c.domains[1], "domain1");
}

static void test_config_afhq(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    sg_config c;
    derive_from_names("afhq", "cat,dog,wild", &c);
    check_against_fixture("afhq", &c);
    assert_int_equal(c.img_size, 256);
    assert_int_equal(c.style_dim, 64);
    assert_int_equal(c.latent_dim, 16);
    assert_int_equal(c.num_domains, 3);
    assert_int_equal(c.max_conv_dim, 512);
    assert_int_equal(c.w_hpf, 0);
    assert_int_equal(c.has_fan, 0);
    assert_string_equal(c.domains[2], "wild");
    assert_int_equal(sg_config_domain(&c, "dog"), 1);
}

static void test_config_celeba(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    sg_config c;
    derive_from_names("celeba_hq", "female, male", &c);
    check_against_fixture("celeba_hq", &c);
    assert_int_equal(c.img_size, 256);
    assert_int_equal(c.style_dim, 64);
    assert_int_equal(c.latent_dim, 16);
    assert_int_equal(c.num_domains, 2);
    assert_int_equal(c.max_conv_dim, 512);
    assert_int_equal(c.w_hpf, 1);
    assert_int_equal(c.has_fan, 1);
    assert_string_equal(c.domains[0], "female");
    assert_string_equal(c.domains[1], "male");
}

/* A minimal model: only the tensors the derivation looks at (shapes matter, values do not). */
static sg_status derive_small(int dim_in, int n_enc, int heads, const char *domains, sg_config *c,
                              sg_error *err) {
    static float zero[16 * 16 * 9];
    sg_named_tensor t[64];
    char names[64][64];
    int n = 0;
    for (int d = 0; d < heads; d++) {
        snprintf(names[n], sizeof names[n], "mapping_network.unshared.%d.0.weight", d);
        t[n] = (sg_named_tensor){names[n], shp(2, 4, 4), zero}, n++;
    }
    t[n++] = (sg_named_tensor){"mapping_network.unshared.0.6.weight", shp(2, 6, 4), zero};
    t[n++] = (sg_named_tensor){"mapping_network.shared.0.weight", shp(2, 4, 3), zero};
    t[n++] = (sg_named_tensor){"generator.from_rgb.weight", shp(4, dim_in, 3, 1, 1), zero};
    for (int i = 0; i < n_enc; i++) {
        snprintf(names[n], sizeof names[n], "generator.encode.%d.conv1.weight", i);
        t[n] = (sg_named_tensor){names[n], shp(4, 1, 1, 1, 1), zero}, n++;
        snprintf(names[n], sizeof names[n], "generator.encode.%d.conv2.weight", i);
        t[n] = (sg_named_tensor){names[n], shp(4, 8 + i, 1, 1, 1), zero}, n++;
    }
    const char *meta[] = {"domains", domains};
    const char *path = tmp_path("small.safetensors");
    sg_status st = sg_safetensors_write(path, t, (size_t)n, meta, domains ? 1 : 0, err);
    assert_int_equal(st, SG_OK);
    sg_weights *w;
    assert_int_equal(sg_safetensors_open(path, &w, err), SG_OK);
    st = sg_config_derive(w, c, err);
    sg_weights_free(w);
    return st;
}

static void test_config_derive_small(void **state) {
    (void)state;
    sg_config c;
    sg_error err = {0};
    /* dim_in 128 → img 128 (log2 7): 5 encode blocks = down 3 = 7 - 4 → w_hpf 0 */
    assert_int_equal(derive_small(128, 5, 2, NULL, &c, &err), SG_OK);
    assert_int_equal(c.img_size, 128);
    assert_int_equal(c.w_hpf, 0);
    assert_int_equal(c.style_dim, 6);
    assert_int_equal(c.latent_dim, 3);
    assert_int_equal(c.num_domains, 2);
    assert_int_equal(c.max_conv_dim, 12);
    assert_int_equal(c.has_fan, 0);
    assert_int_equal(derive_small(128, 6, 2, NULL, &c, &err), SG_OK);
    assert_int_equal(c.w_hpf, 1);
    /* wrong number of encode blocks */
    assert_int_equal(derive_small(128, 4, 2, NULL, &c, &err), SG_ERR_UNSUPPORTED);
    assert_contains(err.msg, "small.safetensors");
    assert_contains(err.msg, "generator.encode.3.conv1.weight");
    /* img_size not a power of two / not an exact division */
    assert_int_equal(derive_small(96, 5, 2, NULL, &c, &err), SG_ERR_UNSUPPORTED);
    assert_contains(err.msg, "generator.from_rgb.weight");
    assert_int_equal(derive_small(8, 5, 2, NULL, &c, &err), SG_ERR_UNSUPPORTED); /* img 2048 */
    /* no mapping heads */
    assert_int_equal(derive_small(128, 5, 0, NULL, &c, &err), SG_ERR_MISSING);
    assert_contains(err.msg, "mapping_network.unshared.0.0.weight");
    /* domains metadata */
    assert_int_equal(derive_small(128, 5, 3, "a,b,c", &c, &err), SG_OK);
    assert_string_equal(c.domains[1], "b");
    assert_int_equal(derive_small(128, 5, 3, "a,b", &c, &err), SG_ERR_ARG);
    assert_contains(err.msg, "small.safetensors");
    assert_contains(err.msg, "domains");
    assert_int_equal(derive_small(128, 5, 2, "a,a", &c, &err), SG_ERR_ARG);
    /* spec v1 cannot tell shapes */
    sg_weights *spec;
    assert_int_equal(sg_spec_v1_open(&spec, &err), SG_OK);
    assert_int_equal(sg_config_derive(spec, &c, &err), SG_ERR_UNSUPPORTED);
    sg_weights_free(spec);
}

static void test_config_domains(void **state) {
    (void)state;
    sg_config c = {.img_size = 256,
                   .style_dim = 64,
                   .latent_dim = 16,
                   .num_domains = 3,
                   .max_conv_dim = 512,
                   .w_hpf = 0};
    sg_error err = {0};
    assert_int_equal(sg_config_set_domains(&c, NULL, &err), SG_OK);
    assert_string_equal(c.domains[2], "domain2");
    assert_int_equal(sg_config_check(&c, &err), SG_OK);
    assert_int_equal(sg_config_set_domains(&c, " cat , dog,wild ", &err), SG_OK);
    assert_string_equal(c.domains[0], "cat");
    assert_string_equal(c.domains[1], "dog");
    assert_string_equal(c.domains[2], "wild");
    assert_int_equal(sg_config_domain(&c, "wild"), 2);
    assert_int_equal(sg_config_domain(&c, "1"), 1);
    assert_int_equal(sg_config_domain(&c, "3"), -1);
    assert_int_equal(sg_config_domain(&c, "-1"), -1);
    assert_int_equal(sg_config_domain(&c, "fox"), -1);
    assert_int_equal(sg_config_domain(&c, ""), -1);
    assert_int_equal(sg_config_domain(&c, NULL), -1);
    /* failures leave the names unchanged */
    assert_int_equal(sg_config_set_domains(&c, "a,b", &err), SG_ERR_ARG);
    assert_int_equal(sg_config_set_domains(&c, "a,b,c,d", &err), SG_ERR_ARG);
    assert_int_equal(sg_config_set_domains(&c, "a,,c", &err), SG_ERR_ARG);
    assert_int_equal(sg_config_set_domains(&c, "a,b,a", &err), SG_ERR_ARG);
    assert_int_equal(sg_config_set_domains(&c, "a,b,0123456789012345678901234567890123", &err),
                     SG_ERR_ARG);
    assert_string_equal(c.domains[0], "cat");
    /* ranges */
    sg_config bad = c;
    bad.img_size = 96;
    assert_int_equal(sg_config_check(&bad, &err), SG_ERR_ARG);
    assert_contains(err.msg, "img_size");
    bad = c, bad.img_size = 2048;
    assert_int_equal(sg_config_check(&bad, &err), SG_ERR_ARG);
    bad = c, bad.num_domains = 0;
    assert_int_equal(sg_config_check(&bad, &err), SG_ERR_ARG);
    bad = c, bad.style_dim = 0;
    assert_int_equal(sg_config_check(&bad, &err), SG_ERR_ARG);
    bad = c, bad.w_hpf = 2;
    assert_int_equal(sg_config_check(&bad, &err), SG_ERR_ARG);
    bad = c, strcpy(bad.domains[1], "cat");
    assert_int_equal(sg_config_check(&bad, &err), SG_ERR_ARG);
}

/* ---- TensorFlow.js manifests ------------------------------------------------------------------ */
/* A 4-D uint8 kernel [kh=1, kw=2, in=2, out=3] (q·0.5 - 1), an int32 constant (skipped, its byte
 * still consumed), a float32 bias and a float16 vector, all in one shard. */
static const char tfjs_manifest[] =
    "[{\"paths\":[\"w.bin\"],\"weights\":["
    "{\"name\":\"k\",\"shape\":[1,2,2,3],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}},"
    "{\"name\":\"c\",\"shape\":[],\"dtype\":\"int32\","
    "\"quantization\":{\"dtype\":\"uint8\",\"scale\":1,\"min\":3}},"
    "{\"name\":\"b\",\"shape\":[2],\"dtype\":\"float32\"},"
    "{\"name\":\"h\",\"shape\":[2],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"float16\"}}"
    "]}]";

static void tfjs_shard(uint8_t *bin) {
    for (int i = 0; i < 12; i++) bin[i] = (uint8_t)i; /* HWIO order: ((y·2 + x)·2 + i)·3 + o */
    bin[12] = 7;
    const float b[2] = {0.25f, -3.0f};
    memcpy(bin + 13, b, 8);
    const uint8_t h[4] = {0x00, 0x3C, 0x00, 0xC0}; /* 1.0, -2.0 */
    memcpy(bin + 21, h, 4);
}

static void test_tfjs_manifest(void **state) {
    (void)state;
    uint8_t bin[25];
    tfjs_shard(bin);
    sg_weights *w;
    sg_error err = {0};
    assert_int_equal(sg_tfjs_open_memory(tfjs_manifest, strlen(tfjs_manifest), bin, sizeof bin,
                                         "t.json", &w, &err),
                     SG_OK);
    const float *k, *b, *h;
    /* OIHW [3, 2, 1, 2]: k[o][i][0][x] = q(x·6 + i·3 + o)·0.5 - 1 */
    assert_int_equal(sg_weights_get(w, "k", &k, &err, 4, 3, 2, 1, 2), SG_OK);
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 2; i++)
            for (int x = 0; x < 2; x++)
                assert_true(k[(o * 2 + i) * 2 + x] == (float)(x * 6 + i * 3 + o) * 0.5f - 1.0f);
    assert_int_equal(sg_weights_get(w, "b", &b, &err, 1, 2), SG_OK);
    assert_true(b[0] == 0.25f && b[1] == -3.0f);
    assert_int_equal(sg_weights_get(w, "h", &h, &err, 1, 2), SG_OK);
    assert_true(h[0] == 1.0f && h[1] == -2.0f);
    sg_shape sh;
    assert_int_equal(w->shape(w, "c", &sh, &err), SG_ERR_MISSING); /* int32: not a weight */
    sg_weights_free(w);
    /* shards shorter or longer than the manifest says */
    assert_int_equal(
        sg_tfjs_open_memory(tfjs_manifest, strlen(tfjs_manifest), bin, 24, "t.json", &w, &err),
        SG_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "past the end"));
    uint8_t more[26] = {0};
    memcpy(more, bin, 25);
    assert_int_equal(
        sg_tfjs_open_memory(tfjs_manifest, strlen(tfjs_manifest), more, 26, "t.json", &w, &err),
        SG_ERR_FORMAT);
    assert_int_equal(sg_tfjs_open_memory("{}", 2, bin, 25, "t.json", &w, &err), SG_ERR_FORMAT);
}

/* The file reader: shards beside the manifest, a shard path that leaves the folder refused,
 * sg_model_open sniffing the manifest. */
static void test_tfjs_files(void **state) {
    (void)state;
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/tfjs", tmpdir);
    mkdir(dir, 0755);
    uint8_t bin[25];
    tfjs_shard(bin);
    snprintf(path, sizeof path, "%s/w.bin", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(bin, 1, sizeof bin, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/m.json", dir);
    f = fopen(path, "wb");
    fputs(tfjs_manifest, f);
    fclose(f);
    sg_weights *w;
    sg_error err = {0};
    assert_int_equal(sg_model_open(path, &w, &err), SG_OK);
    const float *b;
    assert_int_equal(sg_weights_get(w, "b", &b, &err, 1, 2), SG_OK);
    sg_weights_free(w);
    assert_int_equal(sg_model_load(path, &w, NULL, &err), SG_OK);
    sg_weights_free(w);
    f = fopen(path, "wb");
    fputs("[{\"paths\":[\"../w.bin\"],\"weights\":[]}]", f);
    fclose(f);
    assert_int_equal(sg_model_open(path, &w, &err), SG_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not a file name"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_v1_uniform_known),
        cmocka_unit_test(test_spec_v1_rules),
        cmocka_unit_test(test_spec_v1_fixture),
        cmocka_unit_test(test_spec_v1_source),
        cmocka_unit_test(test_recorder),
        cmocka_unit_test(test_write_read_roundtrip),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_unaligned_data),
        cmocka_unit_test(test_fixture_labels),
        cmocka_unit_test(test_bad_files_prefix),
        cmocka_unit_test(test_bad_files_json),
        cmocka_unit_test(test_bad_files_tensors),
        cmocka_unit_test(test_get_errors),
        cmocka_unit_test(test_model_open_sniff),
        cmocka_unit_test(test_model_open_ckpt),
        cmocka_unit_test(test_config_mini),
        cmocka_unit_test(test_config_afhq),
        cmocka_unit_test(test_config_celeba),
        cmocka_unit_test(test_config_derive_small),
        cmocka_unit_test(test_config_domains),
        cmocka_unit_test(test_tfjs_manifest),
        cmocka_unit_test(test_tfjs_files),
    };
    return TU_RUN_TESTS(tests, setup_tmp, NULL);
}
