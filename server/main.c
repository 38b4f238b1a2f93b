/* stargan-server: configuration, signals, and the lifecycle. Signals arrive as events from a
 * pipe (signals.c), so reloads and shutdown run as ordinary code on this thread, and a signal
 * that arrives during a reload is acted on once the reload has finished. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

/* The default probe URL: /healthz on --listen, with a wildcard address replaced by loopback. */
static void probe_url(const sg_srv_config *c, char *url, size_t cap) {
    const char *colon = strrchr(c->listen, ':');
    const char *port = colon ? colon + 1 : c->listen;
    int v6 = c->listen[0] == '[';
    char host[256] = "127.0.0.1";
    if (colon && colon != c->listen) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - c->listen), c->listen);
        if (!strcmp(host, "0.0.0.0") || !strcmp(host, "[::]"))
            snprintf(host, sizeof host, v6 ? "[::1]" : "127.0.0.1");
    }
    snprintf(url, cap, "http://%s:%s/healthz", host, port);
}

static int healthcheck(const sg_srv_config *c) {
    char url[600], why[600] = "";
    if (strcmp(c->healthcheck, "default")) snprintf(url, sizeof url, "%s", c->healthcheck);
    else probe_url(c, url, sizeof url);
    int rc = sg_healthcheck(url, 3.0, why, sizeof why);
    if (rc) fprintf(stderr, "stargan-server: unhealthy: %s\n", why);
    return rc;
}

/* SIGTERM: not ready but still serving for --drain-delay, so a balancer that polls /readyz (or a
 * Kubernetes endpoint update) stops sending work here before the listening socket closes. A
 * second SIGTERM or a SIGINT ends the wait early; a SIGHUP meanwhile is ignored (stopping). */
static void drain(sg_server *s, const sg_srv_config *c) {
    if (c->drain_delay_s <= 0) return;
    sg_server_drain(s);
    double end = sg_now_ms() + c->drain_delay_s * 1000.0;
    for (double left; (left = end - sg_now_ms()) > 0;) {
        int sig = sg_signals_wait(left);
        if (sig & (SG_SIG_TERM | SG_SIG_INT)) {
            sg_log_msg("info", "received %s: draining cut short",
                       sig & SG_SIG_TERM ? "SIGTERM" : "SIGINT");
            return;
        }
    }
}

/* Serves until SIGTERM or SIGINT. SIGHUP reloads the model files (the server keeps serving, and
 * keeps its models when the new files do not load); HUPs that arrive during a reload make one
 * more reload after it; a TERM during a reload is acted on once the reload has finished. */
static int serve(sg_server *s) {
    for (;;) {
        int sig = sg_signals_wait(-1);
        if (sig & (SG_SIG_TERM | SG_SIG_INT)) return sig;
        if (sig & SG_SIG_HUP) {
            sg_error err = {0};
            sg_log_msg("info", "received SIGHUP");
            sg_server_reload(s, &err);
        }
    }
}

int main(int argc, char **argv) {
    sg_srv_config cfg;
    sg_error err = {0};
    if (sg_signals_install(&err)) { /* first: no signal may meet a default action from here on */
        fprintf(stderr, "stargan-server: %s\n", err.msg);
        return 2;
    }
    if (sg_srv_config_load(&cfg, argc, argv, &err)) {
        fprintf(stderr, "stargan-server: %s\n", err.msg);
        return 2;
    }
    if (cfg.help) {
        sg_srv_config_usage(stdout);
        return 0;
    }
    if (cfg.healthcheck[0]) return healthcheck(&cfg);
    if (sg_log_open(cfg.access_log, &err)) {
        fprintf(stderr, "stargan-server: %s\n", err.msg);
        return 2;
    }
    /* our threads (started below) keep these blocked, so they are not woken by them (EINTR);
     * this thread takes them once it serves: a signal meanwhile is handled then */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP), sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sg_server *s = NULL;
    int rc = 0;
    if (sg_server_start(&s, &cfg, &err) || sg_server_load(s, &err)) {
        sg_log_msg("error", "%s", err.msg);
        rc = 1;
    } else {
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        int sig = serve(s);
        sg_log_msg("info", "received %s", sig & SG_SIG_TERM ? "SIGTERM" : "SIGINT");
        if (sig & SG_SIG_TERM) drain(s, &cfg); /* SIGINT (Ctrl-C) stops without the delay */
    }
    sg_server_free(s);
    sg_log_close();
    return rc;
}
