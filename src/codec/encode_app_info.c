/*
 * encode_app_info.c — the answer of GET /pushbind/v1/app. Every value is a
 * number and every key a literal, so plain formatting is the whole encoder.
 */
#include <inttypes.h>
#include <stdio.h>

#include "codec/codec.h"
#include "common/codes.h"

/* The longest answer: the fixed text plus nine 20-digit numbers. */
#define APP_INFO_MAX_BYTES 512

pb_str pb_encode_app_info(pb_pool *pool, const pb_app_info_response *response)
{
    char *out = pb_pool_alloc(pool, APP_INFO_MAX_BYTES);
    int len;
    if (response->code != PB_OK) {
        len = snprintf(out, APP_INFO_MAX_BYTES, "{\"ret_code\":%d,\"err_msg\":\"%s\"}", response->code,
                       pb_code_message(response->code));
        return (pb_str){out, (size_t)len};
    }
    const pb_app_limits *l = &response->limits;
    len = snprintf(out, APP_INFO_MAX_BYTES,
                   "{\"ret_code\":0,\"err_msg\":\"%s\",\"access_id\":%" PRIu64 ",\"bindings\":%" PRIu64
                   ",\"limits\":{\"max_accounts_per_token\":%" PRIu32 ",\"max_tokens_per_account\":%" PRIu32
                   ",\"max_query_items\":%" PRIu32 ",\"max_batch_items\":%" PRIu32 ",\"max_list_items\":%" PRIu32
                   ",\"max_account_bytes\":%" PRIu32 ",\"max_token_bytes\":%" PRIu32 "}}",
                   pb_code_message(PB_OK), response->access_id, response->bindings, l->max_accounts_per_token,
                   l->max_tokens_per_account, l->max_query_items, l->max_batch_items, l->max_list_items,
                   l->max_account_bytes, l->max_token_bytes);
    return (pb_str){out, (size_t)len};
}
