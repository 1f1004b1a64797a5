/*
 * exchange.h — one request and its answer, from the handler's first line to
 * the access log's: what every handler (handle_*.c) starts with and shares.
 * Internal to the HTTP layer.
 *
 * Every handler has one shape:
 *
 *   PB_EXCHANGE_BEGIN (path and method) → authenticate → decode → plan →
 *   the store call → merge → encode → answer → pb_exchange_end()
 *
 * (the operator endpoints skip authentication and the codec). While the
 * store works, the loop goes on serving other connections, and h2o may
 * dispose of the request meanwhile (an HTTP/2 stream reset, a closed
 * connection). So what a waiting request needs cannot live in its pool: a
 * pb_exchange is a block of its own (from the worker's spares, see
 * worker.h), with a pool that holds a copy of the credentials and the body,
 * everything decoded from them, and what the store's lookups and writes
 * read into. A shared allocation in the request's pool clears `req` when
 * h2o frees the request; the answer is then dropped, and the access log
 * still gets its line.
 *
 * Each handler keeps its state in a struct whose first member is a
 * pb_exchange named `base`. Every open exchange is counted in
 * worker->exchanges until pb_exchange_end(): a worker's stop path runs its
 * loop until that is 0, so every request handed to the store is answered
 * or dropped before the store session goes away.
 *
 * The functions that take an h2o_req_t want one h2o still holds (inside the
 * handler, or what pb_exchange_answer() returned); none of them keeps it.
 */
#ifndef PB_EXCHANGE_H
#define PB_EXCHANGE_H

#include <stddef.h>

#include <h2o.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/pool.h"
#include "http/worker.h"

/* What a handler answers: its path, its endpoint, the methods it takes. */
typedef struct pb_route {
    const char *path;
    size_t path_len;
    pb_endpoint endpoint;
    const char *methods; /* "POST", or a list as the Allow header writes it: "GET, HEAD" */
} pb_route;

#define PB_ROUTE(path, endpoint, methods) {path, sizeof(path) - 1, endpoint, methods}

typedef struct pb_exchange pb_exchange;

/* The secrets one app accepts, and the key each is (keys[0]: the app's own, "main"); in the exchange's pool. */
typedef struct pb_exchange_candidates {
    pb_str *secrets;
    pb_app_key *keys;
    size_t n;
} pb_exchange_candidates;

/* What pb_exchange_authenticate() calls next: PB_OK (record.access_id is the app), or the code to answer. */
typedef void pb_exchange_authenticated(pb_exchange *exchange, int code);

struct pb_exchange {
    pb_worker *worker;
    h2o_req_t *req;           /* NULL once h2o has disposed of the request */
    pb_exchange **req_link;   /* lives in req's pool; points back here */
    pb_pool pool;
    pb_request_record record; /* completed by the handler, written by pb_exchange_end() */
    uint64_t started_ns;
    pb_auth_request credentials; /* copied by pb_exchange_authenticate() */
    pb_exchange_authenticated *authenticated;
    /* The secrets' lookups, one after the other (pb_auth_apps_named() may name two apps). */
    uint64_t apps[2];
    int secret_rc[2];
    pb_exchange_candidates candidates[2]; /* of each app found */
    size_t n_apps, n_looked_up;
    bool secret_cached; /* a secret lookup was answered from the thread's cache */
    bool refreshed;     /* the secrets were read again from the store after a refusal */
    pb_store_lookup secret_lookup;
};

/*
 * The prologue every handler starts with: answers 404 when the request's
 * path is not exactly route->path (h2o matches a registered path as a
 * prefix: "/healthz/x" reaches the /healthz handler) and 405 when its method
 * is not one of route->methods, and returns NULL; else returns the
 * handler's state, a `type` (zeroed, its `base` open and following `req`).
 * The record gets status 200 and, for an endpoint outside the API's, code
 * -1 (an HTTP-level answer). Checks at compile time that `type` fits in
 * PB_EXCHANGE_BYTES and begins with its `base`. Never returns NULL for
 * want of memory: h2o aborts then.
 */
#define PB_EXCHANGE_BEGIN(type, req, route)                                                                           \
    ((type *)pb_exchange_begin((req), (route), sizeof(struct {                                                       \
        type state;                                                                                                    \
        _Static_assert(sizeof(type) <= PB_EXCHANGE_BYTES, #type " does not fit in PB_EXCHANGE_BYTES");               \
        _Static_assert(offsetof(type, base) == 0, #type " does not begin with its pb_exchange");                     \
    })))

/* PB_EXCHANGE_BEGIN() without its checks; `size` at most PB_EXCHANGE_BYTES. */
void *pb_exchange_begin(h2o_req_t *req, const pb_route *route, size_t size);

/*
 * Copies the request's credentials and body into the exchange's pool
 * (inside the handler: `req` must still be there), looks up the secrets of
 * the apps they name without waiting (pb_store_lookup_start()),
 * authenticates (the app's SecretKey or any of its named keys in force),
 * refuses a read key on an endpoint that writes, then checks the app's rate
 * limit, and calls next(exchange, code): PB_OK, PB_ERR_AUTH, PB_ERR_STORE
 * (the store could not say whether an app the credentials name exists) or
 * PB_ERR_RATE (the app's rate, or the client's failures: throttle.h, and
 * then no key is looked up) — perhaps
 * before this returns (the embedded store, a Redis secret cache hit),
 * else later from the loop.
 */
void pb_exchange_authenticate(pb_exchange *exchange, pb_exchange_authenticated *next);

/*
 * The request to answer, or NULL when h2o has disposed of it. From this call
 * on the exchange no longer follows the request (answering may dispose of
 * it), so call it once, to answer.
 */
h2o_req_t *pb_exchange_answer(pb_exchange *exchange);

/* Counts and logs the request from its record, then frees the exchange's pool and returns its block to the spares. */
void pb_exchange_end(pb_exchange *exchange);

/* Answers `status` with `body` (which must live until the request ends: its pool, or static). */
void pb_exchange_send(h2o_req_t *req, int status, const char *reason, const char *content_type, pb_str body);

/* Answers 200 with a JSON body, as every API outcome is answered; no-store: an answer names bindings. */
void pb_exchange_send_json(h2o_req_t *req, pb_str json);

/* The access-log record of `req` for `endpoint`, with its client; code -1 (HTTP-level). Read while h2o holds `req`. */
pb_request_record pb_exchange_record_of(h2o_req_t *req, pb_endpoint endpoint);

/* The client an address-keyed rule goes by: the forwarded hop when there is one, else the peer. */
const pb_client_address *pb_exchange_client(const pb_request_record *record);

/*
 * Writes the access-log line of a request answered at once with an
 * HTTP-level status (no API code), `started_ns` (pb_clock_ns()) ago, from
 * `record` (pb_exchange_record_of(), taken before answering). Takes the
 * worker, not the request: once answered, the request belongs to h2o.
 */
void pb_exchange_log_http(pb_worker *worker, pb_request_record *record, int status, uint64_t started_ns);

/* The operator_type a request sent, when it is one of 1–5; else 0 (for the access log). */
int64_t pb_exchange_operator_type(const pb_operator_type *operator_type);

#endif
