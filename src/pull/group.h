/*
 * group.h — a batch's answers into the store changes that recreate them in
 * the source's order (pull.h, "Order").
 */
#ifndef PB_PULL_GROUP_H
#define PB_PULL_GROUP_H

#include <stdint.h>

#include "common/pool.h"
#include "pull/answer.h"
#include "store/store.h"

/* One input line of a batch and what became of it. */
typedef struct pb_pull_line {
    uint64_t number;             /* in the input, from 1 */
    pb_str text;                 /* as read, for the report */
    pb_pull_item item;           /* what was asked */
    const pb_pull_entry *entry;  /* the source's answer; NULL until answered */
    const char *failure;         /* why the line is not pulled; NULL: not failed */
} pb_pull_line;

/*
 * The changes for a batch. change i binds what lines lines_of[i][0..n_lines[i]-1]
 * were answered (indices into the batch), so that a refused change fails them.
 */
typedef struct pb_pull_changes {
    pb_change *changes;
    size_t n;
    size_t **lines_of;
    size_t *n_lines;
    uint64_t pairs; /* account–token pairs in all the changes */
} pb_pull_changes;

/*
 * Builds the appends for the answered lines of `lines` (entry code 0, no
 * failure) into *out, from `pool`: by token one per line, the token's
 * accounts in the source's order; by account one per token, tokens in an
 * order that keeps every account's tokens in the source's order (first
 * appearance breaks ties), each token's accounts by bind time when the
 * source gave all of them one, else in input order. An account appears once
 * per change. A change carries the source's times for its bindings when the
 * source gave any (pb_change.times), and the token's platform when it named
 * one ("android" or "ios", any case; anything else is not known).
 */
void pb_pull_group(pb_pull_kind kind, const pb_pull_line *lines, size_t n, pb_pool *pool, pb_pull_changes *out);

#endif
