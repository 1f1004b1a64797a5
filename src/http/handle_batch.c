/*
 * handle_batch.c — the writes: POST /v3/device/account/batchoperate. A
 * batch waits for the store, first for its app's secret (exchange.h), then
 * for the write of its plan's changes (api.h): the embedded store's writer
 * thread, or Redis's replies on this loop. The changes live in the
 * exchange's pool: an HTTP/2 client may reset the stream, and h2o then frees
 * the request while the store still reads them.
 */
#include "codec/codec.h"
#include "common/codes.h"
#include "http/exchange.h"
#include "http/handle.h"

static const pb_route batch_route = PB_ROUTE(PB_PATH_BATCH, PB_ENDPOINT_BATCHOPERATE, "POST");

typedef struct batch_state {
    pb_exchange base;
    pb_worker_message written; /* zeroed by PB_EXCHANGE_BEGIN, as h2o requires of a new message */
    pb_batch_request request;
    pb_batch_plan plan;
    int result; /* the store call's */
} batch_state;

/* Answers (when the request is still there), logs and ends the batch; on the loop. */
static void finish_batch(batch_state *batch, const pb_batch_response *response)
{
    h2o_req_t *req = pb_exchange_answer(&batch->base);
    if (req != NULL)
        pb_exchange_send_json(req, pb_encode_batch(&req->pool, response));
    batch->base.record.items = response->n;
    batch->base.record.code = response->code;
    pb_exchange_end(&batch->base);
}

/* On the loop, once the store has applied the changes: merge and answer. */
static void on_written(pb_worker_message *message)
{
    batch_state *batch = H2O_STRUCT_FROM_MEMBER(batch_state, written, message);
    pb_batch_response response;
    pb_api_batch_merge(&batch->plan, batch->result, &response);
    finish_batch(batch, &response);
}

/* Runs on the embedded store's writer thread, or on this loop (Redis): only wakes the loop. */
static void on_applied(void *arg, int result)
{
    batch_state *batch = arg;
    batch->result = result;
    pb_worker_post(batch->base.worker, &batch->written);
}

/* Authenticated (and within its rate): decode the copied body, plan, and hand the changes to the store. */
static void on_authenticated(pb_exchange *exchange, int code)
{
    batch_state *batch = (batch_state *)exchange;
    pb_worker *worker = exchange->worker;
    pb_batch_response response = {.code = code};
    if (code != PB_OK) {
        finish_batch(batch, &response);
        return;
    }
    pb_str body = exchange->credentials.body;
    if (pb_decode_batch(&exchange->pool, body.base, body.len, &batch->request) != PB_OK) {
        response.code = PB_ERR_PARSE;
        finish_batch(batch, &response);
        return;
    }
    exchange->record.operator_type = pb_exchange_operator_type(&batch->request.operator_type);
    code = pb_api_batch_plan(&worker->config->api, pb_store_limits_of(worker->session), exchange->record.access_id,
                             &batch->request, &exchange->pool, &batch->plan);
    if (code != PB_OK || batch->plan.n_changes == 0) {
        if (code == PB_OK)
            pb_api_batch_merge(&batch->plan, PB_STORE_OK, &response);
        else
            response.code = code;
        finish_batch(batch, &response);
        return;
    }
    batch->written.on_loop = on_written;
    pb_store_apply_start(worker->session, batch->plan.access_id, batch->plan.changes, batch->plan.n_changes,
                         batch->plan.outcomes, &exchange->pool, on_applied, batch);
}

int pb_handle_batch(h2o_handler_t *self, h2o_req_t *req)
{
    batch_state *batch = PB_EXCHANGE_BEGIN(batch_state, req, &batch_route);
    if (batch != NULL)
        pb_exchange_authenticate(&batch->base, on_authenticated);
    return 0;
}
