/*
 * `pushbind import`: bindings from an NDJSON or CSV file straight into the
 * embedded store, in large transactions, under the API's rules.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/validate.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "cli/import_line.h"
#include "cli/import_read.h"
#include "cli/progress.h"
#include "common/codes.h"
#include "common/hugepages.h"
#include "store/lmdb_tools.h"

/*
 * Lines per transaction. A chunk is sorted and written in key order, so each
 * page of the store is written about once per chunk: with random tokens,
 * every chunk rewrites most of the store. Measured on 10 million lines
 * (scripts/bench-import.sh): one chunk took 10 s and left a 1.66 GB file;
 * chunks of 1 million took 31 s and left 6.4 GB (pages freed by each
 * rewrite stay in the file for reuse). A
 * chunk holds about 200 bytes a line in memory, and two are in memory at once
 * (one parsed while the other is written). A server sharing the store waits
 * for its writes while a chunk is written: a live import wants smaller chunks.
 */
#define PB_IMPORT_DEFAULT_BATCH 10000000

static const char import_usage[] =
    "usage: pushbind import --data DIR --access-id ID [options] FILE\n"
    "\n"
    "Loads bindings into app ID from FILE ('-' for stdin), one a line, in file order:\n"
    "  NDJSON  {\"token\":\"T\",\"account\":\"A\",\"account_type\":0}   (account_type optional)\n"
    "  CSV     T,A[,TYPE]   (header line optional; RFC 4180 quotes)\n"
    "Each line is an append of one account to one token, judged by the API's rules.\n"
    "Lines already bound change nothing, so a re-run is harmless. Bad lines and lines\n"
    "over a limit are reported with their line number and skipped.\n"
    "\n"
    "  --data DIR                  data directory\n"
    "  --access-id ID              the app (it must exist: 'pushbind app add')\n"
    "  --format ndjson|csv         default: NDJSON when the first line starts with '{'\n"
    "  --batch-size N              lines per transaction (default 10000000); smaller when a\n"
    "                              server shares the store: its writes wait for each one\n"
    "  --max-accounts-per-token N  as for serve (default 32)\n"
    "  --max-tokens-per-account N  as for serve (default 100)\n"
    "  --max-account-bytes N       as for serve (default 128)\n"
    "  --max-token-bytes N         as for serve (default 256)\n"
    "  --map-size-mib N            as for serve (default 65536)\n"
    "  --help                      this text\n"
    "\n"
    "Exit status: 0 every line was bound or already present, 1 some were not (or the\n"
    "store failed; what was committed stays), 2 bad command line.\n";

typedef struct import_args {
    const char *data_dir, *file;
    uint64_t access_id, batch_size, map_size_mib;
    bool format_given;
    pb_import_format format;
    pb_api_config api;
    pb_store_limits limits;
} import_args;

typedef struct import_counts {
    uint64_t lines, bound, present, rejected, bytes;
} import_counts;

enum { OPT_DATA = 256, OPT_ACCESS_ID, OPT_FORMAT, OPT_BATCH, OPT_MAX_APT, OPT_MAX_TPA, OPT_MAX_AB, OPT_MAX_TB,
       OPT_MAP, OPT_HELP };

static int parse_import_args(int argc, char **argv, import_args *args, bool *help)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"access-id", required_argument, NULL, OPT_ACCESS_ID},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"batch-size", required_argument, NULL, OPT_BATCH},
        {"max-accounts-per-token", required_argument, NULL, OPT_MAX_APT},
        {"max-tokens-per-account", required_argument, NULL, OPT_MAX_TPA},
        {"max-account-bytes", required_argument, NULL, OPT_MAX_AB},
        {"max-token-bytes", required_argument, NULL, OPT_MAX_TB},
        {"map-size-mib", required_argument, NULL, OPT_MAP},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *access_id = NULL;
    uint64_t value;
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case OPT_HELP: *help = true; return PB_EXIT_OK;
        case OPT_DATA: args->data_dir = optarg; continue;
        case OPT_ACCESS_ID: access_id = optarg; continue;
        case OPT_FORMAT:
            args->format_given = true;
            if (strcmp(optarg, "ndjson") == 0)
                args->format = PB_IMPORT_NDJSON;
            else if (strcmp(optarg, "csv") == 0)
                args->format = PB_IMPORT_CSV;
            else
                return pb_cli_usage_error("import", "--format: '%s' is not ndjson or csv", optarg);
            continue;
        case '?': return pb_cli_usage_error("import", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        uint64_t max = option == OPT_MAX_AB ? PB_MAX_ACCOUNT_BYTES_CEILING
                       : option == OPT_MAX_TB ? PB_MAX_TOKEN_BYTES_CEILING
                       : option == OPT_MAP    ? 1u << 24
                                              : 10000000;
        if (pb_cli_parse_uint(optarg, 1, max, &value) != 0)
            return pb_cli_usage_error("import", "'%s' is not a number in 1..%llu", optarg, (unsigned long long)max);
        switch (option) {
        case OPT_BATCH: args->batch_size = value; break;
        case OPT_MAX_APT: args->limits.max_accounts_per_token = args->api.max_accounts_per_token = (uint32_t)value; break;
        case OPT_MAX_TPA: args->limits.max_tokens_per_account = (uint32_t)value; break;
        case OPT_MAX_AB: args->api.max_account_bytes = (uint32_t)value; break;
        case OPT_MAX_TB: args->api.max_token_bytes = (uint32_t)value; break;
        case OPT_MAP: args->map_size_mib = value; break;
        }
    }
    if (args->data_dir == NULL)
        return pb_cli_usage_error("import", "--data DIR is required");
    if (access_id == NULL || pb_auth_parse_access_id(pb_str_from_cstr(access_id), &args->access_id) != 0)
        return pb_cli_usage_error("import", "--access-id ID (1 to 18 decimal digits) is required");
    if (optind != argc - 1)
        return pb_cli_usage_error("import", "one FILE (or '-') is required");
    args->file = argv[optind];
    return PB_EXIT_OK;
}

static const char *outcome_reason(pb_import_outcome outcome)
{
    switch (outcome) {
    case PB_IMPORT_TOKEN_FULL: return "the token already has --max-accounts-per-token accounts";
    case PB_IMPORT_ACCOUNT_FULL: return "the account already has --max-tokens-per-account tokens";
    case PB_IMPORT_TOO_LONG: return "token or account too long for the store";
    default: return NULL;
    }
}

/*
 * The lines of one chunk on their way to the store. Strings are copied into
 * `text`, which grows by realloc, so items hold offsets until the chunk is
 * applied.
 */
typedef struct pending_chunk {
    pb_import_item *items;
    pb_import_outcome *outcomes;
    uint64_t *lines;  /* line number of each item */
    size_t *offsets;  /* token offset of each item; its account follows the token */
    size_t n, capacity;
    char *text;
    size_t text_len, text_capacity;
} pending_chunk;

static int chunk_reserve(pending_chunk *chunk, size_t capacity)
{
    pb_import_item *items = realloc(chunk->items, capacity * sizeof(*items));
    if (items != NULL)
        chunk->items = items;
    pb_import_outcome *outcomes = realloc(chunk->outcomes, capacity * sizeof(*outcomes));
    if (outcomes != NULL)
        chunk->outcomes = outcomes;
    uint64_t *lines = realloc(chunk->lines, capacity * sizeof(*lines));
    if (lines != NULL)
        chunk->lines = lines;
    size_t *offsets = realloc(chunk->offsets, capacity * sizeof(*offsets));
    if (offsets != NULL)
        chunk->offsets = offsets;
    if (items == NULL || outcomes == NULL || lines == NULL || offsets == NULL)
        return -1;
    pb_want_huge_pages(chunk->items, capacity * sizeof(*items));
    pb_want_huge_pages(chunk->outcomes, capacity * sizeof(*outcomes));
    chunk->capacity = capacity;
    return 0;
}

/*
 * Appends items first..first+count-1 of `block` (their lines numbered from
 * `line_base`) to the chunk: their strings are contiguous in the block's
 * text, so they are copied at once. Returns 0 or -1 (out of memory).
 */
static int chunk_append(pending_chunk *chunk, const pb_import_block *block, size_t first, size_t count,
                        uint64_t line_base)
{
    size_t capacity = chunk->capacity == 0 ? 4096 : chunk->capacity;
    while (capacity < chunk->n + count)
        capacity *= 2;
    if (capacity != chunk->capacity && chunk_reserve(chunk, capacity) != 0)
        return -1;
    size_t from = block->offsets[first];
    size_t to = first + count < block->n_items ? block->offsets[first + count] : block->text_len;
    if (chunk->text_len + (to - from) > chunk->text_capacity) {
        size_t text_capacity = (chunk->text_capacity + (to - from)) * 2;
        char *grown = realloc(chunk->text, text_capacity);
        if (grown == NULL)
            return -1;
        chunk->text = grown;
        chunk->text_capacity = text_capacity;
        pb_want_huge_pages(grown, text_capacity);
    }
    memcpy(chunk->text + chunk->text_len, block->text + from, to - from);
    size_t shift = chunk->text_len - from;
    for (size_t i = first; i < first + count; i++, chunk->n++) {
        chunk->items[chunk->n] = block->items[i];
        chunk->offsets[chunk->n] = block->offsets[i] + shift;
        chunk->lines[chunk->n] = line_base + block->item_lines[i] + 1;
    }
    chunk->text_len += to - from;
    return 0;
}

static void chunk_free(pending_chunk *chunk)
{
    free(chunk->items);
    free(chunk->outcomes);
    free(chunk->lines);
    free(chunk->offsets);
    free(chunk->text);
}

/*
 * The thread that writes one chunk to the store while the main thread reads
 * and parses the next: on two cores the parsing costs no time. The store
 * session is used by this thread only once it has started.
 */
typedef struct chunk_writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pending_chunk *chunk; /* handed over; NULL once written */
    bool stop;
    int rc; /* of the last chunk written */
    uint64_t access_id;
    pb_store_session *session;
} chunk_writer;

static void *writer_main(void *arg)
{
    chunk_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->chunk == NULL && !w->stop)
            pthread_cond_wait(&w->changed, &w->lock);
        if (w->chunk == NULL)
            break;
        pending_chunk *chunk = w->chunk;
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < chunk->n; i++) {
            chunk->items[i].token.base = chunk->text + chunk->offsets[i];
            chunk->items[i].account.name.base = chunk->text + chunk->offsets[i] + chunk->items[i].token.len;
        }
        int rc = pb_lmdb_import_chunk(pb_store_session_lmdb(w->session), w->access_id, chunk->items, chunk->n, chunk->outcomes);
        pthread_mutex_lock(&w->lock);
        w->rc = rc;
        w->chunk = NULL;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int writer_start(chunk_writer *w, uint64_t access_id, pb_store_session *session)
{
    *w = (chunk_writer){.access_id = access_id, .session = session};
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) == 0)
        return 0;
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    return -1;
}

static void writer_submit(chunk_writer *w, pending_chunk *chunk)
{
    pthread_mutex_lock(&w->lock);
    w->chunk = chunk;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

/* Waits for the chunk in hand to be written; returns its pb_lmdb_import_chunk() code. */
static int writer_wait(chunk_writer *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->chunk != NULL)
        pthread_cond_wait(&w->changed, &w->lock);
    int rc = w->rc;
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void writer_stop(chunk_writer *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
}

/* Reports a refused line, in the form every refusal takes. */
static void report_line(pb_progress *progress, uint64_t line, const char *reason)
{
    pb_progress_clear(progress);
    fprintf(stderr, "pushbind import: line %llu: %s\n", (unsigned long long)line, reason);
}

/*
 * Waits for `chunk` to be written, reports its refused lines and empties it.
 * Returns 0, or -1 when the store failed.
 */
static int chunk_collect(import_args *args, chunk_writer *writer, pending_chunk *chunk, pb_progress *progress,
                         import_counts *counts)
{
    int rc = writer_wait(writer);
    if (rc != PB_STORE_OK) {
        pb_progress_clear(progress);
        if (rc == PB_STORE_ENOTFOUND)
            fprintf(stderr, "pushbind import: app %llu was removed\n", (unsigned long long)args->access_id);
        else
            fprintf(stderr, "pushbind import: store failed: %s (lines before line %llu stay imported)\n",
                    pb_store_session_error(writer->session), (unsigned long long)chunk->lines[0]);
        return -1;
    }
    for (size_t i = 0; i < chunk->n; i++) {
        const char *reason = outcome_reason(chunk->outcomes[i]);
        counts->bound += chunk->outcomes[i] == PB_IMPORT_BOUND;
        counts->present += chunk->outcomes[i] == PB_IMPORT_PRESENT;
        if (reason != NULL) {
            counts->rejected++;
            report_line(progress, chunk->lines[i], reason);
        }
    }
    chunk->n = 0;
    chunk->text_len = 0;
    return 0;
}

/* The two chunks: one fills while the other is written. */
typedef struct chunk_pair {
    pending_chunk chunks[2];
    pending_chunk *filling, *writing;
} chunk_pair;

/* Hands the full chunk to the writer once the one before is written. Returns 0, or -1 when the store failed. */
static int chunk_rotate(import_args *args, chunk_writer *writer, chunk_pair *pair, pb_progress *progress,
                        import_counts *counts)
{
    if (pair->writing != NULL && chunk_collect(args, writer, pair->writing, progress, counts) != 0)
        return -1;
    writer_submit(writer, pair->filling);
    pair->writing = pair->filling;
    pair->filling = pair->filling == &pair->chunks[0] ? &pair->chunks[1] : &pair->chunks[0];
    return 0;
}

/*
 * Takes in one parsed block, in line order: reports its bad lines, appends
 * its items to the filling chunk and hands each chunk that fills to the
 * writer. Returns 0, or -1 when out of memory or (*store_failed) the store
 * failed; then the lines counted stop at the line it stopped at, as they
 * would have line by line.
 */
static int merge_block(import_args *args, chunk_writer *writer, chunk_pair *pair, const pb_import_block *block,
                       pb_progress *progress, import_counts *counts, bool *store_failed)
{
    uint64_t base = counts->lines;
    size_t item = 0, bad = 0;
    counts->bytes += block->bytes;
    while (item < block->n_items || bad < block->n_bad) {
        if (bad < block->n_bad && (item == block->n_items || block->bad[bad].line < block->item_lines[item])) {
            counts->rejected++;
            report_line(progress, base + block->bad[bad].line + 1, block->bad[bad].reason);
            bad++;
            continue;
        }
        /* The items before the next bad line, as many as the chunk has room for. */
        size_t end = item, room = item + (args->batch_size - pair->filling->n);
        uint64_t next_bad = bad < block->n_bad ? block->bad[bad].line : UINT64_MAX;
        while (end < block->n_items && end < room && block->item_lines[end] < next_bad)
            end++;
        if (chunk_append(pair->filling, block, item, end - item, base) != 0) {
            counts->lines = base + block->item_lines[item] + 1;
            fprintf(stderr, "pushbind import: out of memory at line %llu\n", (unsigned long long)counts->lines);
            return -1;
        }
        item = end;
        if (pair->filling->n == args->batch_size && chunk_rotate(args, writer, pair, progress, counts) != 0) {
            counts->lines = base + block->item_lines[item - 1] + 1;
            *store_failed = true;
            return -1;
        }
    }
    if (block->out_of_memory) {
        counts->lines = base + block->lines + 1;
        fprintf(stderr, "pushbind import: out of memory at line %llu\n", (unsigned long long)counts->lines);
        return -1;
    }
    counts->lines = base + block->lines;
    return 0;
}

/*
 * Reads every line of `fd` into the store: chunks fill in turn, one being
 * written while the other fills. Returns 0, or -1 when the store or the input
 * failed.
 */
static int import_stream(import_args *args, int fd, chunk_writer *writer, pb_progress *progress,
                         import_counts *counts)
{
    chunk_pair pair = {0};
    pair.filling = &pair.chunks[0];
    bool store_failed = false;
    int rc = 0;

    pb_import_reader *reader = pb_import_reader_start(fd, &args->api, args->format_given, args->format);
    if (reader == NULL) {
        fprintf(stderr, "pushbind import: cannot start the parser threads\n");
        return -1;
    }
    const pb_import_block *block;
    while (rc == 0 && (block = pb_import_reader_next(reader)) != NULL) {
        rc = merge_block(args, writer, &pair, block, progress, counts, &store_failed);
        pb_progress_update(progress, counts->lines, counts->bound, counts->bytes);
    }
    pb_import_read_end end = pb_import_reader_end(reader);
    pb_import_reader_stop(reader);
    /* Reading is over in seconds; writing the last chunks can take much longer. */
    if (!store_failed)
        pb_progress_show(progress, counts->lines, counts->bound, counts->bytes);
    if (!store_failed && pair.writing != NULL && chunk_collect(args, writer, pair.writing, progress, counts) != 0)
        store_failed = true;
    if (rc == 0 && end != PB_IMPORT_READ_EOF) {
        pb_progress_clear(progress);
        if (end == PB_IMPORT_READ_ERROR)
            fprintf(stderr, "pushbind import: read error in %s\n", args->file);
        else
            fprintf(stderr, "pushbind import: out of memory at line %llu\n", (unsigned long long)(counts->lines + 1));
        rc = -1;
    }
    /* What was read before a read error is still imported. */
    if (!store_failed && pair.filling->n != 0) {
        writer_submit(writer, pair.filling);
        store_failed = chunk_collect(args, writer, pair.filling, progress, counts) != 0;
    }
    if (store_failed)
        rc = -1;
    chunk_free(&pair.chunks[0]);
    chunk_free(&pair.chunks[1]);
    return rc;
}

static int run_import(import_args *args, pb_store_session *session, int fd, uint64_t total_bytes)
{
    /* An empty chunk checks that the app exists before any line is read. */
    switch (pb_lmdb_import_chunk(pb_store_session_lmdb(session), args->access_id, NULL, 0, NULL)) {
    case PB_STORE_OK: break;
    case PB_STORE_ENOTFOUND:
        fprintf(stderr, "pushbind: no app %llu (create it with 'pushbind app add')\n",
                (unsigned long long)args->access_id);
        return PB_EXIT_FAILURE;
    default:
        fprintf(stderr, "pushbind: cannot import: %s\n", pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
    chunk_writer writer;
    if (writer_start(&writer, args->access_id, session) != 0) {
        fprintf(stderr, "pushbind: cannot start the writer thread\n");
        return PB_EXIT_FAILURE;
    }
    pb_progress progress;
    import_counts counts = {0};
    pb_progress_start(&progress, "import", isatty(STDERR_FILENO), total_bytes);
    int rc = import_stream(args, fd, &writer, &progress, &counts);
    writer_stop(&writer);
    pb_progress_clear(&progress);
    double seconds = pb_progress_now() - progress.start;
    printf("%llu lines: %llu bound, %llu already present, %llu rejected in %.2f s (%.0f lines/s)\n",
           (unsigned long long)counts.lines, (unsigned long long)counts.bound, (unsigned long long)counts.present,
           (unsigned long long)counts.rejected, seconds, seconds > 0 ? (double)counts.lines / seconds : 0.0);
    return rc == 0 && counts.rejected == 0 ? PB_EXIT_OK : PB_EXIT_FAILURE;
}

int pb_cli_import(int argc, char **argv)
{
    import_args args = {
        .batch_size = PB_IMPORT_DEFAULT_BATCH,
        .map_size_mib = PB_DEFAULT_MAP_SIZE_MIB,
        .limits = {PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT},
    };
    pb_api_config_defaults(&args.api);
    bool help = false;
    int exit_code = parse_import_args(argc, argv, &args, &help);
    if (help) {
        fputs(import_usage, stdout);
        return PB_EXIT_OK;
    }
    if (exit_code != PB_EXIT_OK)
        return exit_code;

    bool use_stdin = strcmp(args.file, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(args.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pushbind: cannot open %s: %m\n", args.file);
        return PB_EXIT_FAILURE;
    }
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;

    exit_code = PB_EXIT_FAILURE;
    pb_store *store = pb_cli_open_store(args.data_dir, NULL, args.map_size_mib, &args.limits, NULL);
    pb_store_session *session = store != NULL ? pb_store_session_open(store) : NULL;
    if (store != NULL && session == NULL)
        fprintf(stderr, "pushbind: cannot open a store session\n");
    if (session != NULL)
        exit_code = run_import(&args, session, fd, total);
    pb_store_session_close(session);
    pb_store_close(store);
    if (!use_stdin)
        close(fd);
    return exit_code;
}
