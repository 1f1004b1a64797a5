/*
 * pull.c — the pull's run: read a batch of lines, ask the source about them
 * (pull/ask.c: paced, retried), bind what it answers, record the finished
 * lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/validate.h"
#include "common/codes.h"
#include "common/progress.h"
#include "pull/answer.h"
#include "pull/ask.h"
#include "pull/group.h"
#include "pull/http.h"
#include "pull/input.h"
#include "pull/pull.h"
#include "pull/resume.h"
#include "pull/run.h"
#include "pull/tags.h"

void pb_pull_config_defaults(pb_pull_config *config)
{
    *config = (pb_pull_config){
        .auth = PB_PULL_AUTH_SIGNATURE,
        .kind = PB_PULL_BY_ACCOUNT,
        .rate = PB_PULL_DEFAULT_RATE,
        .batch = PB_PULL_DEFAULT_BATCH,
        .max_tries = PB_PULL_DEFAULT_TRIES,
        .backoff_ms = 100,
        .store = {.limits = {PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT}},
    };
    pb_api_config_defaults(&config->api);
}

/* A failed line: on stderr unless `quiet` (its batch said it once), and in the report. */
static void fail_line(pb_pull_state *run, uint64_t number, pb_str text, const char *reason, bool quiet)
{
    run->counts.failed++;
    run->progress.errors = run->counts.failed;
    if (!quiet) {
        pb_progress_clear(&run->progress);
        fprintf(stderr, "pushbind pull: line %" PRIu64 ": %s\n", number, reason);
    }
    if (run->report != NULL)
        fprintf(run->report, "%" PRIu64 "\t%s\t%.*s\n", number, reason, (int)text.len, text.base);
}

/* Reads up to config->batch lines to ask about; bad ones are failed on the way. */
static size_t fill_batch(pb_pull_state *run, pb_pull_line *lines, pb_pool *pool)
{
    size_t n = 0;
    while (n < run->config->batch && !run->eof) {
        ssize_t len = getline(&run->line, &run->line_capacity, run->input);
        if (len < 0) {
            run->eof = true;
            break;
        }
        run->bytes_read += (uint64_t)len;
        run->line_number++;
        if (len > 0 && run->line[len - 1] == '\n')
            len--;
        if (len > 0 && run->line[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        run->counts.lines++;
        if (pb_pull_resume_done(&run->resume, run->line_number)) {
            run->counts.skipped++;
            continue;
        }
        pb_pull_line *line = &lines[n];
        *line = (pb_pull_line){.number = run->line_number};
        line->text = pb_pool_strdup(pool, (pb_str){run->line, (size_t)len});
        const char *reason =
            pb_pull_input_parse(run->config->kind, &run->config->api, run->line, (size_t)len, pool, &line->item);
        if (reason != NULL)
            fail_line(run, line->number, line->text, reason, false);
        else
            n++;
    }
    return n;
}


/* Judges each answer: an empty one is finished, an item error or a binding this store cannot hold fails. */
static void judge_entries(pb_pull_state *run, pb_pull_line *lines, size_t n, const pb_pull_answer *answer, pb_pool *pool)
{
    for (size_t i = 0; i < n; i++) {
        const pb_pull_entry *e = &answer->entries[i];
        lines[i].entry = e;
        if (e->code != PB_OK && e->code != PB_ERR_NO_BINDING) {
            char *reason = pb_pool_alloc(pool, 96);
            snprintf(reason, 96, "the source answered item code %d (%s)", e->code, pb_code_message(e->code));
            lines[i].failure = reason;
            continue;
        }
        for (size_t j = 0; j < e->n && lines[i].failure == NULL; j++) {
            pb_token_item token = {e->bindings[j].token, true};
            pb_account_item account = {e->bindings[j].account, true};
            if (pb_validate_token(&run->config->api, &token) != PB_OK)
                lines[i].failure = "the source answered a token this store does not take (--max-token-bytes)";
            else if (pb_validate_account(&run->config->api, &account) != PB_OK)
                lines[i].failure = "the source answered an account this store does not take (--max-account-bytes)";
        }
    }
}

/* Says the local store failed for lines[0..n-1] (or lost the app): the run stops. */
static void stop_on_store(pb_pull_state *run, int rc, const pb_pull_line *lines, size_t n, const char *undone)
{
    pb_progress_clear(&run->progress);
    if (rc == PB_STORE_ENOTFOUND)
        fprintf(stderr, "pushbind pull: app %" PRIu64 " was removed from the local store\n", run->config->access_id);
    else
        fprintf(stderr, "pushbind pull: the local store failed: %s (lines %" PRIu64 "-%" PRIu64 " not %s)\n",
                pb_store_session_error(run->session), lines[0].number, lines[n - 1].number, undone);
}

/*
 * Binds `changes`, the answered lines' appends with the times and platforms
 * the source gave (pull/group.h). Returns 0, or -1 when the store failed
 * (the run stops).
 */
static int bind(pb_pull_state *run, pb_pull_line *lines, size_t n, const pb_pull_changes *changes, pb_pool *pool)
{
    if (changes->n == 0)
        return 0;
    pb_change_outcome *outcomes = pb_pool_alloc(pool, changes->n * sizeof(*outcomes));
    int rc = pb_store_apply(run->session, run->config->access_id, changes->changes, changes->n, outcomes);
    if (rc != PB_STORE_OK) {
        stop_on_store(run, rc, lines, n, "bound");
        return -1;
    }
    for (size_t c = 0; c < changes->n; c++) {
        if (outcomes[c] == PB_CHANGE_OK) {
            run->counts.bindings += changes->changes[c].n_accounts;
            continue;
        }
        const char *reason = outcomes[c] == PB_CHANGE_OVER_LIMIT
                                 ? "over a local limit (--max-accounts-per-token or --max-tokens-per-account)"
                             : outcomes[c] == PB_CHANGE_NO_SPACE ? "the local store is full (--map-size-mib)"
                                                                 : "the local store failed for it";
        for (size_t k = 0; k < changes->n_lines[c]; k++)
            lines[changes->lines_of[c][k]].failure = reason;
    }
    return 0;
}

/*
 * Adds the answered tags of targets[0..n-1] here (pull/tags.h); a target
 * that could not have them fails its lines. Returns 0, or -1 when the store
 * failed (the run stops).
 */
static int write_tags(pb_pull_state *run, pb_pull_line *lines, size_t n, pb_pull_tag_target *targets, size_t n_targets,
                      pb_pool *pool)
{
    uint64_t pairs = 0;
    int rc = pb_pull_tags_write(run->session, run->config->access_id, &run->config->api, lines, targets, n_targets,
                                pool, &pairs);
    if (rc != PB_STORE_OK) {
        stop_on_store(run, rc, lines, n, "given their tags");
        return -1;
    }
    run->counts.tags += pairs;
    for (size_t t = 0; t < n_targets; t++)
        for (size_t k = 0; targets[t].failure != NULL && k < targets[t].n_lines; k++)
            if (lines[targets[t].lines[k]].failure == NULL)
                lines[targets[t].lines[k]].failure = targets[t].failure;
    return 0;
}

/* A batch nothing of which was written: its lines fail. Returns -1 when so many failed in a row that the run stops. */
static int fail_batch(pb_pull_state *run, const pb_pull_line *lines, size_t n)
{
    pb_progress_clear(&run->progress);
    fprintf(stderr, "pushbind pull: lines %" PRIu64 "-%" PRIu64 " (%zu asked): %s; nothing written for them\n",
            lines[0].number, lines[n - 1].number, n, run->reason);
    for (size_t i = 0; i < n; i++)
        fail_line(run, lines[i].number, lines[i].text, run->reason, true);
    if (++run->failed_in_a_row >= PB_PULL_FAILED_IN_A_ROW) {
        fprintf(stderr, "pushbind pull: %u batches in a row failed; stopping (run again with --resume to go on)\n",
                run->failed_in_a_row);
        return -1;
    }
    return 0;
}

/*
 * One batch, from the query to the resume record: the source is asked about
 * the lines, then about the tags of the tokens it answered, and only then is
 * anything written. Returns -1 when the run must stop.
 */
static int pull_batch(pb_pull_state *run, pb_pull_line *lines, size_t n, pb_pool *pool)
{
    pb_pull_answer answer;
    pb_pull_asked outcome = pb_pull_ask_query(run, lines, n, pool, &answer);
    if (outcome == PB_PULL_ASKED_STOP)
        return -1;
    if (outcome == PB_PULL_ASKED_FAILED)
        return fail_batch(run, lines, n);
    judge_entries(run, lines, n, &answer, pool);
    pb_pull_changes changes;
    pb_pull_group(run->config->kind, lines, n, pool, &changes);
    pb_pull_tag_target *targets = NULL;
    size_t n_targets = run->no_tags ? 0 : pb_pull_tag_targets(run->config->kind, lines, n, &changes, pool, &targets);
    outcome = n_targets > 0 ? pb_pull_ask_tags(run, targets, n_targets, pool) : PB_PULL_ASKED_OK;
    if (outcome == PB_PULL_ASKED_STOP)
        return -1;
    if (outcome == PB_PULL_ASKED_FAILED)
        return fail_batch(run, lines, n);
    run->failed_in_a_row = 0;
    if (bind(run, lines, n, &changes, pool) != 0)
        return -1;
    if (!run->no_tags && n_targets > 0 && write_tags(run, lines, n, targets, n_targets, pool) != 0)
        return -1;
    uint64_t *finished = pb_pool_alloc(pool, n * sizeof(uint64_t));
    size_t n_finished = 0;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].failure != NULL) {
            fail_line(run, lines[i].number, lines[i].text, lines[i].failure, false);
            continue;
        }
        finished[n_finished++] = lines[i].number;
        if (lines[i].entry->n == 0)
            run->counts.empty++;
        else
            run->counts.pulled++;
    }
    if (pb_pull_resume_record(&run->resume, finished, n_finished) != 0) {
        pb_progress_clear(&run->progress);
        fprintf(stderr, "pushbind pull: cannot write the resume file %s: %m\n", run->config->resume_path);
        return -1;
    }
    return 0;
}

/* Opens the store and checks the app is there. Returns 0, or -1 after saying why. */
static int open_store(pb_pull_state *run)
{
    char *err = NULL;
    run->store = pb_store_open(&run->config->store, &err);
    if (run->store == NULL) {
        fprintf(stderr, "pushbind pull: cannot open the local store: %s\n", err != NULL ? err : "unknown error");
        free(err);
        return -1;
    }
    run->session = pb_store_session_open(run->store);
    pb_store_view *view = run->session != NULL ? pb_store_view_begin(run->session) : NULL;
    if (view == NULL) {
        fprintf(stderr, "pushbind pull: cannot read the local store\n");
        return -1;
    }
    pb_str secret;
    int rc = pb_store_app_secret(view, run->config->access_id, &secret);
    pb_store_view_end(view);
    if (rc == PB_STORE_ENOTFOUND)
        fprintf(stderr,
                "pushbind pull: no app %" PRIu64 " in the local store: create it first with "
                "'pushbind app add --access-id %" PRIu64 " --secret-key KEY' (the same key as on the source keeps "
                "the back ends working)\n",
                run->config->access_id, run->config->access_id);
    else if (rc != PB_STORE_OK)
        fprintf(stderr, "pushbind pull: cannot read the local store: %s\n", pb_store_session_error(run->session));
    return rc == PB_STORE_OK ? 0 : -1;
}

static int open_files(pb_pull_state *run)
{
    const pb_pull_config *c = run->config;
    bool use_stdin = strcmp(c->input_path, "-") == 0;
    run->input = use_stdin ? stdin : fopen(c->input_path, "re");
    if (run->input == NULL) {
        fprintf(stderr, "pushbind pull: cannot open %s: %m\n", c->input_path);
        return -1;
    }
    if (c->report_path != NULL && (run->report = fopen(c->report_path, "we")) == NULL) {
        fprintf(stderr, "pushbind pull: cannot write the report %s: %m\n", c->report_path);
        return -1;
    }
    return pb_pull_resume_open(&run->resume, c->resume_path);
}

static void close_run(pb_pull_state *run)
{
    pb_pull_http_close(run->http);
    pb_pull_resume_close(&run->resume);
    if (run->report != NULL && fclose(run->report) != 0)
        fprintf(stderr, "pushbind pull: cannot write the report %s: %m\n", run->config->report_path);
    if (run->input != NULL && run->input != stdin)
        fclose(run->input);
    free(run->line);
    if (run->session != NULL)
        pb_store_session_close(run->session);
    if (run->store != NULL)
        pb_store_close(run->store);
}

static void print_summary(const pb_pull_state *run, bool stopped)
{
    const pb_pull_counts *c = &run->counts;
    double seconds = pb_progress_now() - run->progress.start;
    printf("pushbind pull: %" PRIu64 " lines: %" PRIu64 " pulled (%" PRIu64 " bindings), %" PRIu64
           " empty on the source, %" PRIu64 " skipped (finished before), %" PRIu64 " failed; %" PRIu64
           " tags; %" PRIu64 " requests in %.1f s%s\n",
           c->lines, c->pulled, c->bindings, c->empty, c->skipped, c->failed, c->tags, c->requests, seconds,
           stopped ? "; stopped before the end of the input" : "");
}

pb_pull_result pb_pull_run(const pb_pull_config *config, pb_pull_counts *counts)
{
    pb_pull_state run = {.config = config, .resume = {.fd = -1}};
    pb_pull_result result = PB_PULL_STOPPED;
    if (open_store(&run) != 0 || open_files(&run) != 0 || (run.http = pb_pull_http_open(config)) == NULL) {
        close_run(&run);
        return result;
    }
    struct stat st;
    uint64_t total = run.input != stdin && fstat(fileno(run.input), &st) == 0 && S_ISREG(st.st_mode)
                         ? (uint64_t)st.st_size : 0;
    pb_pool pool;
    pb_pool_init(&pool);
    pb_progress_start(&run.progress, "pull", config->tty, total);
    run.progress.show_items = true;
    pb_pull_line *lines = calloc(config->batch, sizeof(*lines));
    bool stopped = lines == NULL;
    while (!stopped && !run.eof) {
        size_t n = fill_batch(&run, lines, &pool);
        if (n > 0 && pull_batch(&run, lines, n, &pool) != 0)
            stopped = true;
        pb_pool_clear(&pool);
        pb_progress_update(&run.progress, run.counts.lines, run.counts.bindings, run.bytes_read);
    }
    if (!stopped && ferror(run.input)) {
        fprintf(stderr, "pushbind pull: read error in %s\n", config->input_path);
        stopped = true;
    }
    pb_progress_clear(&run.progress);
    free(lines);
    print_summary(&run, stopped);
    close_run(&run);
    if (counts != NULL)
        *counts = run.counts;
    if (!stopped)
        result = run.counts.failed == 0 ? PB_PULL_OK : PB_PULL_INCOMPLETE;
    return result;
}
