/*
 * handle.h — the server's paths and the h2o handler of each, for routes.c
 * to register. Internal to the HTTP layer.
 *
 * One file per endpoint family holds its handlers: handle_query.c (the
 * reads: the query and /pushbind/v1/app), handle_batch.c (the writes),
 * handle_tag.c (the tag endpoints and token invalidation),
 * handle_operator.c (/healthz, /metrics) and console.c (/console/). Each
 * handler but the console's starts with PB_EXCHANGE_BEGIN() (exchange.h).
 */
#ifndef PB_HANDLE_H
#define PB_HANDLE_H

#include <h2o.h>

/* The paths the server answers (docs/API.md). */
#define PB_PATH_QUERY "/v3/device/account/query"
#define PB_PATH_BATCH "/v3/device/account/batchoperate"
#define PB_PATH_APP "/pushbind/v1/app"
#define PB_PATH_TAG "/v3/device/tag"
#define PB_PATH_TAG_DELETE_ALL "/v3/device/tag/delete_all_device"
#define PB_PATH_TAG_QUERY "/pushbind/v1/tag/query"
#define PB_PATH_INVALIDATE "/pushbind/v1/token/invalidate"
#define PB_PATH_ACCOUNT_FIND "/pushbind/v1/account/find"
#define PB_PATH_HEALTH "/healthz"
#define PB_PATH_METRICS "/metrics"
#define PB_PATH_CONSOLE "/console"

int pb_handle_query(h2o_handler_t *self, h2o_req_t *req);     /* handle_query.c */
int pb_handle_batch(h2o_handler_t *self, h2o_req_t *req);     /* handle_batch.c */
int pb_handle_app(h2o_handler_t *self, h2o_req_t *req);       /* handle_query.c */
int pb_handle_tag(h2o_handler_t *self, h2o_req_t *req);            /* handle_tag.c */
int pb_handle_tag_delete_all(h2o_handler_t *self, h2o_req_t *req); /* handle_tag.c */
int pb_handle_tag_query(h2o_handler_t *self, h2o_req_t *req);      /* handle_tag.c */
int pb_handle_invalidate(h2o_handler_t *self, h2o_req_t *req);     /* handle_tag.c */
int pb_handle_account_find(h2o_handler_t *self, h2o_req_t *req);   /* handle_find.c */
int pb_handle_healthz(h2o_handler_t *self, h2o_req_t *req);   /* handle_operator.c */
int pb_handle_metrics(h2o_handler_t *self, h2o_req_t *req);   /* handle_operator.c */
int pb_handle_console(h2o_handler_t *self, h2o_req_t *req);   /* console.c */
int pb_handle_unknown_path(h2o_handler_t *self, h2o_req_t *req); /* exchange.c: 404 */

#endif
