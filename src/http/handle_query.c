/*
 * handle_query.c — the reads: POST /v3/device/account/query and
 * GET /pushbind/v1/app. Each waits for the store, first for its app's
 * secret (exchange.h), then for its one lookup (api.h's plan). A backend
 * that reads at once calls back before pb_store_lookup_start() returns, and
 * the whole request then runs inside the handler.
 */
#include "codec/codec.h"
#include "common/clock.h"
#include "common/codes.h"
#include "http/exchange.h"
#include "http/handle.h"

static const pb_route query_route = PB_ROUTE(PB_PATH_QUERY, PB_ENDPOINT_QUERY, "POST");
static const pb_route app_route = PB_ROUTE(PB_PATH_APP, PB_ENDPOINT_APP, "GET");

typedef struct query_state {
    pb_exchange base;
    pb_query_request request;
    pb_query_plan plan;
    uint64_t lookup_started_ns;
} query_state;

/* Answers (when the request is still there), logs and ends the query. */
static void finish_query(query_state *query, const pb_query_response *response)
{
    h2o_req_t *req = pb_exchange_answer(&query->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_query(&req->pool, response));
    query->base.record.items = response->n;
    query->base.record.code = response->code;
    pb_exchange_end(&query->base);
}

static void on_looked_up(void *arg, pb_store_lookup *lookup)
{
    query_state *query = arg;
    pb_metrics_observe_store_lookup(pb_clock_ns() - query->lookup_started_ns);
    pb_query_response response;
    pb_api_query_merge(&query->plan, &response);
    finish_query(query, &response); /* encodes while the lookup's strings are valid */
}

/* Authenticated (and within its rate): decode, plan, then the one lookup. */
static void on_query_authenticated(pb_exchange *exchange, int code)
{
    query_state *query = (query_state *)exchange;
    pb_worker *worker = exchange->worker;
    pb_query_response response = {.code = code};
    if (code != PB_OK) {
        finish_query(query, &response);
        return;
    }
    pb_str body = exchange->credentials.body;
    if (pb_decode_query(&exchange->pool, body.base, body.len, &query->request) != PB_OK) {
        response.code = PB_ERR_PARSE;
        finish_query(query, &response);
        return;
    }
    exchange->record.operator_type = pb_exchange_operator_type(&query->request.operator_type);
    code = pb_api_query_plan(&worker->config->api, exchange->record.access_id, &query->request, &exchange->pool,
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
    pb_store_lookup_start(worker->session, &query->plan.lookup, &exchange->pool, on_looked_up, query);
}

int pb_handle_query(h2o_handler_t *self, h2o_req_t *req)
{
    query_state *query = PB_EXCHANGE_BEGIN(query_state, req, &query_route);
    if (query != NULL)
        pb_exchange_authenticate(&query->base, on_query_authenticated);
    return 0;
}

typedef struct app_state {
    pb_exchange base;
    pb_app_plan plan;
} app_state;

static void finish_app(app_state *app, const pb_app_info_response *response)
{
    h2o_req_t *req = pb_exchange_answer(&app->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_app_info(&req->pool, response));
    app->base.record.code = response->code;
    pb_exchange_end(&app->base);
}

static void on_app_record(void *arg, pb_store_lookup *lookup)
{
    app_state *app = arg;
    pb_worker *worker = app->base.worker;
    pb_app_info_response response;
    pb_api_app_merge(&worker->config->api, pb_store_limits_of(worker->session), &app->plan, &response);
    finish_app(app, &response);
}

static void on_app_authenticated(pb_exchange *exchange, int code)
{
    app_state *app = (app_state *)exchange;
    if (code != PB_OK) {
        finish_app(app, &(pb_app_info_response){.code = code});
        return;
    }
    pb_api_app_plan(exchange->record.access_id, &app->plan);
    pb_store_lookup_start(exchange->worker->session, &app->plan.lookup, &exchange->pool, on_app_record, app);
}

/*
 * GET /pushbind/v1/app (a pushbind extension): authenticated like the API,
 * a Signature then covering the empty body; answered 200 with the code in
 * the body like the API.
 */
int pb_handle_app(h2o_handler_t *self, h2o_req_t *req)
{
    app_state *app = PB_EXCHANGE_BEGIN(app_state, req, &app_route);
    if (app != NULL)
        pb_exchange_authenticate(&app->base, on_app_authenticated);
    return 0;
}
