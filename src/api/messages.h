/*
 * The typed requests and responses of the endpoints.
 *
 * The decoder (codec/decode.c) fills a request from JSON without judging the
 * values beyond their JSON types; the endpoint (api/query.c,
 * api/batchoperate.c) validates it into a plan for the store and merges the
 * store's outcomes into a response;
 * the encoder (codec/encode.c) turns the response into JSON. Nothing here
 * knows about HTTP or about how the store keeps its data.
 *
 * Every pointer in a request points into the request body or the request's
 * pool; every pointer in a response into the pool or into what a store
 * lookup read (valid until its done() returns).
 */
#ifndef PB_MESSAGES_H
#define PB_MESSAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "common/binding.h"

/* How a top-level field appeared in the body. A JSON `null` counts as absent. */
typedef enum pb_field_state {
    PB_FIELD_ABSENT = 0,
    PB_FIELD_PRESENT,   /* present with the expected JSON type */
    PB_FIELD_WRONG_TYPE /* present, but not of the expected JSON type */
} pb_field_state;

/*
 * One element of a token list as sent. `is_string` is false when the element
 * was not a JSON string; `token` is then empty.
 */
typedef struct pb_token_item {
    pb_str token;
    bool is_string;
} pb_token_item;

/*
 * One element of an account list as sent: {"account": "...", "account_type": N}.
 *
 * `well_typed` is false when the element was not an object, had no "account",
 * had an "account" that was not a string, or had an "account_type" that was
 * not an integer in 0..PB_ACCOUNT_TYPE_MAX, as a JSON number or a string of
 * decimal digits (JSON null counts as absent). An element without a type of
 * its own takes the request's top-level "account_type", else 0. `account.name` holds the string that was sent whenever
 * "account" was a string, even when `well_typed` is false, so that the answer
 * can echo it. Length and character checks are the endpoint's, not the
 * decoder's.
 */
typedef struct pb_account_item {
    pb_account account;
    bool well_typed;
} pb_account_item;

typedef struct pb_token_item_list {
    pb_field_state state; /* PB_FIELD_WRONG_TYPE: not an array */
    pb_token_item *items;
    size_t n;
} pb_token_item_list;

typedef struct pb_account_item_list {
    pb_field_state state; /* PB_FIELD_WRONG_TYPE: not an array */
    pb_account_item *items;
    size_t n;
} pb_account_item_list;

/*
 * One element of batchoperate's `token_accounts`:
 * {"token": "...", "account_list": [...]}. `is_object` is false when the
 * element was not a JSON object (everything else is then empty). `token`
 * is_string is false when "token" was absent or not a string.
 */
typedef struct pb_token_accounts_item {
    bool is_object;
    pb_token_item token;
    pb_account_item_list account_list;
} pb_token_accounts_item;

typedef struct pb_token_accounts_list {
    pb_field_state state; /* PB_FIELD_WRONG_TYPE: not an array */
    pb_token_accounts_item *items;
    size_t n;
} pb_token_accounts_list;

/*
 * `operator_type` as sent, a JSON number or a string of decimal digits ("1").
 * PB_FIELD_WRONG_TYPE also covers numbers that are not integers (1.5, 1e3),
 * integers outside int64_t and any other string.
 */
typedef struct pb_operator_type {
    pb_field_state state;
    int64_t value;
} pb_operator_type;

/*
 * The top-level `account_type`, the type of every account element that has
 * none of its own. PB_FIELD_WRONG_TYPE: not an integer in
 * 0..PB_ACCOUNT_TYPE_MAX (number or decimal string); the decoder then leaves
 * the elements alone and the endpoint refuses the request.
 */
typedef struct pb_default_account_type {
    pb_field_state state;
    uint32_t value;
} pb_default_account_type;

/* POST /v3/device/account/query */
typedef struct pb_query_request {
    pb_operator_type operator_type;
    pb_default_account_type account_type;
    /*
     * Extension: "with_info": true or 1 asks for bind times and platforms.
     * false, 0, null or absent: off. PB_FIELD_WRONG_TYPE: anything else.
     */
    pb_field_state with_info_state;
    bool with_info;
    pb_account_item_list account_list; /* operator_type 1 */
    pb_token_item_list token_list;     /* operator_type 2 */
} pb_query_request;

/* POST /v3/device/account/batchoperate */
typedef struct pb_batch_request {
    pb_operator_type operator_type;
    pb_default_account_type account_type;
    pb_field_state platform_state; /* PB_FIELD_WRONG_TYPE: not a string */
    pb_str platform;
    pb_token_accounts_list token_accounts; /* operator_type 1–3 */
    pb_token_item_list token_list;         /* operator_type 4 */
    pb_account_item_list account_list;     /* operator_type 5 */
} pb_batch_request;

/* One entry of account_tokens: the account as sent and its tokens. */
typedef struct pb_account_tokens {
    int code;            /* item code, also the entry's string in `result` */
    pb_account account;  /* echo of what was sent ("" when it was not a string) */
    pb_token_list tokens;
} pb_account_tokens;

/* One entry of token_accounts: the token as sent and its accounts. */
typedef struct pb_token_accounts {
    int code;
    pb_str token; /* echo of what was sent ("" when it was not a string) */
    pb_account_list accounts;
} pb_token_accounts;

/*
 * The answer to a query. When `code` is a request-level error, `n` is 0 and
 * only the code and message (both spellings) and an empty result are sent.
 * Otherwise exactly one of `by_account` (operator_type 1) or `by_token`
 * (operator_type 2) holds `n` entries in input order.
 */
typedef struct pb_query_response {
    int code;
    int operator_type;
    bool with_info; /* the extension's fields: token_info, platform, bind times */
    size_t n;
    pb_account_tokens *by_account;
    pb_token_accounts *by_token;
} pb_query_response;

/* The answer to a batchoperate: the top-level code and one code per item. */
typedef struct pb_batch_response {
    int code;
    size_t n;
    int *item_codes;
} pb_batch_response;

/* The limits a request meets; each is a serve flag (see api.h and store.h). */
typedef struct pb_app_limits {
    uint32_t max_accounts_per_token;
    uint32_t max_tokens_per_account;
    uint32_t max_query_items;
    uint32_t max_batch_items;
    uint32_t max_list_items;
    uint32_t max_account_bytes;
    uint32_t max_token_bytes;
    uint32_t max_tag_items;
    uint32_t max_tags_per_token;
    uint32_t max_tags_per_app;
    uint32_t max_tag_chars;
} pb_app_limits;

/* The answer to GET /pushbind/v1/app (a pushbind extension, no request body). */
typedef struct pb_app_info_response {
    int code; /* PB_OK, PB_ERR_AUTH (the app went away), PB_ERR_STORE; the rest is set on PB_OK only */
    uint64_t access_id;
    uint64_t bindings; /* account–token pairs the app holds */
    const char *environment; /* the deployment's name (serve --environment), or NULL */
    pb_app_limits limits;
} pb_app_info_response;

/* ---- Finding a name under every type (a pushbind extension) ------------- */

/*
 * POST /pushbind/v1/account/find reads the query's request shape: its
 * `account_list` (elements {"account": "…"}; a type given is not used:
 * every type the app uses is looked at). Decoded by pb_decode_query().
 */
typedef pb_query_request pb_find_request;

/* One entry of `found`: a name as sent and its accounts that hold tokens, in increasing type order. */
typedef struct pb_account_found {
    int code;                    /* PB_OK, PB_ERR_NO_BINDING when none, or the item's error */
    pb_str name;                 /* echo of what was sent ("" when it was not a string) */
    pb_account_tokens *accounts; /* each with code PB_OK and its tokens with their times and platforms */
    size_t n_accounts;
} pb_account_found;

/*
 * The answer of a find. `types` (when n_types_known) are the app's account
 * types that were looked at; they are sent also with a request-level error
 * the number of types caused, so a client can split its list. `n` entries
 * in input order, or none with a request-level code.
 */
typedef struct pb_find_response {
    int code;
    pb_str message; /* empty: the code's own message */
    bool types_known;
    const uint32_t *types;
    size_t n_types;
    size_t n;
    pb_account_found *entries;
} pb_find_response;

/* ---- Tags (docs/API.md, "Tags") ----------------------------------------- */

/* An integer field other than operator_type (seq, limit, invalid_since): number or decimal string. */
typedef struct pb_integer_field {
    pb_field_state state;
    int64_t value;
} pb_integer_field;

/*
 * One (tag, token) pair of tag_token_list, as {"tag": "t", "token": "x"} or
 * ["t", "x"]. `well_formed` is false unless it was one of those two shapes
 * with both values strings.
 */
typedef struct pb_tag_pair_item {
    pb_str tag;
    pb_str token;
    bool well_formed;
} pb_tag_pair_item;

typedef struct pb_tag_pair_list {
    pb_field_state state;
    pb_tag_pair_item *items;
    size_t n;
} pb_tag_pair_list;

/* One element of invalidate's token_list: {"token", "invalid_since", "reason"}. */
typedef struct pb_invalidate_item {
    bool is_object;
    pb_token_item token;
    pb_integer_field invalid_since;
    pb_field_state reason_state;
    pb_str reason;
} pb_invalidate_item;

typedef struct pb_invalidate_list {
    pb_field_state state;
    pb_invalidate_item *items;
    size_t n;
} pb_invalidate_list;

/*
 * The tag endpoints' requests: POST /v3/device/tag and its delete_all_device,
 * and the extensions /pushbind/v1/tag/query and /pushbind/v1/token/invalidate.
 * One shape for the four; each uses its fields.
 */
typedef struct pb_tag_request {
    pb_operator_type operator_type;
    pb_field_state platform_state;
    pb_str platform;
    pb_token_item_list token_list;      /* strings (tag ops 1–8, query op 1) */
    pb_token_item_list tag_list;        /* strings */
    pb_tag_pair_list tag_token_list;    /* ops 9 and 10 */
    pb_integer_field seq;
    pb_field_state tag_state;           /* query op 2 */
    pb_str tag;
    pb_field_state cursor_state;        /* query ops 2 and 4 */
    pb_str cursor;
    pb_integer_field limit;
    pb_invalidate_list invalidate;      /* invalidate's token_list (objects) */
} pb_tag_request;

/* The answer of the two TPNS tag endpoints: {"seq", "ret_code", "err_msg"}. */
typedef struct pb_tag_response {
    int code;
    int64_t seq;
    pb_str message; /* empty: the code's own message */
} pb_tag_response;

/* One tag with its token count (query ops 3 and 4). */
typedef struct pb_tag_count {
    pb_str tag;
    uint64_t count;
} pb_tag_count;

/* One token with its tags (query op 1). */
typedef struct pb_token_tags {
    pb_str token;
    pb_str *tags;
    size_t n;
} pb_token_tags;

/* The answer of /pushbind/v1/tag/query: ret_code, err_msg, then the op's fields. */
typedef struct pb_tag_query_response {
    int code;
    pb_str message;
    int operator_type;
    pb_token_tags *token_tags; /* op 1 */
    pb_str *tokens;            /* op 2 */
    pb_tag_count *counts;      /* ops 3 and 4 */
    size_t n;
    pb_str next_cursor;        /* ops 2 and 4; empty on the last page */
} pb_tag_query_response;

/* The answer of /pushbind/v1/token/invalidate: like batchoperate's. */
typedef pb_batch_response pb_invalidate_response;

#endif
