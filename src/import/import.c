/*
 * import.c — pb_import_run(): parsed blocks gathered into chunks, each chunk
 * written to the store by a thread of its own while the next one fills.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hugepages.h"
#include "import/import.h"
#include "store/postgres/tools.h"

/*
 * The store a chunk goes to: the embedded store's tool or PostgreSQL's, which
 * keep one contract (store/lmdb/tools.h, store/postgres/tools.h).
 */
typedef struct import_store {
    void *tool;
    int (*chunk)(void *tool, uint64_t access_id, const pb_import_item *items, size_t n, pb_import_outcome *outcomes);
    int (*tags)(void *tool, uint64_t access_id, const pb_import_item *items, size_t n, uint32_t max_tags_per_token,
                uint32_t max_tags_per_app, pb_import_outcome *outcomes);
    pb_import_progress (*progress)(const void *tool);
    const char *(*error)(const void *tool);
    void (*close)(void *tool);
} import_store;

static int lmdb_chunk(void *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                      pb_import_outcome *outcomes)
{
    return pb_lmdb_import_chunk(tool, access_id, items, n, outcomes);
}
static int lmdb_tags(void *tool, uint64_t access_id, const pb_import_item *items, size_t n, uint32_t per_token,
                     uint32_t per_app, pb_import_outcome *outcomes)
{
    return pb_lmdb_import_tags(tool, access_id, items, n, per_token, per_app, outcomes);
}
static pb_import_progress lmdb_progress(const void *tool) { return pb_lmdb_import_progress(tool); }
static const char *lmdb_error(const void *tool) { return pb_lmdb_tool_error(tool); }
static void lmdb_close(void *tool) { pb_lmdb_tool_close(tool); }

static int pg_chunk(void *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                    pb_import_outcome *outcomes)
{
    return pb_pg_import_chunk(tool, access_id, items, n, outcomes);
}
static int pg_tags(void *tool, uint64_t access_id, const pb_import_item *items, size_t n, uint32_t per_token,
                   uint32_t per_app, pb_import_outcome *outcomes)
{
    return pb_pg_import_tags(tool, access_id, items, n, per_token, per_app, outcomes);
}
static pb_import_progress pg_progress(const void *tool) { return pb_pg_import_progress(tool); }
static const char *pg_error(const void *tool) { return pb_pg_tool_error(tool); }
static void pg_close(void *tool) { pb_pg_tool_close(tool); }

/* Opens the store config names (store_url, else data_dir). Returns 0, or -1 with *err malloc'ed. */
static int import_store_open(const pb_import_config *config, import_store *store, char **err)
{
    if (config->store_url != NULL) {
        *store = (import_store){pb_pg_tool_open(config->store_url, &config->limits, err), pg_chunk, pg_tags,
                                pg_progress,
                                pg_error, pg_close};
    } else {
        pb_lmdb_tool_config lmdb = {.data_dir = config->data_dir, .map_size = config->map_size,
                                    .limits = config->limits};
        *store = (import_store){pb_lmdb_tool_open(&lmdb, err), lmdb_chunk, lmdb_tags, lmdb_progress, lmdb_error,
                                lmdb_close};
    }
    return store->tool != NULL ? 0 : -1;
}

static const char *outcome_reason(pb_import_outcome outcome)
{
    switch (outcome) {
    case PB_IMPORT_TOKEN_FULL: return "the token already has --max-accounts-per-token accounts";
    case PB_IMPORT_ACCOUNT_FULL: return "the account already has --max-tokens-per-account tokens";
    case PB_IMPORT_TOO_LONG: return "token or account too long for the store";
    case PB_IMPORT_TAG_TOKEN_FULL: return "the token already has --max-tags-per-token tags";
    case PB_IMPORT_TAG_APP_FULL: return "the app already has --max-tags-per-app tags";
    case PB_IMPORT_TAG_NO_SPACE: return "the store is full";
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
 * tool is used by this thread only once it has started.
 */
typedef struct chunk_writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pending_chunk *chunk; /* handed over; NULL once written */
    bool stop;
    int rc; /* of the last chunk written */
    uint64_t access_id;
    const import_store *store;
    const pb_api_config *api; /* the tag limits */
} chunk_writer;

/*
 * The chunk's bindings through the store's bulk load, then its tag lines as
 * op 9 would add them; each outcome keeps its line's place. Returns as the
 * store's chunk function.
 */
static int store_chunk(chunk_writer *w, pending_chunk *chunk)
{
    const import_store *store = w->store;
    size_t n = chunk->n, n_tags = 0, b = 0, t;
    for (size_t i = 0; i < n; i++)
        n_tags += chunk->items[i].is_tag;
    if (n_tags == 0)
        return store->chunk(store->tool, w->access_id, chunk->items, n, chunk->outcomes);
    pb_import_item *split = malloc(n * sizeof(*split));
    pb_import_outcome *outcomes = malloc(n * sizeof(*outcomes));
    int rc = split != NULL && outcomes != NULL ? 0 : PB_STORE_EIO;
    t = n - n_tags;
    for (size_t i = 0; rc == 0 && i < n; i++)
        split[chunk->items[i].is_tag ? t++ : b++] = chunk->items[i];
    if (rc == 0 && b != 0)
        rc = store->chunk(store->tool, w->access_id, split, b, outcomes);
    if (rc == 0)
        rc = store->tags(store->tool, w->access_id, split + b, n_tags, w->api->max_tags_per_token,
                         w->api->max_tags_per_app, outcomes + b);
    t = b;
    b = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        chunk->outcomes[i] = outcomes[chunk->items[i].is_tag ? t++ : b++];
    free(split);
    free(outcomes);
    return rc;
}

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
        int rc = store_chunk(w, chunk);
        pthread_mutex_lock(&w->lock);
        w->rc = rc;
        w->chunk = NULL;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int writer_start(chunk_writer *w, uint64_t access_id, const import_store *store, const pb_api_config *api)
{
    *w = (chunk_writer){.access_id = access_id, .store = store, .api = api};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* writer_wait's reports keep their pace */
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, &attr);
    pthread_condattr_destroy(&attr);
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

static void report_line(const pb_import_observer *observer, uint64_t line, const char *reason)
{
    if (observer->refused != NULL)
        observer->refused(observer->arg, line, reason);
}

/* Tells the observer why the import stops; `format` is printf's. */
static void report_failure(const pb_import_observer *observer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void report_failure(const pb_import_observer *observer, const char *format, ...)
{
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    if (observer->failed != NULL)
        observer->failed(observer->arg, message);
}

/* Reports the counts and how far the store has come with the chunk in hand. */
static void report_progress(const pb_import_observer *observer, const chunk_writer *writer, pb_import_counts *counts,
                            bool waiting)
{
    counts->store = writer->store->progress(writer->store->tool);
    if (observer->progress != NULL)
        observer->progress(observer->arg, counts, waiting);
}

/*
 * Waits for the chunk in hand to be written, reporting progress every
 * PB_IMPORT_STORE_REPORT_MS meanwhile (a chunk of millions takes seconds);
 * returns the store's chunk code.
 */
static int writer_wait(chunk_writer *w, const pb_import_observer *observer, pb_import_counts *counts, bool waiting)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    pthread_mutex_lock(&w->lock);
    while (w->chunk != NULL) {
        deadline.tv_nsec += PB_IMPORT_STORE_REPORT_MS * 1000000L;
        deadline.tv_sec += deadline.tv_nsec / 1000000000L;
        deadline.tv_nsec %= 1000000000L;
        while (w->chunk != NULL && pthread_cond_timedwait(&w->changed, &w->lock, &deadline) != ETIMEDOUT)
            ;
        if (w->chunk != NULL) {
            pthread_mutex_unlock(&w->lock);
            report_progress(observer, w, counts, waiting);
            pthread_mutex_lock(&w->lock);
        }
    }
    int rc = w->rc;
    pthread_mutex_unlock(&w->lock);
    counts->store = (pb_import_progress){PB_IMPORT_IDLE, 0, 0};
    return rc;
}

/*
 * Waits for `chunk` to be written, reports its refused lines and empties it.
 * Returns 0, or -1 when the store failed.
 */
static int chunk_collect(const pb_import_config *args, chunk_writer *writer, pending_chunk *chunk, const pb_import_observer *observer,
                         pb_import_counts *counts, bool waiting)
{
    int rc = writer_wait(writer, observer, counts, waiting);
    if (rc != PB_STORE_OK) {
        if (rc == PB_STORE_ENOTFOUND)
            report_failure(observer, "app %llu was removed", (unsigned long long)args->access_id);
        else
            report_failure(observer, "store failed: %s (lines before line %llu stay imported)",
                           writer->store->error(writer->store->tool), (unsigned long long)chunk->lines[0]);
        return -1;
    }
    for (size_t i = 0; i < chunk->n; i++) {
        const char *reason = outcome_reason(chunk->outcomes[i]);
        counts->bound += chunk->outcomes[i] == PB_IMPORT_BOUND;
        counts->present += chunk->outcomes[i] == PB_IMPORT_PRESENT;
        if (reason != NULL) {
            counts->rejected++;
            report_line(observer, chunk->lines[i], reason);
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
static int chunk_rotate(const pb_import_config *args, chunk_writer *writer, chunk_pair *pair, const pb_import_observer *observer,
                        pb_import_counts *counts)
{
    if (pair->writing != NULL && chunk_collect(args, writer, pair->writing, observer, counts, false) != 0)
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
static int merge_block(const pb_import_config *args, chunk_writer *writer, chunk_pair *pair, const pb_import_block *block,
                       const pb_import_observer *observer, pb_import_counts *counts, bool *store_failed)
{
    uint64_t base = counts->lines;
    size_t item = 0, bad = 0;
    counts->bytes += block->bytes;
    while (item < block->n_items || bad < block->n_bad) {
        if (bad < block->n_bad && (item == block->n_items || block->bad[bad].line < block->item_lines[item])) {
            counts->rejected++;
            report_line(observer, base + block->bad[bad].line + 1, block->bad[bad].reason);
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
            report_failure(observer, "out of memory at line %llu", (unsigned long long)counts->lines);
            return -1;
        }
        item = end;
        if (pair->filling->n == args->batch_size && chunk_rotate(args, writer, pair, observer, counts) != 0) {
            counts->lines = base + block->item_lines[item - 1] + 1;
            *store_failed = true;
            return -1;
        }
    }
    if (block->out_of_memory) {
        counts->lines = base + block->lines + 1;
        report_failure(observer, "out of memory at line %llu", (unsigned long long)counts->lines);
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
static int import_stream(const pb_import_config *args, int fd, chunk_writer *writer, const pb_import_observer *observer,
                         pb_import_counts *counts)
{
    chunk_pair pair = {0};
    pair.filling = &pair.chunks[0];
    bool store_failed = false;
    int rc = 0;

    pb_import_reader *reader = pb_import_reader_start(fd, &args->api, args->format_given, args->format);
    if (reader == NULL) {
        report_failure(observer, "cannot start the parser threads");
        return -1;
    }
    const pb_import_block *block;
    while (rc == 0 && (block = pb_import_reader_next(reader)) != NULL) {
        rc = merge_block(args, writer, &pair, block, observer, counts, &store_failed);
        report_progress(observer, writer, counts, false);
    }
    pb_import_read_end end = pb_import_reader_end(reader);
    pb_import_reader_stop(reader);
    /* Reading is over in seconds; writing the last chunks can take much longer. */
    if (!store_failed)
        report_progress(observer, writer, counts, true);
    if (!store_failed && pair.writing != NULL && chunk_collect(args, writer, pair.writing, observer, counts, true) != 0)
        store_failed = true;
    if (rc == 0 && end != PB_IMPORT_READ_EOF) {
        if (end == PB_IMPORT_READ_ERROR)
            report_failure(observer, "read error in %s", args->input_name);
        else
            report_failure(observer, "out of memory at line %llu", (unsigned long long)(counts->lines + 1));
        rc = -1;
    }
    /* What was read before a read error is still imported. */
    if (!store_failed && pair.filling->n != 0) {
        writer_submit(writer, pair.filling);
        store_failed = chunk_collect(args, writer, pair.filling, observer, counts, true) != 0;
    }
    if (store_failed)
        rc = -1;
    chunk_free(&pair.chunks[0]);
    chunk_free(&pair.chunks[1]);
    return rc;
}

int pb_import_run(const pb_import_config *config, int fd, const pb_import_observer *observer,
                  pb_import_counts *counts)
{
    *counts = (pb_import_counts){0};
    char *err = NULL;
    import_store store;
    if (import_store_open(config, &store, &err) != 0) {
        report_failure(observer, "cannot open the store %s %s: %s", config->store_url != NULL ? "at" : "in",
                       config->store_url != NULL ? config->store_url : config->data_dir, err);
        free(err);
        return -1;
    }
    /* An empty chunk checks that the app exists before any line is read. */
    int rc = store.chunk(store.tool, config->access_id, NULL, 0, NULL);
    if (rc != PB_STORE_OK) {
        if (rc != PB_STORE_ENOTFOUND)
            report_failure(observer, "cannot import: %s", store.error(store.tool));
        store.close(store.tool);
        return rc == PB_STORE_ENOTFOUND ? PB_STORE_ENOTFOUND : -1;
    }
    chunk_writer writer;
    if (writer_start(&writer, config->access_id, &store, &config->api) != 0) {
        report_failure(observer, "cannot start the writer thread");
        store.close(store.tool);
        return -1;
    }
    rc = import_stream(config, fd, &writer, observer, counts);
    writer_stop(&writer);
    store.close(store.tool);
    return rc;
}
