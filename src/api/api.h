/*
 * api.h — the endpoints, each as two halves around its one store call.
 *
 * Every endpoint has one shape:
 *
 *   pb_api_X_plan() → the one store call → pb_api_X_merge()
 *
 * The plan checks the request-level fields (an error there is answered at
 * once and touches nothing), validates each item, and fills in the store
 * call the valid items need: a pb_store_lookup, or the changes of a
 * pb_store_apply_start(). The caller runs that call without waiting
 * (pb_store_lookup_start(), pb_store_apply_start()), and skips it when the
 * plan holds no valid item. The merge puts the store's outcomes back into
 * input order, one entry per input item, and fills the typed response.
 *
 * Nothing here knows HTTP, threads or how the store keeps its data, and
 * nothing here waits: http/ runs the store call between the halves and
 * answers from its callback. A new endpoint is a plan, a merge, a codec pair
 * and a route (docs/design.md, "Adding an endpoint").
 *
 * The caller has authenticated the request and owns `pool`; plans and
 * responses are allocated from it, and with the request it must stay valid
 * until the merge. A query response's strings are the lookup's: encode it
 * while they are valid (inside the lookup's done()).
 */
#ifndef PB_API_H
#define PB_API_H

#include <stdbool.h>
#include <stdint.h>

#include "api/messages.h"
#include "common/pool.h"
#include "store/store.h"

/*
 * The request limits. Defaults are docs/API.md's; every one is a server flag.
 * The binding limits (accounts per token, tokens per account) are the store's
 * (pb_store_limits_of()): an element naming more distinct accounts than a
 * token may hold is invalid.
 */
typedef struct pb_api_config {
    uint32_t max_query_items;        /* query lists: 1000 */
    uint32_t max_batch_items;        /* batchoperate token_accounts: 20 (TPNS's limit) */
    uint32_t max_list_items;         /* batchoperate token_list / account_list: 100 */
    uint32_t max_account_bytes;      /* 128 */
    uint32_t max_token_bytes;        /* 256 */
    bool one_account_per_type;       /* TPNS 2020 mode: op 1 acts as op 2, one account per type */
    uint32_t max_tag_items;          /* a tag request's token_list / tag_list / tag_token_list: 500 */
    uint32_t max_tags_per_token;     /* 100 */
    uint32_t max_tags_per_app;       /* distinct tags: 10,000 */
    uint32_t max_tag_chars;          /* characters in a tag: 50 */
    const char *environment;         /* --environment: the deployment's name for people (console); NULL: none */
} pb_api_config;

#define PB_DEFAULT_MAX_QUERY_ITEMS 1000
#define PB_DEFAULT_MAX_BATCH_ITEMS 20
#define PB_DEFAULT_MAX_LIST_ITEMS 100
#define PB_DEFAULT_MAX_ACCOUNT_BYTES 128
#define PB_DEFAULT_MAX_TOKEN_BYTES 256
#define PB_DEFAULT_MAX_TAG_ITEMS 500
#define PB_DEFAULT_MAX_TAGS_PER_TOKEN 100
#define PB_DEFAULT_MAX_TAGS_PER_APP 10000
#define PB_DEFAULT_MAX_TAG_CHARS 50
/* The most characters --max-tag-chars allows: the embedded store keeps a tag in 200 bytes. */
#define PB_MAX_TAG_CHARS_CEILING 50
/* Tag reads: tokens per token_tags query and tags per counts query; a page's default and largest size. */
#define PB_TAG_QUERY_ITEMS 1000
#define PB_TAG_PAGE_DEFAULT 1000
#define PB_TAG_PAGE_MAX 10000
/* Tokens in one invalidate request, and a reason's bytes. */
#define PB_INVALIDATE_ITEMS 100
#define PB_INVALIDATE_REASON_BYTES 64

/*
 * The largest token and account the store can key: LMDB caps keys and sorted
 * duplicate values at 511 bytes, and each also carries an app id, a type and a
 * sequence number. The byte-limit flags may not go above these.
 */
#define PB_MAX_TOKEN_BYTES_CEILING 400
#define PB_MAX_ACCOUNT_BYTES_CEILING 400

/* Fills `config` with docs/API.md's defaults. */
void pb_api_config_defaults(pb_api_config *config);

/*
 * POST /v3/device/account/query for app `access_id`.
 *
 * pb_api_query_plan returns PB_OK and fills *plan, whose `lookup` the caller
 * then runs (skip it when lookup.n is 0: every item was invalid, and merge
 * needs no outputs), or a request-level code to answer at once.
 *
 * pb_api_query_merge, once the lookup is done, fills *response: a
 * request-level error (PB_ERR_STORE when the lookup failed; n == 0) or one
 * entry per input item.
 */
typedef struct pb_query_plan {
    int64_t operator_type;
    size_t n;                      /* input items */
    pb_account_tokens *by_account; /* operator_type 1: one entry per input item */
    pb_token_accounts *by_token;   /* operator_type 2 */
    pb_store_lookup lookup;        /* the valid items */
} pb_query_plan;

int pb_api_query_plan(const pb_api_config *config, uint64_t access_id, const pb_query_request *request,
                      pb_pool *pool, pb_query_plan *plan);
void pb_api_query_merge(const pb_query_plan *plan, pb_query_response *response);

/*
 * POST /v3/device/account/batchoperate for app `access_id`: bind and unbind.
 *
 * pb_api_batch_plan returns PB_OK and fills *plan, whose changes the caller
 * then applies: pb_store_apply_start(session, plan->access_id,
 * plan->changes, plan->n_changes, plan->outcomes, ...), skipped when
 * n_changes is 0 (merge with PB_STORE_OK then); or a request-level code to
 * answer at once. `limits` are the store's (pb_store_limits_of()): an item
 * naming more distinct accounts than a token may hold is invalid. An
 * invalid item never reaches the store, so it changes nothing.
 *
 * pb_api_batch_merge, given what the store call reported (`result`), fills
 * *response: a request-level error (PB_ERR_AUTH when the app was removed
 * after it authenticated, PB_ERR_STORE when the store failed) or one code
 * per input item. Every item it reports 0 is durable by then.
 */
typedef struct pb_batch_plan {
    uint64_t access_id;
    size_t n;                    /* input items */
    int *item_codes;             /* per input item: a validation error, or PB_OK when it became a change */
    pb_change *changes;          /* the valid items, in input order */
    size_t n_changes;
    pb_change_outcome *outcomes; /* n_changes, for the store to fill */
} pb_batch_plan;

int pb_api_batch_plan(const pb_api_config *config, const pb_store_limits *limits, uint64_t access_id,
                      const pb_batch_request *request, pb_pool *pool, pb_batch_plan *plan);
void pb_api_batch_merge(const pb_batch_plan *plan, int result, pb_batch_response *response);

/*
 * GET /pushbind/v1/app, a pushbind extension: the calling app's binding
 * count (the one its record keeps, the same /metrics reports: one read, not
 * a pass over its bindings) and the limits in force, for the console and for
 * back ends that size their batches. The request has no body.
 *
 * pb_api_app_plan fills *plan with the lookup of app `access_id`'s record,
 * which the caller runs. pb_api_app_merge then fills *response from it, the
 * limits of `config` and the store's `limits` (pb_store_limits_of()):
 * response->code is PB_OK, PB_ERR_AUTH when the app is gone, or PB_ERR_STORE
 * when the store failed.
 */
typedef struct pb_app_plan {
    pb_store_lookup lookup;
} pb_app_plan;

void pb_api_app_plan(uint64_t access_id, pb_app_plan *plan);
void pb_api_app_merge(const pb_api_config *config, const pb_store_limits *limits, const pb_app_plan *plan,
                      pb_app_info_response *response);

/*
 * POST /pushbind/v1/account/find, a pushbind extension (api/account_find.c):
 * each name of account_list under every account type the app uses. Two
 * store calls, the second planned from the first's answer:
 *
 *   pb_api_find_plan() → lookup `types` (PB_LOOKUP_TYPES)
 *     → pb_api_find_reads() → lookup `tokens` (names × types, with info)
 *     → pb_api_find_merge()
 *
 * pb_api_find_plan returns PB_OK and fills *plan, whose `types` lookup the
 * caller runs (skip both lookups when n_names is 0: every item was invalid),
 * or a request-level code. pb_api_find_reads, in the types lookup's done(),
 * returns PB_OK and fills the `tokens` lookup (skip it when its n is 0), or
 * a request-level code: PB_ERR_STORE, or PB_ERR_PARAM when names × types
 * exceeds max_query_items (the cost of a query of that many accounts),
 * plan->message then saying the numbers. pb_api_find_merge fills *response
 * from the plan, whatever step ended it (`code`: the request-level code
 * returned, or PB_OK once the tokens lookup is done), inside the tokens
 * lookup's done() (the strings are its); its entries come from `pool`.
 */
typedef struct pb_find_plan {
    size_t n;                  /* input items */
    pb_account_found *entries; /* one per input item */
    pb_str *names;             /* the valid items' names */
    size_t n_names;
    pb_str message;
    bool types_read;        /* `types` answered: the answer names them */
    pb_store_lookup types;  /* the app's account types */
    pb_store_lookup tokens; /* names × types, name-major: accounts[i * n_types + j] */
} pb_find_plan;

int pb_api_find_plan(const pb_api_config *config, uint64_t access_id, const pb_find_request *request, pb_pool *pool,
                     pb_find_plan *plan);
int pb_api_find_reads(const pb_api_config *config, pb_find_plan *plan, pb_pool *pool);
void pb_api_find_merge(const pb_find_plan *plan, int code, pb_pool *pool, pb_find_response *response);

/*
 * POST /v3/device/tag (operator_type 1–10) and, with `delete_all`, POST
 * /v3/device/tag/delete_all_device, for app `access_id` (api/tags.c).
 *
 * pb_api_tag_plan returns PB_OK and fills *plan, whose `write` the caller
 * applies with pb_store_tag_apply_start(); or a request-level code to answer
 * at once, with plan->message naming the broken rule (the item's index, or
 * the limit and its value). The request is whole or nothing: one bad item
 * refuses it all.
 *
 * pb_api_tag_merge fills *response from what the store call reported.
 */
typedef struct pb_tag_plan {
    uint64_t access_id;
    int64_t seq;           /* echoed */
    const char *list_name; /* the list `write.at` indexes, for a limit's message */
    pb_str message;
    pb_tag_write write;
} pb_tag_plan;

int pb_api_tag_plan(const pb_api_config *config, uint64_t access_id, const pb_tag_request *request, bool delete_all,
                    pb_pool *pool, pb_tag_plan *plan);
void pb_api_tag_merge(const pb_api_config *config, pb_tag_plan *plan, int result, pb_pool *pool,
                      pb_tag_response *response);

/*
 * POST /pushbind/v1/tag/query, a pushbind extension (operator_type 1–4):
 * the plan fills plan->lookup for pb_store_tag_lookup_start(), or returns a
 * request-level code (plan->message says why); the merge, inside the
 * lookup's done(), fills *response.
 */
typedef struct pb_tag_query_plan {
    pb_str message;
    pb_tag_lookup lookup;
} pb_tag_query_plan;

int pb_api_tag_query_plan(const pb_api_config *config, uint64_t access_id, const pb_tag_request *request,
                          pb_pool *pool, pb_tag_query_plan *plan);
void pb_api_tag_query_merge(const pb_tag_query_plan *plan, pb_pool *pool, pb_tag_query_response *response);

/*
 * POST /pushbind/v1/token/invalidate, a pushbind extension: the valid items
 * become one INVALIDATE write (skipped when write.n is 0); the merge answers
 * per item "0" (removed, or nothing to remove), "1" (kept: refreshed after
 * invalid_since) or the item's error code.
 */
typedef struct pb_invalidate_plan {
    uint64_t access_id;
    size_t n;
    int *item_codes;
    size_t *item_write; /* per input item: its index in write.tokens, when item_codes[i] is PB_OK */
    pb_tag_write write;
} pb_invalidate_plan;

int pb_api_invalidate_plan(const pb_api_config *config, uint64_t access_id, const pb_tag_request *request,
                           pb_pool *pool, pb_invalidate_plan *plan);
void pb_api_invalidate_merge(const pb_invalidate_plan *plan, int result, pb_invalidate_response *response);

#endif
