/*
 * input.h — one line of a pull's input into the item it asks the source about.
 *
 *   by account  the account itself (type 0), or NDJSON {"account":"A","account_type":N}
 *               (account_type optional, an integer or a string of digits as the API takes
 *               it; other keys ignored). A line starting with '{' is always NDJSON.
 *   by token    the token itself.
 *
 * A line is accepted exactly when the API would accept the same item
 * (api/validate.h, under the limits in `api`).
 */
#ifndef PB_PULL_INPUT_H
#define PB_PULL_INPUT_H

#include "api/api.h"
#include "common/pool.h"
#include "pull/pull.h"

/* What one input line asks about: `account` by account, `token` by token. */
typedef struct pb_pull_item {
    pb_account account;
    pb_str token;
} pb_pull_item;

/*
 * Parses `text` (one line without its newline; a trailing CR is ignored; not
 * blank). Strings are copied into `pool`, so `text` may go. Returns NULL and
 * fills *item, or a short reason naming what is wrong ("not valid JSON",
 * "missing account", …).
 */
const char *pb_pull_input_parse(pb_pull_kind kind, const pb_api_config *api, const char *text, size_t len,
                                pb_pool *pool, pb_pull_item *item);

#endif
