/*
 * json_writer.h — the one JSON writer: the API's answers, `export`'s lines
 * and `pull`'s requests are written here; yajl is for parsing only. (The
 * access log's JSON lines hold only numbers and fixed words, nothing to
 * escape: http/accesslog.c formats them straight into the loop's log buffer.)
 *
 * The text grows in memory from a pool (common/pool.h): a request's own pool
 * in the server, a pool of the command in the tools; nothing is freed
 * separately. Output is compact (no whitespace). The caller writes values in
 * document order, a key before each member's value; the writer puts the
 * commas itself and keeps no stack, so a call out of order (a key in an
 * array, a close without its open) writes text that is not JSON: the unit
 * tests and the round-trip fuzz target (fuzz/fuzz_json_writer.c) are what
 * keep the callers in order.
 *
 * Strings, as RFC 8259 section 7 allows and as yajl's generator wrote them
 * before this writer (the answers' bytes did not change with it):
 *   - '"' and '\\' as \" and \\;
 *   - the control characters U+0000–U+001F as \b \f \n \r \t, the others as
 *     \u00XX with upper-case hex digits;
 *   - everything else as it is: '/' (escaping it is optional), DEL, and
 *     bytes of 0x80 and above. Strings are written as they are given: they
 *     come from decoded requests or from the store, both checked to be UTF-8,
 *     so the text is UTF-8 when they are.
 * Integers are their decimal digits, '-' before a negative one, the whole
 * range of int64_t and of uint64_t.
 *
 * Thread rules: a writer belongs to one thread at a time.
 */
#ifndef PB_JSON_WRITER_H
#define PB_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/pool.h"
#include "common/str.h"

/* Room before the text first grows: an answer about one account fits. */
#define PB_JSON_INITIAL_CAPACITY 512

typedef struct pb_json_writer {
    char *bytes; /* the text so far, in `pool`; moves when it grows */
    size_t len, capacity;
    pb_pool *pool;
    bool after_value; /* a value ended last: the next key or value follows a ',' */
} pb_json_writer;

/* Starts an empty text in `pool`, which must outlive every use of the text. */
void pb_json_init(pb_json_writer *w, pb_pool *pool);

/* Empties the text to write another, in the same memory. */
static inline void pb_json_reset(pb_json_writer *w)
{
    w->len = 0;
    w->after_value = false;
}

/* The text so far; valid until the next call on `w` (a write may move it). */
static inline pb_str pb_json_text(const pb_json_writer *w)
{
    return (pb_str){w->bytes, w->len};
}

/* The slow path of pb_json_room_(): moves the text to a buffer at least twice as large with `more` bytes free. */
void pb_json_grow_(pb_json_writer *w, size_t more);

/* Where the next `more` bytes go, growing the text first when they do not fit. */
static inline char *pb_json_room_(pb_json_writer *w, size_t more)
{
    if (__builtin_expect(w->capacity - w->len < more, 0))
        pb_json_grow_(w, more);
    return w->bytes + w->len;
}

/* Room for `more` bytes and a leading ',' when a value came before. */
static inline char *pb_json_begin_(pb_json_writer *w, size_t more)
{
    char *p = pb_json_room_(w, more + 1);
    if (w->after_value)
        *p++ = ',';
    return p;
}

static inline void pb_json_end_(pb_json_writer *w, char *p, bool value_ended)
{
    w->len = (size_t)(p - w->bytes);
    w->after_value = value_ended;
}

static inline void pb_json_open_(pb_json_writer *w, char bracket)
{
    char *p = pb_json_begin_(w, 1);
    *p++ = bracket;
    pb_json_end_(w, p, false);
}

static inline void pb_json_close_(pb_json_writer *w, char bracket)
{
    char *p = pb_json_room_(w, 1);
    *p++ = bracket;
    pb_json_end_(w, p, true);
}

static inline void pb_json_object_open(pb_json_writer *w)
{
    pb_json_open_(w, '{');
}

static inline void pb_json_object_close(pb_json_writer *w)
{
    pb_json_close_(w, '}');
}

static inline void pb_json_array_open(pb_json_writer *w)
{
    pb_json_open_(w, '[');
}

static inline void pb_json_array_close(pb_json_writer *w)
{
    pb_json_close_(w, ']');
}

/* A string value, escaped as the header says. */
void pb_json_string(pb_json_writer *w, pb_str s);

/* A member's key, escaped as a string, and its ':'; the member's value comes next. */
void pb_json_key(pb_json_writer *w, pb_str key);

/*
 * A member's key given as a string literal that needs no escaping (no '"',
 * '\\' or control character; the callers' keys are plain words). Its quotes
 * and ':' are part of the literal, so it is one copy of a known size.
 */
#define PB_JSON_KEY(w, literal) pb_json_key_verbatim_((w), "\"" literal "\":", sizeof("\"" literal "\":") - 1)

static inline void pb_json_key_verbatim_(pb_json_writer *w, const char *quoted, size_t len)
{
    char *p = pb_json_begin_(w, len);
    memcpy(p, quoted, len);
    pb_json_end_(w, p + len, false);
}

static inline void pb_json_int(pb_json_writer *w, int64_t value)
{
    char *p = pb_json_begin_(w, PB_DECIMAL_MAX);
    pb_json_end_(w, pb_put_i64(p, value), true);
}

static inline void pb_json_uint(pb_json_writer *w, uint64_t value)
{
    char *p = pb_json_begin_(w, PB_DECIMAL_MAX);
    pb_json_end_(w, pb_put_u64(p, value), true);
}

/* An integer's decimal digits as a string value: "1008007" (TPNS writes item codes so). */
static inline void pb_json_int_string(pb_json_writer *w, int64_t value)
{
    char *p = pb_json_begin_(w, PB_DECIMAL_MAX + 2);
    *p++ = '"';
    p = pb_put_i64(p, value);
    *p++ = '"';
    pb_json_end_(w, p, true);
}

static inline void pb_json_bool(pb_json_writer *w, bool value)
{
    char *p = pb_json_begin_(w, 5);
    if (value) {
        memcpy(p, "true", 4);
        p += 4;
    } else {
        memcpy(p, "false", 5);
        p += 5;
    }
    pb_json_end_(w, p, true);
}

#endif
