/*
 * ask.h — asking the source (pull.h, "Politeness" and "Tags"): a batch's
 * query and its tokens' tag queries, paced to config->rate, retried while
 * the answer may change, each answer judged for what it means to the batch.
 *
 * Both calls post with run->http under run->config, count each request in
 * run->counts.requests, move run->next_send_ns (the pacing bucket) and show
 * the progress bar while they wait. When the batch fails they leave why in
 * run->reason (fail_batch() in pull.c says it); a stop is said on stderr
 * before they return.
 */
#ifndef PB_PULL_ASK_H
#define PB_PULL_ASK_H

#include <stddef.h>

#include "common/pool.h"
#include "pull/answer.h"
#include "pull/group.h"
#include "pull/run.h"

typedef enum pb_pull_asked {
    PB_PULL_ASKED_OK,     /* answered: the batch goes on */
    PB_PULL_ASKED_FAILED, /* no usable answer after the tries it deserved: run->reason says why */
    PB_PULL_ASKED_STOP,   /* the run must stop (the source refused the credentials) */
} pb_pull_asked;

/*
 * Asks the source's PB_PULL_QUERY_PATH about lines[0..n-1], retrying what
 * may pass later (transport errors, HTTP 5xx, 1008004, 1008028) up to
 * config->max_tries tries; 1008003 stops. On PB_PULL_ASKED_OK *answer holds
 * an entry per line (pull/answer.h), from `pool`.
 */
pb_pull_asked pb_pull_ask_query(pb_pull_state *run, const pb_pull_line *lines, size_t n, pb_pool *pool,
                                pb_pull_answer *answer);

/*
 * Asks the source's PB_PULL_TAG_QUERY_PATH for the tags of
 * targets[0..n-1], config->batch tokens a request, and gives each target
 * what was answered (pull/answer.h). A source without tag reads sets
 * run->no_tags, says so once, and is PB_PULL_ASKED_OK: the run goes on
 * with bindings only.
 */
pb_pull_asked pb_pull_ask_tags(pb_pull_state *run, pb_pull_tag_target *targets, size_t n, pb_pool *pool);

#endif
