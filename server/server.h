/* server/: `stargan-server`, the HTTP service over the engine. This header is what main.c needs:
 * the configuration, the server's lifecycle, the daemon log and signals, the container probe.
 * Everything else is internal to server/ (internal.h). Library code returns errors; only main.c
 * decides an exit status. */
#ifndef SG_SERVER_H
#define SG_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "../engine/engine.h"

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
    char detector[SG_SRV_PATH]; /* "": models/detector.safetensors when present; "none" */
    char mean[SG_SRV_PATH];     /* mean landmarks for fit=align */
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
    char healthcheck[512];   /* --healthcheck [URL]: probe and exit */
    char precision[8];       /* "fp32" or "bf16" (checked at load) */
    double job_ttl_s;        /* a finished job's result is kept this long */
    int max_jobs;            /* jobs held at once (queued, running or finished) */
    int64_t job_store_bytes; /* bytes the jobs' uploads and results may hold */
    int64_t cache_bytes;     /* the cost cache's bound (0: off) */
    int max_batch;           /* translations a worker takes and runs as one batch (1: none) */
    int batch_wait_ms;       /* how long a worker waits for a batch to fill (0: not at all) */
} sg_srv_config;

/* Defaults, then STARGAN_* environment variables, then argv (flags win). Errors name the flag
 * or variable. argv[0] is skipped. */
sg_status sg_srv_config_load(sg_srv_config *c, int argc, char **argv, sg_error *err);
void sg_srv_config_usage(FILE *f);
/* "16M" → 16 MiB (K/M/G binary), "40M" pixels → 40·10⁶ (decimal) */
sg_status sg_srv_parse_size(const char *s, int binary, int64_t *out);

/* ---- the server's lifecycle (lifecycle.c) ----------------------------------------------------- */
typedef struct sg_server sg_server;

/* Binds the listen address and starts serving (health routes answer at once; the rest say 503
 * until the models are loaded). */
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
/* Graceful stop: stop accepting, finish in-flight and queued work within the grace time (jobs
 * included: what has not finished by then is cancelled). */
void sg_server_stop(sg_server *s);
void sg_server_free(sg_server *s);

/* ---- signals (signals.c) ----------------------------------------------------------------------
 * Real handlers for SIGTERM, SIGINT and SIGHUP that only note the signal and wake the main
 * thread through a pipe: whichever thread the kernel picks (ours, or one a library started
 * before main), no signal can take its default action and end the process. SIGPIPE is ignored
 * process-wide. */
typedef enum { SG_SIG_HUP = 1, SG_SIG_TERM = 2, SG_SIG_INT = 4 } sg_signal_bits;

sg_status sg_signals_install(sg_error *err);
/* Waits up to timeout_ms (< 0: forever) for signals; returns the bits of those that arrived
 * since the last call (several HUPs are one bit: one reload), 0 on timeout. */
int sg_signals_wait(double timeout_ms);

/* ---- log (log.c) ------------------------------------------------------------------------------- */
/* target: "-" (stdout), "off", or a file appended to. */
sg_status sg_log_open(const char *target, sg_error *err);
void sg_log_close(void);
/* Daemon messages to stderr with a timestamp and level. */
void sg_log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- healthcheck -------------------------------------------------------------------------------- */
/* GET url (http://host:port/path) with a short timeout: 0 when it answers 200. */
int sg_healthcheck(const char *url, double timeout_s, char *why, size_t cap);

#endif
