/* Photo folders for the many-photo commands: listing photos and subfolders, making output
 * folders (photo_dirs.h). */
#include "photo_dirs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
