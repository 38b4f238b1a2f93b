/* cli/progress: a progress bar for the many-photo commands (sample, batch translate). */
#ifndef SG_CLI_PROGRESS_H
#define SG_CLI_PROGRESS_H
#include "cli.h"

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
