/*
 * tags.c — the tag endpoints' plans and merges (api.h): POST /v3/device/tag
 * and delete_all_device (whole or nothing, one request-level code naming the
 * broken rule), the tag reads and token invalidation (extensions).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "common/codes.h"

/* A message for the answer's err_msg, in `pool`. */
static pb_str say(pb_pool *pool, const char *format, ...)
{
    char buf[200];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(buf, sizeof(buf), format, args);
    va_end(args);
    size_t n = len < 0 ? 0 : (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf) - 1;
    return pb_pool_strdup(pool, (pb_str){buf, n});
}

/* A list the op needs: present, not empty, within `max`; *message says which rule it broke. */
static int need_list(pb_pool *pool, const char *name, pb_field_state state, size_t n, size_t max, pb_str *message)
{
    int code = pb_validate_list(state, n, max);
    if (code == PB_ERR_MISSING)
        *message = say(pool, "%s is missing or empty", name);
    else if (code != PB_OK && state == PB_FIELD_PRESENT)
        *message = say(pool, "%s holds %zu items: the limit is %zu (max-tag-items)", name, n, max);
    else if (code != PB_OK)
        *message = say(pool, "%s is not an array", name);
    return code;
}

/* Validates items [0, n_full) of a string list fully (as tokens or tags), the rest as strings only. */
static int check_strings(const pb_api_config *config, pb_pool *pool, const char *name, const pb_token_item_list *list,
                         size_t n_full, bool tags, pb_str *message)
{
    for (size_t i = 0; i < list->n; i++) {
        const pb_token_item *item = &list->items[i];
        int code = !item->is_string ? (tags ? PB_ERR_PARAM : PB_ERR_TOKEN)
                   : i >= n_full    ? PB_OK
                   : tags           ? pb_validate_tag(config, item)
                                    : pb_validate_token(config, item);
        if (code == PB_OK)
            continue;
        if (tags)
            *message = say(pool, "%s[%zu]: a tag is 1-%u characters of UTF-8, no control characters, "
                                 "no leading or trailing space", name, i, config->max_tag_chars);
        else
            *message = say(pool, "%s[%zu]: not a valid token", name, i);
        return code;
    }
    return PB_OK;
}

static pb_str *strings_of(pb_pool *pool, const pb_token_item_list *list, size_t n)
{
    pb_str *out = pb_pool_alloc(pool, (n != 0 ? n : 1) * sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = list->items[i].token;
    return out;
}

static int plan_pairs(const pb_api_config *config, const pb_tag_request *request, pb_pool *pool, pb_tag_plan *plan)
{
    const pb_tag_pair_list *list = &request->tag_token_list;
    int code = need_list(pool, "tag_token_list", list->state, list->n, config->max_tag_items, &plan->message);
    if (code != PB_OK)
        return code;
    pb_str *tags = pb_pool_alloc(pool, list->n * sizeof(*tags)), *tokens = pb_pool_alloc(pool, list->n * sizeof(*tokens));
    for (size_t i = 0; i < list->n; i++) {
        const pb_tag_pair_item *pair = &list->items[i];
        pb_token_item tag = {pair->tag, pair->well_formed}, token = {pair->token, pair->well_formed};
        if (!pair->well_formed) {
            plan->message = say(pool, "tag_token_list[%zu]: a pair is {\"tag\": ..., \"token\": ...} or [tag, token]", i);
            return PB_ERR_PARAM;
        }
        if (pb_validate_tag(config, &tag) != PB_OK) {
            plan->message = say(pool, "tag_token_list[%zu]: a tag is 1-%u characters of UTF-8, no control characters, "
                                      "no leading or trailing space", i, config->max_tag_chars);
            return PB_ERR_PARAM;
        }
        if (pb_validate_token(config, &token) != PB_OK) {
            plan->message = say(pool, "tag_token_list[%zu]: not a valid token", i);
            return PB_ERR_TOKEN;
        }
        tags[i] = pair->tag;
        tokens[i] = pair->token;
    }
    plan->write.kind = request->operator_type.value == 9 ? PB_TAG_ADD : PB_TAG_REMOVE;
    plan->write.tags = tags;
    plan->write.tokens = tokens;
    plan->write.n = list->n;
    plan->list_name = "tag_token_list";
    return PB_OK;
}

/* Ops 1–8: which items each uses (docs/API.md's table). */
static int plan_lists(const pb_api_config *config, const pb_tag_request *request, pb_pool *pool, pb_tag_plan *plan)
{
    int64_t op = request->operator_type.value;
    const pb_token_item_list *tokens = &request->token_list, *tags = &request->tag_list;
    bool uses_tags = op != 5, many_tags = op == 3 || op == 4 || op == 6, many_tokens = op == 7 || op == 8;
    int code = need_list(pool, "token_list", tokens->state, tokens->n, config->max_tag_items, &plan->message);
    if (code == PB_OK && uses_tags)
        code = need_list(pool, "tag_list", tags->state, tags->n, config->max_tag_items, &plan->message);
    if (code == PB_OK)
        code = check_strings(config, pool, "token_list", tokens, many_tokens ? tokens->n : 1, false, &plan->message);
    if (code == PB_OK && uses_tags)
        code = check_strings(config, pool, "tag_list", tags, many_tags ? tags->n : 1, true, &plan->message);
    if (code != PB_OK)
        return code;
    pb_tag_write *w = &plan->write;
    plan->list_name = many_tokens ? "token_list" : "tag_list";
    switch (op) {
    case 1: case 2: case 3: case 4: { /* one token, its tags as pairs */
        size_t n = op <= 2 ? 1 : tags->n;
        pb_str *repeated = pb_pool_alloc(pool, n * sizeof(*repeated));
        for (size_t i = 0; i < n; i++)
            repeated[i] = tokens->items[0].token;
        *w = (pb_tag_write){.kind = op % 2 == 1 ? PB_TAG_ADD : PB_TAG_REMOVE, .tags = strings_of(pool, tags, n),
                            .tokens = repeated, .n = n};
        break;
    }
    case 5:
        *w = (pb_tag_write){.kind = PB_TAG_CLEAR_TOKEN, .tokens = strings_of(pool, tokens, 1), .n = 0};
        break;
    case 6: {
        bool by_category = true;
        for (size_t i = 0; i < tags->n; i++)
            by_category &= memchr(tags->items[i].token.base, ':', tags->items[i].token.len) != NULL;
        *w = (pb_tag_write){.kind = PB_TAG_REPLACE, .tags = strings_of(pool, tags, tags->n),
                            .tokens = strings_of(pool, tokens, 1), .n = tags->n, .by_category = by_category};
        break;
    }
    default: { /* 7, 8: one tag, many tokens */
        pb_str *repeated = pb_pool_alloc(pool, tokens->n * sizeof(*repeated));
        for (size_t i = 0; i < tokens->n; i++)
            repeated[i] = tags->items[0].token;
        *w = (pb_tag_write){.kind = op == 7 ? PB_TAG_ADD : PB_TAG_REMOVE, .tags = repeated,
                            .tokens = strings_of(pool, tokens, tokens->n), .n = tokens->n};
        break;
    }
    }
    return PB_OK;
}

int pb_api_tag_plan(const pb_api_config *config, uint64_t access_id, const pb_tag_request *request, bool delete_all,
                    pb_pool *pool, pb_tag_plan *plan)
{
    *plan = (pb_tag_plan){.access_id = access_id, .list_name = "tag_list"};
    if (request->seq.state == PB_FIELD_PRESENT)
        plan->seq = request->seq.value;
    else if (request->seq.state == PB_FIELD_WRONG_TYPE) {
        plan->message = say(pool, "seq is not an integer");
        return PB_ERR_PARAM;
    }
    int code;
    if (delete_all) {
        const pb_token_item_list *tags = &request->tag_list;
        if ((code = need_list(pool, "tag_list", tags->state, tags->n, config->max_tag_items, &plan->message)) != PB_OK ||
            (code = check_strings(config, pool, "tag_list", tags, tags->n, true, &plan->message)) != PB_OK)
            return code;
        plan->write = (pb_tag_write){.kind = PB_TAG_DELETE_ALL, .tags = strings_of(pool, tags, tags->n), .n = tags->n};
        return PB_OK;
    }
    if ((code = pb_validate_operator_type(&request->operator_type, 10)) != PB_OK) {
        plan->message = say(pool, code == PB_ERR_MISSING ? "operator_type is missing" : "operator_type is not 1-10");
        return code;
    }
    if (pb_validate_platform(request->platform_state, request->platform) != PB_OK) {
        plan->message = say(pool, "platform is not android or ios");
        return PB_ERR_PARAM;
    }
    code = request->operator_type.value >= 9 ? plan_pairs(config, request, pool, plan)
                                              : plan_lists(config, request, pool, plan);
    if (request->platform_state == PB_FIELD_PRESENT) /* validated: android or ios, any case */
        plan->write.platform = (request->platform.base[0] | 0x20) == 'a' ? PB_PLATFORM_ANDROID : PB_PLATFORM_IOS;
    plan->write.max_tags_per_token = config->max_tags_per_token;
    plan->write.max_tags_per_app = config->max_tags_per_app;
    return code;
}

/* The code a failed store call answers (its reason is the code's own). */
static int store_failure(int result)
{
    if (result == PB_STORE_ENOTFOUND)
        return PB_ERR_AUTH; /* the app was removed after it authenticated */
    return PB_ERR_STORE;
}

void pb_api_tag_merge(const pb_api_config *config, pb_tag_plan *plan, int result, pb_pool *pool,
                      pb_tag_response *response)
{
    *response = (pb_tag_response){.code = PB_OK, .seq = plan->seq};
    const pb_tag_write *w = &plan->write;
    if (result != PB_STORE_OK) {
        response->code = store_failure(result);
        return;
    }
    switch (w->outcome) {
    case PB_TAG_OK:
        return;
    case PB_TAG_OVER_TOKEN_LIMIT:
        response->code = PB_ERR_PARAM;
        response->message = say(pool, "%s[%zu]: a token may hold at most %u tags (max-tags-per-token)",
                                plan->list_name, w->at, config->max_tags_per_token);
        return;
    case PB_TAG_OVER_APP_LIMIT:
        response->code = PB_ERR_PARAM;
        response->message = say(pool, "%s[%zu]: an app may hold at most %u distinct tags (max-tags-per-app)",
                                plan->list_name, w->at, config->max_tags_per_app);
        return;
    case PB_TAG_NO_SPACE:
        response->code = PB_ERR_STORE;
        response->message = say(pool, "the store is full");
        return;
    }
}

/* A page size: absent is the default; 1..PB_TAG_PAGE_MAX. */
static int page_limit(const pb_tag_request *request, pb_pool *pool, size_t *limit, pb_str *message)
{
    *limit = PB_TAG_PAGE_DEFAULT;
    if (request->limit.state == PB_FIELD_ABSENT)
        return PB_OK;
    if (request->limit.state != PB_FIELD_PRESENT || request->limit.value < 1 ||
        request->limit.value > PB_TAG_PAGE_MAX) {
        *message = say(pool, "limit is not an integer in 1-%d", PB_TAG_PAGE_MAX);
        return PB_ERR_PARAM;
    }
    *limit = (size_t)request->limit.value;
    return PB_OK;
}

/* Op 2's cursor: the decimal position the last page ended at. */
static int seq_cursor(const pb_tag_request *request, pb_pool *pool, uint64_t *after, pb_str *message)
{
    *after = 0;
    if (request->cursor_state == PB_FIELD_ABSENT || request->cursor.len == 0)
        return PB_OK;
    uint64_t v = 0;
    bool ok = request->cursor_state == PB_FIELD_PRESENT && request->cursor.len <= 19;
    for (size_t i = 0; ok && i < request->cursor.len; i++) {
        char c = request->cursor.base[i];
        ok = c >= '0' && c <= '9';
        v = v * 10 + (uint64_t)(c - '0');
    }
    if (!ok) {
        *message = say(pool, "cursor is not one this endpoint gave");
        return PB_ERR_PARAM;
    }
    *after = v;
    return PB_OK;
}

/*
 * Op 4's cursor: the last tag of the previous page, so a string a tag could
 * be (of any length: the tag may be older than today's --max-tag-chars).
 * Anything else was not given by this endpoint, and a store must not see
 * it (PostgreSQL refuses a NUL or bad UTF-8 in a text parameter).
 */
static int tag_cursor(const pb_api_config *config, const pb_tag_request *request, pb_pool *pool, pb_str *after,
                      pb_str *message)
{
    *after = (pb_str){0};
    if (request->cursor_state == PB_FIELD_WRONG_TYPE) {
        *message = say(pool, "cursor is not a string");
        return PB_ERR_PARAM;
    }
    if (request->cursor_state == PB_FIELD_ABSENT || request->cursor.len == 0)
        return PB_OK;
    pb_api_config any_length = *config;
    any_length.max_tag_chars = UINT32_MAX;
    if (pb_validate_tag(&any_length, &(pb_token_item){.token = request->cursor, .is_string = true}) != PB_OK) {
        *message = say(pool, "cursor is not one this endpoint gave");
        return PB_ERR_PARAM;
    }
    *after = request->cursor;
    return PB_OK;
}

int pb_api_tag_query_plan(const pb_api_config *config, uint64_t access_id, const pb_tag_request *request,
                          pb_pool *pool, pb_tag_query_plan *plan)
{
    *plan = (pb_tag_query_plan){.lookup = {.access_id = access_id}};
    pb_tag_lookup *l = &plan->lookup;
    int code = pb_validate_operator_type(&request->operator_type, 4);
    if (code != PB_OK) {
        plan->message = say(pool, code == PB_ERR_MISSING ? "operator_type is missing" : "operator_type is not 1-4");
        return code;
    }
    l->kind = (pb_tag_lookup_kind)request->operator_type.value;
    switch (l->kind) {
    case PB_TAG_LOOKUP_TAGS_OF: {
        const pb_token_item_list *tokens = &request->token_list;
        if ((code = need_list(pool, "token_list", tokens->state, tokens->n, PB_TAG_QUERY_ITEMS, &plan->message)) ||
            (code = check_strings(config, pool, "token_list", tokens, tokens->n, false, &plan->message)))
            return code;
        l->tokens = strings_of(pool, tokens, tokens->n);
        l->n = tokens->n;
        return PB_OK;
    }
    case PB_TAG_LOOKUP_TOKENS_OF: {
        pb_token_item tag = {request->tag, request->tag_state == PB_FIELD_PRESENT};
        if (request->tag_state == PB_FIELD_ABSENT) {
            plan->message = say(pool, "tag is missing");
            return PB_ERR_MISSING;
        }
        if (pb_validate_tag(config, &tag) != PB_OK) {
            plan->message = say(pool, "tag: a tag is 1-%u characters of UTF-8, no control characters, "
                                      "no leading or trailing space", config->max_tag_chars);
            return PB_ERR_PARAM;
        }
        l->tags = pb_pool_alloc(pool, sizeof(*l->tags));
        *(pb_str *)l->tags = request->tag;
        l->n = 1;
        if ((code = seq_cursor(request, pool, &l->after, &plan->message)) != PB_OK)
            return code;
        return page_limit(request, pool, &l->limit, &plan->message);
    }
    case PB_TAG_LOOKUP_COUNTS: {
        const pb_token_item_list *tags = &request->tag_list;
        if ((code = need_list(pool, "tag_list", tags->state, tags->n, PB_TAG_QUERY_ITEMS, &plan->message)) ||
            (code = check_strings(config, pool, "tag_list", tags, tags->n, true, &plan->message)))
            return code;
        l->tags = strings_of(pool, tags, tags->n);
        l->n = tags->n;
        return PB_OK;
    }
    case PB_TAG_LOOKUP_TAGS:
        if ((code = tag_cursor(config, request, pool, &l->after_tag, &plan->message)) != PB_OK)
            return code;
        return page_limit(request, pool, &l->limit, &plan->message);
    }
    return PB_ERR_PARAM;
}

void pb_api_tag_query_merge(const pb_tag_query_plan *plan, pb_pool *pool, pb_tag_query_response *response)
{
    const pb_tag_lookup *l = &plan->lookup;
    *response = (pb_tag_query_response){.code = PB_OK, .operator_type = (int)l->kind};
    if (l->result != PB_STORE_OK) {
        response->code = store_failure(l->result);
        return;
    }
    switch (l->kind) {
    case PB_TAG_LOOKUP_TAGS_OF:
        response->n = l->n;
        response->token_tags = pb_pool_alloc(pool, (l->n != 0 ? l->n : 1) * sizeof(*response->token_tags));
        for (size_t i = 0; i < l->n; i++)
            response->token_tags[i] = (pb_token_tags){l->tokens[i], l->lists[i].items, l->lists[i].n};
        return;
    case PB_TAG_LOOKUP_TOKENS_OF:
        response->tokens = l->lists[0].items;
        response->n = l->lists[0].n;
        if (l->next != 0)
            response->next_cursor = say(pool, "%llu", (unsigned long long)l->next);
        return;
    case PB_TAG_LOOKUP_COUNTS:
    case PB_TAG_LOOKUP_TAGS: {
        bool counts = l->kind == PB_TAG_LOOKUP_COUNTS;
        response->n = counts ? l->n : l->lists[0].n;
        response->counts = pb_pool_alloc(pool, (response->n != 0 ? response->n : 1) * sizeof(*response->counts));
        for (size_t i = 0; i < response->n; i++)
            response->counts[i] = (pb_tag_count){counts ? l->tags[i] : l->lists[0].items[i], l->counts[i]};
        if (!counts && l->more && response->n != 0)
            response->next_cursor = response->counts[response->n - 1].tag;
        return;
    }
    }
}

int pb_api_invalidate_plan(const pb_api_config *config, uint64_t access_id, const pb_tag_request *request,
                           pb_pool *pool, pb_invalidate_plan *plan)
{
    const pb_invalidate_list *list = &request->invalidate;
    *plan = (pb_invalidate_plan){.access_id = access_id};
    int code = pb_validate_list(list->state, list->n, PB_INVALIDATE_ITEMS);
    if (code != PB_OK)
        return code;
    plan->n = list->n;
    plan->item_codes = pb_pool_alloc(pool, list->n * sizeof(*plan->item_codes));
    plan->item_write = pb_pool_alloc(pool, list->n * sizeof(*plan->item_write));
    pb_str *tokens = pb_pool_alloc(pool, list->n * sizeof(*tokens));
    int64_t *since = pb_pool_alloc(pool, list->n * sizeof(*since));
    size_t n = 0;
    for (size_t i = 0; i < list->n; i++) {
        const pb_invalidate_item *item = &list->items[i];
        code = !item->is_object ? PB_ERR_PARAM : pb_validate_token(config, &item->token);
        if (code == PB_OK && (item->invalid_since.state != PB_FIELD_PRESENT || item->invalid_since.value < 0 ||
                              item->reason_state == PB_FIELD_WRONG_TYPE ||
                              item->reason.len > PB_INVALIDATE_REASON_BYTES))
            code = PB_ERR_PARAM;
        plan->item_codes[i] = code;
        if (code != PB_OK)
            continue;
        plan->item_write[i] = n;
        tokens[n] = item->token.token;
        since[n++] = item->invalid_since.value;
    }
    plan->write = (pb_tag_write){.kind = PB_TAG_INVALIDATE, .tokens = tokens, .n = n, .invalid_since = since,
                                 .kept = pb_pool_alloc(pool, (n != 0 ? n : 1) * sizeof(bool))};
    return PB_OK;
}

void pb_api_invalidate_merge(const pb_invalidate_plan *plan, int result, pb_invalidate_response *response)
{
    *response = (pb_invalidate_response){.code = PB_OK, .n = plan->n, .item_codes = plan->item_codes};
    if (result != PB_STORE_OK) {
        *response = (pb_invalidate_response){.code = result == PB_STORE_ENOTFOUND ? PB_ERR_AUTH : PB_ERR_STORE};
        return;
    }
    size_t failed = 0;
    for (size_t i = 0; i < plan->n; i++) {
        if (plan->item_codes[i] != PB_OK)
            failed++;
        else if (plan->write.kept[plan->item_write[i]])
            plan->item_codes[i] = 1;
    }
    response->code = pb_code_for_failures(failed, plan->n);
}
