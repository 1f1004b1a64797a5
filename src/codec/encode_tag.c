/*
 * encode_tag.c — the tag endpoints' answers (codec.h): snake_case only, as
 * TPNS and every published client use for tags.
 */
#include "codec/codec.h"
#include "common/codes.h"
#include "common/json_writer.h"

/* "ret_code":N,"err_msg":"…": the request's own message when it has one, else the code's. */
static void put_outcome(pb_json_writer *w, int code, pb_str message)
{
    PB_JSON_KEY(w, "ret_code");
    pb_json_int(w, code);
    PB_JSON_KEY(w, "err_msg");
    pb_json_string(w, message.len != 0 ? message : pb_str_from_cstr(pb_code_message(code)));
}

pb_str pb_encode_tag(pb_pool *pool, const pb_tag_response *response)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "seq");
    pb_json_int(&w, response->seq);
    put_outcome(&w, response->code, response->message);
    pb_json_object_close(&w);
    return pb_json_text(&w);
}

static void put_strings(pb_json_writer *w, const pb_str *items, size_t n)
{
    pb_json_array_open(w);
    for (size_t i = 0; i < n; i++)
        pb_json_string(w, items[i]);
    pb_json_array_close(w);
}

static void put_counts(pb_json_writer *w, const pb_tag_count *counts, size_t n)
{
    pb_json_array_open(w);
    for (size_t i = 0; i < n; i++) {
        pb_json_object_open(w);
        PB_JSON_KEY(w, "tag");
        pb_json_string(w, counts[i].tag);
        PB_JSON_KEY(w, "count");
        pb_json_uint(w, counts[i].count);
        pb_json_object_close(w);
    }
    pb_json_array_close(w);
}

static void put_next_cursor(pb_json_writer *w, pb_str cursor)
{
    if (cursor.len == 0)
        return;
    PB_JSON_KEY(w, "next_cursor");
    pb_json_string(w, cursor);
}

pb_str pb_encode_tag_query(pb_pool *pool, const pb_tag_query_response *response)
{
    pb_json_writer w;
    pb_json_init(&w, pool);
    pb_json_object_open(&w);
    put_outcome(&w, response->code, response->message);
    if (response->code == PB_OK) {
        switch (response->operator_type) {
        case 1:
            PB_JSON_KEY(&w, "token_tags");
            pb_json_array_open(&w);
            for (size_t i = 0; i < response->n; i++) {
                pb_json_object_open(&w);
                PB_JSON_KEY(&w, "token");
                pb_json_string(&w, response->token_tags[i].token);
                PB_JSON_KEY(&w, "tag_list");
                put_strings(&w, response->token_tags[i].tags, response->token_tags[i].n);
                pb_json_object_close(&w);
            }
            pb_json_array_close(&w);
            break;
        case 2:
            PB_JSON_KEY(&w, "token_list");
            put_strings(&w, response->tokens, response->n);
            put_next_cursor(&w, response->next_cursor);
            break;
        case 3:
            PB_JSON_KEY(&w, "tag_counts");
            put_counts(&w, response->counts, response->n);
            break;
        case 4:
            PB_JSON_KEY(&w, "tags");
            put_counts(&w, response->counts, response->n);
            put_next_cursor(&w, response->next_cursor);
            break;
        }
    }
    pb_json_object_close(&w);
    return pb_json_text(&w);
}
