/* server/: the pieces below HTTP: multipart parsing (binary parts, hostile bodies), the option
 * table (defaults, environment, flags), metrics text, the bounded buffer, logfmt escaping, the
 * queue's admission and deadlines, and field validation of a task. The daemon itself is tested
 * over loopback HTTP by tests/server_test.sh. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../server/internal.h"

/* ---- multipart ------------------------------------------------------------------------------ */
static sg_status parse(const char *body, size_t len, const char *boundary, sg_mp_form *f) {
    sg_error err;
    return sg_multipart_parse((const uint8_t *)body, len, boundary, f, &err);
}

static void test_multipart_basic(void **state) {
    (void)state;
    const char body[] = "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"domain\"\r\n\r\n"
                        "dog\r\n"
                        "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"image\"; filename=\"a b.png\"\r\n"
                        "Content-Type: image/png\r\n\r\n"
                        "\x89PNG\r\n--Xy\0\r\n\r\n"
                        "\r\n--XyZ--\r\n";
    sg_mp_form f;
    assert_int_equal(parse(body, sizeof body - 1, "XyZ", &f), SG_OK);
    assert_int_equal(f.n, 2);
    const sg_mp_part *d = sg_multipart_get(&f, "domain"), *im = sg_multipart_get(&f, "image");
    assert_non_null(d);
    assert_int_equal(d->len, 3);
    assert_memory_equal(d->data, "dog", 3);
    assert_false(d->is_file);
    assert_non_null(im);
    assert_true(im->is_file);
    assert_string_equal(im->filename, "a b.png");
    assert_string_equal(im->content_type, "image/png");
    /* binary data with CR LF, a near-boundary and a NUL stays intact */
    assert_int_equal(im->len, 15);
    assert_memory_equal(im->data, "\x89PNG\r\n--Xy\0\r\n\r\n", 15);
    assert_null(sg_multipart_get(&f, "seed"));
}

static void test_multipart_preamble_and_empty(void **state) {
    (void)state;
    const char body[] = "preamble text\r\n--b\r\n"
                        "Content-Disposition: form-data; name=\"x\"\r\n\r\n"
                        "\r\n--b--";
    sg_mp_form f;
    assert_int_equal(parse(body, sizeof body - 1, "b", &f), SG_OK);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.parts[0].len, 0);
    /* no parts at all */
    assert_int_equal(parse("--b--\r\n", 7, "b", &f), SG_OK);
    assert_int_equal(f.n, 0);
}

static void test_multipart_hostile(void **state) {
    (void)state;
    sg_mp_form f;
    const char *bad[] = {
        "",
        "no boundary here",
        "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue without end",
        "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n",                /* headers cut */
        "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",                    /* no name */
        "--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nx\r\n--b--", /* not form-data */
        "--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--b--",    /* open quote */
        "--bX\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(parse(bad[i], strlen(bad[i]), "b", &f), SG_ERR_FORMAT);
    /* too many parts */
    char big[8192] = "";
    for (int i = 0; i < SG_MP_MAX_PARTS + 1; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big),
                 "--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    strcat(big, "--b--\r\n");
    assert_int_equal(parse(big, strlen(big), "b", &f), SG_ERR_LIMIT);
}

/* Parameters as RFC 7578 / RFC 2183 quote them: a ';' or "name=" inside a quoted value is part
 * of it (a part named "photo" whose filename holds "; name=image ;"). */
static void test_multipart_quoted_params(void **state) {
    (void)state;
    static const char body[] =
        "--b\r\nContent-Disposition: form-data; filename=\"; name=image ;\"; name=\"photo\"\r\n"
        "\r\nx\r\n"
        "--b\r\nContent-Disposition: form-data; name=\"a\\\"b;c\"; filename=x.png\r\n\r\ny\r\n"
        "--b\r\nContent-Disposition: form-data ; NAME = seed\r\n\r\n1\r\n--b--\r\n";
    sg_mp_form f;
    sg_error err;
    assert_int_equal(sg_multipart_parse((const uint8_t *)body, sizeof body - 1, "b", &f, &err),
                     SG_OK);
    assert_int_equal(f.n, 3);
    assert_string_equal(f.parts[0].name, "photo");
    assert_string_equal(f.parts[0].filename, "; name=image ;");
    assert_string_equal(f.parts[1].name, "a\"b;c");
    assert_string_equal(f.parts[1].filename, "x.png");
    assert_string_equal(f.parts[2].name, "seed");
}

/* FIPS 180-4 test vectors, and the one-block / two-block padding edges. */
static void test_sha256(void **state) {
    (void)state;
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrl"
         "mn"
         "opqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        uint8_t d[32];
        char hex[65];
        sg_sha256(v[i].in, strlen(v[i].in), d);
        for (int b = 0; b < 32; b++) snprintf(hex + 2 * b, 3, "%02x", d[b]);
        assert_string_equal(hex, v[i].hex);
    }
}

/* Keys: the Bearer scheme, one rule for blanks around the token, long tokens refused. */
static void test_keys(void **state) {
    (void)state;
    char path[] = "/tmp/sg_keys_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nalpha\n\n  beta-key  \n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sg_keys k;
    sg_error err;
    assert_int_equal(sg_keys_load(&k, path, &err), SG_OK);
    unlink(path);
    assert_int_equal(k.n, 2);
    assert_int_equal(k.longest, 8);
    uint8_t owner[32], want[32];
    assert_true(sg_keys_check(&k, "Bearer alpha", owner));
    sg_sha256("alpha", 5, want);
    assert_memory_equal(owner, want, 32);
    assert_true(sg_keys_check(&k, "bearer beta-key", owner));
    assert_true(sg_keys_check(&k, "Bearer \tbeta-key\t ", owner)); /* tabs as spaces */
    assert_true(sg_keys_check(&k, "Bearer\talpha", owner));
    assert_false(sg_keys_check(&k, "Bearer alph", owner));
    assert_false(sg_keys_check(&k, "Bearer alphaa", owner));
    assert_false(sg_keys_check(&k, "Bearer beta-key-", owner)); /* longer than any key */
    assert_false(sg_keys_check(&k, "Basic alpha", owner));
    assert_false(sg_keys_check(&k, "Beareralpha", owner));
    assert_false(sg_keys_check(&k, "Bearer ", owner));
    assert_false(sg_keys_check(&k, NULL, owner));
    sg_keys_free(&k);
}

static void test_multipart_boundary_header(void **state) {
    (void)state;
    char b[80];
    sg_error err;
    assert_int_equal(sg_multipart_boundary("multipart/form-data; boundary=abc", b, sizeof b, &err),
                     SG_OK);
    assert_string_equal(b, "abc");
    assert_int_equal(sg_multipart_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b;c\"",
                                           b, sizeof b, &err),
                     SG_OK);
    assert_string_equal(b, "a b;c");
    assert_int_equal(sg_multipart_boundary("multipart/form-data", b, sizeof b, &err),
                     SG_ERR_FORMAT);
    assert_int_equal(sg_multipart_boundary("multipart/form-data; boundary=", b, sizeof b, &err),
                     SG_ERR_FORMAT);
    assert_int_equal(sg_multipart_boundary("image/png", b, sizeof b, &err), SG_ERR_ARG);
    char longb[200] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    assert_int_equal(sg_multipart_boundary(longb, b, sizeof b, &err), SG_ERR_FORMAT);
}

/* ---- config --------------------------------------------------------------------------------- */
static const char *env_vars[] = {"STARGAN_LISTEN",  "STARGAN_MODEL",       "STARGAN_WORKERS",
                                 "STARGAN_QUEUE",   "STARGAN_MAX_BODY",    "STARGAN_MAX_PIXELS",
                                 "STARGAN_TIMEOUT", "STARGAN_CORS_ORIGIN", "STARGAN_API_KEY_FILE",
                                 "STARGAN_FAN"};

static void clear_env(void) {
    for (size_t i = 0; i < sizeof env_vars / sizeof *env_vars; i++) unsetenv(env_vars[i]);
}

static sg_status load(sg_srv_config *c, int argc, const char **argv, sg_error *err) {
    return sg_srv_config_load(c, argc, (char **)argv, err);
}

static void test_config_defaults(void **state) {
    (void)state;
    clear_env();
    sg_srv_config c;
    sg_error err;
    const char *argv[] = {"stargan-server"};
    assert_int_equal(load(&c, 1, argv, &err), SG_OK);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.n_models, 0);
    assert_int_equal(c.workers, 2); /* best throughput on 2 cores: bench/README.md */
    assert_int_equal(c.queue, 8);
    assert_int_equal(c.max_body, 16 << 20);
    assert_int_equal(c.max_pixels, 40000000);
    assert_string_equal(c.cors_origin, "");
    assert_string_equal(c.access_log, "-");
    assert_false(c.help);
}

static void test_config_env_and_flags(void **state) {
    (void)state;
    clear_env();
    setenv("STARGAN_LISTEN", "0.0.0.0:9000", 1);
    setenv("STARGAN_WORKERS", "3", 1);
    setenv("STARGAN_MAX_BODY", "2M", 1);
    setenv("STARGAN_MODEL", "afhq=/models/afhq.ckpt, celeba=/m/c.safetensors", 1);
    sg_srv_config c;
    sg_error err;
    const char *argv0[] = {"s"};
    assert_int_equal(load(&c, 1, argv0, &err), SG_OK);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.max_body, 2 << 20);
    assert_int_equal(c.n_models, 2);
    assert_string_equal(c.models[0].name, "afhq");
    assert_string_equal(c.models[0].path, "/models/afhq.ckpt");
    assert_string_equal(c.models[1].name, "celeba");
    /* flags win, and --model flags replace the environment's list */
    const char *argv[] = {"s",
                          "--workers",
                          "2",
                          "--model=/x/my-model.v2.safetensors",
                          "--max-pixels",
                          "1.5M",
                          "--timeout",
                          "2.5",
                          "--model",
                          "b=/y"};
    assert_int_equal(load(&c, 10, argv, &err), SG_OK);
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.n_models, 2);
    assert_string_equal(c.models[0].name, "my-model");
    assert_string_equal(c.models[1].name, "b");
    assert_string_equal(c.models[1].path, "/y");
    assert_int_equal(c.max_pixels, 1500000);
    assert_true(c.timeout_s == 2.5);
    clear_env();
}

static void test_config_errors(void **state) {
    (void)state;
    clear_env();
    sg_srv_config c;
    sg_error err;
    const char *unknown[] = {"s", "--wrokers", "2"};
    assert_int_equal(load(&c, 3, unknown, &err), SG_ERR_ARG);
    assert_non_null(strstr(err.msg, "--wrokers"));
    const char *range[] = {"s", "--workers", "0"};
    assert_int_equal(load(&c, 3, range, &err), SG_ERR_ARG);
    const char *missing[] = {"s", "--queue"};
    assert_int_equal(load(&c, 2, missing, &err), SG_ERR_ARG);
    const char *size[] = {"s", "--max-body", "12Q"};
    assert_int_equal(load(&c, 3, size, &err), SG_ERR_ARG);
    const char *dup[] = {"s", "--model", "a=/x", "--model", "a=/y"};
    assert_int_equal(load(&c, 5, dup, &err), SG_ERR_ARG);
    const char *badname[] = {"s", "--model", "a b=/x"};
    assert_int_equal(load(&c, 3, badname, &err), SG_ERR_ARG);
    setenv("STARGAN_WORKERS", "lots", 1);
    const char *none[] = {"s"};
    assert_int_equal(load(&c, 1, none, &err), SG_ERR_ARG);
    assert_non_null(strstr(err.msg, "STARGAN_WORKERS"));
    clear_env();
    const char *help[] = {"s", "--help"};
    assert_int_equal(load(&c, 2, help, &err), SG_OK);
    assert_true(c.help);
    const char *probe[] = {"s", "--healthcheck", "http://127.0.0.1:1/healthz"};
    assert_int_equal(load(&c, 3, probe, &err), SG_OK);
    assert_string_equal(c.healthcheck, "http://127.0.0.1:1/healthz");
}

static void test_config_sizes_and_usage(void **state) {
    (void)state;
    int64_t v;
    assert_int_equal(sg_srv_parse_size("16M", 1, &v), SG_OK);
    assert_int_equal(v, 16 << 20);
    assert_int_equal(sg_srv_parse_size("512KiB", 1, &v), SG_OK);
    assert_int_equal(v, 512 << 10);
    assert_int_equal(sg_srv_parse_size("40M", 0, &v), SG_OK);
    assert_int_equal(v, 40000000);
    assert_int_equal(sg_srv_parse_size("1000", 0, &v), SG_OK);
    assert_int_equal(v, 1000);
    assert_int_not_equal(sg_srv_parse_size("-1", 1, &v), SG_OK);
    assert_int_not_equal(sg_srv_parse_size("", 1, &v), SG_OK);
    /* every flag shows its environment variable in the usage */
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    sg_srv_config_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "STARGAN_MAX_BODY"));
    assert_non_null(strstr(text, "STARGAN_API_KEY_FILE"));
    assert_non_null(strstr(text, "--cors-origin"));
    free(text);
}

/* ---- metrics, buffers, log ------------------------------------------------------------------ */
static void test_metrics_render(void **state) {
    (void)state;
    sg_metrics m;
    sg_metrics_init(&m);
    sg_metrics_request(&m, SG_ROUTE_TRANSLATE, 200, 3.0);   /* 3 ms */
    sg_metrics_request(&m, SG_ROUTE_TRANSLATE, 200, 700.0); /* 0.7 s */
    sg_metrics_request(&m, SG_ROUTE_TRANSLATE, 503, 0.2);
    sg_metrics_stage(&m, SG_STAGE_GENERATOR, 1200.0);
    sg_metrics_count(&m, SG_COUNT_REJECTED);
    sg_metrics_gauges g = {.queue_waiting = 2,
                           .running = 1,
                           .admitted = 3,
                           .capacity = 9,
                           .workers = 1,
                           .ready = 1,
                           .model_info = "stargan_model_info{model=\"demo\"} 1\n"};
    sg_buf out;
    sg_buf_init(&out, 0);
    assert_int_equal(sg_metrics_render(&m, &g, &out), SG_OK);
    const char *t = sg_buf_str(&out);
    assert_non_null(strstr(t, "# TYPE stargan_http_requests_total counter\n"));
    assert_non_null(
        strstr(t, "stargan_http_requests_total{route=\"translate\",status=\"200\"} 2\n"));
    assert_non_null(
        strstr(t, "stargan_http_requests_total{route=\"translate\",status=\"503\"} 1\n"));
    /* cumulative buckets: 0.2 ms and 3 ms are ≤ 5 ms, 0.7 s only from le=1 on */
    assert_non_null(strstr(
        t, "stargan_http_request_duration_seconds_bucket{route=\"translate\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(
        t, "stargan_http_request_duration_seconds_bucket{route=\"translate\",le=\"0.5\"} 2\n"));
    assert_non_null(strstr(
        t, "stargan_http_request_duration_seconds_bucket{route=\"translate\",le=\"1\"} 3\n"));
    assert_non_null(strstr(
        t, "stargan_http_request_duration_seconds_bucket{route=\"translate\",le=\"+Inf\"} 3\n"));
    assert_non_null(
        strstr(t, "stargan_http_request_duration_seconds_count{route=\"translate\"} 3\n"));
    assert_non_null(
        strstr(t, "stargan_stage_duration_seconds_bucket{stage=\"generator\",le=\"2.5\"} 1\n"));
    assert_non_null(
        strstr(t, "stargan_stage_duration_seconds_sum{stage=\"generator\"} 1.200000\n"));
    assert_non_null(strstr(t, "stargan_queue_depth 2\n"));
    assert_non_null(strstr(t, "stargan_in_flight 1\n"));
    assert_non_null(strstr(t, "stargan_rejected_total 1\n"));
    assert_non_null(strstr(t, "stargan_model_info{model=\"demo\"} 1\n"));
    /* every sample line is "name{labels} value" or "name value" */
    for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
        if (*line != '#') assert_non_null(memchr(line, ' ', (size_t)(strchr(line, '\n') - line)));
    }
    sg_buf_free(&out);
    sg_metrics_free(&m);
}

static void test_buf_limit(void **state) {
    (void)state;
    sg_buf b;
    sg_buf_init(&b, 10);
    assert_int_equal(sg_buf_append(&b, "12345", 5), SG_OK);
    assert_int_equal(sg_buf_append(&b, "12345", 5), SG_OK);
    assert_int_equal(sg_buf_append(&b, "1", 1), SG_ERR_LIMIT);
    assert_int_equal(b.len, 10);
    assert_string_equal(sg_buf_str(&b), "1234512345");
    sg_buf_free(&b);
    sg_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(sg_buf_printf(&b, "%04d", i), SG_OK);
    assert_int_equal(b.len, 4000);
    size_t n;
    char *s = sg_buf_take(&b, &n);
    assert_int_equal(n, 4000);
    assert_memory_equal(s + 3996, "0999", 4);
    free(s);
    assert_null(b.data);
}

static void test_log_value(void **state) {
    (void)state;
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_log_value(&b, "plain");
    sg_buf_append(&b, " ", 1);
    sg_log_value(&b, "two words \"q\"\n");
    sg_buf_append(&b, " ", 1);
    sg_log_value(&b, NULL);
    assert_string_equal(sg_buf_str(&b), "plain \"two words \\\"q\\\"\\x0a\" -");
    sg_buf_free(&b);
}

/* ---- queue ---------------------------------------------------------------------------------- */
typedef struct {
    sg_qitem job;
    atomic_int ran, dropped;
    int sleep_ms;
} test_job;

static void tj_run(sg_qitem *j, int worker) {
    (void)worker;
    test_job *t = (test_job *)j;
    usleep((useconds_t)t->sleep_ms * 1000);
    atomic_store(&t->ran, 1);
}

static void tj_dropped(sg_qitem *j, int shutting_down) {
    atomic_store(&((test_job *)j)->dropped, shutting_down ? 2 : 1);
}

static void test_queue_admission_and_deadline(void **state) {
    (void)state;
    sg_queue q;
    sg_error err;
    assert_int_equal(sg_queue_init(&q, 1, 2, &err), SG_OK);
    assert_int_equal(sg_queue_start(&q, &err), SG_OK);
    test_job j[3] = {0};
    for (int i = 0; i < 3; i++) {
        j[i].job = (sg_qitem){.run = tj_run, .dropped = tj_dropped, .enqueued_ms = sg_now_ms()};
        assert_true(sg_queue_reserve(&q));
    }
    assert_false(sg_queue_reserve(&q)); /* workers 1 + queue 2 */
    j[0].sleep_ms = 300;
    j[1].job.deadline_ms = sg_now_ms() + 50; /* expires behind j[0] */
    for (int i = 0; i < 3; i++) sg_queue_push(&q, &j[i].job);
    usleep(150 * 1000);
    assert_int_equal(atomic_load(&j[1].dropped), 1); /* answered by the reaper, not after j[0] */
    assert_int_equal(atomic_load(&j[0].ran), 0);
    sg_queue_drain_and_stop(&q, 5);
    assert_int_equal(atomic_load(&j[0].ran), 1);
    assert_int_equal(atomic_load(&j[2].ran), 1);
    assert_int_equal(atomic_load(&j[1].ran), 0);
    int admitted;
    long rejected, expired;
    sg_queue_stats(&q, NULL, NULL, &admitted, &rejected, &expired);
    assert_int_equal(admitted, 0);
    assert_int_equal(rejected, 1);
    assert_int_equal(expired, 1);
    sg_queue_free(&q);
}

static void test_queue_shutdown_drops_waiting(void **state) {
    (void)state;
    sg_queue q;
    sg_error err;
    assert_int_equal(sg_queue_init(&q, 1, 4, &err), SG_OK);
    assert_int_equal(sg_queue_start(&q, &err), SG_OK);
    test_job j[3] = {0};
    for (int i = 0; i < 3; i++) {
        j[i].job = (sg_qitem){.run = tj_run, .dropped = tj_dropped};
        j[i].sleep_ms = 200;
        assert_true(sg_queue_reserve(&q));
        sg_queue_push(&q, &j[i].job);
    }
    usleep(50 * 1000);
    sg_queue_drain_and_stop(&q, 0.1); /* grace shorter than the work: the running job finishes */
    assert_int_equal(atomic_load(&j[0].ran), 1);
    assert_int_equal(atomic_load(&j[2].dropped), 2);
    assert_false(sg_queue_reserve(&q));
    sg_queue_free(&q);
}

/* Batches: a worker takes its item's batch-mates (same key, queue order, up to max_batch) and
 * runs them with run_batch; other keys and keyless items keep their turn; with a wait a lone item
 * waits for a mate that comes, and runs alone when none does. The log: one line per run. */
static char batch_log[256];
static pthread_mutex_t batch_mu = PTHREAD_MUTEX_INITIALIZER;
static void bj_log(const char *s) {
    pthread_mutex_lock(&batch_mu);
    const size_t at = strlen(batch_log);
    snprintf(batch_log + at, sizeof batch_log - at, "%s", s);
    pthread_mutex_unlock(&batch_mu);
}
/* the log so far (the worker may be writing it) */
static const char *bj_seen(void) {
    static char copy[sizeof batch_log];
    pthread_mutex_lock(&batch_mu);
    memcpy(copy, batch_log, sizeof copy);
    pthread_mutex_unlock(&batch_mu);
    return copy;
}
typedef struct {
    sg_qitem job;
    char name[4];
    int sleep_ms;
    atomic_int dropped;
} batch_job;
static void bj_run(sg_qitem *j, int worker) {
    (void)worker;
    batch_job *b = (batch_job *)j;
    usleep((useconds_t)b->sleep_ms * 1000);
    bj_log(b->name), bj_log(" ");
}
static void bj_run_batch(sg_qitem **j, int n, int worker) {
    (void)worker;
    bj_log("[");
    for (int i = 0; i < n; i++) bj_log(((batch_job *)j[i])->name), bj_log(i + 1 < n ? "," : "");
    bj_log("] ");
}
static void bj_dropped(sg_qitem *j, int shutting_down) {
    atomic_store(&((batch_job *)j)->dropped, shutting_down ? 2 : 1);
}
static void bj_init(batch_job *b, const char *name, const void *key) {
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->job = (sg_qitem){.run = bj_run,
                        .dropped = bj_dropped,
                        .run_batch = bj_run_batch,
                        .batch_key = key,
                        .enqueued_ms = sg_now_ms()};
}

static void test_queue_batches(void **state) {
    (void)state;
    static const char ka = 'a', kb = 'b';
    sg_queue q;
    sg_error err;
    memset(batch_log, 0, sizeof batch_log);
    assert_int_equal(sg_queue_init(&q, 1, 8, &err), SG_OK);
    sg_queue_set_batch(&q, 3, 0);
    assert_int_equal(sg_queue_start(&q, &err), SG_OK);
    batch_job j[8];
    static const char *names[] = {"x", "a1", "b1", "a2", "a3", "a4", "b2", "a5"};
    const void *keys[] = {NULL, &ka, &kb, &ka, &ka, &ka, &kb, &ka};
    for (int i = 0; i < 8; i++) {
        bj_init(&j[i], names[i], keys[i]);
        assert_true(sg_queue_reserve(&q));
    }
    j[0].sleep_ms = 200;                     /* x keeps the worker while the rest queue */
    j[7].job.deadline_ms = sg_now_ms() + 50; /* a5 expires in the queue: never batched */
    for (int i = 0; i < 8; i++) sg_queue_push(&q, &j[i].job);
    sg_queue_drain_and_stop(&q, 5);
    assert_string_equal(bj_seen(), "x [a1,a2,a3] [b1,b2] a4 ");
    assert_int_equal(atomic_load(&j[7].dropped), 1);
    int admitted;
    sg_queue_stats(&q, NULL, NULL, &admitted, NULL, NULL);
    assert_int_equal(admitted, 0);
    sg_queue_free(&q);

    /* --batch-wait: c1 waits for c2 (pushed 100 ms later); c3, alone, runs after the wait */
    memset(batch_log, 0, sizeof batch_log);
    assert_int_equal(sg_queue_init(&q, 1, 8, &err), SG_OK);
    sg_queue_set_batch(&q, 2, 300);
    assert_int_equal(sg_queue_start(&q, &err), SG_OK);
    batch_job c[3];
    for (int i = 0; i < 3; i++) {
        char nm[4];
        snprintf(nm, sizeof nm, "c%d", i + 1);
        bj_init(&c[i], nm, &ka);
        assert_true(sg_queue_reserve(&q));
    }
    sg_queue_push(&q, &c[0].job);
    usleep(100 * 1000);
    sg_queue_push(&q, &c[1].job);
    usleep(100 * 1000);
    assert_string_equal(bj_seen(), "[c1,c2] ");
    const double t0 = sg_now_ms();
    sg_queue_push(&q, &c[2].job);
    while (strcmp(bj_seen(), "[c1,c2] c3 ") && sg_now_ms() - t0 < 5000) usleep(10 * 1000);
    assert_string_equal(bj_seen(), "[c1,c2] c3 ");
    assert_true(sg_now_ms() - t0 >= 250); /* it waited for a mate first */
    sg_queue_drain_and_stop(&q, 5);
    sg_queue_free(&q);
}

/* A job that yields: it runs `steps` times, requeueing itself after each step; the log records
 * the order of every run of every job. */
typedef struct {
    sg_qitem job;
    sg_queue *q;
    char name;
    int steps, done;
    char *log;
    atomic_int *pos, *started;
} yield_job;

static void yj_run(sg_qitem *j, int worker) {
    (void)worker;
    yield_job *y = (yield_job *)j;
    y->log[atomic_fetch_add(y->pos, 1)] = y->name;
    atomic_store(y->started, 1);
    usleep(30 * 1000);
    if (++y->done < y->steps) assert_true(sg_queue_requeue(y->q, j));
}

static void test_queue_requeue_yields(void **state) {
    (void)state;
    sg_queue q;
    sg_error err;
    char log[16] = "";
    atomic_int pos = 0, started = 0;
    assert_int_equal(sg_queue_init(&q, 1, 1, &err), SG_OK);
    assert_int_equal(sg_queue_start(&q, &err), SG_OK);
    yield_job a = {.job = {.run = yj_run, .dropped = tj_dropped},
                   .q = &q,
                   .name = 'A',
                   .steps = 4,
                   .log = log,
                   .pos = &pos,
                   .started = &started};
    yield_job b = a;
    b.name = 'B', b.steps = 1;
    assert_true(sg_queue_reserve(&q));
    sg_queue_push(&q, &a.job);
    while (!atomic_load(&started)) usleep(1000);
    /* a long job holds one slot, not one per step: the second slot is still free */
    assert_true(sg_queue_reserve(&q));
    assert_false(sg_queue_reserve(&q));
    sg_queue_push(&q, &b.job); /* arrives while A's first step runs: runs before A's second */
    sg_queue_drain_and_stop(&q, 5);
    assert_string_equal(log, "ABAAA");
    sg_queue_free(&q);
}

/* ---- strict fields, media parsing, admission by size ----------------------------------------- */
static sg_srv_model fake_model;
static sg_srv_models fake_models = {&fake_model, 1, NULL};

static void fake_setup(void) {
    sg_error err;
    memset(&fake_model, 0, sizeof fake_model);
    snprintf(fake_model.name, sizeof fake_model.name, "m");
    sg_config *c = &fake_model.engine.cfg;
    c->img_size = 64, c->style_dim = 4, c->latent_dim = 2, c->num_domains = 3, c->max_conv_dim = 64;
    assert_int_equal(sg_config_set_domains(c, "cat,dog,wild", &err), SG_OK);
}

/* A form from name=value pairs; a value starting with "@png" is a tiny PNG file whose header
 * says 64 x 64 (sniffable, and sized from its header as the server sizes work). */
static char form_body[16384];
static const char tiny_png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x40\0\0\0\x40\x08\x02";
static void make_form(sg_mp_form *f, const char *const *kv, int n) {
    size_t len = 0;
    for (int i = 0; i < n; i += 2) {
        int file = !strncmp(kv[i + 1], "@png", 4);
        len += (size_t)snprintf(form_body + len, sizeof form_body - len,
                                "--B\r\nContent-Disposition: form-data; name=\"%s\"%s\r\n\r\n",
                                kv[i], file ? "; filename=\"x.png\"" : "");
        size_t vn = file ? sizeof tiny_png - 1 : strlen(kv[i + 1]);
        memcpy(form_body + len, file ? tiny_png : kv[i + 1], vn);
        len += vn;
        len += (size_t)snprintf(form_body + len, sizeof form_body - len, "\r\n");
    }
    len += (size_t)snprintf(form_body + len, sizeof form_body - len, "--B--\r\n");
    sg_error err;
    assert_int_equal(sg_multipart_parse((const uint8_t *)form_body, len, "B", f, &err), SG_OK);
}

static const sg_request_limits limits = {
    .max_frames = 10, .max_cells = 6, .max_work = 64 * 64 * 12, .max_pixels = 1000000};

/* Parses a request for route path from form pairs kv and query pairs qk/qv. */
static int parse_route(sg_request *r, const char *path, const char *const *kv, int n,
                       const char *const *qk, const char *const *qv, int nq,
                       const sg_request_limits *lim, sg_http_error *e) {
    sg_mp_form f;
    make_form(&f, kv, n);
    size_t ql[8];
    int qh[8];
    for (int i = 0; i < nq; i++) ql[i] = strlen(qv[i]), qh[i] = 1;
    sg_fields_input in = {.form = &f,
                          .n_query = nq,
                          .query_keys = qk,
                          .query_values = qv,
                          .query_lens = ql,
                          .query_has_value = qh};
    const sg_route_desc *d = sg_route_find(path);
    assert_non_null(d);
    in.raw_field = d->raw_field;
    memset(e, 0, sizeof *e);
    return sg_request_parse(r, d, &in, NULL, &fake_models, lim, e);
}

static int parse_translate(const char *const *kv, int n, const char *const *qk,
                           const char *const *qv, int nq, sg_http_error *e) {
    sg_request r;
    int ret = parse_route(&r, "/v1/translate", kv, n, qk, qv, nq, &limits, e);
    sg_request_free(&r);
    return ret;
}

static void test_strict_fields(void **state) {
    (void)state;
    fake_setup();
    sg_http_error e = {0};
    const char *ok[] = {"image", "@png", "domain", "dog", "seed", "2"};
    assert_int_equal(parse_translate(ok, 6, NULL, NULL, 0, &e), 0);
    /* a typo is named, with the field it looks like */
    const char *typo[] = {"image", "@png", "domain", "dog", "sed", "2"};
    assert_int_equal(parse_translate(typo, 6, NULL, NULL, 0, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "unknown_field");
    assert_non_null(strstr(e.msg, "'sed'"));
    assert_non_null(strstr(e.msg, "did you mean 'seed'"));
    /* repeated in the form */
    const char *rep[] = {"image", "@png", "domain", "dog", "seed", "2", "seed", "3"};
    assert_int_equal(parse_translate(rep, 8, NULL, NULL, 0, &e), -1);
    assert_string_equal(e.code, "repeated_field");
    assert_non_null(strstr(e.msg, "'seed'"));
    /* form and query are one set of fields */
    const char *qk[] = {"domain"}, *qv[] = {"cat"};
    assert_int_equal(parse_translate(ok, 6, qk, qv, 1, &e), -1);
    assert_string_equal(e.code, "repeated_field");
    const char *qk2[] = {"qualty"}, *qv2[] = {"5"};
    assert_int_equal(parse_translate(ok, 6, qk2, qv2, 1, &e), -1);
    assert_string_equal(e.code, "unknown_field");
    assert_non_null(strstr(e.msg, "'quality'"));
    /* an unknown domain lists the model's */
    const char *dom[] = {"image", "@png", "domain", "horse"};
    assert_int_equal(parse_translate(dom, 4, NULL, NULL, 0, &e), -1);
    assert_string_equal(e.code, "unknown_domain");
    assert_non_null(strstr(e.msg, "cat, dog, wild"));
    /* /v1/style refuses translate-only fields */
    const char *st[] = {"domain", "dog", "seed", "1", "format", "png"};
    sg_request r;
    assert_int_equal(parse_route(&r, "/v1/style", st, 6, NULL, NULL, 0, &limits, &e), -1);
    assert_string_equal(e.code, "unknown_field");
    sg_request_free(&r);
}

/* One grammar: each bad value is the same 400 (code and message) on every route that takes the
 * field, whatever else the request holds. */
static void test_one_grammar(void **state) {
    (void)state;
    fake_setup();
    static const struct {
        const char *field, *value;
    } cases[] = {{"psi", "0x1"},
                 {"psi", ".5"},
                 {"psi", "+0.5"},
                 {"psi", "nan"},
                 {"psi", "1e400"},
                 {"psi", "1."},
                 {"psi", "00.5"},
                 {"psi", "\r0.5"},
                 {"psi", "1.5"},
                 {"psi", ""},
                 {"seed", "01"},
                 {"seed", "0x10"},
                 {"seed", "1e3"},
                 {"seed", "-1"},
                 {"seed", " 1"},
                 {"seed", "1.0"},
                 {"seed", "18446744073709551616"},
                 {"quality", "050"},
                 {"quality", "0"},
                 {"quality", "101"},
                 {"fit", "Crop"},
                 {"fit", "crop "},
                 {"frames", "02"},
                 {"fps", "012"},
                 {"fps", "0"},
                 {"header", "yes"},
                 {"style", "[1,2"},
                 {"style", "[1,\"a\"]"},
                 {"style", "[1] x"}};
    static const char *const routes[] = {"/v1/translate", "/v1/style", "/v1/interpolate",
                                         "/v1/grid"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char first[480] = "";
        int seen = 0;
        for (int k = 0; k < 4; k++) {
            const sg_route_desc *d = sg_route_find(routes[k]);
            int takes = 0;
            for (const sg_field_use *u = d->fields; u->name; u++)
                takes |= !strcmp(u->name, cases[c].field);
            if (!takes) continue;
            /* a valid request otherwise (two seeds make a video's waypoints), the bad field last */
            const char *kv[10];
            int n = 0, seed = !strcmp(cases[c].field, "seed");
            if (k != 1) kv[n++] = "image", kv[n++] = "@png";
            kv[n++] = "domain", kv[n++] = "dog";
            if (!seed || k >= 2) kv[n++] = "seed", kv[n++] = "1";
            if (!seed && k == 2) kv[n++] = "seed", kv[n++] = "2";
            kv[n++] = cases[c].field, kv[n++] = cases[c].value;
            sg_request r;
            sg_http_error e;
            int ret = parse_route(&r, routes[k], kv, n, NULL, NULL, 0, &limits, &e);
            sg_request_free(&r);
            if (ret != -1 || e.status != 400) {
                fprintf(stderr, "%s=%s on %s: %d %d %s\n", cases[c].field, cases[c].value,
                        routes[k], ret, e.status, e.msg);
                fail();
            }
            if (!seen++) snprintf(first, sizeof first, "%s: %s", e.code, e.msg);
            char got[480];
            snprintf(got, sizeof got, "%s: %s", e.code, e.msg);
            assert_string_equal(got, first);
        }
        assert_true(seen >= 1);
    }
}

static void test_request_parse(void **state) {
    (void)state;
    fake_setup();
    sg_request m;
    sg_http_error e;
    /* waypoints in body order, kinds mixed; work = (frames + references) x 64^2 + pixels / 128 */
    const char *iv[] = {"image", "@png",  "domain",    "dog",    "seed", "5",      "reference",
                        "@png",  "style", "[1,2,3,4]", "frames", "8",    "format", "webp"};
    assert_int_equal(parse_route(&m, "/v1/interpolate", iv, 14, NULL, NULL, 0, &limits, &e), 0);
    assert_int_equal(m.n_cols, 3);
    assert_int_equal(m.cols[0].mode, SG_STYLE_SEED);
    assert_int_equal(m.cols[0].seed, 5);
    assert_int_equal(m.cols[1].mode, SG_STYLE_REF);
    assert_int_equal(m.cols[2].mode, SG_STYLE_GIVEN);
    assert_true(m.cols[2].style[3] == 4.0f);
    assert_int_equal(m.frames, 8);
    assert_int_equal(m.format, SG_OUT_WEBP);
    assert_int_equal(m.n_steps, 1 + 3 + 8);
    assert_int_equal(sg_request_work(&m), (8 + 1) * 64 * 64 + 2 * 64 * 64 / 128);
    assert_string_equal(sg_request_content_type(&m), "image/webp");
    sg_request_free(&m);
    /* one waypoint is not an interpolation; frames past --max-frames is 413 */
    const char *one[] = {"image", "@png", "domain", "dog", "seed", "5"};
    assert_int_equal(parse_route(&m, "/v1/interpolate", one, 6, NULL, NULL, 0, &limits, &e), -1);
    assert_int_equal(e.status, 400);
    sg_request_free(&m);
    const char *many[] = {"image", "@png", "domain", "dog",    "seed",
                          "5",     "seed", "6",      "frames", "11"};
    assert_int_equal(parse_route(&m, "/v1/interpolate", many, 10, NULL, NULL, 0, &limits, &e), -1);
    assert_int_equal(e.status, 413);
    assert_string_equal(e.code, "too_many_frames");
    sg_request_free(&m);
    /* within --max-frames but over --max-work: 413 too_much_work */
    sg_request_limits small = limits;
    small.max_work = 64 * 64 * 5;
    many[9] = "6";
    assert_int_equal(parse_route(&m, "/v1/interpolate", many, 10, NULL, NULL, 0, &small, &e), -1);
    assert_int_equal(e.status, 413);
    assert_string_equal(e.code, "too_much_work");
    sg_request_free(&m);
    const char *twice[] = {"image", "@png", "domain", "dog", "seed", "5",
                           "seed",  "6",    "fps",    "3",   "fps",  "4"};
    assert_int_equal(parse_route(&m, "/v1/interpolate", twice, 12, NULL, NULL, 0, &limits, &e), -1);
    assert_string_equal(e.code, "repeated_field");
    sg_request_free(&m);

    /* grid: 2 images x (2 domains x 1 seed) */
    const char *g[] = {"image", "@png",   "image", "@png", "domain",
                       "cat",   "domain", "wild",  "seed", "9"};
    assert_int_equal(parse_route(&m, "/v1/grid", g, 10, NULL, NULL, 0, &limits, &e), 0);
    assert_int_equal(m.n_src, 2);
    assert_int_equal(m.n_cols, 2);
    assert_int_equal(m.cols[1].domain, 2);
    assert_int_equal(m.cols[1].seed, 9);
    assert_int_equal(sg_request_work(&m), 4 * 64 * 64 + 2 * 64 * 64 / 128);
    sg_buf h;
    sg_buf_init(&h, 0);
    assert_int_equal(sg_request_headers(&m, 1.0, &h), SG_OK);
    /* the pairs, NUL-separated */
    const char *p = (const char *)h.data;
    int found = 0;
    for (size_t i = 0; i < h.len;) {
        const char *name = p + i, *v = name + strlen(name) + 1;
        if (!strcmp(name, "X-Seed")) assert_string_equal(v, "9"), found++;
        if (!strcmp(name, "X-Grid-Columns"))
            assert_string_equal(v, "cat;seed=9, wild;seed=9"), found++;
        if (!strcmp(name, "X-Grid"))
            assert_string_equal(v, "rows=2 cols=2 cell=64 x0=64 y0=0"), found++;
        i += strlen(name) + strlen(v) + 2;
    }
    assert_int_equal(found, 3);
    sg_buf_free(&h);
    sg_request_free(&m);
    /* default columns: every domain; 3 images x 3 domains = 9 cells > --max-cells 6 */
    const char *g2[] = {"image", "@png", "image", "@png", "image", "@png", "seed", "1"};
    assert_int_equal(parse_route(&m, "/v1/grid", g2, 8, NULL, NULL, 0, &limits, &e), -1);
    assert_int_equal(e.status, 413);
    assert_string_equal(e.code, "too_many_cells");
    sg_request_free(&m);
    /* references with one domain each, and references without any domain */
    const char *g3[] = {"image", "@png",   "reference", "@png",   "reference",
                        "@png",  "domain", "dog",       "domain", "cat"};
    assert_int_equal(parse_route(&m, "/v1/grid", g3, 10, NULL, NULL, 0, &limits, &e), 0);
    assert_int_equal(m.cols[0].domain, 1);
    assert_int_equal(m.cols[1].domain, 0);
    sg_request_free(&m);
    assert_int_equal(parse_route(&m, "/v1/grid", g3, 6, NULL, NULL, 0, &limits, &e), -1);
    assert_string_equal(e.code, "missing_field");
    sg_request_free(&m);
    const char *g4[] = {"image", "@png", "reference", "@png", "seed", "1", "domain", "dog"};
    assert_int_equal(parse_route(&m, "/v1/grid", g4, 8, NULL, NULL, 0, &limits, &e), -1);
    assert_string_equal(e.code, "bad_request");
    sg_request_free(&m);
    /* 32 twenty-digit seeds: X-Seed whole (each of the 32), not cut at a buffer */
    const char *g5[2 + 2 * 32 + 2];
    char seeds[32][24];
    int k = 0;
    g5[k++] = "image", g5[k++] = "@png", g5[k++] = "domain", g5[k++] = "cat";
    for (int i = 0; i < 32; i++) {
        snprintf(seeds[i], sizeof seeds[i], "%llu", 18446744073709551615ull - (unsigned)i);
        g5[k++] = "seed", g5[k++] = seeds[i];
    }
    sg_request_limits big = limits;
    big.max_cells = 64, big.max_work = 1 << 30;
    assert_int_equal(parse_route(&m, "/v1/grid", g5, k, NULL, NULL, 0, &big, &e), 0);
    sg_buf_init(&h, 0);
    sg_request_headers(&m, 1.0, &h);
    for (size_t i = 0; i < h.len;) {
        const char *name = (const char *)h.data + i, *v = name + strlen(name) + 1;
        if (!strcmp(name, "X-Seed")) {
            assert_int_equal(strlen(v), 32 * 20 + 31);
            assert_non_null(strstr(v, "18446744073709551584"));
        }
        i += strlen(name) + strlen(v) + 2;
    }
    sg_buf_free(&h);
    sg_request_free(&m);
}

/* OpenAPI's description is the route table's: each POST route's multipart fields are exactly the
 * route's fields (arrays exactly where a field repeats), its query parameters some of them. */
static void test_openapi_matches_routes(void **state) {
    (void)state;
    FILE *f = fopen(SG_SOURCE_DIR "/web/openapi.json", "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    cJSON *doc = cJSON_Parse(text), *paths = cJSON_GetObjectItem(doc, "paths");
    assert_non_null(paths);
    int checked = 0;
    for (int i = 0; i < sg_n_routes; i++) {
        const sg_route_desc *d = &sg_routes[i];
        if (!d->fields) continue;
        cJSON *op = cJSON_GetObjectItem(cJSON_GetObjectItem(paths, d->path), "post");
        cJSON *props = cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(
                    cJSON_GetObjectItem(cJSON_GetObjectItem(op, "requestBody"), "content"),
                    "multipart/form-data"),
                "schema"),
            "properties");
        assert_non_null(props);
        int nf = 0;
        for (const sg_field_use *u = d->fields; u->name; u++, nf++) {
            cJSON *p = cJSON_GetObjectItem(props, u->name);
            if (!p) fail_msg("%s: field %s is not in openapi.json", d->path, u->name);
            const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(p, "type"));
            if (u->repeat != (type && !strcmp(type, "array")))
                fail_msg("%s: %s repeats in one and not the other", d->path, u->name);
        }
        assert_int_equal(cJSON_GetArraySize(props), nf);
        cJSON *prm;
        cJSON_ArrayForEach(prm, cJSON_GetObjectItem(op, "parameters")) {
            const char *in = cJSON_GetStringValue(cJSON_GetObjectItem(prm, "in"));
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(prm, "name"));
            if (strcmp(in, "query")) continue;
            int known = 0;
            for (const sg_field_use *u = d->fields; u->name; u++) known |= !strcmp(u->name, name);
            if (!known) fail_msg("%s: query parameter %s is not a field", d->path, name);
        }
        checked++;
    }
    assert_int_equal(checked, 5);
    cJSON_Delete(doc);
}

static void test_work_budget(void **state) {
    (void)state;
    sg_work_budget b;
    sg_http_error e;
    sg_work_init(&b, 100);
    assert_int_equal(sg_work_admit(&b, 101, &e), -1); /* alone over the limit: never */
    assert_int_equal(e.status, 413);
    assert_int_equal(sg_work_admit(&b, 60, &e), 0);
    assert_int_equal(sg_work_admit(&b, 40, &e), 0);
    assert_int_equal(sg_work_admit(&b, 1, &e), -1); /* full: later */
    assert_int_equal(e.status, 503);
    sg_work_release(&b, 60);
    assert_int_equal(sg_work_admit(&b, 50, &e), 0);
    sg_work_free(&b);
}

/* Debug builds check the queue's counts (SG_ASSERT): a release without its reservation. */
static void release_unreserved(void *ctx) { sg_queue_release(ctx); }
static void test_queue_checks(void **state) {
    (void)state;
    sg_queue q;
    sg_error err;
    assert_int_equal(sg_queue_init(&q, 1, 1, &err), SG_OK);
    tu_expect_check_fails(release_unreserved, &q, "q->admitted > 0");
    sg_queue_free(&q);
}

/* Expired jobs whose dropped() frees them at once, as an HTTP connection completing on another
 * thread may: the reaper must not touch a job after answering it (issue 12: a use-after-free in
 * reaper_main). dropped() scribbles the link first, so without a sanitizer a second walk over
 * the answered list stops early and leaves slots admitted. */
static atomic_int heap_dropped;

static void hj_dropped(sg_qitem *j, int shutting_down) {
    (void)shutting_down;
    *(sg_qitem *volatile *)&j->next = NULL; /* volatile: a store before free is otherwise dead */
    free(j);
    atomic_fetch_add(&heap_dropped, 1);
}

static void test_queue_expiry_frees_jobs(void **state) {
    (void)state;
    sg_queue q;
    sg_error err;
    assert_int_equal(sg_queue_init(&q, 1, 8, &err), SG_OK);
    assert_int_equal(sg_queue_start(&q, &err), SG_OK);
    test_job busy = {0};
    busy.job = (sg_qitem){.run = tj_run, .dropped = tj_dropped};
    busy.sleep_ms = 400;
    assert_true(sg_queue_reserve(&q));
    sg_queue_push(&q, &busy.job);
    usleep(30 * 1000); /* the worker holds busy */
    atomic_store(&heap_dropped, 0);
    double deadline = sg_now_ms() + 60; /* one deadline: the reaper answers all in one pass */
    for (int i = 0; i < 6; i++) {
        sg_qitem *j = calloc(1, sizeof *j);
        assert_non_null(j);
        *j = (sg_qitem){.run = tj_run, .dropped = hj_dropped, .deadline_ms = deadline};
        assert_true(sg_queue_reserve(&q));
        sg_queue_push(&q, j);
    }
    usleep(250 * 1000);
    assert_int_equal(atomic_load(&heap_dropped), 6);
    int admitted, waiting;
    long expired;
    sg_queue_stats(&q, &waiting, NULL, &admitted, NULL, &expired);
    assert_int_equal(waiting, 0);
    assert_int_equal(admitted, 1); /* busy alone */
    assert_int_equal(expired, 6);
    sg_queue_drain_and_stop(&q, 5);
    assert_int_equal(atomic_load(&busy.ran), 1);
    sg_queue_free(&q);
}

/* ---- watchdog ------------------------------------------------------------------------------- */
/* 1 when the peer of fd has been shut down (reads end at once), 0 while it is open. */
static int peer_shut(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0;
}

static void test_watchdog_deadlines(void **state) {
    (void)state;
    sg_watchdog w;
    sg_watchdog_init(&w, 10, 1024, 5); /* headers 10 s; body 1 KiB/s after 5 s */
    int hs[2], bs[2], fs[2], busy[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, hs), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, bs), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fs), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, busy), 0);
    sg_conn *h = sg_watchdog_open(&w, hs[0]), *b = sg_watchdog_open(&w, bs[0]),
            *f = sg_watchdog_open(&w, fs[0]), *k = sg_watchdog_open(&w, busy[0]);
    assert_true(sg_watchdog_take_upload(&w, b, 2));
    assert_true(sg_watchdog_take_upload(&w, f, 2));
    assert_false(sg_watchdog_take_upload(&w, k, 2)); /* both upload slots are held */
    sg_watchdog_phase(&w, b, SG_CONN_BODY);
    sg_watchdog_phase(&w, f, SG_CONN_BODY);
    sg_watchdog_phase(&w, k, SG_CONN_BUSY);
    double t0 = sg_now_ms();
    sg_watchdog_body(&w, b, 4000);                        /* 4 KB: under 1 KiB/s by 6 s */
    sg_watchdog_body(&w, f, 100 * 1024);                  /* a fast upload */
    assert_int_equal(sg_watchdog_scan(&w, t0 + 4900), 0); /* within every grace */
    assert_int_equal(sg_watchdog_scan(&w, t0 + 6000), 1); /* the slow body */
    assert_true(peer_shut(bs[1]));
    assert_false(peer_shut(fs[1]));
    assert_false(peer_shut(hs[1]));
    assert_int_equal(sg_watchdog_scan(&w, t0 + 10500), 1); /* the headers' deadline */
    assert_true(peer_shut(hs[1]));
    assert_int_equal(sg_watchdog_scan(&w, t0 + 60000), 0); /* a fast upload, a busy answer */
    assert_false(peer_shut(fs[1]));
    assert_false(peer_shut(busy[1]));
    long dh, db;
    int open, uploads;
    sg_watchdog_stats(&w, &open, &uploads, &dh, &db);
    assert_int_equal(open, 4);
    assert_int_equal(uploads, 2);
    assert_int_equal(dh, 1);
    assert_int_equal(db, 1);
    sg_watchdog_phase(&w, f, SG_CONN_HEADERS); /* answered: the slot is free again */
    assert_true(sg_watchdog_take_upload(&w, k, 2));
    sg_watchdog_close(&w, b); /* a closed upload frees its slot */
    sg_watchdog_stats(&w, &open, &uploads, NULL, NULL);
    assert_int_equal(open, 3);
    assert_int_equal(uploads, 1);
    sg_watchdog_close(&w, h);
    sg_watchdog_close(&w, f);
    sg_watchdog_close(&w, k);
    sg_watchdog_free(&w);
    for (int i = 0; i < 2; i++) close(hs[i]), close(bs[i]), close(fs[i]), close(busy[i]);
}

/* ---- listen addresses ----------------------------------------------------------------------- */
static void test_listen_parse(void **state) {
    (void)state;
    struct sockaddr_storage sa;
    unsigned len;
    sg_error err;
    assert_int_equal(sg_srv_parse_listen("127.0.0.1:8080", &sa, &len, &err), SG_OK);
    assert_int_equal(sa.ss_family, AF_INET);
    assert_int_equal(sg_srv_parse_listen("[::1]:0", &sa, &len, &err), SG_OK);
    assert_int_equal(sa.ss_family, AF_INET6);
    assert_int_equal(sg_srv_parse_listen(":9000", &sa, &len, &err), SG_OK);
    assert_int_equal(sg_srv_parse_listen("8080", &sa, &len, &err), SG_OK);
    assert_int_equal(sg_srv_parse_listen("1.2.3.4:99999", &sa, &len, &err), SG_ERR_ARG);
    assert_int_equal(sg_srv_parse_listen("[::1:80", &sa, &len, &err), SG_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_basic),
        cmocka_unit_test(test_multipart_preamble_and_empty),
        cmocka_unit_test(test_multipart_hostile),
        cmocka_unit_test(test_multipart_boundary_header),
        cmocka_unit_test(test_multipart_quoted_params),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_env_and_flags),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_sizes_and_usage),
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_log_value),
        cmocka_unit_test(test_queue_admission_and_deadline),
        cmocka_unit_test(test_queue_shutdown_drops_waiting),
        cmocka_unit_test(test_queue_batches),
        cmocka_unit_test(test_queue_checks),
        cmocka_unit_test(test_queue_expiry_frees_jobs),
        cmocka_unit_test(test_watchdog_deadlines),
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_queue_requeue_yields),
        cmocka_unit_test(test_strict_fields),
        cmocka_unit_test(test_request_parse),
        cmocka_unit_test(test_one_grammar),
        cmocka_unit_test(test_openapi_matches_routes),
        cmocka_unit_test(test_work_budget),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
