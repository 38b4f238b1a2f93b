/* API keys. The file's keys are kept only as SHA-256 digests; a presented token is hashed once
 * and compared with every digest in constant time, so checking it costs the same whatever the
 * token (its length included: one longer than the longest key is refused before any hashing)
 * and whichever key it matches. 65,536 keys cost about 2 MB of comparisons: well under a
 * millisecond, on the HTTP thread. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define MAX_KEYS    65536
#define MAX_KEY_LEN 4096

static sg_status add_key(sg_keys *k, const char *p, size_t n, int *cap) {
    if (k->n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        uint8_t(*d)[32] = realloc(k->digest, (size_t)c * sizeof *d);
        if (!d) return SG_ERR_NOMEM;
        k->digest = d, *cap = c;
    }
    sg_sha256(p, n, k->digest[k->n++]);
    if (n > k->longest) k->longest = n;
    return SG_OK;
}

/* One key a line, any length up to MAX_KEY_LEN (read whole: a long line is one key, never two);
 * every key is kept (up to MAX_KEYS, past which the file is refused rather than cut short). */
sg_status sg_keys_load(sg_keys *k, const char *path, sg_error *err) {
    memset(k, 0, sizeof *k);
    if (!path || !path[0]) return SG_OK;
    sg_error e2;
    int fd = sg_file_open_regular(path, NULL, &e2);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return sg_error_set(err, SG_ERR_IO, "--api-key-file %s",
                            fd >= 0 ? strerror(errno) : e2.msg);
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int lineno = 0, cap = 0;
    sg_status st = SG_OK;
    while (!st && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        char *p = line, *e = line + len;
        while (p < e && isspace((unsigned char)*p)) p++;
        while (e > p && isspace((unsigned char)e[-1])) *--e = 0;
        if (p == e || *p == '#') continue;
        if (memchr(p, 0, (size_t)(e - p)) || e - p > MAX_KEY_LEN)
            st = sg_error_set(err, SG_ERR_ARG,
                              "--api-key-file %s: line %d is not a key (NUL bytes, or over %d "
                              "bytes)",
                              path, lineno, MAX_KEY_LEN);
        else if (k->n == MAX_KEYS)
            st = sg_error_set(err, SG_ERR_LIMIT, "--api-key-file %s: more than %d keys", path,
                              MAX_KEYS);
        else if (add_key(k, p, (size_t)(e - p), &cap))
            st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    free(line);
    if (!st && ferror(f)) st = sg_error_set(err, SG_ERR_IO, "--api-key-file %s: read error", path);
    fclose(f);
    if (!st && !k->n) st = sg_error_set(err, SG_ERR_ARG, "--api-key-file %s holds no key", path);
    if (st) sg_keys_free(k);
    return st;
}

void sg_keys_free(sg_keys *k) {
    free(k->digest);
    memset(k, 0, sizeof *k);
}

static int blank(char c) { return c == ' ' || c == '\t'; }

int sg_keys_check(const sg_keys *k, const char *h, uint8_t owner[32]) {
    if (!h || strncasecmp(h, "Bearer", 6) || !blank(h[6])) return 0;
    const char *tok = h + 7;
    while (blank(*tok)) tok++;
    size_t n = strlen(tok);
    while (n && blank(tok[n - 1])) n--;
    if (n == 0 || n > k->longest) return 0;
    uint8_t d[32];
    sg_sha256(tok, n, d);
    int found = -1;
    for (int i = 0; i < k->n; i++) {
        uint8_t diff = 0;
        for (int b = 0; b < 32; b++) diff |= (uint8_t)(d[b] ^ k->digest[i][b]);
        /* branch-free select: found = i when diff == 0 */
        int hit = (int)(((unsigned)diff - 1u) >> 8) & 1;
        found = hit ? i : found;
    }
    if (found < 0) return 0;
    memcpy(owner, d, 32);
    return 1;
}
