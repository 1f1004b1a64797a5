/*
 * POST /pushbind/v1/account/find (a pushbind extension): each name of the
 * list under every account type the app uses, for a person who knows the
 * name and not the type.
 *
 * Plan: validate the names, then read the app's types (PB_LOOKUP_TYPES).
 * Reads: the names × the types as one list lookup, with times and
 * platforms: point reads, the cost of a query of that many accounts, and so
 * held to the query's limit. Merge: per name, the accounts that hold tokens,
 * in type order.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "common/codes.h"

int pb_api_find_plan(const pb_api_config *config, uint64_t access_id, const pb_find_request *request, pb_pool *pool,
                     pb_find_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    const pb_account_item_list *list = &request->account_list;
    int code = pb_validate_list(list->state, list->n, config->max_query_items);
    if (code != PB_OK)
        return code;
    plan->n = list->n;
    plan->entries = pb_pool_alloc(pool, list->n * sizeof(*plan->entries));
    plan->names = pb_pool_alloc(pool, list->n * sizeof(*plan->names));
    for (size_t i = 0; i < list->n; i++) {
        const pb_account_item *item = &list->items[i];
        plan->entries[i] = (pb_account_found){.code = pb_validate_account(config, item), .name = item->account.name};
        if (plan->entries[i].code == PB_OK)
            plan->names[plan->n_names++] = item->account.name;
    }
    /* One type more than a single name may be read under tells "too many" without reading them all. */
    plan->types = (pb_store_lookup){.kind = PB_LOOKUP_TYPES, .access_id = access_id,
                                    .n = (size_t)config->max_query_items + 1};
    return PB_OK;
}

int pb_api_find_reads(const pb_api_config *config, pb_find_plan *plan, pb_pool *pool)
{
    const pb_store_lookup *types = &plan->types;
    if (types->result != PB_STORE_OK)
        return PB_ERR_STORE;
    plan->types_read = true;
    size_t reads = plan->n_names * types->n_types;
    if (reads > config->max_query_items) {
        char *text = pb_pool_alloc(pool, 160);
        int len = types->n_types > config->max_query_items
                      ? snprintf(text, 160, "account_list: the app uses more than %u account types: the limit is %u "
                                            "lookups (max-query-items)",
                                 config->max_query_items, config->max_query_items)
                      : snprintf(text, 160, "account_list: %zu names x %zu account types = %zu lookups: the limit is %u "
                                            "(max-query-items)",
                                 plan->n_names, types->n_types, reads, config->max_query_items);
        plan->message = (pb_str){text, len < 0 ? 0 : (size_t)len < 160 ? (size_t)len : 159};
        return PB_ERR_PARAM;
    }
    pb_account *accounts = pb_pool_alloc(pool, reads * sizeof(*accounts));
    for (size_t i = 0; i < plan->n_names; i++)
        for (size_t j = 0; j < types->n_types; j++)
            accounts[i * types->n_types + j] = (pb_account){plan->names[i], types->types[j]};
    plan->tokens = (pb_store_lookup){.kind = PB_LOOKUP_TOKENS_OF, .access_id = types->access_id,
                                     .accounts = accounts, .n = reads, .with_info = true};
    return PB_OK;
}

/* The accounts of the `name`th valid name that hold tokens, from its row of the names × types lists. */
static void found_of(const pb_find_plan *plan, size_t name, pb_pool *pool, pb_account_found *entry)
{
    size_t n_types = plan->types.n_types;
    const pb_token_list *row = &plan->tokens.token_lists[name * n_types];
    const pb_account *asked = &plan->tokens.accounts[name * n_types];
    for (size_t j = 0; j < n_types; j++)
        entry->n_accounts += row[j].n != 0;
    entry->accounts = pb_pool_alloc(pool, entry->n_accounts * sizeof(*entry->accounts));
    for (size_t j = 0, k = 0; j < n_types; j++)
        if (row[j].n != 0)
            entry->accounts[k++] = (pb_account_tokens){.code = PB_OK, .account = asked[j], .tokens = row[j]};
}

void pb_api_find_merge(const pb_find_plan *plan, int code, pb_pool *pool, pb_find_response *response)
{
    *response = (pb_find_response){.code = code, .message = plan->message};
    if (plan->types_read) {
        response->types_known = true;
        response->types = plan->types.types;
        response->n_types = plan->types.n_types;
    }
    if (code != PB_OK)
        return;
    if (plan->n_names != 0 && plan->tokens.n != 0 && plan->tokens.result != PB_STORE_OK) {
        response->code = PB_ERR_STORE;
        return;
    }
    size_t failed = 0;
    for (size_t i = 0, next = 0; i < plan->n; i++) {
        pb_account_found *entry = &plan->entries[i];
        if (entry->code == PB_OK) {
            if (plan->tokens.n != 0)
                found_of(plan, next, pool, entry);
            next++;
            if (entry->n_accounts == 0)
                entry->code = PB_ERR_NO_BINDING;
        }
        if (entry->code != PB_OK)
            failed++;
    }
    response->code = pb_code_for_failures(failed, plan->n);
    response->n = plan->n;
    response->entries = plan->entries;
}
