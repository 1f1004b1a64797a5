/* pending.c — requests that wait for the store (see pending.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codes.h"
#include "http/handler.h"
#include "http/pending.h"

static void on_request_disposed(void *link)
{
    pb_pending **pending = link;
    if (*pending != NULL)
        (*pending)->req = NULL;
}

void pb_pending_spares_init(pb_worker *worker)
{
    worker->spare_pendings = (h2o_mem_recycle_t){.max = PB_PENDING_SPARES};
}

void pb_pending_spares_free(pb_worker *worker)
{
    while (worker->spare_pendings.cnt != 0)
        free(h2o_mem_alloc_recycle(&worker->spare_pendings, PB_PENDING_BYTES));
}

void *pb_pending_open(size_t size, h2o_req_t *req, pb_endpoint endpoint, uint64_t started_ns)
{
    assert(size <= PB_PENDING_BYTES);
    pb_worker *worker = pb_handler_worker(req);
    pb_pending *pending = h2o_mem_alloc_recycle(&worker->spare_pendings, PB_PENDING_BYTES);
    memset(pending, 0, size);
    pending->worker = worker;
    pending->req = req;
    pending->req_link = h2o_mem_alloc_shared(&req->pool, sizeof(*pending->req_link), on_request_disposed);
    *pending->req_link = pending;
    pending->record = (pb_request_record){.endpoint = endpoint, .status = 200};
    pending->started_ns = started_ns;
    pb_pool_init(&pending->pool);
    pending->worker->pending++;
    return pending;
}

static void on_authenticated(void *arg, int code, uint64_t access_id)
{
    pb_pending *pending = arg;
    if (code == PB_OK) {
        pending->record.access_id = access_id;
        code = pb_handler_check_rate(pending->worker, access_id);
    }
    pending->authenticated(pending, code);
}

static pb_str copy_header(pb_pool *pool, h2o_req_t *req, const char *name, size_t len)
{
    return pb_pool_strdup(pool, pb_handler_header(req, name, len));
}

void pb_pending_authenticate(pb_pending *pending, pb_pending_authenticated *next)
{
    pb_pool *pool = &pending->pool;
    h2o_req_t *req = pending->req;
    pending->credentials = (pb_auth_request){
        .authorization = copy_header(pool, req, H2O_STRLIT("authorization")),
        .access_id = copy_header(pool, req, H2O_STRLIT("accessid")),
        .timestamp = copy_header(pool, req, H2O_STRLIT("timestamp")),
        .sign = copy_header(pool, req, H2O_STRLIT("sign")),
        .body = pb_pool_strdup(pool, pb_handler_body(req)),
        .now = time(NULL),
        .window_seconds = pending->worker->config->timestamp_window,
    };
    pending->authenticated = next;
    pb_auth_pending_start(&pending->auth, pending->worker->session, &pending->credentials, pool, on_authenticated,
                          pending);
}

h2o_req_t *pb_pending_answer(pb_pending *pending)
{
    h2o_req_t *req = pending->req;
    if (req != NULL)
        *pending->req_link = NULL;
    pending->req = NULL;
    return req;
}

void pb_pending_close(pb_pending *pending)
{
    pb_handler_finish(pending->worker, &pending->record, pending->started_ns);
    pending->worker->pending--;
    pb_pool_clear(&pending->pool);
    h2o_mem_free_recycle(&pending->worker->spare_pendings, pending);
}
