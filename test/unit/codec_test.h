/*
 * codec_test.h — what the codec's unit tests share: bodies and expected
 * answers written with ' for ", assertions on decoded strings and elements,
 * and a pool per test (test_decode_fields.c, test_decode_parse.c,
 * test_encode.c).
 */
#ifndef PB_TEST_CODEC_TEST_H
#define PB_TEST_CODEC_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "common/codes.h"

/*
 * Bodies and expected answers are written with ' for " so that they read like
 * JSON; q() turns them back.
 */
static inline pb_str q(pb_pool *pool, const char *text)
{
    size_t len = strlen(text);
    char *copy = pb_pool_alloc(pool, len + 1);
    for (size_t i = 0; i < len; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    copy[len] = '\0'; /* so that assert_json can compare it as a C string */
    return (pb_str){copy, len};
}

static inline int query(pb_pool *pool, const char *text, pb_query_request *out)
{
    pb_str body = q(pool, text);
    return pb_decode_query(pool, body.base, body.len, out);
}

static inline int batch(pb_pool *pool, const char *text, pb_batch_request *out)
{
    pb_str body = q(pool, text);
    return pb_decode_batch(pool, body.base, body.len, out);
}

/* Decodes `text` as written, with its real quotes, as a query. */
static inline int query_raw(pb_pool *pool, const char *text, size_t len)
{
    pb_query_request out;
    return pb_decode_query(pool, text, len, &out);
}

#define RAW(lit) (lit), (sizeof(lit) - 1)

static inline void assert_pb_str_at(pb_str s, const char *expected, const char *file, int line)
{
    char *copy = malloc(s.len + 1);
    if (s.len != 0)
        memcpy(copy, s.base, s.len);
    copy[s.len] = '\0';
    if (strlen(copy) != s.len) /* an embedded NUL: compare bytes */
        _assert_memory_equal(s.base, expected, s.len, file, line);
    else
        _assert_string_equal(copy, expected, file, line);
    free(copy);
}

#define assert_pb_str(s, expected) assert_pb_str_at((s), (expected), __FILE__, __LINE__)

/* Compares encoder output with an expected text written with ' for ". */
#define assert_json(pool, s, expected) assert_pb_str((s), q((pool), (expected)).base)

static inline void assert_account_at(const pb_account_item *item, const char *name, uint32_t type, bool well_typed,
                              const char *file, int line)
{
    assert_pb_str_at(item->account.name, name, file, line);
    _assert_int_equal(item->account.type, type, file, line);
    _assert_int_equal(item->well_typed, well_typed, file, line);
}

#define assert_account(item, name, type, well_typed)                                                               \
    assert_account_at((item), (name), (type), (well_typed), __FILE__, __LINE__)

static inline void assert_token_at(const pb_token_item *item, const char *token, bool is_string, const char *file, int line)
{
    assert_pb_str_at(item->token, token, file, line);
    _assert_int_equal(item->is_string, is_string, file, line);
}

#define assert_token(item, token, is_string) assert_token_at((item), (token), (is_string), __FILE__, __LINE__)

static inline int pool_setup(void **state)
{
    pb_pool *pool = malloc(sizeof(*pool));
    pb_pool_init(pool);
    *state = pool;
    return 0;
}

static inline int pool_teardown(void **state)
{
    pb_pool_clear(*state);
    free(*state);
    return 0;
}

#define T(name) cmocka_unit_test_setup_teardown(name, pool_setup, pool_teardown)

#endif
