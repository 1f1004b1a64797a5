/*
 * import_read.c — the block pipeline behind `pushbind import`: the caller's
 * thread reads and hands out, parser threads parse.
 *
 * The blocks are a ring of PB_IMPORT_BLOCKS slots numbered by three counters
 * that only grow: block k is in slot k % PB_IMPORT_BLOCKS; blocks below
 * `returned` are done with, those from `returned` to `read` are in flight,
 * and parsers take them in order at `parsed_next`. The caller alone moves
 * `read` and `returned` and touches a slot's input and the carried line; a
 * parser alone touches a slot it took until it marks the slot parsed. The
 * lock guards the counters and the slot states.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/validate.h"
#include "import/import.h"
#include "common/clock.h"
#include "common/codes.h"

/* Parser threads: one a core, and no more than this. */
#define MAX_PARSERS 8

/*
 * How long a block waits for more of a pipe's input once it holds a whole
 * line: long enough that a fast writer (cat, a decompressor) fills whole
 * blocks however it is scheduled, short enough that a slow one's lines are
 * judged at once to a person watching.
 */
#define PIPE_WAIT_NS 50000000u

typedef enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_PARSING, SLOT_PARSED } slot_state;

typedef struct slot {
    slot_state state;
    char *data; /* whole lines of input */
    size_t len, capacity;
    pb_import_format format;
    size_t header; /* the line to skip as a CSV header, or SIZE_MAX */
    pb_import_block parsed;
    size_t item_capacity, text_capacity, bad_capacity;
} slot;

struct pb_import_reader {
    int fd;
    const pb_api_config *api;
    bool format_given;    /* else the first non-blank line decides it */
    bool first_line_seen; /* the header check is done */
    pb_import_format format;
    char *carry; /* the partial line after the last block */
    size_t carry_len, carry_capacity;
    bool at_end;
    pb_import_read_end end;

    pthread_mutex_t lock;
    pthread_cond_t queued, parsed;
    bool stop;
    uint64_t read, parsed_next, returned;
    bool lent; /* block `returned` is with the caller */
    slot slots[PB_IMPORT_BLOCKS];
    pthread_t threads[MAX_PARSERS];
    size_t n_threads;
};

/*
 * Makes room for `need` elements of `size` bytes in `buf`, which holds
 * *capacity, by doubling. Returns the buffer, perhaps moved, or NULL (out of
 * memory) with `buf` as it was.
 */
static void *room_for(void *buf, size_t *capacity, size_t need, size_t size)
{
    if (need <= *capacity && buf != NULL)
        return buf;
    size_t n = *capacity == 0 ? 1024 : *capacity;
    while (n < need)
        n *= 2;
    void *bigger = realloc(buf, n * size);
    if (bigger != NULL)
        *capacity = n;
    return bigger;
}

/* The line at *at of data[0..len), without its newline; moves *at past it. */
static pb_str take_line(const char *data, size_t len, size_t *at)
{
    const char *text = data + *at, *newline = memchr(text, '\n', len - *at);
    pb_str line = {text, newline != NULL ? (size_t)(newline - text) : len - *at};
    *at += line.len + 1;
    return line;
}

static bool is_blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

/* ---- Reading (the caller's thread) ---------------------------------------- */

/*
 * Whether read(2) returns without waiting past `deadline` (pb_clock_ns):
 * at once for a file; for a pipe, once data or its end comes.
 */
static bool input_ready(int fd, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t now = pb_clock_ns();
    int ms = now < deadline ? (int)((deadline - now + 999999) / 1000000) : 0;
    return poll(&p, 1, ms) == 1;
}

/*
 * Reads the next block into `s`: the carried partial line, then input until
 * the block is full, the input ends, or it holds a whole line and no more
 * input comes within PIPE_WAIT_NS of the start. Cuts after the last newline
 * and carries the rest; at the end of the input everything is the block's.
 * Returns 0, or -1 with r->at_end and r->end set.
 */
static int block_fill(pb_import_reader *r, slot *s)
{
    uint64_t deadline = pb_clock_ns() + PIPE_WAIT_NS;
    size_t len = r->carry_len, cut = 0;
    char *data = room_for(s->data, &s->capacity, len > PB_IMPORT_BLOCK_BYTES ? 2 * len : PB_IMPORT_BLOCK_BYTES, 1);
    if (data == NULL)
        goto nomem;
    s->data = data;
    if (len != 0)
        memcpy(s->data, r->carry, len);
    for (;;) {
        if (len == s->capacity) {
            if (cut != 0)
                break;
            if ((data = room_for(s->data, &s->capacity, 2 * len, 1)) == NULL) /* a line longer than the block */
                goto nomem;
            s->data = data;
        }
        ssize_t got = read(r->fd, s->data + len, s->capacity - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            r->at_end = true;
            r->end = got == 0 ? PB_IMPORT_READ_EOF : PB_IMPORT_READ_ERROR;
            cut = len;
            break;
        }
        const char *newline = memrchr(s->data + len, '\n', (size_t)got);
        len += (size_t)got;
        if (newline != NULL)
            cut = (size_t)(newline - s->data) + 1;
        if (cut != 0 && !input_ready(r->fd, deadline))
            break;
    }
    if ((data = room_for(r->carry, &r->carry_capacity, len - cut, 1)) == NULL)
        goto nomem;
    r->carry = data;
    memcpy(r->carry, s->data + cut, len - cut);
    r->carry_len = len - cut;
    s->len = cut;
    return 0;
nomem:
    r->at_end = true;
    r->end = PB_IMPORT_READ_NOMEM;
    return -1;
}

/*
 * Gives `s` the format. The input's first non-blank line decides it when it
 * was not given, and is skipped when the format is CSV and it is a header,
 * whether the format was given or decided.
 */
static void block_decide_format(pb_import_reader *r, slot *s)
{
    s->header = SIZE_MAX;
    for (size_t at = 0, index = 0; !r->first_line_seen && at < s->len; index++) {
        pb_str line = take_line(s->data, s->len, &at);
        if (is_blank(line.base, line.len))
            continue;
        r->first_line_seen = true;
        if (!r->format_given)
            r->format = line.base[0] == '{' ? PB_IMPORT_NDJSON : PB_IMPORT_CSV;
        if (r->format == PB_IMPORT_CSV && pb_import_line_is_csv_header(line.base, line.len))
            s->header = index;
    }
    s->format = r->format;
}

/* ---- Parsing (the parser threads) ----------------------------------------- */

/* Judges one line by the API's rules. Returns NULL, or why it is refused. */
static const char *judge_line(const pb_api_config *api, pb_import_format format, const char *text, size_t len,
                              pb_import_line *line)
{
    const char *reason = pb_import_line_parse(format, text, len, line);
    if (reason != NULL)
        return reason;
    if (pb_validate_token(api, &line->token) != PB_OK)
        return "invalid token (printable ASCII, 1 to --max-token-bytes bytes)";
    if (line->is_tag) {
        pb_token_item tag = {line->account.account.name, line->account.well_typed};
        return pb_validate_tag(api, &tag) == PB_OK
                   ? NULL
                   : "invalid tag (1 to --max-tag-chars characters of UTF-8, no control characters, no leading or "
                     "trailing space)";
    }
    if (pb_validate_account(api, &line->account) != PB_OK)
        return "invalid account (UTF-8 without control characters, 1 to --max-account-bytes bytes)";
    return NULL;
}

static int add_item(slot *s, const pb_import_line *line, size_t index)
{
    pb_import_block *b = &s->parsed;
    pb_str token = line->token.token, account = line->account.account.name;
    if (b->n_items == s->item_capacity) {
        /* Three arrays in step: each one grown stays grown if a later one fails. */
        size_t n = s->item_capacity == 0 ? 1024 : 2 * s->item_capacity;
        pb_import_item *items = realloc(b->items, n * sizeof(*items));
        if (items == NULL)
            return -1;
        b->items = items;
        size_t *offsets = realloc(b->offsets, n * sizeof(*offsets));
        if (offsets == NULL)
            return -1;
        b->offsets = offsets;
        size_t *lines = realloc(b->item_lines, n * sizeof(*lines));
        if (lines == NULL)
            return -1;
        b->item_lines = lines;
        s->item_capacity = n;
    }
    char *text = room_for(b->text, &s->text_capacity, b->text_len + token.len + account.len, 1);
    if (text == NULL)
        return -1;
    b->text = text;
    b->offsets[b->n_items] = b->text_len;
    memcpy(b->text + b->text_len, token.base, token.len);
    memcpy(b->text + b->text_len + token.len, account.base, account.len);
    b->text_len += token.len + account.len;
    b->item_lines[b->n_items] = index;
    b->items[b->n_items++] = (pb_import_item){
        .token = {NULL, token.len},
        .account = {{NULL, account.len}, line->account.account.type},
        .times = line->times,
        .platform = line->platform,
        .is_tag = line->is_tag,
    };
    return 0;
}

static int add_bad(slot *s, const char *reason, size_t index)
{
    pb_import_block *b = &s->parsed;
    pb_import_bad_line *bad = room_for(b->bad, &s->bad_capacity, b->n_bad + 1, sizeof(*b->bad));
    if (bad == NULL)
        return -1;
    b->bad = bad;
    b->bad[b->n_bad++] = (pb_import_bad_line){index, reason};
    return 0;
}

static void block_parse(const pb_api_config *api, slot *s, pb_import_line *line)
{
    pb_import_block *b = &s->parsed;
    b->lines = b->n_items = b->text_len = b->n_bad = 0;
    b->bytes = s->len;
    b->out_of_memory = false;
    for (size_t at = 0; at < s->len; b->lines++) {
        pb_str text = take_line(s->data, s->len, &at);
        if (is_blank(text.base, text.len) || b->lines == s->header)
            continue;
        const char *reason = judge_line(api, s->format, text.base, text.len, line);
        if ((reason != NULL ? add_bad(s, reason, b->lines) : add_item(s, line, b->lines)) != 0) {
            b->out_of_memory = true;
            return;
        }
    }
}

static void *parser_main(void *arg)
{
    pb_import_reader *r = arg;
    pb_import_line line; /* about 10 KiB: one a thread, reused for every line */
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stop && r->parsed_next == r->read)
            pthread_cond_wait(&r->queued, &r->lock);
        if (r->stop)
            break;
        slot *s = &r->slots[r->parsed_next++ % PB_IMPORT_BLOCKS];
        s->state = SLOT_PARSING;
        pthread_mutex_unlock(&r->lock);
        block_parse(r->api, s, &line);
        pthread_mutex_lock(&r->lock);
        s->state = SLOT_PARSED;
        pthread_cond_signal(&r->parsed);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- The caller's side ---------------------------------------------------- */

pb_import_reader *pb_import_reader_start(int fd, const pb_api_config *api, bool format_given,
                                         pb_import_format format)
{
    pb_import_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->fd = fd;
    r->api = api;
    r->format_given = format_given;
    r->format = format;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->queued, NULL);
    pthread_cond_init(&r->parsed, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cores < 1 ? 1 : cores > MAX_PARSERS ? MAX_PARSERS : (size_t)cores;
    while (r->n_threads < want && pthread_create(&r->threads[r->n_threads], NULL, parser_main, r) == 0)
        r->n_threads++;
    if (r->n_threads == want)
        return r;
    pb_import_reader_stop(r);
    return NULL;
}

const pb_import_block *pb_import_reader_next(pb_import_reader *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->lent) {
        r->slots[r->returned++ % PB_IMPORT_BLOCKS].state = SLOT_FREE;
        r->lent = false;
    }
    for (;;) {
        slot *oldest = &r->slots[r->returned % PB_IMPORT_BLOCKS];
        if (r->returned < r->read && oldest->state == SLOT_PARSED) {
            r->lent = true;
            pthread_mutex_unlock(&r->lock);
            return &oldest->parsed;
        }
        bool in_flight = r->returned < r->read;
        if (!r->at_end && r->read - r->returned < PB_IMPORT_BLOCKS) {
            slot *s = &r->slots[r->read % PB_IMPORT_BLOCKS];
            pthread_mutex_unlock(&r->lock);
            /* With blocks in flight, a slow pipe must not hold them back. */
            bool ready = !in_flight || input_ready(r->fd, pb_clock_ns() + PIPE_WAIT_NS);
            bool filled = ready && block_fill(r, s) == 0 && s->len != 0;
            if (filled)
                block_decide_format(r, s);
            pthread_mutex_lock(&r->lock);
            if (filled) {
                s->state = SLOT_QUEUED;
                r->read++;
                pthread_cond_signal(&r->queued);
            }
            if (ready || oldest->state == SLOT_PARSED)
                continue;
        }
        if (!in_flight) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        pthread_cond_wait(&r->parsed, &r->lock);
    }
}

pb_import_read_end pb_import_reader_end(const pb_import_reader *r)
{
    return r->end;
}

void pb_import_reader_stop(pb_import_reader *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->queued);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i], NULL);
    for (size_t i = 0; i < PB_IMPORT_BLOCKS; i++) {
        slot *s = &r->slots[i];
        free(s->data);
        free(s->parsed.items);
        free(s->parsed.offsets);
        free(s->parsed.item_lines);
        free(s->parsed.text);
        free(s->parsed.bad);
    }
    free(r->carry);
    pthread_cond_destroy(&r->parsed);
    pthread_cond_destroy(&r->queued);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
