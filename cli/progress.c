/* A progress bar on stderr for the many-photo commands (progress.h). */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void draw(cli_progress *p) {
    const int width = 24;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1) frac = 1;
    char bar[32];
    int full = (int)(frac * width + 0.5);
    for (int i = 0; i < width; i++) bar[i] = i < full ? '#' : '.';
    bar[width] = 0;
    double el = (sg_now_ms() - p->t0) / 1000.0;
    char left[32] = "";
    if (p->done > 0 && p->done < p->total) {
        long s = (long)(el * (double)(p->total - p->done) / (double)p->done + 0.5);
        snprintf(left, sizeof left, "  %ld:%02ld left", s / 60, s % 60);
    }
    fprintf(stderr, "\r\033[K[%s] %3d%%  %ld/%ld  %s%s", bar, (int)(frac * 100), p->done, p->total,
            p->what, left);
    fflush(stderr);
}

void cli_progress_start(cli_progress *p, long total) {
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO);
    p->total = total;
    p->t0 = sg_now_ms();
    if (p->tty) draw(p);
}

void cli_progress_step(cli_progress *p, long n, const char *what) {
    p->done += n;
    if (what) snprintf(p->what, sizeof p->what, "%s", what);
    if (!p->tty) return;
    double now = sg_now_ms();
    if (now - p->shown < 100 && p->done < p->total) return; /* redraw 10 times a second */
    p->shown = now;
    draw(p);
}

void cli_progress_note(cli_progress *p, const char *fmt, ...) {
    if (p->tty) fprintf(stderr, "\r\033[K");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (p->tty) draw(p);
}

void cli_progress_end(cli_progress *p) {
    if (p->tty) fprintf(stderr, "\r\033[K");
    fflush(stderr);
}
