/*
 * validate.h — the value rules of docs/API.md, one function per rule.
 *
 * Each returns PB_OK or the code the rule prescribes, so the endpoints read as
 * a list of checks. The decoder has already judged JSON types; these judge
 * the values.
 */
#ifndef PB_VALIDATE_H
#define PB_VALIDATE_H

#include "api/api.h"

/*
 * operator_type: absent → PB_ERR_MISSING; not an integer in 1..max →
 * PB_ERR_PARAM.
 */
int pb_validate_operator_type(const pb_operator_type *operator_type, int max);

/*
 * A request-level list: absent or empty → PB_ERR_MISSING; not an array or
 * longer than `max` → PB_ERR_PARAM.
 */
int pb_validate_list(pb_field_state state, size_t n, size_t max);

/* platform, when present: "android" or "ios" in any letter case; else PB_ERR_PARAM. */
int pb_validate_platform(pb_field_state state, pb_str platform);

/*
 * A token: a string of 1..max_token_bytes bytes, each 0x21–0x7E. Anything
 * else → PB_ERR_TOKEN.
 */
int pb_validate_token(const pb_api_config *config, const pb_token_item *token);

/*
 * An account element: well typed, and its name 1..max_account_bytes bytes of
 * valid UTF-8 with no control character (C0, DEL or C1). Else PB_ERR_PARAM.
 */
int pb_validate_account(const pb_api_config *config, const pb_account_item *account);

/*
 * A tag: a string of 1..max_tag_chars characters of valid UTF-8, no control
 * character (C0, DEL or C1), no leading or trailing space. Else PB_ERR_PARAM.
 */
int pb_validate_tag(const pb_api_config *config, const pb_token_item *tag);

#endif
