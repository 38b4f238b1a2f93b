/* web/: the browser front end's static files, embedded in the binary at build time
 * (web/embed.cmake turns the html, js and css files into a C table), so the daemon needs no web server,
 * no CDN and no files on disk. */
#ifndef SG_WEB_H
#define SG_WEB_H
#include <stddef.h>

typedef struct {
    const char *path; /* "/index.html", "/app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} sg_web_asset;

/* The asset for a request path ("/" means "/index.html"), or NULL. */
const sg_web_asset *sg_web_find(const char *path);
#endif
