/*
 * The HTTP handlers. Each API handler has the same shape:
 *
 *   path and method → authenticate → decode → endpoint → encode → 200
 *
 * Any step that fails sets the request-level code and skips to encoding, so
 * every API outcome, errors included, is one JSON answer with HTTP 200
 * (published TPNS clients treat any other status as a transport failure).
 * HTTP-level problems keep their HTTP statuses: 404, 405, 413 (sent by h2o
 * itself when a body exceeds max_request_entity_size) and 431 (headers over
 * max_header_bytes, checked by limits.c ahead of every handler). An app over
 * its rate limit is answered 1008028 right after authentication.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api/api.h"
#include "api/app_info.h"
#include "auth/auth.h"
#include "codec/codec.h"
#include "common/clock.h"
#include "common/codes.h"
#include "http/console.h"
#include "http/endpoints.h"
#include "http/limits.h"

#define QUERY_PATH "/v3/device/account/query"
#define BATCH_PATH "/v3/device/account/batchoperate"
#define HEALTH_PATH "/healthz"
#define METRICS_PATH "/metrics"
#define APP_PATH "/pushbind/v1/app"

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

/* The operator_type a request sent, when it is one of 1–5; else 0. */
static int64_t operator_type_of(const pb_operator_type *operator_type)
{
    return operator_type->state == PB_FIELD_PRESENT && operator_type->value >= 1 && operator_type->value <= 5
               ? operator_type->value
               : 0;
}

/* Counts an answered request and writes its access-log line. */
static void finish_request(pb_worker *worker, pb_request_record *record, uint64_t started_ns)
{
    record->micros = (pb_clock_ns() - started_ns) / 1000;
    if (record->endpoint < PB_API_ENDPOINTS)
        pb_metrics_observe_request(record->endpoint, record->operator_type, record->code, record->micros);
    pb_log_buffer_add(&worker->log, record);
}

void pb_endpoints_log_http(pb_worker *worker, pb_endpoint endpoint, int status, uint64_t started_ns)
{
    pb_request_record record = {.endpoint = endpoint, .code = -1, .status = status};
    finish_request(worker, &record, started_ns);
}

static int send_not_found(h2o_req_t *req, uint64_t started_ns)
{
    pb_worker *worker = worker_of(req);
    h2o_send_error_404(req, "Not Found", "not found\n", 0);
    pb_endpoints_log_http(worker, PB_ENDPOINT_OTHER, 404, started_ns);
    return 0;
}

static int send_method_not_allowed(h2o_req_t *req, pb_endpoint endpoint, const char *allow, uint64_t started_ns)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    pb_worker *worker = worker_of(req);
    h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
    pb_endpoints_log_http(worker, endpoint, 405, started_ns);
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

/* PB_OK, or PB_ERR_RATE when app `access_id` is over its rate limit (nothing is read or changed then). */
static int check_rate(pb_worker *worker, uint64_t access_id)
{
    if (worker->rate_limiter == NULL)
        return PB_OK;
    return pb_rate_limiter_allow(worker->rate_limiter, access_id, pb_clock_ns()) ? PB_OK : PB_ERR_RATE;
}

/*
 * A query waiting for the store: first for its app's secret, then for its
 * lookup. Like a pending_write (below) it owns copies of what it needs — the
 * body, the credentials, everything decoded — because the request may be
 * disposed of while the store answers (an HTTP/2 stream reset, a closed
 * connection); `req` is then cleared and the answer is dropped. A backend
 * that reads at once calls back before pb_store_lookup_start() returns, and
 * the whole query then runs inside on_query.
 */
typedef struct pending_query {
    pb_worker *worker;
    h2o_req_t *req;
    struct pending_query **req_link; /* lives in req's pool; points back here */
    pb_pool pool;
    pb_auth_request credentials;
    /* the apps the credentials name (Basic and Signature may name two) and their secrets */
    uint64_t apps[2];
    int secret_rc[2];
    pb_str secrets[2];
    size_t n_apps, n_looked_up;
    pb_store_lookup secret_lookup;
    pb_query_request request;
    pb_query_plan plan;
    pb_request_record record;
    uint64_t started_ns, lookup_started_ns;
} pending_query;

static void on_query_disposed(void *link)
{
    pending_query **query = link;
    if (*query != NULL)
        (*query)->req = NULL;
}

/* Answers (when the request is still there), logs and frees the query. */
static void finish_query(pending_query *query, const pb_query_response *response)
{
    if (query->req != NULL) {
        *query->req_link = NULL; /* sending may dispose of the request */
        send_json(query->req, pb_encode_query(&query->req->pool, response));
    }
    query->record.items = response->n;
    query->record.code = response->code;
    finish_request(query->worker, &query->record, query->started_ns);
    query->worker->lookups_pending--;
    pb_pool_clear(&query->pool);
    free(query);
}

/* The first pass of authentication only learns which apps it needs. */
static int note_app(void *arg, uint64_t access_id, pb_str *secret)
{
    pending_query *query = arg;
    if (query->n_apps < 2 && (query->n_apps == 0 || query->apps[0] != access_id))
        query->apps[query->n_apps++] = access_id;
    return -1;
}

/* The second pass reads the secrets the store gave. */
static int looked_up_secret(void *arg, uint64_t access_id, pb_str *secret)
{
    pending_query *query = arg;
    for (size_t i = 0; i < query->n_looked_up; i++)
        if (query->apps[i] == access_id && query->secret_rc[i] == PB_STORE_OK) {
            *secret = query->secrets[i];
            return 0;
        }
    return -1;
}

static void on_query_looked_up(void *arg, pb_store_lookup *lookup)
{
    pending_query *query = arg;
    pb_metrics_observe_store_lookup(pb_clock_ns() - query->lookup_started_ns);
    pb_query_response response;
    pb_api_query_merge(&query->plan, &response);
    finish_query(query, &response); /* encodes while the lookup's strings are valid */
}

/* Authenticated: rate, decode, validate, then the one lookup. */
static void query_authenticated(pending_query *query, uint64_t access_id)
{
    pb_worker *worker = query->worker;
    query->record.access_id = access_id;
    pb_query_response response = {0};
    if (check_rate(worker, access_id) != PB_OK) {
        response.code = PB_ERR_RATE;
        finish_query(query, &response);
        return;
    }
    pb_str body = query->credentials.body;
    if (pb_decode_query(&query->pool, body.base, body.len, &query->request) != PB_OK) {
        response.code = PB_ERR_PARSE;
        finish_query(query, &response);
        return;
    }
    query->record.operator_type = operator_type_of(&query->request.operator_type);
    int code = pb_api_query_plan(&worker->config->api, access_id, &query->request, &query->pool, &query->plan);
    if (code != PB_OK || query->plan.lookup.n == 0) {
        if (code == PB_OK)
            pb_api_query_merge(&query->plan, &response);
        else
            response.code = code;
        finish_query(query, &response);
        return;
    }
    query->lookup_started_ns = pb_clock_ns();
    pb_store_lookup_start(worker->session, &query->plan.lookup, &query->pool, on_query_looked_up, query);
}

static void look_up_next_secret(pending_query *query);

static void on_query_secret(void *arg, pb_store_lookup *lookup)
{
    pending_query *query = arg;
    size_t i = query->n_looked_up++;
    query->secret_rc[i] = lookup->result;
    query->secrets[i] = lookup->secret; /* in our pool */
    look_up_next_secret(query);
}

/* Looks up the apps' secrets one after the other, then authenticates. */
static void look_up_next_secret(pending_query *query)
{
    if (query->n_looked_up < query->n_apps) {
        query->secret_lookup = (pb_store_lookup){.kind = PB_LOOKUP_SECRET, .access_id = query->apps[query->n_looked_up]};
        pb_store_lookup_start(query->worker->session, &query->secret_lookup, &query->pool, on_query_secret, query);
        return;
    }
    uint64_t access_id = 0;
    int code = pb_auth_authenticate(&query->credentials, looked_up_secret, query, &access_id);
    if (code == PB_OK) {
        query_authenticated(query, access_id);
        return;
    }
    /* a store that could not say whether an app exists is the store's failure, not the caller's */
    for (size_t i = 0; i < query->n_looked_up; i++)
        if (query->secret_rc[i] == PB_STORE_EIO)
            code = PB_ERR_STORE;
    finish_query(query, &(pb_query_response){.code = code});
}

static pb_str copy_header(pb_pool *pool, h2o_req_t *req, const char *name, size_t len)
{
    return pb_pool_strdup(pool, header_value(req, name, len));
}

static int on_query(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!path_is(req, H2O_STRLIT(QUERY_PATH)))
        return send_not_found(req, started);
    if (!method_is(req, H2O_STRLIT("POST")))
        return send_method_not_allowed(req, PB_ENDPOINT_QUERY, "POST", started);

    pb_worker *worker = worker_of(req);
    pending_query *query = calloc(1, sizeof(*query));
    if (query == NULL) {
        send_json(req, pb_encode_query(&req->pool, &(pb_query_response){.code = PB_ERR_STORE}));
        pb_request_record failed = {.endpoint = PB_ENDPOINT_QUERY, .status = 200, .code = PB_ERR_STORE};
        finish_request(worker, &failed, started);
        return 0;
    }
    query->worker = worker;
    query->req = req;
    query->req_link = h2o_mem_alloc_shared(&req->pool, sizeof(*query->req_link), on_query_disposed);
    *query->req_link = query;
    query->record = (pb_request_record){.endpoint = PB_ENDPOINT_QUERY, .status = 200};
    query->started_ns = started;
    pb_pool_init(&query->pool);
    worker->lookups_pending++;
    pb_pool *pool = &query->pool;
    query->credentials = (pb_auth_request){
        .authorization = copy_header(pool, req, H2O_STRLIT("authorization")),
        .access_id = copy_header(pool, req, H2O_STRLIT("accessid")),
        .timestamp = copy_header(pool, req, H2O_STRLIT("timestamp")),
        .sign = copy_header(pool, req, H2O_STRLIT("sign")),
        .body = pb_pool_strdup(pool, request_body(req)),
        .now = time(NULL),
        .window_seconds = worker->config->timestamp_window,
    };
    uint64_t unused;
    pb_auth_authenticate(&query->credentials, note_app, query, &unused);
    look_up_next_secret(query);
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
    pb_request_record record; /* for the access log and metrics, completed when the write is */
    uint64_t started_ns;
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
        write->record.items = write->response.n;
        write->record.code = write->response.code;
        finish_request(worker, &write->record, write->started_ns);
        worker->writes_pending--;
        pb_pool_clear(&write->pool);
        free(write);
    }
}

/* Decodes the body into the write's own pool and hands it to the store. */
static void start_write(pb_worker *worker, h2o_req_t *req, uint64_t access_id, const pb_request_record *record,
                        uint64_t started_ns)
{
    pending_write *write = calloc(1, sizeof(*write));
    if (write == NULL) {
        send_json(req, pb_encode_batch(&req->pool, &(pb_batch_response){.code = PB_ERR_STORE}));
        pb_request_record failed = *record;
        failed.code = PB_ERR_STORE;
        finish_request(worker, &failed, started_ns);
        return;
    }
    write->record = *record;
    write->started_ns = started_ns;
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
    write->record.operator_type = operator_type_of(&request.operator_type);
    pb_api_batchoperate(&worker->config->api, worker->session, access_id, &request, &write->pool,
                        &write->response, on_write_done, write);
}

/* Answers once the store has committed the write (see pending_write). */
static int on_batchoperate(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!path_is(req, H2O_STRLIT(BATCH_PATH)))
        return send_not_found(req, started);
    if (!method_is(req, H2O_STRLIT("POST")))
        return send_method_not_allowed(req, PB_ENDPOINT_BATCHOPERATE, "POST", started);

    pb_worker *worker = worker_of(req);
    pb_request_record record = {.endpoint = PB_ENDPOINT_BATCHOPERATE, .status = 200};
    uint64_t access_id = 0;
    int code = PB_ERR_STORE;

    pb_store_view *view = pb_store_view_begin(worker->session);
    if (view != NULL) {
        code = authenticate(worker, req, view, &access_id);
        pb_store_view_end(view); /* the write must not wait behind a snapshot of ours */
    }
    if (code == PB_OK)
        code = check_rate(worker, access_id);
    if (code == PB_OK) {
        record.access_id = access_id;
        start_write(worker, req, access_id, &record, started);
        return 0;
    }
    send_json(req, pb_encode_batch(&req->pool, &(pb_batch_response){.code = code}));
    record.code = code;
    finish_request(worker, &record, started);
    return 0;
}

/*
 * GET /pushbind/v1/app (a pushbind extension): authenticated like the API,
 * a Signature then covering the empty body; answered 200 with the code in
 * the body like the API.
 */
static int on_app(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!path_is(req, H2O_STRLIT(APP_PATH)))
        return send_not_found(req, started);
    if (!method_is(req, H2O_STRLIT("GET")))
        return send_method_not_allowed(req, PB_ENDPOINT_APP, "GET", started);

    pb_worker *worker = worker_of(req);
    pb_request_record record = {.endpoint = PB_ENDPOINT_APP, .status = 200};
    pb_app_info_response response = {.code = PB_ERR_STORE};
    uint64_t access_id = 0;
    pb_store_view *view = pb_store_view_begin(worker->session);
    if (view != NULL) {
        response.code = authenticate(worker, req, view, &access_id);
        pb_store_view_end(view);
    }
    if (response.code == PB_OK)
        response.code = check_rate(worker, access_id);
    if (response.code == PB_OK)
        pb_api_app_info(&worker->config->api, worker->session, access_id, &response);
    send_json(req, pb_encode_app_info(&req->pool, &response));
    record.access_id = access_id;
    record.code = response.code;
    finish_request(worker, &record, started);
    return 0;
}

static int on_healthz(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!path_is(req, H2O_STRLIT(HEALTH_PATH)))
        return send_not_found(req, started);
    if (!method_is(req, H2O_STRLIT("GET")) && !method_is(req, H2O_STRLIT("HEAD")))
        return send_method_not_allowed(req, PB_ENDPOINT_HEALTHZ, "GET, HEAD", started);
    pb_worker *worker = worker_of(req);
    if (pb_store_ping(worker->session) != PB_STORE_OK) {
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
        pb_endpoints_log_http(worker, PB_ENDPOINT_HEALTHZ, 503, started);
        return 0;
    }
    send_body(req, 200, "OK", "text/plain; charset=utf-8", PB_STR_LIT("ok\n"));
    pb_endpoints_log_http(worker, PB_ENDPOINT_HEALTHZ, 200, started);
    return 0;
}

/* The apps of a scrape, gathered into the request's pool. */
typedef struct app_gather {
    pb_pool *pool;
    pb_metrics_app *apps;
    size_t n, capacity;
} app_gather;

static void gather_app(void *arg, const pb_app_info *app)
{
    app_gather *g = arg;
    if (g->n == g->capacity) {
        size_t capacity = g->capacity == 0 ? 16 : g->capacity * 2;
        pb_metrics_app *grown = pb_pool_alloc(g->pool, capacity * sizeof(*grown));
        if (g->n != 0)
            memcpy(grown, g->apps, g->n * sizeof(*grown));
        g->apps = grown;
        g->capacity = capacity;
    }
    g->apps[g->n++] = (pb_metrics_app){app->access_id, app->bindings};
}

/*
 * GET /metrics: Prometheus text format. The app counts come from the store at
 * scrape time (each app record keeps its bindings count), the rest from the
 * registry's shards. Unauthenticated, like /healthz.
 */
static int on_metrics(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!path_is(req, H2O_STRLIT(METRICS_PATH)))
        return send_not_found(req, started);
    if (!method_is(req, H2O_STRLIT("GET")))
        return send_method_not_allowed(req, PB_ENDPOINT_METRICS, "GET", started);
    pb_worker *worker = worker_of(req);
    app_gather apps = {.pool = &req->pool};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL || pb_store_app_list(worker->session, gather_app, &apps) != PB_STORE_OK) {
        if (out != NULL)
            fclose(out);
        free(text);
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
        pb_endpoints_log_http(worker, PB_ENDPOINT_METRICS, 503, started);
        return 0;
    }
    pb_metrics_render(worker->metrics, apps.apps, apps.n, out);
    pb_metrics_render_process(out);
    pb_store_space space; /* a store without a capacity of its own (Redis) has no such series */
    if (pb_store_space_of(worker->session, &space) == PB_STORE_OK)
        pb_metrics_render_space(&(pb_metrics_space){space.size_bytes, space.capacity_bytes, space.reserve_bytes},
                                out);
    fclose(out);
    pb_str body = pb_pool_strdup(&req->pool, (pb_str){text, len});
    free(text);
    send_body(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
    pb_endpoints_log_http(worker, PB_ENDPOINT_METRICS, 200, started);
    return 0;
}

static int on_unknown_path(h2o_handler_t *self, h2o_req_t *req)
{
    return send_not_found(req, pb_clock_ns());
}

static void register_handler(h2o_hostconf_t *host, const char *path, int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, path, 0);
    pb_header_limit_register(pathconf);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}

void pb_endpoints_register(h2o_hostconf_t *host, bool operator_paths)
{
    register_handler(host, QUERY_PATH, on_query);
    register_handler(host, BATCH_PATH, on_batchoperate);
    register_handler(host, APP_PATH, on_app);
    if (operator_paths) {
        register_handler(host, HEALTH_PATH, on_healthz);
        register_handler(host, METRICS_PATH, on_metrics);
        pb_console_register(host);
    }
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
