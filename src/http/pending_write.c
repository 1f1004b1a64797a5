/*
 * pending_write.c — POST /v3/device/account/batchoperate: a batch waiting
 * for the store, first for its app's secret (pending.h), then for the
 * write: the embedded store's writer thread, or Redis's replies on this loop.
 * The write's changes live in the pending's pool: an HTTP/2 client may reset
 * the stream, and h2o then frees the request while the store still reads them.
 */
#include "codec/codec.h"
#include "common/clock.h"
#include "common/codes.h"
#include "http/handler.h"
#include "http/pending.h"

typedef struct pending_write {
    pb_pending base;                   /* first: see pb_pending_open() */
    h2o_multithread_message_t message; /* zeroed, as h2o requires of a new message */
    pb_batch_request request;
    pb_batch_response response;
} pending_write;

/* Runs on the embedded store's writer thread, or on this loop (Redis): only wakes the loop. */
static void on_write_done(void *arg)
{
    pending_write *write = arg;
    h2o_multithread_send_message(&write->base.worker->writes_done, &write->message);
}

/* Answers (when the request is still there), logs and frees the write; on the loop. */
static void finish_write(pending_write *write)
{
    h2o_req_t *req = pb_pending_answer(&write->base);
    if (req != NULL)
        pb_handler_send_json(req, pb_encode_batch(&req->pool, &write->response));
    write->base.record.items = write->response.n;
    write->base.record.code = write->response.code;
    pb_pending_close(&write->base);
}

/* Runs on the loop: answers each finished write. */
static void on_writes_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        pending_write *write = H2O_STRUCT_FROM_MEMBER(pending_write, message.link, messages->next);
        h2o_linklist_unlink(&write->message.link);
        finish_write(write);
    }
}

/* Authenticated (and within its rate): decode the copied body and hand the batch to the store. */
static void on_authenticated(pb_pending *pending, int code)
{
    pending_write *write = (pending_write *)pending;
    pb_worker *worker = pending->worker;
    if (code != PB_OK) {
        write->response.code = code;
        finish_write(write);
        return;
    }
    pb_str body = pending->credentials.body;
    if (pb_decode_batch(&pending->pool, body.base, body.len, &write->request) != PB_OK) {
        write->response.code = PB_ERR_PARSE;
        finish_write(write);
        return;
    }
    pending->record.operator_type = pb_handler_operator_type(&write->request.operator_type);
    pb_api_batchoperate(&worker->config->api, worker->session, pending->record.access_id, &write->request,
                        &pending->pool, &write->response, on_write_done, write);
}

int pb_handler_batchoperate(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!pb_handler_path_is(req, H2O_STRLIT(PB_PATH_BATCH)))
        return pb_handler_not_found(req, started);
    if (!pb_handler_method_is(req, H2O_STRLIT("POST")))
        return pb_handler_method_not_allowed(req, PB_ENDPOINT_BATCHOPERATE, "POST", started);

    pending_write *write = pb_pending_open(sizeof(*write), req, PB_ENDPOINT_BATCHOPERATE, started);
    pb_pending_authenticate(&write->base, on_authenticated);
    return 0;
}

void pb_worker_attach(pb_worker *worker)
{
    worker->writes_queue = h2o_multithread_create_queue(worker->h2o_ctx.loop);
    h2o_multithread_register_receiver(worker->writes_queue, &worker->writes_done, on_writes_done);
    pb_pending_spares_init(worker);
}

/*
 * The writer thread's last touch of the queue is the write() that wakes the
 * loop, and the loop sees a message only after that write: once every write
 * has come back, nothing else can reach the queue.
 */
void pb_worker_detach(pb_worker *worker)
{
    h2o_multithread_unregister_receiver(worker->writes_queue, &worker->writes_done);
    h2o_multithread_destroy_queue(worker->writes_queue);
    worker->writes_queue = NULL;
    pb_pending_spares_free(worker);
}
