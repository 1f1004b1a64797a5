/*
 * routes.h — which handler answers which path. Internal to the HTTP layer.
 */
#ifndef PB_ROUTES_H
#define PB_ROUTES_H

#include <stdbool.h>

#include <h2o.h>

/*
 * Registers on `host` the API paths (the TPNS endpoints and
 * /pushbind/v1/app), with operator_paths /healthz, /metrics and /console
 * too, and a 404 for everything else. Each path gets the header-size check
 * (limits.h) ahead of its handler.
 */
void pb_routes_register(h2o_hostconf_t *host, bool operator_paths);

#endif
