/* handler.c — the pieces every HTTP handler shares (see handler.h). */
#include <string.h>

#include "common/clock.h"
#include "common/codes.h"
#include "http/handler.h"

bool pb_handler_path_is(h2o_req_t *req, const char *path, size_t len)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, len);
}

bool pb_handler_method_is(h2o_req_t *req, const char *method, size_t len)
{
    return h2o_memis(req->method.base, req->method.len, method, len);
}

pb_str pb_handler_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t index = h2o_find_header_by_str(&req->headers, name, len, -1);
    if (index == -1)
        return (pb_str){NULL, 0};
    h2o_iovec_t value = req->headers.entries[index].value;
    return (pb_str){value.base, value.len};
}

pb_str pb_handler_body(h2o_req_t *req)
{
    return (pb_str){req->entity.base, req->entity.base == NULL ? 0 : req->entity.len};
}

/*
 * An answer's body, handed to h2o by pull where the connection takes it that
 * way (HTTP/1 without filters): h2o then copies it into the buffer that holds
 * the headers, and the answer leaves in one buffer, one TLS record where two
 * SSL_write()s made two. HTTP/2 streams take it by h2o_send().
 */
typedef struct pulled_body {
    h2o_generator_t super;
    pb_str body;
    size_t sent;
} pulled_body;

static h2o_send_state_t pull_body(h2o_generator_t *generator, h2o_req_t *req, h2o_iovec_t *buf)
{
    pulled_body *self = (pulled_body *)generator;
    size_t n = self->body.len - self->sent;
    if (n > buf->len)
        n = buf->len;
    if (n != 0)
        memcpy(buf->base, self->body.base + self->sent, n);
    buf->len = n;
    self->sent += n;
    return self->sent == self->body.len ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
}

void pb_handler_send(h2o_req_t *req, int status, const char *reason, const char *content_type, pb_str body)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    pulled_body *pulled = h2o_mem_alloc_pool(&req->pool, sizeof(*pulled));
    *pulled = (pulled_body){{NULL, NULL}, body, 0};
    h2o_start_response(req, &pulled->super);
    if (req->_ostr_top->start_pull != NULL) {
        req->_ostr_top->start_pull(req->_ostr_top, pull_body);
        return;
    }
    h2o_iovec_t buf = h2o_iovec_init(body.base, body.len);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void pb_handler_send_json(h2o_req_t *req, pb_str json)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    pb_handler_send(req, 200, "OK", "application/json; charset=utf-8", json);
}

void pb_handler_finish(pb_worker *worker, pb_request_record *record, uint64_t started_ns)
{
    record->micros = (pb_clock_ns() - started_ns) / 1000;
    if (record->endpoint < PB_API_ENDPOINTS)
        pb_metrics_observe_request(record->endpoint, record->operator_type, record->code, record->micros);
    pb_log_buffer_add(&worker->log, record);
}

int pb_handler_not_found(h2o_req_t *req, uint64_t started_ns)
{
    pb_worker *worker = pb_handler_worker(req);
    h2o_send_error_404(req, "Not Found", "not found\n", 0);
    pb_endpoints_log_http(worker, PB_ENDPOINT_OTHER, 404, started_ns);
    return 0;
}

int pb_handler_method_not_allowed(h2o_req_t *req, pb_endpoint endpoint, const char *allow, uint64_t started_ns)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    pb_worker *worker = pb_handler_worker(req);
    h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
    pb_endpoints_log_http(worker, endpoint, 405, started_ns);
    return 0;
}

int pb_handler_check_rate(pb_worker *worker, uint64_t access_id)
{
    if (worker->rate_limiter == NULL)
        return PB_OK;
    return pb_rate_limiter_allow(worker->rate_limiter, access_id, pb_clock_ns()) ? PB_OK : PB_ERR_RATE;
}

int64_t pb_handler_operator_type(const pb_operator_type *operator_type)
{
    return operator_type->state == PB_FIELD_PRESENT && operator_type->value >= 1 && operator_type->value <= 5
               ? operator_type->value
               : 0;
}
