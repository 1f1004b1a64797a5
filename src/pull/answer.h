/*
 * answer.h — the source's answer to a query, decoded strictly into bindings.
 *
 * The answer must be a JSON object with an integer retCode or ret_code (TPNS
 * sends the first, some services the second, pushbind both: when both are
 * there they must agree). When that code is 0, 1008026 or 1008027 it must
 * also hold `result` (one decimal string per item sent) and account_tokens
 * (by account) or token_accounts (by token) with one entry per item sent, in
 * the order sent, each echoing the item it answers. Anything else is a
 * malformed answer: the batch is not bound at all.
 *
 * The "with_info" details (docs/API.md "Binding details") are read when present
 * and must then be well formed: by account, `token_info` beside each
 * token_list, item for item; by token, `platform` on the entry and
 * `bind_time` / `last_bind_time` on each account.
 *
 * A tag query's answer (docs/API.md "Tag reads") is decoded as strictly.
 */
#ifndef PB_PULL_ANSWER_H
#define PB_PULL_ANSWER_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "common/pool.h"
#include "pull/input.h"

/* One binding as the source answered it. */
typedef struct pb_pull_binding {
    pb_str token;
    pb_account account;
    int64_t bind_time;      /* Unix seconds; 0: the source did not say */
    int64_t last_bind_time; /* Unix seconds; 0: the source did not say */
    pb_str platform;        /* the token's ("android", "ios"); empty: not known */
} pb_pull_binding;

/* The answer for one item: its code and its bindings, oldest first. */
typedef struct pb_pull_entry {
    int code;
    pb_pull_binding *bindings;
    size_t n;
} pb_pull_entry;

typedef struct pb_pull_answer {
    int code;              /* the top-level code */
    pb_pull_entry *entries; /* n_sent of them when code is 0, 1008026 or 1008027; else NULL */
} pb_pull_answer;

/*
 * A token whose tags a pushbind source is asked (POST /pushbind/v1/tag/query
 * op 1), the batch's lines that brought it, and what the source answered.
 */
typedef struct pb_pull_tag_target {
    pb_str token;
    const size_t *lines; /* indices into the batch */
    size_t n_lines;
    pb_str *tags;        /* the token's tags, oldest first, as the source answered them */
    size_t n_tags;
    const char *failure; /* why its tags are not written here; NULL: not failed */
} pb_pull_tag_target;

/* What a tag query's answer says beside the tags. */
typedef struct pb_pull_tag_answer {
    int code;         /* the top-level code (ret_code or retCode, as in a query answer) */
    bool unsupported; /* 1008004 "tags are not supported on this store": an older pushbind, its store kept no tags */
} pb_pull_tag_answer;

/*
 * Decodes `body`, the answer to a tag query op 1 about targets[0..n-1]'s
 * tokens. When its code is 0 it must hold `token_tags` with one entry per
 * target, in order, each echoing its token and holding a `tag_list` of
 * strings; each target then gets its tags (from `pool`), or a failure when
 * one of them is no tag `api` takes. Returns NULL, or a short reason the
 * answer is malformed.
 */
const char *pb_pull_tag_answer_parse(const char *body, size_t len, const pb_api_config *api,
                                     pb_pull_tag_target *targets, size_t n, pb_pool *pool, pb_pull_tag_answer *answer);

/*
 * Decodes `body` (`len` bytes; it need not end in NUL), the answer to a query
 * `kind` about items sent[0..n_sent-1]. Everything in *answer is allocated
 * from `pool`. Returns NULL, or a short reason the answer is malformed.
 */
const char *pb_pull_answer_parse(pb_pull_kind kind, const char *body, size_t len, const pb_pull_item *sent,
                                 size_t n_sent, pb_pool *pool, pb_pull_answer *answer);

#endif
