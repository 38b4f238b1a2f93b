/* Signals as events. Blocking signals in our threads is not enough: a library may start threads
 * before main() runs (OpenBLAS does, in its constructor) with every signal unblocked, and the
 * kernel may deliver a process signal to any thread that does not block it, where the default
 * action of SIGHUP or SIGTERM ends the process. So each signal gets a real handler (process-wide,
 * whichever thread runs it) that only records the signal and writes a byte to a pipe; the main
 * thread waits on the pipe. A signal that arrives while the main thread is busy (a reload) waits
 * there until it is read. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int pipe_fd[2] = {-1, -1};
/* lock-free atomics are async-signal-safe: a handler on any thread sets bits, the main thread
 * takes them all at once */
static atomic_int pending;

static void on_signal(int sig) {
    int saved = errno;
    atomic_fetch_or(&pending, sig == SIGHUP    ? SG_SIG_HUP
                              : sig == SIGTERM ? SG_SIG_TERM
                                               : SG_SIG_INT);
    ssize_t r = write(pipe_fd[1], "s", 1); /* a full pipe already holds a wake-up */
    (void)r;
    errno = saved;
}

sg_status sg_signals_install(sg_error *err) {
    if (pipe_fd[0] < 0 && pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK))
        return sg_error_set(err, SG_ERR_IO, "cannot make the signal pipe: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask); /* one handler at a time */
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a write to a closed socket is an error, not a death */
    return SG_OK;
}

int sg_signals_wait(double timeout_ms) {
    struct pollfd p = {.fd = pipe_fd[0], .events = POLLIN};
    if (!pending) poll(&p, 1, timeout_ms < 0 ? -1 : (int)(timeout_ms + 0.999));
    char buf[64];
    while (read(pipe_fd[0], buf, sizeof buf) > 0) {}
    /* take the bits with the signals blocked so none set between the read and the reset is lost */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int bits = pending;
    pending = 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return bits;
}
