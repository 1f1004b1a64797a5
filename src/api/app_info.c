/*
 * GET /pushbind/v1/app — the app's binding count and the limits in force.
 *
 * The count is the one each app record keeps (the same /metrics reports), so
 * answering costs one read of the app's record, not a pass over its bindings.
 */
#include "api/app_info.h"
#include "common/codes.h"

void pb_api_app_info(const pb_api_config *config, const pb_store_limits *limits, const pb_store_lookup *lookup,
                     pb_app_info_response *response)
{
    *response = (pb_app_info_response){.code = PB_OK};
    /* Removed between authentication and now: to the caller, its key no longer works. */
    if (lookup->result == PB_STORE_ENOTFOUND) {
        response->code = PB_ERR_AUTH;
        return;
    }
    if (lookup->result != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }
    response->access_id = lookup->app.access_id;
    response->bindings = lookup->app.bindings;
    response->limits = (pb_app_limits){
        .max_accounts_per_token = limits->max_accounts_per_token,
        .max_tokens_per_account = limits->max_tokens_per_account,
        .max_query_items = config->max_query_items,
        .max_batch_items = config->max_batch_items,
        .max_list_items = config->max_list_items,
        .max_account_bytes = config->max_account_bytes,
        .max_token_bytes = config->max_token_bytes,
    };
}
