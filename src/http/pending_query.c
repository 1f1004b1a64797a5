/*
 * pending_query.c — POST /v3/device/account/query: a query waiting for the
 * store, first for its app's secret (pending.h), then for its one lookup.
 * A backend that reads at once calls back before pb_store_lookup_start()
 * returns, and the whole query then runs inside the handler.
 */
#include "codec/codec.h"
#include "common/clock.h"
#include "common/codes.h"
#include "http/handler.h"
#include "http/pending.h"

typedef struct pending_query {
    pb_pending base; /* first: see pb_pending_open() */
    pb_query_request request;
    pb_query_plan plan;
    uint64_t lookup_started_ns;
} pending_query;

/* Answers (when the request is still there), logs and frees the query. */
static void finish_query(pending_query *query, const pb_query_response *response)
{
    h2o_req_t *req = pb_pending_answer(&query->base);
    if (req != NULL)
        pb_handler_send_json(req, pb_encode_query(&req->pool, response));
    query->base.record.items = response->n;
    query->base.record.code = response->code;
    pb_pending_close(&query->base);
}

static void on_looked_up(void *arg, pb_store_lookup *lookup)
{
    pending_query *query = arg;
    pb_metrics_observe_store_lookup(pb_clock_ns() - query->lookup_started_ns);
    pb_query_response response;
    pb_api_query_merge(&query->plan, &response);
    finish_query(query, &response); /* encodes while the lookup's strings are valid */
}

/* Authenticated (and within its rate): decode, validate, then the one lookup. */
static void on_authenticated(pb_pending *pending, int code)
{
    pending_query *query = (pending_query *)pending;
    pb_worker *worker = pending->worker;
    pb_query_response response = {.code = code};
    if (code != PB_OK) {
        finish_query(query, &response);
        return;
    }
    pb_str body = pending->credentials.body;
    if (pb_decode_query(&pending->pool, body.base, body.len, &query->request) != PB_OK) {
        response.code = PB_ERR_PARSE;
        finish_query(query, &response);
        return;
    }
    pending->record.operator_type = pb_handler_operator_type(&query->request.operator_type);
    code = pb_api_query_plan(&worker->config->api, pending->record.access_id, &query->request, &pending->pool,
                             &query->plan);
    if (code != PB_OK || query->plan.lookup.n == 0) {
        if (code == PB_OK)
            pb_api_query_merge(&query->plan, &response);
        else
            response.code = code;
        finish_query(query, &response);
        return;
    }
    query->lookup_started_ns = pb_clock_ns();
    pb_store_lookup_start(worker->session, &query->plan.lookup, &pending->pool, on_looked_up, query);
}

int pb_handler_query(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!pb_handler_path_is(req, H2O_STRLIT(PB_PATH_QUERY)))
        return pb_handler_not_found(req, started);
    if (!pb_handler_method_is(req, H2O_STRLIT("POST")))
        return pb_handler_method_not_allowed(req, PB_ENDPOINT_QUERY, "POST", started);

    pending_query *query = pb_pending_open(sizeof(*query), req, PB_ENDPOINT_QUERY, started);
    pb_pending_authenticate(&query->base, on_authenticated);
    return 0;
}
