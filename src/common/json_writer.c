/*
 * json_writer.c — the writer's out-of-line half: growing the text, and
 * strings, whose escaping is a loop (common/json_writer.h).
 */
#include "common/json_writer.h"

/*
 * What each byte becomes inside a JSON string: 0 for itself, else the
 * character after the backslash ('u' for \u00XX).
 */
static const char escape_after_backslash[256] = {
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u', [0x06] = 'u', [0x07] = 'u',
    [0x08] = 'b', [0x09] = 't', [0x0a] = 'n', [0x0b] = 'u', [0x0c] = 'f', [0x0d] = 'r', [0x0e] = 'u', [0x0f] = 'u',
    [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u',
    [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u',
    ['"'] = '"',  ['\\'] = '\\',
};

/* The longest escape: \u00XX. */
#define ESCAPE_MAX 6

void pb_json_init(pb_json_writer *w, pb_pool *pool)
{
    *w = (pb_json_writer){pb_pool_alloc(pool, PB_JSON_INITIAL_CAPACITY), 0, PB_JSON_INITIAL_CAPACITY, pool, false};
}

/* Not inlined, or its registers would cost every write. */
__attribute__((noinline)) void pb_json_grow_(pb_json_writer *w, size_t more)
{
    size_t capacity = w->capacity * 2;
    while (capacity - w->len < more)
        capacity *= 2;
    char *bigger = pb_pool_alloc(w->pool, capacity);
    if (w->len != 0)
        memcpy(bigger, w->bytes, w->len);
    w->bytes = bigger;
    w->capacity = capacity;
}

/*
 * Whether any of the 8 bytes of `x` needs an escape: a byte below 0x20, '"'
 * or '\\' (the "has zero byte" / "has less than" tests of Bit Twiddling
 * Hacks; each tells exactly whether any byte matches, though not which).
 */
static inline bool word_needs_escape(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & highs;
}

/*
 * Writes `s` quoted and escaped at the end of the text, after a ',' when
 * `separate`; returns the end, with room left for one more byte (a key's
 * ':'). Bytes are copied 8 at a time while no escape is among them (a third
 * of the instructions of a byte at a time, and no call to memcpy() for a
 * short string). Room for the whole string unescaped is made once, and
 * again at each escape for what is left.
 */
static char *put_string(pb_json_writer *w, pb_str s, bool separate)
{
    const unsigned char *in = (const unsigned char *)s.base;
    size_t len = s.len;
    char *p = pb_json_room_(w, len + 4); /* ',', the quotes, a ':' */
    if (separate)
        *p++ = ',';
    *p++ = '"';
    size_t i = 0;
    for (;;) {
        uint64_t word;
        while (len - i >= sizeof(word)) {
            memcpy(&word, in + i, sizeof(word));
            if (word_needs_escape(word))
                break;
            memcpy(p, &word, sizeof(word));
            p += sizeof(word);
            i += sizeof(word);
        }
        while (i < len && escape_after_backslash[in[i]] == 0)
            *p++ = (char)in[i++];
        if (i == len)
            break;
        unsigned char c = in[i++];
        w->len = (size_t)(p - w->bytes);
        p = pb_json_room_(w, ESCAPE_MAX + (len - i) + 2); /* the escape, the rest unescaped, '"', ':' */
        *p++ = '\\';
        *p++ = escape_after_backslash[c];
        if (escape_after_backslash[c] == 'u') {
            static const char hex[] = "0123456789ABCDEF";
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p++ = '"';
    return p;
}

void pb_json_string(pb_json_writer *w, pb_str s)
{
    pb_json_end_(w, put_string(w, s, w->after_value), true);
}

void pb_json_key(pb_json_writer *w, pb_str key)
{
    char *p = put_string(w, key, w->after_value);
    *p++ = ':';
    pb_json_end_(w, p, false);
}
