/*
 * handle_operator.c — the endpoints of those who run the server: GET
 * /healthz (the store's PING) and GET /metrics (Prometheus text format).
 * Unauthenticated, answered with HTTP statuses (no API code), served on
 * --admin-listen when it is set. Each waits for its one store lookup like
 * the API's handlers (exchange.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/exchange.h"
#include "http/handle.h"

static const pb_route healthz_route = PB_ROUTE(PB_PATH_HEALTH, PB_ENDPOINT_HEALTHZ, "GET, HEAD");
static const pb_route metrics_route = PB_ROUTE(PB_PATH_METRICS, PB_ENDPOINT_METRICS, "GET");

/* GET /healthz waiting for the store's PING. */
typedef struct healthz_state {
    pb_exchange base;
    pb_store_lookup ping;
} healthz_state;

static void on_ping(void *arg, pb_store_lookup *ping)
{
    healthz_state *health = arg;
    bool up = ping->result == PB_STORE_OK;
    h2o_req_t *req = pb_exchange_answer(&health->base);
    if (req != NULL && up)
        pb_exchange_send(req, 200, "OK", "text/plain; charset=utf-8", PB_STR_LIT("ok\n"));
    else if (req != NULL)
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
    health->base.record.status = up ? 200 : 503;
    pb_exchange_end(&health->base);
}

int pb_handle_healthz(h2o_handler_t *self, h2o_req_t *req)
{
    healthz_state *health = PB_EXCHANGE_BEGIN(healthz_state, req, &healthz_route);
    if (health == NULL)
        return 0;
    health->ping = (pb_store_lookup){.kind = PB_LOOKUP_PING};
    pb_store_lookup_start(health->base.worker->session, &health->ping, &health->base.pool, on_ping, health);
    return 0;
}

/* GET /metrics waiting for the store's app list. */
typedef struct metrics_state {
    pb_exchange base;
    pb_store_lookup apps;
} metrics_state;

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
    metrics_state *metrics = arg;
    h2o_req_t *req = pb_exchange_answer(&metrics->base);
    int status = lookup->result == PB_STORE_OK ? 200 : 503;
    if (req != NULL && status == 200) {
        size_t len = 0;
        char *text = render_metrics(metrics->base.worker, lookup, &metrics->base.pool, &len);
        if (text != NULL)
            pb_exchange_send(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                             pb_pool_strdup(&req->pool, (pb_str){text, len}));
        else
            status = 503;
        free(text);
    }
    if (req != NULL && status != 200)
        h2o_send_error_503(req, "Service Unavailable", "store unavailable\n", 0);
    metrics->base.record.status = status;
    pb_exchange_end(&metrics->base);
}

/*
 * The app counts come from the store at scrape time (each app record keeps
 * its bindings count), the rest from the registry's shards.
 */
int pb_handle_metrics(h2o_handler_t *self, h2o_req_t *req)
{
    metrics_state *metrics = PB_EXCHANGE_BEGIN(metrics_state, req, &metrics_route);
    if (metrics == NULL)
        return 0;
    metrics->apps = (pb_store_lookup){.kind = PB_LOOKUP_APPS};
    pb_store_lookup_start(metrics->base.worker->session, &metrics->apps, &metrics->base.pool, on_app_list, metrics);
    return 0;
}
