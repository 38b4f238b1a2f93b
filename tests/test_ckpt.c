/* model/ckpt*.c, model/pickle.c: release checkpoints. The fixture checkpoints (legacy with cuda
 * tags, zip, wing) load with every tensor equal to spec v1 and exactly the names of
 * fixtures/names; small torch.save files (tests/data/ckpt/gen.py) cover views, `module.`
 * prefixes, parameters, ignored entries, deflated and unaligned zip entries; hostile inputs
 * (built here byte by byte) each give a clear one-line error and no crash. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "../model/model_internal.h"

#define DATA_DIR SG_SOURCE_DIR "/tests/data/ckpt/"

/* ---- helpers -------------------------------------------------------------------------------- */
static char tmpdir[1024];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_ckpt_tmp", SG_BUILD_DIR);
    mkdir(tmpdir, 0755);
    return 0;
}

static const char *tmp_path(const char *name) {
    static char p[1200];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void assert_contains(const char *s, const char *sub) {
    if (!strstr(s, sub)) fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

/* An error: the status, a one-line message holding `sub`, and nothing returned. */
static void expect_error(sg_status got, sg_status want, const sg_weights *w, const sg_error *err,
                         const char *sub) {
    if (got != want)
        fail_msg("status %s, expected %s: %s", sg_status_name(got), sg_status_name(want), err->msg);
    assert_null(w);
    assert_null(strchr(err->msg, '\n'));
    assert_contains(err->msg, sub);
}

/* the call first, then the checks (argument order is unspecified) */
#define EXPECT_ERR(call, want, sub)                                                                \
    do {                                                                                           \
        sg_status st_ = (call);                                                                    \
        expect_error(st_, want, w, &err, sub);                                                     \
    } while (0)

static sg_shape shp(int ndim, int64_t a, int64_t b) {
    sg_shape s = {.ndim = ndim};
    s.dims[0] = a;
    s.dims[1] = b;
    return s;
}

static void expect_values(sg_weights *w, const char *name, sg_shape shape, const float *want) {
    const float *got = NULL;
    sg_error err = {0};
    if (w->get(w, name, &shape, &got, &err) != SG_OK) fail_msg("%s: %s", name, err.msg);
    uint64_t n = 1;
    for (int i = 0; i < shape.ndim; i++) n *= (uint64_t)shape.dims[i];
    for (uint64_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s[%llu] = %g, expected %g", name, (unsigned long long)i, got[i], want[i]);
    assert_int_equal((uintptr_t)got % 4, 0);
}

typedef struct {
    char names[64][96];
    int n;
} name_list;

static int collect(void *ctx, const char *name, const sg_shape *shape) {
    (void)shape;
    name_list *l = ctx;
    if (l->n < 64) snprintf(l->names[l->n++], sizeof l->names[0], "%s", name);
    return 0;
}

static void expect_names(sg_weights *w, const char *const *want, int n) {
    name_list l = {.n = 0};
    w->each(w, collect, &l);
    for (int i = 0; i < l.n; i++) print_message("  %s\n", l.names[i]);
    assert_int_equal(l.n, n);
    for (int i = 0; i < n; i++) assert_string_equal(l.names[i], want[i]);
}

/* ---- a byte builder for hand-made pickles and legacy files ---------------------------------- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_bytes(buf *b, const void *p, size_t n) {
    if (!n) return;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void b_op(buf *b, uint8_t op) { b_bytes(b, &op, 1); }
static void b_le(buf *b, uint64_t v, int k) {
    for (int i = 0; i < k; i++) b_op(b, (uint8_t)(v >> (8 * i)));
}
static void b_str(buf *b, const char *s) { /* BINUNICODE */
    b_op(b, 'X');
    b_le(b, strlen(s), 4);
    b_bytes(b, s, strlen(s));
}
static void b_int(buf *b, int64_t v) { /* LONG1 of 8 bytes */
    b_op(b, 0x8a);
    b_op(b, 8);
    b_le(b, (uint64_t)v, 8);
}
static void b_global(buf *b, const char *mod, const char *name) {
    b_op(b, 'c');
    b_bytes(b, mod, strlen(mod));
    b_op(b, '\n');
    b_bytes(b, name, strlen(name));
    b_op(b, '\n');
}

/* magic, format version 1001 and an empty sys_info: the legacy preamble */
static void b_preamble(buf *b) {
    static const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    static const uint8_t version[] = {0x80, 0x02, 'M', 0xe9, 0x03, '.'};
    static const uint8_t sys_info[] = {0x80, 0x02, '}', '.'};
    b_bytes(b, magic, sizeof magic);
    b_bytes(b, version, sizeof version);
    b_bytes(b, sys_info, sizeof sys_info);
}

/* One tensor `generator.w` over one float storage, every field settable. */
typedef struct {
    const char *pid_key;
    int64_t pid_numel, offset;
    int nd;
    int64_t size[9], stride[9];
    const char *stored_key; /* NULL: the storage list is empty */
    uint64_t stored_numel;
    size_t data_floats; /* floats written after the count (1, 2, 3 ...) */
} one_tensor;

static buf legacy_one(const one_tensor *t) {
    buf b = {0};
    b_preamble(&b);
    b_bytes(&b, "\x80\x02}", 3);
    b_str(&b, "generator");
    b_op(&b, '}');
    b_str(&b, "w");
    b_global(&b, "torch._utils", "_rebuild_tensor_v2");
    b_op(&b, '(');
    b_op(&b, '(');
    b_str(&b, "storage");
    b_global(&b, "torch", "FloatStorage");
    b_str(&b, t->pid_key);
    b_str(&b, "cuda:0");
    b_int(&b, t->pid_numel);
    b_op(&b, 'N');
    b_op(&b, 't');
    b_op(&b, 'Q');
    b_int(&b, t->offset);
    b_op(&b, '(');
    for (int i = 0; i < t->nd; i++) b_int(&b, t->size[i]);
    b_op(&b, 't');
    b_op(&b, '(');
    for (int i = 0; i < t->nd; i++) b_int(&b, t->stride[i]);
    b_op(&b, 't');
    b_op(&b, 0x89);
    b_op(&b, '}');
    b_op(&b, 't');
    b_bytes(&b, "Rss.", 4);
    b_bytes(&b, "\x80\x02]", 3);
    if (t->stored_key) {
        b_str(&b, t->stored_key);
        b_op(&b, 'a');
    }
    b_op(&b, '.');
    if (t->stored_key) {
        b_le(&b, t->stored_numel, 8);
        for (size_t i = 0; i < t->data_floats; i++) {
            float v = (float)(i + 1);
            b_bytes(&b, &v, 4);
        }
    }
    return b;
}

/* A 2×2 tensor over 4 floats, correct in every respect. */
static one_tensor good_tensor(void) {
    one_tensor t = {"0", 4, 0, 2, {2, 2}, {2, 1}, "0", 4, 4};
    return t;
}

static sg_status open_buf(const buf *b, sg_weights **w, sg_error *err) {
    *w = NULL;
    memset(err, 0, sizeof *err);
    return sg_ckpt_open_memory(b->p, b->n, "mem.ckpt", w, err);
}

/* ---- hand-made legacy files ----------------------------------------------------------------- */
static void test_builder_views(void **state) {
    (void)state;
    sg_weights *w;
    sg_error err;
    one_tensor t = good_tensor();
    buf b = legacy_one(&t);
    assert_int_equal(open_buf(&b, &w, &err), SG_OK);
    static const float rows[] = {1, 2, 3, 4}, cols[] = {1, 3, 2, 4}, tail[] = {2, 3, 4};
    expect_values(w, "generator.w", shp(2, 2, 2), rows);
    assert_string_equal(w->meta(w, "format"), "torch-legacy");
    assert_null(w->meta(w, "domains"));
    sg_weights_free(w);
    free(b.p);
    t.stride[0] = 1, t.stride[1] = 2; /* transposed: copied */
    b = legacy_one(&t);
    assert_int_equal(open_buf(&b, &w, &err), SG_OK);
    expect_values(w, "generator.w", shp(2, 2, 2), cols);
    sg_weights_free(w);
    free(b.p);
    t = good_tensor(); /* offset view */
    t.offset = 1, t.nd = 1, t.size[0] = 3, t.stride[0] = 1;
    b = legacy_one(&t);
    assert_int_equal(open_buf(&b, &w, &err), SG_OK);
    expect_values(w, "generator.w", shp(1, 3, 0), tail);
    sg_weights_free(w);
    free(b.p);
}

typedef struct {
    const char *what;
    void (*edit)(one_tensor *t);
    sg_status status;
    const char *msg;
} tensor_case;

static void huge_shape(one_tensor *t) {
    t->size[0] = t->size[1] = (int64_t)1 << 40;
    t->stride[0] = (int64_t)1 << 40;
}
static void past_storage(one_tensor *t) {
    t->size[0] = t->size[1] = 3;
    t->stride[0] = 3;
}
static void huge_stride(one_tensor *t) { t->stride[0] = INT64_MAX; }
static void big_offset(one_tensor *t) { t->offset = (int64_t)1 << 62; }
static void neg_size(one_tensor *t) { t->size[0] = -2; }
static void nine_dims(one_tensor *t) {
    t->nd = 9;
    for (int i = 0; i < 9; i++) t->size[i] = 1, t->stride[i] = 1;
}
static void expand(one_tensor *t) {
    t->size[0] = t->size[1] = 100;
    t->stride[0] = t->stride[1] = 0;
}
static void absurd_numel(one_tensor *t) {
    t->pid_numel = (int64_t)1 << 50;
    t->stored_numel = (uint64_t)1 << 50;
}
static void insane_numel(one_tensor *t) { t->pid_numel = (int64_t)1 << 62; }
static void wrong_key(one_tensor *t) { t->stored_key = "1"; }
static void not_stored(one_tensor *t) { t->stored_key = NULL; }
static void count_differs(one_tensor *t) { t->stored_numel = 5; }
static void short_data(one_tensor *t) { t->data_floats = 3; }
static void long_key(one_tensor *t) {
    static char k[2000];
    memset(k, 'k', sizeof k - 1);
    t->pid_key = t->stored_key = k;
}

static void test_hostile_tensors(void **state) {
    (void)state;
    static const tensor_case cases[] = {
        {"huge shape", huge_shape, SG_ERR_FORMAT, "too large"},
        {"past storage", past_storage, SG_ERR_FORMAT, "reaches past its storage of 4 elements"},
        {"huge stride", huge_stride, SG_ERR_FORMAT, "reaches past"},
        {"offset", big_offset, SG_ERR_FORMAT, "reaches past"},
        {"negative size", neg_size, SG_ERR_FORMAT, "non-negative dims"},
        {"9 dims", nine_dims, SG_ERR_FORMAT, "at most 8"},
        {"expanded view", expand, SG_ERR_UNSUPPORTED, "more elements than its storage"},
        {"absurd storage", absurd_numel, SG_ERR_FORMAT, "truncated: storage 0 needs"},
        {"insane storage", insane_numel, SG_ERR_FORMAT, "sane element count"},
        {"unknown storage key", wrong_key, SG_ERR_FORMAT,
         "storage 1 is stored but never referenced"},
        {"storage missing", not_stored, SG_ERR_FORMAT,
         "storage 0 is referenced but not in the file"},
        {"count differs", count_differs, SG_ERR_FORMAT, "holds 5 elements, its tensors say 4"},
        {"short data", short_data, SG_ERR_FORMAT, "truncated"},
        {"long key", long_key, SG_ERR_FORMAT, "storage key is not a short string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        one_tensor t = good_tensor();
        cases[i].edit(&t);
        buf b = legacy_one(&t);
        sg_weights *w;
        sg_error err;
        sg_status st = open_buf(&b, &w, &err);
        print_message("%-22s %s\n", cases[i].what, err.msg);
        expect_error(st, cases[i].status, w, &err, cases[i].msg);
        free(b.p);
    }
}

/* Many strided views of one storage: each gets its own copy at get, so their total is capped. */
static void test_view_copies_bounded(void **state) {
    (void)state;
    enum { SIDE = 128, VIEWS = 400 };
    buf b = {0};
    b_preamble(&b);
    b_bytes(&b, "\x80\x02}", 3);
    b_str(&b, "generator");
    b_op(&b, '}');
    b_op(&b, '(');
    for (int i = 0; i < VIEWS; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        b_str(&b, name);
        b_global(&b, "torch._utils", "_rebuild_tensor_v2");
        b_op(&b, '(');
        if (i == 0) { /* the storage's persistent id, memoised as 0 */
            b_op(&b, '(');
            b_str(&b, "storage");
            b_global(&b, "torch", "FloatStorage");
            b_str(&b, "0");
            b_str(&b, "cpu");
            b_int(&b, SIDE * SIDE);
            b_op(&b, 'N');
            b_op(&b, 't');
            b_op(&b, 'Q');
            b_bytes(&b, "q\x00", 2);
        } else {
            b_bytes(&b, "h\x00", 2);
        }
        b_int(&b, 0);
        b_op(&b, '(');
        b_int(&b, SIDE);
        b_int(&b, SIDE);
        b_op(&b, 't');
        b_op(&b, '(');
        b_int(&b, 1); /* transposed: strided, copied at get */
        b_int(&b, SIDE);
        b_bytes(&b, "t\x89}tR", 5);
    }
    b_bytes(&b, "us.\x80\x02]", 6);
    b_str(&b, "0");
    b_bytes(&b, "a.", 2);
    b_le(&b, SIDE * SIDE, 8);
    for (int i = 0; i < SIDE * SIDE; i++) b_bytes(&b, "\0\0\x80?", 4); /* 1.0f */
    sg_weights *w;
    sg_error err;
    assert_int_equal(open_buf(&b, &w, &err), SG_OK);
    int got = 0;
    sg_status st = SG_OK;
    for (int i = 0; i < VIEWS && st == SG_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "generator.w%d", i);
        const float *x;
        sg_shape s = shp(2, SIDE, SIDE);
        st = w->get(w, name, &s, &x, &err);
        got += st == SG_OK;
    }
    print_message("%d of %d views copied, then: %s\n", got, VIEWS, err.msg);
    assert_int_equal(st, SG_ERR_LIMIT);
    assert_true(got > 100 && got < VIEWS);
    assert_contains(err.msg, "would exceed");
    sg_weights_free(w);
    free(b.p);
}

/* ---- hostile pickles (the main pickle of a legacy file) ------------------------------------- */
static buf legacy_with(const void *pickle, size_t n) {
    buf b = {0};
    b_preamble(&b);
    b_bytes(&b, pickle, n);
    return b;
}

static void expect_pickle_error(const char *what, const buf *main, sg_status want,
                                const char *sub) {
    buf b = legacy_with(main->p, main->n);
    sg_weights *w;
    sg_error err;
    sg_status st = open_buf(&b, &w, &err);
    print_message("%-22s %s\n", what, err.msg);
    expect_error(st, want, w, &err, sub);
    free(b.p);
}

static void expect_raw(const char *what, const char *bytes, size_t n, sg_status want,
                       const char *sub) {
    buf m = {0};
    b_bytes(&m, bytes, n);
    expect_pickle_error(what, &m, want, sub);
    free(m.p);
}
#define RAW(what, lit, want, sub) expect_raw(what, lit, sizeof lit - 1, want, sub)

/* A pickle of one-byte opcodes that each make a value (issue 12: 20 MB of N drove the reader to
 * 1.1 GB): the reader's memory is bounded by twice the file and 1 MiB, whatever the opcodes. */
static void test_pickle_memory_bounded(void **state) {
    (void)state;
    const char *ops[] = {"N", "K\x01", "]"}; /* None, a small int, an empty list */
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        buf m = {0};
        b_bytes(&m, "\x80\x02", 2);
        size_t len = strlen(ops[k]), reps = ((size_t)4 << 20) / len;
        for (size_t i = 0; i < reps; i++) b_bytes(&m, ops[k], len);
        b_op(&m, '.');
        expect_pickle_error("opcode flood", &m, SG_ERR_LIMIT, "bytes of memory");
        free(m.p);
    }
}

static void test_hostile_globals(void **state) {
    (void)state;
    buf m = {0};
    b_bytes(&m, "\x80\x02", 2);
    b_global(&m, "posix", "system");
    b_op(&m, '(');
    b_str(&m, "echo pwned");
    b_bytes(&m, "tR.", 3);
    expect_pickle_error("os.system", &m, SG_ERR_UNSUPPORTED,
                        "unsupported pickle content: global posix.system");
    free(m.p);
    RAW("eval (STACK_GLOBAL)",
        "\x80\x04\x8c\x08"
        "builtins"
        "\x8c\x04"
        "eval"
        "\x93.",
        SG_ERR_UNSUPPORTED, "unsupported pickle content: global builtins.eval");
    RAW("getattr",
        "\x80\x02"
        "c__builtin__\ngetattr\n.",
        SG_ERR_UNSUPPORTED, "global __builtin__.getattr");
    RAW("torch.load-ish",
        "\x80\x02"
        "ctorch\nload\n.",
        SG_ERR_UNSUPPORTED, "global torch.load");
    RAW("NEWOBJ",
        "\x80\x02"
        "ccollections\nOrderedDict\n)\x81.",
        SG_ERR_UNSUPPORTED, "opcode NEWOBJ");
    RAW("INST", "\x80\x02(ios\nsystem\n.", SG_ERR_UNSUPPORTED, "opcode INST");
    RAW("storage called",
        "\x80\x02"
        "ctorch\nFloatStorage\n)R.",
        SG_ERR_UNSUPPORTED, "storage type called directly");
    RAW("OrderedDict(args)",
        "\x80\x02"
        "ccollections\nOrderedDict\nK\x01\x85R.",
        SG_ERR_UNSUPPORTED, "OrderedDict built from something other than a list of pairs");
    RAW("OrderedDict(bad pair)",
        "\x80\x02"
        "ccollections\nOrderedDict\n]K\x01"
        "a\x85R.",
        SG_ERR_UNSUPPORTED, "OrderedDict built from something other than a list of pairs");
    /* Python 2's OrderedDict([[k, v]]) is a dict: here one without networks */
    RAW("OrderedDict(pairs)",
        "\x80\x02"
        "ccollections\nOrderedDict\n]]X\x01\x00\x00\x00"
        "kaK\x01"
        "aa\x85R.\x80\x02].",
        SG_ERR_FORMAT, "no generator, mapping_network, style_encoder or state_dict entry");
    RAW("BUILD on a list", "\x80\x02]}b.", SG_ERR_UNSUPPORTED, "BUILD of a list");
    RAW("REDUCE of a str", "\x80\x02X\x01\x00\x00\x00x)R.", SG_ERR_UNSUPPORTED,
        "REDUCE of a value that is not a global");
    RAW("module persid", "\x80\x02(X\x06\x00\x00\x00moduletQ.", SG_ERR_UNSUPPORTED,
        "not a storage");
    RAW("protocol 1", "\x80\x01N.", SG_ERR_UNSUPPORTED, "pickle protocol 1");
    RAW("unknown opcode", "\x80\x02\xff.", SG_ERR_UNSUPPORTED, "unknown opcode 0xff");
    RAW("long GLOBAL",
        "\x80\x02"
        "caaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaa\nx\n.",
        SG_ERR_FORMAT, "GLOBAL name too long");
}

static void test_hostile_structure(void **state) {
    (void)state;
    buf m = {0};
    b_bytes(&m, "\x80\x02", 2);
    for (int i = 0; i < 100000; i++) b_op(&m, '(');
    expect_pickle_error("100000 MARKs", &m, SG_ERR_UNSUPPORTED, "MARKs nested deeper than 64");
    m.n = 2;
    for (int i = 0; i < 5000; i++) b_op(&m, ']');
    for (int i = 0; i < 4999; i++) b_op(&m, 'a');
    b_op(&m, '.');
    expect_pickle_error("deep lists", &m, SG_ERR_UNSUPPORTED, "containers nested deeper than 64");
    m.n = 2;
    for (int i = 0; i < 1000; i++) b_op(&m, 0x85); /* TUPLE1 of TUPLE1 ... with nothing below */
    expect_pickle_error("TUPLE1 underflow", &m, SG_ERR_FORMAT, "stack underflow");
    free(m.p);
    RAW("huge BINGET", "\x80\x02Nj\xff\xff\xff\x7f.", SG_ERR_FORMAT,
        "memo index 2147483647 is not defined");
    RAW("huge BINPUT", "\x80\x02Nr\xff\xff\xff\xff.", SG_ERR_UNSUPPORTED,
        "memo index 4294967295 skips past 0");
    RAW("BINGET before PUT", "\x80\x02h\x00.", SG_ERR_FORMAT, "memo index 0 is not defined");
    RAW("string length",
        "\x80\x02X\xff\xff\xff\xff"
        "abc",
        SG_ERR_FORMAT, "pickle truncated");
    RAW("BINUNICODE8 length",
        "\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff"
        "abc",
        SG_ERR_FORMAT, "pickle truncated");
    RAW("FRAME length", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7fN.", SG_ERR_FORMAT,
        "pickle truncated");
    RAW("LONG1 200 bytes", "\x80\x02\x8a\xc8", SG_ERR_UNSUPPORTED, "wider than 64 bits");
    RAW("no STOP", "\x80\x02N", SG_ERR_FORMAT, "pickle truncated");
    RAW("empty", "", SG_ERR_FORMAT, "pickle truncated");
    RAW("SETITEM underflow", "\x80\x02s.", SG_ERR_FORMAT, "stack underflow");
    RAW("APPENDS to a dict", "\x80\x02}(Ne.", SG_ERR_FORMAT, "APPENDS to a non-list");
    RAW("odd dict", "\x80\x02(Nd.", SG_ERR_FORMAT, "odd number of dict items");
    RAW("close without MARK", "\x80\x02Nt.", SG_ERR_FORMAT, "no MARK to close");
    RAW("STOP on empty frame", "\x80\x02N(.", SG_ERR_FORMAT, "stack underflow");
    /* a complete file: the main pickle and an empty storage list */
    RAW("root None", "\x80\x02N.\x80\x02].", SG_ERR_FORMAT,
        "the checkpoint holds None, not a dict");
    RAW("no networks", "\x80\x02}X\x04\x00\x00\x00stepK\x05s.\x80\x02].", SG_ERR_FORMAT,
        "no generator, mapping_network, style_encoder or state_dict entry");
    RAW("generator a list", "\x80\x02}X\x09\x00\x00\x00generator]s.\x80\x02].", SG_ERR_FORMAT,
        "entry generator is a list, not a state dict");
    RAW("value not a tensor",
        "\x80\x02}X\x09\x00\x00\x00generator}X\x01\x00\x00\x00wK\x01ss.\x80\x02].", SG_ERR_FORMAT,
        "generator.w is an int, not a tensor");
    RAW("key not a string", "\x80\x02}X\x09\x00\x00\x00generator}K\x01K\x01ss.\x80\x02].",
        SG_ERR_FORMAT, "a state-dict key is not a short string");
}

/* Files that are not torch checkpoints, and preambles that are wrong. */
static void test_not_torch(void **state) {
    (void)state;
    sg_weights *w;
    sg_error err;
    buf b = {0};
    b_bytes(&b, "hello", 5);
    EXPECT_ERR(open_buf(&b, &w, &err), SG_ERR_FORMAT, "not a torch checkpoint");
    b.n = 0;
    EXPECT_ERR(open_buf(&b, &w, &err), SG_ERR_FORMAT, "not a torch checkpoint");
    b.n = 0;
    b_bytes(&b, "\x80\x02}.", 4); /* a plain pickle: no magic number */
    EXPECT_ERR(open_buf(&b, &w, &err), SG_ERR_FORMAT, "magic number");
    b.n = 0;
    b_preamble(&b);
    b.p[18] = 0xea; /* version 1002 */
    EXPECT_ERR(open_buf(&b, &w, &err), SG_ERR_UNSUPPORTED, "version is not 1001");
    b.n = 0;
    b_preamble(&b);
    b.n -= 2; /* sys_info: a dict saying big-endian */
    static const char big[] = "}X\x0d\x00\x00\x00little_endian\x89s.";
    b_bytes(&b, big, sizeof big - 1);
    EXPECT_ERR(open_buf(&b, &w, &err), SG_ERR_UNSUPPORTED, "big-endian");
    b.n = 0;
    b_bytes(&b, "PK\x03\x04garbage", 11);
    EXPECT_ERR(open_buf(&b, &w, &err), SG_ERR_FORMAT, "not a readable zip archive");
    free(b.p);
    /* a zip that is not a torch archive: the release download itself, say */
    const char *path = tmp_path("release.zip");
    remove(path);
    int ze;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(z);
    zip_source_t *src = zip_source_buffer(z, "abc", 3, 0);
    assert_true(zip_file_add(z, "expr/checkpoints/celeba_hq/100000_nets_ema.ckpt", src, 0) >= 0);
    assert_int_equal(zip_close(z), 0);
    EXPECT_ERR(sg_model_open(path, &w, &err), SG_ERR_FORMAT,
               "a zip archive without expr/data.pkl: not a torch checkpoint");
}

/* sg_model_open picks the checkpoint reader by content or by a .ckpt/.pth/.pt name. */
static void test_model_open_dispatch(void **state) {
    (void)state;
    sg_weights *w;
    sg_error err = {0};
    one_tensor t = good_tensor();
    buf b = legacy_one(&t);
    const char *p = tmp_path("renamed.bin");
    write_file(p, b.p, b.n);
    assert_int_equal(sg_model_open(p, &w, &err), SG_OK);
    assert_string_equal(w->meta(w, "format"), "torch-legacy");
    sg_weights_free(w);
    p = tmp_path("short.ckpt");
    write_file(p, b.p, 5);
    EXPECT_ERR(sg_model_open(p, &w, &err), SG_ERR_FORMAT, "short.ckpt");
    p = tmp_path("notes.txt");
    write_file(p, "hello", 5);
    EXPECT_ERR(sg_model_open(p, &w, &err), SG_ERR_FORMAT,
               "not a safetensors model file, a torch checkpoint nor a TensorFlow.js");
    free(b.p);
}

/* ---- small torch.save files (gen.py) -------------------------------------------------------- */
static void check_views(const char *file, const char *format) {
    sg_weights *w = NULL;
    sg_error err = {0};
    char path[1024];
    snprintf(path, sizeof path, DATA_DIR "%s", file);
    print_message("%s\n", file);
    if (sg_model_open(path, &w, &err) != SG_OK) fail_msg("%s", err.msg);
    static const char *const names[] = {"generator.a.weight",
                                        "generator.b.weight",
                                        "generator.c.bias",
                                        "generator.d.weight",
                                        "generator.e.weight",
                                        "generator.f.weight",
                                        "mapping_network.shared.0.weight",
                                        "mapping_network.n.num_batches_tracked"};
    expect_names(w, names, 8);
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    static const float b[] = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, c[] = {4, 5, 6, 7},
                       d[] = {3, 3, 3, 3}, e[] = {1, -2}, f[] = {1, 5, 9}, m[] = {0.5f, -0.5f};
    expect_values(w, "generator.a.weight", shp(2, 3, 4), a);
    expect_values(w, "generator.b.weight", shp(2, 4, 3), b);
    expect_values(w, "generator.c.bias", shp(1, 4, 0), c);
    expect_values(w, "generator.d.weight", shp(2, 2, 2), d);
    expect_values(w, "generator.e.weight", shp(2, 1, 2), e);
    expect_values(w, "generator.f.weight", shp(1, 3, 0), f);
    expect_values(w, "mapping_network.shared.0.weight", shp(2, 1, 2), m);
    /* a second get returns the same data */
    const float *p1, *p2;
    sg_shape s = shp(2, 4, 3);
    assert_int_equal(w->get(w, "generator.b.weight", &s, &p1, &err), SG_OK);
    assert_int_equal(w->get(w, "generator.b.weight", &s, &p2, &err), SG_OK);
    assert_ptr_equal(p1, p2);
    /* counters are listed with their shape but not handed out as floats */
    sg_shape sc;
    const float *x;
    assert_int_equal(w->shape(w, "mapping_network.n.num_batches_tracked", &sc, &err), SG_OK);
    assert_int_equal(sc.ndim, 0);
    assert_int_equal(w->get(w, "mapping_network.n.num_batches_tracked", &sc, &x, &err),
                     SG_ERR_SHAPE);
    assert_contains(err.msg, "dtype I64, expected F32");
    s = shp(2, 4, 4);
    assert_int_equal(w->get(w, "generator.b.weight", &s, &x, &err), SG_ERR_SHAPE);
    assert_contains(err.msg, "shape [4,3], expected [4,4]");
    assert_int_equal(w->shape(w, "discriminator.main.0.weight", &sc, &err), SG_ERR_MISSING);
    assert_int_equal(w->shape(w, "generator.module.d.weight", &sc, &err), SG_ERR_MISSING);
    assert_string_equal(w->meta(w, "format"), format);
    assert_null(w->meta(w, "domains"));
    sg_weights_free(w);
}

static void test_views_legacy(void **state) {
    (void)state;
    check_views("views.legacy.ckpt", "torch-legacy");
}
static void test_views_zip(void **state) {
    (void)state;
    check_views("views.zip.ckpt", "torch-zip");
}
static void test_views_deflate(void **state) {
    (void)state;
    check_views("views.deflate.zip.ckpt", "torch-zip");
}
static void test_views_stored(void **state) {
    (void)state;
    check_views("views.stored.zip.ckpt", "torch-zip");
}

static void test_wing_small(void **state) {
    (void)state;
    sg_weights *w = NULL;
    sg_error err = {0};
    if (sg_model_open(DATA_DIR "wing.legacy.ckpt", &w, &err) != SG_OK) fail_msg("%s", err.msg);
    static const char *const names[] = {"fan.conv1.conv.weight", "fan.bn1.num_batches_tracked",
                                        "fan.m0.b1_4.conv1.weight"};
    expect_names(w, names, 3);
    static const float c[] = {0, 1, 2, 3}, m[] = {2, 2, 2};
    expect_values(w, "fan.conv1.conv.weight", shp(2, 2, 2), c);
    expect_values(w, "fan.m0.b1_4.conv1.weight", shp(1, 3, 0), m);
    sg_weights_free(w);
}

static void test_evil_files(void **state) {
    (void)state;
    const char *files[] = {DATA_DIR "evil_global.legacy.ckpt", DATA_DIR "evil_global.zip.ckpt"};
    for (int i = 0; i < 2; i++) {
        sg_weights *w = NULL;
        sg_error err = {0};
        sg_status st = sg_model_open(files[i], &w, &err);
        print_message("%s\n", err.msg);
        expect_error(st, SG_ERR_UNSUPPORTED, w, &err,
                     "unsupported pickle content: global posix.system");
    }
}

/* Every truncation and every single-bit flip of the small files: an error or a source whose
 * tensors can all be read; never a crash (run under ASan/UBSan by scripts/fuzz.sh's build). */
static void read_all(sg_weights *w) {
    name_list l = {.n = 0};
    w->each(w, collect, &l);
    for (int i = 0; i < l.n; i++) {
        sg_shape s;
        const float *x;
        sg_error err;
        if (w->shape(w, l.names[i], &s, &err) == SG_OK &&
            w->get(w, l.names[i], &s, &x, &err) == SG_OK) {
            volatile float sink = 0;
            uint64_t n = 1;
            for (int d = 0; d < s.ndim; d++) n *= (uint64_t)s.dims[d];
            for (uint64_t k = 0; k < n; k++) sink += x[k];
            (void)sink;
        }
    }
}

static void mutate_all(const char *file) {
    size_t n;
    uint8_t *p = tu_read_file(file, &n);
    int ok = 0, bad = 0;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *q = malloc(cut + 1);
        memcpy(q, p, cut);
        sg_weights *w;
        sg_error err;
        if (sg_ckpt_open_memory(q, cut, "cut", &w, &err) == SG_OK) {
            read_all(w);
            sg_weights_free(w);
            ok++;
        } else {
            assert_null(strchr(err.msg, '\n'));
            bad++;
        }
        free(q);
    }
    for (size_t i = 0; i < n * 8; i++) {
        p[i / 8] ^= (uint8_t)(1u << (i % 8));
        sg_weights *w;
        sg_error err;
        if (sg_ckpt_open_memory(p, n, "flip", &w, &err) == SG_OK) {
            read_all(w);
            sg_weights_free(w);
            ok++;
        } else {
            assert_null(strchr(err.msg, '\n'));
            bad++;
        }
        p[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    print_message("%s: %d opened, %d refused\n", file, ok, bad);
    free(p);
}

static void test_mutations(void **state) {
    (void)state;
    mutate_all(DATA_DIR "views.legacy.ckpt");
    mutate_all(DATA_DIR "views.zip.ckpt");
    mutate_all(DATA_DIR "wing.legacy.ckpt");
}

/* ---- fixtures ------------------------------------------------------------------------------- */
typedef struct {
    char name[256];
    char dtype[16];
    sg_shape shape;
} name_entry;

/* names/<config>.txt lines whose name starts with one of the prefixes (NULL-terminated) */
static name_entry *read_names(const char *config, const char *const *prefixes, size_t *count) {
    size_t all, n = 0;
    tu_name *t = tu_read_names(config, &all);
    name_entry *e = calloc(all ? all : 1, sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < all; i++) {
        int keep = 0;
        for (int k = 0; prefixes[k]; k++)
            keep |= strncmp(t[i].name, prefixes[k], strlen(prefixes[k])) == 0;
        if (!keep) continue;
        snprintf(e[n].name, sizeof e[n].name, "%s", t[i].name);
        snprintf(e[n].dtype, sizeof e[n].dtype, "%s", t[i].dtype);
        e[n].shape.ndim = t[i].ndim;
        memcpy(e[n].shape.dims, t[i].dims, sizeof t[i].dims);
        n++;
    }
    free(t);
    *count = n;
    return e;
}

typedef struct {
    const name_entry *want;
    size_t n, seen;
    int unknown;
} name_check;

static int check_listed(void *ctx, const char *name, const sg_shape *shape) {
    name_check *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->want[i].name, name) == 0) {
            if (!sg_shape_equal(&c->want[i].shape, shape)) fail_msg("%s: shape differs", name);
            c->seen++;
            return 0;
        }
    print_message("unexpected tensor %s\n", name);
    c->unknown++;
    return 0;
}

/* The checkpoint lists exactly the names file's tensors (of those prefixes); F32 ones equal spec
 * v1 (but generator.hpf.filter, the fixed kernel), int64 counters are refused by get. */
static void check_fixture(const char *file, const char *const *prefixes) {
    sg_weights *w = NULL;
    sg_error err = {0};
    const char *path = tu_fixture_path(file);
    if (sg_model_open(path, &w, &err) != SG_OK) fail_msg("%s", err.msg);
    size_t n;
    name_entry *e = read_names("mini", prefixes, &n);
    name_check c = {e, n, 0, 0};
    w->each(w, check_listed, &c);
    assert_int_equal(c.unknown, 0);
    assert_int_equal(c.seen, n);
    size_t f32 = 0, i64 = 0;
    for (size_t i = 0; i < n; i++) {
        const float *got;
        sg_status st = w->get(w, e[i].name, &e[i].shape, &got, &err);
        if (strcmp(e[i].dtype, "int64") == 0) {
            assert_int_equal(st, SG_ERR_SHAPE);
            i64++;
            continue;
        }
        if (st != SG_OK) fail_msg("%s", err.msg);
        f32++;
        if (strcmp(e[i].name, "generator.hpf.filter") == 0) continue;
        uint64_t k;
        assert_true(sg_shape_numel(&e[i].shape, &k));
        float *want = malloc((size_t)k * sizeof *want + 4);
        assert_int_equal(sg_spec_v1_fill(e[i].name, &e[i].shape, want, &err), SG_OK);
        if (memcmp(got, want, (size_t)k * sizeof *want) != 0)
            fail_msg("%s differs from spec v1", e[i].name);
        free(want);
    }
    print_message("%s: %zu float32 tensors equal spec v1, %zu int64 counters\n", file, f32, i64);
    free(e);
    sg_weights_free(w);
}

static void test_fixture_legacy(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    static const char *const nets[] = {"generator.", "mapping_network.", "style_encoder.", NULL};
    check_fixture("ckpt/mini_nets_ema.legacy.ckpt", nets);
}

static void test_fixture_zip(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    static const char *const nets[] = {"generator.", "mapping_network.", "style_encoder.", NULL};
    check_fixture("ckpt/mini_nets_ema.zip.ckpt", nets);
}

static void test_fixture_wing(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    static const char *const fan[] = {"fan.", NULL};
    check_fixture("ckpt/wing_mini.legacy.ckpt", fan);
}

/* The configuration derived from a checkpoint, with the release's domain names. */
static void test_fixture_config(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    sg_weights *w = NULL;
    sg_error err = {0};
    assert_int_equal(sg_model_open(tu_fixture_path("ckpt/mini_nets_ema.zip.ckpt"), &w, &err),
                     SG_OK);
    sg_config cfg;
    if (sg_config_derive(w, &cfg, &err) != SG_OK) fail_msg("%s", err.msg);
    assert_int_equal(cfg.img_size, 64);
    assert_int_equal(cfg.style_dim, 16);
    assert_int_equal(cfg.latent_dim, 8);
    assert_int_equal(cfg.num_domains, 2);
    assert_int_equal(cfg.max_conv_dim, 64);
    assert_int_equal(cfg.w_hpf, 1);
    assert_int_equal(cfg.has_fan, 0);
    assert_string_equal(cfg.domains[0], "female");
    assert_string_equal(cfg.domains[1], "male");
    sg_weights_free(w);
}

/* Truncations and bit flips of a real checkpoint's pickles: errors, or a readable source. */
static void fixture_mutations(const char *file, size_t flips) {
    size_t n;
    uint8_t *p = tu_read_file(tu_fixture_path(file), &n);
    uint64_t r = 0x9E3779B97F4A7C15ull;
    int ok = 0, bad = 0;
    for (size_t i = 0; i < 64 + flips; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t cut = n, pos = 0;
        uint8_t mask = 0;
        if (i < 64) cut = i < 32 ? i * 700 : (size_t)(r % n); /* the pickles, then anywhere */
        else pos = (size_t)(r % 24000), mask = (uint8_t)(1u << (r >> 61)); /* pickle region */
        p[pos] ^= mask;
        sg_weights *w;
        sg_error err;
        if (sg_ckpt_open_memory(p, cut, "mut", &w, &err) == SG_OK) {
            if (i >= 64) read_all(w);
            sg_weights_free(w);
            ok++;
        } else {
            assert_null(strchr(err.msg, '\n'));
            bad++;
        }
        p[pos] ^= mask;
    }
    print_message("%s: %d opened, %d refused\n", file, ok, bad);
    free(p);
}

static void test_fixture_mutations(void **state) {
    (void)state;
    TU_REQUIRE_FIXTURES();
    fixture_mutations("ckpt/mini_nets_ema.legacy.ckpt", 48);
    fixture_mutations("ckpt/mini_nets_ema.zip.ckpt", 48);
    fixture_mutations("ckpt/wing_mini.legacy.ckpt", 48);
}

int main(void) {
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_views),
        cmocka_unit_test(test_hostile_tensors),
        cmocka_unit_test(test_view_copies_bounded),
        cmocka_unit_test(test_hostile_globals),
        cmocka_unit_test(test_hostile_structure),
        cmocka_unit_test(test_not_torch),
        cmocka_unit_test(test_model_open_dispatch),
        cmocka_unit_test(test_views_legacy),
        cmocka_unit_test(test_views_zip),
        cmocka_unit_test(test_views_deflate),
        cmocka_unit_test(test_views_stored),
        cmocka_unit_test(test_wing_small),
        cmocka_unit_test(test_evil_files),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_fixture_legacy),
        cmocka_unit_test(test_fixture_zip),
        cmocka_unit_test(test_pickle_memory_bounded),
        cmocka_unit_test(test_fixture_wing),
        cmocka_unit_test(test_fixture_config),
        cmocka_unit_test(test_fixture_mutations),
    };
    /* clang-format on */
    return TU_RUN_TESTS(tests, setup_tmp, NULL);
}
