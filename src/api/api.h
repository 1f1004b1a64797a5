/*
 * api.h — the two endpoints, as functions from a typed request to a typed
 * response.
 *
 * Every endpoint has one shape: check the request-level fields (an error there
 * answers at once and touches nothing), validate each item, hand the valid
 * ones to the store in one call, then merge the store's outcomes back into
 * input order. Nothing here knows HTTP or how the store keeps its data.
 *
 * The caller has authenticated the request and owns `pool`; the response's
 * arrays are allocated from it. Strings in a query response may point into
 * `view`, so encode the response before ending the view.
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
} pb_api_config;

#define PB_DEFAULT_MAX_QUERY_ITEMS 1000
#define PB_DEFAULT_MAX_BATCH_ITEMS 20
#define PB_DEFAULT_MAX_LIST_ITEMS 100
#define PB_DEFAULT_MAX_ACCOUNT_BYTES 128
#define PB_DEFAULT_MAX_TOKEN_BYTES 256

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
 * POST /v3/device/account/query for app `access_id`. Always fills *response:
 * a request-level error (n == 0) or one entry per input item.
 */
void pb_api_query(const pb_api_config *config, pb_store_view *view, uint64_t access_id,
                  const pb_query_request *request, pb_pool *pool, pb_query_response *response);

/*
 * The query in two halves around its one store lookup, for a caller that
 * must not wait for the store (an event loop with pb_store_lookup_start()).
 *
 * pb_api_query_plan validates the request and each item. It returns PB_OK
 * and fills *plan, whose `lookup` the caller then runs (skip it when
 * lookup.n is 0: every item was invalid, and merge needs no outputs), or a
 * request-level code to answer at once. Arrays are from `pool`, which with
 * `request` must stay valid until the merge.
 *
 * pb_api_query_merge, once the lookup is done, fills *response as
 * pb_api_query would; its strings are the lookup's, so encode the response
 * while they are valid (inside the lookup's done()).
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

/* Called once per pb_api_batchoperate(), when its *response is filled. */
typedef void pb_api_done(void *arg);

/*
 * POST /v3/device/account/batchoperate for app `access_id`. Fills *response
 * (always), then calls done(arg); by then every item reported 0 is durable.
 *
 * The write does not block the caller: done() runs when the store has
 * committed, which may be before this returns (a request-level error, a
 * synchronous backend) or later on another thread (pb_store_apply_start()).
 * `request`, `pool` and `response` must stay valid until done() is called.
 */
void pb_api_batchoperate(const pb_api_config *config, pb_store_session *session, uint64_t access_id,
                         const pb_batch_request *request, pb_pool *pool, pb_batch_response *response,
                         pb_api_done *done, void *arg);

#endif
