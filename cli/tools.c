/* Helpers of the many-photo commands: listings, folders, domains, progress bar (tools.h). */
#include "tools.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sg_status cli_list_add(cli_list *l, const char *s, sg_error *err) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        l->items = items, l->cap = cap;
    }
    if (!(l->items[l->n] = strdup(s))) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    l->n++;
    return SG_OK;
}

void cli_list_free(cli_list *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL, l->n = l->cap = 0;
}

char *cli_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, *dir && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sg_status cli_list_dir(const char *dir, cli_list *photos, cli_list *dirs, sg_error *err) {
    DIR *d = opendir(dir);
    if (!d) return sg_error_set(err, SG_ERR_IO, "cannot open folder %s: %s", dir, strerror(errno));
    cli_list names = {0}, subs = {0};
    sg_status st = SG_OK;
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = cli_join(dir, de->d_name);
        struct stat sb;
        if (!p) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        else if (stat(p, &sb)) st = SG_OK; /* a dangling link: not a photo */
        else if (S_ISDIR(sb.st_mode)) st = cli_list_add(&subs, de->d_name, err);
        else if (S_ISREG(sb.st_mode) && sg_image_format_from_path(p) != SG_FORMAT_UNKNOWN)
            st = cli_list_add(&names, p, err);
        free(p);
    }
    closedir(d);
    if (names.n) qsort(names.items, (size_t)names.n, sizeof *names.items, cmp_str);
    if (subs.n) qsort(subs.items, (size_t)subs.n, sizeof *subs.items, cmp_str);
    for (int i = 0; !st && i < names.n; i++) st = cli_list_add(photos, names.items[i], err);
    for (int i = 0; !st && dirs && i < subs.n; i++) st = cli_list_add(dirs, subs.items[i], err);
    cli_list_free(&names), cli_list_free(&subs);
    return st;
}

sg_status cli_mkdirs(const char *path, sg_error *err) {
    char *p = strdup(path);
    if (!p) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = 0;
        struct stat sb;
        if (mkdir(p, 0777) && errno != EEXIST) {
            sg_status st =
                sg_error_set(err, SG_ERR_IO, "cannot create folder %s: %s", p, strerror(errno));
            free(p);
            return st;
        }
        if (stat(p, &sb) || !S_ISDIR(sb.st_mode)) {
            sg_status st = sg_error_set(err, SG_ERR_IO, "%s is not a folder", p);
            free(p);
            return st;
        }
        if (!c) break;
        *s = c;
    }
    free(p);
    return SG_OK;
}

sg_status cli_domain(const sg_config *cfg, const char *name, const char *what, int *y,
                     sg_error *err) {
    *y = sg_config_domain(cfg, name);
    if (*y >= 0) return SG_OK;
    char list[512] = "";
    size_t off = 0;
    for (int i = 0; i < cfg->num_domains && off < sizeof list - 40; i++)
        off +=
            (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", cfg->domains[i]);
    if (off >= sizeof list - 40) snprintf(list + off, sizeof list - off, ", ...");
    return sg_error_set(err, SG_ERR_ARG, "%s%sunknown domain '%s' (this model's domains: %s)",
                        what ? what : "", what ? ": " : "", name, list);
}

/* ---- progress bar ------------------------------------------------------------------------- */

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
