/*
 * POST /v3/device/account/query — who is bound to what.
 *
 * Shape: operator_type → list → validate each item → one store lookup for
 * the valid items → merge back in input order. Every input item gets an
 * entry, valid or not, so clients can zip `result` with their request.
 */
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "common/codes.h"

static void query_by_account(const pb_api_config *config, pb_store_view *view, uint64_t access_id,
                             const pb_account_item_list *list, bool with_info, pb_pool *pool,
                             pb_query_response *response)
{
    int code = pb_validate_list(list->state, list->n, config->max_query_items);
    if (code != PB_OK) {
        response->code = code;
        return;
    }

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

    pb_token_list *found = pb_pool_alloc(pool, n_valid * sizeof(*found));
    if (n_valid != 0 && pb_store_tokens_of(view, access_id, valid, n_valid, with_info, pool, found) != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }

    size_t failed = 0;
    for (size_t i = 0, next = 0; i < list->n; i++) {
        if (entries[i].code == PB_OK) {
            entries[i].tokens = found[next++];
            if (entries[i].tokens.n == 0)
                entries[i].code = PB_ERR_NO_BINDING;
        }
        if (entries[i].code != PB_OK)
            failed++;
    }
    *response = (pb_query_response){.code = pb_code_for_failures(failed, list->n),
                                     .operator_type = 1,
                                     .with_info = with_info,
                                     .n = list->n,
                                     .by_account = entries};
}

static void query_by_token(const pb_api_config *config, pb_store_view *view, uint64_t access_id,
                           const pb_token_item_list *list, bool with_info, pb_pool *pool,
                           pb_query_response *response)
{
    int code = pb_validate_list(list->state, list->n, config->max_query_items);
    if (code != PB_OK) {
        response->code = code;
        return;
    }

    pb_token_accounts *entries = pb_pool_alloc(pool, list->n * sizeof(*entries));
    pb_str *valid = pb_pool_alloc(pool, list->n * sizeof(*valid));
    size_t n_valid = 0;
    for (size_t i = 0; i < list->n; i++) {
        const pb_token_item *item = &list->items[i];
        entries[i] = (pb_token_accounts){.code = pb_validate_token(config, item), .token = item->token};
        if (entries[i].code == PB_OK)
            valid[n_valid++] = item->token;
    }

    pb_account_list *found = pb_pool_alloc(pool, n_valid * sizeof(*found));
    if (n_valid != 0 && pb_store_accounts_of(view, access_id, valid, n_valid, with_info, pool, found) != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }

    size_t failed = 0;
    for (size_t i = 0, next = 0; i < list->n; i++) {
        if (entries[i].code == PB_OK) {
            entries[i].accounts = found[next++];
            if (entries[i].accounts.n == 0)
                entries[i].code = PB_ERR_NO_BINDING;
        }
        if (entries[i].code != PB_OK)
            failed++;
    }
    *response = (pb_query_response){.code = pb_code_for_failures(failed, list->n),
                                     .operator_type = 2,
                                     .with_info = with_info,
                                     .n = list->n,
                                     .by_token = entries};
}

void pb_api_query(const pb_api_config *config, pb_store_view *view, uint64_t access_id,
                  const pb_query_request *request, pb_pool *pool, pb_query_response *response)
{
    memset(response, 0, sizeof(*response));
    response->code = pb_validate_operator_type(&request->operator_type, 2);
    if (response->code == PB_OK && (request->account_type.state == PB_FIELD_WRONG_TYPE ||
                                    request->with_info_state == PB_FIELD_WRONG_TYPE))
        response->code = PB_ERR_PARAM;
    if (response->code != PB_OK)
        return;
    if (request->operator_type.value == 1)
        query_by_account(config, view, access_id, &request->account_list, request->with_info, pool, response);
    else
        query_by_token(config, view, access_id, &request->token_list, request->with_info, pool, response);
}
