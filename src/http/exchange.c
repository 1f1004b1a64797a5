/* exchange.c — the prologue, authentication, answer and end every handler shares (see exchange.h). */
#include <string.h>

#include "common/clock.h"
#include "common/codes.h"
#include "http/exchange.h"
#include "http/handle.h"

static bool path_is(h2o_req_t *req, const pb_route *route)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, route->path, route->path_len);
}

/* Whether the request's method is one of `methods` ("GET, HEAD"). */
static bool method_is_one_of(h2o_req_t *req, const char *methods)
{
    for (const char *method = methods;;) {
        const char *end = strchr(method, ',');
        size_t len = end == NULL ? strlen(method) : (size_t)(end - method);
        if (h2o_memis(req->method.base, req->method.len, method, len))
            return true;
        if (end == NULL)
            return false;
        method = end + 2; /* ", " */
    }
}

/*
 * Counts an answered request in the metrics (API endpoints only) and writes
 * its access-log line; record->micros is set from `started_ns`.
 */
static void record_answered(pb_worker *worker, pb_request_record *record, uint64_t started_ns)
{
    record->micros = (pb_clock_ns() - started_ns) / 1000;
    if (record->endpoint < PB_API_ENDPOINTS)
        pb_metrics_observe_request(record->endpoint, record->operator_type, record->code, record->micros);
    pb_log_buffer_add(&worker->log, record);
}

pb_request_record pb_exchange_record_of(h2o_req_t *req, pb_endpoint endpoint)
{
    pb_request_record record = {.endpoint = endpoint, .code = -1};
    pb_client_of(req, &pb_worker_of(req)->config->trusted_proxies, &record.peer, &record.forwarded);
    return record;
}

void pb_exchange_log_http(pb_worker *worker, pb_request_record *record, int status, uint64_t started_ns)
{
    record->status = status;
    record_answered(worker, record, started_ns);
}

/*
 * The path is logged (escaped): a 404 is worth knowing what was asked. Not
 * its query string, which may carry what a line must never hold.
 */
static void not_found(h2o_req_t *req, uint64_t started_ns)
{
    pb_worker *worker = pb_worker_of(req);
    pb_request_record record = pb_exchange_record_of(req, PB_ENDPOINT_OTHER);
    size_t len = req->query_at != SIZE_MAX && req->query_at < req->path.len ? req->query_at : req->path.len;
    if (len > PB_ACCESSLOG_MAX_PATH + 1)
        len = PB_ACCESSLOG_MAX_PATH + 1;
    char path[PB_ACCESSLOG_MAX_PATH + 1];
    if (len != 0)
        memcpy(path, req->path.base, len);
    record.path = (pb_str){path, len};
    h2o_send_error_404(req, "Not Found", "not found\n", 0);
    pb_exchange_log_http(worker, &record, 404, started_ns);
}

static void method_not_allowed(h2o_req_t *req, const pb_route *route, uint64_t started_ns)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, route->methods, strlen(route->methods));
    pb_worker *worker = pb_worker_of(req);
    pb_request_record record = pb_exchange_record_of(req, route->endpoint);
    h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
    pb_exchange_log_http(worker, &record, 405, started_ns);
}

int pb_handle_unknown_path(h2o_handler_t *self, h2o_req_t *req)
{
    not_found(req, pb_clock_ns());
    return 0;
}

static void on_request_disposed(void *link)
{
    pb_exchange **exchange = link;
    if (*exchange != NULL)
        (*exchange)->req = NULL;
}

void *pb_exchange_begin(h2o_req_t *req, const pb_route *route, size_t size)
{
    uint64_t started = pb_clock_ns();
    if (!path_is(req, route)) {
        not_found(req, started);
        return NULL;
    }
    if (!method_is_one_of(req, route->methods)) {
        method_not_allowed(req, route, started);
        return NULL;
    }
    pb_worker *worker = pb_worker_of(req);
    pb_exchange *exchange = h2o_mem_alloc_recycle(&worker->spare_exchanges, PB_EXCHANGE_BYTES);
    memset(exchange, 0, size);
    exchange->worker = worker;
    exchange->req = req;
    exchange->req_link = h2o_mem_alloc_shared(&req->pool, sizeof(*exchange->req_link), on_request_disposed);
    *exchange->req_link = exchange;
    exchange->record = pb_exchange_record_of(req, route->endpoint);
    exchange->record.status = 200;
    exchange->record.code = route->endpoint < PB_API_ENDPOINTS ? 0 : -1;
    exchange->started_ns = started;
    pb_pool_init(&exchange->pool);
    worker->exchanges++;
    return exchange;
}

/* Authentication reads the secrets the store gave: the app's own, then its named keys in force. */
static int looked_up_secrets(void *arg, uint64_t access_id, const pb_str **secrets, size_t *n)
{
    pb_exchange *exchange = arg;
    for (size_t i = 0; i < exchange->n_looked_up; i++)
        if (exchange->apps[i] == access_id && exchange->secret_rc[i] == PB_STORE_OK) {
            *secrets = exchange->candidates[i].secrets;
            *n = exchange->candidates[i].n;
            return 0;
        }
    return -1;
}

/*
 * The secrets app i accepts now, from its lookup: its SecretKey, then each
 * named key neither expired nor malformed. Revoked keys are gone from the
 * store.
 */
static void gather_candidates(pb_exchange *exchange, size_t i, const pb_store_lookup *lookup)
{
    pb_exchange_candidates *c = &exchange->candidates[i];
    pb_str packed = lookup->keys;
    pb_app_key key;
    size_t cap = 1;
    for (pb_str walk = packed; pb_store_keys_next(&walk, &key);)
        cap++;
    c->secrets = pb_pool_alloc(&exchange->pool, cap * sizeof(*c->secrets));
    c->keys = pb_pool_alloc(&exchange->pool, cap * sizeof(*c->keys));
    c->secrets[0] = lookup->secret;
    c->keys[0] = (pb_app_key){.name = PB_STR_LIT("main"), .role = PB_KEY_WRITE};
    c->n = 1;
    while (pb_store_keys_next(&packed, &key)) {
        if (key.expires_at != 0 && key.expires_at <= (int64_t)exchange->credentials.now)
            continue;
        if (!pb_store_key_name_valid(key.name))
            continue;
        c->secrets[c->n] = key.secret;
        c->keys[c->n++] = key;
    }
}

/* A read key may query bindings and tags, find and read its app's record; everything else writes, or may some day. */
static bool read_key_may(pb_endpoint endpoint)
{
    return endpoint == PB_ENDPOINT_QUERY || endpoint == PB_ENDPOINT_ACCOUNT_FIND || endpoint == PB_ENDPOINT_TAG_QUERY ||
           endpoint == PB_ENDPOINT_APP;
}

static void authenticated(pb_exchange *exchange, int code, uint64_t access_id, const pb_app_key *key)
{
    pb_worker *worker = exchange->worker;
    pb_request_record *record = &exchange->record;
    if (code == PB_OK) {
        record->access_id = access_id;
        record->key_name = key->name;
        if (key->role != PB_KEY_WRITE && !read_key_may(record->endpoint)) {
            code = PB_ERR_AUTH;
            record->auth = PB_AUTH_FAILURE_READ_ONLY;
            record->tried_access_id = access_id;
        } else if (worker->rate_limiter != NULL &&
                   !pb_rate_limiter_allow(worker->rate_limiter, access_id, pb_clock_ns())) {
            code = PB_ERR_RATE;
        }
    }
    if (record->auth != PB_AUTH_FAILURE_NONE)
        pb_metrics_count_auth_failure(record->auth);
    if (worker->throttle != NULL && (record->auth == PB_AUTH_FAILURE_MISSING ||
                                     record->auth == PB_AUTH_FAILURE_UNKNOWN_APP ||
                                     record->auth == PB_AUTH_FAILURE_WRONG_KEY))
        pb_throttle_failed(worker->throttle, pb_exchange_client(record), pb_clock_ns());
    exchange->authenticated(exchange, code);
}

const pb_client_address *pb_exchange_client(const pb_request_record *record)
{
    return record->forwarded.known ? &record->forwarded : &record->peer;
}

/* Why authentication failed, from what the lookups found. */
static pb_auth_failure failure_of(const pb_exchange *exchange)
{
    if (exchange->n_apps == 0)
        return PB_AUTH_FAILURE_MISSING;
    for (size_t i = 0; i < exchange->n_looked_up; i++)
        if (exchange->secret_rc[i] == PB_STORE_OK)
            return PB_AUTH_FAILURE_WRONG_KEY;
    return PB_AUTH_FAILURE_UNKNOWN_APP;
}

static void look_up_next_secret(pb_exchange *exchange);

static void on_secret(void *arg, pb_store_lookup *lookup)
{
    pb_exchange *exchange = arg;
    size_t i = exchange->n_looked_up++;
    exchange->secret_rc[i] = lookup->result;
    exchange->secret_cached |= lookup->cached;
    if (lookup->result == PB_STORE_OK)
        gather_candidates(exchange, i, lookup); /* the secrets are in exchange->pool */
    look_up_next_secret(exchange);
}

/* Looks up the apps' secrets one after the other, then authenticates. */
static void look_up_next_secret(pb_exchange *exchange)
{
    if (exchange->n_looked_up < exchange->n_apps) {
        exchange->secret_lookup = (pb_store_lookup){
            .kind = PB_LOOKUP_SECRET, .access_id = exchange->apps[exchange->n_looked_up], .fresh = exchange->refreshed};
        pb_store_lookup_start(exchange->worker->session, &exchange->secret_lookup, &exchange->pool, on_secret,
                              exchange);
        return;
    }
    uint64_t access_id = 0;
    size_t matched = 0;
    const pb_app_key *key = NULL;
    int code = pb_auth_authenticate_any(&exchange->credentials, looked_up_secrets, exchange, &access_id, &matched);
    /*
     * A key added or a secret replaced reaches other servers' caches by a
     * message from the store, a few milliseconds later: a refusal made from
     * the cache is checked against the store once before it is answered, so
     * a new key passes at once. A wrong key of a cached app costs a store
     * read (the --auth-failures throttle bounds it per address).
     */
    if (code == PB_ERR_AUTH && exchange->secret_cached && !exchange->refreshed) {
        exchange->refreshed = true;
        exchange->secret_cached = false;
        exchange->n_looked_up = 0;
        look_up_next_secret(exchange);
        return;
    }
    for (size_t i = 0; code == PB_OK && key == NULL && i < exchange->n_looked_up; i++)
        if (exchange->apps[i] == access_id && exchange->secret_rc[i] == PB_STORE_OK)
            key = &exchange->candidates[i].keys[matched];
    /* a store that could not say whether an app exists is the store's failure, not the caller's */
    for (size_t i = 0; code != PB_OK && i < exchange->n_looked_up; i++)
        if (exchange->secret_rc[i] == PB_STORE_EIO)
            code = PB_ERR_STORE;
    if (code == PB_ERR_AUTH) {
        exchange->record.auth = failure_of(exchange);
        exchange->record.tried_access_id = exchange->n_apps > 0 ? exchange->apps[0] : 0;
    }
    authenticated(exchange, code, access_id, key);
}

/* A header's value (h2o keeps names in lower case), copied into `pool`; empty when absent. */
static pb_str copy_header(pb_pool *pool, h2o_req_t *req, const char *name, size_t len)
{
    ssize_t index = h2o_find_header_by_str(&req->headers, name, len, -1);
    if (index == -1)
        return (pb_str){NULL, 0};
    h2o_iovec_t value = req->headers.entries[index].value;
    return pb_pool_strdup(pool, (pb_str){value.base, value.len});
}

void pb_exchange_authenticate(pb_exchange *exchange, pb_exchange_authenticated *next)
{
    pb_pool *pool = &exchange->pool;
    h2o_req_t *req = exchange->req;
    /* h2o reads the whole body before the handler runs */
    pb_str body = {req->entity.base, req->entity.base == NULL ? 0 : req->entity.len};
    exchange->credentials = (pb_auth_request){
        .authorization = copy_header(pool, req, H2O_STRLIT("authorization")),
        .access_id = copy_header(pool, req, H2O_STRLIT("accessid")),
        .timestamp = copy_header(pool, req, H2O_STRLIT("timestamp")),
        .sign = copy_header(pool, req, H2O_STRLIT("sign")),
        .body = pb_pool_strdup(pool, body),
        .now = pb_clock_unix_s(),
        .window_seconds = exchange->worker->config->timestamp_window,
    };
    exchange->authenticated = next;
    exchange->n_apps = pb_auth_apps_named(&exchange->credentials, exchange->apps);
    pb_worker *worker = exchange->worker;
    if (worker->throttle != NULL && pb_throttle_blocked(worker->throttle, pb_exchange_client(&exchange->record),
                                                        pb_clock_ns())) {
        exchange->record.auth = PB_AUTH_FAILURE_THROTTLED;
        exchange->record.tried_access_id = exchange->n_apps > 0 ? exchange->apps[0] : 0;
        authenticated(exchange, PB_ERR_RATE, 0, NULL);
        return;
    }
    look_up_next_secret(exchange);
}

h2o_req_t *pb_exchange_answer(pb_exchange *exchange)
{
    h2o_req_t *req = exchange->req;
    if (req != NULL)
        *exchange->req_link = NULL;
    exchange->req = NULL;
    return req;
}

void pb_exchange_end(pb_exchange *exchange)
{
    pb_worker *worker = exchange->worker;
    record_answered(worker, &exchange->record, exchange->started_ns);
    worker->exchanges--;
    pb_pool_clear(&exchange->pool);
    h2o_mem_free_recycle(&worker->spare_exchanges, exchange);
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

void pb_exchange_send(h2o_req_t *req, int status, const char *reason, const char *content_type, pb_str body)
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

void pb_exchange_send_json(h2o_req_t *req, pb_str json)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    pb_exchange_send(req, 200, "OK", "application/json; charset=utf-8", json);
}

int64_t pb_exchange_operator_type(const pb_operator_type *operator_type)
{
    return operator_type->state == PB_FIELD_PRESENT && operator_type->value >= 1 && operator_type->value <= 5
               ? operator_type->value
               : 0;
}
