/*
 * app_info.h — GET /pushbind/v1/app, a pushbind extension: the calling app's
 * binding count and the limits in force, for the console and for back ends
 * that size their batches.
 *
 * Like api.h, nothing here knows HTTP: the caller has authenticated the
 * request (a Signature over an empty body) and passes the app it names.
 */
#ifndef PB_APP_INFO_H
#define PB_APP_INFO_H

#include <stdint.h>

#include "api/api.h"
#include "common/pool.h"
#include "store/store.h"

/* The limits a request meets; each is a serve flag (see api.h and store.h). */
typedef struct pb_app_limits {
    uint32_t max_accounts_per_token;
    uint32_t max_tokens_per_account;
    uint32_t max_query_items;
    uint32_t max_batch_items;
    uint32_t max_list_items;
    uint32_t max_account_bytes;
    uint32_t max_token_bytes;
} pb_app_limits;

typedef struct pb_app_info_response {
    int code; /* PB_OK, PB_ERR_AUTH (the app went away), PB_ERR_STORE; the rest is set on PB_OK only */
    uint64_t access_id;
    uint64_t bindings; /* account–token pairs the app holds */
    pb_app_limits limits;
} pb_app_info_response;

/*
 * Fills *response from `lookup`, a finished PB_LOOKUP_APP lookup of the
 * authenticated app (pb_store_lookup_start(), which the caller runs so that
 * nothing here waits), the limits of `config` and the store's `limits`
 * (pb_store_limits_of()). Always fills response->code: PB_OK, PB_ERR_AUTH
 * when the app is gone, PB_ERR_STORE when the store failed.
 */
void pb_api_app_info(const pb_api_config *config, const pb_store_limits *limits, const pb_store_lookup *lookup,
                     pb_app_info_response *response);

#endif
