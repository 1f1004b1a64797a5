/*
 * import/import.h — `pushbind import`'s engine: bindings from an NDJSON or CSV
 * file straight into the embedded store or PostgreSQL, in large transactions, under the
 * API's rules. The command line (cli/import.c) parses flags and calls
 * pb_import_run(); the pieces below it are public for their tests and fuzz
 * targets.
 *
 *   pb_import_run()        the whole import: reader → chunks → store
 *   pb_import_reader_*()   the input read in blocks and parsed on every core
 *   pb_import_line_parse() one line into a binding
 *
 * Outcomes: the store says what it did with each binding in its own terms
 * (pb_import_outcome, store/lmdb/tools.h); this module turns them into the
 * reasons a refused line is reported with.
 */
#ifndef PB_IMPORT_H
#define PB_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/messages.h"
#include "store/lmdb/tools.h"

/* ---- The whole import --------------------------------------------------- */

/*
 * Lines per transaction. A chunk is sorted and written in key order, so each
 * page of the store is written about once per chunk: with random tokens,
 * every chunk rewrites most of the store. Measured on 10 million lines
 * (scripts/bench-import.sh): one chunk took 10 s and left a 1.66 GB file;
 * chunks of 1 million took 31 s and left 6.4 GB (pages freed by each
 * rewrite stay in the file for reuse). A chunk holds about 200 bytes a line
 * in memory, and two are in memory at once (one parsed while the other is
 * written). A server sharing the store waits for its writes while a chunk is
 * written: a live import wants smaller chunks.
 */
#define PB_IMPORT_DEFAULT_BATCH 10000000

typedef enum pb_import_format {
    PB_IMPORT_NDJSON,
    PB_IMPORT_CSV,
} pb_import_format;

typedef struct pb_import_config {
    const char *data_dir;   /* the embedded store, when store_url is NULL */
    const char *store_url;  /* a postgresql:// store (store/postgres/tools.h), or NULL */
    const char *input_name; /* for messages: the file's name */
    uint64_t map_size;      /* bytes, as pb_store_config's */
    uint64_t access_id;     /* the app; it must exist */
    uint64_t batch_size;    /* lines per transaction */
    bool format_given;      /* else decided by the first non-blank line */
    pb_import_format format;
    pb_api_config api;      /* judges every line as the API would */
    pb_store_limits limits; /* enforced by the store */
} pb_import_config;

typedef struct pb_import_counts {
    uint64_t lines, bound, present, rejected;
    uint64_t bytes; /* of input read so far */
    pb_import_progress store; /* the chunk being stored, when progress is reported (IDLE: none) */
} pb_import_counts;

/*
 * What the import tells its caller as it goes, on the calling thread. Every
 * callback may be NULL.
 *   refused   a line that was not bound (its number from 1, and why), in
 *             line order within a chunk
 *   progress  after each block read, and every PB_IMPORT_STORE_REPORT_MS
 *             while the reading waits for the store to finish a chunk;
 *             `waiting` is true while nothing more is read and the store is
 *             writing the last chunks
 *   failed    why the import stopped early (store, input or memory), once
 */
#define PB_IMPORT_STORE_REPORT_MS 200

typedef struct pb_import_observer {
    void (*refused)(void *arg, uint64_t line, const char *reason);
    void (*progress)(void *arg, const pb_import_counts *counts, bool waiting);
    void (*failed)(void *arg, const char *message);
    void *arg;
} pb_import_observer;

/*
 * Opens the store (config->store_url, else config->data_dir), reads every line of `fd` (a file or a
 * pipe; not closed) and binds each valid one to app config->access_id as an
 * append of one account, in file order; *counts says what became of the
 * lines. Runs a reader, its parser threads and one writer thread: one chunk
 * is written while the next is parsed.
 *
 * Returns 0 when the whole input was read and stored (lines may still have
 * been refused: counts->rejected), PB_STORE_ENOTFOUND when the app does not
 * exist (nothing read), or -1 when the store, the input or memory failed
 * (observer->failed said why; what was committed before stays).
 */
int pb_import_run(const pb_import_config *config, int fd, const pb_import_observer *observer,
                  pb_import_counts *counts);

/* ---- One line ------------------------------------------------------------ */

/*
 * Two formats, one binding a line:
 *   NDJSON  {"token":"…","account":"…","account_type":N}   (account_type optional, default 0;
 *                                                         other keys ignored)
 *           {"token":"…","tag":"…"}                        a tag line, as export writes them
 *   CSV     token,account[,account_type]                 (RFC 4180 quoting: "a,b" and "a""b")
 *
 * Parsing judges the shape only (types, a field present). The values are
 * judged afterwards by the API's own rules (api/validate.h), so a line is
 * accepted exactly when the same binding would be accepted over HTTP.
 */

/*
 * Room for a field: longer ones are cut here and then fail validation, since
 * no limit the flags allow reaches it.
 */
#define PB_IMPORT_FIELD_MAX 1024

/*
 * Room for yajl's own memory while it parses one line: its handle, stack and
 * buffers take about 2.5 KiB for a usual line, so a line costs no malloc.
 * What does not fit (deep nesting, long escaped strings) comes from malloc
 * and is freed before the parse returns.
 */
#define PB_IMPORT_ARENA_BYTES 8192

/*
 * A parsed line. A field written in the line as it is (no quotes or escapes
 * to resolve) points into the parsed text; one that had them points into the
 * struct's own buffers. Either way token and account live as long as both
 * the text and the struct, until the next parse. The struct needs no setup
 * and holds nothing to free; it is large (about 10 KiB), so reuse one.
 */
typedef struct pb_import_line {
    pb_token_item token;
    pb_account_item account;
    pb_binding_times times; /* 0: not on the line (the import's own time) */
    pb_platform platform;   /* NONE: not on the line */
    bool is_tag;            /* {"token": …, "tag": …}: account.account.name holds the tag (NDJSON only) */
    char token_buf[PB_IMPORT_FIELD_MAX];
    char account_buf[PB_IMPORT_FIELD_MAX];
    max_align_t arena[PB_IMPORT_ARENA_BYTES / sizeof(max_align_t)]; /* yajl's memory during a parse (line.c) */
} pb_import_line;

/*
 * Parses `text` (one line without its newline; a trailing CR is ignored).
 * Returns NULL on success, or a short reason ("not a JSON object",
 * "missing token", …) naming what is wrong with the line's shape.
 * Thread-safe: it touches nothing but `text` and `line`.
 */
const char *pb_import_line_parse(pb_import_format format, const char *text, size_t len, pb_import_line *line);

/*
 * Whether a CSV line is the header "token,account[,account_type[,bind_time[,
 * last_bind_time[,platform]]]]" (any case).
 */
bool pb_import_line_is_csv_header(const char *text, size_t len);

/* ---- The input, in blocks ----------------------------------------------- */

/*
 * The caller's thread reads the input (a file or a pipe alike, with read(2))
 * in blocks of PB_IMPORT_BLOCK_BYTES, each cut after its last newline; the
 * partial line after it starts the next block, and a line longer than a
 * block grows the block. Parser threads, one a core, judge the lines of
 * whichever block is next (pb_import_line_parse, then the API's validation),
 * and the caller takes the blocks back, parsed, strictly in input order. At
 * most PB_IMPORT_BLOCKS blocks are in memory, whatever the input's size.
 *
 * Lines are split as getline(3) splits them: each ends at '\n', a final line
 * without one counts, and a line of spaces, tabs and CRs only is blank: it
 * counts as a line and yields nothing.
 *
 * The format is the one given, or else decided by the first non-blank line:
 * NDJSON when it starts with '{', otherwise CSV. In CSV, given or decided,
 * that first line is skipped when it is a header
 * (pb_import_line_is_csv_header).
 */

/*
 * Input bytes read at a time. Large enough that handing a block over costs
 * nothing next to parsing it (about 40,000 lines), small enough that the
 * blocks in flight stay a few tens of MiB.
 */
#define PB_IMPORT_BLOCK_BYTES (2u << 20)

/* Blocks in memory at once: being read, queued, parsed, or with the caller. */
#define PB_IMPORT_BLOCKS 8

/* A line refused before it reaches the store. */
typedef struct pb_import_bad_line {
    size_t line;        /* in the block, from 0 */
    const char *reason; /* static text, e.g. "missing token" */
} pb_import_bad_line;

/*
 * One block, parsed. Its valid lines are items, in line order, in the form
 * pb_lmdb_import_chunk() (store/lmdb/tools.h) takes except for the string pointers, which are
 * NULL: the token of items[i] is at text + offsets[i] and its account right
 * after it, and it is line item_lines[i] of the block (from 0). The bad
 * lines are in line order too.
 */
typedef struct pb_import_block {
    uint64_t lines; /* every line of the block, blank and skipped ones too */
    uint64_t bytes; /* of input, newlines included */
    pb_import_item *items;
    size_t *offsets;
    size_t *item_lines;
    size_t n_items;
    char *text;
    size_t text_len;
    pb_import_bad_line *bad;
    size_t n_bad;
    /*
     * No memory to keep line `lines` of the block: parsing stopped there, so
     * items and bad lines cover the lines before it only.
     */
    bool out_of_memory;
} pb_import_block;

/* Why pb_import_reader_next() returned NULL. */
typedef enum pb_import_read_end {
    PB_IMPORT_READ_EOF,   /* the whole input was read */
    PB_IMPORT_READ_ERROR, /* read(2) failed; the blocks before cover what was read */
    PB_IMPORT_READ_NOMEM, /* no memory for the next block (a line too long to hold) */
} pb_import_read_end;

typedef struct pb_import_reader pb_import_reader;

/*
 * Starts reading `fd` and the parser threads. `api` judges the values and
 * must outlive the reader; `format_given` says whether `format` was given or
 * is to be decided. Nothing is read before the first pb_import_reader_next().
 * Returns NULL when memory or threads are short. The reader does not close
 * `fd`.
 */
pb_import_reader *pb_import_reader_start(int fd, const pb_api_config *api, bool format_given,
                                         pb_import_format format);

/*
 * The next block of the input, parsed, in input order: together the blocks
 * cover every byte. Reads as needed, and may block on the input or on the
 * parsers. On a pipe a block also ends when no more input comes for a
 * moment (50 ms), so a slow writer's lines are not held back. The block is the caller's until the
 * next call or pb_import_reader_stop(). Returns NULL at the end: see
 * pb_import_reader_end(). One thread only calls it.
 */
const pb_import_block *pb_import_reader_next(pb_import_reader *reader);

/* Why the blocks ended; meaningful once pb_import_reader_next() returned NULL. */
pb_import_read_end pb_import_reader_end(const pb_import_reader *reader);

/*
 * Stops the parser threads, at any point (parsing in flight is dropped), and
 * frees the reader and its blocks. NULL is allowed.
 */
void pb_import_reader_stop(pb_import_reader *reader);

#endif
