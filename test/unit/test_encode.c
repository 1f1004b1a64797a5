/*
 * test_encode.c — the answers the encoder writes: the spec's samples, keys,
 * escapes and a large response (codec/encode.c).
 */
#include "codec_test.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
