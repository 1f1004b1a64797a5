/*
 * handle_find.c — POST /pushbind/v1/account/find (a pushbind extension):
 * after the app's secret (exchange.h), two lookups, the second planned
 * from the first's answer (api.h): the app's account types, then the names
 * under each. A read key may call it. A backend that reads at once calls
 * back before pb_store_lookup_start() returns, and the whole request then
 * runs inside the handler.
 */
#include "codec/codec.h"
#include "common/clock.h"
#include "common/codes.h"
#include "http/exchange.h"
#include "http/handle.h"

static const pb_route find_route = PB_ROUTE(PB_PATH_ACCOUNT_FIND, PB_ENDPOINT_ACCOUNT_FIND, "POST");

typedef struct find_state {
    pb_exchange base;
    pb_find_request request;
    pb_find_plan plan;
    uint64_t lookup_started_ns;
} find_state;

/* Merges what the plan holds as `code` left it, answers (when the request is still there), logs and ends. */
static void finish_find(find_state *find, int code)
{
    pb_find_response response;
    pb_api_find_merge(&find->plan, code, &find->base.pool, &response);
    h2o_req_t *req = pb_exchange_answer(&find->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_find(&req->pool, &response));
    find->base.record.items = response.n;
    find->base.record.code = response.code;
    pb_exchange_end(&find->base);
}

static void on_tokens(void *arg, pb_store_lookup *lookup)
{
    find_state *find = arg;
    pb_metrics_observe_store_lookup(pb_clock_ns() - find->lookup_started_ns);
    finish_find(find, PB_OK); /* encodes while the lookup's strings are valid */
}

static void on_types(void *arg, pb_store_lookup *lookup)
{
    find_state *find = arg;
    pb_exchange *exchange = &find->base;
    int code = pb_api_find_reads(&exchange->worker->config->api, &find->plan, &exchange->pool);
    if (code != PB_OK || find->plan.tokens.n == 0) {
        finish_find(find, code);
        return;
    }
    pb_store_lookup_start(exchange->worker->session, &find->plan.tokens, &exchange->pool, on_tokens, find);
}

/* Authenticated (and within its rate): decode, plan, then the app's types. */
static void on_find_authenticated(pb_exchange *exchange, int code)
{
    find_state *find = (find_state *)exchange;
    if (code != PB_OK) {
        finish_find(find, code);
        return;
    }
    pb_str body = exchange->credentials.body;
    if (pb_decode_query(&exchange->pool, body.base, body.len, &find->request) != PB_OK) {
        finish_find(find, PB_ERR_PARSE);
        return;
    }
    code = pb_api_find_plan(&exchange->worker->config->api, exchange->record.access_id, &find->request,
                            &exchange->pool, &find->plan);
    if (code != PB_OK || find->plan.n_names == 0) {
        finish_find(find, code);
        return;
    }
    find->lookup_started_ns = pb_clock_ns();
    pb_store_lookup_start(exchange->worker->session, &find->plan.types, &exchange->pool, on_types, find);
}

int pb_handle_account_find(h2o_handler_t *self, h2o_req_t *req)
{
    find_state *find = PB_EXCHANGE_BEGIN(find_state, req, &find_route);
    if (find != NULL)
        pb_exchange_authenticate(&find->base, on_find_authenticated);
    return 0;
}
