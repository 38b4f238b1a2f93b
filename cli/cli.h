/* cli/: the `stargan` command. Each subcommand declares its options in a table; one parser
 * fills them and prints the usage from the same table. */
#ifndef SG_CLI_H
#define SG_CLI_H

#include "../engine/engine.h"

typedef struct {
    const char *name; /* "--model" */
    const char *arg;  /* placeholder for usage ("M"), NULL for a flag */
    const char *help;
    const char *value; /* filled by the parser (flag: "1"); default before parsing */
} cli_opt;

/* Parses argv into opts; positional arguments (up to max_pos) into pos. Prints one line
 * ("stargan CMD: unknown option '--x'") and returns -1 on unknown options or missing values. */
int cli_parse(int argc, char **argv, cli_opt *opts, const char **pos, int max_pos, int *n_pos);
const char *cli_get(const cli_opt *opts, const char *name);
/* The full help of a command, from its option table, on stdout (for --help). */
void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts);
/* A usage error: "stargan CMD: <what is wrong>" (fmt NULL: that line was printed already), then
 * a pointer to --help, on stderr; returns 2 (the exit status of a usage error). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* prints "stargan: <msg>" to stderr and returns 1 (the exit status of a failed command) */
int cli_fail(const sg_error *err);

int cmd_translate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_make_model(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_align(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_detect(int argc, char **argv);

#endif
