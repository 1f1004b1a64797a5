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

/* The secret lookup's view, and whether the store (not the app) was missing. */
struct secret_lookup {
    pb_store_view *view;
    bool store_failed;
};

static int lookup_secret(void *arg, uint64_t access_id, pb_str *secret)
{
    struct secret_lookup *lookup = arg;
    int rc = pb_store_app_secret(lookup->view, access_id, secret);
    lookup->store_failed = rc == PB_STORE_EIO;
    return rc == PB_STORE_OK ? 0 : -1;
}

/*
 * Returns PB_OK and sets *access_id, PB_ERR_AUTH, or PB_ERR_STORE when the
 * store could not say whether the app exists (a networked store that is down).
 */
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
    struct secret_lookup lookup = {view, false};
    int code = pb_auth_authenticate(&credentials, lookup_secret, &lookup, access_id);
    return code != PB_OK && lookup.store_failed ? PB_ERR_STORE : code;
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
    int code = view == NULL ? PB_ERR_STORE : authenticate(worker, req, view, &access_id);
    if (code != PB_OK)
        response.code = code;
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

static int on_batchoperate(h2o_handler_t *self, h2o_req_t *req)
{
    if (!path_is(req, H2O_STRLIT(BATCH_PATH)))
        return send_not_found(req);
    if (!method_is(req, H2O_STRLIT("POST")))
        return send_method_not_allowed(req, "POST");

    pb_worker *worker = worker_of(req);
    pb_str body = request_body(req);
    pb_batch_request request;
    pb_batch_response response = {0};
    uint64_t access_id;

    pb_store_view *view = pb_store_view_begin(worker->session);
    if (view == NULL) {
        response.code = PB_ERR_STORE;
    } else {
        int code = authenticate(worker, req, view, &access_id);
        pb_store_view_end(view); /* the write below must not hold a snapshot */
        if (code != PB_OK)
            response.code = code;
        else if (pb_decode_batch(&req->pool, body.base, body.len, &request) != PB_OK)
            response.code = PB_ERR_PARSE;
        else
            pb_api_batchoperate(&worker->config->api, worker->session, access_id, &request, &req->pool, &response);
    }
    send_json(req, pb_encode_batch(&req->pool, &response));
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
