/*
 * answer.c — a query answer through yajl's tree: answers are a few MiB at
 * most and read once, so the tree's simplicity costs nothing that matters.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "api/validate.h"
#include "common/codes.h"
#include "pull/answer.h"

static yajl_val member(yajl_val object, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val value = yajl_tree_get(object, path, yajl_t_any);
    return value == NULL || YAJL_IS_NULL(value) ? NULL : value;
}

static pb_str pool_string(pb_pool *pool, yajl_val string)
{
    return pb_pool_strdup(pool, pb_str_from_cstr(YAJL_GET_STRING(string)));
}

static bool string_is(yajl_val value, pb_str expected)
{
    return YAJL_IS_STRING(value) && pb_str_eq(pb_str_from_cstr(YAJL_GET_STRING(value)), expected);
}

/* An optional account_type (absent: 0). */
static bool read_type(yajl_val object, uint32_t *type)
{
    yajl_val value = member(object, "account_type");
    *type = 0;
    return value == NULL ||
           (YAJL_IS_INTEGER(value) && pb_account_type_parse(value->u.number.r, strlen(value->u.number.r), type));
}

/* An optional time in Unix seconds (absent: 0). */
static bool read_time(yajl_val object, const char *key, int64_t *seconds)
{
    yajl_val value = member(object, key);
    *seconds = 0;
    if (value == NULL)
        return true;
    if (!YAJL_IS_INTEGER(value) || YAJL_GET_INTEGER(value) < 0)
        return false;
    *seconds = YAJL_GET_INTEGER(value);
    return true;
}

static bool read_code(yajl_val value, int *code)
{
    if (!YAJL_IS_STRING(value))
        return false;
    const char *s = YAJL_GET_STRING(value);
    char *end;
    long parsed = strtol(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || parsed > 99999999)
        return false;
    *code = (int)parsed;
    return true;
}

/* {"account": A, "account_type": T, "token_list": [...], "token_info": [...]} */
static const char *read_by_account(yajl_val entry, const pb_pull_item *sent, pb_pool *pool, pb_pull_entry *out)
{
    uint32_t type;
    if (!string_is(member(entry, "account"), sent->account.name))
        return "an entry's account is not the one asked about";
    /* An echo without account_type is taken for the type sent. */
    if (!read_type(entry, &type) || (member(entry, "account_type") != NULL && type != sent->account.type))
        return "an entry's account_type is not the one asked about";
    yajl_val list = member(entry, "token_list"), info = member(entry, "token_info");
    if (!YAJL_IS_ARRAY(list))
        return "an entry has no token_list array";
    if (info != NULL && (!YAJL_IS_ARRAY(info) || info->u.array.len != list->u.array.len))
        return "a token_info does not match its token_list";
    out->n = list->u.array.len;
    out->bindings = pb_pool_alloc(pool, out->n * sizeof(*out->bindings));
    for (size_t i = 0; i < out->n; i++) {
        pb_pull_binding *b = &out->bindings[i];
        yajl_val token = list->u.array.values[i];
        if (!YAJL_IS_STRING(token))
            return "a token_list holds a non-string";
        *b = (pb_pull_binding){.token = pool_string(pool, token), .account = sent->account};
        if (info == NULL)
            continue;
        yajl_val detail = info->u.array.values[i], platform = member(detail, "platform");
        if (!YAJL_IS_OBJECT(detail) || !string_is(member(detail, "token"), b->token))
            return "a token_info does not match its token_list";
        if (!read_time(detail, "bind_time", &b->bind_time) || !read_time(detail, "last_bind_time", &b->last_bind_time))
            return "a token_info time is not a non-negative integer";
        if (platform != NULL && !YAJL_IS_STRING(platform))
            return "a token_info platform is not a string";
        if (platform != NULL)
            b->platform = pool_string(pool, platform);
    }
    return NULL;
}

/* {"token": T, "platform": P, "account_list": [{"account": A, "account_type": T, "bind_time": …}, …]} */
static const char *read_by_token(yajl_val entry, const pb_pull_item *sent, pb_pool *pool, pb_pull_entry *out)
{
    if (!string_is(member(entry, "token"), sent->token))
        return "an entry's token is not the one asked about";
    yajl_val list = member(entry, "account_list"), platform = member(entry, "platform");
    if (!YAJL_IS_ARRAY(list))
        return "an entry has no account_list array";
    if (platform != NULL && !YAJL_IS_STRING(platform))
        return "an entry's platform is not a string";
    pb_str platform_text = platform != NULL ? pool_string(pool, platform) : (pb_str){"", 0};
    out->n = list->u.array.len;
    out->bindings = pb_pool_alloc(pool, out->n * sizeof(*out->bindings));
    for (size_t i = 0; i < out->n; i++) {
        pb_pull_binding *b = &out->bindings[i];
        yajl_val account = list->u.array.values[i], name = member(account, "account");
        *b = (pb_pull_binding){.token = sent->token, .platform = platform_text};
        if (!YAJL_IS_OBJECT(account) || !YAJL_IS_STRING(name))
            return "an account_list holds something other than an account";
        b->account.name = pool_string(pool, name);
        if (!read_type(account, &b->account.type))
            return "an account_type is not an integer in 0..2147483647";
        if (!read_time(account, "bind_time", &b->bind_time) || !read_time(account, "last_bind_time", &b->last_bind_time))
            return "a bind time is not a non-negative integer";
    }
    return NULL;
}

/* The top-level code of an answer, which must be an object: retCode, ret_code, or both alike. */
static const char *read_top_code(yajl_val root, int *code)
{
    if (!YAJL_IS_OBJECT(root))
        return "not a JSON object";
    yajl_val camel = member(root, "retCode"), snake = member(root, "ret_code");
    if (camel == NULL && snake == NULL)
        return "no retCode or ret_code";
    if ((camel != NULL && !YAJL_IS_INTEGER(camel)) || (snake != NULL && !YAJL_IS_INTEGER(snake)))
        return "retCode or ret_code is not an integer";
    if (camel != NULL && snake != NULL && YAJL_GET_INTEGER(camel) != YAJL_GET_INTEGER(snake))
        return "retCode and ret_code disagree";
    long long value = YAJL_GET_INTEGER(camel != NULL ? camel : snake);
    if (value < 0 || value > 99999999)
        return "retCode is out of range";
    *code = (int)value;
    return NULL;
}

static const char *read_answer(pb_pull_kind kind, yajl_val root, const pb_pull_item *sent, size_t n_sent,
                               pb_pool *pool, pb_pull_answer *answer)
{
    const char *reason = read_top_code(root, &answer->code);
    if (reason != NULL)
        return reason;
    if (answer->code != PB_OK && answer->code != PB_ERR_PARTIAL && answer->code != PB_ERR_TOTAL)
        return NULL;
    yajl_val result = member(root, "result");
    yajl_val entries = member(root, kind == PB_PULL_BY_ACCOUNT ? "account_tokens" : "token_accounts");
    if (!YAJL_IS_ARRAY(result) || result->u.array.len != n_sent)
        return "result does not hold one code per item sent";
    if (!YAJL_IS_ARRAY(entries) || entries->u.array.len != n_sent)
        return kind == PB_PULL_BY_ACCOUNT ? "account_tokens does not hold one entry per item sent"
                                          : "token_accounts does not hold one entry per item sent";
    answer->entries = pb_pool_alloc(pool, n_sent * sizeof(*answer->entries));
    for (size_t i = 0; i < n_sent; i++) {
        pb_pull_entry *out = &answer->entries[i];
        yajl_val entry = entries->u.array.values[i];
        *out = (pb_pull_entry){0};
        if (!read_code(result->u.array.values[i], &out->code))
            return "a result code is not a string of digits";
        if (!YAJL_IS_OBJECT(entry))
            return "an entry is not an object";
        reason = kind == PB_PULL_BY_ACCOUNT ? read_by_account(entry, &sent[i], pool, out)
                                            : read_by_token(entry, &sent[i], pool, out);
        if (reason != NULL)
            return reason;
        /* A failed item's list says nothing, whatever it holds. */
        if (out->code != PB_OK)
            out->n = 0;
    }
    return NULL;
}

/* A body as a yajl tree (NULL: not JSON); the caller frees it. */
static yajl_val parse_body(const char *body, size_t len)
{
    char *text = malloc(len + 1);
    if (text == NULL)
        return NULL;
    memcpy(text, body, len);
    text[len] = '\0';
    /* A NUL inside would end the text early: yajl would judge a prefix. */
    yajl_val root = memchr(body, '\0', len) == NULL ? yajl_tree_parse(text, NULL, 0) : NULL;
    free(text);
    return root;
}

/* {"token": T, "tag_list": ["vip", …]} about `target`'s token */
static const char *read_token_tags(yajl_val entry, const pb_api_config *api, pb_pool *pool, pb_pull_tag_target *target)
{
    if (!YAJL_IS_OBJECT(entry) || !string_is(member(entry, "token"), target->token))
        return "a token_tags entry's token is not the one asked about";
    yajl_val list = member(entry, "tag_list");
    if (!YAJL_IS_ARRAY(list))
        return "a token_tags entry has no tag_list array";
    target->n_tags = list->u.array.len;
    target->tags = pb_pool_alloc(pool, target->n_tags * sizeof(pb_str));
    for (size_t i = 0; i < target->n_tags; i++) {
        yajl_val tag = list->u.array.values[i];
        if (!YAJL_IS_STRING(tag))
            return "a tag_list holds a non-string";
        target->tags[i] = pool_string(pool, tag);
        pb_token_item item = {target->tags[i], true};
        if (pb_validate_tag(api, &item) != PB_OK)
            target->failure = "the source answered a tag this store does not take (--max-tag-chars)";
    }
    return NULL;
}

static const char *read_tag_answer(yajl_val root, const pb_api_config *api, pb_pull_tag_target *targets, size_t n,
                                   pb_pool *pool, pb_pull_tag_answer *answer)
{
    const char *reason = read_top_code(root, &answer->code);
    if (reason != NULL)
        return reason;
    if (answer->code != PB_OK) {
        yajl_val message = member(root, "err_msg");
        const char *text = YAJL_IS_STRING(message) ? YAJL_GET_STRING(message) : NULL;
        answer->unsupported = answer->code == PB_ERR_STORE && text != NULL && strstr(text, "not supported") != NULL;
        return NULL;
    }
    yajl_val entries = member(root, "token_tags");
    if (!YAJL_IS_ARRAY(entries) || entries->u.array.len != n)
        return "token_tags does not hold one entry per token sent";
    for (size_t i = 0; i < n; i++)
        if ((reason = read_token_tags(entries->u.array.values[i], api, pool, &targets[i])) != NULL)
            return reason;
    return NULL;
}

const char *pb_pull_tag_answer_parse(const char *body, size_t len, const pb_api_config *api,
                                     pb_pull_tag_target *targets, size_t n, pb_pool *pool, pb_pull_tag_answer *answer)
{
    *answer = (pb_pull_tag_answer){0};
    yajl_val root = parse_body(body, len);
    if (root == NULL)
        return "not valid JSON";
    const char *reason = read_tag_answer(root, api, targets, n, pool, answer);
    yajl_tree_free(root);
    return reason;
}

const char *pb_pull_answer_parse(pb_pull_kind kind, const char *body, size_t len, const pb_pull_item *sent,
                                 size_t n_sent, pb_pool *pool, pb_pull_answer *answer)
{
    *answer = (pb_pull_answer){0};
    yajl_val root = parse_body(body, len);
    if (root == NULL)
        return "not valid JSON";
    const char *reason = read_answer(kind, root, sent, n_sent, pool, answer);
    yajl_tree_free(root);
    return reason;
}
