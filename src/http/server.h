/*
 * server.h — the HTTP front: h2o event loops serving the endpoints.
 *
 * One event loop per thread, each with its own listening socket on the same
 * address (SO_REUSEPORT, so the kernel spreads connections), its own h2o
 * context and its own store session. Requests are answered on the thread
 * that read them; nothing is handed between threads.
 */
#ifndef PB_SERVER_H
#define PB_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "http/accesslog.h"
#include "store/store.h"

/* SPEC: a body over 1 MiB is answered 413. */
#define PB_DEFAULT_MAX_BODY_BYTES (1024 * 1024)

/* How long a shutdown waits for open connections to finish. */
#define PB_SHUTDOWN_GRACE_MS 10000

typedef struct pb_server_config {
    const char *listen_host; /* numeric or resolvable host */
    uint16_t listen_port;    /* 0: the kernel picks one */
    unsigned threads;
    size_t max_body_bytes;
    uint32_t timestamp_window; /* seconds of clock skew a Signature may have */
    pb_api_config api;
    pb_log_format log_format; /* the access log's */
    const char *log_file;     /* NULL: stderr */
} pb_server_config;

/*
 * Serves until SIGTERM or SIGINT, then stops accepting, lets open connections
 * finish (up to PB_SHUTDOWN_GRACE_MS) and returns 0. Prints
 * "pushbind: listening on http://HOST:PORT" on stderr once it accepts
 * connections. Returns 1, after printing why, when it cannot start. The caller
 * keeps `store` open until it returns. SIGHUP reopens config->log_file (for
 * logrotate); GET /metrics serves the counters of this run.
 */
int pb_server_run(const pb_server_config *config, pb_store *store);

#endif
