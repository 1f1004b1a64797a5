/*
 * routes.c — the paths and their handlers (handle.h).
 *
 * Every API outcome, errors included, is one JSON answer with HTTP 200
 * (published TPNS clients treat any other status as a transport failure):
 * a step that fails sets the request-level code and skips to encoding.
 * HTTP-level problems keep their HTTP statuses: 404, 405, 413 (sent by h2o
 * itself when a body exceeds max_request_entity_size) and 431 (headers over
 * max_header_bytes, checked by limits.c ahead of every handler). An app over
 * its rate limit is answered 1008028 right after authentication.
 */
#include "http/handle.h"
#include "http/limits.h"
#include "http/routes.h"

static void route(h2o_hostconf_t *host, const char *path, int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, path, 0);
    pb_header_limit_register(pathconf);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}

void pb_routes_register(h2o_hostconf_t *host, bool operator_paths)
{
    route(host, PB_PATH_QUERY, pb_handle_query);
    route(host, PB_PATH_BATCH, pb_handle_batch);
    route(host, PB_PATH_APP, pb_handle_app);
    route(host, PB_PATH_TAG_DELETE_ALL, pb_handle_tag_delete_all);
    route(host, PB_PATH_TAG, pb_handle_tag);
    route(host, PB_PATH_TAG_QUERY, pb_handle_tag_query);
    route(host, PB_PATH_INVALIDATE, pb_handle_invalidate);
    route(host, PB_PATH_ACCOUNT_FIND, pb_handle_account_find);
    if (operator_paths) {
        route(host, PB_PATH_HEALTH, pb_handle_healthz);
        route(host, PB_PATH_METRICS, pb_handle_metrics);
        route(host, PB_PATH_CONSOLE, pb_handle_console);
    }
    route(host, "/", pb_handle_unknown_path);
}
