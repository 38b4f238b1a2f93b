/* server/'s internals, one module per concern (server.h is what main.c sees):
 *   buf        growable byte buffer with a hard cap (uploads, JSON, metrics text, headers)
 *   config     the option table: each flag is also an environment variable
 *   multipart  multipart/form-data over a complete, bounded body (binary-safe)
 *   fields     the field vocabulary: one grammar and one error per kind of mistake, every route
 *   routes     the routes as descriptions: fields, parsing, sizing, steps, answer
 *   request    one request's work, step by step (translate, style, grid, video)
 *   budget     the long-work budget (--max-work)
 *   dispatch   admitted requests on the queue; the outcome to the connection or the job
 *   jobs       Prefer: respond-async: the job store (/v1/jobs/ID)
 *   queue      bounded work queue, worker threads, deadline reaper
 *   watchdog   deadlines for slow clients
 *   keys       API keys as SHA-256 digests (sha256: the hash)
 *   metrics    every counter and gauge, rendered as Prometheus text in one place
 *   log        access log and daemon messages
 *   models     the loaded models (or the built-in demo model) and their generations
 *   listen     the listening socket
 *   lifecycle  start, load, reload, drain, stop
 *   http       transport: libmicrohttpd glue and routing
 *   signals    signal handlers feeding a pipe
 *   healthcheck  a tiny HTTP GET for the container's HEALTHCHECK */
#ifndef SG_SERVER_INTERNAL_H
#define SG_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "server.h"

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
typedef struct sg_qitem sg_qitem;
typedef struct sg_queue sg_queue;

/* An item of the queue (an admitted request: dispatch.c). run happens on a worker thread (worker = its index); dropped is called
 * instead when the job's deadline passed while waiting or the queue shuts down. Exactly one of
 * the two is called, once, and the queue never touches the job afterwards. */
struct sg_qitem {
    void (*run)(sg_qitem *j, int worker);
    void (*dropped)(sg_qitem *j, int shutting_down);
    /* items of the same non-NULL batch_key may run together: run_batch(j, n, worker) with n ≥ 2
     * of them in queue order instead of run on each (dropped for those whose deadline passed) */
    const void *batch_key;
    void (*run_batch)(sg_qitem **j, int n, int worker);
    double enqueued_ms, deadline_ms; /* deadline 0: none */
    sg_qitem *next;
};

#define SG_QUEUE_MAX_BATCH SG_ENGINE_MAX_STYLES /* a batch's decoders run as one (engine.h) */

struct sg_queue {
    pthread_mutex_t mu;
    pthread_cond_t work, idle, reap;
    sg_qitem *head, *tail;
    int waiting, running, admitted; /* admitted = reserved + waiting + running */
    int workers, cap;               /* admitted ≤ workers + cap */
    int max_batch;                  /* items one worker takes at once (1: one) */
    double batch_wait_ms;           /* and waits this long for (0: takes what waits) */
    pthread_cond_t more;            /* a push (monotonic clock: a batch's wait) */
    int stopping, draining;
    pthread_t *threads, reaper;
    int started;
    long rejected, expired;
};

sg_status sg_queue_init(sg_queue *q, int workers, int cap, sg_error *err);
/* Batches (before start): a worker takes up to max_batch items of one batch_key, waiting up to
 * wait_ms for the batch to fill. */
void sg_queue_set_batch(sg_queue *q, int max_batch, double wait_ms);
/* Starts the worker threads and the deadline reaper. */
sg_status sg_queue_start(sg_queue *q, sg_error *err);
/* Admission: takes a slot when admitted < workers + cap (returns 1), else counts a rejection
 * and returns 0. A taken slot is released by push's job finishing or by sg_queue_release. */
int sg_queue_reserve(sg_queue *q);
void sg_queue_release(sg_queue *q);
/* Queues a job on a reserved slot. */
void sg_queue_push(sg_queue *q, sg_qitem *j);
/* From inside j->run, as its last act: queues j again at the tail on a new slot (the running
 * one is released when run returns), so long work yields to what waits. 0 when the queue is
 * stopping (then the caller answers the job itself). */
int sg_queue_requeue(sg_queue *q, sg_qitem *j);
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
    sg_face_detector *detector; /* NULL: none (--detector none, or no file) */
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

/* ---- HTTP errors ------------------------------------------------------------------------------ */
/* An HTTP-level failure: status, a stable code ("bad_field", ...) and a message. */
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

/* ---- fields: one vocabulary for every route (fields.c) ----------------------------------------
 * A request's fields are its form parts, its query parameters and (for a raw image body) the
 * route's image field, one namespace. Collecting them checks, for every route alike: that each is
 * a field of the route, given once unless the route repeats it, has a value (`?seed` alone is
 * refused), holds no NUL, and follows its field's grammar (numbers: JSON's, the whole value; see
 * fields.c). So a mistake is the same 400 whichever route it is sent to; the routes then only
 * combine values that are well-formed. */
#define SG_MAX_QUERY  32
#define SG_MAX_FIELDS (SG_MP_MAX_PARTS + SG_MAX_QUERY + 1)

typedef struct {
    const char *name; /* the vocabulary's name (static) */
    const uint8_t *data;
    size_t len;
    int from_query;
    /* the value, parsed by the field's grammar */
    uint64_t u;    /* seed, integers */
    double number; /* psi */
    int choice;    /* fit (sg_fit), header and paste (0/1), face (SG_FACE_AUTO, _ALL, index) */
    sg_rect rect;  /* crop, ref_crop */
} sg_field;

typedef struct {
    sg_field f[SG_MAX_FIELDS];
    int n;
} sg_fields;

/* One field of a route: its name and whether it may repeat. */
typedef struct {
    const char *name;
    int repeat;
} sg_field_use;

/* Where the fields come from. Query values carry their decoded length (a %00 shows as a length
 * past the C string) and whether they had a value at all (`?seed` has none). */
typedef struct {
    const sg_mp_form *form;
    int n_query;
    const char *const *query_keys, *const *query_values;
    const size_t *query_lens;
    const int *query_has_value;
    const uint8_t *raw; /* a raw image body, or NULL */
    size_t raw_len;
    const char *raw_field;
} sg_fields_input;

/* Collects and checks every field (above). -1 with e set on the first mistake. */
int sg_fields_collect(sg_fields *out, const sg_fields_input *in, const char *route,
                      const sg_field_use *uses, sg_http_error *e);
const sg_field *sg_fields_get(const sg_fields *f, const char *name);
int sg_fields_count(const sg_fields *f, const char *name);
/* A text value (checked NUL-free and short at collection) into out. */
void sg_field_text(const sg_field *f, char *out, size_t cap);

/* ---- the cost cache (cache.c): what a photo costs, kept for the next request with it ---------
 * Values (an encoded photo, a reference's style code) under a 32-byte key (SHA-256 of what
 * determines them), at most max_bytes in all, least recently used evicted first; 0 bytes: off.
 * Thread-safe. A value is held by reference while used: an eviction frees it when the last
 * holder releases it. */
#define SG_CACHE_KEY 32
enum { SG_CACHE_ENCODED, SG_CACHE_STYLE, SG_CACHE_LANDMARKS, SG_CACHE_KINDS };
extern const char *const sg_cache_kind_names[SG_CACHE_KINDS]; /* "encoded", "style", "landmarks" */
typedef struct {
    uint64_t hits, misses, evictions;
    size_t bytes; /* held now */
    int entries;
} sg_cache_stats;
typedef struct sg_cache sg_cache;
typedef struct sg_cache_entry sg_cache_entry;
sg_cache *sg_cache_new(size_t max_bytes); /* NULL: out of memory */
void sg_cache_free(sg_cache *c);          /* every holder has released its entries */
/* The entry under key, held (release it), counted as a hit; NULL: a miss (or c NULL / off). */
sg_cache_entry *sg_cache_get(sg_cache *c, int kind, const uint8_t key[SG_CACHE_KEY]);
const void *sg_cache_value(const sg_cache_entry *e);
void sg_cache_release(sg_cache *c, sg_cache_entry *e); /* NULL is fine */
/* value (bytes of memory, freed by free_fn) stored under key, evicting the least recently used
 * to make room; the cache owns it from now on and returns its entry held by the caller. NULL: not
 * stored (off, larger than the cache, the key already there, out of memory): the caller still
 * owns value. */
sg_cache_entry *sg_cache_put(sg_cache *c, int kind, const uint8_t key[SG_CACHE_KEY], void *value,
                             size_t bytes, void (*free_fn)(void *));
/* counters per kind (bytes and entries: held now), and the totals */
void sg_cache_stats_get(sg_cache *c, sg_cache_stats out[SG_CACHE_KINDS], size_t *bytes,
                        int *entries);

typedef struct {
    uint8_t (*digest)[32]; /* SHA-256 of each key */
    int n;
    size_t longest; /* a token longer than every key is refused before any work */
} sg_keys;

/* One key a line (# comments, blank lines skipped); an empty path: no keys. */
sg_status sg_keys_load(sg_keys *k, const char *path, sg_error *err);
void sg_keys_free(sg_keys *k);
/* An Authorization header "Bearer TOKEN" (the scheme case-insensitive; spaces and tabs around the
 * token ignored) naming a key: 1 with its digest in owner, else 0. The time taken depends on the
 * number of keys only, never on the token or on which key it matches. */
int sg_keys_check(const sg_keys *k, const char *authorization, uint8_t owner[32]);

/* an encoded photo a request uses: held in the cache, or its own */
typedef struct {
    sg_cache_entry *entry;
    sg_encoded *own;
} sg_held_encoded;

/* ---- the request model (routes.c, request.c) --------------------------------------------------
 * A route is a description: the fields it reads (and which repeat), how it is parsed into a
 * request, and the request's steps and answer. A translation or a style is one step; a grid or
 * a video many (a source, a style, a frame or cell each), each run on a worker and followed by
 * the next at the end of the queue, so a long request never starves short ones. */
typedef enum {
    SG_ROUTE_TRANSLATE,
    SG_ROUTE_STYLE,
    SG_ROUTE_MODELS,
    SG_ROUTE_HEALTHZ,
    SG_ROUTE_READYZ,
    SG_ROUTE_METRICS,
    SG_ROUTE_INTERPOLATE,
    SG_ROUTE_GRID,
    SG_ROUTE_DETECT,
    SG_ROUTE_JOBS,
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
    SG_STAGE_DETECT,
    SG_STAGE_PASTE,
    SG_STAGE_COUNT
} sg_stage;

typedef enum {
    SG_KIND_TRANSLATE,
    SG_KIND_STYLE,
    SG_KIND_GRID,
    SG_KIND_VIDEO,
    SG_KIND_DETECT
} sg_request_kind;
typedef enum { SG_STYLE_SEED, SG_STYLE_REF, SG_STYLE_GIVEN } sg_style_mode;
typedef enum { SG_OUT_PNG, SG_OUT_JPEG, SG_OUT_MP4, SG_OUT_WEBP, SG_OUT_JSON } sg_out_format;

#define SG_REQ_MAX_ROWS 16 /* grid: source photos */
#define SG_REQ_MAX_COLS 32 /* grid columns, video waypoints */

/* A style source: a translation's style, a grid column or a video waypoint. */
typedef struct {
    sg_style_mode mode;
    int domain;
    uint64_t seed;
    const uint8_t *ref; /* view into the body (SG_STYLE_REF) */
    size_t ref_len;
    float *style; /* given (SG_STYLE_GIVEN), else computed by its step; style_dim floats */
} sg_style_src;

typedef struct {
    int max_frames, max_cells;
    int64_t max_work, max_pixels;
} sg_request_limits;

typedef struct {
    sg_request_kind kind;
    sg_srv_model *model;
    const sg_face_detector *detector; /* the generation's, or NULL */
    float min_score;                  /* detect */
    sg_region_ask region, ref_region; /* crop= or face= of the sources, of the reference */
    int paste;                        /* the answer is the whole photo, the region put back */
    int n_regions;                    /* the squares translated (X-Faces) */
    sg_rect regions[SG_DET_MAX_FACES];
    sg_fit fit;
    float psi;
    int domain; /* translate, style, video: the target domain */
    int n_src;
    const uint8_t *src[SG_REQ_MAX_ROWS];
    size_t src_len[SG_REQ_MAX_ROWS];
    int n_cols;
    sg_style_src cols[SG_REQ_MAX_COLS];
    int frames, fps; /* video */
    int header;      /* grid: a first column of the sources (and a row of the references) */
    int seed_random; /* a seed was drawn by the server (reported in X-Seed) */
    sg_out_format format;
    int quality;
    int64_t max_pixels;
    int64_t decode_pixels; /* the photos' pixels, from their headers (work) */
    /* progress: grids and videos decode and fit one source a step, then a style a step, then a
     * frame or cell a step; translate and style are one step */
    int step, n_steps;
    sg_image fitted[SG_REQ_MAX_ROWS]; /* the sources as the network sees them (img_size²) */
    /* paste= on a grid or video: each source's decoded photo (every cell or frame is pasted into
     * a copy of it), and its region made ready once (encoded into enc[i]) */
    sg_image photos[SG_REQ_MAX_ROWS];
    sg_region_view views[SG_REQ_MAX_ROWS]; /* its square and the map back (net freed) */
    int64_t src_pixels[SG_REQ_MAX_ROWS];   /* each source's pixels, its header's (0: unknown) */
    int cell_w, cell_h; /* a grid's cells: img_size², or with paste the largest photo's size */
    sg_image canvas;    /* the grid */
    /* reuse (reuse.c): the cost cache (NULL: none), the generation the request started on, and
     * each source's encoding, made once for every cell or frame */
    sg_cache *cache;
    int gen_id;
    sg_held_encoded enc[SG_REQ_MAX_ROWS];
    int cache_hits[SG_CACHE_KINDS], cache_misses[SG_CACHE_KINDS];
    /* the decoded squares of units [ahead_from, ahead_from + ahead_n): one source's next cells or
     * frames, decoded as one batch (sg_engine_decode_styles) by the first of them */
    sg_image ahead[SG_ENGINE_MAX_STYLES];
    int ahead_from, ahead_n;
    struct sg_video *video; /* the video's writer (image/video.h) */
    /* results */
    sg_http_error error; /* status 0: success */
    uint8_t *out;
    size_t out_len;
    double stage_ms[SG_STAGE_COUNT];
} sg_request;

typedef struct sg_route_desc sg_route_desc;
struct sg_route_desc {
    const char *path;
    sg_route id;
    const sg_field_use *fields; /* NULL: a GET route without fields */
    const char *raw_field;      /* the field a raw image body stands for */
    sg_request_kind kind;
    /* fields → request (no heavy work); -1 with e set */
    int (*parse)(sg_request *r, const sg_fields *f, const char *accept,
                 const sg_request_limits *lim, sg_http_error *e);
};

/* The route of a path (exact match), or NULL. */
const sg_route_desc *sg_route_find(const char *path);
/* Every route with fields, for documentation and the tests. */
extern const sg_route_desc sg_routes[];
extern const int sg_n_routes;

/* Parses a request for route d from in (the model chosen among ms). */
int sg_request_parse(sg_request *r, const sg_route_desc *d, const sg_fields_input *in,
                     const char *accept, sg_srv_models *ms, const sg_request_limits *lim,
                     sg_http_error *e);
/* The request's size against --max-work: (generator and style-encoder runs) × img_size², plus
 * 1/128 of the decoded photos' pixels. */
int64_t sg_request_work(const sg_request *r);
/* One step on a worker: 1 when more steps remain, 0 when done (out or error set). */
int sg_request_step(sg_request *r, sg_run *run);
/* A plain translation (no region, no paste, not started): one that may run in a batch */
int sg_request_batchable(const sg_request *r);
/* The one step of n batchable requests of one model (1 ≤ n ≤ SG_ENGINE_MAX_STYLES) at once: each
 * one's style and encoding, then their decoders as one batch (sg_engine_decode_many), then each
 * answer; each gets the bytes and errors its own step would have given. */
void sg_request_step_batch(sg_request **rs, int n, sg_run *run);
void sg_request_free(sg_request *r);
/* The largest source's pixels from the headers (unknown: what a header that said nothing counts) */
int64_t sg_request_largest_source(const sg_request *r, int64_t unknown);

/* ---- reuse: what a photo costs, from the cost cache or made and stored (reuse.c) ------------
 * sq is the img_size² square the networks see (fitted or aligned). */
/* *h = sq's encoding (sg_engine_encode with SG_FIT_STRETCH: the bytes of translating sq). */
sg_status sg_reuse_encode(sg_request *r, sg_run *run, const sg_image *sq, sg_held_encoded *h,
                          sg_timing *t, sg_error *err);
const sg_encoded *sg_held_encoded_get(const sg_held_encoded *h);
void sg_held_encoded_release(sg_request *r, sg_held_encoded *h); /* zeroes *h */
/* The FAN's landmarks kept in the cost cache under the square it sees (the photo or region
 * stretched to img_size²), so the same photo or face again skips the FAN: a store for
 * sg_engine_align_kept and sg_region_view_make. */
sg_landmark_store sg_reuse_landmarks(sg_request *r);
/* aligned = photo aligned (sg_engine_align's bytes), its landmarks through sg_reuse_landmarks. */
sg_status sg_reuse_align(sg_request *r, sg_run *run, const sg_image *photo, sg_image *aligned,
                         sg_error *err);
/* s [style_dim] = the style code of reference square sq in domain. */
sg_status sg_reuse_style(sg_request *r, sg_run *run, const sg_image *sq, int domain, float *s,
                         sg_error *err);
const char *sg_request_content_type(const sg_request *r);
/* The answer's headers as "Name\0Value\0" pairs (complete, whatever their length). */
sg_status sg_request_headers(const sg_request *r, double total_ms, sg_buf *out);

/* ---- budget: the long-work budget (budget.c) --------------------------------------------------- */
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
void sg_work_stats(sg_work_budget *b, int64_t *used, int64_t *cap);

/* ---- answers ------------------------------------------------------------------------------------ */
/* An answer as it is sent: status, type, headers ("Name\0Value\0" pairs) and body. Built once, on
 * the worker, for a synchronous request and a job's result alike. */
typedef struct {
    int status;
    const char *content_type; /* static */
    sg_buf headers;
    uint8_t *body;
    size_t len;
} sg_answer;

void sg_answer_free(sg_answer *a);
/* {"error":{"code":...,"message":...}} with its status (503s: Retry-After). */
sg_status sg_answer_error(sg_answer *a, const sg_http_error *e);

/* ---- dispatch: admitted requests on the queue (dispatch.c) -------------------------------------- */
typedef enum {
    SG_EXEC_RUNNING = 0,
    SG_EXEC_DONE,        /* answered: success or the request's own error */
    SG_EXEC_EXPIRED,     /* waited past --timeout */
    SG_EXEC_STOPPING,    /* dropped at shutdown */
    SG_EXEC_CANCELLED,   /* DELETE /v1/jobs/ID */
    SG_EXEC_CLIENT_GONE, /* the client of a synchronous request hung up */
} sg_exec_outcome;

typedef struct sg_exec sg_exec;
typedef struct sg_server sg_server;

/* An admitted request: its parsed work, the upload it points into, the model generation it runs
 * on and the budget it holds, until its answer is handed over. */
struct sg_exec {
    sg_qitem item;
    sg_server *s;
    sg_request rq;
    sg_buf body;
    sg_srv_gen *gen;       /* a reference */
    int64_t work;          /* taken from the work budget */
    double t0;             /* arrival */
    int reserved, pushed;  /* a queue slot taken; handed to the queue */
    atomic_int cancel;     /* set by DELETE /v1/jobs/ID: no further step starts */
    atomic_int started;    /* a worker took it */
    atomic_int steps_done; /* progress, read by GET /v1/jobs/ID */
    int client_fd;         /* synchronous: the client's socket, looked at between steps (-1) */
    sg_exec_outcome outcome;
    sg_answer answer;
    /* called once on the thread that ends it, after answer is built: resumes the connection, or
     * stores the answer in the job; the exec may be freed from then on */
    void (*finished)(sg_exec *x);
    void *owner;
};

/* A new exec owning body (moved out of *body). */
sg_exec *sg_exec_new(sg_server *s, sg_buf *body);
/* Admits x (grids and videos: the work budget; then a queue slot): 0, or -1 with e set
 * (413/503). */
int sg_exec_admit(sg_exec *x, sg_http_error *e);
/* Queues an admitted exec (x->finished set). */
void sg_exec_push(sg_exec *x);
/* Releases what x still holds (a slot never used, the budget, the generation) and the memory. */
void sg_exec_free(sg_exec *x);

/* ---- jobs: Prefer: respond-async (jobs.c) ------------------------------------------------------ */
typedef enum {
    SG_JOB_QUEUED,
    SG_JOB_RUNNING,
    SG_JOB_DONE,
    SG_JOB_FAILED,
    SG_JOB_CANCELLED
} sg_job_state;

typedef struct sg_job sg_job;
typedef struct {
    pthread_mutex_t mu;
    sg_job *head;
    int n, max_jobs;
    int64_t bytes, max_bytes;
    double ttl_ms;
    uint64_t created, finished[SG_JOB_CANCELLED + 1], refused;
} sg_jobs;

typedef struct {
    int held, by_state[SG_JOB_CANCELLED + 1];
    int64_t bytes, max_bytes;
    uint64_t created, finished[SG_JOB_CANCELLED + 1], refused;
} sg_jobs_stats;

void sg_jobs_init(sg_jobs *j, int max_jobs, int64_t max_bytes, double ttl_s);
/* Frees every job (none may be running: after the queue stopped). */
void sg_jobs_free(sg_jobs *j);
/* A job for x (queued), owned by the key digest owner (NULL: no keys); its id (32 hex digits of
 * 128 random bits) into id. -1 with e set (503 + Retry-After) past --max-jobs or
 * --job-store-bytes. On success x->finished stores x's answer in the job. */
int sg_jobs_add(sg_jobs *j, sg_exec *x, const uint8_t *owner, char id[33], sg_http_error *e);
/* The job's state document {"id","state","progress":{"done","total"}[,"error"]} into out (and
 * whether its result is ready); 404 unless id exists and owner matches. */
int sg_jobs_status(sg_jobs *j, const char *id, const uint8_t *owner, sg_buf *out, sg_http_error *e);
/* A copy of the finished job's answer (the synchronous request's); 404 as above, 409 while it
 * runs or when it was cancelled. */
int sg_jobs_result(sg_jobs *j, const char *id, const uint8_t *owner, sg_answer *copy,
                   sg_http_error *e);
/* DELETE: a queued or running job is cancelled (1: the state document in out); a finished one is
 * removed (0). 404 as above (-1). */
int sg_jobs_delete(sg_jobs *j, const char *id, const uint8_t *owner, sg_buf *out, sg_http_error *e);
/* Drops finished jobs older than the TTL; then the counts. */
void sg_jobs_stats_get(sg_jobs *j, sg_jobs_stats *st);

/* ---- keys: API keys (keys.c, sha256.c) ---------------------------------------------------------- */
void sg_sha256(const void *data, size_t len, uint8_t out[32]);

/* ---- metrics: every counter and gauge, one rendering (metrics.c) -------------------------------- */
#define SG_HIST_BUCKETS 15

typedef struct {
    uint64_t counts[SG_HIST_BUCKETS + 1]; /* last: +Inf */
    uint64_t n;
    double sum_s;
} sg_hist;

typedef enum {
    SG_COUNT_REJECTED,        /* 503: workers and queue full, or the work budget */
    SG_COUNT_EXPIRED,         /* 503 after --timeout */
    SG_COUNT_UPLOADS_REFUSED, /* 503: every upload slot taken */
    SG_COUNT_RELOADS_OK,
    SG_COUNT_RELOADS_FAILED,
    SG_COUNT_CLIENT_GONE, /* work stopped because its client left */
    SG_COUNT_N
} sg_counter;

typedef struct {
    pthread_mutex_t mu;
    uint64_t requests[SG_ROUTE_COUNT][600]; /* by HTTP status */
    sg_hist route_latency[SG_ROUTE_COUNT];
    sg_hist stage_latency[SG_STAGE_COUNT];
    uint64_t counters[SG_COUNT_N];
    uint64_t batches[SG_QUEUE_MAX_BATCH + 1]; /* translation batches by size (index 1 ..) */
    double started_s;
} sg_metrics;

/* The gauges, read from each module's own stats call when /metrics is asked for. */
typedef struct {
    int queue_waiting, running, admitted, capacity, workers, ready;
    int connections, uploads;
    long dropped_headers, dropped_body;
    int64_t work_used, work_cap;
    sg_jobs_stats jobs;
    sg_cache_stats cache[SG_CACHE_KINDS];
    size_t cache_bytes, cache_cap;
    const char *model_info; /* stargan_model_info sample lines, or NULL */
} sg_metrics_gauges;

extern const char *const sg_route_names[SG_ROUTE_COUNT];
extern const char *const sg_stage_names[SG_STAGE_COUNT];

void sg_metrics_init(sg_metrics *m);
void sg_metrics_free(sg_metrics *m);
void sg_metrics_request(sg_metrics *m, sg_route r, int status, double ms);
void sg_metrics_stage(sg_metrics *m, sg_stage s, double ms);
void sg_metrics_count(sg_metrics *m, sg_counter c);
/* A batch of n translations run together by one worker (1: alone) */
void sg_metrics_batch(sg_metrics *m, int n);
/* Prometheus text exposition (0.0.4) of every counter and gauge into out. */
sg_status sg_metrics_render(sg_metrics *m, const sg_metrics_gauges *g, sg_buf *out);

/* ---- log: the access log (log.c) ----------------------------------------------------------------- */
typedef struct {
    double start_ms; /* sg_now_ms at arrival */
    const char *id, *method, *path, *model, *domain;
    int status;
    uint64_t bytes;
} sg_access;

/* One line: time id method path status bytes ms model domain (logfmt, single write). */
void sg_log_access(const sg_access *a);
/* logfmt value: bare when safe, else quoted with escapes. */
void sg_log_value(sg_buf *b, const char *v);

/* ---- listen (listen.c) ----------------------------------------------------------------------------- */
/* "host:port" or ":port" or "port" → address (IPv4 or [IPv6]). */
sg_status sg_srv_parse_listen(const char *listen, struct sockaddr_storage *sa, unsigned *salen,
                              sg_error *err);
/* A listening socket on listen (bound and listening; its URL as bound, e.g. the port the kernel
 * picked for port 0). Errors name the address and the reason. */
sg_status sg_srv_listen(const char *listen, int *fd, int *v6, char *url, size_t url_cap,
                        sg_error *err);

/* ---- the server (lifecycle.c, http.c) ---------------------------------------------------------- */
struct sg_server {
    sg_srv_config cfg;
    struct MHD_Daemon *d;
    /* the current generation of models (guarded by gen_mu; each request holds the one it started
     * on) */
    pthread_mutex_t gen_mu;
    sg_srv_gen *gen;
    sg_queue queue;
    int queue_ok;
    sg_metrics metrics;
    sg_keys keys;
    sg_watchdog wd; /* deadlines for slow clients */
    int wd_ok;
    sg_work_budget work; /* long requests */
    sg_jobs jobs;
    sg_cache *cache; /* what photos cost (--cache-bytes; off at 0) */
    atomic_int ready, stopping, draining;
    atomic_ulong next_id;
    uint32_t id_prefix;
    pthread_mutex_t mu;  /* guards active */
    pthread_cond_t idle; /* signalled when active drops to 0 */
    int active;          /* synchronous requests handed to the queue and not yet completed by MHD */
};

/* The current generation, with a reference for the caller. */
sg_srv_gen *sg_server_gen(sg_server *s);
/* Synchronous requests in the queue: counted so a stop waits for their answers to be sent. */
void sg_server_active_add(sg_server *s, int d);
/* Every counter and gauge now (for /metrics). */
void sg_server_gauges(sg_server *s, sg_metrics_gauges *g, sg_srv_gen **gen);
/* Starts libmicrohttpd on the listening socket fd (http.c). */
sg_status sg_http_start(sg_server *s, int fd, int v6, sg_error *err);

#endif
