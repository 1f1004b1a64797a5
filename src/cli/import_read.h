/*
 * import_read.h — an import file read in blocks and parsed on every core.
 *
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
 * NDJSON when it starts with '{', otherwise CSV, and then that line is
 * skipped when it is a header (pb_import_line_is_csv_header). A given format
 * skips no header.
 */
#ifndef PB_IMPORT_READ_H
#define PB_IMPORT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "cli/import_line.h"
#include "store/lmdb_tools.h"

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
 * pb_lmdb_import_chunk() takes except for the string pointers, which are
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
