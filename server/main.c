/* stargan-server: configuration, signals, and the lifecycle. Signals are blocked in every thread
 * and taken synchronously here with sigwait, so shutdown runs as ordinary code. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
 * second SIGTERM or a SIGINT ends the wait early. */
static void drain(sg_server *s, const sg_srv_config *c, const sigset_t *set) {
    if (c->drain_delay_s <= 0) return;
    sg_server_drain(s);
    double end = sg_now_ms() + c->drain_delay_s * 1000.0;
    for (double left; (left = end - sg_now_ms()) > 0;) {
        struct timespec ts = {(time_t)(left / 1000.0), (long)(fmod(left, 1000.0) * 1e6)};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            sg_log_msg("info", "received %s: draining cut short",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
    }
}

/* SIGHUP: reload the model files; the server keeps serving throughout, and keeps its current
 * models when the new files do not load (sg_server_reload logs either way). */
static void on_sighup(sg_server *s) {
    sg_error err = {0};
    sg_log_msg("info", "received SIGHUP");
    sg_server_reload(s, &err);
}

int main(int argc, char **argv) {
    sg_srv_config cfg;
    sg_error err = {0};
    if (sg_srv_config_load(&cfg, argc, argv, &err)) {
        fprintf(stderr, "stargan-server: %s\n", err.msg);
        return 2;
    }
    if (cfg.help) {
        sg_srv_config_usage(stdout);
        return 0;
    }
    if (cfg.healthcheck[0]) return healthcheck(&cfg);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started below */
    if (sg_log_open(cfg.access_log, &err)) {
        fprintf(stderr, "stargan-server: %s\n", err.msg);
        return 2;
    }
    sg_server *s = NULL;
    int rc = 0;
    if (sg_server_start(&s, &cfg, &err) || sg_server_load(s, &err)) {
        sg_log_msg("error", "%s", err.msg);
        rc = 1;
    } else {
        sigdelset(&set, SIGPIPE);
        int sig = 0;
        while (sigwait(&set, &sig) == 0 && sig == SIGHUP) on_sighup(s);
        sg_log_msg("info", "received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        if (sig == SIGTERM) drain(s, &cfg, &set); /* SIGINT (Ctrl-C) stops without the delay */
    }
    sg_server_free(s);
    sg_log_close();
    return rc;
}
