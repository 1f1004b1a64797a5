/*
 * ask.c — asking the source: the query's body, the pacing bucket, the
 * retries with back-off, and what each answer means for the batch.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "common/clock.h"
#include "common/codes.h"
#include "common/json_writer.h"
#include "common/progress.h"
#include "pull/ask.h"
#include "pull/http.h"
#include "pull/tags.h"

/* What an HTTP answer (status below 500) to a post means for the batch. */
typedef enum judgement { JUDGED_DONE, JUDGED_RETRY, JUDGED_FAILED, JUDGED_STOP } judgement;

/* {"operator_type":K,"account_list"|"token_list":[…],"with_info":true}, in `pool` */
static pb_str query_body(pb_pull_state *run, pb_pool *pool, const pb_pull_line *lines, size_t n)
{
    bool by_account = run->config->kind == PB_PULL_BY_ACCOUNT;
    pb_json_writer w;
    pb_json_init(&w, pool);
    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "operator_type");
    pb_json_int(&w, run->config->kind);
    if (by_account)
        PB_JSON_KEY(&w, "account_list");
    else
        PB_JSON_KEY(&w, "token_list");
    pb_json_array_open(&w);
    for (size_t i = 0; i < n; i++) {
        if (!by_account) {
            pb_json_string(&w, lines[i].item.token);
            continue;
        }
        pb_json_object_open(&w);
        PB_JSON_KEY(&w, "account");
        pb_json_string(&w, lines[i].item.account.name);
        if (lines[i].item.account.type != 0) {
            PB_JSON_KEY(&w, "account_type");
            pb_json_int(&w, lines[i].item.account.type);
        }
        pb_json_object_close(&w);
    }
    pb_json_array_close(&w);
    PB_JSON_KEY(&w, "with_info");
    pb_json_bool(&w, true);
    pb_json_object_close(&w);
    return pb_json_text(&w);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * A token bucket that holds one request: a request waits until 1/rate after
 * the one before. A bucket holding more would let a pull that waited (a
 * retry's back-off) send a burst, and a second see more than `rate`.
 */
static uint64_t pace(pb_pull_state *run)
{
    uint64_t now = pb_clock_ns();
    if (run->next_send_ns > now) {
        pb_progress_show(&run->progress, run->counts.lines, run->counts.bindings, run->bytes_read);
        sleep_ns(run->next_send_ns - now);
        now = run->next_send_ns;
    }
    run->next_send_ns = now + (uint64_t)(1e9 / run->config->rate);
    return now;
}

/*
 * A request that had to connect first left later than pace() let it: the
 * next one is spaced from when it really went, or the two would reach the
 * source closer together than the rate allows.
 */
static void paced_from(pb_pull_state *run, uint64_t start_ns, const pb_pull_reply *reply)
{
    uint64_t next = start_ns + reply->send_delay_ns + (uint64_t)(1e9 / run->config->rate);
    if (next > run->next_send_ns)
        run->next_send_ns = next;
}

static void stop_on_auth(pb_pull_state *run)
{
    pb_progress_clear(&run->progress);
    fprintf(stderr,
            "pushbind pull: the source refused the credentials (1008003 auth failure): the AccessId or SecretKey is "
            "wrong, or %s; nothing was written for this batch\n",
            run->config->auth == PB_PULL_AUTH_SIGNATURE
                ? "this machine's clock is too far from the source's for a Signature (TPNS allows 600 s: check NTP)"
                : "the source takes Signature authentication only (try --auth signature)");
}

/*
 * POSTs `body` to `path`, paced, until judge() settles the answer or
 * max_tries tries went: transport errors and HTTP 5xx are retried here,
 * judge() says what any other answer means (and writes run->reason when the
 * batch fails).
 */
static pb_pull_asked post(pb_pull_state *run, const char *path, pb_str body,
                          judgement (*judge)(pb_pull_state *run, const pb_pull_reply *reply, uint32_t attempt,
                                             void *arg),
                          void *arg)
{
    for (uint32_t attempt = 1; attempt <= run->config->max_tries; attempt++) {
        if (attempt > 1)
            sleep_ns((uint64_t)run->config->backoff_ms * 1000000u << (attempt - 2 < 16 ? attempt - 2 : 16));
        uint64_t start_ns = pace(run);
        run->counts.requests++;
        pb_pull_reply reply;
        int posted = pb_pull_http_post(run->http, path, body.base, body.len, &reply);
        paced_from(run, start_ns, &reply);
        if (posted != 0) {
            snprintf(run->reason, sizeof(run->reason), "no answer after %u tries: %s", attempt, reply.error);
            continue;
        }
        if (reply.status >= 500) {
            snprintf(run->reason, sizeof(run->reason), "HTTP %ld after %u tries", reply.status, attempt);
            continue;
        }
        switch (judge(run, &reply, attempt, arg)) {
        case JUDGED_DONE: return PB_PULL_ASKED_OK;
        case JUDGED_RETRY: continue;
        case JUDGED_FAILED: return PB_PULL_ASKED_FAILED;
        case JUDGED_STOP: return PB_PULL_ASKED_STOP;
        }
    }
    return PB_PULL_ASKED_FAILED;
}

/* A code worth asking again for: the source's store failed, or it is over its rate. */
static judgement retry_on(pb_pull_state *run, int code, uint32_t attempt)
{
    snprintf(run->reason, sizeof(run->reason), "the source answered %d (%s) after %u tries", code,
             pb_code_message(code), attempt);
    return JUDGED_RETRY;
}

typedef struct query_asked {
    const pb_pull_item *sent;
    size_t n;
    pb_pool *pool;
    pb_pull_answer *answer;
} query_asked;

static judgement judge_query(pb_pull_state *run, const pb_pull_reply *reply, uint32_t attempt, void *arg)
{
    query_asked *a = arg;
    if (reply->status != 200) {
        snprintf(run->reason, sizeof(run->reason), "the source answered HTTP %ld", reply->status);
        return JUDGED_FAILED;
    }
    const char *malformed =
        pb_pull_answer_parse(run->config->kind, reply->body, reply->len, a->sent, a->n, a->pool, a->answer);
    if (malformed != NULL) {
        snprintf(run->reason, sizeof(run->reason), "malformed answer: %s", malformed);
        return JUDGED_FAILED;
    }
    int code = a->answer->code;
    if (code == PB_ERR_AUTH) {
        stop_on_auth(run);
        return JUDGED_STOP;
    }
    if (code == PB_ERR_STORE || code == PB_ERR_RATE)
        return retry_on(run, code, attempt);
    if (a->answer->entries == NULL) {
        snprintf(run->reason, sizeof(run->reason), "the source answered %d (%s)", code, pb_code_message(code));
        return JUDGED_FAILED;
    }
    return JUDGED_DONE;
}

pb_pull_asked pb_pull_ask_query(pb_pull_state *run, const pb_pull_line *lines, size_t n, pb_pool *pool,
                                pb_pull_answer *answer)
{
    pb_pull_item *sent = pb_pool_alloc(pool, n * sizeof(*sent));
    for (size_t i = 0; i < n; i++)
        sent[i] = lines[i].item;
    query_asked a = {sent, n, pool, answer};
    return post(run, PB_PULL_QUERY_PATH, query_body(run, pool, lines, n), judge_query, &a);
}

/* From now on the run pulls bindings only; says why, once. */
static void no_tags(pb_pull_state *run, const char *why)
{
    run->no_tags = true;
    pb_progress_clear(&run->progress);
    fprintf(stderr, "pushbind pull: %s; pulling bindings without tags\n", why);
}

typedef struct tags_asked {
    pb_pull_tag_target *targets;
    size_t n;
    pb_pool *pool;
} tags_asked;

/* A source that answers anything but tags or a retryable refusal has no tag reads (TPNS: 404). */
static judgement judge_tags(pb_pull_state *run, const pb_pull_reply *reply, uint32_t attempt, void *arg)
{
    tags_asked *a = arg;
    char why[160];
    if (reply->status == 429) {
        snprintf(run->reason, sizeof(run->reason), "HTTP 429 to the tag query after %u tries", attempt);
        return JUDGED_RETRY;
    }
    if (reply->status != 200) {
        snprintf(why, sizeof(why), "the source keeps no tags it can read (HTTP %ld to %s)", reply->status,
                 PB_PULL_TAG_QUERY_PATH);
        no_tags(run, why);
        return JUDGED_DONE;
    }
    pb_pull_tag_answer answer;
    const char *malformed =
        pb_pull_tag_answer_parse(reply->body, reply->len, &run->config->api, a->targets, a->n, a->pool, &answer);
    if (malformed != NULL) {
        snprintf(run->reason, sizeof(run->reason), "malformed answer to the tag query: %s", malformed);
        return JUDGED_FAILED;
    }
    if (answer.code == PB_OK)
        return JUDGED_DONE;
    if (!answer.unsupported && (answer.code == PB_ERR_STORE || answer.code == PB_ERR_RATE))
        return retry_on(run, answer.code, attempt);
    snprintf(why, sizeof(why), "the source keeps no tags it can read (%d %s to %s)", answer.code,
             answer.unsupported ? "tags are not supported on this store" : pb_code_message(answer.code),
             PB_PULL_TAG_QUERY_PATH);
    no_tags(run, why);
    return JUDGED_DONE;
}

pb_pull_asked pb_pull_ask_tags(pb_pull_state *run, pb_pull_tag_target *targets, size_t n, pb_pool *pool)
{
    for (size_t at = 0; at < n && !run->no_tags; at += run->config->batch) {
        size_t chunk = n - at < run->config->batch ? n - at : run->config->batch;
        tags_asked a = {targets + at, chunk, pool};
        pb_pull_asked outcome =
            post(run, PB_PULL_TAG_QUERY_PATH, pb_pull_tag_query_body(pool, targets + at, chunk), judge_tags, &a);
        if (outcome != PB_PULL_ASKED_OK)
            return outcome;
    }
    return PB_PULL_ASKED_OK;
}
