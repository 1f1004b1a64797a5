/*
 * endpoints.h — the h2o handlers: authentication, decode, endpoint, encode
 * (endpoints.c, pending_query.c, pending_write.c; handler.h and pending.h
 * hold what they share). Internal to the HTTP layer. A handler finds its thread's state through the
 * h2o context it runs on (pb_worker embeds it).
 */
#ifndef PB_ENDPOINTS_H
#define PB_ENDPOINTS_H

#include <h2o.h>

#include "http/logbuffer.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "metrics/metrics.h"

/* The per-thread state of the server. */
typedef struct pb_worker {
    h2o_context_t h2o_ctx;
    const pb_server_config *config;
    pb_store_session *session;
    pb_rate_limiter *rate_limiter; /* shared by all workers; NULL: no rate limit */
    pb_metrics *metrics;           /* the registry; this thread observes into its own shard */
    /* Finished writes come back to the loop through these (from the embedded store's writer thread). */
    h2o_multithread_queue_t *writes_queue;
    h2o_multithread_receiver_t writes_done;
    size_t pending;    /* requests waiting for the store, a read or a write (pending.h); loop thread only */
    h2o_mem_recycle_t spare_pendings; /* closed pendings kept for the next ones (pending.c); loop thread only */
    pb_log_buffer log;     /* this loop's access-log lines; last, for its size */
} pb_worker;

/*
 * Registers on `host` the API paths (the TPNS endpoints and
 * /pushbind/v1/app), with operator_paths /healthz, /metrics and /console
 * too, and a 404 for everything else.
 */
void pb_endpoints_register(h2o_hostconf_t *host, bool operator_paths);

/*
 * Writes the access-log line of a request answered with an HTTP-level
 * status (no API code), `started_ns` (pb_clock_ns()) ago. Takes the worker,
 * not the request: once answered, the request belongs to h2o.
 */
void pb_endpoints_log_http(pb_worker *worker, pb_endpoint endpoint, int status, uint64_t started_ns);

/*
 * Gives a worker whose h2o context is initialised the queue its finished
 * writes come back through. Call on the thread that runs the worker's loop:
 * h2o 2.2.5 reads the queue's pipe into a buffer recycled through the
 * creating thread's thread-local allocator, so a queue created on another
 * thread would share that allocator with every loop, unlocked.
 */
void pb_worker_attach(pb_worker *worker);

/*
 * Undoes pb_worker_attach(), on the same thread, once `pending` is 0 (a
 * write still in the store would answer through the queue this frees), and
 * frees the spare pendings.
 */
void pb_worker_detach(pb_worker *worker);

#endif
