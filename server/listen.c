/* The listening socket, bound and listening here rather than in libmicrohttpd: a failure then
 * names the address asked for and the reason ("127.0.0.1:9012: Address already in use"; MHD's
 * own message says "port 0" whenever it is handed a socket address), and the address logged is
 * the one bound (the port the kernel picked for port 0). MHD owns the socket once it starts. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

sg_status sg_srv_parse_listen(const char *listen, struct sockaddr_storage *sa, unsigned *salen,
                              sg_error *err) {
    char host[256] = "", port[16] = "";
    const char *colon = strrchr(listen, ':');
    if (listen[0] == '[') { /* [v6]:port */
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof host)
            return sg_error_set(err, SG_ERR_ARG, "--listen '%s': expected [ADDR]:PORT", listen);
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        snprintf(port, sizeof port, "%s", end + 2);
    } else if (colon) {
        if ((size_t)(colon - listen) >= sizeof host)
            return sg_error_set(err, SG_ERR_ARG, "--listen: host too long");
        memcpy(host, listen, (size_t)(colon - listen));
        snprintf(port, sizeof port, "%s", colon + 1);
    } else {
        snprintf(port, sizeof port, "%s", listen);
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return sg_error_set(err, SG_ERR_ARG, "--listen '%s': bad port", listen);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (rc || !res)
        return sg_error_set(err, SG_ERR_ARG, "--listen '%s': %s", listen, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *salen = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return SG_OK;
}

static sg_status bind_listen(const char *listen_arg, const struct sockaddr_storage *sa,
                             unsigned salen, int *fd_out, char *url, size_t url_cap,
                             sg_error *err) {
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0)
        return sg_error_set(err, SG_ERR_IO, "cannot listen on %s: %s", listen_arg, strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->ss_family == AF_INET6) /* as MHD does without MHD_USE_DUAL_STACK */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (bind(fd, (const struct sockaddr *)sa, salen) || listen(fd, SOMAXCONN) ||
        getsockname(fd, (struct sockaddr *)&got, &gl)) {
        int e = errno;
        close(fd);
        return sg_error_set(err, SG_ERR_IO, "cannot listen on %s: %s", listen_arg, strerror(e));
    }
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (got.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&got;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
        port = ntohs(a6->sin6_port);
        snprintf(url, url_cap, "http://[%s]:%u/", host, port);
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&got;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
        port = ntohs(a4->sin_port);
        snprintf(url, url_cap, "http://%s:%u/", host, port);
    }
    *fd_out = fd;
    return SG_OK;
}

sg_status sg_srv_listen(const char *listen, int *fd, int *v6, char *url, size_t url_cap,
                        sg_error *err) {
    struct sockaddr_storage sa;
    unsigned salen;
    sg_status st = sg_srv_parse_listen(listen, &sa, &salen, err);
    if (st) return st;
    *v6 = sa.ss_family == AF_INET6;
    return bind_listen(listen, &sa, salen, fd, url, url_cap, err);
}
