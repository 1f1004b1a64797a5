/*
 * metrics.h — counters and histograms for GET /metrics (Prometheus text
 * format, version 0.0.4).
 *
 * Objects and threads
 * -------------------
 *   pb_metrics   the registry: one per server, created before its threads
 *                start and freed after they end.
 *   shard        one per observing thread. A thread attaches once
 *                (pb_metrics_thread_attach) and from then on every
 *                pb_metrics_observe_*() call from that thread adds to its own
 *                shard with relaxed atomic adds: no lock and no shared cache
 *                line on the hot path. A scrape sums the shards.
 *
 * The observe functions take no registry argument, so that code far from the
 * server (the store backend and its group-commit writer thread) can report
 * without a handle threaded through every call. A thread that never attached
 * (the command-line tools, unit tests) records nothing: observing is then a
 * no-op, never an error.
 */
#ifndef PB_METRICS_H
#define PB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/endpoint.h"
#include "common/str.h"

/* Threads that may attach to one registry (event loops plus store threads). */
#define PB_METRICS_MAX_THREADS 128


typedef struct pb_metrics pb_metrics;

/* A new, empty registry; NULL when out of memory. */
pb_metrics *pb_metrics_new(void);

/* Frees the registry and its shards. No thread may observe into it any more. */
void pb_metrics_free(pb_metrics *metrics);

/*
 * Gives the calling thread a shard of `metrics`. Returns 0, or -1 when
 * PB_METRICS_MAX_THREADS threads have attached already (the thread then
 * records nothing).
 */
int pb_metrics_thread_attach(pb_metrics *metrics);

/* Stops recording from the calling thread (its counts stay in the registry). */
void pb_metrics_thread_detach(void);

/*
 * One answered API request: its endpoint (one of the first PB_API_ENDPOINTS;
 * others are not counted), operator_type (0 when absent or invalid), the TPNS
 * ret_code it answered, and how long it took.
 */
void pb_metrics_observe_request(pb_endpoint endpoint, int64_t operator_type, int code, uint64_t micros);

/* One store write transaction committed (or failed to), and how long the commit took. */
void pb_metrics_observe_store_commit(uint64_t nanos);

/* One query's store work (the lookups of all its items, validation included), and how long it took. */
void pb_metrics_observe_store_lookup(uint64_t nanos);

/*
 * The number of write requests one store transaction carried. The embedded
 * store commits each request on its own (observes 1); a writer that groups
 * requests into one commit observes the group's size once per commit.
 */
void pb_metrics_observe_commit_batch(size_t requests);

/* A client connection was accepted / has closed. */
/* Counts bindings deleted by expiry (--binding-ttl), once their deletion is committed. */
void pb_metrics_count_expired(uint64_t bindings);

/* Why a request failed authentication (pushbind_auth_failures_total{reason}; the access log's auth=). */
typedef enum pb_auth_failure {
    PB_AUTH_FAILURE_NONE = 0,
    PB_AUTH_FAILURE_MISSING,     /* no credentials that name an app */
    PB_AUTH_FAILURE_UNKNOWN_APP, /* the app named does not exist */
    PB_AUTH_FAILURE_WRONG_KEY,   /* no key of the app passed (or expired, revoked, stale timestamp) */
    PB_AUTH_FAILURE_READ_ONLY,   /* a read key on an endpoint that writes */
    PB_AUTH_FAILURE_THROTTLED,   /* the client address failed too often (--auth-failures) */
    PB_AUTH_FAILURES
} pb_auth_failure;

/* "missing", "unknown_app", "wrong_key", "read_only", "throttled"; "-" for NONE. */
const char *pb_auth_failure_name(pb_auth_failure reason);

/* Counts one failed authentication. */
void pb_metrics_count_auth_failure(pb_auth_failure reason);

/* What /pushbind/v1/token/invalidate did with one token. */
typedef enum pb_invalidation_outcome {
    PB_INVALIDATION_REMOVED = 0, /* its bindings and tags are gone (or it had none) */
    PB_INVALIDATION_KEPT,        /* refreshed after invalid_since: nothing changed */
    PB_INVALIDATION_REFUSED,     /* the item was invalid */
    PB_INVALIDATION_OUTCOMES
} pb_invalidation_outcome;

/*
 * Counts one invalidated token by its reason (the push services' names,
 * matched without case: Unregistered, BadDeviceToken, ExpiredToken,
 * DeviceTokenNotForTopic, NotRegistered, InvalidRegistration; any other is
 * "other", so a client cannot grow the label set) and outcome.
 */
void pb_metrics_count_invalidation(pb_str reason, pb_invalidation_outcome outcome);

void pb_metrics_connection_opened(void);
void pb_metrics_connection_closed(void);

/* What a scrape reads from the store at scrape time. */
typedef struct pb_metrics_app {
    uint64_t access_id;
    uint64_t bindings;
} pb_metrics_app;

/*
 * Writes every metric to `out` in Prometheus text format, summing the shards
 * (each value read atomically; the sums of a scrape taken while requests run
 * may be a few requests apart). `apps` lists the store's apps.
 */
void pb_metrics_render(pb_metrics *metrics, const pb_metrics_app *apps, size_t n_apps, FILE *out);

/*
 * Writes the process_* series of the Prometheus client libraries (CPU time,
 * resident and virtual memory, open and maximum descriptors, start time;
 * each omitted when /proc cannot tell) and pushbind_build_info{version}.
 * Needs no registry: it reads the process itself.
 */
void pb_metrics_render_process(FILE *out);

/* The embedded store's space at scrape time (store.h's pb_store_space). */
typedef struct pb_metrics_space {
    uint64_t size_bytes;
    uint64_t capacity_bytes;
    uint64_t reserve_bytes;
} pb_metrics_space;

/* Writes pushbind_store_size_bytes, _capacity_bytes and _reserve_bytes. */
void pb_metrics_render_space(const pb_metrics_space *space, FILE *out);

#endif
