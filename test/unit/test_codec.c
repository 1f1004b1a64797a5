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
static pb_str q(pb_pool *pool, const char *text)
{
    size_t len = strlen(text);
    char *copy = pb_pool_alloc(pool, len + 1);
    for (size_t i = 0; i < len; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    copy[len] = '\0'; /* so that assert_json can compare it as a C string */
    return (pb_str){copy, len};
}

static int query(pb_pool *pool, const char *text, pb_query_request *out)
{
    pb_str body = q(pool, text);
    return pb_decode_query(pool, body.base, body.len, out);
}

static int batch(pb_pool *pool, const char *text, pb_batch_request *out)
{
    pb_str body = q(pool, text);
    return pb_decode_batch(pool, body.base, body.len, out);
}

/* Decodes `text` as written, with its real quotes, as a query. */
static int query_raw(pb_pool *pool, const char *text, size_t len)
{
    pb_query_request out;
    return pb_decode_query(pool, text, len, &out);
}

#define RAW(lit) (lit), (sizeof(lit) - 1)

static void assert_pb_str_at(pb_str s, const char *expected, const char *file, int line)
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

static void assert_account_at(const pb_account_item *item, const char *name, uint32_t type, bool well_typed,
                              const char *file, int line)
{
    assert_pb_str_at(item->account.name, name, file, line);
    _assert_int_equal(item->account.type, type, file, line);
    _assert_int_equal(item->well_typed, well_typed, file, line);
}

#define assert_account(item, name, type, well_typed)                                                               \
    assert_account_at((item), (name), (type), (well_typed), __FILE__, __LINE__)

static void assert_token_at(const pb_token_item *item, const char *token, bool is_string, const char *file, int line)
{
    assert_pb_str_at(item->token, token, file, line);
    _assert_int_equal(item->is_string, is_string, file, line);
}

#define assert_token(item, token, is_string) assert_token_at((item), (token), (is_string), __FILE__, __LINE__)

static int pool_setup(void **state)
{
    pb_pool *pool = malloc(sizeof(*pool));
    pb_pool_init(pool);
    *state = pool;
    return 0;
}

static int pool_teardown(void **state)
{
    pb_pool_clear(*state);
    free(*state);
    return 0;
}

/* ---- decoding: the shapes of the spec ---- */

static void query_by_account_decodes_types(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'operator_type': 1, 'account_list': [{'account': 'account1'},"
                           " {'account': '13800000000', 'account_type': 1}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_PRESENT);
    assert_int_equal(r.operator_type.value, 1);
    assert_int_equal(r.account_list.state, PB_FIELD_PRESENT);
    assert_int_equal(r.account_list.n, 2);
    assert_account(&r.account_list.items[0], "account1", 0, true);
    assert_account(&r.account_list.items[1], "13800000000", 1, true);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.n, 0);
}

static void query_by_token_decodes_tokens(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'operator_type': 2, 'token_list': ['token1', 'token2']}", &r), PB_OK);
    assert_int_equal(r.operator_type.value, 2);
    assert_int_equal(r.token_list.state, PB_FIELD_PRESENT);
    assert_int_equal(r.token_list.n, 2);
    assert_token(&r.token_list.items[0], "token1", true);
    assert_token(&r.token_list.items[1], "token2", true);
    assert_int_equal(r.account_list.state, PB_FIELD_ABSENT);
}

static void batch_decodes_token_accounts(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state,
                           "{'operator_type': 2, 'platform': 'android',"
                           " 'token_accounts': [{'token': 'token1', 'account_list': [{'account': '926@126.com'},"
                           " {'account': '1527000000'}]},"
                           " {'token': 'token2', 'account_list': [{'account': '926@163.com', 'account_type': 2}]}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.value, 2);
    assert_int_equal(r.platform_state, PB_FIELD_PRESENT);
    assert_pb_str(r.platform, "android");
    assert_int_equal(r.token_accounts.state, PB_FIELD_PRESENT);
    assert_int_equal(r.token_accounts.n, 2);

    const pb_token_accounts_item *first = &r.token_accounts.items[0];
    assert_true(first->is_object);
    assert_token(&first->token, "token1", true);
    assert_int_equal(first->account_list.state, PB_FIELD_PRESENT);
    assert_int_equal(first->account_list.n, 2);
    assert_account(&first->account_list.items[0], "926@126.com", 0, true);
    assert_account(&first->account_list.items[1], "1527000000", 0, true);

    const pb_token_accounts_item *second = &r.token_accounts.items[1];
    assert_token(&second->token, "token2", true);
    assert_int_equal(second->account_list.n, 1);
    assert_account(&second->account_list.items[0], "926@163.com", 2, true);

    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.account_list.state, PB_FIELD_ABSENT);
}

static void batch_reads_every_list_whatever_operator_type(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state,
                           "{'operator_type': 4, 'token_list': ['t1'], 'account_list': [{'account': 'a'}],"
                           " 'token_accounts': [{'token': 't2', 'account_list': [{'account': 'b'}]}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.value, 4);
    assert_int_equal(r.platform_state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform.len, 0);
    assert_int_equal(r.token_list.n, 1);
    assert_token(&r.token_list.items[0], "t1", true);
    assert_int_equal(r.account_list.n, 1);
    assert_account(&r.account_list.items[0], "a", 0, true);
    assert_int_equal(r.token_accounts.n, 1);
    assert_token(&r.token_accounts.items[0].token, "t2", true);
    assert_account(&r.token_accounts.items[0].account_list.items[0], "b", 0, true);
}

static void query_skips_batch_only_fields(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'platform': 5, 'token_accounts': [{'token': 'x', 'account_list': [{'account': 'y'}]}],"
                           " 'operator_type': 2, 'token_list': ['t']}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.value, 2);
    assert_int_equal(r.token_list.n, 1);
    assert_token(&r.token_list.items[0], "t", true);
    assert_int_equal(r.account_list.state, PB_FIELD_ABSENT);
}

/* ---- unknown and repeated keys ---- */

static void unknown_fields_are_skipped_at_any_depth(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state,
                           "{'x': {'operator_type': 9, 'account_list': [{'account': 'no'}]},"
                           " 'y': [[{'token_list': ['no']}], 1, 'two', null, true],"
                           " 'operator_type': 1,"
                           " 'token_accounts': [{'extra': {'token': 'no', 'account_list': ['no']},"
                           "   'token': 't', 'more': [1, [2, {'a': 3}]],"
                           "   'account_list': [{'note': {'account': 'no'}, 'account': 'a', 'z': [{'account_type': 7}]}]}],"
                           " 'z': 1.5e300}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_PRESENT);
    assert_int_equal(r.operator_type.value, 1);
    assert_int_equal(r.account_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_accounts.n, 1);
    const pb_token_accounts_item *item = &r.token_accounts.items[0];
    assert_token(&item->token, "t", true);
    assert_int_equal(item->account_list.n, 1);
    assert_account(&item->account_list.items[0], "a", 0, true);
}

static void keys_are_case_sensitive(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'Operator_Type': 1, 'ACCOUNT_LIST': [{'account': 'a'}], 'token_list ': []}", &r),
                     PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_ABSENT);
    assert_int_equal(r.account_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
}

static void duplicate_key_last_wins(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'operator_type': 'one', 'operator_type': 2,"
                           " 'account_list': [{'account': 'first'}, {'account': 'second'}],"
                           " 'account_list': [{'account': 5, 'account': 'a', 'account_type': 1.5, 'account_type': 3},"
                           "                  {'account': 'b', 'account': 6, 'account_type': 4, 'account_type': null}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_PRESENT);
    assert_int_equal(r.operator_type.value, 2);
    assert_int_equal(r.account_list.n, 2);
    assert_account(&r.account_list.items[0], "a", 3, true);
    assert_account(&r.account_list.items[1], "", 0, false);
}

static void duplicate_key_null_clears_earlier_value(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state,
                           "{'operator_type': 3, 'operator_type': null, 'platform': 'ios', 'platform': null,"
                           " 'token_list': ['t'], 'token_list': null,"
                           " 'token_accounts': [{'token': 't', 'token': null, 'account_list': [{'account': 'a'}],"
                           "                     'account_list': null}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform_state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform.len, 0);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.n, 0);
    assert_int_equal(r.token_accounts.n, 1);
    assert_token(&r.token_accounts.items[0].token, "", false);
    assert_int_equal(r.token_accounts.items[0].account_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_accounts.items[0].account_list.n, 0);
}

/* ---- operator_type ---- */

static void operator_type_float_is_wrong_type(void **state)
{
    static const char *const bodies[] = {
        "{'operator_type': 1.5}", "{'operator_type': 1.0}",  "{'operator_type': 1e3}",
        "{'operator_type': 1E3}", "{'operator_type': 1e-2}", "{'operator_type': -2.0E+1}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_OK);
        assert_int_equal(r.operator_type.state, PB_FIELD_WRONG_TYPE);
    }
}

static void operator_type_non_number_is_wrong_type(void **state)
{
    static const char *const bodies[] = {
        "{'operator_type': '+1', 'token_list': ['t']}",
        "{'operator_type': ' 1', 'token_list': ['t']}",
        "{'operator_type': '', 'token_list': ['t']}",
        "{'operator_type': '1.0', 'token_list': ['t']}",
        "{'operator_type': '99999999999999999999', 'token_list': ['t']}",
        "{'operator_type': true, 'token_list': ['t']}",
        "{'operator_type': [1], 'token_list': ['t']}",
        "{'operator_type': {'token_list': []}, 'token_list': ['t']}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_OK);
        assert_int_equal(r.operator_type.state, PB_FIELD_WRONG_TYPE);
        /* the rest of the body is still read */
        assert_int_equal(r.token_list.n, 1);
        assert_token(&r.token_list.items[0], "t", true);
    }
}

static void operator_type_null_is_absent(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'operator_type': null}", &r), PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_ABSENT);
}

static void operator_type_reads_any_int64(void **state)
{
    static const struct {
        const char *body;
        int64_t value;
    } cases[] = {
        {"{'operator_type': 0}", 0},
        {"{'operator_type': -0}", 0},
        {"{'operator_type': -5}", -5},
        {"{'operator_type': 9223372036854775807}", INT64_MAX},
        {"{'operator_type': -9223372036854775808}", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, cases[i].body, &r), PB_OK);
        assert_int_equal(r.operator_type.state, PB_FIELD_PRESENT);
        assert_true(r.operator_type.value == cases[i].value);
    }
}

static void huge_integer_is_wrong_type_not_parse_error(void **state)
{
    static const char *const bodies[] = {
        "{'operator_type': 9223372036854775808}",
        "{'operator_type': -9223372036854775809}",
        "{'operator_type': 123456789012345678901234567890123456789012345678901234567890}",
        "{'operator_type': 1e400}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_OK);
        assert_int_equal(r.operator_type.state, PB_FIELD_WRONG_TYPE);
    }
}

/* ---- account elements ---- */

static void account_type_out_of_range_marks_item(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'account_list': [{'account': 'a', 'account_type': 2147483648},"
                           " {'account': 'b', 'account_type': -1}, {'account': 'c', 'account_type': 1.0},"
                           " {'account': 'd', 'account_type': 1e2}, {'account': 'e', 'account_type': '-1'},"
                           " {'account': 'f', 'account_type': true}, {'account': 'g', 'account_type': [1]},"
                           " {'account': 'h', 'account_type': 99999999999999999999999},"
                           " {'account': 'i', 'account_type': 2147483647}, {'account': 'j', 'account_type': 0}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.account_list.n, 10);
    static const char *const bad[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (size_t i = 0; i < 8; i++)
        assert_account(&r.account_list.items[i], bad[i], 0, false); /* the name is kept for the echo */
    assert_account(&r.account_list.items[8], "i", 2147483647u, true);
    assert_account(&r.account_list.items[9], "j", 0, true);
}

static void integers_may_be_decimal_strings(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'operator_type': '2', 'account_list': [{'account': 'a', 'account_type': '1'},"
                           " {'account': 'b', 'account_type': '2147483647'}, {'account': 'c', 'account_type': '0'},"
                           " {'account': 'd', 'account_type': '2147483648'}, {'account': 'e', 'account_type': ''}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.operator_type.state, PB_FIELD_PRESENT);
    assert_int_equal(r.operator_type.value, 2);
    assert_account(&r.account_list.items[0], "a", 1, true);
    assert_account(&r.account_list.items[1], "b", 2147483647u, true);
    assert_account(&r.account_list.items[2], "c", 0, true);
    assert_account(&r.account_list.items[3], "d", 0, false);
    assert_account(&r.account_list.items[4], "e", 0, false);
}

static void top_level_account_type_fills_elements_without_one(void **state)
{
    pb_query_request r;
    /* the top-level field after the list, as well as before it */
    assert_int_equal(query(*state,
                           "{'account_list': [{'account': 'a'}, {'account': 'b', 'account_type': 0},"
                           " {'account': 'c', 'account_type': null}, {'account': 'd', 'account_type': 'x'}],"
                           " 'account_type': '1'}",
                           &r),
                     PB_OK);
    assert_int_equal(r.account_type.state, PB_FIELD_PRESENT);
    assert_account(&r.account_list.items[0], "a", 1, true);
    assert_account(&r.account_list.items[1], "b", 0, true);
    assert_account(&r.account_list.items[2], "c", 1, true);
    assert_account(&r.account_list.items[3], "d", 0, false);

    pb_batch_request b;
    assert_int_equal(batch(*state,
                           "{'account_type': 2, 'token_accounts': [{'token': 't', 'account_list': [{'account': 'a'},"
                           " {'account': 'b', 'account_type': 1}]}], 'account_list': [{'account': 'c'}]}",
                           &b),
                     PB_OK);
    assert_account(&b.token_accounts.items[0].account_list.items[0], "a", 2, true);
    assert_account(&b.token_accounts.items[0].account_list.items[1], "b", 1, true);
    assert_account(&b.account_list.items[0], "c", 2, true);
}

static void top_level_account_type_wrong_type_leaves_elements_at_zero(void **state)
{
    static const char *const bodies[] = {
        "{'account_type': -1, 'account_list': [{'account': 'a'}]}",
        "{'account_type': '1 ', 'account_list': [{'account': 'a'}]}",
        "{'account_type': 2147483648, 'account_list': [{'account': 'a'}]}",
        "{'account_type': [1], 'account_list': [{'account': 'a'}]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_OK);
        assert_int_equal(r.account_type.state, PB_FIELD_WRONG_TYPE);
        assert_account(&r.account_list.items[0], "a", 0, true);
    }
    pb_query_request r;
    assert_int_equal(query(*state, "{'account_type': null, 'account_list': [{'account': 'a'}]}", &r), PB_OK);
    assert_int_equal(r.account_type.state, PB_FIELD_ABSENT);
    assert_account(&r.account_list.items[0], "a", 0, true);
}

static void with_info_is_true_or_one(void **state)
{
    static const struct {
        const char *body;
        pb_field_state state;
        bool on;
    } cases[] = {
        {"{'with_info': true}", PB_FIELD_PRESENT, true},  {"{'with_info': 1}", PB_FIELD_PRESENT, true},
        {"{'with_info': false}", PB_FIELD_PRESENT, false}, {"{'with_info': 0}", PB_FIELD_PRESENT, false},
        {"{'with_info': null}", PB_FIELD_ABSENT, false},   {"{}", PB_FIELD_ABSENT, false},
        {"{'with_info': 'true'}", PB_FIELD_WRONG_TYPE, false}, {"{'with_info': 2}", PB_FIELD_WRONG_TYPE, false},
        {"{'with_info': 1.0}", PB_FIELD_WRONG_TYPE, false}, {"{'with_info': {}}", PB_FIELD_WRONG_TYPE, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, cases[i].body, &r), PB_OK);
        assert_int_equal(r.with_info_state, cases[i].state);
        assert_int_equal(r.with_info, cases[i].on);
    }
}

static void account_type_null_is_zero(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'account_list': [{'account': 'a', 'account_type': null}]}", &r), PB_OK);
    assert_account(&r.account_list.items[0], "a", 0, true);
}

static void account_not_string_marks_item(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'account_list': [{'account': 5}, {'account': null}, {}, {'account_type': 1},"
                           " {'account': ['x']}, {'account': {'account': 'x'}}, {'account': ''}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.account_list.n, 7);
    for (size_t i = 0; i < 6; i++)
        assert_account(&r.account_list.items[i], "", i == 3 ? 1 : 0, false);
    /* an empty string is a string: the endpoint, not the decoder, rejects it */
    assert_account(&r.account_list.items[6], "", 0, true);
}

static void non_object_element_marks_item_and_keeps_others(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state,
                           "{'account_list': ['x', {'account': 'a'}, 3, null, [{'account': 'no'}], true,"
                           " {'account': 'c', 'account_type': 2}]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.account_list.state, PB_FIELD_PRESENT);
    assert_int_equal(r.account_list.n, 7);
    assert_account(&r.account_list.items[0], "", 0, false);
    assert_account(&r.account_list.items[1], "a", 0, true);
    assert_account(&r.account_list.items[2], "", 0, false);
    assert_account(&r.account_list.items[3], "", 0, false);
    assert_account(&r.account_list.items[4], "", 0, false);
    assert_account(&r.account_list.items[5], "", 0, false);
    assert_account(&r.account_list.items[6], "c", 2, true);
}

/* ---- token elements ---- */

static void token_list_non_string_element_is_flagged(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'token_list': ['t1', 1, null, {'token': 'no'}, ['no'], false, 't2', '']}", &r),
                     PB_OK);
    assert_int_equal(r.token_list.n, 8);
    assert_token(&r.token_list.items[0], "t1", true);
    for (size_t i = 1; i < 6; i++)
        assert_token(&r.token_list.items[i], "", false);
    assert_token(&r.token_list.items[6], "t2", true);
    assert_token(&r.token_list.items[7], "", true);
}

static void token_accounts_element_shapes(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state,
                           "{'token_accounts': ['x', {'account_list': [{'account': 'a'}]},"
                           " {'token': 5, 'account_list': {'account': 'a'}}, {'token': 't', 'account_list': null},"
                           " {'token': 't2', 'account_list': []}, null, [{'token': 'no'}]]}",
                           &r),
                     PB_OK);
    assert_int_equal(r.token_accounts.n, 7);
    const pb_token_accounts_item *items = r.token_accounts.items;

    assert_false(items[0].is_object);
    assert_token(&items[0].token, "", false);
    assert_int_equal(items[0].account_list.state, PB_FIELD_ABSENT);

    assert_true(items[1].is_object);
    assert_token(&items[1].token, "", false); /* absent */
    assert_int_equal(items[1].account_list.state, PB_FIELD_PRESENT);
    assert_account(&items[1].account_list.items[0], "a", 0, true);

    assert_true(items[2].is_object);
    assert_token(&items[2].token, "", false); /* not a string */
    assert_int_equal(items[2].account_list.state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(items[2].account_list.n, 0);

    assert_token(&items[3].token, "t", true);
    assert_int_equal(items[3].account_list.state, PB_FIELD_ABSENT);

    assert_token(&items[4].token, "t2", true);
    assert_int_equal(items[4].account_list.state, PB_FIELD_PRESENT);
    assert_int_equal(items[4].account_list.n, 0);

    assert_false(items[5].is_object);
    assert_false(items[6].is_object);
    assert_token(&items[6].token, "", false);
}

/* ---- list states ---- */

static void null_list_is_absent(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state, "{'account_list': null, 'token_list': null, 'token_accounts': null}", &r), PB_OK);
    assert_int_equal(r.account_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_accounts.state, PB_FIELD_ABSENT);
}

static void list_not_array_is_wrong_type(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state,
                           "{'account_list': {'account': 'a'}, 'token_list': 't', 'token_accounts': 1,"
                           " 'platform': ['android'], 'operator_type': 1}",
                           &r),
                     PB_OK);
    assert_int_equal(r.account_list.state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(r.account_list.n, 0);
    assert_int_equal(r.token_list.state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(r.token_list.n, 0);
    assert_int_equal(r.token_accounts.state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(r.platform_state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(r.platform.len, 0);
    assert_int_equal(r.operator_type.value, 1); /* read after the skipped containers */
}

static void empty_list_is_present_with_no_items(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state, "{'account_list': [], 'token_list': [], 'token_accounts': []}", &r), PB_OK);
    assert_int_equal(r.account_list.state, PB_FIELD_PRESENT);
    assert_int_equal(r.account_list.n, 0);
    assert_int_equal(r.token_list.state, PB_FIELD_PRESENT);
    assert_int_equal(r.token_list.n, 0);
    assert_int_equal(r.token_accounts.state, PB_FIELD_PRESENT);
    assert_int_equal(r.token_accounts.n, 0);
}

static void platform_is_kept_as_sent(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state, "{'platform': 'AndROID'}", &r), PB_OK);
    assert_int_equal(r.platform_state, PB_FIELD_PRESENT);
    assert_pb_str(r.platform, "AndROID");
}

static void long_list_keeps_order(void **state)
{
    enum { N = 1000 };
    char *body = malloc(N * 64);
    size_t len = (size_t)sprintf(body, "{\"token_list\":[");
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(body + len, "%s\"token-%d\"", i ? "," : "", i);
    len += (size_t)sprintf(body + len, "],\"account_list\":[");
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(body + len, "%s{\"account\":\"a%d\",\"account_type\":%d}", i ? "," : "", i, i);
    len += (size_t)sprintf(body + len, "]}");

    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, len, &r), PB_OK);
    assert_int_equal(r.token_list.n, N);
    assert_int_equal(r.account_list.n, N);
    for (int i = 0; i < N; i++) {
        char expected[32];
        sprintf(expected, "token-%d", i);
        assert_token(&r.token_list.items[i], expected, true);
        sprintf(expected, "a%d", i);
        assert_account(&r.account_list.items[i], expected, (uint32_t)i, true);
    }
    free(body);
}

/* ---- strings ---- */

static void plain_string_points_into_body(void **state)
{
    pb_str body = q(*state, "{'token_list': ['abc']}");
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body.base, body.len, &r), PB_OK);
    assert_ptr_equal(r.token_list.items[0].token.base, body.base + 17);
    assert_pb_str(r.token_list.items[0].token, "abc");
}

static void escaped_string_is_unescaped(void **state)
{
    const char body[] = "{\"account_list\":[{\"account\":\"a\\\"b\\\\c\\/d\\u00e9\\n\\t\\u0041\"}],"
                        "\"token_list\":[\"\\ud83d\\ude00\"]}";
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, sizeof(body) - 1, &r), PB_OK);
    pb_str name = r.account_list.items[0].account.name;
    assert_pb_str(name, "a\"b\\c/d\xc3\xa9\n\tA");
    assert_true(name.base < body || name.base >= body + sizeof(body)); /* a copy, in the pool */
    assert_true(r.account_list.items[0].well_typed);
    assert_pb_str(r.token_list.items[0].token, "\xf0\x9f\x98\x80");

    /* \u0000 is a byte like any other here; the endpoint rejects control characters */
    const char nul[] = "{\"token_list\":[\"a\\u0000b\"]}";
    assert_int_equal(pb_decode_query(*state, nul, sizeof(nul) - 1, &r), PB_OK);
    assert_int_equal(r.token_list.items[0].token.len, 3);
    assert_memory_equal(r.token_list.items[0].token.base, "a\0b", 3);
}

static void long_escaped_string_is_unescaped(void **state)
{
    /* longer than yajl's first decode buffer, so that yajl grows it through the pool */
    enum { N = 5000 };
    char *body = malloc(N * 2 + 64);
    size_t len = (size_t)sprintf(body, "{\"token_list\":[\"");
    for (int i = 0; i < N; i++) {
        body[len++] = '\\';
        body[len++] = i % 2 ? 'n' : 't';
    }
    len += (size_t)sprintf(body + len, "\"]}");
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, len, &r), PB_OK);
    assert_int_equal(r.token_list.items[0].token.len, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(r.token_list.items[0].token.base[i], i % 2 ? '\n' : '\t');
    free(body);
}

static void valid_utf8_is_accepted(void **state)
{
    const char body[] = "{\"account_list\":[{\"account\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}]}";
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, sizeof(body) - 1, &r), PB_OK);
    assert_pb_str(r.account_list.items[0].account.name, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
}

/* Each of `bad` inside a kept value, a key and a skipped value is a parse error. */
static void assert_parse_error_in_every_place(pb_pool *pool, const char *const *bad, size_t n)
{
    static const char *const shapes[] = {
        "{\"token_list\":[\"a%sb\"]}", /* a value the decoder keeps */
        "{\"a%sb\":1}",                /* a key */
        "{\"x\":[{\"y\":\"%s\"}]}",    /* a skipped value */
    };
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof(shapes) / sizeof(shapes[0]); j++) {
            char body[64];
            int len = snprintf(body, sizeof(body), shapes[j], bad[i]);
            pb_query_request r;
            assert_int_equal(pb_decode_query(pool, body, (size_t)len, &r), PB_ERR_PARSE);
        }
    }
}

static void invalid_utf8_is_parse_error(void **state)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "\x80",             /* a lone continuation byte */
        "\xc3",             /* cut short */
        "\xe2\x82",         /* cut short */
        "\xe2\x82\x28",     /* not a continuation byte */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xf0\x80\x80\xaf", /* overlong */
        "\xed\xa0\x80",     /* a UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* above U+10FFFF */
    };
    assert_parse_error_in_every_place(*state, bad, sizeof(bad) / sizeof(bad[0]));
}

static void escaped_surrogate_that_is_not_a_pair_is_parse_error(void **state)
{
    static const char *const bad[] = {
        "\\ud800",         /* a high surrogate at the end of the string */
        "\\ud800ab",       /* followed by plain text */
        "\\ud800\\u0041", /* followed by an escape that is not a low surrogate */
        "\\udbff\\ud800", /* followed by another high one */
        "\\udc00",         /* a low surrogate alone */
        "\\udc00\\ud800", /* the pair in the wrong order */
        "\\ud800\\n",     /* followed by another kind of escape */
    };
    assert_parse_error_in_every_place(*state, bad, sizeof(bad) / sizeof(bad[0]));
}

static void escaped_surrogate_pair_and_escaped_backslash_decode(void **state)
{
    pb_query_request r;
    const char pair[] = "{\"token_list\":[\"\\ud83d\\ude00\", \"\\\\ud800\"]}";
    assert_int_equal(pb_decode_query(*state, pair, sizeof(pair) - 1, &r), PB_OK);
    assert_pb_str(r.token_list.items[0].token, "\xf0\x9f\x98\x80");
    assert_pb_str(r.token_list.items[1].token, "\\ud800"); /* an escaped backslash, then text */
}

static void control_char_in_string_is_parse_error(void **state)
{
    assert_int_equal(query_raw(*state, RAW("{\"token_list\":[\"a\nb\"]}")), PB_ERR_PARSE);
    assert_int_equal(query_raw(*state, RAW("{\"token_list\":[\"a\0b\"]}")), PB_ERR_PARSE);
    assert_int_equal(query_raw(*state, RAW("{\"token_list\":[\"a\\qb\"]}")), PB_ERR_PARSE); /* bad escape */
}

/* ---- bodies that are not one JSON object ---- */

static void top_level_array_is_parse_error(void **state)
{
    static const char *const bodies[] = {"[]", "[{'operator_type': 1}]", "5", "'x'", "null", "true"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_ERR_PARSE);
    }
}

static void empty_body_is_parse_error(void **state)
{
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, "", 0, &r), PB_ERR_PARSE);
    assert_int_equal(pb_decode_query(*state, NULL, 0, &r), PB_ERR_PARSE);
    assert_int_equal(query(*state, " \n\t ", &r), PB_ERR_PARSE);
}

/* `depth` nested arrays under an unknown key of the top-level object. */
static int decode_nested(pb_pool *pool, size_t depth)
{
    char body[512];
    size_t len = (size_t)sprintf(body, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        body[len++] = '[';
    for (size_t i = 0; i < depth; i++)
        body[len++] = ']';
    body[len++] = '}';
    pb_batch_request r;
    return pb_decode_batch(pool, body, len, &r);
}

static void too_deep_is_parse_error(void **state)
{
    /* the top-level object is one level */
    assert_int_equal(decode_nested(*state, PB_JSON_MAX_DEPTH), PB_ERR_PARSE);
    assert_int_equal(decode_nested(*state, 200), PB_ERR_PARSE);
}

static void max_depth_is_accepted(void **state)
{
    assert_int_equal(decode_nested(*state, PB_JSON_MAX_DEPTH - 1), PB_OK);
}

static void trailing_garbage_is_parse_error(void **state)
{
    static const char *const bodies[] = {"{}x", "{} {}", "{}]", "{'a': 1},", "{}{'operator_type': 1}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_ERR_PARSE);
    }
    assert_int_equal(query_raw(*state, RAW("{}\0")), PB_ERR_PARSE);
    /* trailing white space is fine */
    assert_int_equal(query_raw(*state, RAW("{} \r\n")), PB_OK);
}

static void comments_are_parse_error(void **state)
{
    assert_int_equal(query_raw(*state, RAW("{/* c */\"operator_type\":1}")), PB_ERR_PARSE);
    assert_int_equal(query_raw(*state, RAW("{\"operator_type\":1} // c")), PB_ERR_PARSE);
}

static void truncated_body_is_parse_error(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'operator_type': 1, 'token_list': ['t'", &r), PB_ERR_PARSE);
    assert_int_equal(query(*state, "{'operator_type': 1", &r), PB_ERR_PARSE);
}

static void parse_error_leaves_request_empty(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state, "{'operator_type': 2, 'platform': 'ios', 'token_list': ['t'], 'x': nul}", &r),
                     PB_ERR_PARSE);
    assert_int_equal(r.operator_type.state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform_state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform.len, 0);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.n, 0);
}

/* ---- never crashes ---- */

/* Reads every byte the request points at, so that ASan sees a bad pointer. */
static unsigned touch_str(pb_str s)
{
    unsigned sum = 0;
    for (size_t i = 0; i < s.len; i++)
        sum += (unsigned char)s.base[i];
    return sum;
}

static unsigned touch_accounts(const pb_account_item_list *list)
{
    unsigned sum = 0;
    for (size_t i = 0; i < list->n; i++)
        sum += touch_str(list->items[i].account.name) + list->items[i].account.type;
    return sum;
}

static unsigned touch_batch(const pb_batch_request *r)
{
    unsigned sum = touch_str(r->platform) + touch_accounts(&r->account_list);
    for (size_t i = 0; i < r->token_list.n; i++)
        sum += touch_str(r->token_list.items[i].token);
    for (size_t i = 0; i < r->token_accounts.n; i++)
        sum += touch_str(r->token_accounts.items[i].token.token) +
               touch_accounts(&r->token_accounts.items[i].account_list);
    return sum;
}

static const char *const fuzz_seeds[] = {
    "{\"operator_type\":2,\"platform\":\"android\",\"token_accounts\":[{\"token\":\"token1\",\"account_list\":"
    "[{\"account\":\"926@126.com\"},{\"account\":\"15\\u00e9\",\"account_type\":1}]},{\"token\":\"t\\\"2\","
    "\"account_list\":[{\"account\":\"\xe2\x82\xac\",\"x\":[1,{\"y\":null}]}]}],\"token_list\":[\"a\",1,true],"
    "\"account_list\":[{\"account\":\"b\",\"account_type\":-1.5e3}]}",
    "{\"operator_type\":1,\"account_list\":[{\"account\":\"account1\"},{\"account\":\"13800000000\","
    "\"account_type\":1}],\"token_list\":[\"token1\",\"token2\"]}",
};

static volatile unsigned touched; /* keeps the reads from being optimised away */

static void every_prefix_is_parse_error(void **state)
{
    for (size_t s = 0; s < sizeof(fuzz_seeds) / sizeof(fuzz_seeds[0]); s++) {
        size_t len = strlen(fuzz_seeds[s]);
        for (size_t k = 0; k <= len; k++) {
            char *body = malloc(k == 0 ? 1 : k); /* exactly k bytes: ASan catches any read past them */
            memcpy(body, fuzz_seeds[s], k);
            pb_batch_request b;
            pb_query_request qr;
            int expected = k == len ? PB_OK : PB_ERR_PARSE;
            assert_int_equal(pb_decode_batch(*state, body, k, &b), expected);
            touched += touch_batch(&b);
            assert_int_equal(pb_decode_query(*state, body, k, &qr), expected);
            free(body);
            pb_pool_clear(*state);
        }
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void random_byte_flips_never_crash(void **state)
{
    static const char interesting[] = "{}[]\":,\\ -.0123456789eEtrufalsn\x80\xc3\xe2\xf0\xff";
    uint64_t seed = 0x9e3779b97f4a7c15u; /* fixed: failures reproduce */
    size_t ok = 0, parse_errors = 0;
    for (int round = 0; round < 20000; round++) {
        const char *base = fuzz_seeds[round % 2];
        size_t len = strlen(base);
        char *body = malloc(len);
        memcpy(body, base, len);
        int flips = 1 + (int)(xorshift(&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = xorshift(&seed) % len;
            uint64_t r = xorshift(&seed);
            body[at] = (r & 1) ? interesting[(r >> 1) % (sizeof(interesting) - 1)] : (char)(r >> 8);
        }
        size_t cut = (xorshift(&seed) % 8 == 0) ? xorshift(&seed) % (len + 1) : len;

        pb_batch_request b;
        int code = pb_decode_batch(*state, body, cut, &b);
        assert_true(code == PB_OK || code == PB_ERR_PARSE);
        touched += touch_batch(&b);
        pb_query_request qr;
        int query_code = pb_decode_query(*state, body, cut, &qr);
        assert_int_equal(query_code, code); /* both see the same JSON */
        if (code == PB_OK)
            ok++;
        else
            parse_errors++;
        free(body);
        pb_pool_clear(*state);
    }
    /* the loop exercised both outcomes */
    assert_true(ok > 100);
    assert_true(parse_errors > 100);
}

/* ---- encoding ---- */

static void encode_query_by_token_matches_spec_sample(void **state)
{
    pb_account first[] = {{PB_STR_LIT("926@126.com"), 0}, {PB_STR_LIT("1527000000"), 1}};
    pb_account second[] = {{PB_STR_LIT("926@163.com"), 0}};
    pb_token_accounts entries[] = {
        {PB_OK, PB_STR_LIT("token1"), {.accounts = first, .n = 2}},
        {PB_OK, PB_STR_LIT("token2"), {.accounts = second, .n = 1}},
    };
    pb_query_response response = {.code = PB_OK, .operator_type = 2, .n = 2, .by_token = entries};
    assert_pb_str(pb_encode_query(*state, &response),
                  "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\",\"0\"],"
                  "\"token_accounts\":[{\"token\":\"token1\",\"account_list\":[{\"account\":\"926@126.com\"},"
                  "{\"account\":\"1527000000\",\"account_type\":1}]},"
                  "{\"token\":\"token2\",\"account_list\":[{\"account\":\"926@163.com\"}]}]}");
}

static void encode_query_by_account_matches_spec_sample(void **state)
{
    pb_str first[] = {PB_STR_LIT("token1"), PB_STR_LIT("token2")};
    pb_str second[] = {PB_STR_LIT("token3")};
    pb_account_tokens entries[] = {
        {PB_OK, {PB_STR_LIT("account1"), 0}, {.tokens = first, .n = 2}},
        {PB_OK, {PB_STR_LIT("13800000000"), 1}, {.tokens = second, .n = 1}},
    };
    pb_query_response response = {.code = PB_OK, .operator_type = 1, .n = 2, .by_account = entries};
    assert_json(*state, pb_encode_query(*state, &response),
                "{'retCode':0,'errMsg':'ok','ret_code':0,'err_msg':'ok','result':['0','0'],"
                "'account_tokens':[{'account':'account1','token_list':['token1','token2']},"
                "{'account':'13800000000','account_type':1,'token_list':['token3']}]}");
}

static void encode_omits_zero_account_type(void **state)
{
    pb_account accounts[] = {{PB_STR_LIT("x"), 0}, {PB_STR_LIT("y"), 2147483647u}, {PB_STR_LIT("z"), 0}};
    pb_token_accounts by_token[] = {{PB_OK, PB_STR_LIT("t"), {.accounts = accounts, .n = 3}}};
    pb_query_response r2 = {.code = PB_OK, .operator_type = 2, .n = 1, .by_token = by_token};
    assert_json(*state, pb_encode_query(*state, &r2),
                "{'retCode':0,'errMsg':'ok','ret_code':0,'err_msg':'ok','result':['0'],'token_accounts':[{'token':'t','account_list':"
                "[{'account':'x'},{'account':'y','account_type':2147483647},{'account':'z'}]}]}");

    pb_account_tokens by_account[] = {{PB_OK, {PB_STR_LIT("x"), 0}, {.n = 0}},
                                      {PB_OK, {PB_STR_LIT("x"), 5}, {.n = 0}}};
    pb_query_response r1 = {.code = PB_OK, .operator_type = 1, .n = 2, .by_account = by_account};
    assert_json(*state, pb_encode_query(*state, &r1),
                "{'retCode':0,'errMsg':'ok','ret_code':0,'err_msg':'ok','result':['0','0'],'account_tokens':["
                "{'account':'x','token_list':[]},{'account':'x','account_type':5,'token_list':[]}]}");
}

static void encode_items_without_bindings_have_empty_lists(void **state)
{
    pb_str tokens[] = {PB_STR_LIT("t1")};
    pb_account_tokens entries[] = {
        {PB_OK, {PB_STR_LIT("a"), 0}, {.tokens = tokens, .n = 1}},
        {PB_ERR_NO_BINDING, {PB_STR_LIT("b"), 1}, {.n = 0}},
        {PB_ERR_PARAM, {{"", 0}, 0}, {.n = 0}},
    };
    pb_query_response response = {.code = PB_ERR_PARTIAL, .operator_type = 1, .n = 3, .by_account = entries};
    assert_json(*state, pb_encode_query(*state, &response),
                "{'retCode':1008026,'errMsg':'batch op, partly error','ret_code':1008026,'err_msg':'batch op, partly error','result':['0','10110008','1008007'],"
                "'account_tokens':[{'account':'a','token_list':['t1']},"
                "{'account':'b','account_type':1,'token_list':[]},{'account':'','token_list':[]}]}");

    pb_token_accounts by_token[] = {{PB_ERR_TOKEN, {NULL, 0}, {.n = 0}}};
    pb_query_response r2 = {.code = PB_ERR_TOTAL, .operator_type = 2, .n = 1, .by_token = by_token};
    assert_json(*state, pb_encode_query(*state, &r2),
                "{'retCode':1008027,'errMsg':'batch op, total error','ret_code':1008027,'err_msg':'batch op, total error','result':['1008006'],"
                "'token_accounts':[{'token':'','account_list':[]}]}");
}

static void encode_with_info_adds_platforms_and_times(void **state)
{
    pb_str tokens[] = {PB_STR_LIT("t1"), PB_STR_LIT("t2")};
    pb_binding_times times[] = {{1764570000, 1764570500}, {1764570100, 1764570100}};
    pb_platform platforms[] = {PB_PLATFORM_ANDROID, PB_PLATFORM_NONE};
    pb_account_tokens by_account[] = {
        {PB_OK, {PB_STR_LIT("a"), 1}, {.tokens = tokens, .times = times, .platforms = platforms, .n = 2}},
        {PB_ERR_NO_BINDING, {PB_STR_LIT("b"), 0}, {.n = 0}},
    };
    pb_query_response r1 = {.code = PB_ERR_PARTIAL, .operator_type = 1, .with_info = true, .n = 2,
                            .by_account = by_account};
    assert_json(*state, pb_encode_query(*state, &r1),
                "{'retCode':1008026,'errMsg':'batch op, partly error','ret_code':1008026,"
                "'err_msg':'batch op, partly error','result':['0','10110008'],'account_tokens':["
                "{'account':'a','account_type':1,'token_list':['t1','t2'],'token_info':["
                "{'token':'t1','platform':'android','bind_time':1764570000,'last_bind_time':1764570500},"
                "{'token':'t2','bind_time':1764570100,'last_bind_time':1764570100}]},"
                "{'account':'b','token_list':[],'token_info':[]}]}");

    pb_account accounts[] = {{PB_STR_LIT("a"), 0}, {PB_STR_LIT("b"), 2}};
    pb_token_accounts by_token[] = {
        {PB_OK, PB_STR_LIT("t"), {.accounts = accounts, .times = times, .platform = PB_PLATFORM_IOS, .n = 2}},
        {PB_OK, PB_STR_LIT("u"), {.accounts = accounts, .times = times, .n = 1}},
    };
    pb_query_response r2 = {.code = PB_OK, .operator_type = 2, .with_info = true, .n = 2, .by_token = by_token};
    assert_json(*state, pb_encode_query(*state, &r2),
                "{'retCode':0,'errMsg':'ok','ret_code':0,'err_msg':'ok','result':['0','0'],'token_accounts':["
                "{'token':'t','platform':'ios','account_list':["
                "{'account':'a','bind_time':1764570000,'last_bind_time':1764570500},"
                "{'account':'b','account_type':2,'bind_time':1764570100,'last_bind_time':1764570100}]},"
                "{'token':'u','account_list':[{'account':'a','bind_time':1764570000,'last_bind_time':1764570500}]}]}");

    /* the same lists without with_info: the TPNS answer, whatever the lookup gave */
    r2.with_info = false;
    assert_json(*state, pb_encode_query(*state, &r2),
                "{'retCode':0,'errMsg':'ok','ret_code':0,'err_msg':'ok','result':['0','0'],'token_accounts':["
                "{'token':'t','account_list':[{'account':'a'},{'account':'b','account_type':2}]},"
                "{'token':'u','account_list':[{'account':'a'}]}]}");
}

static void encode_request_level_error_has_empty_result(void **state)
{
    pb_query_response response = {.code = PB_ERR_PARSE, .operator_type = 0, .n = 0};
    assert_json(*state, pb_encode_query(*state, &response),
                "{'retCode':1008001,'errMsg':'parameter parse error','ret_code':1008001,'err_msg':'parameter parse error','result':[]}");

    pb_query_response by_token = {.code = PB_ERR_MISSING, .operator_type = 2, .n = 0};
    assert_json(*state, pb_encode_query(*state, &by_token),
                "{'retCode':1008002,'errMsg':'missing parameter','ret_code':1008002,'err_msg':'missing parameter','result':[]}");

    pb_batch_response batch_response = {.code = PB_ERR_AUTH, .n = 0, .item_codes = NULL};
    assert_json(*state, pb_encode_batch(*state, &batch_response),
                "{'ret_code':1008003,'err_msg':'auth failure','result':[]}");
}

static void encode_batch_keys_are_snake_case(void **state)
{
    int codes[] = {PB_OK, PB_ERR_PARAM, PB_ERR_TOKEN};
    pb_batch_response response = {.code = PB_ERR_PARTIAL, .n = 3, .item_codes = codes};
    assert_json(*state, pb_encode_batch(*state, &response),
                "{'ret_code':1008026,'err_msg':'batch op, partly error','result':['0','1008007','1008006']}");

    pb_batch_response ok = {.code = PB_OK, .n = 1, .item_codes = codes};
    assert_json(*state, pb_encode_batch(*state, &ok), "{'ret_code':0,'err_msg':'ok','result':['0']}");
}

static void encode_escapes_quotes_and_control_chars(void **state)
{
    pb_str tokens[] = {{"t\"\\\b\f\n\r\t\x01\x1f\x7f", 11}, {"nul\0x", 5}};
    pb_account_tokens entries[] = {{PB_OK, {PB_STR_LIT("a\"b\\c"), 0}, {.tokens = tokens, .n = 2}}};
    pb_query_response response = {.code = PB_OK, .operator_type = 1, .n = 1, .by_account = entries};
    assert_pb_str(pb_encode_query(*state, &response),
                  "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[\"0\"],\"account_tokens\":[{\"account\":"
                  "\"a\\\"b\\\\c\",\"token_list\":[\"t\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\","
                  "\"nul\\u0000x\"]}]}");
}

static void encode_keeps_solidus_and_utf8_as_is(void **state)
{
    pb_str tokens[] = {PB_STR_LIT("a/b")};
    pb_account_tokens entries[] = {{PB_OK, {PB_STR_LIT("\xc3\xa9\xf0\x9f\x98\x80"), 0}, {.tokens = tokens, .n = 1}}};
    pb_query_response response = {.code = PB_OK, .operator_type = 1, .n = 1, .by_account = entries};
    assert_json(*state, pb_encode_query(*state, &response),
                "{'retCode':0,'errMsg':'ok','ret_code':0,'err_msg':'ok','result':['0'],"
                "'account_tokens':[{'account':'\xc3\xa9\xf0\x9f\x98\x80','token_list':['a/b']}]}");
}

static void encode_large_response_is_complete(void **state)
{
    enum { N = 300, LONG = 20000 };
    pb_pool *pool = *state;
    char *long_token = pb_pool_alloc(pool, LONG + 1);
    memset(long_token, 'x', LONG);
    long_token[LONG] = '\0';
    pb_account_tokens *entries = pb_pool_alloc(pool, N * sizeof(*entries));
    char *expected = malloc(N * 128 + LONG + 256);
    size_t len = (size_t)sprintf(expected, "{\"retCode\":0,\"errMsg\":\"ok\",\"ret_code\":0,\"err_msg\":\"ok\",\"result\":[");
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(expected + len, "%s\"%s\"", i ? "," : "", i % 3 ? "0" : "10110008");
    len += (size_t)sprintf(expected + len, "],\"account_tokens\":[");
    for (int i = 0; i < N; i++) {
        char *name = pb_pool_alloc(pool, 32);
        pb_str *token = pb_pool_alloc(pool, sizeof(*token));
        char *token_text = pb_pool_alloc(pool, 48);
        entries[i] = (pb_account_tokens){i % 3 ? PB_OK : PB_ERR_NO_BINDING,
                                         {{name, (size_t)sprintf(name, "user%d@example.com", i)}, (uint32_t)(i % 2)},
                                         {.tokens = token, .n = i % 3 ? 1 : 0}};
        *token = (pb_str){token_text, (size_t)sprintf(token_text, "token-%d-0123456789abcdef", i)};
        if (i == 1) /* longer than the whole buffer so far: one append grows it more than twice */
            *token = (pb_str){long_token, LONG};
        len += (size_t)sprintf(expected + len, "%s{\"account\":\"user%d@example.com\"%s,\"token_list\":[", i ? "," : "",
                               i, i % 2 ? ",\"account_type\":1" : "");
        if (i == 1)
            len += (size_t)sprintf(expected + len, "\"%s\"", long_token);
        else if (i % 3)
            len += (size_t)sprintf(expected + len, "\"token-%d-0123456789abcdef\"", i);
        len += (size_t)sprintf(expected + len, "]}");
    }
    sprintf(expected + len, "]}");
    pb_query_response response = {.code = PB_OK, .operator_type = 1, .n = N, .by_account = entries};
    assert_pb_str(pb_encode_query(pool, &response), expected);
    free(expected);
}

#define T(name) cmocka_unit_test_setup_teardown(name, pool_setup, pool_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(query_by_account_decodes_types),
        T(query_by_token_decodes_tokens),
        T(batch_decodes_token_accounts),
        T(batch_reads_every_list_whatever_operator_type),
        T(query_skips_batch_only_fields),
        T(unknown_fields_are_skipped_at_any_depth),
        T(keys_are_case_sensitive),
        T(duplicate_key_last_wins),
        T(duplicate_key_null_clears_earlier_value),
        T(operator_type_float_is_wrong_type),
        T(operator_type_non_number_is_wrong_type),
        T(operator_type_null_is_absent),
        T(operator_type_reads_any_int64),
        T(huge_integer_is_wrong_type_not_parse_error),
        T(account_type_out_of_range_marks_item),
        T(integers_may_be_decimal_strings),
        T(top_level_account_type_fills_elements_without_one),
        T(top_level_account_type_wrong_type_leaves_elements_at_zero),
        T(with_info_is_true_or_one),
        T(account_type_null_is_zero),
        T(account_not_string_marks_item),
        T(non_object_element_marks_item_and_keeps_others),
        T(token_list_non_string_element_is_flagged),
        T(token_accounts_element_shapes),
        T(null_list_is_absent),
        T(list_not_array_is_wrong_type),
        T(empty_list_is_present_with_no_items),
        T(platform_is_kept_as_sent),
        T(long_list_keeps_order),
        T(plain_string_points_into_body),
        T(escaped_string_is_unescaped),
        T(long_escaped_string_is_unescaped),
        T(valid_utf8_is_accepted),
        T(invalid_utf8_is_parse_error),
        T(escaped_surrogate_that_is_not_a_pair_is_parse_error),
        T(escaped_surrogate_pair_and_escaped_backslash_decode),
        T(control_char_in_string_is_parse_error),
        T(top_level_array_is_parse_error),
        T(empty_body_is_parse_error),
        T(too_deep_is_parse_error),
        T(max_depth_is_accepted),
        T(trailing_garbage_is_parse_error),
        T(comments_are_parse_error),
        T(truncated_body_is_parse_error),
        T(parse_error_leaves_request_empty),
        T(every_prefix_is_parse_error),
        T(random_byte_flips_never_crash),
        T(encode_query_by_token_matches_spec_sample),
        T(encode_query_by_account_matches_spec_sample),
        T(encode_omits_zero_account_type),
        T(encode_items_without_bindings_have_empty_lists),
        T(encode_with_info_adds_platforms_and_times),
        T(encode_request_level_error_has_empty_result),
        T(encode_batch_keys_are_snake_case),
        T(encode_escapes_quotes_and_control_chars),
        T(encode_keeps_solidus_and_utf8_as_is),
        T(encode_large_response_is_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
