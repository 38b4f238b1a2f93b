/* cli/tools: what the many-photo commands (sample, batch translate) share: listing photos and
 * domain folders, creating output folders, a domain lookup whose error lists the model's domains,
 * and a progress bar. */
#ifndef SG_CLI_TOOLS_H
#define SG_CLI_TOOLS_H
#include "cli.h"

/* A list of malloc'd paths. */
typedef struct {
    char **items;
    int n, cap;
} cli_list;
sg_status cli_list_add(cli_list *l, const char *s, sg_error *err);
void cli_list_free(cli_list *l);

/* The photos directly in dir (.png, .jpg, .jpeg, any case; hidden files skipped), as "dir/name",
 * sorted by name (bytewise). Appended to l. With dirs non-NULL, the subfolders (not hidden) go
 * there, by name alone. */
sg_status cli_list_dir(const char *dir, cli_list *photos, cli_list *dirs, sg_error *err);
/* mkdir -p */
sg_status cli_mkdirs(const char *path, sg_error *err);
/* "dir/name" into a malloc'd string, or NULL */
char *cli_join(const char *dir, const char *name);

/* The domain called name (or numbered): *y. Else SG_ERR_ARG "unknown domain 'x' (this model's
 * domains: cat, dog, wild)". what, when not NULL, prefixes the message (e.g. a folder). */
sg_status cli_domain(const sg_config *cfg, const char *name, const char *what, int *y,
                     sg_error *err);

/* A progress bar on stderr when it is a terminal, nothing otherwise (a log stays clean). */
typedef struct {
    int tty;
    long done, total;
    double t0, shown;
    char what[48];
} cli_progress;
void cli_progress_start(cli_progress *p, long total);
/* n more units done, working on `what` (may be NULL: unchanged) */
void cli_progress_step(cli_progress *p, long n, const char *what);
/* prints a line above the bar (the bar is redrawn under it) */
void cli_progress_note(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_progress_end(cli_progress *p);
#endif
