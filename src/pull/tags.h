/*
 * tags.h — a batch's tags (pull.h, "Tags"): which tokens a pushbind source is
 * asked about, and what it answered written into the local store as
 * POST /v3/device/tag op 9 adds pairs.
 */
#ifndef PB_PULL_TAGS_H
#define PB_PULL_TAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "common/pool.h"
#include "pull/answer.h"
#include "pull/group.h"
#include "store/store.h"

/*
 * The tokens of a batch whose tags to ask about, into *out (from `pool`);
 * returns how many. By token, every line answered (with accounts or with
 * 10110008: a token may have tags and no account) and not failed; by
 * account, the token of each of `changes` (the batch's appends,
 * pull/group.h) with the lines that brought it.
 */
size_t pb_pull_tag_targets(pb_pull_kind kind, const pb_pull_line *lines, size_t n, const pb_pull_changes *changes,
                           pb_pool *pool, pb_pull_tag_target **out);

/* {"operator_type":1,"token_list":[…]} about targets[0..n-1], in `pool`. */
pb_str pb_pull_tag_query_body(pb_pool *pool, const pb_pull_tag_target *targets, size_t n);

/*
 * Gives each target of targets[0..n-1] that has no failure, and none of
 * whose lines (in `lines`) failed, its tags, in the order answered, in app
 * `access_id`: one write of all the pairs, each added as op 9 adds it under
 * api->max_tags_per_token and api->max_tags_per_app, durable when this
 * returns. A target whose pairs would break a limit, or find the store full,
 * gets a failure and the write goes again without it (a write is whole or
 * nothing). Returns 0 (*pairs: the pairs handed to the store, those already
 * there included), or PB_STORE_ENOTFOUND / PB_STORE_EIO (nothing of the
 * last write was written).
 */
int pb_pull_tags_write(pb_store_session *session, uint64_t access_id, const pb_api_config *api,
                       const pb_pull_line *lines, pb_pull_tag_target *targets, size_t n, pb_pool *pool,
                       uint64_t *pairs);

#endif
