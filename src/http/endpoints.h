/*
 * endpoints.h — the h2o handlers: authentication, decode, endpoint, encode.
 *
 * Internal to the HTTP layer. A handler finds its thread's state through the
 * h2o context it runs on (pb_worker embeds it).
 */
#ifndef PB_ENDPOINTS_H
#define PB_ENDPOINTS_H

#include <h2o.h>

#include "http/accesslog.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "metrics/metrics.h"

/* The per-thread state of the server. */
typedef struct pb_worker {
    h2o_context_t h2o_ctx;
    const pb_server_config *config;
    pb_store_session *session;
    pb_rate_limiter *rate_limiter; /* shared by all workers; NULL: no rate limit */
    const pb_accesslog *accesslog; /* shared by every worker */
    pb_metrics *metrics;           /* the registry; this thread observes into its own shard */
} pb_worker;

/* Registers the API paths, /healthz, /metrics and a 404 for everything else. */
void pb_endpoints_register(h2o_hostconf_t *host);

#endif
