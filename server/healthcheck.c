/* `stargan-server --healthcheck [URL]`: a minimal HTTP/1.0 GET, so the container image needs no
 * curl for its HEALTHCHECK. Plain http only; every step is bounded by the timeout. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* http://host[:port][/path] → host, port, path */
static int split_url(const char *url, char *host, size_t hcap, char *port, size_t pcap, char *path,
                     size_t cap) {
    if (strncmp(url, "http://", 7)) return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    snprintf(path, cap, "%s", slash ? slash : "/");
    const char *colon = NULL;
    if (h[0] == '[') { /* [v6]:port */
        const char *end = memchr(h, ']', hl);
        if (!end) return -1;
        if ((size_t)(end - h - 1) >= hcap) return -1;
        snprintf(host, hcap, "%.*s", (int)(end - h - 1), h + 1);
        colon = end + 1 < h + hl && end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = memchr(h, ':', hl);
        size_t n = colon ? (size_t)(colon - h) : hl;
        if (n >= hcap) return -1;
        snprintf(host, hcap, "%.*s", (int)n, h);
    }
    if (colon) snprintf(port, pcap, "%.*s", (int)(h + hl - colon - 1), colon + 1);
    else snprintf(port, pcap, "80");
    return host[0] ? 0 : -1;
}

static int wait_fd(int fd, short ev, double deadline_ms) {
    int left = (int)(deadline_ms - sg_now_ms());
    if (left <= 0) return -1;
    struct pollfd p = {fd, ev, 0};
    return poll(&p, 1, left) == 1 ? 0 : -1;
}

static int connect_to(const char *host, const char *port, double deadline, char *why, size_t cap) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(why, cap, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (fd >= 0 && (wait_fd(fd, POLLOUT, deadline) ||
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) snprintf(why, cap, "cannot connect to %s:%s", host, port);
    return fd;
}

int sg_healthcheck(const char *url, double timeout_s, char *why, size_t cap) {
    char host[256], port[16], path[512], req[1024], resp[256];
    if (split_url(url, host, sizeof host, port, sizeof port, path, sizeof path)) {
        snprintf(why, cap, "bad URL '%s' (http://HOST:PORT/PATH)", url);
        return 1;
    }
    double deadline = sg_now_ms() + timeout_s * 1000;
    int fd = connect_to(host, port, deadline, why, cap);
    if (fd < 0) return 1;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, host);
    size_t got = 0;
    int ok = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
    while (ok && got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
        if (wait_fd(fd, POLLIN, deadline)) break;
        ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    resp[got] = 0;
    int code = 0;
    if (sscanf(resp, "HTTP/%*d.%*d %d", &code) != 1) {
        snprintf(why, cap, "no HTTP answer from %s", url);
        return 1;
    }
    if (code != 200) {
        snprintf(why, cap, "%s answered %d", url, code);
        return 1;
    }
    return 0;
}
