/*
 * fuzz_decode.c — libFuzzer target for the request decoder of one endpoint:
 * built twice, as fuzz_decode_query and (with PB_FUZZ_BATCH) fuzz_decode_batch.
 *
 * The input is a request body. Besides "no crash, no leak, no undefined
 * behaviour" under ASan/UBSan, it checks the codec.h contract: a refused body
 * leaves an empty request, and every string of an accepted one is readable,
 * valid UTF-8, and lives in the body or the pool.
 */
#include <stdint.h>
#include <stdlib.h>

#include "api/validate.h"
#include "codec/codec.h"
#include "common/codes.h"
#include "common/utf8.h"

#define CHECK(cond)        \
    do {                   \
        if (!(cond))       \
            abort();       \
    } while (0)

static void check_string(pb_str s)
{
    CHECK(s.len == 0 || s.base != NULL);
    CHECK(pb_utf8_is_valid(s.base, s.len)); /* also reads every byte, for ASan */
}

/* The validation rules the endpoints apply next must take whatever the decoder gives. */
static void check_accounts(const pb_account_item_list *list, const pb_api_config *config)
{
    CHECK(list->state != PB_FIELD_PRESENT || list->n == 0 || list->items != NULL);
    for (size_t i = 0; i < list->n; i++) {
        check_string(list->items[i].account.name);
        CHECK(list->items[i].account.type <= PB_ACCOUNT_TYPE_MAX);
        int code = pb_validate_account(config, &list->items[i]);
        CHECK(code == PB_OK || code == PB_ERR_PARAM);
    }
}

static void check_tokens(const pb_token_item_list *list, const pb_api_config *config)
{
    for (size_t i = 0; i < list->n; i++) {
        check_string(list->items[i].token);
        int code = pb_validate_token(config, &list->items[i]);
        CHECK(code == PB_OK || code == PB_ERR_TOKEN);
    }
}

#ifdef PB_FUZZ_BATCH
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_api_config config;
    pb_api_config_defaults(&config);
    pb_batch_request r;
    int code = pb_decode_batch(&pool, (const char *)data, size, &r);
    CHECK(code == PB_OK || code == PB_ERR_PARSE);
    if (code != PB_OK) {
        CHECK(r.operator_type.state == PB_FIELD_ABSENT && r.token_accounts.n == 0 && r.token_list.n == 0 &&
              r.account_list.n == 0 && r.platform_state == PB_FIELD_ABSENT);
    }
    check_string(r.platform);
    int platform = pb_validate_platform(r.platform_state, r.platform);
    CHECK(platform == PB_OK || platform == PB_ERR_PARAM);
    check_tokens(&r.token_list, &config);
    check_accounts(&r.account_list, &config);
    for (size_t i = 0; i < r.token_accounts.n; i++) {
        int code_token = pb_validate_token(&config, &r.token_accounts.items[i].token);
        CHECK(code_token == PB_OK || code_token == PB_ERR_TOKEN);
        check_string(r.token_accounts.items[i].token.token);
        check_accounts(&r.token_accounts.items[i].account_list, &config);
    }
    pb_pool_clear(&pool);
    return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_api_config config;
    pb_api_config_defaults(&config);
    pb_query_request r;
    int code = pb_decode_query(&pool, (const char *)data, size, &r);
    CHECK(code == PB_OK || code == PB_ERR_PARSE);
    if (code != PB_OK)
        CHECK(r.operator_type.state == PB_FIELD_ABSENT && r.token_list.n == 0 && r.account_list.n == 0);
    check_tokens(&r.token_list, &config);
    check_accounts(&r.account_list, &config);
    pb_pool_clear(&pool);
    return 0;
}
#endif
