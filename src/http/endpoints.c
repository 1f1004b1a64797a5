/*
 * The HTTP handlers. Each API handler has the same shape:
 *
 *   path and method → authenticate → decode → endpoint → encode → 200
 *
 * Any step that fails sets the request-level code and skips to encoding, so
 * every API outcome, errors included, is one JSON answer with HTTP 200
 * (published TPNS clients treat any other status as a transport failure).
 * HTTP-level problems keep their HTTP statuses: 404, 405, and 413 (sent by h2o
 * itself when a body exceeds max_request_entity_size).
 */
#include <stdlib.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "codec/codec.h"
#include "common/codes.h"
#include "http/endpoints.h"

#define QUERY_PATH "/v3/device/account/query"
#define BATCH_PATH "/v3/device/account/batchoperate"
#define HEALTH_PATH "/healthz"

static pb_worker *worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(pb_worker, h2o_ctx, req->conn->ctx);
}

/*
 * h2o matches a registered path as a prefix ("/healthz/x" reaches the
 * /healthz handler), so each handler checks that the path is its own.
 */
static bool path_is(h2o_req_t *req, const char *path, size_t len)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, len);
}

static bool method_is(h2o_req_t *req, const char *method, size_t len)
{
    return h2o_memis(req->method.base, req->method.len, method, len);
}

/* The value of a header (h2o keeps names in lower case); empty when absent. */
static pb_str header_value(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t index = h2o_find_header_by_str(&req->headers, name, len, -1);
    if (index == -1)
        return (pb_str){NULL, 0};
    h2o_iovec_t value = req->headers.entries[index].value;
    return (pb_str){value.base, value.len};
}

static pb_str request_body(h2o_req_t *req)
{
    return (pb_str){req->entity.base, req->entity.base == NULL ? 0 : req->entity.len};
}

static void send_body(h2o_req_t *req, int status, const char *reason, const char *content_type, pb_str body)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = h2o_iovec_init(body.base, body.len);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static void send_json(h2o_req_t *req, pb_str json)
{
    send_body(req, 200, "OK", "application/json; charset=utf-8", json);
}

static int send_not_found(h2o_req_t *req)
{
    h2o_send_error_404(req, "Not Found", "not found\n", 0);
    return 0;
}

static int send_method_not_allowed(h2o_req_t *req, const char *allow)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
    return 0;
}

static int lookup_secret(void *view, uint64_t access_id, pb_str *secret)
{
    return pb_store_app_secret(view, access_id, secret) == PB_STORE_OK ? 0 : -1;
}

/* Returns PB_OK and sets *access_id, or PB_ERR_AUTH. */
static int authenticate(pb_worker *worker, h2o_req_t *req, pb_store_view *view, uint64_t *access_id)
{
    pb_auth_request credentials = {
        .authorization = header_value(req, H2O_STRLIT("authorization")),
        .access_id = header_value(req, H2O_STRLIT("accessid")),
        .timestamp = header_value(req, H2O_STRLIT("timestamp")),
        .sign = header_value(req, H2O_STRLIT("sign")),
        .body = request_body(req),
        .now = time(NULL),
        .window_seconds = worker->config->timestamp_window,
    };
    return pb_auth_authenticate(&credentials, lookup_secret, view, access_id);
}

static int on_query(h2o_handler_t *self, h2o_req_t *req)
{
    if (!path_is(req, H2O_STRLIT(QUERY_PATH)))
        return send_not_found(req);
    if (!method_is(req, H2O_STRLIT("POST")))
        return send_method_not_allowed(req, "POST");

    pb_worker *worker = worker_of(req);
    pb_str body = request_body(req);
    pb_query_request request;
    pb_query_response response = {0};
    uint64_t access_id;

    /* One snapshot serves the secret lookup and the query. */
    pb_store_view *view = pb_store_view_begin(worker->session);
    if (view == NULL)
        response.code = PB_ERR_STORE;
    else if (authenticate(worker, req, view, &access_id) != PB_OK)
        response.code = PB_ERR_AUTH;
    else if (pb_decode_query(&req->pool, body.base, body.len, &request) != PB_OK)
        response.code = PB_ERR_PARSE;
    else
        pb_api_query(&worker->config->api, view, access_id, &request, &req->pool, &response);

    /* The answer's strings may point into the snapshot: encode before ending it. */
    pb_str json = pb_encode_query(&req->pool, &response);
    if (view != NULL)
        pb_store_view_end(view);
    send_json(req, json);
    return 0;
}

/*
 * A batchoperate waiting for the store's writer thread. The loop goes on
 * serving other connections meanwhile, so the write's data cannot live in the
 * request's pool: an HTTP/2 client may reset the stream and h2o then frees
 * the request while the writer still reads the changes. The write owns a
 * copy of the body and everything decoded from it; `req` is cleared if the
 * request goes away first, and the answer is then dropped.
 */
typedef struct pending_write {
    h2o_multithread_message_t message; /* first: zeroed, as h2o requires of a new message */
    pb_worker *worker;
    h2o_req_t *req;
    struct pending_write **req_link; /* lives in req's pool; points back here */
    pb_pool pool;
    pb_batch_response response;
} pending_write;

static void on_request_disposed(void *link)
{
    pending_write **write = link;
    if (*write != NULL)
        (*write)->req = NULL;
}

/* Runs on the store's writer thread (or at once on ours): only wakes the loop. */
static void on_write_done(void *arg)
{
    pending_write *write = arg;
    h2o_multithread_send_message(&write->worker->writes_done, &write->message);
}

/* Runs on the loop: answers each finished write whose request is still there. */
static void on_writes_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    pb_worker *worker = H2O_STRUCT_FROM_MEMBER(pb_worker, writes_done, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        pending_write *write = H2O_STRUCT_FROM_MEMBER(pending_write, message.link, messages->next);
        h2o_linklist_unlink(&write->message.link);
        if (write->req != NULL) {
            *write->req_link = NULL; /* sending may dispose of the request */
            send_json(write->req, pb_encode_batch(&write->req->pool, &write->response));
        }
        worker->writes_pending--;
        pb_pool_clear(&write->pool);
        free(write);
    }
}

/* Decodes the body into the write's own pool and hands it to the store. */
static void start_write(pb_worker *worker, h2o_req_t *req, uint64_t access_id)
{
    pending_write *write = calloc(1, sizeof(*write));
    if (write == NULL) {
        send_json(req, pb_encode_batch(&req->pool, &(pb_batch_response){.code = PB_ERR_STORE}));
        return;
    }
    write->worker = worker;
    write->req = req;
    write->req_link = h2o_mem_alloc_shared(&req->pool, sizeof(*write->req_link), on_request_disposed);
    *write->req_link = write;
    pb_pool_init(&write->pool);
    worker->writes_pending++;

    pb_str body = pb_pool_strdup(&write->pool, request_body(req));
    pb_batch_request request;
    if (pb_decode_batch(&write->pool, body.base, body.len, &request) != PB_OK) {
        write->response.code = PB_ERR_PARSE;
        on_write_done(write);
        return;
    }
    pb_api_batchoperate(&worker->config->api, worker->session, access_id, &request, &write->pool,
                        &write->response, on_write_done, write);
}

/* Answers once the store has committed the write (see pending_write). */
static int on_batchoperate(h2o_handler_t *self, h2o_req_t *req)
{
    if (!path_is(req, H2O_STRLIT(BATCH_PATH)))
        return send_not_found(req);
    if (!method_is(req, H2O_STRLIT("POST")))
        return send_method_not_allowed(req, "POST");

    pb_worker *worker = worker_of(req);
    uint64_t access_id;
    int code = PB_ERR_STORE;

    pb_store_view *view = pb_store_view_begin(worker->session);
    if (view != NULL) {
        code = authenticate(worker, req, view, &access_id);
        pb_store_view_end(view);
    }
    if (code == PB_OK)
        start_write(worker, req, access_id);
    else
        send_json(req, pb_encode_batch(&req->pool, &(pb_batch_response){.code = code}));
    return 0;
}

static int on_healthz(h2o_handler_t *self, h2o_req_t *req)
{
    if (!path_is(req, H2O_STRLIT(HEALTH_PATH)))
        return send_not_found(req);
    if (!method_is(req, H2O_STRLIT("GET")) && !method_is(req, H2O_STRLIT("HEAD")))
        return send_method_not_allowed(req, "GET, HEAD");
    if (pb_store_ping(worker_of(req)->session) != PB_STORE_OK) {
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
        return 0;
    }
    send_body(req, 200, "OK", "text/plain; charset=utf-8", PB_STR_LIT("ok\n"));
    return 0;
}

static int on_unknown_path(h2o_handler_t *self, h2o_req_t *req)
{
    return send_not_found(req);
}

static void register_handler(h2o_hostconf_t *host, const char *path, int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, path, 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}

void pb_endpoints_register(h2o_hostconf_t *host)
{
    register_handler(host, QUERY_PATH, on_query);
    register_handler(host, BATCH_PATH, on_batchoperate);
    register_handler(host, HEALTH_PATH, on_healthz);
    register_handler(host, "/", on_unknown_path);
}

void pb_worker_attach(pb_worker *worker)
{
    worker->writes_queue = h2o_multithread_create_queue(worker->h2o_ctx.loop);
    h2o_multithread_register_receiver(worker->writes_queue, &worker->writes_done, on_writes_done);
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
}
