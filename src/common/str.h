/*
 * pb_str: a borrowed byte string (pointer + length, not NUL-terminated).
 *
 * A pb_str never owns its bytes. Whoever hands one out says how long the bytes
 * live: the request body, the request's pool, or a store view (see store.h).
 */
#ifndef PB_STR_H
#define PB_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct pb_str {
    const char *base;
    size_t len;
} pb_str;

#define PB_STR_LIT(s) ((pb_str){(s), sizeof(s) - 1})

static inline pb_str pb_str_from_cstr(const char *s)
{
    return (pb_str){s, strlen(s)};
}

static inline bool pb_str_eq(pb_str a, pb_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

/* Room pb_put_u64() and pb_put_i64() may write: "-9223372036854775808". */
#define PB_DECIMAL_MAX 20

/*
 * Writes `value` in decimal at `p` (no NUL) and returns the end. For hot
 * paths, where snprintf()'s parsing of a format costs more than the digits.
 */
static inline char *pb_put_u64(char *p, uint64_t value)
{
    char digits[PB_DECIMAL_MAX];
    size_t n = 0;
    do
        digits[n++] = (char)('0' + value % 10);
    while ((value /= 10) != 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static inline char *pb_put_i64(char *p, int64_t value)
{
    if (value < 0) {
        *p++ = '-';
        return pb_put_u64(p, (uint64_t)0 - (uint64_t)value);
    }
    return pb_put_u64(p, (uint64_t)value);
}

#endif
