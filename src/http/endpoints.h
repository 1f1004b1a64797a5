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
    /* Finished writes come back to the loop through these (from the store's writer thread). */
    h2o_multithread_queue_t *writes_queue;
    h2o_multithread_receiver_t writes_done;
    size_t writes_pending; /* handed to the store and not yet back; loop thread only */
    size_t lookups_pending; /* queries waiting for a read of the store; loop thread only */
} pb_worker;

/* Registers the API paths, /healthz, /metrics and a 404 for everything else. */
void pb_endpoints_register(h2o_hostconf_t *host);

/*
 * Gives a worker whose h2o context is initialised the queue its finished
 * writes come back through. Call on the thread that runs the worker's loop:
 * h2o 2.2.5 reads the queue's pipe into a buffer recycled through the
 * creating thread's thread-local allocator, so a queue created on another
 * thread would share that allocator with every loop, unlocked.
 */
void pb_worker_attach(pb_worker *worker);

/*
 * Undoes pb_worker_attach(), on the same thread, once writes_pending is 0
 * (a write still in the store would answer through the queue this frees).
 */
void pb_worker_detach(pb_worker *worker);

#endif
