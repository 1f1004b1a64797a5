/*
 * GET /pushbind/v1/app — the app's binding count and the limits in force.
 *
 * The count is the one each app record keeps (the same /metrics reports), so
 * answering costs one pass over the app records, not over the bindings.
 */
#include "api/app_info.h"
#include "common/codes.h"

/* What the app-list walk is looking for, and whether it was seen. */
struct app_search {
    uint64_t access_id;
    bool found;
    uint64_t bindings;
};

static void visit_app(void *arg, const pb_app_info *app)
{
    struct app_search *search = arg;
    if (app->access_id == search->access_id) {
        search->found = true;
        search->bindings = app->bindings;
    }
}

void pb_api_app_info(const pb_api_config *config, pb_store_session *session,
                     uint64_t access_id, pb_app_info_response *response)
{
    *response = (pb_app_info_response){.code = PB_OK};
    struct app_search search = {.access_id = access_id};
    if (pb_store_app_list(session, visit_app, &search) != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }
    /* Removed between authentication and now: to the caller, its key no longer works. */
    if (!search.found) {
        response->code = PB_ERR_AUTH;
        return;
    }
    response->access_id = access_id;
    response->bindings = search.bindings;
    response->limits = (pb_app_limits){
        .max_accounts_per_token = pb_store_limits_of(session)->max_accounts_per_token,
        .max_tokens_per_account = pb_store_limits_of(session)->max_tokens_per_account,
        .max_query_items = config->max_query_items,
        .max_batch_items = config->max_batch_items,
        .max_list_items = config->max_list_items,
        .max_account_bytes = config->max_account_bytes,
        .max_token_bytes = config->max_token_bytes,
    };
}
