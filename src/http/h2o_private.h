/*
 * h2o_private.h — the two things the server needs from h2o 2.2.5 that its
 * public API does not offer. Private to http/.
 *
 * Stopping gracefully means knowing when a context has no connection left and
 * disarming the HTTP/2 GOAWAY timer that h2o_context_request_shutdown() arms
 * (a context cannot be disposed of while a timer is linked). h2o 2.2.5 has no
 * call for either, so these read fields whose names start with '_': they are
 * h2o's own and may change in any release. h2o_private.c refuses to build
 * against another version, so an upgrade has to come through here.
 */
#ifndef PB_HTTP_H2O_PRIVATE_H
#define PB_HTTP_H2O_PRIVATE_H

#include <stdbool.h>

#include <h2o.h>

/* Whether `ctx` still has an HTTP/1 or HTTP/2 connection open. */
bool pb_h2o_has_connections(h2o_context_t *ctx);

/*
 * Disarms the HTTP/2 graceful-shutdown timer of `ctx`, when armed. Call once
 * no connection is left, before h2o_context_dispose().
 */
void pb_h2o_disarm_shutdown_timer(h2o_context_t *ctx);

#endif
