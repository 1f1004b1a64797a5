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

#endif
