/* input.c — a pull's input lines, judged by the API's own rules. */
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "api/validate.h"
#include "common/codes.h"
#include "pull/input.h"

static const char *judge_account(const pb_api_config *api, pb_account account, pb_pull_item *item)
{
    pb_account_item sent = {.account = account, .well_typed = true};
    if (pb_validate_account(api, &sent) != PB_OK)
        return "invalid account (empty, too long, not UTF-8 or with a control character)";
    item->account = account;
    return NULL;
}

/* The type as the API takes it: an integer, or a string of decimal digits. */
static bool parse_type(yajl_val value, uint32_t *type)
{
    if (value == NULL || YAJL_IS_NULL(value)) {
        *type = 0;
        return true;
    }
    if (YAJL_IS_INTEGER(value))
        return pb_account_type_parse(value->u.number.r, strlen(value->u.number.r), type);
    if (YAJL_IS_STRING(value)) {
        const char *s = YAJL_GET_STRING(value);
        return s[0] >= '0' && s[0] <= '9' && pb_account_type_parse(s, strlen(s), type);
    }
    return false;
}

static const char *parse_ndjson(const pb_api_config *api, const char *text, size_t len, pb_pool *pool,
                                pb_pull_item *item)
{
    /*
     * yajl's tree ends its strings at the first NUL, so an account escaping
     * one would reach the checks cut short and pass them.
     */
    if (memmem(text, len, "\\u0000", 6) != NULL)
        return "invalid account (empty, too long, not UTF-8 or with a control character)";
    char *copy = pb_pool_alloc(pool, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    yajl_val root = yajl_tree_parse(copy, NULL, 0);
    if (root == NULL)
        return "not valid JSON";
    const char *reason = NULL;
    static const char *account_path[] = {"account", NULL}, *type_path[] = {"account_type", NULL};
    yajl_val account = YAJL_IS_OBJECT(root) ? yajl_tree_get(root, account_path, yajl_t_any) : NULL;
    pb_account parsed = {0};
    if (!YAJL_IS_OBJECT(root))
        reason = "not a JSON object";
    else if (account == NULL || YAJL_IS_NULL(account))
        reason = "missing account";
    else if (!YAJL_IS_STRING(account))
        reason = "account is not a string";
    else if (!parse_type(yajl_tree_get(root, type_path, yajl_t_any), &parsed.type))
        reason = "account_type is not an integer in 0..2147483647";
    if (reason == NULL) {
        parsed.name = pb_pool_strdup(pool, pb_str_from_cstr(YAJL_GET_STRING(account)));
        reason = judge_account(api, parsed, item);
    }
    yajl_tree_free(root);
    return reason;
}

const char *pb_pull_input_parse(pb_pull_kind kind, const pb_api_config *api, const char *text, size_t len,
                                pb_pool *pool, pb_pull_item *item)
{
    if (len > 0 && text[len - 1] == '\r')
        len--;
    *item = (pb_pull_item){0};
    if (kind == PB_PULL_BY_TOKEN) {
        pb_token_item sent = {.token = {text, len}, .is_string = true};
        if (pb_validate_token(api, &sent) != PB_OK)
            return "invalid token (empty, too long, or not printable ASCII without spaces)";
        item->token = pb_pool_strdup(pool, sent.token);
        return NULL;
    }
    if (len > 0 && text[0] == '{')
        return parse_ndjson(api, text, len, pool, item);
    return judge_account(api, (pb_account){pb_pool_strdup(pool, (pb_str){text, len}), 0}, item);
}
