/*
 * handler.h — what the HTTP handlers share: matching a request's path and
 * method, reading its headers and body, answering, and counting and logging
 * an answered request. Internal to the HTTP layer.
 *
 * Every function takes a request h2o still holds (inside its handler, or a
 * pending request's `req` that is not NULL, see pending.h); none of them
 * keeps it.
 */
#ifndef PB_HANDLER_H
#define PB_HANDLER_H

#include <h2o.h>

#include "api/api.h"
#include "http/endpoints.h"

/* The paths the server answers (docs/API.md); h2o registers them in endpoints.c. */
#define PB_PATH_QUERY "/v3/device/account/query"
#define PB_PATH_BATCH "/v3/device/account/batchoperate"
#define PB_PATH_APP "/pushbind/v1/app"
#define PB_PATH_HEALTH "/healthz"
#define PB_PATH_METRICS "/metrics"

/* The worker whose loop runs `req`. */
static inline pb_worker *pb_handler_worker(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(pb_worker, h2o_ctx, req->conn->ctx);
}

/*
 * Whether the normalized path is exactly `path`: h2o matches a registered
 * path as a prefix ("/healthz/x" reaches the /healthz handler), so each
 * handler checks that the path is its own.
 */
bool pb_handler_path_is(h2o_req_t *req, const char *path, size_t len);
bool pb_handler_method_is(h2o_req_t *req, const char *method, size_t len);

/* The value of a header (h2o keeps names in lower case); empty when absent. Lives in req's pool. */
pb_str pb_handler_header(h2o_req_t *req, const char *name, size_t len);

/* The request's body, whole (h2o reads it before the handler runs); empty when none. */
pb_str pb_handler_body(h2o_req_t *req);

/* Answers `status` with `body` (which must live until the request ends: its pool, or static). */
void pb_handler_send(h2o_req_t *req, int status, const char *reason, const char *content_type, pb_str body);

/* Answers 200 with a JSON body, as every API outcome is answered; no-store: an answer names bindings. */
void pb_handler_send_json(h2o_req_t *req, pb_str json);

/* Answers 404 / 405 (with `allow`), logs the request and returns 0, for a handler to return. */
int pb_handler_not_found(h2o_req_t *req, uint64_t started_ns);
int pb_handler_method_not_allowed(h2o_req_t *req, pb_endpoint endpoint, const char *allow, uint64_t started_ns);

/*
 * Counts an answered request in the metrics (API endpoints only) and writes
 * its access-log line; record->micros is set from `started_ns`.
 */
void pb_handler_finish(pb_worker *worker, pb_request_record *record, uint64_t started_ns);

/* PB_OK, or PB_ERR_RATE when app `access_id` is over its rate limit (nothing is read or changed then). */
int pb_handler_check_rate(pb_worker *worker, uint64_t access_id);

/* The operator_type a request sent, when it is one of 1–5; else 0 (for the access log). */
int64_t pb_handler_operator_type(const pb_operator_type *operator_type);

/* The handlers of the two TPNS endpoints (pending_query.c, pending_write.c), for registration. */
int pb_handler_query(h2o_handler_t *self, h2o_req_t *req);
int pb_handler_batchoperate(h2o_handler_t *self, h2o_req_t *req);

#endif
