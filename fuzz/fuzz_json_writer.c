/*
 * fuzz_json_writer.c — libFuzzer target for the JSON writer
 * (common/json_writer.h): random values written, the text parsed back with
 * yajl, the same values read.
 *
 * Input: a program of bytes. The top level is an array; each value is chosen
 * by a byte (object, array, string, int64, uint64, integer as a string,
 * bool) and takes its contents from the bytes after it: a count of members
 * or elements, a key (one of the callers' literal keys, or random bytes
 * through pb_json_key()), a string's length and bytes, 8 bytes of an integer.
 * Strings are made valid UTF-8 first (a byte that starts no valid sequence
 * loses its high bit), as the writer's callers guarantee; control
 * characters, quotes and backslashes stay. Every value written is recorded;
 * yajl's callbacks must then meet the same values in the same order, and
 * the parse must end where the text does. Any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "common/json_writer.h"
#include "common/utf8.h"

#define CHECK(cond)        \
    do {                   \
        if (!(cond))       \
            abort();       \
    } while (0)

/* Deep enough for every shape the callers write (4), shallow enough for yajl's stack and the fuzzer's speed. */
#define MAX_DEPTH 12
#define MAX_VALUES 2000
#define MAX_COUNT 8

typedef enum kind { OBJECT_OPEN, OBJECT_CLOSE, ARRAY_OPEN, ARRAY_CLOSE, KEY, STRING, INT, UINT, BOOL } kind;

typedef struct event {
    kind kind;
    pb_str text; /* KEY, STRING */
    int64_t i;   /* INT, BOOL */
    uint64_t u;  /* UINT */
} event;

typedef struct program {
    const uint8_t *data;
    size_t size, at;
    pb_pool *pool;
    pb_json_writer *w;
    event *events;
    size_t n, values;
} program;

typedef struct reader {
    const event *events;
    size_t n, next;
} reader;

static uint8_t next_byte(program *p)
{
    return p->at < p->size ? p->data[p->at++] : 0;
}

static uint64_t next_u64(program *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | next_byte(p);
    return v;
}

static event *record(program *p, kind k)
{
    CHECK(p->n < 4 * MAX_VALUES);
    p->events[p->n] = (event){.kind = k};
    return &p->events[p->n++];
}

/* A string of the program's bytes, made valid UTF-8, in the pool. */
static pb_str next_string(program *p)
{
    size_t len = next_byte(p);
    if (len == 255)
        len = (size_t)next_byte(p) << 4; /* up to 4 KiB: past the first buffer */
    if (len > p->size - p->at)
        len = p->size - p->at;
    unsigned char *s = pb_pool_alloc(p->pool, len);
    memcpy(s, p->data + p->at, len);
    p->at += len;
    for (size_t i = 0; i < len;) {
        size_t n = pb_utf8_sequence_length(s + i, len - i);
        if (n == 0)
            s[i] &= 0x7f;
        i += n != 0 ? n : 1;
    }
    return (pb_str){(const char *)s, len};
}

static void write_key(program *p)
{
    event *e = record(p, KEY);
    switch (next_byte(p) % 4) {
    case 0:
        PB_JSON_KEY(p->w, "token");
        e->text = PB_STR_LIT("token");
        break;
    case 1:
        PB_JSON_KEY(p->w, "account_type");
        e->text = PB_STR_LIT("account_type");
        break;
    default:
        e->text = next_string(p);
        pb_json_key(p->w, e->text);
    }
}

static void write_value(program *p, int depth)
{
    p->values++;
    uint8_t choice = next_byte(p) % 7;
    if (depth >= MAX_DEPTH && choice <= 1)
        choice = 2;
    switch (choice) {
    case 0: {
        pb_json_object_open(p->w);
        record(p, OBJECT_OPEN);
        size_t count = next_byte(p) % MAX_COUNT;
        for (size_t i = 0; i < count && p->values < MAX_VALUES; i++) {
            write_key(p);
            write_value(p, depth + 1);
        }
        pb_json_object_close(p->w);
        record(p, OBJECT_CLOSE);
        break;
    }
    case 1: {
        pb_json_array_open(p->w);
        record(p, ARRAY_OPEN);
        size_t count = next_byte(p) % MAX_COUNT;
        for (size_t i = 0; i < count && p->values < MAX_VALUES; i++)
            write_value(p, depth + 1);
        pb_json_array_close(p->w);
        record(p, ARRAY_CLOSE);
        break;
    }
    case 2: {
        event *e = record(p, STRING);
        e->text = next_string(p);
        pb_json_string(p->w, e->text);
        break;
    }
    case 3: {
        event *e = record(p, INT);
        e->i = (int64_t)next_u64(p);
        pb_json_int(p->w, e->i);
        break;
    }
    case 4: {
        event *e = record(p, UINT);
        e->u = next_u64(p);
        pb_json_uint(p->w, e->u);
        break;
    }
    case 5: { /* read back as the string of its digits */
        int64_t v = (int64_t)next_u64(p);
        char *digits = pb_pool_alloc(p->pool, PB_DECIMAL_MAX);
        event *e = record(p, STRING);
        e->text = (pb_str){digits, (size_t)(pb_put_i64(digits, v) - digits)};
        pb_json_int_string(p->w, v);
        break;
    }
    default: {
        event *e = record(p, BOOL);
        e->i = next_byte(p) & 1;
        pb_json_bool(p->w, e->i != 0);
    }
    }
}

static const event *expect(void *ctx, kind k)
{
    reader *r = ctx;
    CHECK(r->next < r->n);
    const event *e = &r->events[r->next++];
    CHECK(e->kind == k);
    return e;
}

static int on_start_map(void *ctx)
{
    expect(ctx, OBJECT_OPEN);
    return 1;
}

static int on_end_map(void *ctx)
{
    expect(ctx, OBJECT_CLOSE);
    return 1;
}

static int on_start_array(void *ctx)
{
    expect(ctx, ARRAY_OPEN);
    return 1;
}

static int on_end_array(void *ctx)
{
    expect(ctx, ARRAY_CLOSE);
    return 1;
}

static void check_text(const event *e, const unsigned char *s, size_t len)
{
    CHECK(e->text.len == len);
    CHECK(len == 0 || memcmp(e->text.base, s, len) == 0);
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    check_text(expect(ctx, KEY), s, len);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    check_text(expect(ctx, STRING), s, len);
    return 1;
}

static int on_boolean(void *ctx, int value)
{
    CHECK(expect(ctx, BOOL)->i == (value != 0));
    return 1;
}

/* Numbers arrive as text, so that uint64_t values above INT64_MAX read back whole; the text must be nothing but the number. */
static int on_number(void *ctx, const char *s, size_t len)
{
    reader *r = ctx;
    CHECK(r->next < r->n);
    const event *e = &r->events[r->next];
    char text[32];
    CHECK(len < sizeof(text));
    memcpy(text, s, len);
    text[len] = '\0';
    char *end;
    if (e->kind == INT) {
        CHECK(strtoll(text, &end, 10) == e->i);
    } else {
        CHECK(e->kind == UINT && text[0] != '-');
        CHECK(strtoull(text, &end, 10) == e->u);
    }
    CHECK(end == text + len);
    r->next++;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_pool pool;
    pb_pool_init(&pool);
    pb_json_writer w;
    pb_json_init(&w, &pool);
    program p = {.data = data, .size = size, .pool = &pool, .w = &w};
    p.events = pb_pool_alloc(&pool, 4 * MAX_VALUES * sizeof(*p.events));
    pb_json_array_open(&w);
    record(&p, ARRAY_OPEN);
    while (p.at < p.size && p.values < MAX_VALUES)
        write_value(&p, 1);
    pb_json_array_close(&w);
    record(&p, ARRAY_CLOSE);

    pb_str text = pb_json_text(&w);
    reader r = {p.events, p.n, 0};
    yajl_handle parser = yajl_alloc(&callbacks, NULL, &r);
    CHECK(parser != NULL);
    CHECK(yajl_parse(parser, (const unsigned char *)text.base, text.len) == yajl_status_ok);
    CHECK(yajl_complete_parse(parser) == yajl_status_ok);
    CHECK(r.next == r.n);
    yajl_free(parser);
    pb_pool_clear(&pool);
    return 0;
}
