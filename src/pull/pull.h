/*
 * pull.h — bindings from a live TPNS-compatible service into the local store.
 *
 * A service that cannot export its bindings can still be asked about them:
 * pb_pull_run() reads a list of accounts (or tokens), asks the source's
 * POST /v3/device/account/query about them in batches, and binds what it
 * answers into the local store under the same AccessId (with the tokens'
 * tags, from a pushbind source: "Tags" below). The source is TPNS
 * itself or another pushbind.
 *
 * Input
 * -----
 * One item a line (a trailing CR is ignored, blank lines are skipped):
 *   accounts  the account itself (type 0), or NDJSON
 *             {"account":"A","account_type":N} (account_type optional)
 *   tokens    the token itself
 * A line is judged by the API's rules (api/validate.h) before it is sent; a
 * bad line is reported with its number and not sent.
 *
 * Order
 * -----
 * The source lists every binding oldest first. By token, each answer is
 * bound as one append of the token's accounts in the order answered. By
 * account, the answers of a batch are regrouped into one append per token,
 * tokens ordered so that every account's tokens are created in the order the
 * source listed them; a token's accounts follow the input order (or, when
 * the source gives bind times, the times). So every list the input asked
 * about carries over in its creation order. Re-binding a pair that is
 * already bound changes nothing: a re-run is harmless.
 *
 * Binding details
 * ---------------
 * The query carries "with_info": true (TPNS ignores unknown fields); a source
 * that answers with it (pushbind, docs/API.md "Binding details") gives each
 * binding's bind_time, last_bind_time and its token's platform, and the
 * local bindings keep them (pb_change.times and .platform): a pair already
 * bound locally keeps the earlier bind_time and the later last_bind_time of
 * the two. A source that gives none (TPNS) leaves the local time and no
 * platform; a binding answered without a time among others with one is read
 * as the import reads it (last_bind_time now, bind_time the last one).
 *
 * Tags
 * ----
 * A pushbind source keeps tags (docs/API.md "Tags"): for the tokens a batch
 * saw (by token every line answered, by account the tokens answered), the
 * pull asks its POST /pushbind/v1/tag/query op 1, in requests of at most
 * `batch` tokens, before anything of the batch is bound, and adds each
 * token's tags here in the order answered, as op 9 adds pairs, under the
 * local tag limits (config->api). A line whose token's tags break a limit
 * fails (its bindings stay bound; a re-run adds nothing twice). A source that
 * has no tag reads (TPNS: HTTP 404; an older pushbind whose store kept no
 * tags: 1008004 "not supported"; any other refusal but a retryable one) is
 * said once on stderr and the run goes on with bindings only.
 *
 * Politeness
 * ----------
 * At most `rate` requests a second, tag queries included (a token bucket
 * holding one request, so no second ever sees more, retries included). A transport error, an HTTP
 * 5xx, 1008004 or 1008028 is retried with exponential back-off, up to
 * `max_tries` tries; then the batch fails, nothing of it is written, its
 * lines are reported and the run goes on (a tag query the same), unless PB_PULL_FAILED_IN_A_ROW
 * batches fail in a row (the source is gone: the run stops). 1008003 stops
 * the run at once: the key is wrong or the clocks disagree.
 *
 * Resuming
 * --------
 * With a resume file, the numbers of the lines finished (pulled, or answered
 * empty) are appended to it after each batch's bindings are durable, and
 * fsynced; a later run with the same file and input skips them. Failed lines
 * are not recorded, so the next run tries them again.
 *
 * Threads: pb_pull_run() runs on the calling thread and uses nothing global
 * but stdio and libcurl's global state (initialised by it, once).
 */
#ifndef PB_PULL_H
#define PB_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "store/store.h"

#define PB_PULL_DEFAULT_RATE 10
#define PB_PULL_DEFAULT_BATCH 100
/* The query endpoint's default list limit, on TPNS and on pushbind. */
#define PB_PULL_MAX_BATCH 1000
#define PB_PULL_DEFAULT_TRIES 5
/* Batches failing one after the other that mean the source is gone. */
#define PB_PULL_FAILED_IN_A_ROW 3

typedef enum pb_pull_kind {
    PB_PULL_BY_ACCOUNT = 1, /* the query's operator_type 1 */
    PB_PULL_BY_TOKEN = 2,   /* operator_type 2 */
} pb_pull_kind;

typedef enum pb_pull_auth {
    PB_PULL_AUTH_SIGNATURE = 0, /* AccessId, TimeStamp, Sign headers (auth/auth.h) */
    PB_PULL_AUTH_BASIC,         /* Authorization: Basic */
} pb_pull_auth;

typedef struct pb_pull_config {
    const char *source_url;  /* "https://api.tpns.tencent.com" or "http://host:port": base URL */
    const char *ca_file;     /* PEM CA bundle for an https source; NULL: the system's */
    uint64_t access_id;      /* the app, on the source and locally */
    const char *secret_key;  /* the source's SecretKey for it */
    pb_pull_auth auth;
    pb_pull_kind kind;
    const char *input_path;  /* "-": stdin */
    const char *resume_path; /* NULL: no resume file */
    const char *report_path; /* NULL: failed lines on stderr only */
    double rate;             /* requests per second, > 0 */
    uint32_t batch;          /* items per request, 1..PB_PULL_MAX_BATCH */
    uint32_t max_tries;      /* tries per batch, >= 1 */
    unsigned backoff_ms;     /* the first retry's wait; each next one doubles */
    pb_store_config store;   /* the local store (data_dir or url, limits) */
    pb_api_config api;       /* judges input lines and answers; its tag limits bound the tags written */
    bool tty;                /* draw a progress bar (stderr is a terminal) */
} pb_pull_config;

/* Fills `config` with the defaults above (and docs/API.md's store and tag limits). */
void pb_pull_config_defaults(pb_pull_config *config);

typedef struct pb_pull_counts {
    uint64_t lines;    /* non-blank input lines read */
    uint64_t skipped;  /* finished by an earlier run (resume file) */
    uint64_t pulled;   /* answered with bindings, all of them bound */
    uint64_t empty;    /* answered 10110008: nothing bound on the source */
    uint64_t failed;   /* bad line, item error, failed batch, store refusal */
    uint64_t bindings; /* pairs handed to the store (already bound ones included) */
    uint64_t tags;     /* (tag, token) pairs handed to the store (already there included) */
    uint64_t requests; /* HTTP requests sent, retries included */
} pb_pull_counts;

typedef enum pb_pull_result {
    PB_PULL_OK = 0,         /* every line pulled, empty or skipped */
    PB_PULL_INCOMPLETE = 1, /* the run went through, some lines failed */
    PB_PULL_STOPPED = 2,    /* the run stopped early: auth, local store, files, a gone source */
} pb_pull_result;

/*
 * Runs the pull described by `config`: one line on stderr for each failed
 * line or batch (the progress bar on a terminal), the failed lines in the
 * report file, a summary on stdout at the end. *counts (may be NULL) gets the
 * figures. Returns a pb_pull_result; PB_PULL_STOPPED after a line on stderr
 * saying why (no such local app, wrong key, cannot open a file, the store
 * failed). What was bound before a stop stays bound.
 */
pb_pull_result pb_pull_run(const pb_pull_config *config, pb_pull_counts *counts);

#endif
