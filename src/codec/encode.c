/*
 * encode.c — typed responses to JSON, with the JSON writer
 * (common/json_writer.h) writing into the caller's pool. Keys are literals;
 * strings from requests and the store go through the writer's escaping.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "common/codes.h"
#include "common/json_writer.h"

/* {"account":"...","account_type":N}, the type only when not 0. Leaves the object open. */
static void put_account_fields(pb_json_writer *w, const pb_account *account)
{
    PB_JSON_KEY(w, "account");
    pb_json_string(w, account->name);
    if (account->type != 0) {
        PB_JSON_KEY(w, "account_type");
        pb_json_int(w, account->type);
    }
}

/* "bind_time":N,"last_bind_time":N into an open object, when the lookup gave times. */
static void put_times(pb_json_writer *w, const pb_binding_times *times, size_t i)
{
    if (times == NULL)
        return;
    PB_JSON_KEY(w, "bind_time");
    pb_json_int(w, times[i].bind_time);
    PB_JSON_KEY(w, "last_bind_time");
    pb_json_int(w, times[i].last_bind_time);
}

/* "platform":"android" into an open object, when the platform is known. */
static void put_platform(pb_json_writer *w, pb_platform platform)
{
    const char *name = pb_platform_name(platform);
    if (name == NULL)
        return;
    PB_JSON_KEY(w, "platform");
    pb_json_string(w, pb_str_from_cstr(name));
}

/* Extension: one object per token, in token_list's order, with its platform and the binding's times. */
static void put_token_info(pb_json_writer *w, const pb_token_list *tokens)
{
    PB_JSON_KEY(w, "token_info");
    pb_json_array_open(w);
    for (size_t j = 0; j < tokens->n; j++) {
        pb_json_object_open(w);
        PB_JSON_KEY(w, "token");
        pb_json_string(w, tokens->tokens[j]);
        if (tokens->platforms != NULL)
            put_platform(w, tokens->platforms[j]);
        put_times(w, tokens->times, j);
        pb_json_object_close(w);
    }
    pb_json_array_close(w);
}

static void put_account_tokens(pb_json_writer *w, const pb_account_tokens *entries, size_t n, bool with_info)
{
    PB_JSON_KEY(w, "account_tokens");
    pb_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        pb_json_object_open(w);
        put_account_fields(w, &entries[i].account);
        PB_JSON_KEY(w, "token_list");
        pb_json_array_open(w);
        for (size_t j = 0; j < entries[i].tokens.n; j++)
            pb_json_string(w, entries[i].tokens.tokens[j]);
        pb_json_array_close(w);
        if (with_info)
            put_token_info(w, &entries[i].tokens);
        pb_json_object_close(w);
    }
    pb_json_array_close(w);
}

static void put_token_accounts(pb_json_writer *w, const pb_token_accounts *entries, size_t n, bool with_info)
{
    PB_JSON_KEY(w, "token_accounts");
    pb_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        pb_json_object_open(w);
        PB_JSON_KEY(w, "token");
        pb_json_string(w, entries[i].token);
        if (with_info)
            put_platform(w, entries[i].accounts.platform);
        PB_JSON_KEY(w, "account_list");
        pb_json_array_open(w);
        for (size_t j = 0; j < entries[i].accounts.n; j++) {
            pb_json_object_open(w);
            put_account_fields(w, &entries[i].accounts.accounts[j]);
            if (with_info)
                put_times(w, entries[i].accounts.times, j);
            pb_json_object_close(w);
        }
        pb_json_array_close(w);
        pb_json_object_close(w);
    }
    pb_json_array_close(w);
}

/* The top-level code and its message under the snake_case keys, which every answer has. */
static void put_code_and_message(pb_json_writer *w, int code)
{
    PB_JSON_KEY(w, "ret_code");
    pb_json_int(w, code);
    PB_JSON_KEY(w, "err_msg");
    pb_json_string(w, pb_str_from_cstr(pb_code_message(code)));
}

pb_str pb_encode_query(pb_pool *pool, const pb_query_response *response)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    bool by_account = response->operator_type == 1;
    size_t n = response->n;
    /* An answer without its entries can only say what went wrong: encode it as request-level. */
    if (by_account ? response->by_account == NULL : response->by_token == NULL)
        n = 0;

    pb_json_object_open(&w);
    /*
     * TPNS spells this endpoint's pair in camelCase; published clients read
     * the snake_case pair on it too: without it a failure reads as 0.
     */
    PB_JSON_KEY(&w, "retCode");
    pb_json_int(&w, response->code);
    PB_JSON_KEY(&w, "errMsg");
    pb_json_string(&w, pb_str_from_cstr(pb_code_message(response->code)));
    put_code_and_message(&w, response->code);
    PB_JSON_KEY(&w, "result");
    pb_json_array_open(&w);
    for (size_t i = 0; i < n; i++)
        pb_json_int_string(&w, by_account ? response->by_account[i].code : response->by_token[i].code);
    pb_json_array_close(&w);
    if (n != 0) {
        if (by_account)
            put_account_tokens(&w, response->by_account, n, response->with_info);
        else
            put_token_accounts(&w, response->by_token, n, response->with_info);
    }
    pb_json_object_close(&w);
    return pb_json_text(&w);
}

pb_str pb_encode_find(pb_pool *pool, const pb_find_response *response)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    size_t n = response->entries != NULL ? response->n : 0;

    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "ret_code");
    pb_json_int(&w, response->code);
    PB_JSON_KEY(&w, "err_msg");
    pb_json_string(&w, response->message.len != 0 ? response->message
                                                  : pb_str_from_cstr(pb_code_message(response->code)));
    PB_JSON_KEY(&w, "result");
    pb_json_array_open(&w);
    for (size_t i = 0; i < n; i++)
        pb_json_int_string(&w, response->entries[i].code);
    pb_json_array_close(&w);
    if (response->types_known) {
        PB_JSON_KEY(&w, "account_types");
        pb_json_array_open(&w);
        for (size_t i = 0; i < response->n_types; i++)
            pb_json_int(&w, response->types[i]);
        pb_json_array_close(&w);
    }
    if (n != 0) {
        PB_JSON_KEY(&w, "found");
        pb_json_array_open(&w);
        for (size_t i = 0; i < n; i++) {
            pb_json_object_open(&w);
            PB_JSON_KEY(&w, "account");
            pb_json_string(&w, response->entries[i].name);
            put_account_tokens(&w, response->entries[i].accounts, response->entries[i].n_accounts, true);
            pb_json_object_close(&w);
        }
        pb_json_array_close(&w);
    }
    pb_json_object_close(&w);
    return pb_json_text(&w);
}

pb_str pb_encode_batch(pb_pool *pool, const pb_batch_response *response)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    size_t n = response->item_codes != NULL ? response->n : 0;

    pb_json_object_open(&w);
    put_code_and_message(&w, response->code);
    PB_JSON_KEY(&w, "result");
    pb_json_array_open(&w);
    for (size_t i = 0; i < n; i++)
        pb_json_int_string(&w, response->item_codes[i]);
    pb_json_array_close(&w);
    pb_json_object_close(&w);
    return pb_json_text(&w);
}
