/*
 * console.h — the web console's files, compiled into the binary, served at
 * /console/.
 *
 * The files live in src/console/; the build turns them into
 * console_assets.c (cmake/embed.cmake), so the binary needs nothing on disk
 * and a page always matches the server that serves it. The page calls the
 * public API with Signature authentication from the browser: serving it
 * grants nothing that the API does not.
 *
 * The handler (pb_handle_console(), handle.h) answers GET and HEAD of
 * /console/ (index.html) and /console/NAME; /console redirects to
 * /console/; an unknown NAME is 404 and any other method 405. When the
 * worker's config has console_off set, every /console path answers 404.
 * Every answer carries a strict Content-Security-Policy, nosniff and
 * no-referrer.
 */
#ifndef PB_CONSOLE_H
#define PB_CONSOLE_H

#include <stddef.h>

/* One file of the console, as the build embedded it. Static data: never freed. */
typedef struct pb_console_asset {
    const char *path;         /* the name under /console/: "index.html", "api.js" */
    const char *content_type; /* from the file name's extension */
    const unsigned char *bytes;
    size_t len;
    const char *etag; /* a strong ETag, quoted, from the content's SHA-256 */
} pb_console_asset;

/* Defined in the generated console_assets.c. */
extern const pb_console_asset pb_console_assets[];
extern const size_t pb_console_asset_count;

#endif
