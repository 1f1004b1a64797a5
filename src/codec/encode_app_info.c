/*
 * encode_app_info.c — the answer of GET /pushbind/v1/app, with the JSON
 * writer (common/json_writer.h).
 */
#include "codec/codec.h"
#include "common/codes.h"
#include "common/json_writer.h"

pb_str pb_encode_app_info(pb_pool *pool, const pb_app_info_response *response)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "ret_code");
    pb_json_int(&w, response->code);
    PB_JSON_KEY(&w, "err_msg");
    pb_json_string(&w, pb_str_from_cstr(pb_code_message(response->code)));
    if (response->code == PB_OK) {
        const pb_app_limits *l = &response->limits;
        PB_JSON_KEY(&w, "access_id");
        pb_json_uint(&w, response->access_id);
        PB_JSON_KEY(&w, "bindings");
        pb_json_uint(&w, response->bindings);
        if (response->environment != NULL) {
            PB_JSON_KEY(&w, "environment");
            pb_json_string(&w, pb_str_from_cstr(response->environment));
        }
        PB_JSON_KEY(&w, "limits");
        pb_json_object_open(&w);
        PB_JSON_KEY(&w, "max_accounts_per_token");
        pb_json_uint(&w, l->max_accounts_per_token);
        PB_JSON_KEY(&w, "max_tokens_per_account");
        pb_json_uint(&w, l->max_tokens_per_account);
        PB_JSON_KEY(&w, "max_query_items");
        pb_json_uint(&w, l->max_query_items);
        PB_JSON_KEY(&w, "max_batch_items");
        pb_json_uint(&w, l->max_batch_items);
        PB_JSON_KEY(&w, "max_list_items");
        pb_json_uint(&w, l->max_list_items);
        PB_JSON_KEY(&w, "max_account_bytes");
        pb_json_uint(&w, l->max_account_bytes);
        PB_JSON_KEY(&w, "max_token_bytes");
        pb_json_uint(&w, l->max_token_bytes);
        PB_JSON_KEY(&w, "max_tag_items");
        pb_json_uint(&w, l->max_tag_items);
        PB_JSON_KEY(&w, "max_tags_per_token");
        pb_json_uint(&w, l->max_tags_per_token);
        PB_JSON_KEY(&w, "max_tags_per_app");
        pb_json_uint(&w, l->max_tags_per_app);
        PB_JSON_KEY(&w, "max_tag_chars");
        pb_json_uint(&w, l->max_tag_chars);
        pb_json_object_close(&w);
    }
    pb_json_object_close(&w);
    return pb_json_text(&w);
}
