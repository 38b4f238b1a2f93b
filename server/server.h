/* server/: `stargan-server`, the HTTP service over the engine. One header, one module per concern:
 *   buf        growable byte buffer with a hard cap (uploads, JSON, metrics text)
 *   config     the option table: each flag is also an environment variable
 *   multipart  multipart/form-data over a complete, bounded body (binary-safe)
 *   queue      bounded job queue, worker threads, deadline reaper
 *   metrics    counters and histograms, Prometheus text
 *   log        access log and daemon messages
 *   models     the loaded models (or the built-in demo model) and their description
 *   task       one inference request: fields → inputs → worker run → image or style
 *   form       strict fields: unknown or repeated fields are refused, naming them
 *   media      videos and grids (/v1/interpolate, /v1/grid): admitted by size, run step by step
 *   http       libmicrohttpd: routing, uploads, suspend/resume, CORS, API keys, responses
 *   healthcheck  a tiny HTTP GET for the container's HEALTHCHECK
 * Library code returns errors; only main.c decides an exit status. */
#ifndef SG_SERVER_H
#define SG_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "../engine/engine.h"

/* ---- buf ------------------------------------------------------------------------------------ */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    size_t max; /* appends past this fail with SG_ERR_LIMIT (0: unbounded) */
} sg_buf;

void sg_buf_init(sg_buf *b, size_t max);
void sg_buf_free(sg_buf *b);
/* Makes room for n more bytes (one allocation when the final size is known up front). */
sg_status sg_buf_reserve(sg_buf *b, size_t n);
sg_status sg_buf_append(sg_buf *b, const void *p, size_t n);
sg_status sg_buf_printf(sg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminated contents ("" when empty); the terminator is not counted in len. */
const char *sg_buf_str(sg_buf *b);
/* Hands the data over to the caller (malloc'd, NUL-terminated) and resets b. */
char *sg_buf_take(sg_buf *b, size_t *len);

/* ---- config --------------------------------------------------------------------------------- */
#define SG_SRV_MAX_MODELS 16
#define SG_SRV_PATH       1024

typedef struct {
    char name[64];
    char path[SG_SRV_PATH];
} sg_srv_model_arg;

typedef struct {
    char listen[256];
    sg_srv_model_arg models[SG_SRV_MAX_MODELS];
    int n_models;
    char fan[SG_SRV_PATH];
    char mean[SG_SRV_PATH]; /* mean landmarks for fit=align */
    int workers, queue;
    int64_t max_body, max_pixels;
    int max_frames, max_cells; /* one /v1/interpolate, one /v1/grid */
    int64_t max_work;          /* pixels of frames and cells admitted at once (media.c) */
    double timeout_s;          /* a request may wait + run this long (0: no limit) */
    double client_timeout_s;   /* idle connection / stalled upload */
    double header_timeout_s;   /* headers complete within this of the connection / last answer */
    int64_t body_min_rate;     /* bytes/s an upload must average once body_grace_s has passed */
    double body_grace_s;
    int reserved_connections; /* beyond max_connections, for requests that are not uploads */
    double grace_s;           /* shutdown: time to finish in-flight and queued work */
    double drain_delay_s;     /* SIGTERM: not ready, still serving, this long before the stop */
    int max_connections;
    char cors_origin[512];
    char api_key_file[SG_SRV_PATH];
    char access_log[SG_SRV_PATH]; /* "-" = stdout, "off", or a file */
    int help;
    char healthcheck[512]; /* --healthcheck [URL]: probe and exit */
    char precision[8];     /* "fp32" or "bf16" (checked at load) */
} sg_srv_config;

/* Defaults, then STARGAN_* environment variables, then argv (flags win). Errors name the flag
 * or variable. argv[0] is skipped. */
sg_status sg_srv_config_load(sg_srv_config *c, int argc, char **argv, sg_error *err);
void sg_srv_config_usage(FILE *f);
/* "16M" → 16 MiB (K/M/G binary), "40M" pixels → 40·10⁶ (decimal) */
sg_status sg_srv_parse_size(const char *s, int binary, int64_t *out);

/* ---- multipart ------------------------------------------------------------------------------ */
#define SG_MP_MAX_PARTS 64 /* grids and interpolations repeat image, reference, seed */

typedef struct {
    char name[64];
    char filename[128];
    char content_type[96];
    int is_file;         /* had a filename= */
    const uint8_t *data; /* points into the body */
    size_t len;
} sg_mp_part;

typedef struct {
    sg_mp_part parts[SG_MP_MAX_PARTS];
    int n;
} sg_mp_form;

/* The boundary of a "multipart/form-data; boundary=..." Content-Type (quoted or not). */
sg_status sg_multipart_boundary(const char *content_type, char *out, size_t cap, sg_error *err);
/* Splits a complete body into parts (RFC 7578). Part data are binary-safe views into body.
 * Malformed input is SG_ERR_FORMAT, more than SG_MP_MAX_PARTS parts SG_ERR_LIMIT. */
sg_status sg_multipart_parse(const uint8_t *body, size_t len, const char *boundary,
                             sg_mp_form *form, sg_error *err);
const sg_mp_part *sg_multipart_get(const sg_mp_form *form, const char *name);

/* ---- queue ---------------------------------------------------------------------------------- */
typedef struct sg_job sg_job;
typedef struct sg_queue sg_queue;

/* A unit of work. run happens on a worker thread (worker = its index); dropped is called
 * instead when the job's deadline passed while waiting or the queue shuts down. Exactly one of
 * the two is called, once, and the queue never touches the job afterwards. */
struct sg_job {
    void (*run)(sg_job *j, int worker);
    void (*dropped)(sg_job *j, int shutting_down);
    double enqueued_ms, deadline_ms; /* deadline 0: none */
    sg_job *next;
};

struct sg_queue {
    pthread_mutex_t mu;
    pthread_cond_t work, idle, reap;
    sg_job *head, *tail;
    int waiting, running, admitted; /* admitted = reserved + waiting + running */
    int workers, cap;               /* admitted ≤ workers + cap */
    int stopping, draining;
    pthread_t *threads, reaper;
    int started;
    long rejected, expired;
};

sg_status sg_queue_init(sg_queue *q, int workers, int cap, sg_error *err);
/* Starts the worker threads and the deadline reaper. */
sg_status sg_queue_start(sg_queue *q, sg_error *err);
/* Admission: takes a slot when admitted < workers + cap (returns 1), else counts a rejection
 * and returns 0. A taken slot is released by push's job finishing or by sg_queue_release. */
int sg_queue_reserve(sg_queue *q);
void sg_queue_release(sg_queue *q);
/* Queues a job on a reserved slot. */
void sg_queue_push(sg_queue *q, sg_job *j);
/* From inside j->run, as its last act: queues j again at the tail on a new slot (the running
 * one is released when run returns), so long work yields to what waits. 0 when the queue is
 * stopping (then the caller answers the job itself). */
int sg_queue_requeue(sg_queue *q, sg_job *j);
/* Snapshot for metrics/readiness. */
void sg_queue_stats(sg_queue *q, int *waiting, int *running, int *admitted, long *rejected,
                    long *expired);
/* Waits until nothing is admitted or timeout_s passes; then drops what still waits
 * (dropped(j, 1)), waits for running jobs and joins the threads. */
void sg_queue_drain_and_stop(sg_queue *q, double timeout_s);
void sg_queue_free(sg_queue *q);

/* ---- watchdog: deadlines for slow clients ---------------------------------------------------
 * libmicrohttpd's own timeout counts idle time only, so a client sending a byte a second holds
 * its connection forever. The watchdog tracks each connection's phase and, past its deadline,
 * shuts the socket down (the event loop then closes it): headers must be complete within
 * header_s; an upload must average min_rate bytes/s once grace_s has passed. A connection is
 * only shut down under the lock its close notification takes, so its descriptor is still its
 * own. */
typedef enum { SG_CONN_HEADERS, SG_CONN_BODY, SG_CONN_BUSY } sg_conn_phase;

typedef struct sg_conn sg_conn;
struct sg_conn {
    sg_conn *prev, *next;
    int fd;
    sg_conn_phase phase;
    int upload;      /* holds an upload slot (a POST from its headers to its answer) */
    int dropped;     /* shut down by the watchdog */
    double since_ms; /* start of the phase */
    uint64_t body_bytes;
};

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sg_conn *head;
    int n, uploads;
    double header_s, grace_s;
    double min_rate; /* bytes/s, 0: none */
    int stop, started;
    pthread_t thread;
    long dropped_headers, dropped_body;
} sg_watchdog;

void sg_watchdog_init(sg_watchdog *w, double header_s, double min_rate, double grace_s);
sg_status sg_watchdog_start(sg_watchdog *w, sg_error *err);
void sg_watchdog_stop(sg_watchdog *w);
void sg_watchdog_free(sg_watchdog *w);
sg_conn *sg_watchdog_open(sg_watchdog *w, int fd);
void sg_watchdog_close(sg_watchdog *w, sg_conn *c);
/* Starts a phase (HEADERS after an answer, BODY for an upload, BUSY while it is answered). */
void sg_watchdog_phase(sg_watchdog *w, sg_conn *c, sg_conn_phase p);
/* Takes an upload slot when fewer than max are held (1), else 0. Released by the next
 * SG_CONN_HEADERS phase or the close. */
int sg_watchdog_take_upload(sg_watchdog *w, sg_conn *c, int max);
void sg_watchdog_body(sg_watchdog *w, sg_conn *c, size_t n);
/* One pass over the connections at time now_ms (the thread runs it every 100 ms); returns how
 * many it shut down. */
int sg_watchdog_scan(sg_watchdog *w, double now_ms);
void sg_watchdog_stats(sg_watchdog *w, int *open, int *uploads, long *dropped_headers,
                       long *dropped_body);

/* ---- metrics -------------------------------------------------------------------------------- */
typedef enum {
    SG_ROUTE_TRANSLATE,
    SG_ROUTE_STYLE,
    SG_ROUTE_MODELS,
    SG_ROUTE_HEALTHZ,
    SG_ROUTE_READYZ,
    SG_ROUTE_METRICS,
    SG_ROUTE_INTERPOLATE,
    SG_ROUTE_GRID,
    SG_ROUTE_OTHER,
    SG_ROUTE_COUNT
} sg_route;

typedef enum {
    SG_STAGE_QUEUE,
    SG_STAGE_DECODE,
    SG_STAGE_FACES,
    SG_STAGE_STYLE,
    SG_STAGE_GENERATOR,
    SG_STAGE_ENCODE,
    SG_STAGE_COUNT
} sg_stage;

#define SG_HIST_BUCKETS 15

typedef struct {
    uint64_t counts[SG_HIST_BUCKETS + 1]; /* last: +Inf */
    uint64_t n;
    double sum_s;
} sg_hist;

typedef struct {
    pthread_mutex_t mu;
    uint64_t requests[SG_ROUTE_COUNT][600]; /* by HTTP status */
    sg_hist route_latency[SG_ROUTE_COUNT];
    sg_hist stage_latency[SG_STAGE_COUNT];
    uint64_t rejected, expired, dropped_shutdown;
    double started_s;
} sg_metrics;

typedef struct {
    int queue_waiting, running, admitted, capacity, workers, ready;
} sg_metrics_gauges;

extern const char *const sg_route_names[SG_ROUTE_COUNT];
extern const char *const sg_stage_names[SG_STAGE_COUNT];

void sg_metrics_init(sg_metrics *m);
void sg_metrics_free(sg_metrics *m);
void sg_metrics_request(sg_metrics *m, sg_route r, int status, double ms);
void sg_metrics_stage(sg_metrics *m, sg_stage s, double ms);
void sg_metrics_count_rejected(sg_metrics *m);
void sg_metrics_count_expired(sg_metrics *m);
/* Prometheus text exposition (0.0.4) into out; model_info holds ready-made sample lines. */
sg_status sg_metrics_render(sg_metrics *m, const sg_metrics_gauges *g, const char *model_info,
                            sg_buf *out);

/* ---- log ------------------------------------------------------------------------------------ */
typedef struct {
    double start_ms; /* sg_now_ms at arrival */
    const char *id, *method, *path, *model, *domain;
    int status;
    uint64_t bytes;
} sg_access;

/* target: "-" (stdout), "off", or a file appended to. */
sg_status sg_log_open(const char *target, sg_error *err);
void sg_log_close(void);
/* One line: time id method path status bytes ms model domain (logfmt, single write). */
void sg_log_access(const sg_access *a);
/* Daemon messages to stderr with a timestamp and level. */
void sg_log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* logfmt value: bare when safe, else quoted with escapes. */
void sg_log_value(sg_buf *b, const char *v);

/* ---- models --------------------------------------------------------------------------------- */
typedef struct {
    char name[64];
    char path[SG_SRV_PATH];
    int demo;
    sg_engine engine;
    int loaded;
    /* the files as read (the server holds private copies: later changes reach it only through a
     * reload); fan_file.size < 0 when there is no --fan */
    sg_file_info file, fan_file;
    double loaded_at; /* wall clock, seconds since the epoch */
} sg_srv_model;

typedef struct {
    sg_srv_model *m;
    int n;
} sg_srv_models;

/* Opens every --model (with --fan), or builds the demo model when none is named. */
sg_status sg_srv_models_load(sg_srv_models *ms, const sg_srv_config *c, sg_error *err);
void sg_srv_models_free(sg_srv_models *ms);
/* By name; NULL or "" picks the first (the default). NULL when unknown. */
sg_srv_model *sg_srv_models_find(sg_srv_models *ms, const char *name);
int sg_srv_model_has_faces(const sg_srv_model *m);
/* fit=align needs a face network and the mean landmarks (--mean) */
int sg_srv_model_can_align(const sg_srv_model *m);
/* The /v1/models document. */
char *sg_srv_models_json(const sg_srv_models *ms);
/* stargan_model_info sample lines for /metrics. */
sg_status sg_srv_models_metrics(const sg_srv_models *ms, sg_buf *out);

/* A generation: one complete set of loaded models with each worker's run states, shared by the
 * requests that started on it. SIGHUP loads a new one beside the current one; requests switch to
 * it at once; the old one is freed by whoever drops its last reference (the server's own, or
 * the last request that started on it). */
typedef struct {
    atomic_int refs;
    int id; /* 1 at startup, +1 per successful reload */
    sg_srv_models models;
    sg_run *runs; /* [worker][model] */
    int n_runs;
    char *json;     /* the /v1/models document */
    sg_buf metrics; /* stargan_model_info lines */
} sg_srv_gen;

/* Loads every model of c with `workers` run states each; *out has one reference. */
sg_status sg_srv_gen_load(sg_srv_gen **out, const sg_srv_config *c, int id, sg_error *err);
void sg_srv_gen_acquire(sg_srv_gen *g);
/* Drops a reference; the last one frees the generation. */
void sg_srv_gen_release(sg_srv_gen *g);
/* The run state of worker w for model m (an element of g->models.m). */
sg_run *sg_srv_gen_run(sg_srv_gen *g, int worker, const sg_srv_model *m);

/* ---- task ----------------------------------------------------------------------------------- */
/* An HTTP-level failure: status, a stable code ("bad_request", ...) and a message. */
typedef struct {
    int status;
    char code[32];
    char msg[400];
} sg_http_error;

/* Sets e and returns -1 (for `return sg_http_fail(...)` in parsers). */
int sg_http_fail(sg_http_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The HTTP answer for an engine/image status. */
void sg_http_from_status(sg_http_error *e, const sg_error *err);

typedef enum { SG_TASK_TRANSLATE, SG_TASK_STYLE } sg_task_kind;
typedef enum { SG_STYLE_SEED, SG_STYLE_REF, SG_STYLE_GIVEN } sg_style_mode;

/* Field lookup: a multipart form field or a query parameter (form first). */
typedef struct {
    const sg_mp_form *form;
    const char *(*query)(void *ctx, const char *name);
    void *query_ctx;
    const uint8_t *raw_image; /* raw image body, when not multipart */
    size_t raw_len;
    const char *raw_field; /* which field the raw body is: "image" (translate), "reference" */
    const char *accept;    /* Accept header or NULL */
    const char *const *query_keys, *const *query_values; /* every query parameter, in order */
    int n_query;
} sg_task_input;

typedef struct {
    sg_task_kind kind;
    sg_srv_model *model;
    int domain;
    sg_style_mode mode;
    uint64_t seed;
    int seed_random;
    float psi;
    float *style; /* given style (SG_STYLE_GIVEN), style_dim floats */
    sg_fit fit;
    sg_image_format format;
    int quality;
    int64_t max_pixels;
    const uint8_t *image, *ref; /* views into the request body */
    size_t image_len, ref_len;
    /* results */
    sg_http_error error; /* status 0: success */
    uint8_t *out;        /* encoded image or JSON (malloc'd) */
    size_t out_len;
    double stage_ms[SG_STAGE_COUNT];
} sg_task;

/* Validates the fields of a request for kind and fills t (no heavy work). */
int sg_task_parse(sg_task *t, sg_task_kind kind, const sg_task_input *in, sg_srv_models *ms,
                  int64_t max_pixels, sg_http_error *e);
/* Runs on a worker with that worker's run state for t->model. */
void sg_task_run(sg_task *t, sg_run *run);
void sg_task_free(sg_task *t);
const char *sg_task_content_type(const sg_task *t);

/* ---- form ----------------------------------------------------------------------------------- */
#define SG_MAX_QUERY 32

/* Strict fields: every form part and query parameter must be named in fields (NULL-terminated),
 * and only names in repeatable may appear more than once (form and query together). Else 400
 * naming the field (with the route's fields, and the nearest one when it looks like a typo). */
int sg_form_check(const sg_task_input *in, const char *route, const char *const *fields,
                  const char *const *repeatable, sg_http_error *e);
/* 400 unknown_domain for v, listing the model's domains. */
int sg_form_domain_error(const sg_srv_model *m, const char *v, sg_http_error *e);

/* ---- media: /v1/interpolate and /v1/grid ------------------------------------------------------ */
/* Long work: many generator runs for one answer. It is admitted by its size (work = generator
 * and style-encoder runs × img_size², against --max-work, with --max-frames and --max-cells per
 * request) and run one unit at a time: after each frame or cell the job goes back to the end of
 * the queue, so translations that arrived meanwhile run in between and a long video never
 * starves them. */
#define SG_MEDIA_MAX_ROWS 16 /* grid: source photos */
#define SG_MEDIA_MAX_COLS 32 /* grid columns, interpolation waypoints */

typedef enum { SG_MEDIA_INTERPOLATE, SG_MEDIA_GRID } sg_media_kind;
typedef enum { SG_MEDIA_PNG, SG_MEDIA_JPEG, SG_MEDIA_MP4, SG_MEDIA_WEBP } sg_media_format;

/* A style source: an interpolation waypoint or a grid column. */
typedef struct {
    sg_style_mode mode;
    int domain;
    uint64_t seed;
    const uint8_t *ref; /* view into the body (SG_STYLE_REF) */
    size_t ref_len;
    float *style; /* given (SG_STYLE_GIVEN), else computed by the first steps; style_dim floats */
} sg_media_style;

typedef struct {
    int max_frames, max_cells;
    int64_t max_work, max_pixels;
} sg_media_limits;

typedef struct {
    sg_media_kind kind;
    sg_srv_model *model;
    sg_fit fit;
    float psi;
    int domain; /* interpolation: the target domain */
    int n_src;
    const uint8_t *src[SG_MEDIA_MAX_ROWS];
    size_t src_len[SG_MEDIA_MAX_ROWS];
    int n_cols; /* grid columns, or interpolation waypoints */
    sg_media_style cols[SG_MEDIA_MAX_COLS];
    int frames, fps; /* interpolation */
    int header;      /* grid: a first column of the sources (and a first row of the references) */
    int seed_random; /* a seed was drawn by the server (reported in X-Seed) */
    sg_media_format format;
    int quality;
    int64_t max_pixels;
    /* progress: steps 0..n_cols-1 compute the styles, then one step per frame or cell */
    int step, n_steps;
    sg_image srcs[SG_MEDIA_MAX_ROWS]; /* decoded sources */
    sg_image canvas;                  /* the grid */
    struct sg_video *video;           /* the interpolation's writer (image/video.h) */
    /* results */
    sg_http_error error; /* status 0: success */
    uint8_t *out;
    size_t out_len;
    double stage_ms[SG_STAGE_COUNT];
} sg_media;

/* Validates the fields (strictly) and the limits: 413 past --max-frames, --max-cells or
 * --max-work. No heavy work. */
int sg_media_parse(sg_media *m, sg_media_kind kind, const sg_task_input *in, sg_srv_models *ms,
                   const sg_media_limits *lim, sg_http_error *e);
/* The request's size against --max-work: (generator + style-encoder runs) × img_size². */
int64_t sg_media_work(const sg_media *m);
/* One unit of work on a worker: 1 when more steps remain, 0 when done (out or error set). */
int sg_media_step(sg_media *m, sg_run *run);
void sg_media_free(sg_media *m);
const char *sg_media_content_type(const sg_media *m);
/* Answer headers: X-Seed (the seeds used, comma-separated, each once), X-Grid-Columns (grids:
 * "domain;seed=N" or "domain;reference=K" per column) and X-Grid ("rows=R cols=C cell=S x0=X
 * y0=Y": cell (r, c) is the S×S square at (x0 + c·S, y0 + r·S)). Empty when not applicable. */
void sg_media_headers(const sg_media *m, char *seeds, size_t seeds_cap, char *cols, size_t cols_cap,
                      char *grid, size_t grid_cap);

/* The long-work budget: the sum of admitted requests' work stays within cap. */
typedef struct {
    pthread_mutex_t mu;
    int64_t cap, used;
} sg_work_budget;

void sg_work_init(sg_work_budget *b, int64_t cap);
void sg_work_free(sg_work_budget *b);
/* Takes cost from the budget (0), or 413 when cost alone is over cap, 503 when the budget is
 * taken by others (-1 with e set). */
int sg_work_admit(sg_work_budget *b, int64_t cost, sg_http_error *e);
void sg_work_release(sg_work_budget *b, int64_t cost);

/* ---- http ----------------------------------------------------------------------------------- */
typedef struct sg_server sg_server;

/* Binds the listen address and starts serving (health routes answer at once; the rest say 503
 * until sg_server_set_ready). */
sg_status sg_server_start(sg_server **out, const sg_srv_config *c, sg_error *err);
/* Loads models, starts workers, and opens the inference routes. */
sg_status sg_server_load(sg_server *s, sg_error *err);
/* Draining (before a graceful stop): /readyz answers 503 and responses close their connections,
 * so balancers route elsewhere, while every request is still accepted and served. */
void sg_server_drain(sg_server *s);
/* SIGHUP: loads the model files again beside the current models and switches new requests to
 * them; in-flight requests finish on the old ones, which are freed after. A failure (a file
 * that does not load) is logged and returned, and the current models keep serving. */
sg_status sg_server_reload(sg_server *s, sg_error *err);
/* Graceful stop: stop accepting, finish in-flight and queued work within the grace time. */
void sg_server_stop(sg_server *s);
void sg_server_free(sg_server *s);
/* "host:port" or ":port" or "port" → address (IPv4 or [IPv6]). */
sg_status sg_srv_parse_listen(const char *listen, struct sockaddr_storage *sa, unsigned *salen,
                              sg_error *err);

/* ---- healthcheck ---------------------------------------------------------------------------- */
/* GET url (http://host:port/path) with a short timeout: 0 when it answers 200. */
int sg_healthcheck(const char *url, double timeout_s, char *why, size_t cap);

#endif
