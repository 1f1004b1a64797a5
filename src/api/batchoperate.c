/*
 * POST /v3/device/account/batchoperate — bind and unbind.
 *
 * Plan: operator_type and platform → the list the operation needs →
 * validate each item into a store change. The caller applies the valid
 * items' changes in one pb_store_apply_start(). Merge: the store's outcomes
 * back in input order. An invalid item never reaches the store, so it
 * changes nothing.
 */
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "common/codes.h"

static void plan_init(pb_batch_plan *plan, size_t n_items, pb_pool *pool)
{
    plan->n = n_items;
    plan->item_codes = pb_pool_alloc(pool, n_items * sizeof(*plan->item_codes));
    plan->changes = pb_pool_alloc(pool, n_items * sizeof(*plan->changes));
    plan->n_changes = 0;
    plan->outcomes = pb_pool_alloc(pool, n_items * sizeof(*plan->outcomes));
}

/* Records item `i`: a change when `code` is PB_OK, else the item's error. */
static void plan_add(pb_batch_plan *plan, size_t i, int code, pb_change change)
{
    plan->item_codes[i] = code;
    if (code == PB_OK)
        plan->changes[plan->n_changes++] = change;
}

/*
 * Turns an element's account_list into the distinct accounts to bind or
 * unbind. An account listed twice counts once, where it first appears. In
 * one-account-per-type mode a later account of a type replaces an earlier one
 * of the same type (TPNS 2020). More than max_accounts_per_token distinct
 * accounts can never be bound to one token, so such an element is invalid;
 * stopping there also bounds the duplicate search.
 */
static int collect_accounts(const pb_api_config *config, uint32_t max_accounts_per_token,
                            const pb_account_item_list *list, bool one_per_type, pb_pool *pool, pb_change *change)
{
    if (list->state != PB_FIELD_PRESENT || list->n == 0)
        return PB_ERR_PARAM;
    for (size_t i = 0; i < list->n; i++)
        if (pb_validate_account(config, &list->items[i]) != PB_OK)
            return PB_ERR_PARAM;

    size_t capacity = list->n < max_accounts_per_token ? list->n : max_accounts_per_token;
    pb_account *accounts = pb_pool_alloc(pool, capacity * sizeof(*accounts));
    size_t n = 0;
    for (size_t i = 0; i < list->n; i++) {
        const pb_account *account = &list->items[i].account;
        size_t j = 0;
        while (j < n && !(one_per_type ? accounts[j].type == account->type : pb_account_eq(&accounts[j], account)))
            j++;
        if (j < n && !one_per_type)
            continue;
        if (j < n) /* the later account of this type wins, in its own place */
            memmove(&accounts[j], &accounts[j + 1], (--n - j) * sizeof(*accounts));
        if (n == capacity)
            return PB_ERR_PARAM;
        accounts[n++] = *account;
    }
    change->accounts = accounts;
    change->n_accounts = n;
    return PB_OK;
}

/* Operations 1–3: one change per token_accounts element. */
static void plan_token_accounts(const pb_api_config *config, const pb_store_limits *limits, pb_change_kind kind,
                                pb_platform platform,
                                const pb_token_accounts_list *list, pb_pool *pool, pb_batch_plan *plan)
{
    bool one_per_type = config->one_account_per_type && kind != PB_CHANGE_REMOVE;
    for (size_t i = 0; i < list->n; i++) {
        const pb_token_accounts_item *item = &list->items[i];
        pb_change change = {.kind = kind, .token = item->token.token};
        if (kind != PB_CHANGE_REMOVE)
            change.platform = platform;
        int code = PB_ERR_PARAM;
        if (item->is_object) {
            code = pb_validate_token(config, &item->token);
            if (code == PB_OK)
                code = collect_accounts(config, limits->max_accounts_per_token, &item->account_list, one_per_type,
                                        pool, &change);
        }
        plan_add(plan, i, code, change);
    }
}

/* Operation 4: one change per token. */
static void plan_clear_tokens(const pb_api_config *config, const pb_token_item_list *list, pb_batch_plan *plan)
{
    for (size_t i = 0; i < list->n; i++) {
        pb_change change = {.kind = PB_CHANGE_CLEAR_TOKEN, .token = list->items[i].token};
        plan_add(plan, i, pb_validate_token(config, &list->items[i]), change);
    }
}

/* Operation 5: one change per account. */
static void plan_clear_accounts(const pb_api_config *config, const pb_account_item_list *list, pb_batch_plan *plan)
{
    for (size_t i = 0; i < list->n; i++) {
        pb_change change = {.kind = PB_CHANGE_CLEAR_ACCOUNT, .accounts = &list->items[i].account, .n_accounts = 1};
        plan_add(plan, i, pb_validate_account(config, &list->items[i]), change);
    }
}

/* The request's platform (already validated), NONE when it has none. */
static pb_platform platform_of(const pb_batch_request *request)
{
    if (request->platform_state != PB_FIELD_PRESENT)
        return PB_PLATFORM_NONE;
    return (request->platform.base[0] | 0x20) == 'a' ? PB_PLATFORM_ANDROID : PB_PLATFORM_IOS;
}

int pb_api_batch_plan(const pb_api_config *config, const pb_store_limits *limits, uint64_t access_id,
                      const pb_batch_request *request, pb_pool *pool, pb_batch_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->access_id = access_id;
    int code = pb_validate_operator_type(&request->operator_type, 5);
    if (code == PB_OK)
        code = pb_validate_platform(request->platform_state, request->platform);
    if (code == PB_OK && request->account_type.state == PB_FIELD_WRONG_TYPE)
        code = PB_ERR_PARAM;
    if (code != PB_OK)
        return code;

    pb_change_kind kind = (pb_change_kind)request->operator_type.value;
    if (kind == PB_CHANGE_APPEND && config->one_account_per_type)
        kind = PB_CHANGE_OVERWRITE; /* TPNS 2020 retired append */

    switch (kind) {
    case PB_CHANGE_APPEND:
    case PB_CHANGE_OVERWRITE:
    case PB_CHANGE_REMOVE: {
        const pb_token_accounts_list *list = &request->token_accounts;
        if ((code = pb_validate_list(list->state, list->n, config->max_batch_items)) != PB_OK)
            return code;
        plan_init(plan, list->n, pool);
        plan_token_accounts(config, limits, kind, platform_of(request), list, pool, plan);
        return PB_OK;
    }
    case PB_CHANGE_CLEAR_TOKEN: {
        const pb_token_item_list *list = &request->token_list;
        if ((code = pb_validate_list(list->state, list->n, config->max_list_items)) != PB_OK)
            return code;
        plan_init(plan, list->n, pool);
        plan_clear_tokens(config, list, plan);
        return PB_OK;
    }
    case PB_CHANGE_CLEAR_ACCOUNT: {
        const pb_account_item_list *list = &request->account_list;
        if ((code = pb_validate_list(list->state, list->n, config->max_list_items)) != PB_OK)
            return code;
        plan_init(plan, list->n, pool);
        plan_clear_accounts(config, list, plan);
        return PB_OK;
    }
    }
    return PB_ERR_PARAM;
}

/* The TPNS item code of a store outcome. */
static int outcome_code(pb_change_outcome outcome)
{
    switch (outcome) {
    case PB_CHANGE_OK: return PB_OK;
    case PB_CHANGE_OVER_LIMIT: return PB_ERR_PARAM; /* docs/API.md: over a limit is an invalid item */
    case PB_CHANGE_FAILED: break;
    case PB_CHANGE_NO_SPACE: break; /* docs/API.md: the store failed for that item */
    }
    return PB_ERR_STORE;
}

void pb_api_batch_merge(const pb_batch_plan *plan, int result, pb_batch_response *response)
{
    memset(response, 0, sizeof(*response));
    if (result == PB_STORE_ENOTFOUND) { /* the app was removed after it authenticated */
        response->code = PB_ERR_AUTH;
        return;
    }
    if (result != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }
    size_t failed = 0;
    for (size_t i = 0, next = 0; i < plan->n; i++) {
        if (plan->item_codes[i] == PB_OK)
            plan->item_codes[i] = outcome_code(plan->outcomes[next++]);
        if (plan->item_codes[i] != PB_OK)
            failed++;
    }
    *response = (pb_batch_response){
        .code = pb_code_for_failures(failed, plan->n), .n = plan->n, .item_codes = plan->item_codes};
}
