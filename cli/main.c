/* stargan: translate photos with a StarGAN v2 model, describe, test and benchmark models. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"translate", cmd_translate, "translate a photo to a domain (reference- or latent-guided)"},
    {"sample", cmd_sample, "reference and latent grids and style videos over folders of photos"},
    {"info", cmd_info, "describe a model: configuration, domains, parameters, GFLOPs"},
    {"selftest", cmd_selftest, "check the networks against a parity fixture"},
    {"bench", cmd_bench, "time each network and the machine's sgemm"},
    {"make-model", cmd_make_model, "write a model file with deterministic spec-v1 weights"},
    {"convert", cmd_convert,
     "convert a release checkpoint (.ckpt) or the face detector to a safetensors model file"},
    {"detect", cmd_detect, "find the faces of a photo (boxes and scores as JSON)"},
    {"align", cmd_align, "align a face photo onto the CelebA-HQ framing (FAN or given landmarks)"},
};

/* The table's defaults as they were before parsing overwrote them, for cli_usage (one command
 * parses once per process). */
#define MAX_OPTS 64
static const char *command = "";
static const cli_opt *parsed_table;
static const char *defaults[MAX_OPTS];

int cli_parse(int argc, char **argv, cli_opt *opts, const char **pos, int max_pos, int *n_pos) {
    *n_pos = 0;
    parsed_table = opts;
    for (int k = 0; k < MAX_OPTS && opts[k].name; k++) defaults[k] = opts[k].value;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            if (*n_pos >= max_pos) {
                fprintf(stderr, "stargan %s: unexpected argument '%s'\n", command, argv[i]);
                return -1;
            }
            pos[(*n_pos)++] = argv[i];
            continue;
        }
        cli_opt *o = opts;
        while (o->name && strcmp(o->name, argv[i]) != 0) o++;
        if (!o->name) {
            fprintf(stderr, "stargan %s: unknown option '%s'\n", command, argv[i]);
            return -1;
        }
        if (!o->arg) {
            o->value = "1";
        } else if (i + 1 >= argc) {
            fprintf(stderr, "stargan %s: option %s needs a value (%s)\n", command, o->name, o->arg);
            return -1;
        } else {
            o->value = argv[++i];
        }
    }
    return 0;
}

const char *cli_get(const cli_opt *opts, const char *name) {
    for (; opts->name; opts++)
        if (strcmp(opts->name, name) == 0) return opts->value;
    return NULL;
}

void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts) {
    printf("usage: stargan %s %s\n", cmd, synopsis);
    for (int k = 0; opts->name; opts++, k++) {
        const char *def = opts == parsed_table + k && k < MAX_OPTS ? defaults[k] : opts->value;
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", opts->name, opts->arg ? " " : "",
                 opts->arg ? opts->arg : "");
        printf("  %-22s %s%s%s%s\n", head, opts->help, def ? " (default " : "", def ? def : "",
               def ? ")" : "");
    }
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "stargan %s: ", cmd);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fprintf(stderr, "Run 'stargan %s --help' for its options.\n", cmd);
    return 2;
}

int cli_fail(const sg_error *err) {
    fprintf(stderr, "stargan: %s\n", err->msg[0] ? err->msg : sg_status_name(err->status));
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: stargan COMMAND [options]   (stargan COMMAND --help for its options)\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) { /* what is wrong, then the commands (the pointer would only say --help) */
        fprintf(stderr, "stargan: no command given\n");
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            command = commands[i].name;
            return commands[i].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "stargan: unknown command '%s'\nRun 'stargan --help' for the commands.\n",
            argv[1]);
    return 2;
}
