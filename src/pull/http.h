/*
 * http.h — POSTs to the source's endpoints (the account query, and a
 * pushbind source's tag query), authenticated as TPNS asks (libcurl
 * underneath: keep-alive, https, redirects refused).
 *
 * One pb_pull_http per run, used by one thread. The answer's body belongs to
 * the handle and lives until the next post or pb_pull_http_close().
 */
#ifndef PB_PULL_HTTP_H
#define PB_PULL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "pull/pull.h"

/* The paths asked, after the source's base URL. */
#define PB_PULL_QUERY_PATH "/v3/device/account/query"
#define PB_PULL_TAG_QUERY_PATH "/pushbind/v1/tag/query"
/* A query answer larger than this is refused: 1000 items × 100 tokens of 256 bytes fit. */
#define PB_PULL_MAX_ANSWER_BYTES (64u << 20)
#define PB_PULL_CONNECT_TIMEOUT_S 10L
#define PB_PULL_REQUEST_TIMEOUT_S 60L

typedef struct pb_pull_http pb_pull_http;

/* What one post came back with. */
typedef struct pb_pull_reply {
    long status;      /* HTTP status; 0 on a transport error */
    const char *body; /* the answer's body (status != 0) */
    size_t len;
    char error[256];  /* what went wrong (status == 0) */
    uint64_t send_delay_ns; /* from the call to the request's first byte out: connecting, TLS */
} pb_pull_reply;

/*
 * Prepares posts to paths under `config->source_url` with the config's
 * credentials and auth method. Returns NULL (out of memory, or
 * libcurl cannot start) after printing why on stderr.
 */
pb_pull_http *pb_pull_http_open(const pb_pull_config *config);

void pb_pull_http_close(pb_pull_http *http);

/*
 * POSTs `body` (JSON) to `path` (PB_PULL_QUERY_PATH, …) and waits for the answer. Signature headers are made
 * for this very try (TimeStamp is now). Returns 0 when an HTTP answer came
 * (reply->status, body), -1 on a transport error (reply->error says what:
 * refused, timed out, TLS, too large).
 */
int pb_pull_http_post(pb_pull_http *http, const char *path, const char *body, size_t len, pb_pull_reply *reply);

#endif
