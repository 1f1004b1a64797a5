/*
 * decode.c — request bodies to typed requests, with yajl's streaming parser:
 * the two entry points of codec.h. Each points a decoder at its request's
 * fields (a field it leaves NULL is a key that request does not have), runs
 * the parse (decode_parse.c), and empties the request when the body is
 * refused. codec/decode.h describes the decoder.
 */
#include "codec/decode.h"
#include "common/codes.h"

/*
 * Gives the elements of `list` that have no type of their own the top-level
 * account_type, or 0 without one (or with an unacceptable one, which the
 * endpoint refuses anyway).
 */
static void apply_default_type(const pb_default_account_type *type, pb_account_item_list *list)
{
    uint32_t fallback = type->state == PB_FIELD_PRESENT ? type->value : 0;
    for (size_t i = 0; i < list->n; i++)
        if (list->items[i].account.type == TYPE_NOT_GIVEN)
            list->items[i].account.type = fallback;
}

static void query_init(pb_query_request *out)
{
    *out = (pb_query_request){0};
}

static void batch_init(pb_batch_request *out)
{
    *out = (pb_batch_request){0};
    out->platform = empty;
}

/* On PB_ERR_PARSE, *out is left as an empty request: all fields absent. */
int pb_decode_query(pb_pool *pool, const char *body, size_t len, pb_query_request *out)
{
    decoder d = {
        .operator_type = &out->operator_type,
        .account_type = &out->account_type,
        .with_info_state = &out->with_info_state,
        .with_info = &out->with_info,
        .account_list = &out->account_list,
        .token_list = &out->token_list,
    };
    query_init(out);
    int code = pb_decode_run(&d, pool, body, len);
    if (code != PB_OK)
        query_init(out);
    else
        apply_default_type(&out->account_type, &out->account_list);
    return code;
}

int pb_decode_batch(pb_pool *pool, const char *body, size_t len, pb_batch_request *out)
{
    decoder d = {
        .operator_type = &out->operator_type,
        .account_type = &out->account_type,
        .platform_state = &out->platform_state,
        .platform = &out->platform,
        .account_list = &out->account_list,
        .token_list = &out->token_list,
        .token_accounts = &out->token_accounts,
    };
    batch_init(out);
    int code = pb_decode_run(&d, pool, body, len);
    if (code != PB_OK) {
        batch_init(out);
        return code;
    }
    apply_default_type(&out->account_type, &out->account_list);
    for (size_t i = 0; i < out->token_accounts.n; i++)
        apply_default_type(&out->account_type, &out->token_accounts.items[i].account_list);
    return code;
}

static void tag_init(pb_tag_request *out)
{
    *out = (pb_tag_request){0};
    out->platform = out->tag = out->cursor = empty;
}

int pb_decode_tag(pb_pool *pool, const char *body, size_t len, bool invalidate, pb_tag_request *out)
{
    decoder d = {
        .operator_type = &out->operator_type,
        .platform_state = &out->platform_state,
        .platform = &out->platform,
        .token_list = &out->token_list,
        .tag_list = &out->tag_list,
        .tag_token_list = &out->tag_token_list,
        .seq = &out->seq,
        .limit = &out->limit,
        .tag_state = &out->tag_state,
        .tag = &out->tag,
        .cursor_state = &out->cursor_state,
        .cursor = &out->cursor,
        .invalidate = invalidate ? &out->invalidate : NULL,
    };
    tag_init(out);
    int code = pb_decode_run(&d, pool, body, len);
    if (code != PB_OK)
        tag_init(out);
    return code;
}
