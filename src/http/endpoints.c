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
 *
 * No handler waits for the store on the loop: the ones that read or write it
 * hand a pb_pending to it (pending.h) and answer from its callback — the
 * query (pending_query.c), batchoperate (pending_write.c), and here
 * /pushbind/v1/app, /healthz and /metrics.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/app_info.h"
#include "codec/codec.h"
#include "common/clock.h"
#include "common/codes.h"
#include "http/console.h"
#include "http/handler.h"
#include "http/limits.h"
#include "http/pending.h"

void pb_endpoints_log_http(pb_worker *worker, pb_endpoint endpoint, int status, uint64_t started_ns)
{
    pb_request_record record = {.endpoint = endpoint, .code = -1, .status = status};
    pb_handler_finish(worker, &record, started_ns);
}

/* GET /pushbind/v1/app waiting for its app's secret, then for the app's record. */
typedef struct pending_app {
    pb_pending base; /* first: see pb_pending_open() */
    pb_store_lookup lookup;
} pending_app;

static void finish_app(pending_app *app, const pb_app_info_response *response)
{
    h2o_req_t *req = pb_pending_answer(&app->base);
    if (req != NULL)
        pb_handler_send_json(req, pb_encode_app_info(&req->pool, response));
    app->base.record.code = response->code;
    pb_pending_close(&app->base);
}

static void on_app_record(void *arg, pb_store_lookup *lookup)
{
    pending_app *app = arg;
    pb_worker *worker = app->base.worker;
    pb_app_info_response response;
    pb_api_app_info(&worker->config->api, pb_store_limits_of(worker->session), lookup, &response);
    finish_app(app, &response);
}

static void on_app_authenticated(pb_pending *pending, int code)
{
    pending_app *app = (pending_app *)pending;
    if (code != PB_OK) {
        finish_app(app, &(pb_app_info_response){.code = code});
        return;
    }
    app->lookup = (pb_store_lookup){.kind = PB_LOOKUP_APP, .access_id = pending->record.access_id};
    pb_store_lookup_start(pending->worker->session, &app->lookup, &pending->pool, on_app_record, app);
}

/*
 * GET /pushbind/v1/app (a pushbind extension): authenticated like the API,
 * a Signature then covering the empty body; answered 200 with the code in
 * the body like the API.
 */
static int on_app(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!pb_handler_path_is(req, H2O_STRLIT(PB_PATH_APP)))
        return pb_handler_not_found(req, started);
    if (!pb_handler_method_is(req, H2O_STRLIT("GET")))
        return pb_handler_method_not_allowed(req, PB_ENDPOINT_APP, "GET", started);

    pending_app *app = pb_pending_open(sizeof(*app), req, PB_ENDPOINT_APP, started);
    pb_pending_authenticate(&app->base, on_app_authenticated);
    return 0;
}

/* GET /healthz waiting for the store's PING. */
typedef struct pending_health {
    pb_pending base; /* first: see pb_pending_open() */
    pb_store_lookup ping;
} pending_health;

static void on_ping(void *arg, pb_store_lookup *ping)
{
    pending_health *health = arg;
    bool up = ping->result == PB_STORE_OK;
    h2o_req_t *req = pb_pending_answer(&health->base);
    if (req != NULL && up)
        pb_handler_send(req, 200, "OK", "text/plain; charset=utf-8", PB_STR_LIT("ok\n"));
    else if (req != NULL)
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
    health->base.record.status = up ? 200 : 503;
    pb_pending_close(&health->base);
}

static int on_healthz(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!pb_handler_path_is(req, H2O_STRLIT(PB_PATH_HEALTH)))
        return pb_handler_not_found(req, started);
    if (!pb_handler_method_is(req, H2O_STRLIT("GET")) && !pb_handler_method_is(req, H2O_STRLIT("HEAD")))
        return pb_handler_method_not_allowed(req, PB_ENDPOINT_HEALTHZ, "GET, HEAD", started);
    pending_health *health = pb_pending_open(sizeof(*health), req, PB_ENDPOINT_HEALTHZ, started);
    health->base.record.code = -1; /* an HTTP-level answer: no API code */
    health->ping = (pb_store_lookup){.kind = PB_LOOKUP_PING};
    pb_store_lookup_start(health->base.worker->session, &health->ping, &health->base.pool, on_ping, health);
    return 0;
}

/* GET /metrics waiting for the store's app list. */
typedef struct pending_metrics {
    pb_pending base; /* first: see pb_pending_open() */
    pb_store_lookup apps;
} pending_metrics;

/* The scrape's text; NULL when out of memory. */
static char *render_metrics(pb_worker *worker, const pb_store_lookup *lookup, pb_pool *pool, size_t *len)
{
    pb_metrics_app *apps = pb_pool_alloc(pool, (lookup->n_apps == 0 ? 1 : lookup->n_apps) * sizeof(*apps));
    for (size_t i = 0; i < lookup->n_apps; i++)
        apps[i] = (pb_metrics_app){lookup->apps[i].access_id, lookup->apps[i].bindings};
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (out == NULL)
        return NULL;
    pb_metrics_render(worker->metrics, apps, lookup->n_apps, out);
    pb_metrics_render_process(out);
    pb_store_space space; /* a store without a capacity of its own (Redis) has no such series */
    if (pb_store_space_of(worker->session, &space) == PB_STORE_OK)
        pb_metrics_render_space(&(pb_metrics_space){space.size_bytes, space.capacity_bytes, space.reserve_bytes},
                                out);
    fclose(out);
    return text;
}

static void on_app_list(void *arg, pb_store_lookup *lookup)
{
    pending_metrics *metrics = arg;
    h2o_req_t *req = pb_pending_answer(&metrics->base);
    int status = lookup->result == PB_STORE_OK ? 200 : 503;
    if (req != NULL && status == 200) {
        size_t len = 0;
        char *text = render_metrics(metrics->base.worker, lookup, &metrics->base.pool, &len);
        if (text != NULL)
            pb_handler_send(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                            pb_pool_strdup(&req->pool, (pb_str){text, len}));
        else
            status = 503;
        free(text);
    }
    if (req != NULL && status != 200)
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
    metrics->base.record.status = status;
    pb_pending_close(&metrics->base);
}

/*
 * GET /metrics: Prometheus text format. The app counts come from the store at
 * scrape time (each app record keeps its bindings count), the rest from the
 * registry's shards. Unauthenticated, like /healthz.
 */
static int on_metrics(h2o_handler_t *self, h2o_req_t *req)
{
    uint64_t started = pb_clock_ns();
    if (!pb_handler_path_is(req, H2O_STRLIT(PB_PATH_METRICS)))
        return pb_handler_not_found(req, started);
    if (!pb_handler_method_is(req, H2O_STRLIT("GET")))
        return pb_handler_method_not_allowed(req, PB_ENDPOINT_METRICS, "GET", started);
    pending_metrics *metrics = pb_pending_open(sizeof(*metrics), req, PB_ENDPOINT_METRICS, started);
    metrics->base.record.code = -1; /* an HTTP-level answer: no API code */
    metrics->apps = (pb_store_lookup){.kind = PB_LOOKUP_APPS};
    pb_store_lookup_start(metrics->base.worker->session, &metrics->apps, &metrics->base.pool, on_app_list, metrics);
    return 0;
}

static int on_unknown_path(h2o_handler_t *self, h2o_req_t *req)
{
    return pb_handler_not_found(req, pb_clock_ns());
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
    register_handler(host, PB_PATH_QUERY, pb_handler_query);
    register_handler(host, PB_PATH_BATCH, pb_handler_batchoperate);
    register_handler(host, PB_PATH_APP, on_app);
    if (operator_paths) {
        register_handler(host, PB_PATH_HEALTH, on_healthz);
        register_handler(host, PB_PATH_METRICS, on_metrics);
        pb_console_register(host);
    }
    register_handler(host, "/", on_unknown_path);
}
