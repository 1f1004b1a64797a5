/*
 * pending.h — a request that waits for the store. Internal to the HTTP layer.
 *
 * While the store answers, the loop goes on serving other connections, and
 * h2o may dispose of the request meanwhile (an HTTP/2 stream reset, a closed
 * connection). So what a waiting request needs cannot live in its pool: a
 * pb_pending is allocated apart (from the worker's spares), with a pool of
 * its own that holds a copy of the credentials and the body and everything
 * decoded from them, and that the store's lookups and writes use. A shared allocation in the request's pool
 * clears `req` when h2o frees the request; the answer is then dropped, and
 * the access log still gets its line.
 *
 * Each handler that waits embeds a pb_pending first in its own struct
 * (pending_query.c, pending_write.c, endpoints.c), and every pb_pending is
 * counted in worker->pending until pb_pending_close(): a worker's stop path
 * runs its loop until that is 0, so every request handed to the store is
 * answered or dropped before the store session goes away.
 */
#ifndef PB_PENDING_H
#define PB_PENDING_H

#include <h2o.h>

#include "auth/auth.h"
#include "common/pool.h"
#include "http/auth_pending.h"
#include "http/endpoints.h"

typedef struct pb_pending pb_pending;

/* What pb_pending_authenticate() calls next: PB_OK (record.access_id is the app), or the code to answer. */
typedef void pb_pending_authenticated(pb_pending *pending, int code);

struct pb_pending {
    pb_worker *worker;
    h2o_req_t *req;           /* NULL once h2o has disposed of the request */
    pb_pending **req_link;    /* lives in req's pool; points back here */
    pb_pool pool;
    pb_request_record record; /* completed by the handler, written by pb_pending_close() */
    uint64_t started_ns;
    pb_auth_request credentials; /* copied by pb_pending_authenticate() */
    pb_auth_pending auth;
    pb_pending_authenticated *authenticated;
};

/*
 * Room for every handler's pending struct. Closed pendings are kept for the
 * next ones (at most PB_PENDING_SPARES a worker), so that a request does not
 * pay a malloc() and a free() for its pending.
 */
#define PB_PENDING_BYTES 1024
#define PB_PENDING_SPARES 64

/*
 * Allocates (zeroed) `size` bytes, at most PB_PENDING_BYTES: a struct whose
 * first member is a pb_pending, and starts following `req` with it, for
 * `endpoint` (the record gets status 200; change it for an HTTP-level
 * answer). Never returns NULL: h2o aborts when memory is exhausted.
 */
void *pb_pending_open(size_t size, h2o_req_t *req, pb_endpoint endpoint, uint64_t started_ns);

/* The worker's spare pendings: ready for pb_pending_open(), and freed (pb_worker_attach(), pb_worker_detach()). */
void pb_pending_spares_init(pb_worker *worker);
void pb_pending_spares_free(pb_worker *worker);

/*
 * Copies the request's credentials and body into the pending's pool (inside
 * the handler: `req` must still be there), authenticates them against the
 * store's secrets, then checks the app's rate limit, and calls
 * next(pending, code) — perhaps before this returns.
 */
void pb_pending_authenticate(pb_pending *pending, pb_pending_authenticated *next);

/*
 * The request to answer, or NULL when h2o has disposed of it. From this call
 * on the pending no longer follows the request (answering may dispose of
 * it), so call it once, to answer.
 */
h2o_req_t *pb_pending_answer(pb_pending *pending);

/* Counts and logs the request from its record, then frees the pending's pool and returns the pending to the spares. */
void pb_pending_close(pb_pending *pending);

#endif
