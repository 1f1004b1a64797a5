/*
 * The reads: POST /v3/device/account/query (who is bound to what) and
 * GET /pushbind/v1/app (the app's binding count and the limits in force).
 *
 * Query plan: operator_type → list → validate each item → one store lookup
 * for the valid items, which the caller runs. Merge: the lookup's lists back
 * in input order. Every input item gets an entry, valid or not, so clients
 * can zip `result` with their request.
 */
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "common/codes.h"

/* Validates each account; the valid ones become the plan's lookup. */
static int plan_by_account(const pb_api_config *config, uint64_t access_id, const pb_account_item_list *list,
                           bool with_info, pb_pool *pool, pb_query_plan *plan)
{
    int code = pb_validate_list(list->state, list->n, config->max_query_items);
    if (code != PB_OK)
        return code;

    pb_account_tokens *entries = pb_pool_alloc(pool, list->n * sizeof(*entries));
    pb_account *valid = pb_pool_alloc(pool, list->n * sizeof(*valid));
    size_t n_valid = 0;
    for (size_t i = 0; i < list->n; i++) {
        const pb_account_item *item = &list->items[i];
        entries[i] = (pb_account_tokens){.code = pb_validate_account(config, item), .account = item->account};
        if (!item->well_typed)
            entries[i].account.type = 0; /* echo only what could be read */
        if (entries[i].code == PB_OK)
            valid[n_valid++] = item->account;
    }
    plan->n = list->n;
    plan->by_account = entries;
    plan->lookup = (pb_store_lookup){
        .kind = PB_LOOKUP_TOKENS_OF, .access_id = access_id, .accounts = valid, .n = n_valid, .with_info = with_info};
    return PB_OK;
}

static void merge_by_account(const pb_query_plan *plan, pb_query_response *response)
{
    pb_account_tokens *entries = plan->by_account;
    size_t failed = 0;
    for (size_t i = 0, next = 0; i < plan->n; i++) {
        if (entries[i].code == PB_OK) {
            entries[i].tokens = plan->lookup.token_lists[next++];
            if (entries[i].tokens.n == 0)
                entries[i].code = PB_ERR_NO_BINDING;
        }
        if (entries[i].code != PB_OK)
            failed++;
    }
    *response = (pb_query_response){.code = pb_code_for_failures(failed, plan->n),
                                     .operator_type = 1,
                                     .with_info = plan->lookup.with_info,
                                     .n = plan->n,
                                     .by_account = entries};
}

/* Validates each token; the valid ones become the plan's lookup. */
static int plan_by_token(const pb_api_config *config, uint64_t access_id, const pb_token_item_list *list,
                         bool with_info, pb_pool *pool, pb_query_plan *plan)
{
    int code = pb_validate_list(list->state, list->n, config->max_query_items);
    if (code != PB_OK)
        return code;

    pb_token_accounts *entries = pb_pool_alloc(pool, list->n * sizeof(*entries));
    pb_str *valid = pb_pool_alloc(pool, list->n * sizeof(*valid));
    size_t n_valid = 0;
    for (size_t i = 0; i < list->n; i++) {
        const pb_token_item *item = &list->items[i];
        entries[i] = (pb_token_accounts){.code = pb_validate_token(config, item), .token = item->token};
        if (entries[i].code == PB_OK)
            valid[n_valid++] = item->token;
    }
    plan->n = list->n;
    plan->by_token = entries;
    plan->lookup = (pb_store_lookup){
        .kind = PB_LOOKUP_ACCOUNTS_OF, .access_id = access_id, .tokens = valid, .n = n_valid, .with_info = with_info};
    return PB_OK;
}

static void merge_by_token(const pb_query_plan *plan, pb_query_response *response)
{
    pb_token_accounts *entries = plan->by_token;
    size_t failed = 0;
    for (size_t i = 0, next = 0; i < plan->n; i++) {
        if (entries[i].code == PB_OK) {
            entries[i].accounts = plan->lookup.account_lists[next++];
            if (entries[i].accounts.n == 0)
                entries[i].code = PB_ERR_NO_BINDING;
        }
        if (entries[i].code != PB_OK)
            failed++;
    }
    *response = (pb_query_response){.code = pb_code_for_failures(failed, plan->n),
                                     .operator_type = 2,
                                     .with_info = plan->lookup.with_info,
                                     .n = plan->n,
                                     .by_token = entries};
}

int pb_api_query_plan(const pb_api_config *config, uint64_t access_id, const pb_query_request *request,
                      pb_pool *pool, pb_query_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    int code = pb_validate_operator_type(&request->operator_type, 2);
    if (code != PB_OK)
        return code;
    if (request->account_type.state == PB_FIELD_WRONG_TYPE || request->with_info_state == PB_FIELD_WRONG_TYPE)
        return PB_ERR_PARAM;
    plan->operator_type = request->operator_type.value;
    if (plan->operator_type == 1)
        return plan_by_account(config, access_id, &request->account_list, request->with_info, pool, plan);
    return plan_by_token(config, access_id, &request->token_list, request->with_info, pool, plan);
}

void pb_api_query_merge(const pb_query_plan *plan, pb_query_response *response)
{
    memset(response, 0, sizeof(*response));
    if (plan->lookup.n != 0 && plan->lookup.result != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }
    if (plan->operator_type == 1)
        merge_by_account(plan, response);
    else
        merge_by_token(plan, response);
}

void pb_api_app_plan(uint64_t access_id, pb_app_plan *plan)
{
    *plan = (pb_app_plan){.lookup = {.kind = PB_LOOKUP_APP, .access_id = access_id}};
}

void pb_api_app_merge(const pb_api_config *config, const pb_store_limits *limits, const pb_app_plan *plan,
                      pb_app_info_response *response)
{
    const pb_store_lookup *lookup = &plan->lookup;
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
    response->environment = config->environment;
    response->limits = (pb_app_limits){
        .max_accounts_per_token = limits->max_accounts_per_token,
        .max_tokens_per_account = limits->max_tokens_per_account,
        .max_query_items = config->max_query_items,
        .max_batch_items = config->max_batch_items,
        .max_list_items = config->max_list_items,
        .max_account_bytes = config->max_account_bytes,
        .max_token_bytes = config->max_token_bytes,
        .max_tag_items = config->max_tag_items,
        .max_tags_per_token = config->max_tags_per_token,
        .max_tags_per_app = config->max_tags_per_app,
        .max_tag_chars = config->max_tag_chars,
    };
}
