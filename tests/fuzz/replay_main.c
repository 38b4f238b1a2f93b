/* Replays every file of the folders (or files) given on the command line through
 * LLVMFuzzerTestOneInput, plus truncations and single-bit flips of each, so a build without
 * libFuzzer still checks that no seed input or simple mutation crashes a parser. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (64 << 20)) {
        fclose(f);
        return 0;
    }
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return 0;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    /* truncations at a few points */
    for (int k = 1; k <= 8; k++) LLVMFuzzerTestOneInput(buf, (size_t)n * (size_t)k / 9);
    /* bit flips spread over the file (at most 256 per file) */
    size_t step = n > 256 ? (size_t)n / 256 : 1;
    for (size_t i = 0; i < (size_t)n; i += step) {
        uint8_t *m = malloc((size_t)n);
        memcpy(m, buf, (size_t)n);
        m[i] ^= (uint8_t)(1u << (i % 8));
        LLVMFuzzerTestOneInput(m, (size_t)n);
        free(m);
    }
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int files = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[a]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
                files += run_file(p);
            }
            if (d) closedir(d);
        } else {
            files += run_file(argv[a]);
        }
    }
    printf("replayed %d seed files (with truncations and bit flips)\n", files);
    return files > 0 ? 0 : 1;
}
