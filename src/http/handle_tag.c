/*
 * handle_tag.c — the tag family: POST /v3/device/tag and
 * /v3/device/tag/delete_all_device (writes, answered {"seq","ret_code",
 * "err_msg"}), POST /pushbind/v1/tag/query (reads) and
 * /pushbind/v1/token/invalidate (a write answered per item). Each follows
 * handle_batch.c's shape for a write and handle_query.c's for a read.
 */
#include "codec/codec.h"
#include "common/codes.h"
#include "http/exchange.h"
#include "http/handle.h"
#include "metrics/metrics.h"

static const pb_route tag_route = PB_ROUTE(PB_PATH_TAG, PB_ENDPOINT_TAG, "POST");
static const pb_route delete_all_route = PB_ROUTE(PB_PATH_TAG_DELETE_ALL, PB_ENDPOINT_TAG_DELETE_ALL, "POST");
static const pb_route tag_query_route = PB_ROUTE(PB_PATH_TAG_QUERY, PB_ENDPOINT_TAG_QUERY, "POST");
static const pb_route invalidate_route = PB_ROUTE(PB_PATH_INVALIDATE, PB_ENDPOINT_INVALIDATE, "POST");

/* The operator_type a tag request sent, when it is one of 1–10; else 0 (for the log and metrics). */
static int64_t tag_operator_type(const pb_operator_type *operator_type)
{
    return operator_type->state == PB_FIELD_PRESENT && operator_type->value >= 1 && operator_type->value <= 10
               ? operator_type->value
               : 0;
}

/* ---- POST /v3/device/tag and delete_all_device ------------------------- */

typedef struct tag_state {
    pb_exchange base;
    pb_worker_message written;
    pb_tag_request request;
    pb_tag_plan plan;
    int result;
} tag_state;

static void finish_tag(tag_state *tag, const pb_tag_response *response)
{
    h2o_req_t *req = pb_exchange_answer(&tag->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_tag(&req->pool, response));
    tag->base.record.items = tag->plan.write.n;
    tag->base.record.code = response->code;
    pb_exchange_end(&tag->base);
}

static void on_tag_written(pb_worker_message *message)
{
    tag_state *tag = H2O_STRUCT_FROM_MEMBER(tag_state, written, message);
    pb_tag_response response;
    pb_api_tag_merge(&tag->base.worker->config->api, &tag->plan, tag->result, &tag->base.pool, &response);
    finish_tag(tag, &response);
}

static void on_tag_applied(void *arg, int result)
{
    tag_state *tag = arg;
    tag->result = result;
    pb_worker_post(tag->base.worker, &tag->written);
}

static void on_tag_authenticated(pb_exchange *exchange, int code)
{
    tag_state *tag = (tag_state *)exchange;
    pb_worker *worker = exchange->worker;
    bool delete_all = exchange->record.endpoint == PB_ENDPOINT_TAG_DELETE_ALL;
    pb_tag_response response = {.code = code};
    pb_str body = exchange->credentials.body;
    if (code == PB_OK && pb_decode_tag(&exchange->pool, body.base, body.len, false, &tag->request) != PB_OK)
        response.code = PB_ERR_PARSE;
    if (response.code != PB_OK) {
        finish_tag(tag, &response);
        return;
    }
    exchange->record.operator_type = tag_operator_type(&tag->request.operator_type);
    code = pb_api_tag_plan(&worker->config->api, exchange->record.access_id, &tag->request, delete_all,
                           &exchange->pool, &tag->plan);
    if (code != PB_OK) {
        response = (pb_tag_response){.code = code, .seq = tag->plan.seq, .message = tag->plan.message};
        finish_tag(tag, &response);
        return;
    }
    tag->written.on_loop = on_tag_written;
    pb_store_tag_apply_start(worker->session, tag->plan.access_id, &tag->plan.write, &exchange->pool, on_tag_applied,
                             tag);
}

int pb_handle_tag(h2o_handler_t *self, h2o_req_t *req)
{
    tag_state *tag = PB_EXCHANGE_BEGIN(tag_state, req, &tag_route);
    if (tag != NULL)
        pb_exchange_authenticate(&tag->base, on_tag_authenticated);
    return 0;
}

int pb_handle_tag_delete_all(h2o_handler_t *self, h2o_req_t *req)
{
    tag_state *tag = PB_EXCHANGE_BEGIN(tag_state, req, &delete_all_route);
    if (tag != NULL)
        pb_exchange_authenticate(&tag->base, on_tag_authenticated);
    return 0;
}

/* ---- POST /pushbind/v1/tag/query --------------------------------------- */

typedef struct tag_query_state {
    pb_exchange base;
    pb_tag_request request;
    pb_tag_query_plan plan;
} tag_query_state;

static void finish_tag_query(tag_query_state *query, const pb_tag_query_response *response)
{
    h2o_req_t *req = pb_exchange_answer(&query->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_tag_query(&req->pool, response));
    query->base.record.items = response->n;
    query->base.record.code = response->code;
    pb_exchange_end(&query->base);
}

static void on_tag_looked_up(void *arg, pb_tag_lookup *lookup)
{
    tag_query_state *query = arg;
    pb_tag_query_response response;
    pb_api_tag_query_merge(&query->plan, &query->base.pool, &response);
    finish_tag_query(query, &response); /* encodes while the lookup's strings are valid */
}

static void on_tag_query_authenticated(pb_exchange *exchange, int code)
{
    tag_query_state *query = (tag_query_state *)exchange;
    pb_worker *worker = exchange->worker;
    pb_tag_query_response response = {.code = code};
    pb_str body = exchange->credentials.body;
    if (code == PB_OK && pb_decode_tag(&exchange->pool, body.base, body.len, false, &query->request) != PB_OK)
        response.code = PB_ERR_PARSE;
    if (response.code != PB_OK) {
        finish_tag_query(query, &response);
        return;
    }
    exchange->record.operator_type = tag_operator_type(&query->request.operator_type);
    code = pb_api_tag_query_plan(&worker->config->api, exchange->record.access_id, &query->request, &exchange->pool,
                                 &query->plan);
    if (code != PB_OK) {
        response = (pb_tag_query_response){.code = code, .message = query->plan.message};
        finish_tag_query(query, &response);
        return;
    }
    pb_store_tag_lookup_start(worker->session, &query->plan.lookup, &exchange->pool, on_tag_looked_up, query);
}

int pb_handle_tag_query(h2o_handler_t *self, h2o_req_t *req)
{
    tag_query_state *query = PB_EXCHANGE_BEGIN(tag_query_state, req, &tag_query_route);
    if (query != NULL)
        pb_exchange_authenticate(&query->base, on_tag_query_authenticated);
    return 0;
}

/* ---- POST /pushbind/v1/token/invalidate -------------------------------- */

typedef struct invalidate_state {
    pb_exchange base;
    pb_worker_message written;
    pb_tag_request request;
    pb_invalidate_plan plan;
    int result;
} invalidate_state;

static void finish_invalidate(invalidate_state *inv, const pb_invalidate_response *response)
{
    h2o_req_t *req = pb_exchange_answer(&inv->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_batch(&req->pool, response));
    inv->base.record.items = response->n;
    inv->base.record.code = response->code;
    pb_exchange_end(&inv->base);
}

/* Counts each item by its reason and what became of it. */
static void count_invalidations(const invalidate_state *inv, const pb_invalidate_response *response)
{
    for (size_t i = 0; i < response->n && response->item_codes != NULL; i++) {
        int item = response->item_codes[i];
        pb_metrics_count_invalidation(inv->request.invalidate.items[i].reason,
                                      item == PB_OK ? PB_INVALIDATION_REMOVED
                                      : item == 1   ? PB_INVALIDATION_KEPT
                                                    : PB_INVALIDATION_REFUSED);
    }
}

static void on_invalidate_written(pb_worker_message *message)
{
    invalidate_state *inv = H2O_STRUCT_FROM_MEMBER(invalidate_state, written, message);
    pb_invalidate_response response;
    pb_api_invalidate_merge(&inv->plan, inv->result, &response);
    count_invalidations(inv, &response);
    finish_invalidate(inv, &response);
}

static void on_invalidate_applied(void *arg, int result)
{
    invalidate_state *inv = arg;
    inv->result = result;
    pb_worker_post(inv->base.worker, &inv->written);
}

static void on_invalidate_authenticated(pb_exchange *exchange, int code)
{
    invalidate_state *inv = (invalidate_state *)exchange;
    pb_worker *worker = exchange->worker;
    pb_invalidate_response response = {.code = code};
    pb_str body = exchange->credentials.body;
    if (code == PB_OK && pb_decode_tag(&exchange->pool, body.base, body.len, true, &inv->request) != PB_OK)
        response.code = PB_ERR_PARSE;
    if (response.code == PB_OK)
        response.code = pb_api_invalidate_plan(&worker->config->api, exchange->record.access_id, &inv->request,
                                               &exchange->pool, &inv->plan);
    if (response.code != PB_OK || inv->plan.write.n == 0) {
        if (response.code == PB_OK)
            pb_api_invalidate_merge(&inv->plan, PB_STORE_OK, &response);
        count_invalidations(inv, &response);
        finish_invalidate(inv, &response);
        return;
    }
    inv->written.on_loop = on_invalidate_written;
    pb_store_tag_apply_start(worker->session, inv->plan.access_id, &inv->plan.write, &exchange->pool,
                             on_invalidate_applied, inv);
}

int pb_handle_invalidate(h2o_handler_t *self, h2o_req_t *req)
{
    invalidate_state *inv = PB_EXCHANGE_BEGIN(invalidate_state, req, &invalidate_route);
    if (inv != NULL)
        pb_exchange_authenticate(&inv->base, on_invalidate_authenticated);
    return 0;
}
