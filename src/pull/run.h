/*
 * run.h — one pull run's state, shared by the run's two files: pull.c (the
 * driver: input lines, batches, what is written, the resume record) and
 * ask.c (asking the source: request bodies, pacing, retries, what an answer
 * means). pb_pull_run() owns it; it lives on its stack for the whole run.
 * Private to pull/.
 */
#ifndef PB_PULL_RUN_H
#define PB_PULL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/progress.h"
#include "pull/http.h"
#include "pull/pull.h"
#include "pull/resume.h"
#include "store/store.h"

typedef struct pb_pull_state {
    const pb_pull_config *config;
    pb_store *store;
    pb_store_session *session;
    pb_pull_http *http;
    pb_pull_resume resume;
    FILE *input, *report;
    pb_progress progress;
    pb_pull_counts counts;
    uint64_t bytes_read;
    uint64_t line_number;
    char *line;
    size_t line_capacity;
    bool eof;
    uint64_t next_send_ns; /* the pacing bucket: when the next request may go */
    unsigned failed_in_a_row;
    bool no_tags;     /* the source has no tag reads: bindings only */
    char reason[400]; /* why the batch in hand failed */
} pb_pull_state;

#endif
