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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "http/accesslog.h"
#include "store/store.h"

/* docs/API.md: a body over 1 MiB is answered 413. */
#define PB_DEFAULT_MAX_BODY_BYTES (1024 * 1024)

/* How long a shutdown waits for open connections to finish. */
#define PB_SHUTDOWN_GRACE_MS 10000

/*
 * Open connections across all threads; one more is closed as soon as it is
 * accepted, without touching the others.
 */
#define PB_DEFAULT_MAX_CONNECTIONS 10000

/*
 * Seconds a connection may take to deliver a whole request, counted from the
 * moment it opened or its previous answer was sent. In h2o 2.2.5 one HTTP/1
 * timer covers both, so this one value is the header-read timeout (slow
 * clients) and the keep-alive idle timeout. It also bounds the TLS handshake
 * and an idle HTTP/2 connection. h2o's own default.
 */
#define PB_DEFAULT_REQUEST_TIMEOUT_SECONDS 10

/*
 * Bytes of request line and headers a request may carry (name, value and
 * separators of each header); more is answered 431. Signature requests need
 * a few hundred.
 */
#define PB_DEFAULT_MAX_HEADER_BYTES 8192

/* Failed authentications a minute per client address (http/throttle.h says the policy). */
#define PB_DEFAULT_AUTH_FAILURES 20

typedef struct pb_server_config {
    const char *listen_host; /* numeric or resolvable host */
    uint16_t listen_port;    /* 0: the kernel picks one */
    unsigned threads;
    size_t max_body_bytes;
    uint32_t timestamp_window; /* seconds of clock skew a Signature may have */
    unsigned max_connections;
    uint32_t request_timeout_seconds;
    size_t max_header_bytes;
    uint32_t rate_limit; /* requests per second per app; 0: no limit */
    uint32_t rate_burst; /* requests an idle app may send at once */
    uint32_t auth_failures; /* failed authentications a minute per client address (throttle.h); 0: no limit */
    pb_trusted_proxies trusted_proxies; /* peers whose X-Forwarded-For is believed (client.h) */
    const char *tls_cert_file; /* both set: HTTPS (HTTP/1.1 and HTTP/2 by ALPN) */
    const char *tls_key_file;
    pb_api_config api;
    pb_log_format log_format; /* the access log's */
    const char *log_file;     /* NULL: stderr */
    pb_metrics *metrics;      /* what GET /metrics serves; the caller owns it and gives it to the store too */
    bool console_off;             /* serve --console off: /console/ answers 404 */
    /*
     * The operator's listener (serve --admin-listen): NULL, none. When set,
     * /console/, /metrics and /healthz are served there (with the API the
     * console calls) and answer 404 on listen_host.
     */
    const char *admin_host;
    uint16_t admin_port; /* 0: the kernel picks one */
} pb_server_config;

/*
 * Serves until SIGTERM or SIGINT, then stops accepting, lets open connections
 * finish (up to PB_SHUTDOWN_GRACE_MS) and returns 0. Prints
 * "pushbind: listening on http://HOST:PORT" (https:// with TLS) on stderr once
 * it accepts connections, preceded by "pushbind: admin listening on
 * http://HOST:PORT" when config->admin_host is set (TLS covers both). Returns 1, after printing why, when it cannot start.
 * The caller keeps `store` open until it returns. SIGHUP reopens
 * config->log_file (for logrotate); GET /metrics serves the counters of this run.
 */
int pb_server_run(const pb_server_config *config, pb_store *store);

#endif
