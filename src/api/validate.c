/* The value rules (see validate.h), and the defaults of the limits they enforce. */
#include <strings.h>

#include "api/validate.h"
#include "common/codes.h"
#include "common/utf8.h"

void pb_api_config_defaults(pb_api_config *config)
{
    *config = (pb_api_config){
        .max_query_items = PB_DEFAULT_MAX_QUERY_ITEMS,
        .max_batch_items = PB_DEFAULT_MAX_BATCH_ITEMS,
        .max_list_items = PB_DEFAULT_MAX_LIST_ITEMS,
        .max_account_bytes = PB_DEFAULT_MAX_ACCOUNT_BYTES,
        .max_token_bytes = PB_DEFAULT_MAX_TOKEN_BYTES,
        .one_account_per_type = false,
        .max_tag_items = PB_DEFAULT_MAX_TAG_ITEMS,
        .max_tags_per_token = PB_DEFAULT_MAX_TAGS_PER_TOKEN,
        .max_tags_per_app = PB_DEFAULT_MAX_TAGS_PER_APP,
        .max_tag_chars = PB_DEFAULT_MAX_TAG_CHARS,
    };
}

int pb_validate_operator_type(const pb_operator_type *operator_type, int max)
{
    if (operator_type->state == PB_FIELD_ABSENT)
        return PB_ERR_MISSING;
    if (operator_type->state != PB_FIELD_PRESENT || operator_type->value < 1 || operator_type->value > max)
        return PB_ERR_PARAM;
    return PB_OK;
}

int pb_validate_list(pb_field_state state, size_t n, size_t max)
{
    if (state == PB_FIELD_ABSENT || (state == PB_FIELD_PRESENT && n == 0))
        return PB_ERR_MISSING;
    if (state != PB_FIELD_PRESENT || n > max)
        return PB_ERR_PARAM;
    return PB_OK;
}

int pb_validate_platform(pb_field_state state, pb_str platform)
{
    if (state == PB_FIELD_ABSENT)
        return PB_OK;
    if (state != PB_FIELD_PRESENT)
        return PB_ERR_PARAM;
    if ((platform.len == 7 && strncasecmp(platform.base, "android", 7) == 0) ||
        (platform.len == 3 && strncasecmp(platform.base, "ios", 3) == 0))
        return PB_OK;
    return PB_ERR_PARAM;
}

int pb_validate_token(const pb_api_config *config, const pb_token_item *token)
{
    if (!token->is_string || token->token.len == 0 || token->token.len > config->max_token_bytes)
        return PB_ERR_TOKEN;
    for (size_t i = 0; i < token->token.len; i++) {
        unsigned char c = (unsigned char)token->token.base[i];
        if (c < 0x21 || c > 0x7e)
            return PB_ERR_TOKEN;
    }
    return PB_OK;
}

int pb_validate_account(const pb_api_config *config, const pb_account_item *account)
{
    pb_str name = account->account.name;
    if (!account->well_typed || name.len == 0 || name.len > config->max_account_bytes)
        return PB_ERR_PARAM;
    const unsigned char *s = (const unsigned char *)name.base;
    for (size_t i = 0; i < name.len;) {
        if (s[i] < 0x80) { /* most names are ASCII: no call per byte */
            if (s[i] < 0x20 || s[i] == 0x7f)
                return PB_ERR_PARAM;
            i++;
            continue;
        }
        size_t len = pb_utf8_sequence_length(s + i, name.len - i);
        if (len == 0)
            return PB_ERR_PARAM;
        if (len == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f) /* C1 controls U+0080–U+009F */
            return PB_ERR_PARAM;
        i += len;
    }
    return PB_OK;
}

int pb_validate_tag(const pb_api_config *config, const pb_token_item *tag)
{
    pb_str t = tag->token;
    if (!tag->is_string || t.len == 0 || t.base[0] == ' ' || t.base[t.len - 1] == ' ')
        return PB_ERR_PARAM;
    const unsigned char *s = (const unsigned char *)t.base;
    size_t chars = 0;
    for (size_t i = 0; i < t.len; chars++) {
        size_t len = s[i] < 0x80 ? 1 : pb_utf8_sequence_length(s + i, t.len - i);
        if (len == 0 || s[i] < 0x20 || s[i] == 0x7f || (len == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f))
            return PB_ERR_PARAM;
        i += len;
    }
    return chars <= config->max_tag_chars ? PB_OK : PB_ERR_PARAM;
}
