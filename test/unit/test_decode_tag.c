/*
 * test_decode_tag.c — the tag endpoints' codec: both pair spellings, the
 * invalidate list of objects, seq, the query's fields, and the answers'
 * bytes.
 */
#include "codec_test.h"

static int setup(void **state)
{
    pb_pool *pool = malloc(sizeof(*pool));
    pb_pool_init(pool);
    *state = pool;
    return 0;
}

static int teardown(void **state)
{
    pb_pool_clear(*state);
    free(*state);
    return 0;
}

static int tag(pb_pool *pool, const char *text, bool invalidate, pb_tag_request *out)
{
    pb_str body = q(pool, text);
    return pb_decode_tag(pool, body.base, body.len, invalidate, out);
}

static bool eq(pb_str s, const char *want)
{
    return pb_str_eq(s, pb_str_from_cstr(want));
}

static void pairs_in_both_spellings(void **state)
{
    pb_tag_request r;
    assert_int_equal(tag(*state, "{'operator_type':'9','tag_token_list':[{'token':'x','tag':'vip'},['t2','y'],"
                                 "['a'],['a','b','c'],{'tag':'z'},[1,'y'],'s'],'seq':12}", false, &r), PB_OK);
    assert_int_equal(r.operator_type.value, 9);
    assert_int_equal(r.seq.state, PB_FIELD_PRESENT);
    assert_int_equal(r.seq.value, 12);
    assert_int_equal(r.tag_token_list.n, 7);
    const pb_tag_pair_item *p = r.tag_token_list.items;
    assert_true(p[0].well_formed && eq(p[0].tag, "vip") && eq(p[0].token, "x"));
    assert_true(p[1].well_formed && eq(p[1].tag, "t2") && eq(p[1].token, "y"));
    for (int i = 2; i < 7; i++)
        assert_false(p[i].well_formed);
}

static void lists_and_query_fields(void **state)
{
    pb_tag_request r;
    assert_int_equal(tag(*state, "{'operator_type':2,'tag':'vip','cursor':'17','limit':'50','tag_list':['a',2],"
                                 "'token_list':['t'],'platform':'android','tag_token_list':null}", false, &r),
                     PB_OK);
    assert_true(eq(r.tag, "vip") && eq(r.cursor, "17"));
    assert_int_equal(r.limit.value, 50);
    assert_int_equal(r.tag_list.n, 2);
    assert_true(r.tag_list.items[0].is_string);
    assert_false(r.tag_list.items[1].is_string);
    assert_int_equal(r.tag_token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.seq.state, PB_FIELD_ABSENT);
    assert_int_equal(tag(*state, "{'seq':1.5,'tag':3}", false, &r), PB_OK);
    assert_int_equal(r.seq.state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(r.tag_state, PB_FIELD_WRONG_TYPE);
    assert_int_equal(tag(*state, "['not an object']", false, &r), PB_ERR_PARSE);
}

static void invalidate_items_are_objects(void **state)
{
    pb_tag_request r;
    assert_int_equal(tag(*state, "{'token_list':[{'token':'x','invalid_since':1764570000,'reason':'Unregistered'},"
                                 "'y',{'token':'z','invalid_since':'12'}]}", true, &r), PB_OK);
    assert_int_equal(r.invalidate.n, 3);
    assert_int_equal(r.token_list.n, 0);
    const pb_invalidate_item *it = r.invalidate.items;
    assert_true(it[0].is_object && eq(it[0].token.token, "x") && eq(it[0].reason, "Unregistered"));
    assert_int_equal(it[0].invalid_since.value, 1764570000);
    assert_false(it[1].is_object);
    assert_int_equal(it[2].invalid_since.value, 12);
    assert_int_equal(it[2].reason_state, PB_FIELD_ABSENT);
}

static void answers(void **state)
{
    pb_tag_response ok = {.code = PB_OK, .seq = 7};
    assert_true(eq(pb_encode_tag(*state, &ok), "{\"seq\":7,\"ret_code\":0,\"err_msg\":\"ok\"}"));
    pb_tag_response refused = {.code = PB_ERR_PARAM, .message = PB_STR_LIT("tag_list[1]: \"x\"")};
    assert_true(eq(pb_encode_tag(*state, &refused),
                   "{\"seq\":0,\"ret_code\":1008007,\"err_msg\":\"tag_list[1]: \\\"x\\\"\"}"));
    pb_str tokens[] = {PB_STR_LIT("a"), PB_STR_LIT("b")};
    pb_tag_query_response page = {.code = PB_OK, .operator_type = 2, .tokens = tokens, .n = 2,
                                  .next_cursor = PB_STR_LIT("9")};
    assert_true(eq(pb_encode_tag_query(*state, &page),
                   "{\"ret_code\":0,\"err_msg\":\"ok\",\"token_list\":[\"a\",\"b\"],\"next_cursor\":\"9\"}"));
    pb_tag_count counts[] = {{PB_STR_LIT("vip"), 3}};
    pb_tag_query_response last = {.code = PB_OK, .operator_type = 4, .counts = counts, .n = 1};
    assert_true(eq(pb_encode_tag_query(*state, &last),
                   "{\"ret_code\":0,\"err_msg\":\"ok\",\"tags\":[{\"tag\":\"vip\",\"count\":3}]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pairs_in_both_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(lists_and_query_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(invalidate_items_are_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(answers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
