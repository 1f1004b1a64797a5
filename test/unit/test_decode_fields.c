/*
 * test_decode_fields.c — where the decoder puts each value of a request body:
 * the shapes of the spec, unknown and repeated keys, operator_type, account
 * and token elements, list states (codec/decode_fields.c).
 */
#include "codec_test.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
